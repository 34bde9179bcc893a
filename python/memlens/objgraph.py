"""memlens.objgraph: a drop-in replacement for objgraph 3.7, backed by the Rust heap walker.

Switch with one import::

    from memlens import objgraph          # instead of: import objgraph

Same names, signatures, defaults, return types and printed formats as
objgraph 3.7. What is deliberately different:

* **Untracked objects are seen.** objgraph looks at ``gc.get_objects()``,
  which leaves out everything the garbage collector does not track (str, int,
  float, bytes, and tuples and dicts that hold only such values). memlens
  walks from the tracked objects through ``tp_traverse`` and sees those too.
  So ``count``, ``typestats``, ``by_type``, ``growth``, ``get_new_ids`` give
  the same numbers as objgraph for types whose instances are always tracked
  (classes, functions, lists, sets, modules…) and larger ones for types that
  can be untracked (``str``, ``int``, ``tuple``, ``dict``…);
  ``find_backref_chain`` reaches a str held in an untracked tuple (objgraph
  returns the object alone); ``at`` finds untracked objects.
* **Edges are labelled.** ``show_refs`` / ``show_backrefs`` / ``show_chain``
  label every edge they can: attribute names (read in place, never creating
  a 3.11+ instance ``__dict__``), dict keys, list and tuple indices.
* **Pictures without graphviz.** When the ``dot`` program is missing, an
  ``.svg`` filename (or no filename at all) is laid out in-process in Rust.
  PNG and other formats still need ``dot``; without it memlens prints
  objgraph's message and a hint to ask for ``.svg``.
* **Nothing is dereferenced blindly.** ``at(address)`` looks the address up
  among the walked objects; an address that is not a live object gives None.
* **Its own bookkeeping is invisible.** The ``peak_stats`` of ``growth`` and
  the id sets of ``get_new_ids`` are left out of the walk, so they never show
  up as growth.
* objgraph's private helpers (``_short_repr``, ``_edge_label``,
  ``_show_graph`` with any edge function, ``_present_graph``…) are here with
  objgraph's behaviour, for the code and tests that use them.
"""
import codecs
import colorsys
import gc
import inspect
import io
import itertools
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types

from memlens import _heap

# In a notebook (any IPython shell but the terminal ones), graphs come back as
# a ``graphviz.Source`` that displays inline, as objgraph's do.
IS_INTERACTIVE = False
try:
    import graphviz

    if "TerminalInteractiveShell" not in get_ipython().__class__.__name__:  # noqa: F821 (IPython's builtin)
        IS_INTERACTIVE = True
except (NameError, ImportError):
    pass

__all__ = [
    "at",
    "at_addrs",
    "by_type",
    "count",
    "find_backref_chain",
    "find_ref_chain",
    "get_leaking_objects",
    "get_new_ids",
    "growth",
    "is_proper_module",
    "most_common_types",
    "show_backrefs",
    "show_chain",
    "show_growth",
    "show_most_common_types",
    "show_refs",
    "typestats",
]


# -- naming ------------------------------------------------------------------

def _short_name(tp):
    return _heap.type_names(tp)[1]


def _long_name(tp):
    module, name, _qualname = _heap.type_names(tp)
    return "%s.%s" % (module, name) if module else name


def _namer(shortnames):
    """A cached type -> name function (short: ``__name__``; long: ``module.__name__``)."""
    name_of = _short_name if shortnames else _long_name
    cache = {}

    def name(tp):
        try:
            return cache[tp]
        except KeyError:
            cache[tp] = result = name_of(tp)
            return result
        except TypeError:  # an unhashable metaclass instance
            return name_of(tp)

    return name


def _own_frames(graph):
    """Nodes of this module's frames (materialized on 3.9/3.10, or by a debugger)."""
    own_codes = _OWN_CODES
    frames = graph.indices_of_types([types.FrameType])
    return [i for i in frames if graph.object(i).f_code in own_codes]


# -- counting ----------------------------------------------------------------

def _type_totals(shortnames, exclude=None):
    """{name: count} over every live object (tracked and untracked)."""
    totals = _heap.type_counts(exclude=exclude)
    name = _namer(shortnames)
    stats = {}
    for tp, number, _size in totals:
        key = name(tp)
        stats[key] = stats.get(key, 0) + number
    return stats


