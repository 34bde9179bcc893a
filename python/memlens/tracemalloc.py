"""A drop-in for the standard library's :mod:`tracemalloc`, backed by memlens' Rust tracer.

Switch with one import::

    from memlens import tracemalloc

    tracemalloc.start(25)
    ...
    snapshot = tracemalloc.take_snapshot()
    for stat in snapshot.statistics("lineno")[:10]:
        print(stat)

Functions, classes, signatures, semantics and printed formats are those of
the standard module of the running Python (3.9 to 3.13). The differences:

* tracing costs far less (the hooks and the frame walk are native and
  allocate no Python object), and the tracer's own memory is smaller;
* at most 128 frames are captured (``start()`` accepts up to 65535 like the
  standard module and reports that limit, but deeper frames are cut);
* ``Traceback.total_nframe`` of a traceback cut at the limit is ``None``
  (which the standard module's documentation allows: "not available")
  unless tracing started with ``start(nframe, count_frames=True)``, which
  counts the whole stack on every allocation as the standard module does.
  Counting costs about one nanosecond per frame below the limit, on every
  allocation; a traceback that was not cut always has its exact length;
* ``start(nframe, *, sample_bytes=N)`` samples allocations instead (Poisson
  sampling by bytes, mean interval ``N``): sizes become unbiased estimates,
  counts are sampled blocks, and printed statistics say so;
* ``Snapshot.dump`` and ``Snapshot.load`` use memlens' own versioned,
  checksummed binary format, never pickle; a damaged file raises
  :class:`SnapshotFormatError`;
* the snapshot's own Python objects are not traced.

Using it together with the standard module: both can trace at once, each
seeing every allocation. Stopping the standard module while memlens traces
*on top of it* (started after it) removes memlens' hooks too, because the
standard module restores the allocators it found: memlens then sees no more
allocations until it is restarted. Nothing crashes in any order.
"""
import os.path
import struct
import zlib

# collections.abc re-exports these from _collections_abc, which every
# interpreter has loaded at start-up; importing them from collections.abc
# (and functools.total_ordering, below) would load collections and
# functools, 3 ms of start-up that every traced program would pay.
from _collections_abc import Iterable, Sequence

from memlens import _core, _import_watch
from memlens._errors import FileFormatError

__all__ = [
    "BaseFilter", "DomainFilter", "Filter", "Frame", "Snapshot", "SnapshotFormatError", "Statistic",
    "StatisticDiff", "Trace", "Traceback", "clear_traces", "get_object_traceback", "get_traceback_limit",
    "get_traced_memory", "get_tracemalloc_memory", "is_tracing", "reset_peak", "start", "stop",
    "take_snapshot",
]

_MAX_NFRAME = 65535
_sample_bytes = None
_limit = [1]  # the traceback limit last given to start(), as get_traceback_limit() reports it


def _fnmatch():
    # Imported on first use: fnmatch brings re and enum, 4 ms of start-up
    # that every traced program would otherwise pay before its first line.
    import fnmatch

    return fnmatch.fnmatch


def _linecache():
    import linecache

    return linecache


def __getattr__(name):
    # ``tracemalloc.linecache`` (the standard module's import, which its
    # tests patch) without paying for linecache's imports at start-up.
    if name == "linecache":
        return _linecache()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _total_ordering(cls):
    """The other comparisons from ``__lt__`` and ``__eq__``, as ``functools.total_ordering``
    derives them (NotImplemented passed on), without importing functools."""

    def __le__(self, other):
        less = type(self).__lt__(self, other)
        return less if less is NotImplemented else (less or self == other)

    def __gt__(self, other):
        less = type(self).__lt__(self, other)
        return less if less is NotImplemented else (not less and self != other)

    def __ge__(self, other):
        less = type(self).__lt__(self, other)
        return less if less is NotImplemented else not less

    for method in (__le__, __gt__, __ge__):
        method.__qualname__ = "%s.%s" % (cls.__qualname__, method.__name__)
        setattr(cls, method.__name__, method)
    return cls


