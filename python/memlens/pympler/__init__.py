"""Drop-in for pympler 1.1: ``from memlens.pympler import muppy, summary, tracker, asizeof``.

Same names, signatures, defaults, return types and printed formats as
pympler's modules of those names, backed by the Rust heap walker:

* complete: objects the GC does not track (str, int, float, bytes,
  untracked tuples and dicts) are found through ``tp_traverse`` wherever
  they hang, not only one level below a tracked object (pympler #61, #97,
  #152), so counts are greater than or equal to pympler's;
* observes without disturbing: no instance ``__dict__`` is materialized on
  3.11+ (pympler #170), no ``__sizeof__`` runs (sizes are
  ``memlens.sizeof``, equal to ``sys.getsizeof`` for builtin types);
* ``SummaryTracker`` leaves its own summaries out of what it summarizes, so
  its diff shows only the program's changes.

Where the numbers legitimately differ from pympler's, and why, is listed in
the README ("memlens.pympler").
"""
from memlens.pympler import asizeof, muppy, summary, tracker

__all__ = ["asizeof", "muppy", "summary", "tracker"]
