"""The heap walk: complete, undisturbing, iterative."""
import gc
import sys

import pytest

import memlens
from memlens import _heap


class Node:
    __slots__ = ("next",)

    def __init__(self, next=None):
        self.next = next


class Record:
    def __init__(self, i):
        self.i = i
        self.items = [i]
        self.label = "record"


def test_an_untracked_str_inside_an_untracked_tuple_is_found():
    # GIVEN a str held only by a tuple the GC does not track
    holder = [("memlens-" + "untracked-target", 12345)]
    gc.collect()
    assert not gc.is_tracked(holder[0])
    target = holder[0][0]
    # WHEN the heap is walked
    graph = _heap.walk()
    # THEN the str is a node, reached from the tuple, itself reached from the list
    node = graph.index(target)
    assert node is not None and not graph.is_tracked(node)
    tuple_node = graph.index(holder[0])
    assert tuple_node in graph.referrers(node)
    assert graph.index(holder) in graph.referrers(tuple_node)
    assert graph.edge_label(tuple_node, node) == "[0]"


def test_the_census_counts_untracked_objects():
    # GIVEN 5,000 new str that the GC does not track, held in one list
    before = memlens.census()
    strings = ["census-%d" % i for i in range(5000)]
    # WHEN a census is taken
    after = memlens.census()
    # THEN the diff shows them, and gc_only leaves them out
    diff = memlens.census_diff(before, after).to_dict()["types"]
    assert diff["builtins.str"]["count_delta"] == 5000
    assert "builtins.str" not in memlens.census(gc_only=True)
    assert len(strings) == 5000


def test_a_census_taken_twice_in_a_row_is_identical():
    # GIVEN a settled heap
    gc.collect()
    # WHEN two censuses are taken back to back
    first = memlens.census()
    second = memlens.census()
    # THEN they report the same counts and sizes for every type
    assert first.to_dict() == second.to_dict()
    assert first == second
    assert not memlens.census_diff(first, second)


def test_memlens_own_results_are_left_out():
    # GIVEN censuses and graphs held alive
    kept = [memlens.census() for _ in range(3)] + [_heap.walk()]
    # WHEN another census is taken
    census = memlens.census()
    # THEN none of memlens's result objects appear in it
    assert not any(name.startswith("memlens") for name, _, _ in census.rows)
    assert len(kept) == 4


@pytest.mark.skipif(sys.version_info < (3, 11), reason="managed dicts exist from 3.11")
def test_no_instance_dict_is_materialized():
    # GIVEN 10,000 instances whose attributes live without a __dict__ (3.11+)
    records = [Record(i) for i in range(10_000)]
    gc.collect()

    def dicts():
        return sum(1 for o in gc.get_objects() if type(o) is dict)

    def materialized():
        return sum(1 for r in records if any(type(x) is dict for x in gc.get_referents(r)))

    dicts_before = dicts()
    assert materialized() == 0
    # WHEN memlens takes a census, walks the heap and labels every attribute edge
    memlens.census()
    graph = _heap.walk()
    labels = set()
    for record in records[:100]:
        node = graph.index(record)
        labels.update(graph.edge_label(node, child) for child in graph.referents(node))
    del graph
    # THEN no dict was created, and the labels are the attribute names
    assert dicts() == dicts_before
    assert materialized() == 0
    assert {"items", "label", "__class__"} <= labels


def test_a_ten_million_long_linked_list_does_not_overflow_a_stack():
    # GIVEN a linked list ten million nodes long
    head = None
    for _ in range(10_000_000):
        head = Node(head)
    # WHEN a census is taken
    census = memlens.census()
    # THEN every node is counted
    assert census[f"{__name__}.Node"][0] == 10_000_000
    del head


def test_a_long_chain_of_untracked_tuples_is_walked_iteratively():
    # GIVEN a chain of 200,000 nested tuples, untracked as far as the GC got
    chain = ("end",)
    for _ in range(200_000):
        chain = ("link", chain)
    holder = [chain]
    for _ in range(3):
        gc.collect()
    # WHEN the heap is walked and a path is searched from the innermost tuple
    graph = _heap.walk()
    innermost = chain
    while len(innermost) == 2:
        innermost = innermost[1]
    node = graph.index(innermost)
    path = graph.shortest_path(node, forward=False, goals=[graph.index(holder)], max_depth=10**6)
    # THEN the path crosses every link
    assert path is not None and len(path) == 200_002
    del graph


def test_objects_without_traverse_and_c_extension_types_are_handled():
    # GIVEN objects of C extension types and types without tp_traverse
    import array
    import collections
    import decimal

    keep = [array.array("i", range(10)), collections.deque([1, 2]), decimal.Decimal("1.5"), 1.5, b"x"]
    # WHEN the heap is walked
    graph = _heap.walk()
    # THEN each is a node with a size
    for obj in keep:
        node = graph.index(obj)
        assert node is not None and graph.size(node) > 0


