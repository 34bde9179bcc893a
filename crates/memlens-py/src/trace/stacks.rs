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
//! address. A code object can be freed and its address reused by another
//! one, which would silently attribute allocations to the wrong function.
//! The interner therefore keeps a strong reference to every code object it
//! has seen, and drops them when tracing stops (with the GIL held, after the
//! hooks are off). The cost is that code objects seen while tracing outlive
//! their last user until [`stop`](super::stop); the number kept is bounded by
//! the distinct functions that allocated.
//!
//! The interner is only touched by allocations made while holding the GIL,
//! which serializes it (non-free-threaded builds only).

use super::frames::{self, RawLocation};
use memlens_trace::events::{EventSink, Frame, FrameId, StackId};
use pyo3::ffi;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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

/// Stacks and frames seen so far in one tracing session.
pub(crate) struct Interner {
    /// `(parent, code, offset)` → stack: the hot-path map.
    by_location: HashMap<(u32, usize, i32), StackId, FastHash>,
    /// `(parent, frame)` → stack: makes stacks canonical across offsets.
    by_frame: HashMap<(u32, u32), StackId, FastHash>,
    /// `(code, line)` → frame.
    frames: HashMap<(usize, u32), FrameId, FastHash>,
    /// Function and file name of each code object seen, by address.
    names: HashMap<usize, (String, String), FastHash>,
    /// Strong references to the code objects in `names` (see module doc).
    held_codes: Vec<*mut ffi::PyObject>,
    next_stack: u32,
    next_frame: u32,
}

// SAFETY: the raw code pointers are only dereferenced or released with the
// GIL held; the interner itself is only used under the GIL.
unsafe impl Send for Interner {}

impl Interner {
    /// An empty interner.
    pub(crate) fn new() -> Self {
        Interner {
            by_location: HashMap::default(),
            by_frame: HashMap::default(),
            frames: HashMap::default(),
            names: HashMap::default(),
            held_codes: Vec::new(),
            next_stack: 1,
            next_frame: 0,
        }
    }

    /// The stack "`loc` called from `parent`", announcing what is new.
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
    ) -> StackId {
        let key = (parent.0, loc.code as usize, loc.offset);
        if let Some(&stack) = self.by_location.get(&key) {
            return stack;
        }
        // SAFETY: forwarded from the caller.
        let stack = unsafe { self.child_slow(sink, parent, loc) };
        self.by_location.insert(key, stack);
        shared.insert(key, stack);
        stack
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
    ) -> StackId {
        // SAFETY: forwarded from the caller (GIL held, code alive).
        let line = unsafe { frames::line_of(loc) };
        let code_key = loc.code as usize;
        if !self.names.contains_key(&code_key) {
            // SAFETY: GIL held, code alive; the new strong reference keeps
            // the address from being reused while we key by it.
            let names = unsafe {
                ffi::Py_INCREF(loc.code);
                frames::names_of(loc.code)
            };
            self.held_codes.push(loc.code);
            self.names.insert(code_key, names);
        }
        let frame = match self.frames.get(&(code_key, line)) {
            Some(&frame) => frame,
            None => {
                let frame = FrameId(self.next_frame);
                self.next_frame += 1;
                let (function, filename) = &self.names[&code_key];
                sink.frame(
                    frame,
                    Frame {
                        function,
                        filename,
                        line,
                    },
                );
                self.frames.insert((code_key, line), frame);
                frame
            }
        };
        *self.by_frame.entry((parent.0, frame.0)).or_insert_with(|| {
            let stack = StackId(self.next_stack);
            self.next_stack += 1;
            let parent = (parent != StackId::EMPTY).then_some(parent);
            sink.stack(stack, parent, frame);
            stack
        })
    }

    /// Bytes this interner holds (for `get_tracemalloc_memory`).
    pub(crate) fn memory_usage(&self) -> usize {
        let entry = |key: usize, value: usize| key + value + 1;
        self.by_location.capacity() * entry(24, 4)
            + self.by_frame.capacity() * entry(8, 4)
            + self.frames.capacity() * entry(16, 4)
            + self
                .names
                .values()
                .map(|(f, n)| f.capacity() + n.capacity() + 56)
                .sum::<usize>()
            + self.held_codes.capacity() * 8
    }

    /// Drops the strong references to code objects.
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
