"""Heap snapshots: ``memlens.snapshot``, ``memlens.snapshot_on_signal``.

The walk and the file writer are Rust (``crates/memlens-py/src/heap/
snapshot.rs``); this module chooses in-process or fork, names files and
reaps fork children. See docs/heap.md, "Snapshots".
"""
from __future__ import annotations

import json
import os
import signal as _signal
import sys
import threading
from types import FrameType
from typing import Any, Callable, List, Optional, Tuple, Union

from memlens import _core
from memlens._core import Snapshot
from memlens._errors import CaptureError, ConfigurationError

PathLike = Union[str, "os.PathLike[str]"]

# Frames of code in this directory, on top of the calling thread, are
# memlens's own (snapshot(), why_alive()) and left out of the snapshot.
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class ForkedSnapshot:
    """A snapshot being written by a fork child.

    ``pid`` is the child's, ``path`` the file it writes, ``pause_seconds``
    how long the parent was stopped by the fork. A thread reaps the child;
    :meth:`wait` blocks until it is done and raises :class:`CaptureError`
    if it failed (then no file is left at ``path``).
    """

    def __init__(self, pid: int, path: str, partial: str, pause_ns: int) -> None:
        self.pid = pid
        self.path = path
        self.pause_seconds = pause_ns / 1e9
        self._partial = partial
        self._done = threading.Event()
        self._status: Optional[int] = None
        self._reaper = threading.Thread(
            target=self._reap, name="memlens-snapshot-reaper", daemon=True
        )
        self._reaper.start()

    def _reap(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = -1
        self._status = status
        if status != 0:
            try:
                os.unlink(self._partial)
            except OSError:
                pass
        self._done.set()

    def done(self) -> bool:
        """Whether the child has ended."""
        return self._done.is_set()

    def wait(self, timeout: Optional[float] = None) -> str:
        """Waits for the child; returns the path of the complete file.

        Raises :class:`CaptureError` when the child failed or was killed,
        ``TimeoutError`` when ``timeout`` seconds pass first.
        """
        if not self._done.wait(timeout):
            raise TimeoutError(f"snapshot child {self.pid} still running after {timeout} s")
        status = self._status
        if status != 0:
            raise CaptureError(f"snapshot child {self.pid} failed ({_describe(status)}); "
                               f"no snapshot written to {self.path}")
        return self.path

    def load(self) -> Snapshot:
        """Waits for the child and reads the file it wrote."""
        return _core.load_snapshot(self.wait())

    def __repr__(self) -> str:
        state = "running" if not self.done() else (
            "done" if self._status == 0 else _describe(self._status))
        return f"<memlens.ForkedSnapshot pid={self.pid} {self.path!r} {state}>"


def _describe(status: Optional[int]) -> str:
    if status is None or status < 0:
        return "status unknown"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = _signal.Signals(sig).name if sig in _signal.Signals._value2member_map_ else str(sig)
        return f"killed by {name}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _check_path(path: object) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(f"snapshot path must be a str or os.PathLike, not {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise ConfigurationError("snapshot path must be a non-empty str path")
    if os.path.isdir(text):
        raise IsADirectoryError(f"cannot write snapshot {text}: it is a directory")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"cannot write snapshot {text}: no directory {parent}")
    return text


def snapshot(
    path: Optional[PathLike] = None,
    *,
    fork: bool = False,
    strings: bool = False,
    wait: bool = False,
    timeout: float = 600.0,
) -> Union[Snapshot, ForkedSnapshot]:
    """Takes a heap snapshot of this process.

    In process (``fork=False``): walks the heap and returns a
    :class:`Snapshot`; with ``path`` it is also written there (``.mlh``).
    With ``fork=True`` (``path`` required) the process forks and resumes at
    once; the child walks, writes ``path`` atomically and exits, and a
    :class:`ForkedSnapshot` is returned (``wait=True`` waits for the child).
    ``timeout`` bounds the child (seconds, then it is killed and no file is
    left). String contents (str values, bytes, dict keys that are not
    identifiers) are kept only with ``strings=True``.
    """
    if fork:
        if path is None:
            raise ConfigurationError("snapshot(fork=True) needs a path: the child writes the file")
        text = _check_path(path)
        seconds = int(timeout)
        if seconds < 1:
            raise ConfigurationError(f"timeout must be at least 1 second, not {timeout!r}")
        pid, pause_ns, partial = _core.heap_snapshot_fork(
            text, strings=strings, timeout=seconds, own_dir=_OWN_DIR
        )
        forked = ForkedSnapshot(pid, text, os.fspath(partial), pause_ns)
        if wait:
            forked.wait()
        return forked
    target = _check_path(path) if path is not None else None
    snap = _core.heap_snapshot(strings=strings, own_dir=_OWN_DIR)
    if target is not None:
        snap.save(target)
    return snap


def load(path: PathLike) -> Snapshot:
    """Reads a ``.mlh`` snapshot file (``FileFormatError`` if it is not one)."""
    return _core.load_snapshot(os.fspath(path))


def numbered_path(template: str, n: int) -> str:
    """The path of the ``n``th snapshot (1-based) for ``template``:
    ``{n}`` and ``{pid}`` are replaced; without ``{n}``, the first is
    ``template`` itself and later ones ``stem.N.ext``."""
    if "{n}" in template or "{pid}" in template:
        return template.replace("{n}", str(n)).replace("{pid}", str(os.getpid()))
    if n == 1:
        return template
    stem, ext = os.path.splitext(template)
    return f"{stem}.{n}{ext}"


_Handler = Union[Callable[[int, Optional[FrameType]], object], int, None]


def snapshot_on_signal(
    signum: int = _signal.SIGUSR2,
    path: PathLike = "memlens-{pid}-{n}.mlh",
    *,
    strings: bool = False,
    on_snapshot: Optional[Callable[[ForkedSnapshot], object]] = None,
) -> _Handler:
    """Takes a fork snapshot each time the process receives ``signum``.

    Each snapshot is written to :func:`numbered_path` of ``path``
    (``{pid}``, ``{n}``). Returns the previous handler. The handler runs in
    the main thread, as Python signal handlers do; the process is paused
    only for the fork.
    """
    template = os.fspath(path)
    _check_path(numbered_path(template, 1))
    count = [0]

    def handler(received: int, frame: Optional[FrameType]) -> None:
        count[0] += 1
        target = numbered_path(template, count[0])
        try:
            forked = snapshot(target, fork=True, strings=strings)
        except (OSError, CaptureError) as exc:
            _report(f"memlens: snapshot on signal {received} failed: {exc}\n")
            return
        if on_snapshot is not None and isinstance(forked, ForkedSnapshot):
            on_snapshot(forked)

    return _signal.signal(signum, handler)


def _report(text: str) -> None:
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


class HeapReport:
    """One analysis of a snapshot: ``str(report)`` is the text memlens
    prints, ``report.data`` the same as JSON-shaped Python objects."""

    __slots__ = ("text", "_json", "_data")

    def __init__(self, text: str, json_text: str) -> None:
        self.text = text
        self._json = json_text
        self._data: Any = None

    @property
    def data(self) -> Any:
        if self._data is None:
            self._data = json.loads(self._json)
        return self._data

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text)