class SnapshotFormatError(FileFormatError):
    """A file given to :meth:`Snapshot.load` is not a readable memlens snapshot."""


# --- the tracer -------------------------------------------------------------

def start(nframe=1, *, sample_bytes=None, count_frames=False):
    """Start tracing Python memory allocations, keeping up to *nframe* frames per traceback.

    Called while already tracing, does nothing (as the standard module).
    ``sample_bytes`` (memlens only) samples allocations with that mean
    interval in bytes instead of tracing all of them. ``count_frames``
    (memlens only) counts every frame of each allocation's stack, so that
    ``Traceback.total_nframe`` of a traceback cut at *nframe* is its whole
    length (as in the standard module) instead of ``None``.
    """
    global _sample_bytes
    if not isinstance(nframe, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(nframe).__name__)
    if nframe < 1 or nframe > _MAX_NFRAME:
        raise ValueError("the number of frames must be in range [1; %d]" % _MAX_NFRAME)
    if sample_bytes is not None and (not isinstance(sample_bytes, int) or sample_bytes < 1):
        raise ValueError("sample_bytes must be a positive number of bytes")
    if _core._trace_is_tracing():
        return
    _import_watch.watch_numpy()
    _core._trace_start(min(nframe, 128), sample_bytes, bool(count_frames))
    _limit[0] = nframe
    _sample_bytes = sample_bytes




def stop():
    """Stop tracing Python memory allocations and forget the traces."""
    _core._trace_stop()


def is_tracing():
    """True if memory allocations are being traced."""
    return _core._trace_is_tracing()


def clear_traces():
    """Forget the traces of the blocks allocated so far."""
    _core._trace_clear_traces()


def get_traceback_limit():
    """The most frames stored in the traceback of a trace (as given to start())."""
    return _limit[0]


def get_traced_memory():
    """(current, peak) size in bytes of the traced memory blocks."""
    return _core._trace_traced_memory()


def reset_peak():
    """Set the peak size of traced memory blocks to the current size."""
    _core._trace_reset_peak()


def get_tracemalloc_memory():
    """Bytes used by the tracer itself to store the traces."""
    return _core._trace_memory()


def get_object_traceback(obj):
    """The Traceback where *obj* was allocated, or None when untraced or not tracing."""
    frames = _core._trace_object_traceback(obj)
    return None if frames is None else Traceback(frames)


def _get_traces():
    """The raw traces, as the standard module's private ``_get_traces()``:
    ``[(domain, size, traceback, total_nframe), ...]``, each traceback a tuple of
    ``(filename, lineno)`` from the most recent frame; ``[]`` when not tracing."""
    if not _core._trace_is_tracing():
        return []
    return _core._trace_raw_traces()


def take_snapshot():
    """A Snapshot of the traces of the memory blocks allocated by Python."""
    if not is_tracing():
        raise RuntimeError("the tracemalloc module must be tracing memory allocations to take a snapshot")
    snapshot = Snapshot(_get_traces(), get_traceback_limit())
    snapshot.sample_bytes = _sample_bytes
    return snapshot


def _start_as_configured():
    """Honour ``PYTHONTRACEMALLOC=N`` / ``-X tracemalloc[=N]``, as the standard module does.

    The interpreter has started its own tracer for that setting before any
    import; a program that only changed its import to memlens gets memlens
    tracing instead, with the same frame limit, and the interpreter's tracer
    is stopped so that allocations do not pay for two tracers.
    """
    import sys

    configured = "tracemalloc" in getattr(sys, "_xoptions", {}) or (
        not sys.flags.ignore_environment and os.environ.get("PYTHONTRACEMALLOC", "") not in ("", "0"))
    if not configured:
        return
    import _tracemalloc

    if not _tracemalloc.is_tracing() or _core._trace_is_tracing():
        return
    nframe = _tracemalloc.get_traceback_limit()
    _tracemalloc.stop()
    start(nframe)


