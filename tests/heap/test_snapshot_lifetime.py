"""Regression: a heap snapshot caught in a reference cycle is collected, not kept forever.

A function that walks the heap and keeps the snapshot in a local forms the
cycle snapshot -> frame -> snapshot whenever its frame object is part of the
walk; before the snapshot showed its references to the GC, every
find_backref_chain call kept the whole walked heap alive.
"""
import gc
import weakref

from memlens import objgraph
from memlens import _heap


class Target:
    pass


# A module global, so that a chain from this module exists.
HOLDER = {"t": (("deep", Target()),)}


def live_snapshots():
    return [o for o in gc.get_objects() if type(o).__name__ == "HeapGraph"]


def test_find_backref_chain_leaves_no_snapshot_behind():
    # GIVEN an object held by a module global through an untracked tuple
    target = HOLDER["t"][0][1]
    gc.collect()
    before = len(live_snapshots())
    # WHEN chains are searched several times
    for _ in range(3):
        chain = objgraph.find_backref_chain(target, objgraph.is_proper_module)
        assert chain[-1] is target and len(chain) > 1
    del chain
    gc.collect()
    # THEN no snapshot survives a collection
    assert len(live_snapshots()) == before


def test_snapshot_in_a_cycle_releases_the_objects_it_held():
    # GIVEN a snapshot that holds an object which holds the snapshot
    class Box:
        pass

    box = Box()
    box.graph = _heap.walk(roots=[box])
    assert box.graph.index(box) is not None
    watcher = weakref.ref(box)
    # WHEN the last outside reference goes and the GC runs
    del box
    gc.collect()
    # THEN the cycle is collected, object and snapshot both
    assert watcher() is None
