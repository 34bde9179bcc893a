"""Dict keys: CPython's dict_traverse skips the str keys of str-only tables,
yet the walk must find them (a str held only as a key is still memory)."""
import gc
import sys

import pytest

import memlens
from memlens import _heap


class Plain:
    def __init__(self, tag):
        self.attribute_only_in_this_test_a = tag
        self.attribute_only_in_this_test_b = tag


def test_str_keys_held_only_by_a_dict_are_counted_by_the_census():
    # GIVEN a census, then a dict with 10,000 unique str keys built at runtime
    before = memlens.census()
    holder = [{"only-a-key-%d" % i: None for i in range(10_000)}]
    # WHEN a census is taken
    after = memlens.census()
    # THEN str grew by at least the 10,000 keys
    diff = memlens.census_diff(before, after).to_dict()["types"]
    assert diff["builtins.str"]["count_delta"] >= 10_000
    assert len(holder[0]) == 10_000


def test_a_key_is_a_node_whose_referrers_include_its_dict():
    # GIVEN a str held only as a key of a dict (held by a tracked list: a
    # dict of str and int is untracked, and a running frame is no object)
    holder = [{"memlens-key-%d" % i: i for i in range(100)}]
    table = holder[0]
    key = next(k for k in table if k.endswith("-42"))
    # WHEN the heap is walked
    graph = _heap.walk(roots=[])
    # THEN the key is a node, and the dict refers to it through a key edge
    node = graph.index(key)
    assert node is not None
    dict_node = graph.index(table)
    assert dict_node in graph.referrers(node)
    assert graph.edge_label(dict_node, node) == "(key)"


def test_keys_of_a_dict_subclass_are_found():
    # GIVEN a dict subclass holding a runtime-built str key
    class Sub(dict):
        pass

    table = Sub()
    table["subclass-key-" + str(id(table))] = 1
    key = next(iter(table))
    # WHEN the heap is walked
    graph = _heap.walk()
    # THEN the key is found and referred to by the subclass instance
    node = graph.index(key)
    assert node is not None
    assert graph.index(table) in graph.referrers(node)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="shared-keys dicts of 3.11+ instances")
def test_attribute_names_in_a_materialized_shared_keys_dict_are_found():
    # GIVEN 3.11+ instances whose __dict__ is materialized (a split-table dict
    # whose keys live in the class's shared keys object)
    objects = [Plain(i) for i in range(3)]
    dicts = [vars(o) for o in objects]
    name = next(k for k in dicts[0] if k.endswith("_b"))
    # WHEN the heap is walked
    graph = _heap.walk()
    # THEN the attribute-name str is a node referred to by those dicts
    node = graph.index(name)
    assert node is not None
    referrers = set(graph.referrers(node))
    assert {graph.index(d) for d in dicts} <= referrers


def test_keys_are_never_duplicate_nodes():
    # GIVEN str keys in str-only tables and in general tables (mixed keys,
    # where dict_traverse reports the keys itself), some shared between dicts
    shared = ["dup-key-%d" % i for i in range(50)]
    str_only = {k: 1 for k in shared}
    mixed = {k: 2 for k in shared}
    mixed[12345] = 3
    mixed[("tuple", "key")] = 4
    unique_mixed = {"mixed-only-%d" % i: i for i in range(50)}
    unique_mixed[1.5] = 0
    holder = [str_only, mixed, unique_mixed]
    gc.collect()
    # WHEN the heap is walked
    graph = _heap.walk()
    # THEN every node is a distinct object
    addresses = [graph.address(i) for i in range(len(graph))]
    assert len(set(addresses)) == len(graph)
    for key in list(unique_mixed)[:3]:
        assert graph.index(key) is not None
    assert len(holder) == 3


def test_all_objects_includes_keys_held_only_by_a_dict():
    # GIVEN a str held only as a dict key
    holder = [{"all-objects-key-" + str(id(object())): 0}]
    table = holder[0]
    key_id = id(next(iter(table)))
    # WHEN all objects are listed
    found = any(id(o) == key_id for o in _heap.all_objects())
    # THEN the key is among them
    assert found
