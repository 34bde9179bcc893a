"""Act on modules the traced program imports after tracing started.

Two things need a module that may be imported only later:

- numpy's data buffers: when tracing starts, memlens wraps numpy's default
  data-memory handler if numpy is already imported (the native side,
  ``trace/numpy.rs``); a numpy imported later is attached once its core
  extension module is initialized.
- ``memlens run`` names threads in its capture by wrapping
  ``threading.Thread``; a program that imports ``threading`` only later gets
  the wrapper then, so ``memlens run`` never imports ``threading`` (and its
  dependencies) into a program that does not use it.

:func:`when_imported` puts one finder first on ``sys.meta_path``. For a
watched name, while a trace runs, it lets the regular finders locate the
module and has its loader call back once the module is initialized. It
answers ``None`` for every other name, so imports are otherwise unchanged;
it stays installed (it does nothing while no trace runs). A module some
other finder loads without ``exec_module`` is left alone.
"""
import sys

from memlens import _core

# Type checkers read this block (mypy takes any TYPE_CHECKING as true); the
# program does not: importing typing machinery costs every traced program.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

NUMPY_CORE_MODULES = ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath")

# Module name -> callables taking the initialized module.
_callbacks: "dict[str, list[Callable[[ModuleType], object]]]" = {}


class _ImportWatch:
    """A meta-path finder that only watches the names in ``_callbacks``."""

    @classmethod
    def find_spec(
        cls,
        fullname: str,
        path: "Sequence[str] | None" = None,
        target: "ModuleType | None" = None,
    ) -> "ModuleSpec | None":
        callbacks = _callbacks.get(fullname)
        if not callbacks or not _core._trace_any_running():
            return None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original_exec = loader.exec_module

        def exec_module(module: "ModuleType") -> None:
            original_exec(module)
            for callback in list(callbacks):
                try:
                    callback(module)
                except Exception as exc:  # memlens's own work: never break the program's import
                    sys.stderr.write("memlens: warning: after importing %s: %s\n" % (fullname, exc))

        # The loader object is this spec's own (path finders create one per
        # spec); built-in and frozen modules share their finder class as
        # loader, which is not ours to change: they are left alone.
        if isinstance(loader, type):
            return spec
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    @classmethod
    def invalidate_caches(cls) -> None:
        pass


def when_imported(name: str, callback: "Callable[[ModuleType], object]") -> None:
    """Call ``callback(module)`` when module ``name`` is imported while a trace runs.

    Registering the same callback twice has no further effect; the finder is
    installed once.
    """
    callbacks = _callbacks.setdefault(name, [])
    if callback not in callbacks:
        callbacks.append(callback)
    if _ImportWatch not in sys.meta_path:
        sys.meta_path.insert(0, _ImportWatch)


def watch_numpy() -> None:
    """Attach numpy's data buffers to the trace if numpy is imported while it runs."""
    for name in NUMPY_CORE_MODULES:
        when_imported(name, _core._numpy_attach)
