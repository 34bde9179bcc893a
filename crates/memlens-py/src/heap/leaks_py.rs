//! `memlens._core.LeakWatch`: the checkpoints of the leak finder (a census
//! each, kept in Rust so that watching adds no Python object to the heap it
//! watches) and the report over a baseline and a final snapshot. The
//! analysis is `memlens_heap::find_leaks`; the watching policy is
//! `python/memlens/leaks.py`.

use std::collections::HashMap;
use std::time::Instant;

use memlens_heap::{find_leaks, growing_types, rising_types, GrowthOptions, LeakOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::snapshot_py::Snapshot;
use super::walker;
use super::TypeTotals;
use super::{census_from_totals, exclusions};

/// Censuses kept beyond the baseline before every other one is dropped.
const MAX_POINTS: usize = 64;

#[pyclass(module = "memlens", name = "LeakWatch")]
pub(crate) struct LeakWatch {
    points: Vec<memlens_heap::Census>,
    seconds: Vec<f64>,
    started: Instant,
    baseline_at: Option<usize>,
    spent: f64,
    /// Objects registered with a C-level registry: address and registry.
    registered: HashMap<u64, String>,
}

#[pymethods]
impl LeakWatch {
    #[new]
    fn new() -> LeakWatch {
        LeakWatch {
            points: Vec::new(),
            seconds: Vec::new(),
            started: Instant::now(),
            baseline_at: None,
            spent: 0.0,
            registered: HashMap::new(),
        }
    }

    /// Takes a census now; returns the seconds it took.
    fn checkpoint(&mut self, py: Python<'_>) -> PyResult<f64> {
        let begin = Instant::now();
        let exclusions = exclusions(py, None)?;
        let mut totals = TypeTotals::default();
        walker::walk_heap(py, &exclusions, false, &[], &mut totals)?;
        let census = census_from_totals(py, totals.into_totals());
        if self.points.last() == Some(&census) {
            // The program has not run since the last checkpoint (the
            // timer got the interpreter twice in a row): not an interval.
            let cost = begin.elapsed().as_secs_f64();
            self.spent += cost;
            return Ok(cost);
        }
        self.points.push(census);
        self.seconds.push(self.started.elapsed().as_secs_f64());
        let from = self.baseline_at.map_or(1, |b| b + 1);
        if self.points.len() > from + MAX_POINTS {
            // Keep what precedes the baseline, the latest, and every other
            // one between.
            let last = self.points.len() - 1;
            let keep = |i: usize| i < from || (i - from) % 2 == 0 || i == last;
            let points = std::mem::take(&mut self.points);
            let seconds = std::mem::take(&mut self.seconds);
            for (i, (p, t)) in points.into_iter().zip(seconds).enumerate() {
                if keep(i) {
                    self.points.push(p);
                    self.seconds.push(t);
                }
            }
        }
        let cost = begin.elapsed().as_secs_f64();
        self.spent += cost;
        Ok(cost)
    }

    /// Records that `obj` was registered with `registry` (`atexit.register`):
    /// the report names that registry as the holder of what `obj` keeps.
    fn note_registered(&mut self, obj: &Bound<'_, PyAny>, registry: &str) {
        self.registered
            .insert(obj.as_ptr() as u64, registry.to_owned());
    }

    /// Checkpoints taken (and kept).
    #[getter]
    fn count(&self) -> usize {
        self.points.len()
    }

    /// Seconds spent in checkpoints so far.
    #[getter]
    fn spent(&self) -> f64 {
        self.spent
    }

    /// Whether the baseline snapshot has been taken.
    #[getter]
    fn has_baseline(&self) -> bool {
        self.baseline_at.is_some()
    }

    /// Whether some type grew over the last `intervals` checkpoint
    /// intervals by at least `min_objects`: time for a baseline snapshot.
    #[pyo3(signature = (intervals = 2, min_objects = 20))]
    fn suspected(&self, intervals: usize, min_objects: u64) -> bool {
        if self.points.len() <= intervals {
            return false;
        }
        let recent: Vec<&memlens_heap::Census> = self.points[self.points.len() - intervals - 1..]
            .iter()
            .collect();
        !growing_types(
            &recent,
            &GrowthOptions {
                min_objects,
                min_intervals: intervals,
                every_interval: true,
            },
        )
        .is_empty()
    }

    /// Marks the latest checkpoint as the one the baseline snapshot goes with.
    fn mark_baseline(&mut self) {
        self.baseline_at = Some(self.points.len().saturating_sub(1));
    }

    /// The leaks in `final_` (new objects since `baseline`, of the types
    /// that grew at the checkpoints since the baseline): `(text, json,
    /// leaks found)`. `options`: main_name, gc_enabled, gc_threshold0,
    /// registered {address: registry}, default_names {address: [names]},
    /// min_objects, every_interval, min_intervals, incomplete_modules
    /// [addresses of modules still importing at the baseline].
    #[pyo3(signature = (final_, baseline = None, options = None))]
    fn report(
        &self,
        py: Python<'_>,
        final_: &Snapshot,
        baseline: Option<&Snapshot>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<(String, String, usize)> {
        let get = |key: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            match options {
                Some(o) => o.get_item(key),
                None => Ok(None),
            }
        };
        let mut opts = LeakOptions {
            min_objects: 20,
            gc_enabled: true,
            gc_threshold0: 700,
            path_steps: 12,
            ..LeakOptions::default()
        };
        if let Some(v) = get("main_name")? {
            opts.main_name = v.extract()?;
        }
        if let Some(v) = get("gc_enabled")? {
            opts.gc_enabled = v.extract()?;
        }
        if let Some(v) = get("gc_threshold0")? {
            opts.gc_threshold0 = v.extract()?;
        }
        opts.registered = self.registered.clone();
        if let Some(v) = get("registered")? {
            opts.registered.extend(v.extract::<HashMap<u64, String>>()?);
        }
        if let Some(v) = get("default_names")? {
            opts.default_names = v.extract::<HashMap<u64, Vec<String>>>()?;
        }
        if let Some(v) = get("library_modules")? {
            opts.library_modules = v.extract()?;
        }
        if let Some(v) = get("incomplete_modules")? {
            opts.incomplete_modules = v.extract::<Vec<u64>>()?.into_iter().collect();
        }
        if let Some(v) = get("min_objects")? {
            opts.min_objects = v.extract()?;
        }
        let mut growth = GrowthOptions {
            min_objects: opts.min_objects,
            ..GrowthOptions::default()
        };
        if let Some(v) = get("every_interval")? {
            growth.every_interval = v.extract()?;
        }
        if let Some(v) = get("min_intervals")? {
            growth.min_intervals = v.extract()?;
        }
        let from = self.baseline_at.unwrap_or(0);
        let points: Vec<&memlens_heap::Census> =
            self.points[from.min(self.points.len())..].iter().collect();
        let start = self.seconds.get(from).copied().unwrap_or(0.0);
        opts.seconds = self.seconds[from.min(self.seconds.len())..]
            .iter()
            .map(|s| s - start)
            .collect();
        let new = &final_.inner;
        let dom = final_.dom();
        let paths = final_.root_paths(true);
        let old = baseline.map(|b| &b.inner);
        let result = py.detach(|| {
            let growing = growing_types(&points, &growth);
            let mut opts = opts;
            opts.companions = rising_types(&points, growth.min_objects, &growing);
            let report = find_leaks(old, new, dom, paths, &growing, &opts);
            (report.render(new), report.to_json(new), report.leaks.len())
        });
        Ok(result)
    }
}