# --- sizes ------------------------------------------------------------------

def _format_size(size, sign):
    """tracemalloc's human size: 3 significant digits below 100 units, else whole units."""
    prefix = "+" if sign else ""
    value = size
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if unit != "B" and abs(value) < 100:
            return format(value, prefix + ".1f") + " " + unit
        if unit == "TiB" or abs(value) < 10 * 1024:
            return format(value, prefix + ".0f") + " " + unit
        value /= 1024


# --- frames, tracebacks, traces ---------------------------------------------

@_total_ordering
class Frame:
    """One frame of a traceback: a file name and a line number."""

    __slots__ = ("_frame",)

    def __init__(self, frame):
        self._frame = frame

    filename = property(lambda self: self._frame[0])
    lineno = property(lambda self: self._frame[1])

    def __eq__(self, other):
        return self._frame == other._frame if isinstance(other, Frame) else NotImplemented

    def __lt__(self, other):
        return self._frame < other._frame if isinstance(other, Frame) else NotImplemented

    def __hash__(self):
        return hash(self._frame)

    def __str__(self):
        return f"{self.filename}:{self.lineno}"

    def __repr__(self):
        return f"<Frame filename={self.filename!r} lineno={self.lineno!r}>"


@_total_ordering
class Traceback(Sequence):
    """Frames from the oldest to the most recent (built from a most-recent-first tuple)."""

    __slots__ = ("_frames", "_total_nframe")

    def __init__(self, frames, total_nframe=None):
        Sequence.__init__(self)
        self._frames = tuple(frames)[::-1]
        self._total_nframe = total_nframe

    @property
    def total_nframe(self):
        return self._total_nframe

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(map(Frame, self._frames[index]))
        return Frame(self._frames[index])

    def __contains__(self, frame):
        return frame._frame in self._frames

    def __hash__(self):
        return hash(self._frames)

    def __eq__(self, other):
        return self._frames == other._frames if isinstance(other, Traceback) else NotImplemented

    def __lt__(self, other):
        return self._frames < other._frames if isinstance(other, Traceback) else NotImplemented

    def __str__(self):
        return str(self[0])

    def __repr__(self):
        tail = ">" if self._total_nframe is None else f" total_nframe={self._total_nframe}>"
        return f"<Traceback {tuple(self)}" + tail

    def format(self, limit=None, most_recent_first=False):
        """Source-like lines: '  File "f", line n' followed by the stripped source line."""
        if limit is None:
            frames = self
        elif limit > 0:
            frames = self[-limit:]
        else:
            frames = self[:limit]
        if most_recent_first:
            frames = reversed(frames)
        lines = []
        for frame in frames:
            lines.append(f'  File "{frame.filename}", line {frame.lineno}')
            source = _linecache().getline(frame.filename, frame.lineno).strip()
            if source:
                lines.append(f"    {source}")
        return lines


class Trace:
    """One traced memory block: domain, size and traceback."""

    __slots__ = ("_trace",)

    def __init__(self, trace):
        self._trace = trace

    domain = property(lambda self: self._trace[0])
    size = property(lambda self: self._trace[1])

    @property
    def traceback(self):
        return Traceback(*self._trace[2:])

    def __eq__(self, other):
        return self._trace == other._trace if isinstance(other, Trace) else NotImplemented

    def __hash__(self):
        return hash(self._trace)

    def __str__(self):
        return f"{self.traceback}: {_format_size(self.size, False)}"

    def __repr__(self):
        return f"<Trace domain={self.domain} size={_format_size(self.size, False)}, traceback={self.traceback!r}>"


class _Traces(Sequence):
    """The traces of a snapshot, as a sequence of Trace."""

    def __init__(self, traces):
        Sequence.__init__(self)
        self._traces = traces

    def __len__(self):
        return len(self._traces)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(map(Trace, self._traces[index]))
        return Trace(self._traces[index])

    def __contains__(self, trace):
        return trace._trace in self._traces

    def __eq__(self, other):
        return self._traces == other._traces if isinstance(other, _Traces) else NotImplemented

    def __repr__(self):
        return f"<Traces len={len(self)}>"


