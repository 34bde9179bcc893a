"""Starts memlens tracing in Python processes launched by a traced program.

``memlens run`` puts this directory first on ``PYTHONPATH`` and the run's
settings in ``MEMLENS_RUN``; see ``memlens._run``. After starting, the
``sitecustomize`` this one shadows (if any) is imported as usual.
"""
import os
import sys


def _start() -> None:
    if not os.environ.get("MEMLENS_RUN"):
        return
    try:
        from memlens import _run
    except ImportError:
        return  # another interpreter, without memlens installed
    try:
        _run.start_from_environment()
    except Exception as exc:
        sys.stderr.write("memlens: warning: cannot trace child process %d: %s\n" % (os.getpid(), exc))


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    this = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        try:
            import sitecustomize  # type: ignore[import-not-found]  # noqa: F401  (the shadowed one, if any)
        except ImportError:
            pass
    finally:
        sys.path[:] = saved
        if this is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = this


_start()
_chain()
