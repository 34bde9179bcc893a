"""memlens: what uses memory in a Python program, why it is still alive, and how to shrink it.

The heavy lifting happens in the Rust extension ``memlens._core``; this
package holds the public API and the drop-in modules that keep the APIs of
the tools Python developers already use (``memlens.objgraph``,
``memlens.pympler``, ``memlens.tracemalloc``).
"""
from memlens._core import __version__
from memlens._errors import CaptureError, ConfigurationError, FileFormatError, MemlensError
from memlens._heap import Census, CensusDiff, census, census_diff

__all__ = [
    "__version__",
    "CaptureError",
    "Census",
    "CensusDiff",
    "ConfigurationError",
    "FileFormatError",
    "LintDiagnostic",
    "ForkedSnapshot",
    "MemlensError",
    "Snapshot",
    "census",
    "census_diff",
    "lint",
    "load_snapshot",
    "snapshot",
    "snapshot_on_signal",
    "why_alive",
]

# Loaded on first use (the snapshot module imports threading).
_SNAPSHOT_NAMES = {
    "ForkedSnapshot": "ForkedSnapshot",
    "Snapshot": "Snapshot",
    "load_snapshot": "load",
    "snapshot": "snapshot",
    "snapshot_on_signal": "snapshot_on_signal",
    "why_alive": "why_alive",
}


def __getattr__(name: str) -> object:
    # The lint API is loaded on first use: its imports (dataclasses, typing)
    # would otherwise add ~13 ms to every program `memlens run` traces.
    if name in ("lint", "LintDiagnostic"):
        from memlens import _lint

        value = getattr(_lint, name)
        globals()[name] = value
        return value
    if name == "leaks":
        import importlib

        return importlib.import_module("memlens.leaks")
    if name in _SNAPSHOT_NAMES:
        from memlens import _snapshot

        value = getattr(_snapshot, _SNAPSHOT_NAMES[name])
        globals()[name] = value
        return value
    raise AttributeError(f"module 'memlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
