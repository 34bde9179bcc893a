//! Reading the interpreter's own frames, creating no Python object.
//!
//! Everything that differs between CPython versions lives in this folder:
//! `pyXY.rs` holds the struct offsets of one minor version, generated from
//! that interpreter's headers by `scripts/gen_frame_offsets.sh` (never edited
//! by hand), and the one `cfg` switch below picks the layout the extension is
//! built against (one build per Python version). [`check_runtime`] refuses to
//! trace when the running interpreter differs from the build.
//!
//! - 3.9, 3.10: `PyThreadState.frame` → `PyFrameObject` chain
//!   (`f_back`, `f_code`, `f_lasti`).
//! - 3.11, 3.12: `PyThreadState.cframe->current_frame` → `_PyInterpreterFrame`
//!   chain (`previous`, `f_code`, `prev_instr`), skipping incomplete frames
//!   and, from 3.12, the C-stack shim frames.
//! - 3.13: `PyThreadState.current_frame`, `f_executable`, `instr_ptr`.
//!
//! All reads happen on the calling thread's own frame chain while it holds
//! the GIL, so the chain cannot change under us.

use pyo3::ffi;
use std::os::raw::{c_int, c_void};

#[cfg(not(Py_3_10))]
#[path = "py39.rs"]
mod layout;
#[cfg(all(Py_3_10, not(Py_3_11)))]
#[path = "py310.rs"]
mod layout;
#[cfg(all(Py_3_11, not(Py_3_12)))]
#[path = "py311.rs"]
mod layout;
#[cfg(all(Py_3_12, not(Py_3_13)))]
#[path = "py312.rs"]
mod layout;
#[cfg(all(Py_3_13, not(Py_3_14)))]
#[path = "py313.rs"]
mod layout;

/// Whether this build knows the frame layout of the Python it targets.
pub(crate) const SUPPORTED: bool = cfg!(not(Py_3_14));

/// One Python frame as the walker sees it: a code object and a byte offset
/// into its bytecode (negative before the first instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawLocation {
    /// The code object (borrowed: the interner keeps no reference, it
    /// learns of the code's deallocation instead).
    pub code: *mut ffi::PyObject,
    /// Byte offset of the instruction being executed.
    pub offset: i32,
}

impl RawLocation {
    /// A placeholder that matches no real frame.
    pub const NONE: RawLocation = RawLocation {
        code: std::ptr::null_mut(),
        offset: -1,
    };
}

/// Fails when the running interpreter is not the one this extension was
/// built for (the offsets would be wrong).
pub(crate) fn check_runtime() -> Result<(), String> {
    #[cfg(not(Py_3_14))]
    {
        // SAFETY: Py_GetVersion returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(ffi::Py_GetVersion()) };
        let version = version.to_string_lossy();
        let expected = format!("{}.{}.", layout::VERSION.0, layout::VERSION.1);
        if version.starts_with(&expected) {
            return Ok(());
        }
        Err(format!(
            "memlens was built for CPython {}.{} but runs on {version}",
            layout::VERSION.0,
            layout::VERSION.1
        ))
    }
    #[cfg(Py_3_14)]
    Err("the allocation tracer does not know this Python version's frame layout yet".to_owned())
}

#[cfg(not(Py_3_13))]
extern "C" {
    fn _PyThreadState_UncheckedGet() -> *mut ffi::PyThreadState;
}

/// The thread state holding the GIL, read without any check: on 3.12+ it is
/// the calling thread's attached state (NULL when detached); before 3.12 it
/// is the global "current" state, so it is the caller's only if the caller
/// holds the GIL.
#[inline(always)]
unsafe fn unchecked_current() -> *mut ffi::PyThreadState {
    #[cfg(Py_3_13)]
    // SAFETY: reads a thread-local; no lock, no allocation, never fails.
    unsafe {
        ffi::PyThreadState_GetUnchecked()
    }
    #[cfg(not(Py_3_13))]
    // SAFETY: an atomic load (3.9–3.11) or thread-local read (3.12).
    unsafe {
        _PyThreadState_UncheckedGet()
    }
}