def _all_objects(exclude=None):
    return _heap.walk(exclude=exclude).objects()


def count(typename, objects=None):
    """Count live objects whose class is called ``typename``.

    ``typename`` is a short class name (``'dict'``) or a qualified one
    (``'mymodule.MyClass'``). Without ``objects``, every live object counts,
    untracked ones included (objgraph counts only GC-tracked ones).
    """
    qualified = "." in typename
    if objects is None:
        return _type_totals(shortnames=not qualified).get(typename, 0)
    name = _namer(shortnames=not qualified)
    return sum(1 for o in objects if name(type(o)) == typename)


def typestats(objects=None, shortnames=True, filter=None):
    """Count live objects per type name: ``{'list': 12041, 'str': 40312, ...}``.

    Untracked objects are counted too. ``shortnames=False`` qualifies names
    with their module; ``filter(obj) -> bool`` keeps only some objects.
    """
    if objects is None and filter is None:
        return _type_totals(shortnames)
    if objects is None:
        objects = _all_objects()
    name = _namer(shortnames)
    stats = {}
    for o in objects:
        if filter and not filter(o):
            continue
        key = name(type(o))
        stats[key] = stats.get(key, 0) + 1
    return stats


def most_common_types(limit=10, objects=None, shortnames=True, filter=None):
    """``[(type_name, count), ...]``, most frequent first, at most ``limit`` (None: all)."""
    stats = sorted(
        typestats(objects, shortnames=shortnames, filter=filter).items(),
        key=operator.itemgetter(1),
        reverse=True,
    )
    if limit:
        stats = stats[:limit]
    return stats


def show_most_common_types(limit=10, objects=None, shortnames=True, file=None, filter=None):
    """Print the most common types as a two-column table (objgraph's format)."""
    if file is None:
        file = sys.stdout
    stats = most_common_types(limit, objects, shortnames=shortnames, filter=filter)
    width = max(len(name) for name, _ in stats)
    for name, number in stats:
        file.write("%-*s %i\n" % (width, name, number))


def growth(limit=10, peak_stats={}, shortnames=True, filter=None):  # noqa: B006 (objgraph's API)
    """Types whose count rose above their previous peak: ``[(name, count, delta), ...]``.

    Collects garbage first, like objgraph. ``peak_stats`` keeps the peaks
    between calls (the shared default, unless you pass your own dict); it is
    left out of the walk, so it never shows up as growth itself.
    """
    gc.collect()
    if filter is None:
        stats = _type_totals(shortnames, exclude=[peak_stats])
    else:
        stats = typestats(_all_objects(exclude=[peak_stats]), shortnames=shortnames, filter=filter)
    deltas = {}
    for name, number in stats.items():
        previous = peak_stats.get(name, 0)
        if number > previous:
            deltas[name] = number - previous
            peak_stats[name] = number
    ordered = sorted(deltas.items(), key=operator.itemgetter(1), reverse=True)
    if limit:
        ordered = ordered[:limit]
    return [(name, stats[name], delta) for name, delta in ordered]


def show_growth(limit=10, peak_stats=None, shortnames=True, file=None, filter=None):
    """Print the growth since the previous call (objgraph's format)."""
    if peak_stats is None:
        result = growth(limit, shortnames=shortnames, filter=filter)
    else:
        result = growth(limit, peak_stats, shortnames, filter)
    if result:
        if file is None:
            file = sys.stdout
        width = max(len(name) for name, _, _ in result)
        for name, number, delta in result:
            file.write("%-*s%9d %+9d\n" % (width, name, number, delta))