class WhyAlive(List[Tuple[str, str]]):
    """The paths :func:`why_alive` found: ``[(expression, steps), ...]``,
    shortest first; ``str()`` is what it printed."""

    def __init__(self, what: str, paths: List[Tuple[str, str]], from_frames: bool) -> None:
        super().__init__(paths)
        self.what = what
        self.from_frames = from_frames

    def __str__(self) -> str:
        if not self:
            return (f"{self.what} is reachable from no root: only cyclic garbage or "
                    f"references from C hold it\n")
        where = "" if not self.from_frames else " (held only by running code)"
        lines = [f"{self.what} is kept alive by {len(self)} path(s){where}:"]
        for i, (expression, steps) in enumerate(self, 1):
            lines.append(f"  {i}. {expression}")
            lines.extend("       " + line for line in steps.rstrip("\n").splitlines())
        return "\n".join(lines) + "\n"


def why_alive(obj: object, *, limit: int = 5, file: Any = None, strings: bool = False) -> WhyAlive:
    """Prints and returns the paths from named roots to ``obj``.

    Takes an in-process snapshot, then finds the shortest path through each
    object holding ``obj`` (up to ``limit``). Module globals, class
    attributes, sys and C-held references are searched first; the frames of
    running code (the caller's own variables) only when nothing else holds
    it. Printed to ``file`` (default ``sys.stdout``; pass ``False`` to print
    nothing).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(f"limit must be a positive int, not {limit!r}")
    snap = _core.heap_snapshot(strings=strings, own_dir=_OWN_DIR)
    node = snap.node_of(obj)
    what = f"{type(obj).__qualname__} object at {id(obj):#x}"
    if node is None:
        raise CaptureError(f"{what} was not found by the heap walk")
    from_frames = False
    found = snap.paths(node=node, limit=limit, frames=False)
    if not found:
        found = snap.paths(node=node, limit=limit, frames=True)
        from_frames = bool(found)
    result = WhyAlive(what, found, from_frames)
    if file is not False:
        out = sys.stdout if file is None else file
        out.write(str(result))
    return result


__all__ = ["ForkedSnapshot", "HeapReport", "Snapshot", "WhyAlive", "load", "snapshot",
           "snapshot_on_signal", "why_alive"]
