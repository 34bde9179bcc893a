//! Interning Python call chains into the trie of [`StackId`]s.
//!
//! A stack is "frame F called from stack P". The hot path looks up
//! `(parent stack, code object, bytecode offset)` in one hash map; only on a
//! miss does it resolve the location to a line, intern the
//! `(function, file, line)` [`FrameId`] and announce new frames and stacks to
//! the sink. Two offsets on the same line share one frame and one stack, so
//! consumers see a canonical trie.
//!
//! **Code object lifetime.** Locations are keyed by the code object's
//! address, and the interner holds no reference to any code object: a
//! program that generates and drops functions (templating engines, ORMs,
//! `dataclasses`) must see them freed as under plain Python. A code object
//! can be freed and its address reused by another one, which would
//! silently attribute allocations to the wrong function, so the interner
//! copies a code object's names when it first sees it and learns of its
//! death ([`Deaths`]): from a code watcher on 3.12+ (`PyCode_AddWatcher`,
//! told of every code deallocation), before that from a code-extra slot
//! (`_PyCode_SetExtra`) whose free function CPython calls when a code
//! object tagged with it is deallocated. [`Interner::forget_code`] then
//! drops every key naming that address.
//!
//! Tagging a code object allocates (its extra array, through `PyMem`), so
//! it is done only from a Python hook whose layers are the top of every
//! domain: above us, another layer (the stdlib's tracemalloc) may hold its
//! own lock while calling down into our hook, and re-entering it would
//! deadlock. A code object first seen elsewhere, or when no notice can be
//! had, is held by a strong reference until tracing stops (the old
//! behaviour, now the rare case).
//!
//! The interner is only touched by allocations made while holding the GIL,
//! which serializes it (non-free-threaded builds only).

use super::frames::{self, RawLocation};
use memlens_trace::events::{EventSink, Frame, FrameId, StackId};
use pyo3::ffi;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::raw::c_void;