/// The calling thread's state when the caller is known to hold the GIL
/// (MEM and OBJ domains). NULL before the interpreter has a thread state.
#[inline(always)]
pub(crate) unsafe fn thread_state_holding_gil() -> *mut ffi::PyThreadState {
    // SAFETY: the caller holds the GIL, so the current state is its own.
    unsafe { unchecked_current() }
}

/// The calling thread's state if it holds the GIL, else NULL. Never blocks
/// and never takes the GIL (RAW domain, which runs on any thread).
#[inline(always)]
pub(crate) unsafe fn thread_state_if_gil_held() -> *mut ffi::PyThreadState {
    #[cfg(Py_3_12)]
    // SAFETY: from 3.12 the current state is thread-local and non-NULL only
    // while this thread is attached, i.e. holds the GIL.
    unsafe {
        unchecked_current()
    }
    #[cfg(not(Py_3_12))]
    // SAFETY: both calls only read (an atomic and a TSS slot). The global
    // current state equals this thread's own state only if this thread set
    // it, i.e. holds the GIL.
    unsafe {
        let current = unchecked_current();
        if current.is_null() || current != ffi::PyGILState_GetThisThreadState() {
            std::ptr::null_mut()
        } else {
            current
        }
    }
}

#[inline(always)]
unsafe fn read<T: Copy>(base: *const u8, offset: usize) -> T {
    // SAFETY: the caller guarantees `base + offset` is a valid, aligned `T`
    // inside a live CPython struct whose layout `layout` describes.
    unsafe { (base.add(offset) as *const T).read() }
}

/// Calls `visit` with each frame of `tstate` and its location, innermost
/// first, stopping before `floor` (a frame of this thread, or null: no
/// floor) and when `visit` returns false.
///
/// # Safety
/// `tstate` is the calling thread's state and the caller holds the GIL (or
/// the thread is in C code: only it changes its frame chain).
#[cfg(not(Py_3_11))]
#[inline(always)]
unsafe fn visit_frames(
    tstate: *mut ffi::PyThreadState,
    floor: *const u8,
    mut visit: impl FnMut(*const u8, RawLocation) -> bool,
) {
    // SAFETY: offsets come from this version's headers; frames on our own
    // chain stay alive while we hold the GIL.
    unsafe {
        let mut frame: *const u8 = read(tstate as *const u8, layout::TSTATE_FRAME);
        while !frame.is_null() && frame != floor {
            let code: *mut ffi::PyObject = read(frame, layout::FRAME_CODE);
            let lasti: c_int = read(frame, layout::FRAME_LASTI);
            let location = RawLocation {
                code,
                offset: lasti.saturating_mul(layout::LASTI_UNIT as c_int),
            };
            if !visit(frame, location) {
                return;
            }
            frame = read(frame, layout::FRAME_BACK);
        }
    }
}

