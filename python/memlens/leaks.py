"""The leak finder: ``memlens.leaks.check``, ``memlens.leaks.watch`` and the
watcher behind ``memlens leaks``.

Watching is a census of the heap at checkpoints (kept in Rust, so the
watcher adds no Python objects to the heap it watches), a baseline snapshot
once some type has grown twice in a row, and a final snapshot; the analysis
(which types grew at every checkpoint, which of their instances are new, the
holder keeping them, its kind, the fix) is ``memlens_heap::find_leaks``.
See docs/leaks.md.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from importlib.machinery import ModuleSpec
from types import FunctionType, ModuleType, TracebackType
from typing import Any, Callable, Dict, List, Optional, Type

from memlens import _core
from memlens._errors import ConfigurationError

_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Registries in C that keep what is registered, and the module attribute
# that registers: wrapped while watching so the report can name them.
_C_REGISTRIES = (("atexit", "register"), ("codecs", "register"))


class LeakReport:
    """What the leak finder found: ``str(report)`` is the text report,
    ``report.data`` the JSON document (``memlens.leaks/1``), ``len(report)``
    the number of leaks, ``report.leaks`` their dicts."""

    __slots__ = ("text", "json_text", "count", "_data")

    def __init__(self, text: str, json_text: str, count: int) -> None:
        self.text = text
        self.json_text = json_text
        self.count = count
        self._data: Any = None

    @property
    def data(self) -> Any:
        if self._data is None:
            self._data = json.loads(self.json_text)
        return self._data

    @property
    def leaks(self) -> List[Dict[str, Any]]:
        return list(self.data["leaks"])

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<memlens.leaks.LeakReport: {self.count} leak(s)>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text)


class LeakFound(AssertionError):
    """Raised by :func:`check` with ``raise_on_leak=True``; ``report`` is the
    :class:`LeakReport`."""

    def __init__(self, report: LeakReport) -> None:
        super().__init__(report.text)
        self.report = report


class Watcher:
    """Checkpoints on a timer and after full collections while a program
    runs; :meth:`finish` takes the final snapshot and returns the report.

    The first second is watched densely (a checkpoint at least every
    ``2 x`` its own cost, so that short programs get enough of them); after
    that, checkpoints take at most ``budget`` of the program's time.
    """

    def __init__(self, *, budget: float = 0.05, main_name: Optional[str] = None,
                 min_objects: int = 20, timer: bool = True) -> None:
        if not 0 < budget <= 1:
            raise ConfigurationError(f"budget must be in (0, 1], not {budget!r}")
        self.main_name = main_name
        self.min_objects = min_objects
        self._budget = budget
        self._watch = _core.LeakWatch()
        self._baseline: Optional[_core.Snapshot] = None
        self._importing: Dict[str, int] = {}
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._next = 0.0
        self._timer = timer
        self._thread: Optional[threading.Thread] = None
        self._wrapped: List[Any] = []
        self._pid = os.getpid()
        self._switch: Optional[float] = None

    # -- watching -------------------------------------------------------
    def start(self) -> "Watcher":
        self._wrap_registries()
        gc.callbacks.append(self._on_gc)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._in_child)
        self.checkpoint(force=True)
        if self._timer:
            # While the first second is watched densely, the timer thread
            # gets the GIL within 1 ms instead of 5 (restored after it).
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, 0.001))
            self._thread = threading.Thread(target=self._tick, name="memlens-leaks", daemon=True)
            self._thread.start()
        return self

    def _in_child(self) -> None:
        # A forked child is not watched: its heap is another process's.
        self._stop.set()
        try:
            gc.callbacks.remove(self._on_gc)
        except ValueError:
            pass

    def _restore_switch(self) -> None:
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None

    def _tick(self) -> None:
        while not self._stop.is_set():
            if self._switch is not None and not self._dense():
                self._restore_switch()
            wait = max(0.001, self._next - time.perf_counter())
            if self._stop.wait(min(wait, 0.25)):
                return
            self.checkpoint()

    def _on_gc(self, phase: str, info: Dict[str, int]) -> None:
        # Every collection in the first second (short programs need the
        # checkpoints), full collections after it.
        if phase == "stop" and (info.get("generation") == 2 or self._dense()):
            self.checkpoint()

    def _dense(self) -> bool:
        return time.perf_counter() - self._started < 1.0

    def checkpoint(self, force: bool = False) -> None:
        """Takes a census now if the schedule allows (always with ``force``);
        takes the baseline snapshot when growth is first suspected."""
        if os.getpid() != self._pid:
            return
        now = time.perf_counter()
        if not force and now < self._next:
            return
        if not self._busy.acquire(blocking=False):
            return
        try:
            cost = self._watch.checkpoint()
            snapshot_cost = 0.0
            if self._baseline is None and self._watch.suspected(2, self.min_objects):
                begin = time.perf_counter()
                self._importing = _importing_modules()
                self._baseline = _core.heap_snapshot(own_dir=_OWN_DIR)
                self._watch.mark_baseline()
                snapshot_cost = time.perf_counter() - begin
            elapsed = time.perf_counter() - self._started
            if elapsed < 0.2:
                # Short programs need their checkpoints early; the one
                # baseline snapshot is not held against the schedule.
                gap = max(0.0005, cost)
            elif elapsed < 1.0:
                gap = max(0.001, 2 * cost)
            else:
                gap = max(0.05, (cost + snapshot_cost) / self._budget)
            self._next = time.perf_counter() + gap
        except Exception:
            # Never disturb the program: a failed checkpoint is skipped.
            self._next = time.perf_counter() + 1.0
        finally:
            self._busy.release()

    def _wrap_registries(self) -> None:
        watch = self._watch
        for module_name, attr in _C_REGISTRIES:
            module = sys.modules.get(module_name) or __import__(module_name)
            original = getattr(module, attr, None)
            if original is None:
                continue
            label = f"{module_name}.{attr}"

            def register(func: Any, *args: Any, _original: Any = original,
                         _label: str = label, **kwargs: Any) -> Any:
                result = _original(func, *args, **kwargs)
                try:
                    watch.note_registered(func, _label)
                except Exception:
                    pass
                return result

            register.__name__ = attr
            register.__qualname__ = attr
            register.__doc__ = getattr(original, "__doc__", None)
            setattr(module, attr, register)
            self._wrapped.append((module, attr, original, register))

    def _unwrap_registries(self) -> None:
        for module, attr, original, register in self._wrapped:
            if getattr(module, attr, None) is register:
                setattr(module, attr, original)
        self._wrapped.clear()

    def stop(self) -> None:
        """Stops the timer and the collection callback."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._restore_switch()
        try:
            gc.callbacks.remove(self._on_gc)
        except ValueError:
            pass
        self._unwrap_registries()

    # -- the report -----------------------------------------------------
    def finish(self, *, collect: Optional[bool] = None, snapshot_path: Optional[str] = None,
               every_interval: bool = False, min_intervals: int = 3,
               final_checkpoint: bool = True) -> LeakReport:
        """Stops watching, takes the last checkpoint and the final snapshot,
        and returns the report. The final state is collected first
        (``collect``: by default when the collector is enabled and not
        saving garbage), so that cycles it would free are not taken for a
        leak; a disabled collector is left as it is, as that may be the leak.
        """
        self.stop()
        if collect is None:
            collect = gc.isenabled() and not (gc.get_debug() & gc.DEBUG_SAVEALL)
        if collect:
            gc.collect()
        with self._busy:
            if final_checkpoint:
                self._watch.checkpoint()
            final = _core.heap_snapshot(strings=True, own_dir=_OWN_DIR)
        if snapshot_path is not None:
            final.save(snapshot_path)
        options: Dict[str, object] = {
            "main_name": self.main_name,
            "gc_enabled": gc.isenabled(),
            "gc_threshold0": gc.get_threshold()[0],
            "min_objects": self.min_objects,
            "every_interval": every_interval,
            "min_intervals": min_intervals,
            "default_names": _default_names(),
            "incomplete_modules": _incomplete_modules(self._importing),
            "library_modules": sorted(getattr(sys, "stdlib_module_names", ("weakref", "_weakref"))),
        }
        text, json_text, count = self._watch.report(final, self._baseline, options)
        return LeakReport(text, json_text, count)

    @property
    def checkpoints(self) -> int:
        return int(self._watch.count)

    @property
    def seconds_spent(self) -> float:
        """Seconds spent taking checkpoints and the baseline."""
        return float(self._watch.spent)


