//! Raw bytes to the heap snapshot (`.mlh`) reader, then every accessor of
//! whatever it accepts: a snapshot that loads must be internally consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(snap) = memlens_format::read_snapshot(data) {
        for node in 0..snap.node_count() as u32 {
            let _ = snap.edges(node).count();
            let _ = snap.referrers(node);
            let _ = snap.type_name(snap.type_of(node));
        }
        for root in snap.roots() {
            let _ = snap.str(root.name);
        }
    }
});