/// Calls `visit` with each frame of `tstate` and its location, innermost
/// first, stopping before `floor` (a frame of this thread, or null: no
/// floor) and when `visit` returns false. Incomplete frames (still running
/// their prologue) and C-stack shim frames are skipped, as CPython's own
/// tracebacks do.
///
/// # Safety
/// `tstate` is the calling thread's state and the caller holds the GIL (or
/// the thread is in C code: only it changes its frame chain).
#[cfg(Py_3_11)]
#[inline(always)]
unsafe fn visit_frames(
    tstate: *mut ffi::PyThreadState,
    floor: *const u8,
    mut visit: impl FnMut(*const u8, RawLocation) -> bool,
) {
    // SAFETY: offsets come from this version's headers; interpreter frames
    // on our own chain stay alive while we hold the GIL, and each holds a
    // strong reference to its code object.
    unsafe {
        #[cfg(not(Py_3_13))]
        let mut frame: *const u8 = {
            let cframe: *const u8 = read(tstate as *const u8, layout::TSTATE_CFRAME);
            if cframe.is_null() {
                return;
            }
            read(cframe, layout::CFRAME_CURRENT_FRAME)
        };
        #[cfg(Py_3_13)]
        let mut frame: *const u8 = read(tstate as *const u8, layout::TSTATE_CURRENT_FRAME);
        while !frame.is_null() && frame != floor {
            let owner: u8 = read(frame, layout::IFRAME_OWNER);
            let code: *mut ffi::PyObject = read(frame, layout::IFRAME_CODE);
            let previous: *const u8 = read(frame, layout::IFRAME_PREVIOUS);
            if owner != layout::OWNED_BY_CSTACK && !code.is_null() && ffi::PyCode_Check(code) != 0 {
                let instr: *const u16 = read(frame, layout::IFRAME_INSTR);
                let first = (code as *const u8).add(layout::CODE_ADAPTIVE) as *const u16;
                let first_traceable: c_int = read(code as *const u8, layout::CODE_FIRST_TRACEABLE);
                let units = (instr as isize - first as isize) / 2;
                let incomplete =
                    owner != layout::OWNED_BY_GENERATOR && units < first_traceable as isize;
                if !incomplete {
                    let location = RawLocation {
                        code,
                        offset: (units * 2) as i32,
                    };
                    if !visit(frame, location) {
                        return;
                    }
                }
            }
            frame = previous;
        }
    }
}

/// Fills `out` with up to `out.len()` frames of `tstate` above `floor` (a
/// frame of this thread, or null), innermost first, and returns how many
/// it wrote.
///
/// # Safety
/// As for [`visit_frames`].
#[inline]
pub(crate) unsafe fn walk(
    tstate: *mut ffi::PyThreadState,
    floor: *const u8,
    out: &mut [RawLocation],
) -> usize {
    let mut n = 0;
    // SAFETY: forwarded from the caller.
    unsafe {
        visit_frames(tstate, floor, |_, location| {
            if n == out.len() {
                return false;
            }
            out[n] = location;
            n += 1;
            n < out.len()
        })
    };
    n
}

/// Frames counted at most by [`walk_counting`], as tracemalloc caps its
/// `total_nframe` (a 16-bit field).
pub(crate) const MAX_TOTAL: usize = u16::MAX as usize;

/// As [`walk`], and also says how long the whole chain above `floor` is:
/// returns (frames written, frames in the chain). With `count`, every
/// frame is counted (up to [`MAX_TOTAL`]); without, the second number is
/// only exact when the chain fit in `out`, and is one more than the frames
/// written when it did not (a single look past the last one written).
///
/// # Safety
/// As for [`visit_frames`].
#[inline]
pub(crate) unsafe fn walk_measuring<const COUNT: bool>(
    tstate: *mut ffi::PyThreadState,
    floor: *const u8,
    out: &mut [RawLocation],
) -> (usize, usize) {
    let mut n = 0;
    let mut last: *const u8 = std::ptr::null();
    // SAFETY: forwarded from the caller.
    unsafe {
        visit_frames(tstate, floor, |frame, location| {
            out[n] = location;
            n += 1;
            last = frame;
            n < out.len()
        })
    };
    if n < out.len() || last.is_null() {
        return (n, n);
    }
    // SAFETY: as in `visit_frames`; only the chain links (and, from 3.12,
    // the owner byte) are read. Frames past the innermost are never
    // incomplete (only a frame running its prologue is), so the count
    // skips what `visit_frames` skips: from 3.12, the C-stack shims.
    unsafe {
        #[cfg(not(Py_3_11))]
        let link = layout::FRAME_BACK;
        #[cfg(Py_3_11)]
        let link = layout::IFRAME_PREVIOUS;
        let mut total = n;
        let mut frame: *const u8 = read(last, link);
        while !frame.is_null() && frame != floor && total < MAX_TOTAL {
            #[cfg(Py_3_12)]
            {
                let owner: u8 = read(frame, layout::IFRAME_OWNER);
                total += (owner != layout::OWNED_BY_CSTACK) as usize;
            }
            #[cfg(not(Py_3_12))]
            {
                total += 1;
            }
            if !COUNT && total > n {
                break;
            }
            frame = read(frame, link);
        }
        (n, total)
    }
}