def get_new_ids(skip_update=False, limit=10, sortby="deltas", shortnames=None, file=None, _state={}):  # noqa: B006
    """Ids of objects created since the previous call, per type name.

    Prints a table of old, current and new ids per type (``limit`` rows, 0
    for none, None for all), sorted by ``sortby`` ('old', 'current', 'new',
    'deltas'). Returns ``{type_name: {id, ...}}``. Untracked objects are
    included; memlens's own id sets are left out of the walk.
    """
    if not _state:
        _state["old"] = _defaultdict_of_sets()
        _state["current"] = _defaultdict_of_sets()
        _state["new"] = _defaultdict_of_sets()
        _state["shortnames"] = True
    new_ids = _state["new"]
    if skip_update:
        return new_ids
    old_ids = _state["old"]
    current_ids = _state["current"]
    if shortnames is None:
        shortnames = _state["shortnames"]
    else:
        _state["shortnames"] = shortnames
    gc.collect()
    bookkeeping = [_state, old_ids, current_ids, new_ids]
    for table in (old_ids, current_ids, new_ids):
        bookkeeping.extend(table.values())
    objects = _all_objects(exclude=bookkeeping)
    del bookkeeping
    for ids in old_ids.values():
        ids.clear()
    for name, ids in current_ids.items():
        old_ids[name].update(ids)
    for ids in current_ids.values():
        ids.clear()
    name_of = _namer(shortnames)
    for o in objects:
        current_ids[name_of(type(o))].add(id(o))
    del objects
    for ids in new_ids.values():
        ids.clear()
    rows = []
    gone = []
    for name in current_ids:
        old_count = len(old_ids[name])
        current_count = len(current_ids[name])
        if old_count == 0 and current_count == 0:
            gone.append(name)
            continue
        fresh = current_ids[name] - old_ids[name]
        new_ids[name].update(fresh)
        rows.append((name, old_count, current_count, len(fresh), current_count - old_count))
    for name in gone:
        del old_ids[name]
        del current_ids[name]
        del new_ids[name]
    column = {"old": 1, "current": 2, "new": 3, "deltas": 4}[sortby]
    rows.sort(key=operator.itemgetter(column, 0), reverse=True)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        return new_ids
    if file is None:
        file = sys.stdout
    width = max(len(row[0]) for row in rows)
    rule = "=" * (width + 13 * 4)
    print(rule, file=file)
    print("%-*s%13s%13s%13s%13s" % (width, "Type", "Old_ids", "Current_ids", "New_ids", "Count_Deltas"), file=file)
    print(rule, file=file)
    for name, old_count, current_count, new_count, delta in rows:
        print("%-*s%13d%13d%+13d%+13d" % (width, name, old_count, current_count, new_count, delta), file=file)
    print(rule, file=file)
    return new_ids


def _defaultdict_of_sets():
    import collections

    return collections.defaultdict(set)


# -- finding objects ---------------------------------------------------------

def get_leaking_objects(objects=None):
    """Objects nothing in the heap refers to (held from C code, or leaked by it).

    Without ``objects``, looks at every walked object; with it, returns the
    subset of ``objects`` that no other object refers to.
    """
    gc.collect()
    graph = _heap.walk(exclude=None if objects is None else [objects])
    own = set(_own_frames(graph))
    if objects is None:
        unreferenced = graph.unreferenced()
        return graph.objects([i for i in unreferenced if i not in own])
    result = []
    for o in objects:
        node = graph.index(o)
        if node is None or all(r in own for r in graph.referrers(node)):
            result.append(o)
    return result


def by_type(typename, objects=None):
    """Live objects whose class is called ``typename`` (short or qualified), untracked ones included."""
    qualified = "." in typename
    if objects is not None:
        name = _namer(shortnames=not qualified)
        return [o for o in objects if name(type(o)) == typename]
    graph = _heap.walk()
    name = _namer(shortnames=not qualified)
    wanted = [tp for tp, _, _ in graph.type_counts() if name(tp) == typename]
    return graph.objects(graph.indices_of_types(wanted))


def at(addr):
    """The live object whose ``id()`` is ``addr``, or None.

    The address is only looked up among the objects the walk found: memory
    at an address that is not a live object is never read.
    """
    if not isinstance(addr, int) or not 0 <= addr < 2**64:
        return None
    return _heap.object_at(addr)


def at_addrs(address_set):
    """The live objects whose ids are in ``address_set`` (in no particular order)."""
    wanted = [a for a in address_set if isinstance(a, int) and 0 <= a < 2**64]
    graph = _heap.walk()
    nodes = sorted({n for n in map(graph.index_at, wanted) if n is not None})
    return graph.objects(nodes)