# --- statistics --------------------------------------------------------------

class Statistic:
    """Size and count of the blocks allocated at one traceback."""

    __slots__ = ("traceback", "size", "count")

    def __init__(self, traceback, size, count):
        self.traceback = traceback
        self.size = size
        self.count = count

    def __hash__(self):
        return hash((self.traceback, self.size, self.count))

    def __eq__(self, other):
        if not isinstance(other, Statistic):
            return NotImplemented
        return (self.traceback, self.size, self.count) == (other.traceback, other.size, other.count)

    def __str__(self):
        text = f"{self.traceback}: size={_format_size(self.size, False)}, count={self.count:d}"
        if self.count:
            text += f", average={_format_size(self.size / self.count, False)}"
        return text

    def __repr__(self):
        return f"<Statistic traceback={self.traceback!r} size={self.size:d} count={self.count:d}>"

    def _sort_key(self):
        return (self.size, self.count, self.traceback)


class StatisticDiff:
    """Size and count at one traceback in a new snapshot, and their change since an old one."""

    __slots__ = ("traceback", "size", "size_diff", "count", "count_diff")

    def __init__(self, traceback, size, size_diff, count, count_diff):
        self.traceback = traceback
        self.size = size
        self.size_diff = size_diff
        self.count = count
        self.count_diff = count_diff

    def _fields(self):
        return (self.traceback, self.size, self.size_diff, self.count, self.count_diff)

    def __hash__(self):
        return hash(self._fields())

    def __eq__(self, other):
        return self._fields() == other._fields() if isinstance(other, StatisticDiff) else NotImplemented

    def __str__(self):
        text = (f"{self.traceback}: size={_format_size(self.size, False)} "
                f"({_format_size(self.size_diff, True)}), count={self.count:d} ({self.count_diff:+d})")
        if self.count:
            text += f", average={_format_size(self.size / self.count, False)}"
        return text

    def __repr__(self):
        return (f"<StatisticDiff traceback={self.traceback!r} size={self.size:d} ({self.size_diff:+d}) "
                f"count={self.count:d} ({self.count_diff:+d})>")

    def _sort_key(self):
        return (abs(self.size_diff), self.size, abs(self.count_diff), self.count, self.traceback)


# --- filters -----------------------------------------------------------------

def _normalize_filename(filename):
    filename = os.path.normcase(filename)
    return filename[:-1] if filename.endswith(".pyc") else filename


class BaseFilter:
    """A filter of traces; *inclusive* keeps matches, otherwise drops them."""

    def __init__(self, inclusive):
        self.inclusive = inclusive

    def _match(self, trace):
        raise NotImplementedError


class Filter(BaseFilter):
    """Filter on the file name pattern (fnmatch), line number and domain of traces."""

    def __init__(self, inclusive, filename_pattern, lineno=None, all_frames=False, domain=None):
        super().__init__(inclusive)
        self._filename_pattern = _normalize_filename(filename_pattern)
        self.lineno = lineno
        self.all_frames = all_frames
        self.domain = domain

    @property
    def filename_pattern(self):
        return self._filename_pattern

    def _frame_matches(self, filename, lineno):
        if not _fnmatch()(_normalize_filename(filename), self._filename_pattern):
            return False
        return self.lineno is None or lineno == self.lineno

    def _match_frame(self, filename, lineno):
        return self._frame_matches(filename, lineno) != (not self.inclusive)

    def _match_traceback(self, traceback):
        if not self.all_frames:
            return self._match_frame(*traceback[0])
        found = any(self._frame_matches(filename, lineno) for filename, lineno in traceback)
        return self.inclusive if found else not self.inclusive

    def _match(self, trace):
        domain, _size, traceback, _total = trace
        matched = self._match_traceback(traceback)
        if self.domain is None:
            return matched
        if self.inclusive:
            return matched and domain == self.domain
        return matched or domain != self.domain


