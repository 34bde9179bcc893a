"""Time every run of the cyclic garbage collector, from inside the program.

::

    from memlens import gc_monitor

    with gc_monitor.monitor("app.mlg") as run:   # or start() ... stop()
        serve()
    print(run.report())                  # pauses per generation, GC share, advice
    print(gc_monitor.read_report("app.mlg", "trace"))   # one line per collection

The callback added to ``gc.callbacks`` is native code (``memlens._core``):
it runs no bytecode, creates no Python object, takes no lock the program can
hold and never raises. See docs/gc.md.
"""
from __future__ import annotations

import _thread
import gc
import json
import os
import sys
from types import TracebackType
from typing import NamedTuple, Optional, Union

from memlens import _core
from memlens._errors import CaptureError

__all__ = ["GcEvent", "GcRun", "events", "monitor", "read_report", "report", "running", "start", "stop"]

PathLike = Union[str, "os.PathLike[str]"]


class GcEvent(NamedTuple):
    """One collection. Times are monotonic nanoseconds since the monitor started."""

    start_ns: int
    end_ns: int
    generation: int
    collected: int
    uncollectable: int
    candidates: Optional[int]
    thread: int
    rss_bytes: Optional[int]

    @property
    def pause_ns(self) -> int:
        """How long the program was stopped."""
        return self.end_ns - self.start_ns


class GcRun(NamedTuple):
    """What :func:`stop` returns."""

    path: Optional[str]
    events: int
    dropped: int
    file_bytes: int

    def report(self, format: str = "text") -> str:
        """The report of this run: ``text``, ``json`` or ``trace`` (gctrace lines)."""
        return report(format)


_lock = _thread.allocate_lock()
_state: dict[str, object] = {}


def _meta_now(prefix: str) -> dict[str, object]:
    return {
        prefix + "thresholds": list(gc.get_threshold()),
        prefix + "enabled": gc.isenabled(),
        prefix + "garbage": len(gc.garbage),
    }


def _meta_json() -> str:
    begin = _state.get("begin", {})
    end = _state.get("end") or _meta_now("end_")
    assert isinstance(begin, dict) and isinstance(end, dict)
    freeze = getattr(gc, "get_freeze_count", None)
    meta = {
        "python_version": sys.version,
        "pid": os.getpid(),
        "argv": list(_state.get("argv") or sys.argv),  # type: ignore[call-overload]
        "start_unix_ns": 0,
        "duration_ns": 0,
        "thresholds": begin.get("begin_thresholds", []),
        "thresholds_at_end": end["end_thresholds"],
        "enabled_at_start": begin.get("begin_enabled", True),
        "enabled_at_end": end["end_enabled"],
        "freeze_count": freeze() if freeze is not None else 0,
        "garbage_at_start": begin.get("begin_garbage", 0),
        "garbage_at_end": end["end_garbage"],
    }
    return json.dumps(meta)


def running() -> bool:
    """Whether the monitor is recording in this process."""
    return _core.gc_monitor_running()


def start(path: Optional[PathLike] = None, argv: Optional[list[str]] = None) -> None:
    """Start recording every collection; :func:`stop` writes them to ``path``
    (a GC event log, ``.mlg``) if one is given. Raises
    :class:`memlens.CaptureError` if the monitor is already running."""
    with _lock:
        if _core.gc_monitor_running():
            raise CaptureError("the memlens GC monitor is already running in this process")
        target = os.fspath(path) if path is not None else None
        if target is not None and os.path.isdir(target):
            raise CaptureError("cannot write the GC log to %s: it is a directory" % target)
        _state.clear()
        _state["path"] = target
        _state["argv"] = list(argv) if argv is not None else list(sys.argv)
        _state["begin"] = _meta_now("begin_")
        _core.gc_monitor_start()
        if _core.gc_callback not in gc.callbacks:
            gc.callbacks.append(_core.gc_callback)


def stop() -> GcRun:
    """Stop recording; write the log if :func:`start` was given a path."""
    with _lock:
        if not _core.gc_monitor_running():
            raise CaptureError("the memlens GC monitor is not running")
        stopped = _core.gc_monitor_stop()
        while _core.gc_callback in gc.callbacks:
            gc.callbacks.remove(_core.gc_callback)
        _state["end"] = _meta_now("end_")
        count, dropped = stopped if stopped is not None else (0, 0)
        path = _state.get("path")
        if isinstance(path, str):
            count, dropped, size = _core.gc_monitor_write(path, _meta_json())
            return GcRun(path, count, dropped, size)
        return GcRun(None, count, dropped, 0)


def events() -> list[GcEvent]:
    """The collections recorded so far (or by the last run)."""
    return [GcEvent(*e) for e in _core.gc_monitor_events()]


def report(format: str = "text") -> str:
    """The report of the running or last run: ``text``, ``json`` or ``trace``."""
    return _core.gc_monitor_report(_meta_json(), format)


def read_report(path: PathLike, format: str = "text") -> str:
    """The report of a GC event log file; :class:`memlens.FileFormatError`
    if it is damaged or not a GC log."""
    return _core.gc_report(os.fspath(path), format)


class monitor:
    """``with monitor(path=None) as run:`` records the collections of the block;
    ``run.report()`` and ``run.result`` (a :class:`GcRun`) after it."""

    def __init__(self, path: Optional[PathLike] = None) -> None:
        self.path = path
        self.result: Optional[GcRun] = None

    def __enter__(self) -> monitor:
        start(self.path)
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.result = stop()

    def report(self, format: str = "text") -> str:
        """The report of the block (so far, inside it)."""
        return report(format)

    def events(self) -> list[GcEvent]:
        """The collections of the block."""
        return events()