def _chain(obj, predicate, forward, max_depth, extra_ignore):
    if not callable(predicate):
        predicate(obj)  # raises TypeError, as objgraph does on its first test
    gc.collect()
    graph = _heap.walk(roots=[obj])
    start = graph.index(obj)
    if start is None:
        return [obj]
    skip = set(_own_frames(graph))
    for address in extra_ignore:
        node = graph.index_at(address) if isinstance(address, int) and 0 <= address < 2**64 else None
        if node is not None:
            skip.add(node)
    goals = None
    if _is_proper_module_test(predicate):
        # The usual question ("which module holds it?") without a Python call per node.
        predicate = None
        goals = [n for n in map(graph.index, list(sys.modules.values())) if n is not None
                 and is_proper_module(graph.object(n))]
    path = graph.shortest_path(
        start, forward=forward, goals=goals, predicate=predicate, max_depth=max_depth, skip=sorted(skip)
    )
    if path is None:
        return [obj]
    return graph.objects(path)


def _find_chain(obj, predicate, edge_func, max_depth=20, extra_ignore=()):
    """objgraph's chain search with any edge function: ``[match, ..., obj]`` or ``[obj]``.

    With ``gc.get_referrers`` / ``gc.get_referents`` it runs on the heap walk
    (which also goes through untracked containers); with another function it
    calls that function on each object, breadth first, as objgraph does.
    """
    if edge_func is gc.get_referrers:
        return _chain(obj, predicate, False, max_depth, extra_ignore)[::-1]
    if edge_func is gc.get_referents:
        return _chain(obj, predicate, True, max_depth, extra_ignore)[::-1]
    queue = [obj]
    depth = {id(obj): 0}
    parent = {id(obj): None}
    ignore = set(extra_ignore)
    ignore.update(map(id, (extra_ignore, queue, depth, parent, ignore, sys._getframe())))
    while queue:
        target = queue.pop(0)
        if predicate(target):
            chain = [target]
            while parent[id(target)] is not None:
                target = parent[id(target)]
                chain.append(target)
            return chain
        if depth[id(target)] >= max_depth:
            continue
        neighbours = edge_func(target)
        ignore.add(id(neighbours))
        for other in neighbours:
            if id(other) not in ignore and id(other) not in depth:
                depth[id(other)] = depth[id(target)] + 1
                parent[id(other)] = target
                queue.append(other)
    return [obj]


def _is_proper_module_test(predicate):
    """Whether ``predicate`` is memlens's or objgraph's ``is_proper_module`` (by identity, no call)."""
    if predicate is is_proper_module:
        return True
    return (isinstance(predicate, types.FunctionType) and predicate.__name__ == "is_proper_module"
            and predicate.__module__ == "objgraph")


def find_ref_chain(obj, predicate, max_depth=20, extra_ignore=()):
    """A shortest chain of references from ``obj`` to an object satisfying ``predicate``.

    Returns ``[obj, ..., match]``, or ``[obj]`` when there is none within
    ``max_depth``. ``extra_ignore``: ids of objects not to go through.
    """
    return _chain(obj, predicate, True, max_depth, extra_ignore)


def find_backref_chain(obj, predicate, max_depth=20, extra_ignore=()):
    """A shortest chain of references from an object satisfying ``predicate`` to ``obj``.

    Returns ``[match, ..., obj]``, or ``[obj]`` when there is none within
    ``max_depth``. Goes through untracked containers (objgraph cannot).
    """
    return _chain(obj, predicate, False, max_depth, extra_ignore)[::-1]


def is_proper_module(obj):
    """True when ``obj`` is a module registered in ``sys.modules`` under its own name (a GC root)."""
    if not inspect.ismodule(obj):
        return False
    name = getattr(obj, "__name__", None)
    return sys.modules.get(name) is obj


# -- graphs ------------------------------------------------------------------