/// A multiply-and-rotate hasher for small integer keys: the hot path hashes
/// one `(u32, usize, i32)` per changed frame.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves its entropy in the high bits, and hashbrown
        // indexes with the low ones (addresses are 16-byte aligned): fold.
        self.0 ^ (self.0 >> 29)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(26) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.write_u64(value as u64);
    }
    #[inline]
    fn write_i32(&mut self, value: i32) {
        self.write_u64(value as u32 as u64);
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

/// The build-hasher for [`FastHasher`].
pub(crate) type FastHash = BuildHasherDefault<FastHasher>;

/// The stacks already interned, readable by threads that do not hold the
/// GIL (a native allocation made while C code has released it): a copy of
/// the interner's (parent, code, offset) → stack map behind a lock that
/// only the interner's rare inserts write. Such a thread walks its own
/// frames (only it pushes and pops them, and it is in C code) and looks the
/// chain up here; it never interns, so a chain first seen without the GIL
/// resolves to its longest interned outer part.
#[derive(Default)]
pub(crate) struct SharedStacks {
    map: std::sync::RwLock<HashMap<(u32, usize, i32), StackId, FastHash>>,
}

impl SharedStacks {
    /// Drops the keys `(parent, code, offset)` of a code object just freed.
    fn forget(&self, code: usize, keys: &[(u32, i32)]) {
        if let Ok(mut map) = self.map.write() {
            for &(parent, offset) in keys {
                map.remove(&(parent, code, offset));
            }
        }
    }

    fn insert(&self, key: (u32, usize, i32), stack: StackId) {
        if let Ok(mut map) = self.map.write() {
            map.insert(key, stack);
        }
    }

    /// The stack of `walked` (innermost frame first), or of its longest
    /// interned outer part; [`StackId::EMPTY`] when none is interned.
    pub(crate) fn find(&self, walked: &[RawLocation]) -> StackId {
        let Ok(map) = self.map.read() else {
            return StackId::EMPTY;
        };
        let mut parent = StackId::EMPTY;
        for loc in walked.iter().rev() {
            match map.get(&(parent.0, loc.code as usize, loc.offset)) {
                Some(&stack) => parent = stack,
                None => break,
            }
        }
        parent
    }
}

/// What the interner knows of one live code object: its names, and every
/// key it made with the code's address (to drop them when the code dies).
struct CodeInfo {
    function: String,
    filename: String,
    /// `(parent, offset)` of each `by_location` key.
    locations: Vec<(u32, i32)>,
    /// `(line, frame)` of each frame interned for this code.
    frames: Vec<(u32, FrameId)>,
    /// `(parent, frame)` of each `by_frame` key.
    stacks: Vec<(u32, u32)>,
}

/// Stacks and frames seen so far in one tracing session.
pub(crate) struct Interner {
    /// `(parent, code, offset)` → stack: the hot-path map.
    by_location: HashMap<(u32, usize, i32), StackId, FastHash>,
    /// `(parent, frame)` → stack: makes stacks canonical across offsets.
    by_frame: HashMap<(u32, u32), StackId, FastHash>,
    /// `(code, line)` → frame.
    frames: HashMap<(usize, u32), FrameId, FastHash>,
    /// Each live code object seen, by address.
    codes: HashMap<usize, CodeInfo, FastHash>,
    /// How code deaths reach [`forget_code`](Self::forget_code).
    deaths: Deaths,
    /// Strong references to code objects that could not be tagged (see
    /// the module doc), released by [`release_codes`](Self::release_codes).
    held_codes: Vec<*mut ffi::PyObject>,
    next_stack: u32,
    next_frame: u32,
}

// SAFETY: the raw code pointers are only dereferenced or released with the
// GIL held; the interner itself is only used under the GIL.
unsafe impl Send for Interner {}

impl Interner {
    /// An empty interner that learns of code deaths as `deaths` says
    /// (whose callback must call [`forget_code`](Self::forget_code)).
    pub(crate) fn new(deaths: Deaths) -> Self {
        Interner {
            by_location: HashMap::default(),
            by_frame: HashMap::default(),
            frames: HashMap::default(),
            codes: HashMap::default(),
            deaths,
            held_codes: Vec::new(),
            next_stack: 1,
            next_frame: 0,
        }
    }

    /// The stack "`loc` called from `parent`", announcing what is new.
    /// `python_hook`: the caller is one of the Python allocator hooks (the
    /// only place a code object may be tagged, see the module doc).
    ///
    /// # Safety
    /// The GIL is held and `loc.code` is a live code object.
    #[inline]
    pub(crate) unsafe fn child(
        &mut self,
        sink: &dyn EventSink,
        parent: StackId,
        loc: RawLocation,
        shared: &SharedStacks,
        python_hook: bool,
    ) -> StackId {
        let key = (parent.0, loc.code as usize, loc.offset);
        if let Some(&stack) = self.by_location.get(&key) {
            return stack;
        }
        // SAFETY: forwarded from the caller.
        let stack = unsafe { self.child_slow(sink, parent, loc, python_hook) };
        self.by_location.insert(key, stack);
        if let Some(info) = self.codes.get_mut(&key.1) {
            info.locations.push((parent.0, loc.offset));
        }
        shared.insert(key, stack);
        stack
    }

    /// Forgets everything keyed by the address of a code object being
    /// freed, so that a later code object at the same address is a new
    /// one. Frame and stack ids already announced stay valid (the sink
    /// keeps their names). Returns whether the code was known.
    pub(crate) fn forget_code(&mut self, code: usize, shared: &SharedStacks) -> bool {
        let Some(info) = self.codes.remove(&code) else {
            return false;
        };
        for &(parent, offset) in &info.locations {
            self.by_location.remove(&(parent, code, offset));
        }
        shared.forget(code, &info.locations);
        for &(line, _) in &info.frames {
            self.frames.remove(&(code, line));
        }
        for key in &info.stacks {
            self.by_frame.remove(key);
        }
        true
    }

    /// The stack standing for `parent` cut short at the frame limit, out of
    /// a chain of `total` frames, announcing it when new. Keyed in the same
    /// map as real frames, with a null code object (which no frame has).
    pub(crate) fn truncated(
        &mut self,
        sink: &dyn EventSink,
        parent: StackId,
        total: u32,
    ) -> StackId {
        let key = (parent.0, 0, total as i32);
        if let Some(&stack) = self.by_location.get(&key) {
            return stack;
        }
        let stack = StackId(self.next_stack);
        self.next_stack += 1;
        sink.truncated(stack, parent, total);
        self.by_location.insert(key, stack);
        stack
    }

    #[cold]
    unsafe fn child_slow(
        &mut self,
        sink: &dyn EventSink,
        parent: StackId,
        loc: RawLocation,
        python_hook: bool,
    ) -> StackId {
        // SAFETY: forwarded from the caller (GIL held, code alive).
        let line = unsafe { frames::line_of(loc) };
        let code_key = loc.code as usize;
        let info = match self.codes.entry(code_key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                // SAFETY: GIL held, code alive, inside a traced call.
                let (function, filename) = unsafe {
                    watch(self.deaths, python_hook, &mut self.held_codes, loc.code);
                    frames::names_of(loc.code)
                };
                entry.insert(CodeInfo {
                    function,
                    filename,
                    locations: Vec::new(),
                    frames: Vec::new(),
                    stacks: Vec::new(),
                })
            }
        };
        let frame = match self.frames.entry((code_key, line)) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                let frame = FrameId(self.next_frame);
                self.next_frame += 1;
                sink.frame(
                    frame,
                    Frame {
                        function: &info.function,
                        filename: &info.filename,
                        line,
                    },
                );
                info.frames.push((line, frame));
                *entry.insert(frame)
            }
        };
        if let Some(&stack) = self.by_frame.get(&(parent.0, frame.0)) {
            return stack;
        }
        let stack = StackId(self.next_stack);
        self.next_stack += 1;
        sink.stack(stack, (parent != StackId::EMPTY).then_some(parent), frame);
        self.by_frame.insert((parent.0, frame.0), stack);
        info.stacks.push((parent.0, frame.0));
        stack
    }

    /// Bytes this interner holds (for `get_tracemalloc_memory`).
    pub(crate) fn memory_usage(&self) -> usize {
        let entry = |key: usize, value: usize| key + value + 1;
        self.by_location.capacity() * entry(24, 4)
            + self.by_frame.capacity() * entry(8, 4)
            + self.frames.capacity() * entry(16, 4)
            + self
                .codes
                .values()
                .map(|info| {
                    info.function.capacity()
                        + info.filename.capacity()
                        + info.locations.capacity() * 8
                        + info.frames.capacity() * 8
                        + info.stacks.capacity() * 8
                        + 112
                })
                .sum::<usize>()
            + self.held_codes.capacity() * 8
    }

    /// Drops the strong references to code objects that could not be
    /// tagged (normally none).
    ///
    /// # Safety
    /// The GIL is held and the hooks no longer use this interner.
    pub(crate) unsafe fn release_codes(&mut self) {
        for code in self.held_codes.drain(..) {
            // SAFETY: we own one reference to each, taken in `child_slow`.
            unsafe { ffi::Py_DECREF(code) };
        }
    }
}

