"""Track changes in the set of live objects over time, as ``pympler.tracker``.

``SummaryTracker`` summarizes the heap on each ``diff()``; its stored
summaries (and the summary it compares against) are left out of the walk, so
they never appear in its diffs — pympler counts its ``s0`` summary's rows in
the next one. As in ``muppy.get_objects()``, no ``gc.collect()`` runs
first. ``ObjectTracker`` keeps strong references to every object, as
pympler's does, and leaves its own lists out of the walk.
"""
import types

from memlens import _core
from memlens.pympler import muppy, summary

__all__ = ["SummaryTracker", "ObjectTracker"]


def _summary_containers(rows):
    """The lists a summary is made of: the walk excludes them, and with them
    the label strings and counts only they hold."""
    yield rows
    yield from rows


class SummaryTracker(object):
    """Diffs of heap summaries: each ``diff()`` summarizes the heap and
    compares with the previous summary."""

    def __init__(self, ignore_self=True):
        """Takes the first summary. With ``ignore_self`` (the default) the
        tracker's own summaries are never counted."""
        self.summaries = {}
        self.ignore_self = ignore_self
        self.s1 = None
        self.s0 = None
        self.s0 = self.create_summary()

    def _bookkeeping(self):
        containers = [self.summaries]
        for stored in (self.s0, self.s1, *self.summaries.values()):
            if stored is not None:
                containers.extend(_summary_containers(stored))
        return containers

    def create_summary(self):
        """A summary of every live object (the tracker's own summaries left
        out with ``ignore_self``)."""
        exclude = self._bookkeeping() if self.ignore_self else []
        exclude.append(exclude)
        totals = _core.live_type_totals(
            skip_types=(types.FrameType,), split_types=summary._LABELLED_BY_OBJECT, exclude=exclude)
        exclude.clear()
        return summary._summary_rows(*totals)

    def diff(self, summary1=None, summary2=None):
        """The diff from the last summary (or ``summary1``) to a new one, or
        from ``summary1`` to ``summary2``; unchanged rows left out.
        ValueError when only ``summary2`` is given."""
        if summary2 is None:
            self.s1 = self.create_summary()
            result = summary.get_diff(self.s0 if summary1 is None else summary1, self.s1)
            self.s0 = self.s1
        elif summary1 is not None:
            result = summary.get_diff(summary1, summary2)
        else:
            raise ValueError("You cannot provide summary2 without summary1.")
        return [row for row in result if row[1] != 0 or row[2] != 0]

    def print_diff(self, summary1=None, summary2=None):
        """Print ``diff(summary1, summary2)`` as a summary table."""
        summary.print_(self.diff(summary1=summary1, summary2=summary2))

    def format_diff(self, summary1=None, summary2=None):
        """``diff(summary1, summary2)`` as table lines (an iterator of str)."""
        return summary.format_(self.diff(summary1=summary1, summary2=summary2))

    def store_summary(self, key):
        """Take a summary and keep it in ``self.summaries[key]``."""
        self.summaries[key] = self.create_summary()


class ObjectTracker(object):
    """Which objects appeared and disappeared between two calls. Holds a
    strong reference to every live object until it is dropped."""

    def __init__(self):
        self.o0 = self._get_objects()

    def _get_objects(self, ignore=()):
        exclude = [self, *ignore]
        exclude.extend(getattr(self, name) for name in ("o0", "o1") if hasattr(self, name))
        exclude.append(exclude)
        objects = _core.all_objects(skip_types=(types.FrameType,), exclude=exclude)
        exclude.clear()
        return objects

    def get_diff(self, ignore=()):
        """``{'+': new objects, '-': gone objects}`` since the last call
        (or creation), leaving out the objects in ``ignore``."""
        self.o1 = self._get_objects(ignore)
        diff = muppy.get_diff(self.o0, self.o1)
        self.o0 = self.o1
        return diff

    def print_diff(self, ignore=()):
        """Print ``format_diff(ignore)``."""
        for line in self.format_diff(ignore):
            print(line)

    def format_diff(self, ignore=()):
        """Summary tables of the objects added and removed since the last call."""
        diff = self.get_diff(ignore)
        lines = ["Added objects:"]
        lines.extend(summary.format_(summary.summarize(diff["+"])))
        lines.append("Removed objects:")
        lines.extend(summary.format_(summary.summarize(diff["-"])))
        return lines