def show_backrefs(objs, max_depth=3, extra_ignore=(), filter=None, too_many=10,
                  highlight=None, filename=None, extra_info=None,
                  refcounts=False, shortnames=True, output=None,
                  extra_node_attrs=None):
    """Draw what refers to ``objs``, directly and indirectly, as a Graphviz graph.

    Stops at modules in ``sys.modules``. ``filename`` ending in ``.dot``
    gets the DOT text; another extension gets a picture (``dot`` when
    installed, else SVG drawn in-process). Edges carry attribute names, dict
    keys and indices. Other arguments as in objgraph.
    """
    return _show_graph(objs, gc.get_referrers, False, max_depth=max_depth, extra_ignore=extra_ignore,
                       filter=filter, too_many=too_many, highlight=highlight,
                       filename=filename, output=output, extra_info=extra_info,
                       refcounts=refcounts, shortnames=shortnames,
                       cull_func=is_proper_module, extra_node_attrs=extra_node_attrs)


def show_refs(objs, max_depth=3, extra_ignore=(), filter=None, too_many=10,
              highlight=None, filename=None, extra_info=None,
              refcounts=False, shortnames=True, output=None,
              extra_node_attrs=None):
    """Draw what ``objs`` refer to, directly and indirectly, as a Graphviz graph.

    Same arguments and outputs as :func:`show_backrefs`; modules are followed.
    """
    return _show_graph(objs, gc.get_referents, True, max_depth=max_depth, extra_ignore=extra_ignore,
                       filter=filter, too_many=too_many, highlight=highlight,
                       filename=filename, output=output, extra_info=extra_info,
                       refcounts=refcounts, shortnames=shortnames,
                       cull_func=None, extra_node_attrs=extra_node_attrs)


def show_chain(*chains, **kw):
    """Draw one or more chains from :func:`find_backref_chain` / :func:`find_ref_chain`.

    ``backrefs=False`` draws them forwards; other keywords as :func:`show_backrefs`.
    """
    backrefs = kw.pop("backrefs", True)
    chains = [chain for chain in chains if chain]
    members = set(map(id, itertools.chain(*chains)))

    def in_chains(obj):
        return id(obj) in members

    max_depth = max(map(len, chains)) - 1
    if backrefs:
        show_backrefs([chain[-1] for chain in chains], max_depth=max_depth, filter=in_chains, **kw)
    else:
        show_refs([chain[0] for chain in chains], max_depth=max_depth, filter=in_chains, **kw)


def _isinstance(obj, classinfo):
    """isinstance by the real type: a mock's or proxy's ``__class__`` cannot lie here."""
    return issubclass(type(obj), classinfo)


def _obj_node_id(obj):
    return ("o%d" % id(obj)).replace("-", "_")