def test_bad_node_indices_raise_index_error():
    graph = _heap.walk()
    with pytest.raises(IndexError):
        graph.object(len(graph))
    with pytest.raises(IndexError):
        graph.referrers(len(graph) + 5)


def test_census_table_and_plain_data():
    # GIVEN a census
    census = memlens.census()
    # WHEN it is printed and converted
    table = str(census)
    data = census.to_dict()
    # THEN the table is aligned with human units and the data adds up
    lines = table.splitlines()
    assert lines[0].startswith("memlens census: ")
    assert lines[1].split() == ["objects", "size", "share", "type"]
    assert any(unit in table for unit in (" KiB", " MiB"))
    assert data["total_count"] == sum(t["count"] for t in data["types"].values())
    import json

    assert json.loads(census.to_json()) == data


def test_shared_and_unshared_untracked_objects_are_each_counted_once():
    # GIVEN 1,000 distinct floats held once, and 10 floats each held by 100 tuples and a list
    before = memlens.census()
    unique = [float(i) + 0.5 for i in range(1000)]
    shared = [float(-i) - 0.25 for i in range(10)]
    tuples = [(shared[i % 10], shared[(i + 1) % 10]) for i in range(1000)]
    gc.collect()
    # WHEN a census is taken
    after = memlens.census()
    # THEN every float is counted exactly once, however many references it has
    diff = memlens.census_diff(before, after).to_dict()["types"]
    assert diff["builtins.float"]["count_delta"] == 1010
    assert len(unique) + len(tuples) == 2000


@pytest.mark.parametrize("fallback", ["", "1"])
def test_tracked_objects_are_exactly_what_gc_get_objects_returns(fallback):
    # GIVEN a fresh interpreter, with or without the fallbacks, which do not see
    # frozen objects (3.12 starts with 375 of them)
    import os
    import subprocess

    code = (
        "import gc, memlens\n"
        "FALLBACK = %r\n"
        "gc.collect()\n"
        "a = memlens.census(gc_only=True).total_count\n"
        "b = len(gc.get_objects()) + (0 if FALLBACK else gc.get_freeze_count())\n"
        "c = memlens.census(); d = memlens.census()\n"
        "print(a, b, c == d)\n"
    ) % bool(fallback)
    env = dict(os.environ)
    env.pop("MEMLENS_NO_GC_LISTS", None)
    if fallback:
        env["MEMLENS_NO_GC_LISTS"] = fallback
    # WHEN the GC-tracked objects are counted both ways
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    # THEN the counts agree (frozen objects included), and two censuses in a row are identical
    assert out.returncode == 0, out.stderr
    tracked, listed, identical = out.stdout.split()
    assert int(tracked) == int(listed)
    assert identical == "True"


def test_all_objects_is_gc_get_objects_plus_the_untracked_ones():
    # GIVEN a str that only an untracked tuple holds
    holder = [("all-objects-" + str(id(object())), 1)]
    gc.collect()
    # WHEN every object is listed
    everything = _heap.all_objects()
    tracked = _heap.all_objects(gc_only=True)
    # THEN the GC-tracked ones are gc.get_objects(), and the untracked str is there too
    assert {id(o) for o in tracked} - {id(everything)} <= {id(o) for o in everything}
    assert any(o is holder[0][0] for o in everything)
    assert not any(o is everything for o in everything)
    del everything, tracked


def test_type_counts_of_a_chosen_set_of_objects():
    objects = [1, 2, "a", [], [1], 2]
    counts = {tp: (n, size) for tp, n, size in _heap.type_counts_of(objects)}
    assert counts[int] == (3, 3 * sys.getsizeof(1))
    assert counts[list] == (2, sys.getsizeof([]) + sys.getsizeof([1]))
    assert counts[str] == (1, sys.getsizeof("a"))
    with pytest.raises(TypeError):
        _heap.type_counts_of(5)


class Frozen:
    pass


def test_objects_frozen_by_gc_freeze_are_counted():
    # GIVEN 3,000 instances moved to the permanent generation by gc.freeze()
    held = [Frozen() for _ in range(3000)]
    gc.freeze()
    try:
        assert gc.get_freeze_count() >= 3000
        # WHEN a census is taken and the heap is walked
        census = memlens.census()
        graph = _heap.walk()
        # THEN every frozen instance is in both, and a census taken again agrees
        assert census["%s.Frozen" % __name__][0] == 3000
        assert graph.index(held[0]) is not None and graph.index(held[-1]) is not None
        assert memlens.census() == census
    finally:
        gc.unfreeze()