def _importing_modules() -> Dict[str, int]:
    """The name and ``id`` of each module whose import is under way (its
    body still running, in any thread): what it adds later is import-time
    state."""
    found = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType):
            continue
        spec = vars(module).get("__spec__")
        if isinstance(spec, ModuleSpec) and vars(spec).get("_initializing", False):
            found[str(name)] = id(module)
    return found


def _incomplete_modules(importing: Dict[str, int]) -> List[int]:
    """The modules of ``importing`` and, among those loaded now, every
    submodule of one of them: a C extension (numpy's core) is not yet in
    ``sys.modules`` while its package imports it, and fills its tables as
    part of that import."""
    found = set(importing.values())
    for name, module in list(sys.modules.items()):
        if isinstance(name, str) and any(name.startswith(p + ".") for p in importing):
            found.add(id(module))
    return sorted(found)


def _default_names() -> Dict[int, List[str]]:
    """For each function with positional defaults: the names of the
    parameters ``__defaults__`` belongs to, by ``id``."""
    names: Dict[int, List[str]] = {}
    for obj in gc.get_objects():
        if type(obj) is not FunctionType:
            continue
        defaults = obj.__defaults__
        if not defaults:
            continue
        code = obj.__code__
        params = code.co_varnames[:code.co_argcount]
        names[id(obj)] = list(params[len(params) - len(defaults):])
    return names


