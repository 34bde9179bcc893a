"""memlens._core.sizeof equals sys.getsizeof for every builtin type, computed from the layout."""
import collections
import sys
import types

import pytest

from memlens import _heap


class Plain:
    pass


class Slotted:
    __slots__ = ("a", "b")


class ListSub(list):
    pass


class DictSub(dict):
    pass


class StrSub(str):
    pass


def _instance_with_attributes():
    obj = Plain()
    obj.x = 1
    obj.y = [1]
    return obj


def _materialized_dict():
    obj = _instance_with_attributes()
    return obj.__dict__


def _bytearray_grown():
    data = bytearray()
    for i in range(100):
        data.append(i)
    return data


def _list_grown():
    items = []
    for i in range(37):
        items.append(i)
    return items


def _str_with_utf8_cache():
    text = "é" * 10 + "x"
    text.encode("utf-8")  # does not cache; the C API does (sizes must still match)
    return text


BUILTIN_VALUES = {
    "int 0": 0,
    "int 1": 1,
    "int -5": -5,
    "int 2**40": 2**40,
    "int -(2**100)": -(2**100),
    "int 10**1000": 10**1000,
    "bool True": True,
    "bool False": False,
    "float": 1.5,
    "complex": 1j,
    "str empty": "",
    "str ascii": "abc" * 100,
    "str latin-1": "é" * 7,
    "str ucs2": "€" * 3,
    "str ucs4": "😀x",
    "str long": "x" * 100_000,
    "str utf8-cached": _str_with_utf8_cache(),
    "str subclass": StrSub("hello"),
    "bytes empty": b"",
    "bytes": b"abc" * 9,
    "bytearray": bytearray(b"xyz" * 10),
    "bytearray empty": bytearray(),
    "bytearray grown": _bytearray_grown(),
    "tuple empty": (),
    "tuple": (1, 2),
    "tuple 100": tuple(range(100)),
    "list empty": [],
    "list": [1, 2, 3],
    "list grown": _list_grown(),
    "list 1000": list(range(1000)),
    "list subclass": ListSub([1, 2]),
    "dict empty": {},
    "dict small": {"a": 1},
    "dict int keys": {i: i for i in range(1000)},
    "dict mixed keys": {1: "a", "b": 2, (1, 2): 3},
    "dict split (instance __dict__)": _materialized_dict(),
    "dict subclass": DictSub(a=1),
    "set empty": set(),
    "set small": {1, 2, 3},
    "set 100": set(range(100)),
    "frozenset empty": frozenset(),
    "frozenset 50": frozenset(range(50)),
    "range": range(10),
    "slice": slice(1, 2),
    "memoryview": memoryview(b"ab"),
    "type int": int,
    "type str": str,
    "type type": type,
    "heap type": Plain,
    "heap type with slots": Slotted,
    "object": object(),
    "instance": Plain(),
    "instance with attributes": _instance_with_attributes(),
    "instance with slots": Slotted(),
    "None": None,
    "Ellipsis": ...,
    "NotImplemented": NotImplemented,
    "builtin function": len,
    "function": _list_grown,
    "lambda": lambda: 0,
    "module": sys,
    "property": property(),
    "staticmethod": staticmethod(len),
    "classmethod": classmethod(len),
    "enumerate": enumerate([]),
    "zip": zip(),
    "map": map(len, []),
    "filter": filter(None, []),
    "reversed": reversed([]),
    "list iterator": iter([]),
    "tuple iterator": iter(()),
    "super": super(Plain, Plain()),
    "SimpleNamespace": types.SimpleNamespace(x=1),
    "exception": ValueError("x"),
    "bound method": _instance_with_attributes().__init__,
    "builtin method": [].append,
    "dict keys": {}.keys(),
    "dict values": {}.values(),
    "dict items": {}.items(),
    "defaultdict": collections.defaultdict(list),
    "cell": (lambda x: lambda: x)(1).__closure__[0],
}


@pytest.mark.parametrize("name", sorted(BUILTIN_VALUES))
def test_sizeof_equals_sys_getsizeof(name):
    # GIVEN an object of a builtin type
    value = BUILTIN_VALUES[name]
    # WHEN memlens sizes it from its layout
    size = _heap.sizeof(value)
    # THEN the size is exactly what sys.getsizeof reports
    assert size == sys.getsizeof(value)


def test_sizeof_never_calls_a_user_defined_sizeof():
    # GIVEN a class whose __sizeof__ is user code
    calls = []

    class Liar:
        def __sizeof__(self):
            calls.append(1)
            return 10**9

    # WHEN memlens sizes an instance
    size = _heap.sizeof(Liar())
    # THEN the user code did not run, and the size is the layout's
    assert calls == []
    assert size == object.__sizeof__(Liar()) + (sys.getsizeof(Plain()) - object.__sizeof__(Plain()))


def test_objects_whose_itemsize_is_not_a_length_get_a_sane_size():
    # GIVEN objects whose types declare an itemsize without an ob_size length
    def gen():
        yield 1

    async def coroutine():
        pass

    generator, coro = gen(), coroutine()
    try:
        # WHEN memlens sizes them
        sizes = [_heap.sizeof(generator), _heap.sizeof(coro), _heap.sizeof(gen.__code__)]
    finally:
        coro.close()
    # THEN the sizes are plausible (at most what sys.getsizeof says, never garbage)
    for obj, size in zip((generator, coro, gen.__code__), sizes):
        assert 0 < size <= sys.getsizeof(obj)