/// How the interner learns that a code object it has seen was freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deaths {
    /// A code watcher (3.12+), told of every code object's deallocation.
    #[cfg_attr(not(Py_3_12), allow(dead_code))]
    Watcher,
    /// A code-extra slot whose free function is told of the deallocation
    /// of each code object tagged with it (its value: the code's address).
    Extra(ffi::Py_ssize_t),
    /// No notice: code objects seen are kept alive until tracing stops.
    Unknown,
}

/// Arranges for `code`'s deallocation to reach [`Interner::forget_code`],
/// or, when that cannot be done here, keeps it alive until tracing stops.
///
/// # Safety
/// The GIL is held, `code` is a live code object, and the caller is
/// inside a traced call (the slot's allocation is not traced).
unsafe fn watch(
    deaths: Deaths,
    python_hook: bool,
    held_codes: &mut Vec<*mut ffi::PyObject>,
    code: *mut ffi::PyObject,
) {
    match deaths {
        Deaths::Watcher => return,
        Deaths::Extra(index) => {
            // SAFETY: GIL held, live code object. Getting first: a slot
            // already ours (tagged in an earlier session) needs nothing,
            // and setting it again would call the free function on the
            // old value. A failure must not replace an exception the
            // program is handling.
            unsafe {
                let mut extra: *mut c_void = std::ptr::null_mut();
                if keeping_exception(|| ffi::PyUnstable_Code_GetExtra(code, index, &mut extra)) == 0
                {
                    if extra == code as *mut c_void {
                        return;
                    }
                    // Setting allocates through PyMem: only where no layer
                    // above ours can be inside a call (see the module doc).
                    if extra.is_null()
                        && python_hook
                        && super::hooks::layers_on_top()
                        && keeping_exception(|| {
                            ffi::PyUnstable_Code_SetExtra(code, index, code as *mut c_void)
                        }) == 0
                    {
                        return;
                    }
                }
            }
        }
        Deaths::Unknown => {}
    }
    // SAFETY: GIL held, live code; the reference keeps the address
    // from being reused while we key by it.
    unsafe { ffi::Py_INCREF(code) };
    held_codes.push(code);
}

/// Runs `f`, a C-API call that may raise on failure, leaving the
/// exception state as it was before (a failure's exception cleared, the
/// program's own exception, if any, kept).
///
/// # Safety
/// The GIL is held.
unsafe fn keeping_exception(f: impl FnOnce() -> std::os::raw::c_int) -> std::os::raw::c_int {
    // SAFETY: GIL held; the saved exception is restored exactly once.
    unsafe {
        #[cfg(Py_3_12)]
        {
            let saved = ffi::PyErr_GetRaisedException();
            let status = f();
            if status != 0 {
                ffi::PyErr_Clear();
            }
            ffi::PyErr_SetRaisedException(saved);
            status
        }
        #[cfg(not(Py_3_12))]
        {
            let (mut kind, mut value, mut traceback) = (
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            ffi::PyErr_Fetch(&mut kind, &mut value, &mut traceback);
            let status = f();
            if status != 0 {
                ffi::PyErr_Clear();
            }
            ffi::PyErr_Restore(kind, value, traceback);
            status
        }
    }
}
