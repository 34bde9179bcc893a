"""All live objects and operations on object lists, as ``pympler.muppy``.

``get_objects()`` returns every live object the Rust walker finds: the
GC-tracked ones and every untracked object reachable from them at any depth
(pympler finds untracked objects one level below a tracked one only).
Frames are left out unless ``include_frames``, as in pympler.

Unlike pympler, no ``gc.collect()`` runs first: a collection runs finalizers
(``__del__``, weakref callbacks: user code) and changes the heap being
observed, and costs more than the walk itself. Cyclic garbage not yet
collected is still memory and is counted; call ``gc.collect()`` first for
pympler's view.
"""
import inspect
import types

from memlens import _core
from memlens.pympler import summary

__all__ = ["get_objects", "get_size", "get_diff", "sort", "filter", "get_referents", "print_summary"]

_builtin_filter = filter


def get_objects(remove_dups=True, include_frames=False):
    """Every live object except frames (with the caller's outer frames too
    when ``include_frames``). The list never holds an object twice, so
    ``remove_dups`` changes nothing."""
    objects = _core.all_objects(skip_types=(types.FrameType,))
    if include_frames:
        objects.extend(frame_info[0] for frame_info in inspect.stack()[2:])
    return objects


def get_size(objects):
    """The total size in bytes of the objects (each as ``memlens.sizeof``)."""
    type_rows, _ = _core.type_totals_of(objects)
    return sum(size for _tp, _count, size in type_rows)


def get_diff(left, right):
    """``{'+': objects only in right, '-': objects only in left}``, by identity."""
    left_ids = {id(obj) for obj in left}
    right_ids = {id(obj) for obj in right}
    return {
        "+": [obj for obj in right if id(obj) not in left_ids],
        "-": [obj for obj in left if id(obj) not in right_ids],
    }


def sort(objects):
    """The objects sorted by size, smallest first."""
    return sorted(objects, key=_core.sizeof)


def filter(objects, Type=None, min=-1, max=-1):  # noqa: A002 - pympler's names
    """The objects that are instances of ``Type`` and larger than ``min`` /
    smaller than ``max`` bytes (-1: no bound). ValueError when min > max."""
    if min > max and max > -1:
        raise ValueError("minimum must be smaller than maximum")
    if Type is not None:
        objects = [obj for obj in objects if isinstance(obj, Type)]
    if min > -1:
        objects = [obj for obj in objects if _core.sizeof(obj) > min]
    if max > -1:
        objects = [obj for obj in objects if _core.sizeof(obj) < max]
    return objects


def get_referents(object, level=1):  # noqa: A002 - pympler's name
    """What ``object`` refers to, and what those refer to, ``level`` levels
    deep, without duplicates."""
    found = []
    seen = set()
    frontier = [object]
    for _ in range(max(level, 1)):
        next_frontier = []
        for parent in frontier:
            for child in _core.referents(parent):
                if id(child) not in seen:
                    seen.add(id(child))
                    found.append(child)
                    next_frontier.append(child)
        frontier = next_frontier
    return found


_TPFLAGS_HAVE_GC = 1 << 14


def _is_containerobject(o):
    """Whether ``o``'s type takes part in garbage collection (``Py_TPFLAGS_HAVE_GC``)."""
    return bool(getattr(type(o), "__flags__", 0) & _TPFLAGS_HAVE_GC)


def _remove_duplicates(objects):
    """``objects`` with each object (by identity) kept once, first occurrence first."""
    seen = set()
    unique = []
    for obj in objects:
        if id(obj) not in seen:
            seen.add(id(obj))
            unique.append(obj)
    return unique


def print_summary():
    """Print a summary of all live objects."""
    summary.print_(summary.summarize(get_objects()))
