//! What every capture target does with the bytes it builds: read every
//! block, replay them into a profile (as `memlens summary` does) and export
//! the profile both ways. Errors are fine; panics, hangs and unbounded
//! allocations are the bugs.

use memlens_trace::export::{pprof::to_pprof, speedscope::to_speedscope};
use memlens_trace::profile::Profile;
use memlens_trace::reader::CaptureReader;

pub fn read_and_report(bytes: &[u8]) {
    let Ok(reader) = CaptureReader::new(bytes) else {
        return;
    };
    let Ok(mut profile) = Profile::load(&[], &mut |_| {}) else {
        return;
    };
    if profile
        .add_capture("fuzz.mlc".as_ref(), reader, &mut |_| {})
        .is_ok()
    {
        let _ = to_pprof(&profile);
        let _ = to_speedscope(&profile, "fuzz");
    }
}
