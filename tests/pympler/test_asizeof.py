"""memlens.pympler.asizeof against the real pympler 1.1."""
import sys
import types

import pytest

pympler = pytest.importorskip("pympler")
from pympler import asizeof as pm_asizeof  # noqa: E402

import memlens  # noqa: E402
from memlens.pympler import asizeof  # noqa: E402


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = "slot value"
        self.b = [1, 2, 3]


class Plain:
    def __init__(self, i):
        self.i = i
        self.name = f"plain-{i}"


def function():
    return None


TINY_MODULE = types.ModuleType("tiny")
TINY_MODULE.values = [1, 2, "three"]
TINY_MODULE.table = {"key": (4.5, "six")}


BUILTIN_VALUES = [
    "abc", "", 1, 2**100, 1.5, b"xx", None, True, [1, 2, 3], (1, "x"), {"a": "bb"},
    {1, 2}, frozenset({"f"}), [None, True], ((1, 2),), {"k": [1, {"n": (2, "s")}]},
    [[1, [2]], {"x": "y"}], Slotted(), Plain, function, len, [sys], object(),
]


@pytest.mark.parametrize("value", BUILTIN_VALUES, ids=lambda v: type(v).__name__)
def test_asizeof_equals_pympler_for_builtins_classes_functions_and_modules(value):
    # GIVEN a builtin value, a slotted instance, a class, a function or a module
    # WHEN both size it deeply
    # THEN the sizes are identical
    assert asizeof.asizeof(value) == pm_asizeof.asizeof(value)


@pytest.mark.parametrize("options", [{"limit": 0}, {"limit": 1}, {"align": 1}, {"align": 16}, {"code": True}])
def test_asizeof_options_match_pympler(options):
    # GIVEN nested builtin containers
    value = [[1, [2, "deep"]], {"k": ("v", 3.5)}]
    # WHEN both size it with an option
    # THEN the sizes are identical
    assert asizeof.asizeof(value, **options) == pm_asizeof.asizeof(value, **options)


@pytest.mark.parametrize("module", [sys, TINY_MODULE], ids=lambda m: m.__name__)
def test_asizeof_of_a_module_counts_at_least_what_pympler_counts(module):
    # GIVEN a module sized directly (sys holds C objects: streams, flags, the modules dict)
    # WHEN both size it
    # THEN memlens counts at least as much: it follows tp_traverse everywhere,
    # where pympler leaves out some module attributes and counts objects it
    # has no type definition for flat. pympler sizes first: its attribute
    # probing can import modules (six.moves' lazy ones, when pandas 2 brought
    # six in), which then belong to sys.modules for memlens too.
    try:
        theirs = pm_asizeof.asizeof(module)
    except ImportError as exc:  # e.g. six.moves.dbm_gnu without _gdbm (3.9 + pandas 2)
        pytest.skip(f"pympler itself cannot size {module.__name__} here: {exc!r}")
    assert asizeof.asizeof(module) >= theirs


def test_asizesof_and_shared_parts_match_pympler():
    # GIVEN objects that share parts, one repeated
    shared = ["shared", 12345]
    first, second = [shared, 1], [shared, 2]
    # WHEN both size them one by one and together
    # THEN the per-object and total sizes are identical
    assert asizeof.asizesof(first, second, first) == pm_asizeof.asizesof(first, second, first)
    assert asizeof.asizeof(first, second) == pm_asizeof.asizeof(first, second)
    assert asizeof.asizesof() == pm_asizeof.asizesof() == ()
    assert asizeof.asizeof() == pm_asizeof.asizeof() == 0


def test_asized_formats_like_pympler():
    # GIVEN nested lists
    value = [1, [2, "two"], ("t",)]
    # WHEN both build Asized trees with detail
    ours = asizeof.asized(value, detail=2)
    theirs = pm_asizeof.asized(value, detail=2)
    # THEN the formatted trees and the summary strings are identical
    assert ours.format() == theirs.format()
    assert str(ours) == str(theirs)
    assert str(asizeof.asized(value)) == str(pm_asizeof.asized(value))
    assert [str(a) for a in asizeof.asized([1], [2])] == [str(a) for a in pm_asizeof.asized([1], [2])]


