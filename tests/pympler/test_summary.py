"""memlens.pympler.summary and muppy against the real pympler 1.1, on the same objects."""
import gc
import inspect
import sys
import types

import pytest

pympler = pytest.importorskip("pympler")
from pympler import muppy as pm_muppy  # noqa: E402
from pympler import summary as pm_summary  # noqa: E402

from memlens.pympler import muppy, summary  # noqa: E402

MODULE_FUNCTIONS = {
    summary: ["summarize", "get_diff", "format_", "print_"],
    muppy: ["get_objects", "get_size", "get_diff", "sort", "filter", "get_referents", "print_summary"],
}


class Sample:
    def __init__(self, value):
        self.value = value


def a_function():
    return None


def sample_objects():
    return [1, 2**70, "text", b"bytes", 1.5, (1, "x"), [1, 2], {"k": "v"}, {1, 2}, Sample(3),
            Sample, a_function, sys, types, len, None]


@pytest.mark.parametrize("module,name", [(m, n) for m, names in MODULE_FUNCTIONS.items() for n in names])
def test_functions_have_pymplers_signatures(module, name):
    # GIVEN the same function in memlens.pympler and pympler
    original = getattr(pm_summary if module is summary else pm_muppy, name)
    # WHEN their signatures are compared
    # THEN parameter names, kinds and defaults are identical
    def shape(function):
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    assert shape(getattr(module, name)) == shape(original)


def test_summarize_gives_pymplers_rows_for_the_same_objects():
    # GIVEN builtin objects, an instance, a class, a function and modules
    objects = sample_objects()
    # WHEN both summarize them
    ours = sorted(summary.summarize(objects))
    theirs = sorted(pm_summary.summarize(objects))
    # THEN the rows are identical: labels (str, function (a_function), module(sys)...), counts and sizes
    assert ours == theirs
    assert ["function (a_function)", 1, sys.getsizeof(a_function)] in ours
    assert ["module(sys)", 1, sys.getsizeof(sys)] in ours
    assert [f"{__name__}.Sample", 1, sys.getsizeof(objects[9])] in ours


ROWS = [["str", 12, 700], ["dict", 3, 3 * 1024 * 1024 + 5], ["tests.Node", -4, -5000],
        ["list", 0, 2048], ["int", 1, 1024], ["function (f)", 7, 7 * 152]]


@pytest.mark.parametrize("options", [
    {}, {"limit": 2}, {"sort": "#"}, {"sort": "type"}, {"order": "ascending"},
    {"sort": "type", "order": "ascending"}, {"limit": 0},
])
def test_format_lays_out_the_table_exactly_as_pympler(options):
    # GIVEN the same rows, with large, negative and boundary sizes
    # WHEN both format them
    ours = list(summary.format_(ROWS, **options))
    theirs = list(pm_summary.format_(ROWS, **options))
    # THEN every line is identical
    assert ours == theirs


def test_print_prints_pymplers_table(capsys):
    # GIVEN a summary of the same objects
    rows = pm_summary.summarize(sample_objects())
    # WHEN both print it
    summary.print_(rows)
    ours = capsys.readouterr().out
    pm_summary.print_(rows)
    theirs = capsys.readouterr().out
    # THEN the output is identical
    assert ours == theirs


def test_get_diff_matches_pympler():
    # GIVEN two summaries with rows only left, only right and on both sides
    left = [["str", 3, 150], ["int", 2, 56], ["list", 1, 56]]
    right = [["str", 5, 250], ["dict", 1, 64], ["list", 1, 56]]
    # WHEN both diff them
    # THEN the rows are the same (zero rows kept, as pympler does)
    assert sorted(summary.get_diff(left, right)) == sorted(pm_summary.get_diff(left, right))


@pytest.mark.parametrize("call", [
    lambda m: m.format_([["str", 1, 1]], sort="name"),
    lambda m: m.format_([["str", 1, 1]], order="up"),
    lambda m: m.summarize(None),
    lambda m: m.summarize(5),
])
def test_wrong_arguments_raise_pymplers_exceptions(call):
    # GIVEN a wrong argument
    # WHEN both modules get it
    with pytest.raises(Exception) as theirs:
        list(call(pm_summary))
    # THEN memlens raises the same exception type
    with pytest.raises(type(theirs.value)):
        list(call(summary))


class Untracked:
    """Marks the objects of the completeness test."""


