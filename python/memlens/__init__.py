"""memlens: what uses memory in a Python program, why it is still alive, and how to shrink it.

The heavy lifting happens in the Rust extension ``memlens._core``; this
package holds the public API and the drop-in modules that keep the APIs of
the tools Python developers already use (``memlens.objgraph``,
``memlens.pympler``, ``memlens.tracemalloc``).
"""
from memlens._core import __version__
from memlens._heap import Census, CensusDiff, census, census_diff
from memlens._lint import LintDiagnostic, lint

__all__ = ["__version__", "Census", "CensusDiff", "census", "census_diff", "LintDiagnostic", "lint"]