def test_flatsize_matches_pympler():
    # GIVEN builtin values
    for value in ["abc", [1, 2], {"a": 1}, (1,), 2**80]:
        # WHEN both give the flat size, unaligned and aligned
        # THEN they agree
        assert asizeof.flatsize(value) == pm_asizeof.flatsize(value)
        assert asizeof.flatsize(value, align=8) == pm_asizeof.flatsize(value, align=8)


@pytest.mark.parametrize("call", [
    lambda m: m.asizeof([1], align=3),
    lambda m: m.flatsize([1], align=6),
    lambda m: m.asizeof([1], bogus=1),
    lambda m: m.asizesof([1], bogus=1),
    lambda m: m.asizesof([1], all=True),
    lambda m: m.asized([1], all=True),
])
def test_wrong_options_raise_pymplers_exceptions(call):
    # GIVEN a wrong option
    # WHEN both get it
    with pytest.raises(Exception) as theirs:
        call(pm_asizeof)
    # THEN memlens raises the same exception type
    with pytest.raises(type(theirs.value)):
        call(asizeof)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="instances have managed dicts from 3.11")
def test_asizeof_of_ten_thousand_instances_creates_no_dict():
    # GIVEN 10,000 instances whose attributes live inline (no __dict__ yet)
    instances = [Plain(i) for i in range(10_000)]
    before = memlens.census()["builtins.dict"][0]
    # WHEN memlens sizes them deeply
    size = asizeof.asizeof(instances)
    # THEN no dict was created, and each instance's ints and strs are counted
    assert memlens.census()["builtins.dict"][0] == before
    assert size >= sum(sys.getsizeof(p) + sys.getsizeof(p.name) for p in instances)


def test_asizeof_counts_instance_attributes():
    # GIVEN an instance holding a large list
    holder = Plain(1)
    holder.big = list(range(1000, 2000))
    # WHEN it is sized
    # THEN the list and its ints are in the size
    assert asizeof.asizeof(holder) > sys.getsizeof(holder.big) + 1000 * 28


def test_asizer_accumulates_and_counts_duplicates_like_pympler():
    # GIVEN a str and a list holding it, sized by one Asizer in two calls
    text = "unladen swallow"
    holder = [text]
    ours, theirs = asizeof.Asizer(), pm_asizeof.Asizer()
    for sizer in (ours, theirs):
        sizer.asizeof(text)
        sizer.asizeof(holder, holder)
    # THEN the total counts the str once and both see the same repeats
    assert ours.total == asizeof.asizeof(text, holder)
    assert ours.duplicate == theirs.duplicate == 2


def test_asizer_exclude_types_and_refs():
    # GIVEN an Asizer told to leave out a type, and another told not to go through a list
    class Skipped:
        pass

    sizer = asizeof.Asizer()
    sizer.exclude_types(Skipped)
    flat = asizeof.Asizer()
    items = [list(range(100))]
    flat.exclude_refs(items)
    # THEN instances of the type count 0 and the list counts only itself
    assert sizer.asizeof(Skipped()) == 0
    assert flat.asizeof(items) == asizeof.flatsize(items, align=8)


@pytest.mark.parametrize("value", [1, "", "a", True, None, [], (), {}, set(), [1, 2, 3]])
def test_basicsize_and_itemsize_match_pympler(value):
    assert asizeof.basicsize(value) == pm_asizeof.basicsize(value)
    assert asizeof.itemsize(value) == pm_asizeof.itemsize(value)


def test_classes_count_with_code_true_as_in_pympler():
    class Sized:
        def method(self):
            return 1

    assert asizeof.asizeof(Sized) == 0
    assert asizeof.asizeof(Sized, code=True) > 0


def test_a_live_weakrefs_referent_is_counted_as_pympler_counts_it():
    import weakref

    # GIVEN a weak reference to a live object and one to a dead object
    class Held:
        def __init__(self):
            self.payload = list(range(50))

    alive = Held()
    live_ref = weakref.ref(alive)
    dead_ref = weakref.ref(Held())
    # THEN the live one counts its referent too, the dead one only itself
    assert asizeof.asizeof(live_ref) > asizeof.asizeof(alive)
    # (pympler adds the None a dead reference points to: 16 bytes that are not its own)
    assert asizeof.asizeof(dead_ref) == asizeof.flatsize(dead_ref, align=8)
