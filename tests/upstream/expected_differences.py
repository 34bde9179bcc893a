"""Which upstream tests fail against memlens, and why.

Three tables, each ``{suite: {test id: (reason, pythons)}}``, where
``pythons`` is ``ALL`` or a set of ``(major, minor)`` versions:

- ``BY_DESIGN``: memlens exceeds or deliberately departs from what the test
  expects. Each is named, with the same reason, in the "What differs" part
  of docs/compat/<suite>.md (a test checks that the two lists match).
- ``PENDING_ELSEWHERE``: a real incompatibility that another piece of work
  fixes (named in the reason); the entry goes when that work lands.
- ``NOT_YET_FIXED``: a real incompatibility of issue 15 still open.

A listed test that passes makes the suite test fail, so the lists stay true.
"""

ALL = "all"


def applicable(table, version):
    """The entries of one suite's table that apply to Python ``version``."""
    return {test: reason for test, (reason, pythons) in table.items() if pythons == ALL or version in pythons}


BY_DESIGN = {
    "objgraph": {
        "extra-info_txt": (
            "objgraph.at(id(a)) of a str gives the str: memlens finds objects the GC does not track", ALL),
    },
    "pympler": {
        "asizeof.test_asizeof.FunctionTest.test_asizer_limit": (
            "limits 2 and 3 give the same size: a 3.11+ instance's attributes are read in place, so no "
            "__dict__ level lies between the instance and its values (pympler creates that dict)",
            {(3, 11), (3, 12), (3, 13)}),
        "asizeof.test_asizeof.FunctionTest.test_adict": (
            "adict is not provided: sizing a dict-like class through its methods would run Python code "
            "while sizing", ALL),
    },
    "tracemalloc": {},
}

PENDING_ELSEWHERE = {
    "objgraph": {},
    "pympler": {},
    "tracemalloc": {},
}

_PYMPLER_INTERNALS = ("uses pympler's internal type-definition table and helpers (_typedefs, _items, "
                      "_co_refs, _p100), which memlens's Rust sizer has no counterpart for yet")
_C_API = "PyTraceMalloc_Track/Untrack do not reach memlens yet (issue 15, item 5)"

NOT_YET_FIXED = {
    "objgraph": {},
    "pympler": {
        "asizeof.test_asizeof.AsizeofDemos.test_code": (_PYMPLER_INTERNALS, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_dict": (_PYMPLER_INTERNALS, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_iterator": (_PYMPLER_INTERNALS, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_pairs": (_PYMPLER_INTERNALS, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_typedefs": (_PYMPLER_INTERNALS, ALL),
    },
    "tracemalloc": {
        "test.test_tracemalloc.TestCAPI.test_stop_untrack": (_C_API, ALL),
        "test.test_tracemalloc.TestCAPI.test_track": (_C_API, ALL),
        "test.test_tracemalloc.TestCAPI.test_track_already_tracked": (_C_API, ALL),
        "test.test_tracemalloc.TestCAPI.test_track_without_gil": (_C_API, ALL),
        "test.test_tracemalloc.TestCAPI.test_untrack": (_C_API, ALL),
        "test.test_tracemalloc.TestTracemallocEnabled.test_new_reference": (
            "a list taken from the free list keeps the traceback of the block's first allocation "
            "(issue 15, item 4)", ALL),
        "test.test_tracemalloc.TestTracemallocEnabled.test_snapshot": (
            "Traceback.total_nframe is None for a traceback cut at the limit unless "
            "start(count_frames=True) (issue 15, item 7)", ALL),
    },
}