class watch:
    """``with memlens.leaks.watch() as w: ...`` — watches a block; after it,
    ``w.report`` holds the :class:`LeakReport` (printed to ``file`` unless
    ``file=False``)."""

    def __init__(self, *, min_objects: int = 20, file: Any = None) -> None:
        self._watcher = Watcher(min_objects=min_objects)
        self._file = file
        self.report: Optional[LeakReport] = None

    def __enter__(self) -> "watch":
        self._watcher.start()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.report = self._watcher.finish()
        if self._file is not False:
            out = sys.stderr if self._file is None else self._file
            out.write(self.report.text)


def check(fn: Callable[..., Any], *args: Any, repeat: int = 5, warmup: int = 2,
          min_objects: int = 1, raise_on_leak: bool = False, **kwargs: Any) -> LeakReport:
    """Calls ``fn(*args, **kwargs)`` ``warmup`` times, then ``repeat`` times
    more with a census after each (on a collected heap), as CPython's
    ``regrtest -R`` does: a leak is a type that grew in every one of the
    ``repeat`` rounds, by at least ``min_objects`` in all. Returns the
    :class:`LeakReport` (raises :class:`LeakFound` with
    ``raise_on_leak=True`` when there is a leak).
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 2:
        raise ConfigurationError(f"repeat must be an int of at least 2, not {repeat!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ConfigurationError(f"warmup must be a non-negative int, not {warmup!r}")
    if not callable(fn):
        raise ConfigurationError(f"fn must be callable, not {type(fn).__name__}")
    for _ in range(warmup):
        fn(*args, **kwargs)
    watcher = Watcher(min_objects=min_objects, timer=False)
    gc.collect()
    watcher._watch.checkpoint()
    watcher._baseline = _core.heap_snapshot(own_dir=_OWN_DIR)
    watcher._watch.mark_baseline()
    for _ in range(repeat):
        fn(*args, **kwargs)
        gc.collect()
        watcher._watch.checkpoint()
    # The last round's census is the final one.
    report = watcher.finish(collect=False, every_interval=True, min_intervals=repeat,
                            final_checkpoint=False)
    if raise_on_leak and report:
        raise LeakFound(report)
    return report


__all__ = ["LeakFound", "LeakReport", "Watcher", "check", "watch"]
