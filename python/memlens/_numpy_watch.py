"""Trace numpy data buffers even when numpy is imported after tracing started.

When tracing starts, memlens wraps numpy's default data-memory handler if
numpy is already imported (the native side, ``trace/numpy.rs``). For a numpy
imported later, :func:`watch` puts a finder first on ``sys.meta_path`` that
recognizes numpy's core extension module, lets the regular finders locate
it, and has its loader tell memlens once the module is initialized. The
finder answers ``None`` for every other name, so imports are otherwise
unchanged; it stays installed (it does nothing while no trace runs).
"""
import sys

from memlens import _core

CORE_MODULES = ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath")


class _NumpyCoreFinder:
    """A meta-path finder that only watches numpy's core extension module."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname not in CORE_MODULES or not _core._trace_any_running():
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

        def exec_module(module):
            original_exec(module)
            _core._numpy_attach(module)

        # The loader object is this spec's own (finders create one per spec).
        loader.exec_module = exec_module
        return spec

    @classmethod
    def invalidate_caches(cls):
        pass


def watch():
    """Install the finder once; returns after at most one list insertion."""
    if _NumpyCoreFinder not in sys.meta_path:
        sys.meta_path.insert(0, _NumpyCoreFinder)
