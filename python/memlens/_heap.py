"""The heap engine's primitives: the stable API the drop-in modules build on.

Everything here is a thin name over ``memlens._core`` (Rust). The walk:

* enumerates every GC-tracked object (all generations) and every object they
  reach through ``tp_traverse`` — untracked str, int, float, bytes, tuples and
  dicts included;
* holds the GIL from start to end, creates no Python object, runs no Python
  code (no ``__getattr__``, no ``__sizeof__``, no ``__eq__``), so nothing can
  be freed or changed while it runs, and never materializes an instance
  ``__dict__`` (3.11+ managed dicts are read in place);
* is iterative: a chain of ten million objects needs no recursion;
* leaves out memlens's own objects (``Census``, ``CensusDiff`` and
  ``HeapGraph`` instances, and anything passed as ``exclude``).

Primitives
----------
``walk(*, gc_only=False, exclude=None, roots=None) -> HeapGraph``
    A snapshot of the live heap. Node ``i`` is one object. ``gc_only=True``
    keeps GC-tracked objects only (``gc.get_objects()``'s view, objgraph's).
    The snapshot holds a strong reference to every object until dropped.

``HeapGraph`` methods (``i``, ``j`` are node indices; IndexError when out of range)
    ``len(g)``; ``g.edge_count``;
    ``g.object(i)``; ``g.objects(indices=None) -> list``;
    ``g.index(obj) -> int | None`` (by identity);
    ``g.index_at(address) -> int | None`` (never dereferences the address);
    ``g.address(i)`` (``id()``); ``g.type_of(i) -> type``;
    ``g.size(i)`` (bytes, as :func:`sizeof`); ``g.refcount(i)`` (as
    ``sys.getrefcount(obj) - 1``, read before the snapshot took its
    references); ``g.is_tracked(i)``;
    ``g.referents(i) -> list[int]``; ``g.referrers(i) -> list[int]``;
    ``g.edge_label(i, j) -> str | None``;
    ``g.type_counts(tracked_only=False) -> [(type, count, size), ...]``;
    ``g.indices_of_types(types, tracked_only=False) -> list[int]``;
    ``g.census(tracked_only=False) -> Census``;
    ``g.shortest_path(start, *, forward, goals=None, predicate=None,
    max_depth=20, skip=None) -> list[int] | None`` (breadth first, along
    referents when ``forward`` else referrers; the goal is a node in
    ``goals`` or one whose object satisfies ``predicate``);
    ``g.reachable(starts, *, skip=None) -> list[int]`` (everything reachable
    from ``starts``, starts first);
    ``g.unreferenced() -> list[int]`` (nodes no walked object refers to);
    ``g.total_size(indices=None) -> int``.

``walk(..., roots=None)``
    ``roots``: objects to start from as well, for untracked objects no
    tracked object reaches (a str held only by a running function's local).

``type_counts(*, gc_only=False, exclude=None) -> [(type, count, size), ...]``
    The census by type object, without building a graph (unordered).

``all_objects(*, gc_only=False, skip_types=None, exclude=None) -> list``
    Every live object as a new list (the list itself left out), without
    building a graph: ``gc.get_objects()`` plus the untracked objects;
    instances of the types in the tuple ``skip_types`` (exact type) left out.

``type_totals_of(objects, split_types=None) -> (rows, split_objects)``
    The census of a chosen set of objects (any iterable), sizes as
    :func:`sizeof`, computed in Rust: ``[(type, count, size), ...]``
    (unordered), except that instances of the types in ``split_types`` are
    not counted but returned in ``split_objects`` for callers that name them
    one by one. ``type_counts_of(objects)`` is its rows alone.

``object_at(address) -> object | None``
    The live object whose ``id()`` is ``address`` (census-speed walk; the
    address is only compared, never dereferenced).

``dot_to_svg(dot: str) -> str``
    Lays out a Graphviz DOT graph in-process (layout-rs) and draws it as SVG;
    ValueError when it cannot. For machines without the ``dot`` program.

``census(*, gc_only=False, exclude=None) -> Census``
    Counts and sizes per type, keyed ``module.qualname``, without building a
    graph (the fast path).

``census_diff(before, after) -> CensusDiff``

``sizeof(obj) -> int``
    ``sys.getsizeof(obj)`` for every builtin type, computed from the layout.
    For other classes: basicsize + itemsize × length + GC and dict
    pre-headers — what ``object.__sizeof__`` says; a class's own
    ``__sizeof__`` is never called (it is user code). The builtin C types
    that add memory in their own ``__sizeof__`` (``OrderedDict``, ``deque``,
    ``array``; code, frame and generator objects) have that computation
    reproduced in Rust; other C types that override ``__sizeof__`` read as
    ``object.__sizeof__`` would.

``referents(obj) -> list``
    What ``obj``'s ``tp_traverse`` reports (``gc.get_referents([obj])``).

``edge_label(parent, child) -> str | None``
    How ``parent`` refers to ``child``: an attribute name (``items``, read
    from the dict, the 3.11+ inline values or ``__slots__``), a dict key
    (``key`` when it is an identifier, else ``['a key']``), an index (``[3]``), ``__dict__``, ``__class__``,
    ``__globals__``, ``cell_contents``…

``type_names(tp) -> (module, name, qualname)``
    Read from the type object itself (no metaclass property runs).
"""
from memlens._core import (
    Census,
    CensusDiff,
    HeapGraph,
    all_objects,
    census,
    census_diff,
    dot_to_svg,
    edge_label,
    object_at,
    referents,
    sizeof,
    type_counts,
    type_names,
    type_totals_of,
    walk,
)

# Read by type checkers only (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Census",
    "CensusDiff",
    "HeapGraph",
    "all_objects",
    "census",
    "census_diff",
    "dot_to_svg",
    "edge_label",
    "object_at",
    "referents",
    "sizeof",
    "type_counts",
    "type_counts_of",
    "type_key",
    "type_names",
    "walk",
]


def type_key(tp: type) -> str:
    """The census key of a type: ``module.qualname``."""
    module, _name, qualname = type_names(tp)
    return f"{module}.{qualname}"


def type_counts_of(objects: "Iterable[object]") -> "list[tuple[type, int, int]]":
    """``[(type, count, size), ...]`` over ``objects`` (any iterable), sizes as
    :func:`sizeof`: a census of a chosen set of objects, computed in Rust.
    Unordered; each object counts as often as it appears."""
    rows, _ = type_totals_of(objects)
    return rows
