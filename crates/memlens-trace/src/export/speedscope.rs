//! speedscope's file format (<https://www.speedscope.app/file-format-schema.json>):
//! one "sampled" profile per figure (allocated, at peak, at exit), each call
//! stack a sample weighted in bytes.

use serde_json::{json, Value};

use crate::profile::{Metric, Profile};

/// The speedscope document.
pub fn to_speedscope(profile: &Profile, name: &str) -> Value {
    let mut frames: Vec<Value> = profile
        .locations()
        .iter()
        .map(|l| json!({"name": l.function, "file": l.filename, "line": l.line}))
        .collect();
    let root_frame = frames.len();
    frames.push(json!({"name": "[no Python frame]"}));
    let estimate = if profile.is_sampled() {
        " (estimated, sampled capture)"
    } else {
        ""
    };
    let profiles: Vec<Value> = [Metric::Allocated, Metric::Peak, Metric::Leaks]
        .iter()
        .map(|&metric| {
            let mut samples = Vec::new();
            let mut weights = Vec::new();
            for (i, node) in profile.nodes().iter().enumerate() {
                let bytes = node.stats.get(metric).bytes.round();
                if bytes <= 0.0 {
                    continue;
                }
                let mut stack: Vec<usize> = profile
                    .stack_of(i as u32)
                    .iter()
                    .map(|&n| profile.nodes()[n as usize].location as usize)
                    .collect();
                if stack.is_empty() {
                    stack.push(root_frame);
                }
                samples.push(stack);
                weights.push(bytes as u64);
            }
            let total: u64 = weights.iter().sum();
            json!({
                "type": "sampled",
                "name": format!("memory {}{estimate}", metric.describe()),
                "unit": "bytes",
                "startValue": 0,
                "endValue": total,
                "samples": samples,
                "weights": weights,
            })
        })
        .collect();
    json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": name,
        "activeProfileIndex": 1,
        "exporter": concat!("memlens ", env!("CARGO_PKG_VERSION")),
    })
}