def _quote(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\0", "\\\\0")


def _short_typename(obj):
    return _short_name(type(obj))


def _long_typename(obj):
    """``module.name`` of the object's real type; the bare name when ``__module__`` is None or empty."""
    tp = type(obj)
    module = getattr(tp, "__module__", None)
    return "%s.%s" % (module, tp.__name__) if module else tp.__name__


def _short_repr(obj):
    """objgraph's short description of an object (``3 items``, a name, a truncated repr)."""
    if _isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return _name_or_repr(obj)
    if _isinstance(obj, types.MethodType):
        name = _name_or_repr(obj.__func__)
        return name + " (bound)" if obj.__self__ else name
    if _isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        return "lambda: %s:%s" % (os.path.basename(obj.__code__.co_filename), obj.__code__.co_firstlineno)
    if _isinstance(obj, types.FrameType):
        return "%s:%s" % (obj.f_code.co_filename, obj.f_lineno)
    if _isinstance(obj, (tuple, list, dict, set)):
        return "%d items" % len(obj)
    return repr(obj)[:40]


def _safe_repr(obj):
    try:
        return _short_repr(obj)
    except Exception:
        return "(unrepresentable)"


def _name_or_repr(value):
    try:
        name = value.__name__
    except AttributeError:
        return repr(value)[:40]
    return name if _isinstance(name, str) else repr(value)[:40]


def _obj_label(obj, extra_info=None, refcounts=False, shortnames=True, refcount=None):
    """The quoted DOT label of a node: type name, [refcount], short repr, extra info."""
    label = [_short_typename(obj) if shortnames else _long_typename(obj)]
    if refcounts:
        # objgraph's figure: the references of this call's frames and argument left out.
        label[0] += " [%d]" % (sys.getrefcount(obj) - 4 if refcount is None else refcount)
    label.append(_safe_repr(obj))
    if extra_info:
        label.append(str(extra_info(obj)))
    return _quote("\n".join(label))


def _obj_attrs(obj, extra_node_attrs):
    if extra_node_attrs is None:
        return ""
    attrs = extra_node_attrs(obj)
    return ", " + ", ".join('%s="%s"' % (key, _quote(value)) for key, value in sorted(attrs.items())
                            if value is not None)


_is_identifier = re.compile("[a-zA-Z_][a-zA-Z_0-9]*$").match


def _edge_label(source, target, shortnames=True):
    """objgraph's DOT attributes of the edge ``source -> target`` (by inspecting both objects)."""
    if _isinstance(target, dict) and target is getattr(source, "__dict__", None):
        return ' [label="__dict__",weight=10]'
    if _isinstance(source, types.FrameType):
        if target is source.f_locals:
            return ' [label="f_locals",weight=10]'
        if target is source.f_globals:
            return ' [label="f_globals",weight=10]'
    if _isinstance(source, types.MethodType):
        if target is source.__self__:
            return ' [label="__self__",weight=10]'
        if target is source.__func__:
            return ' [label="__func__",weight=10]'
    if _isinstance(source, types.FunctionType):
        for name in dir(source):
            if target is getattr(source, name):
                return ' [label="%s",weight=10]' % _quote(name)
    if _isinstance(source, dict):
        for key, value in source.items():
            if value is target:
                if _isinstance(key, str) and _is_identifier(key):
                    return ' [label="%s",weight=2]' % _quote(key)
                name = _short_typename(key) if shortnames else _long_typename(key)
                return ' [label="%s"]' % _quote(name + "\n" + _safe_repr(key))
    return ""


def _gradient(start, end, depth, max_depth):
    if max_depth == 0:
        return start
    f = float(depth) / max_depth
    return tuple(a * (1 - f) + b * f for a, b in zip(start, end))


def _hex(hsv):
    r, g, b = colorsys.hsv_to_rgb(*hsv)
    return "#%02x%02x%02x" % (round(r * 255), round(g * 255), round(b * 255))


def _edge_attrs(label):
    if not label:
        return ""
    weight = 10 if label.startswith("__") else 2
    return ' [label="%s",weight=%d]' % (_quote(label), weight)


class _HeapView:
    """The graph to draw, read from memlens's heap walk (nodes are walk indices)."""

    def __init__(self, objs, forward, extra_ignore):
        gc.collect()
        self.graph = _heap.walk(roots=list(objs), exclude=[objs])
        self.forward = forward
        self.ignore = set(_own_frames(self.graph))
        for address in extra_ignore:
            node = self.graph.index_at(address) if isinstance(address, int) and 0 <= address < 2**64 else None
            if node is not None:
                self.ignore.add(node)

    def key(self, obj):
        return self.graph.index(obj)

    def object(self, key):
        return self.graph.object(key)

    def neighbours(self, key):
        if self.forward:
            return [n for n in self.graph.referents(key) if n not in self.ignore]
        # Each referrer once, as gc.get_referrers lists it (a dict holding
        # the object as key and value is one referrer).
        return [n for n in dict.fromkeys(self.graph.referrers(key)) if n not in self.ignore]

    def refcount(self, key):
        return self.graph.refcount(key)

    def edge_attrs(self, source, dest, shortnames):
        return _edge_attrs(self.graph.edge_label(source, dest))

    def edge_label(self, source, dest):
        return self.graph.edge_label(source, dest)


class _CallbackView:
    """The graph to draw, found by calling objgraph's ``edge_func`` on each object."""

    def __init__(self, objs, edge_func, extra_ignore):
        self.edge_func = edge_func
        self.objects = {}
        self.ignore = set(extra_ignore)
        self.ignore.update(map(id, (objs, extra_ignore, self.objects, self.ignore, sys._getframe(1))))

    def key(self, obj):
        self.objects[id(obj)] = obj
        return id(obj)

    def object(self, key):
        return self.objects[key]

    def neighbours(self, key):
        found = self.edge_func(self.objects[key])
        self.ignore.add(id(found))
        return [self.key(other) for other in found if id(other) not in self.ignore]

    def refcount(self, key):
        return None

    def edge_attrs(self, source, dest, shortnames):
        return _edge_label(self.objects[source], self.objects[dest], shortnames)

    def edge_label(self, source, dest):
        return None


def _show_graph(objs, edge_func, swap_source_target, max_depth=3, extra_ignore=(), filter=None,
                too_many=10, highlight=None, filename=None, extra_info=None, refcounts=False,
                shortnames=True, output=None, cull_func=None, extra_node_attrs=None):
    """objgraph's graph drawer: ``edge_func`` gives an object's neighbours.

    ``gc.get_referents`` / ``gc.get_referrers`` are answered by the heap walk
    (labelled edges, untracked objects seen); any other function is called
    on each object as objgraph does. ``swap_source_target``: edges go from
    the object to its neighbours (references) rather than back.
    """
    if not _isinstance(objs, (list, tuple)):
        objs = [objs]
    if filename and output:
        raise ValueError("Cannot specify both output and filename.")
    if edge_func is gc.get_referents or edge_func is gc.get_referrers:
        view = _HeapView(objs, edge_func is gc.get_referents, extra_ignore)
    else:
        view = _CallbackView(objs, edge_func, extra_ignore)
    forward = swap_source_target

    lines = ["digraph ObjectGraph {", "  node[shape=box, style=filled, fillcolor=white];"]
    # The same picture in the subset of DOT the in-process renderer reads.
    plain_nodes, plain_edges = {}, []
    queue, depth = [], {}
    for obj in objs:
        lines.append("  %s[fontcolor=red];" % _obj_node_id(obj))
        key = view.key(obj)
        if key is not None and key not in depth:
            depth[key] = 0
            queue.append(key)
    drawn = 0
    while queue:
        drawn += 1
        target_key = queue.pop(0)
        target = view.object(target_key)
        target_depth = depth[target_key]
        target_id = _obj_node_id(target)
        label = _obj_label(target, extra_info, refcounts, shortnames, refcount=view.refcount(target_key))
        lines.append('  %s[label="%s"%s];' % (target_id, label, _obj_attrs(target, extra_node_attrs)))
        hsv = _gradient((0, 0, 1), (0, 0, 0.3), target_depth, max_depth)
        if inspect.ismodule(target):
            hsv = (0.3, 1, hsv[2])
        if highlight and highlight(target):
            hsv = (0.6, 0.6, 0.5 + hsv[2] * 0.5)
        lines.append('  %s[fillcolor="%g,%g,%g"];' % ((target_id,) + tuple(hsv)))
        if hsv[2] < 0.5:
            lines.append("  %s[fontcolor=white];" % target_id)
        plain_label = label.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        plain_nodes[target_id] = (plain_label, _hex(hsv), "white" if hsv[2] < 0.5 else "black")
        if hasattr(type(target), "__del__"):
            lines.append("  %s->%s_has_a_del[color=red,style=dotted,len=0.25,weight=10];" % (target_id, target_id))
            lines.append('  %s_has_a_del[label="__del__",shape=doublecircle,height=0.25,'
                         'color=red,fillcolor="0,.5,1",fontsize=6];' % target_id)
        if target_depth >= max_depth:
            continue
        if cull_func is not None and cull_func(target):
            continue
        shown = skipped = 0
        for other_key in view.neighbours(target_key):
            other = view.object(other_key)
            if filter and not filter(other):
                continue
            if shown >= too_many:
                skipped += 1
                continue
            source, dest = (target_key, other_key) if forward else (other_key, target_key)
            source_id, dest_id = _obj_node_id(view.object(source)), _obj_node_id(view.object(dest))
            lines.append("  %s -> %s%s;" % (source_id, dest_id, view.edge_attrs(source, dest, shortnames)))
            plain_edges.append((source_id, dest_id, view.edge_label(source, dest)))
            if other_key not in depth:
                depth[other_key] = target_depth + 1
                queue.append(other_key)
            shown += 1
        if skipped > 0:
            hsv = _gradient((0, 1, 1), (0, 1, 0.3), target_depth + 1, max_depth)
            more = "too_many_%s" % target_id
            if forward:
                text = "%d more references" % skipped
                edge = "%s->%s" % (target_id, more)
                plain_edges.append((target_id, more, None))
            else:
                text = "%d more backreferences" % skipped
                edge = "%s->%s" % (more, target_id)
                plain_edges.append((more, target_id, None))
            lines.append("  %s[color=red,style=dotted,len=0.25,weight=10];" % edge)
            lines.append('  %s[label="%s",shape=box,height=0.25,color=red,fillcolor="%g,%g,%g",fontsize=6];'
                         % ((more, text) + tuple(hsv)))
            lines.append("  %s[fontcolor=white];" % more)
            plain_nodes[more] = (text, _hex(hsv), "white")
    lines.append("}")
    del view, target, queue, depth
    dot = "\n".join(lines) + "\n"
    if output:
        output.write(dot)
        return None
    if IS_INTERACTIVE and not filename:
        return graphviz.Source(dot)
    if filename and filename.endswith(".dot"):
        dot_filename = filename
        with codecs.open(filename, "w", encoding="utf-8") as f:
            f.write(dot)
    else:
        fd, dot_filename = tempfile.mkstemp(prefix="objgraph-", suffix=".dot", text=True)
        with io.open(fd, "w", encoding="utf-8") as f:
            f.write(dot)
    print("Graph written to %s (%d nodes)" % (dot_filename, drawn))
    _present(dot_filename, filename, _plain_dot(plain_nodes, plain_edges))
    return None


def _plain_dot(nodes, edges):
    lines = ["digraph ObjectGraph {"]
    for node_id, (label, fill, font) in nodes.items():
        lines.append('  %s [label="%s", shape=box, style=filled, fillcolor="%s", fontcolor="%s"];'
                     % (node_id, _quote(label), fill, font))
    for source, dest, label in edges:
        if source in nodes and dest in nodes:
            attrs = ' [label="%s"]' % _quote(label) if label else ""
            lines.append("  %s -> %s%s;" % (source, dest, attrs))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _program_in_path(program):
    """Whether ``program`` is an executable on PATH."""
    return shutil.which(program) is not None


def _present_graph(dot_filename, filename=None):
    """objgraph's presenter: open ``xdot``, or run ``dot`` to make ``filename``."""
    _present(dot_filename, filename, None)


def _present(dot_filename, filename, plain_dot):
    """Turn the DOT file into what was asked for: objgraph's viewer/renderer
    logic, plus an in-process SVG when graphviz is missing and the graph's
    plain DOT (``plain_dot``) is at hand."""
    if filename == dot_filename:
        return
    if not filename and _program_in_path("xdot"):
        print("Spawning graph viewer (xdot)")
        subprocess.Popen(["xdot", dot_filename], close_fds=True)
        return
    if _program_in_path("dot"):
        if not filename:
            print("Graph viewer (xdot) not found, generating a png instead")
            filename = dot_filename[:-4] + ".png"
        _stem, ext = os.path.splitext(filename)
        cmd = ["dot", "-T" + ext[1:], "-o" + filename, dot_filename]
        dot = subprocess.Popen(cmd, close_fds=False)
        dot.wait()
        if dot.returncode != 0:
            print('dot failed (exit code %d) while executing "%s"' % (dot.returncode, " ".join(cmd)))
        else:
            print("Image generated as %s" % filename)
        return
    if plain_dot is not None and (not filename or filename.lower().endswith(".svg")):
        filename = filename or dot_filename[:-4] + ".svg"
        try:
            svg = _heap.dot_to_svg(plain_dot)
        except ValueError as err:
            print("In-process SVG rendering failed (%s); the graph is in %s" % (err, dot_filename))
            return
        with open(filename, "w", encoding="utf-8") as f:
            f.write(svg)
        print("Image generated as %s" % filename)
        return
    if not filename:
        print("Graph viewer (xdot) and image renderer (dot) not found, not doing anything else")
        return
    print("Image renderer (dot) not found, not doing anything else")
    if plain_dot is not None:
        print("(memlens draws .svg without graphviz: ask for a filename ending in .svg)", file=sys.stderr)


_OWN_CODES = frozenset(
    f.__code__
    for f in (count, typestats, most_common_types, show_most_common_types, growth, show_growth,
              get_new_ids, get_leaking_objects, by_type, at, at_addrs, _chain, find_ref_chain,
              find_backref_chain, show_refs, show_backrefs, show_chain, _show_graph, _type_totals,
              _all_objects)
)

