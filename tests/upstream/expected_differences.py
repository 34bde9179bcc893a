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
TO_FIX = "not yet compatible (issue 15)"


def applicable(table, version):
    """The entries of one suite's table that apply to Python ``version``."""
    return {test: reason for test, (reason, pythons) in table.items() if pythons == ALL or version in pythons}


BY_DESIGN = {
    "objgraph": {
        "extra-info_txt": (
            "objgraph.at(id(a)) of a str gives the str: memlens finds objects the GC does not track", ALL),
    },
    "pympler": {},
    "tracemalloc": {},
}

PENDING_ELSEWHERE = {
    "objgraph": {},
    "pympler": {
        "asizeof.test_asizeof.TypesTest.test_numpy_array": (
            "a numpy array's data buffer is not counted yet: owned sizes (helper heap-walk)", ALL),
    },
    "tracemalloc": {},
}

NOT_YET_FIXED = {
    "objgraph": {},
    "pympler": {
        "asizeof.test_asizeof.AsizeofDemos.test_code": (TO_FIX, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_dict": (TO_FIX, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_iterator": (TO_FIX, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_pairs": (TO_FIX, ALL),
        "asizeof.test_asizeof.AsizeofDemos.test_typedefs": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_adict": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_asized": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_asized_format": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_asizer": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_asizer_limit": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_asizesof": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_basicsize": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_exclude_types": (TO_FIX, ALL),
        "asizeof.test_asizeof.FunctionTest.test_itemsize": (TO_FIX, ALL),
        "asizeof.test_asizeof.TypesTest.test_classes": (TO_FIX, ALL),
        "asizeof.test_asizeof.TypesTest.test_weakref": (TO_FIX, ALL),
    },
    "tracemalloc": {
        "test.test_tracemalloc.TestCAPI.test_stop_untrack": (TO_FIX, ALL),
        "test.test_tracemalloc.TestCAPI.test_track": (TO_FIX, ALL),
        "test.test_tracemalloc.TestCAPI.test_track_already_tracked": (TO_FIX, ALL),
        "test.test_tracemalloc.TestCAPI.test_track_without_gil": (TO_FIX, ALL),
        "test.test_tracemalloc.TestCAPI.test_untrack": (TO_FIX, ALL),
        "test.test_tracemalloc.TestTracemallocEnabled.test_new_reference": (TO_FIX, ALL),
        "test.test_tracemalloc.TestTracemallocEnabled.test_snapshot": (TO_FIX, ALL),
        "test.test_tracemalloc.TestTracemallocEnabled.test_snapshot_save_attr": (TO_FIX, ALL),
    },}