class DomainFilter(BaseFilter):
    """Filter traces on their allocator domain."""

    def __init__(self, inclusive, domain):
        super().__init__(inclusive)
        self._domain = domain

    @property
    def domain(self):
        return self._domain

    def _match(self, trace):
        return (trace[0] == self._domain) != (not self.inclusive)


# --- snapshots -----------------------------------------------------------------

class Snapshot:
    """The traces of the memory blocks allocated by Python at one moment."""

    def __init__(self, traces, traceback_limit):
        self.traces = _Traces(traces)
        self.traceback_limit = traceback_limit
        self.sample_bytes = None

    def dump(self, filename):
        """Write the snapshot to *filename* in memlens' snapshot format."""
        with open(filename, "wb") as file:
            file.write(_encode(self))

    @staticmethod
    def load(filename):
        """Read a snapshot written by :meth:`dump`; raises SnapshotFormatError on a damaged file."""
        with open(filename, "rb") as file:
            return _decode(file.read(), filename)

    def filter_traces(self, filters):
        """A new Snapshot keeping the traces that pass *filters* (Filter and DomainFilter instances)."""
        if not isinstance(filters, Iterable):
            raise TypeError(f"filters must be a list of filters, not {type(filters).__name__}")
        filters = list(filters)
        include = [f for f in filters if f.inclusive]
        exclude = [f for f in filters if not f.inclusive]
        traces = self.traces._traces
        if not filters:
            kept = list(traces)
        else:
            kept = [
                trace for trace in traces
                if (not include or any(f._match(trace) for f in include))
                and all(f._match(trace) for f in exclude)
            ]
        snapshot = Snapshot(kept, self.traceback_limit)
        snapshot.sample_bytes = self.sample_bytes
        return snapshot

    def _group_by(self, key_type, cumulative):
        if key_type not in ("traceback", "filename", "lineno"):
            raise ValueError(f"unknown key_type: {key_type!r}")
        if cumulative and key_type not in ("lineno", "filename"):
            raise ValueError(f"cumulative mode cannot by used with key type {key_type!r}")
        grouped = _core._trace_group(self.traces._traces, key_type, cumulative)
        statistic = _SampledStatistic if self.sample_bytes else Statistic
        stats = {}
        for frames, (size, count) in grouped.items():
            traceback = Traceback(frames)
            stats[traceback] = statistic(traceback, size, count)
        return stats

    def statistics(self, key_type, cumulative=False):
        """Statistics grouped by 'filename', 'lineno' or 'traceback', biggest first."""
        stats = list(self._group_by(key_type, cumulative).values())
        stats.sort(reverse=True, key=Statistic._sort_key)
        return stats

    def compare_to(self, old_snapshot, key_type, cumulative=False):
        """StatisticDiff per group between *old_snapshot* and this one, biggest change first."""
        new = self._group_by(key_type, cumulative)
        old = old_snapshot._group_by(key_type, cumulative)
        diffs = []
        for traceback, stat in new.items():
            before = old.pop(traceback, None)
            size_before, count_before = (before.size, before.count) if before is not None else (0, 0)
            diffs.append(StatisticDiff(traceback, stat.size, stat.size - size_before,
                                       stat.count, stat.count - count_before))
        for traceback, stat in old.items():
            diffs.append(StatisticDiff(traceback, 0, -stat.size, 0, -stat.count))
        diffs.sort(reverse=True, key=StatisticDiff._sort_key)
        return diffs


class _SampledStatistic(Statistic):
    """A Statistic whose size is an estimate from sampled allocations."""

    __slots__ = ()

    def __str__(self):
        return super().__str__() + " (sampled estimate)"