def test_get_objects_finds_everything_pympler_finds_and_untracked_objects_it_misses():
    # GIVEN instances (GC-tracked) holding strs two untracked tuples deep
    holders = [Sample(((f"deep-marker-{i}",),)) for i in range(300)]
    gc.collect()
    gc.collect()  # the inner tuples are untracked by the first collection, the outer ones by the second
    # WHEN both list every live object (pympler first: memlens's list would hand it every object)
    theirs = pm_muppy.get_objects()
    ours = muppy.get_objects()

    # THEN both see the same instances, and memlens also the strs pympler cannot reach
    def count(objects, predicate):
        return sum(1 for obj in objects if predicate(obj))

    def is_sample(obj):
        return type(obj) is Sample and any(obj is holder for holder in holders)

    def is_marker(obj):
        return type(obj) is str and obj.startswith("deep-marker-")

    assert count(ours, is_sample) == count(theirs, is_sample) == 300
    assert count(ours, is_marker) == 300
    assert count(theirs, is_marker) == 0
    # AND every GC-tracked object pympler lists is in memlens's list, but memlens's own results
    our_ids = {id(obj) for obj in ours}
    missing = [obj for obj in theirs if gc.is_tracked(obj) and id(obj) not in our_ids]
    assert [obj for obj in missing if not type(obj).__module__.startswith("memlens")] == []
    del ours, theirs


def test_summary_counts_match_pympler_for_gc_tracked_types():
    # GIVEN a heap with many instances of a class only this test creates
    class Leaf:
        pass

    leaves = [Leaf() for _ in range(1000)]
    label = f"{__name__}.{Leaf.__qualname__}"
    # WHEN both summarize all objects (memlens's rows dropped before pympler looks: their labels are strs)
    ours = {row[0]: row for row in summary.summarize(muppy.get_objects()) if row[0] in (label, "str", "int")}
    theirs = {row[0]: row for row in pm_summary.summarize(pm_muppy.get_objects())}
    # THEN the instance rows agree on count and size, and memlens counts at least as many strs and ints
    assert ours[label] == theirs[label] == [label, 1000, 1000 * sys.getsizeof(leaves[0])]
    assert ours["str"][1] >= theirs["str"][1]
    assert ours["int"][1] >= theirs["int"][1]


def test_muppy_list_operations_match_pympler():
    # GIVEN the same object lists
    objects = sample_objects()
    left, right = objects[:10], objects[5:]
    # WHEN both operate on them
    # THEN sizes, diffs, sorting and filtering agree
    assert muppy.get_size(objects) == pm_muppy.get_size(objects)
    ours, theirs = muppy.get_diff(left, right), pm_muppy.get_diff(left, right)
    assert [id(o) for o in ours["+"]] == [id(o) for o in theirs["+"]]
    assert [id(o) for o in ours["-"]] == [id(o) for o in theirs["-"]]
    assert [sys.getsizeof(o) for o in muppy.sort(objects)] == [sys.getsizeof(o) for o in pm_muppy.sort(objects)]
    for options in ({"Type": int}, {"min": 50}, {"max": 60}, {"Type": tuple, "min": 10, "max": 1000}):
        assert muppy.filter(objects, **options) == pm_muppy.filter(objects, **options)
    nested = [[1, [2, ("three",)]], {"k": "v"}]
    assert {id(o) for o in muppy.get_referents(nested)} == {id(o) for o in pm_muppy.get_referents(nested)}


def test_get_referents_stops_at_the_requested_level():
    # GIVEN objects nested three levels deep
    third = ("three",)
    second = [2, third]
    nested = [[1, second]]
    # WHEN referents two levels deep are asked for
    found = muppy.get_referents(nested, 2)
    # THEN the first two levels are there and the third is not (pympler's own
    # loop walks on through everything it appends, to any depth)
    assert any(o is second for o in found) and not any(o is third for o in found)


def test_muppy_filter_rejects_min_above_max_like_pympler():
    # GIVEN a minimum above the maximum
    # WHEN both filter
    # THEN both raise ValueError
    with pytest.raises(ValueError):
        pm_muppy.filter([1], min=10, max=5)
    with pytest.raises(ValueError):
        muppy.filter([1], min=10, max=5)


def test_print_summary_prints_a_pympler_table(capsys):
    # GIVEN the live heap
    # WHEN print_summary runs
    muppy.print_summary()
    lines = capsys.readouterr().out.splitlines()
    # THEN it is pympler's table: header, rule, at most 15 rows
    assert [cell.strip() for cell in lines[0].split("|")] == ["types", "# objects", "total size"]
    assert set(lines[1].replace(" | ", "")) == {"="}
    assert 1 < len(lines) <= 17
