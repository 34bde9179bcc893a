//! A gzip'd pprof profile (profile.proto) of a [`Profile`].
//!
//! Six sample values per call stack, named as Go's heap profiles name them
//! where they mean the same: `alloc_objects`/`alloc_space` (allocated over
//! the run), `peak_objects`/`peak_space` (live at the peak, the default) and
//! `inuse_objects`/`inuse_space` (still live at exit). The message structs
//! are written by hand from profile.proto (no build-time protoc).

use std::collections::HashMap;
use std::io::Write;

use prost::Message;

use crate::profile::{Metric, Profile};

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, Message)]
pub struct PprofProfile {
    /// What each value in a sample means.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// One per call stack.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// Code locations.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// Functions.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string; index 0 is "".
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// When the capture started, ns since the epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// How long it ran.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// Free-text notes (string indices).
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// The sample type shown first (string index of its type).
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// `ValueType`: a value's type and unit, as string indices.
#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    /// Type name index.
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// Unit index.
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`: a call stack (innermost first) and its values.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Location ids, innermost first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per sample type.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
}

/// `Location`: one frame.
#[derive(Clone, PartialEq, Message)]
pub struct Location {
    /// Non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Source lines at this location.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`: a function and a line in it.
#[derive(Clone, PartialEq, Message)]
pub struct Line {
    /// Function id.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// Line number.
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `Function`.
#[derive(Clone, PartialEq, Message)]
pub struct Function {
    /// Non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Name (string index).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// System name (string index).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    /// File (string index).
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.get("");
        s
    }
    fn get(&mut self, text: &str) -> i64 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), i);
        i
    }
}

/// The profile as a pprof message.
pub fn to_pprof(profile: &Profile) -> PprofProfile {
    let mut strings = Strings::new();
    let kinds = [
        ("alloc_objects", "count", Metric::Allocated, false),
        ("alloc_space", "bytes", Metric::Allocated, true),
        ("peak_objects", "count", Metric::Peak, false),
        ("peak_space", "bytes", Metric::Peak, true),
        ("inuse_objects", "count", Metric::Leaks, false),
        ("inuse_space", "bytes", Metric::Leaks, true),
    ];
    let sample_type = kinds
        .iter()
        .map(|(t, u, _, _)| ValueType {
            r#type: strings.get(t),
            unit: strings.get(u),
        })
        .collect();
    let default_sample_type = strings.get("peak_space");
    // Location id = profile location index + 2; id 1 is "no Python frame".
    let mut functions: Vec<Function> = Vec::new();
    let mut locations = Vec::new();
    let function_id =
        |strings: &mut Strings, name: &str, file: &str, functions: &mut Vec<Function>| -> u64 {
            let id = functions.len() as u64 + 1;
            let name_i = strings.get(name);
            let file_i = strings.get(file);
            functions.push(Function {
                id,
                name: name_i,
                system_name: name_i,
                filename: file_i,
            });
            id
        };
    let root_fn = function_id(&mut strings, "[no Python frame]", "", &mut functions);
    locations.push(Location {
        id: 1,
        line: vec![Line {
            function_id: root_fn,
            line: 0,
        }],
    });
    let mut ids: HashMap<(String, String), u64> = HashMap::new();
    for (i, l) in profile.locations().iter().enumerate() {
        let fid = match ids.get(&(l.function.clone(), l.filename.clone())) {
            Some(&f) => f,
            None => {
                let f = function_id(&mut strings, &l.function, &l.filename, &mut functions);
                ids.insert((l.function.clone(), l.filename.clone()), f);
                f
            }
        };
        locations.push(Location {
            id: i as u64 + 2,
            line: vec![Line {
                function_id: fid,
                line: i64::from(l.line),
            }],
        });
    }
    let mut samples = Vec::new();
    for (i, node) in profile.nodes().iter().enumerate() {
        let value: Vec<i64> = kinds
            .iter()
            .map(|(_, _, metric, is_bytes)| {
                let amount = node.stats.get(*metric);
                (if *is_bytes {
                    amount.bytes
                } else {
                    amount.count
                })
                .round() as i64
            })
            .collect();
        if value.iter().all(|&v| v == 0) {
            continue;
        }
        let mut location_id: Vec<u64> = profile
            .stack_of(i as u32)
            .iter()
            .rev()
            .map(|&n| u64::from(profile.nodes()[n as usize].location) + 2)
            .collect();
        if location_id.is_empty() {
            location_id.push(1);
        }
        samples.push(Sample { location_id, value });
    }
    let mut comment = Vec::new();
    if profile.is_sampled() {
        comment.push(strings.get("memlens: sampled capture; values are unbiased estimates"));
    }
    let first = profile.processes().first();
    PprofProfile {
        sample_type,
        sample: samples,
        location: locations,
        function: functions,
        time_nanos: first.map_or(0, |p| p.header.start_unix_ns as i64),
        duration_nanos: profile
            .processes()
            .iter()
            .map(|p| p.duration_ns as i64)
            .max()
            .unwrap_or(0),
        comment,
        default_sample_type,
        string_table: strings.table,
    }
}

/// The gzip'd bytes of the pprof profile, as `go tool pprof` reads them.
pub fn write_pprof(profile: &Profile, out: impl Write) -> std::io::Result<()> {
    let bytes = to_pprof(profile).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    gz.write_all(&bytes)?;
    gz.finish()?;
    Ok(())
}
