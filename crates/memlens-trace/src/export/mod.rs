//! Exports to formats other tools read: pprof (`go tool pprof`, Pyroscope,
//! Grafana, Polar Signals…) and speedscope.

pub mod pprof;
pub mod speedscope;
