"""memlens.objgraph against the real objgraph, on the same heap."""
import gc
import inspect
import io
import re
import sys
import types

import pytest

objgraph = pytest.importorskip("objgraph")
from memlens import objgraph as ml  # noqa: E402

NAMES = [
    "count", "typestats", "most_common_types", "show_most_common_types", "growth", "show_growth",
    "get_new_ids", "get_leaking_objects", "by_type", "at", "at_addrs", "find_ref_chain",
    "find_backref_chain", "show_refs", "show_backrefs", "show_chain", "is_proper_module",
]


class Marker:
    """A class only these tests create: every instance is GC-tracked."""

    def __init__(self, payload=None):
        self.payload = payload


class Holder:
    __slots__ = ("items",)  # the same graph on every version (no __dict__ node before 3.11)

    def __init__(self):
        self.items = ["first", {"key": 1, "other key": 2}]

    def __repr__(self):
        return "<Holder>"


@pytest.mark.parametrize("name", NAMES)
def test_every_function_has_objgraphs_signature(name):
    # GIVEN the same function in both modules
    theirs = inspect.signature(getattr(objgraph, name))
    ours = inspect.signature(getattr(ml, name))
    # THEN parameter names, kinds and defaults match (mutable defaults by type)
    def shape(sig):
        return [
            (p.name, p.kind, type(p.default) if isinstance(p.default, dict) else p.default)
            for p in sig.parameters.values()
        ]

    assert shape(ours) == shape(theirs)


def test_counts_of_gc_tracked_types_are_equal_and_untracked_ones_are_at_least_objgraphs():
    # GIVEN 137 instances of a class, and str held in untracked tuples
    markers = [Marker() for _ in range(137)]
    pairs = [("pair-%d" % i, i) for i in range(50)]
    gc.collect()
    # WHEN both count
    # THEN GC-tracked types agree, short and qualified names alike
    assert ml.count("Marker") == objgraph.count("Marker") == 137
    assert ml.count(f"{__name__}.Marker") == objgraph.count(f"{__name__}.Marker") == 137
    assert ml.typestats()["Marker"] == objgraph.typestats()["Marker"]
    assert ml.typestats(shortnames=False)[f"{__name__}.Marker"] == 137
    # AND untracked types are seen by memlens only
    assert objgraph.count("str") == 0
    assert ml.count("str") >= 50
    assert ml.count("tuple") >= objgraph.count("tuple") + 50
    assert ml.count("dict") >= objgraph.count("dict")
    assert len(markers) == 137 and len(pairs) == 50


def test_by_type_returns_the_same_objects_for_tracked_types():
    markers = [Marker() for _ in range(5)]
    gc.collect()
    assert {id(o) for o in ml.by_type("Marker")} == {id(o) for o in objgraph.by_type("Marker")} == set(map(id, markers))
    assert ml.by_type("Marker", markers[:2]) == markers[:2]


def test_printed_tables_are_identical_on_the_same_objects():
    # GIVEN one list of objects handed to both
    objects = [Marker() for _ in range(3)] + [[] for _ in range(12)] + [{} for _ in range(7)]
    theirs, ours = io.StringIO(), io.StringIO()
    # WHEN both print the most common types
    objgraph.show_most_common_types(objects=objects, file=theirs)
    ml.show_most_common_types(objects=objects, file=ours)
    # THEN the text is identical
    assert ours.getvalue() == theirs.getvalue() == "list   12\ndict   7\nMarker 3\n"
    assert ml.most_common_types(objects=objects, limit=2) == objgraph.most_common_types(objects=objects, limit=2)


def test_show_growth_prints_the_same_lines():
    # GIVEN a filter that keeps only Marker instances, and fresh peak tables
    only_markers = lambda o: type(o) is Marker  # noqa: E731
    ours_peaks, theirs_peaks = {}, {}
    kept = [Marker() for _ in range(4)]
    ml.show_growth(peak_stats=ours_peaks, filter=only_markers, file=io.StringIO())
    objgraph.show_growth(peak_stats=theirs_peaks, filter=only_markers, file=io.StringIO())
    # WHEN more instances appear
    kept += [Marker() for _ in range(3)]
    theirs, ours = io.StringIO(), io.StringIO()
    objgraph.show_growth(peak_stats=theirs_peaks, filter=only_markers, file=theirs)
    ml.show_growth(peak_stats=ours_peaks, filter=only_markers, file=ours)
    # THEN both print the same line
    assert ours.getvalue() == theirs.getvalue() == "Marker        7        +3\n"
    assert ml.growth(peak_stats=ours_peaks, filter=only_markers) == []