# --- the snapshot file format -------------------------------------------------
#
#   header   b"MLSNAP\r\n" | u16 version | u16 flags (1: sampled) | u32 traceback_limit | u64 sample_bytes
#   strings  u32 count, then per string: u32 length, UTF-8 bytes (surrogates escaped)
#   frames   u32 count, then per frame: u32 string index, u32 line
#   stacks   u32 count, then per stack: u32 total_nframe + 1 (0: None), u16 n, n × u32 frame index
#   traces   u32 count, then per trace: u32 domain, u64 size, u32 stack index
#   trailer  u32 CRC-32 of everything before it
# All integers little-endian.

_MAGIC = b"MLSNAP\r\n"
_VERSION = 2  # 2 added the attributes section; version 1 files are still read
_SNAPSHOT_FIELDS = ("traces", "traceback_limit", "sample_bytes")
# Attribute values a snapshot file keeps, by tag (never pickle).
_ATTRIBUTE_TAGS = {type(None): 0, bool: 1, int: 2, float: 3, str: 4, bytes: 5}


def _encode_attributes(snapshot):
    """The attributes set on a snapshot, as the standard module's pickle keeps
    them; values other than None, bool, int, float, str and bytes cannot be
    stored without pickle: TypeError."""
    attributes = [(name, value) for name, value in vars(snapshot).items() if name not in _SNAPSHOT_FIELDS]
    parts = [struct.pack("<I", len(attributes))]
    for name, value in attributes:
        tag = _ATTRIBUTE_TAGS.get(type(value))
        if tag is None:
            raise TypeError("Snapshot.dump keeps attributes of type None, bool, int, float, str or bytes; "
                            "attribute %r is a %s" % (name, type(value).__name__))
        raw_name = name.encode("utf-8", "surrogateescape")
        if tag == 1:
            raw = bytes([value])
        elif tag == 2:
            raw = str(value).encode("ascii")
        elif tag == 3:
            raw = struct.pack("<d", value)
        elif tag == 4:
            raw = value.encode("utf-8", "surrogateescape")
        else:
            raw = value or b""
        parts.append(struct.pack("<I", len(raw_name)) + raw_name + struct.pack("<BI", tag, len(raw)) + raw)
    return b"".join(parts)


def _decode_attributes(reader):
    attributes = {}
    for _ in range(reader.count("attribute", 9)):
        (length,) = reader.take("<I")
        (raw_name,) = reader.take(f"<{length}s")
        tag, size = reader.take("<BI")
        (raw,) = reader.take(f"<{size}s")
        name = raw_name.decode("utf-8", "surrogateescape")
        if tag == 0 and not raw:
            value = None
        elif tag == 1 and raw in (b"\x00", b"\x01"):
            value = raw == b"\x01"
        elif tag == 2 and raw and len(raw) <= 4300 and raw.lstrip(b"-").isdigit():
            value = int(raw)
        elif tag == 3 and size == 8:
            (value,) = struct.unpack("<d", raw)
        elif tag == 4:
            value = raw.decode("utf-8", "surrogateescape")
        elif tag == 5:
            value = raw
        else:
            reader.fail(f"attribute {name!r} has a bad value (tag {tag}, {size} bytes)")
        if name in _SNAPSHOT_FIELDS or not name.isidentifier():
            reader.fail(f"attribute name {name!r} is not allowed")
        attributes[name] = value
    return attributes
_HEADER = struct.Struct("<8sHHIQ")