/// The frame `depth` Python frames below the innermost one of `tstate` (0:
/// the innermost), or null when the stack is not that deep.
///
/// # Safety
/// `tstate` is the calling thread's state and the caller holds the GIL.
pub(crate) unsafe fn ancestor(tstate: *mut ffi::PyThreadState, depth: usize) -> *const u8 {
    let mut seen = 0;
    let mut found = std::ptr::null();
    // SAFETY: forwarded from the caller.
    unsafe {
        visit_frames(tstate, std::ptr::null(), |frame, _| {
            if seen == depth {
                found = frame;
                return false;
            }
            seen += 1;
            true
        })
    };
    found
}

/// The source line of a location (0 when unknown). Allocates nothing.
///
/// # Safety
/// The GIL is held and `loc.code` is a live code object.
pub(crate) unsafe fn line_of(loc: RawLocation) -> u32 {
    // SAFETY: PyCode_Addr2Line only reads the code object's line table and
    // accepts any offset (negative ones give the first line).
    let line = unsafe { ffi::PyCode_Addr2Line(loc.code as *mut ffi::PyCodeObject, loc.offset) };
    line.max(0) as u32
}

/// The function's (qualified, from 3.11) name and the file name of a code
/// object, copied out of the str objects without calling into Python.
///
/// # Safety
/// The GIL is held and `code` is a live code object.
pub(crate) unsafe fn names_of(code: *mut ffi::PyObject) -> (String, String) {
    #[cfg(Py_3_11)]
    let name_offset = layout::CODE_QUALNAME;
    #[cfg(not(Py_3_11))]
    let name_offset = layout::CODE_NAME;
    // SAFETY: both fields are str references owned by the live code object.
    unsafe {
        let name: *mut ffi::PyObject = read(code as *const u8, name_offset);
        let filename: *mut ffi::PyObject = read(code as *const u8, layout::CODE_FILENAME);
        (str_contents(name), str_contents(filename))
    }
}

/// The text of a str object, read from its canonical representation (no
/// UTF-8 cache is created, unlike `PyUnicode_AsUTF8`).
unsafe fn str_contents(text: *mut ffi::PyObject) -> String {
    // SAFETY: the caller passes a live object; we check it is a ready str
    // before reading its data with the kind CPython recorded.
    unsafe {
        if text.is_null() || ffi::PyUnicode_Check(text) == 0 {
            return String::from("?");
        }
        #[cfg(not(Py_3_12))]
        if ffi::PyUnicode_IS_READY(text) == 0 {
            return String::from("?");
        }
        let length = ffi::PyUnicode_GET_LENGTH(text) as usize;
        let data: *const c_void = ffi::PyUnicode_DATA(text);
        match ffi::PyUnicode_KIND(text) {
            ffi::PyUnicode_1BYTE_KIND => {
                let bytes = std::slice::from_raw_parts(data as *const u8, length);
                bytes.iter().map(|&b| b as char).collect()
            }
            ffi::PyUnicode_2BYTE_KIND => {
                let units = std::slice::from_raw_parts(data as *const u16, length);
                units
                    .iter()
                    .map(|&u| char::from_u32(u as u32).unwrap_or('\u{fffd}'))
                    .collect()
            }
            _ => {
                let points = std::slice::from_raw_parts(data as *const u32, length);
                points
                    .iter()
                    .map(|&p| char::from_u32(p).unwrap_or('\u{fffd}'))
                    .collect()
            }
        }
    }
}