def test_growth_does_not_report_its_own_bookkeeping():
    # GIVEN a growth baseline
    peaks = {}
    ml.growth(limit=None, peak_stats=peaks)
    ml.growth(limit=None, peak_stats=peaks)
    # WHEN nothing is allocated and growth is asked again
    result = ml.growth(limit=None, peak_stats=peaks)
    # THEN its peak table (str keys, int values) does not show up as growth
    names = {name for name, _, _ in result}
    assert "int" not in names and "str" not in names, result


def test_get_new_ids_prints_objgraphs_table_layout():
    ml.get_new_ids(limit=0)
    made = [Marker() for _ in range(9)]
    out = io.StringIO()
    new_ids = ml.get_new_ids(limit=3, file=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 7
    width = len(lines[0]) - 13 * 4
    assert lines[0] == lines[2] == lines[6] == "=" * (width + 52)
    assert lines[1] == "%-*s%13s%13s%13s%13s" % (width, "Type", "Old_ids", "Current_ids", "New_ids", "Count_Deltas")
    assert re.fullmatch(r"\S+ +\d+ +\d+ +[+-]\d+ +[+-]\d+", lines[3])
    assert set(map(id, made)) <= new_ids["Marker"]


def _module_with_deep_str():
    """heapdata.ROOT -> list -> tuple (untracked) -> str, in a module in sys.modules."""
    module = types.ModuleType("memlens_test_heapdata")
    sys.modules[module.__name__] = module
    module.ROOT = [("deep-" + str(id(module)), 1)]
    gc.collect()
    assert not gc.is_tracked(module.ROOT[0])
    return module


def test_find_backref_chain_reaches_a_str_in_an_untracked_tuple():
    # GIVEN a str reachable only through an untracked tuple
    module = _module_with_deep_str()
    try:
        target = module.ROOT[0][0]
        # WHEN both look for the chain from a module
        theirs = objgraph.find_backref_chain(target, objgraph.is_proper_module)
        ours = ml.find_backref_chain(target, ml.is_proper_module)
        # THEN objgraph gives up (the object alone); memlens finds module -> dict -> list -> tuple -> str
        assert theirs == [target]
        assert ours[0] is module and ours[-1] is target
        assert [type(o).__name__ for o in ours] == ["module", "dict", "list", "tuple", "str"]
    finally:
        del sys.modules[module.__name__]


def test_find_ref_chain_finds_the_same_path_as_objgraph():
    module = types.ModuleType("memlens_test_refs")
    module.held = [[Marker()]]
    gc.collect()
    is_marker = lambda o: type(o) is Marker  # noqa: E731
    theirs = objgraph.find_ref_chain(module, is_marker)
    ours = ml.find_ref_chain(module, is_marker)
    assert [type(o) for o in ours] == [type(o) for o in theirs]
    assert ours[-1] is module.held[0][0]
    assert ml.find_ref_chain(module, lambda o: False, max_depth=2) == [module]


def test_at_finds_live_objects_and_never_a_freed_one():
    # GIVEN a live untracked str and the address of a freed object
    live = "at-" + str(id(object()))
    holder = [live]
    freed = Marker()
    address = id(freed)
    del freed
    gc.collect()
    # WHEN looking them up
    found = ml.at(id(live))
    after_free = ml.at(address)
    # THEN the live one is found (objgraph cannot see untracked objects),
    # and the freed address gives None unless a new live object took it
    assert found is live and objgraph.at(id(live)) is None
    assert after_free is None or id(after_free) == address
    for junk in (0, 8, 2**63, -1, 2**70, "0x10", None):
        assert ml.at(junk) is None
    assert ml.at_addrs({id(live), 12345}) == [live]
    assert len(holder) == 1


def test_wrong_arguments_raise_the_same_exception_types():
    cases = [
        lambda m: m.count(5),
        lambda m: m.by_type(None),
        lambda m: m.show_most_common_types(objects=[]),
        lambda m: m.get_new_ids(sortby="bogus", limit=0),
        lambda m: m.show_refs([1], filename="x.dot", output=io.StringIO()),
        lambda m: m.show_backrefs([1], filename="x.dot", output=io.StringIO()),
        lambda m: m.show_chain(),
        lambda m: m.at_addrs(5),
        lambda m: m.find_ref_chain([], None),
        lambda m: m.find_backref_chain([], None),
        lambda m: m.most_common_types(limit="x"),
    ]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            case(objgraph)
        with pytest.raises(Exception) as ours:
            case(ml)
        assert type(ours.value) is type(theirs.value), (theirs.value, ours.value)


def test_is_proper_module_matches():
    for obj in (sys, types, types.ModuleType("not_registered"), [], None):
        assert ml.is_proper_module(obj) == objgraph.is_proper_module(obj)


def _normalized(dot):
    """Replace addresses by their order of appearance, so the snapshot is stable."""
    ids = {}
    dot = re.sub(r"o\d+", lambda m: ids.setdefault(m.group(0), "o%d" % (len(ids) + 1)), dot)
    return re.sub(r"0x[0-9a-f]+", "0x?", dot)


def test_show_refs_writes_dot_with_labelled_edges():
    # GIVEN an object with an attribute holding a list holding a dict
    holder = Holder()
    out = io.StringIO()
    # WHEN its references are drawn
    ml.show_refs(holder, output=out, max_depth=3, filter=lambda o: not isinstance(o, type))
    # THEN the DOT has objgraph's structure (referents in tp_traverse order, as
    # gc.get_referents gives them, then a dict's str keys, which
    # dict_traverse leaves out) and every edge says how it refers
    assert _normalized(out.getvalue()) == SNAPSHOT_SHOW_REFS


SNAPSHOT_SHOW_REFS = """digraph ObjectGraph {
  node[shape=box, style=filled, fillcolor=white];
  o1[fontcolor=red];
  o1[label="Holder\\n<Holder>"];
  o1[fillcolor="0,0,1"];
  o1 -> o2 [label="items",weight=2];
  o2[label="list\\n2 items"];
  o2[fillcolor="0,0,0.766667"];
  o2 -> o3 [label="[1]",weight=2];
  o2 -> o4 [label="[0]",weight=2];
  o3[label="dict\\n2 items"];
  o3[fillcolor="0,0,0.533333"];
  o3 -> o5 [label="key",weight=2];
  o3 -> o6 [label="['other key']",weight=2];
  o3 -> o7 [label="(key)",weight=2];
  o3 -> o8 [label="(key)",weight=2];
  o4[label="str\\n'first'"];
  o4[fillcolor="0,0,0.533333"];
  o5[label="int\\n1"];
  o5[fillcolor="0,0,0.3"];
  o5[fontcolor=white];
  o6[label="int\\n2"];
  o6[fillcolor="0,0,0.3"];
  o6[fontcolor=white];
  o7[label="str\\n'key'"];
  o7[fillcolor="0,0,0.3"];
  o7[fontcolor=white];
  o8[label="str\\n'other key'"];
  o8[fillcolor="0,0,0.3"];
  o8[fontcolor=white];
}
"""


def test_show_backrefs_draws_an_svg_without_graphviz(tmp_path, capsys):
    # GIVEN a chain from a module to a str in an untracked tuple
    module = _module_with_deep_str()
    try:
        chain = ml.find_backref_chain(module.ROOT[0][0], ml.is_proper_module)
        picture = tmp_path / "chain.svg"
        # WHEN the chain is drawn to an .svg file
        ml.show_chain(chain, filename=str(picture))
    finally:
        del sys.modules[module.__name__]
    # THEN an SVG picture is written (by dot when installed, else in-process)
    printed = capsys.readouterr().out
    assert "Graph written to " in printed and "(5 nodes)" in printed
    assert "Image generated as %s" % picture in printed
    assert "<svg" in picture.read_text()