def _encode(snapshot):
    strings, frames, stacks = {}, {}, {}
    stack_rows, trace_rows = [], []
    for domain, size, traceback, *rest in snapshot.traces._traces:
        total = rest[0] if rest else None
        key = (traceback, total)
        index = stacks.get(key)
        if index is None:
            frame_indices = []
            for filename, lineno in traceback:
                frame = frames.get((filename, lineno))
                if frame is None:
                    frame = frames[(filename, lineno)] = len(frames)
                    strings.setdefault(filename, len(strings))
                frame_indices.append(frame)
            index = stacks[key] = len(stacks)
            stack_rows.append((0 if total is None else total + 1, frame_indices))
        trace_rows.append((domain, size, index))
    parts = [_HEADER.pack(_MAGIC, _VERSION, 1 if snapshot.sample_bytes else 0,
                          snapshot.traceback_limit, snapshot.sample_bytes or 0)]
    parts.append(struct.pack("<I", len(strings)))
    for text in strings:
        data = text.encode("utf-8", "surrogateescape")
        parts.append(struct.pack("<I", len(data)) + data)
    parts.append(struct.pack("<I", len(frames)))
    parts.extend(struct.pack("<II", strings[filename], lineno) for filename, lineno in frames)
    parts.append(struct.pack("<I", len(stack_rows)))
    for total, frame_indices in stack_rows:
        parts.append(struct.pack(f"<IH{len(frame_indices)}I", total, len(frame_indices), *frame_indices))
    parts.append(struct.pack("<I", len(trace_rows)))
    parts.extend(struct.pack("<IQI", *row) for row in trace_rows)
    parts.append(_encode_attributes(snapshot))
    body = b"".join(parts)
    return body + struct.pack("<I", zlib.crc32(body))


class _Reader:
    def __init__(self, data, filename):
        self.data, self.offset, self.filename = data, 0, filename

    def fail(self, why):
        raise SnapshotFormatError(f"{self.filename}: not a readable memlens snapshot: {why}")

    def take(self, layout):
        size = struct.calcsize(layout)
        if self.offset + size > len(self.data):
            self.fail(f"truncated at byte {self.offset}")
        values = struct.unpack_from(layout, self.data, self.offset)
        self.offset += size
        return values

    def count(self, what, item_size):
        (n,) = self.take("<I")
        if n * item_size > len(self.data) - self.offset:
            self.fail(f"{what} count {n} exceeds the file size")
        return n


def _decode(data, filename):
    reader = _Reader(data, filename)
    if len(data) < _HEADER.size + 4 or not data.startswith(_MAGIC):
        if data[:1] == b"\x80":
            reader.fail("this looks like a pickle (the standard tracemalloc format); memlens reads only its own format")
        reader.fail("bad magic number")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        reader.fail("checksum mismatch (the file is corrupt or truncated)")
    reader.data = data[:-4]
    _magic, version, flags, limit, sample_bytes = reader.take(_HEADER.format)
    if version not in (1, _VERSION):
        reader.fail(f"format version {version} is not supported (this memlens reads versions 1 to {_VERSION})")
    strings = []
    for _ in range(reader.count("string", 4)):
        (length,) = reader.take("<I")
        (raw,) = reader.take(f"<{length}s")
        strings.append(raw.decode("utf-8", "surrogateescape"))
    frames = []
    for _ in range(reader.count("frame", 8)):
        string, line = reader.take("<II")
        if string >= len(strings):
            reader.fail(f"frame refers to string {string} of {len(strings)}")
        frames.append((strings[string], line))
    stacks = []
    for _ in range(reader.count("stack", 6)):
        total, n = reader.take("<IH")
        indices = reader.take(f"<{n}I")
        if any(i >= len(frames) for i in indices):
            reader.fail("stack refers to a missing frame")
        stacks.append((tuple(frames[i] for i in indices), None if total == 0 else total - 1))
    traces = []
    for _ in range(reader.count("trace", 16)):
        domain, size, stack = reader.take("<IQI")
        if stack >= len(stacks):
            reader.fail(f"trace refers to stack {stack} of {len(stacks)}")
        traceback, total = stacks[stack]
        traces.append((domain, size, traceback, total))
    attributes = _decode_attributes(reader) if version >= 2 else {}
    if reader.offset != len(reader.data):
        reader.fail(f"{len(reader.data) - reader.offset} unexpected bytes after the traces")
    snapshot = Snapshot(traces, limit)
    snapshot.sample_bytes = sample_bytes if flags & 1 else None
    for name, value in attributes.items():
        setattr(snapshot, name, value)
    return snapshot


_start_as_configured()
