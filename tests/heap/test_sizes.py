"""memlens._core.sizeof equals sys.getsizeof for every builtin type, computed from the layout."""
import array
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


class OrderedDictSub(collections.OrderedDict):
    pass


class DequeSub(collections.deque):
    pass


class ArraySub(array.array):
    pass


def _ordered_dict_grown(n=100):
    return collections.OrderedDict((i, i) for i in range(n))


def _ordered_dict_shrunk():
    od = _ordered_dict_grown(1000)
    for i in range(990):
        del od[i]
    return od


def _ordered_dict_emptied():
    od = _ordered_dict_grown(50)
    od.clear()
    return od


def _deque_many_blocks():
    d = collections.deque()
    for i in range(1000):
        d.append(i)
        d.appendleft(i)
    return d


def _deque_shrunk():
    d = collections.deque(range(5000))
    for _ in range(4900):
        d.popleft()
    return d


def _array_grown(typecode):
    a = array.array(typecode)
    for i in range(77):
        a.append(i)
    return a


def _array_shrunk():
    a = array.array("q", range(1000))
    del a[10:]
    return a


def _small_function():
    pass


def _large_function(a, b, *args, c=1, **kwargs):
    x = [a, b, c]
    y = {k: v for k, v in kwargs.items()}

    def inner():
        return x, y, a

    for i in range(10):
        x.append(i * (a + b))
    try:
        z = sum(x) / len(y)
    except ZeroDivisionError:
        z = 0
    return inner, z, args


def _frame_live():
    return sys._getframe()


def _frame_of_cells(a):
    def inner():
        return a

    return sys._getframe(), inner


def _generator():
    x = [1, 2, 3]
    yield from x


def _suspended_generator():
    gen = _generator()
    next(gen)
    return gen


async def _coroutine(n):
    return n


async def _async_generator():
    yield 1


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
    "OrderedDict empty": collections.OrderedDict(),
    "OrderedDict small": collections.OrderedDict(a=1),
    "OrderedDict grown": _ordered_dict_grown(),
    "OrderedDict shrunk": _ordered_dict_shrunk(),
    "OrderedDict emptied": _ordered_dict_emptied(),
    "OrderedDict subclass": OrderedDictSub(a=1, b=2),
    "deque empty": collections.deque(),
    "deque small": collections.deque([1, 2, 3]),
    "deque maxlen": collections.deque(range(100), maxlen=10),
    "deque many blocks": _deque_many_blocks(),
    "deque shrunk": _deque_shrunk(),
    "deque subclass": DequeSub(range(200)),
    "array empty": array.array("b"),
    "array b": array.array("b", range(100)),
    "array f": array.array("f", [0.5] * 7),
    "array H grown": _array_grown("H"),
    "array i grown": _array_grown("i"),
    "array q grown": _array_grown("q"),
    "array d": array.array("d", [1.5] * 33),
    "array shrunk": _array_shrunk(),
    "array subclass": ArraySub("l", range(10)),
    "a class named array.array": type("array.array", (), {})(),
    "code small": _small_function.__code__,
    "code large": _large_function.__code__,
    "code with cells": _frame_of_cells.__code__,
    "code of a module": compile("x = 1\nfor i in range(3):\n    x += i\n", "<m>", "exec"),
    "frame live": _frame_live(),
    "frame with cells": _frame_of_cells(1)[0],
    "generator fresh": _generator(),
    "generator suspended": _suspended_generator(),
    "generator exhausted": (lambda g: (list(g), g)[1])(_generator()),
    "async generator": _async_generator(),
}


def test_sizeof_of_coroutines_equals_sys_getsizeof():
    # GIVEN a fresh and a suspended coroutine
    class Suspend:
        def __await__(self):
            yield

    async def waits():
        await Suspend()

    fresh, suspended = _coroutine(1), waits()
    suspended.send(None)
    try:
        # WHEN memlens sizes them, THEN the sizes are what sys.getsizeof says
        for coro in (fresh, suspended):
            assert _heap.sizeof(coro) == sys.getsizeof(coro)
    finally:
        fresh.close()
        suspended.close()


def test_sizeof_of_a_live_frame_equals_sys_getsizeof():
    # GIVEN the frame that is running right now
    frame = sys._getframe()
    # WHEN memlens sizes it, THEN it is what sys.getsizeof says
    assert _heap.sizeof(frame) == sys.getsizeof(frame)


def test_sizeof_of_code_with_an_opcache_equals_sys_getsizeof():
    # GIVEN a function called often enough for 3.9/3.10 to build its opcache
    def hot():
        return len(sys.path) + len(array.__name__)

    for _ in range(3000):
        hot()
    # WHEN memlens sizes its code, THEN it is what sys.getsizeof says
    assert _heap.sizeof(hot.__code__) == sys.getsizeof(hot.__code__)


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
    # THEN the sizes are exactly what sys.getsizeof says (never garbage)
    for obj, size in zip((generator, coro, gen.__code__), sizes):
        assert size == sys.getsizeof(obj)


def test_arrays_of_an_array_module_imported_after_memlens_are_sized_as_arrays():
    # GIVEN memlens imported first (it does not import array itself)
    program = (
        "import sys\n"
        "from memlens import _heap\n"
        "assert 'array' not in sys.modules\n"
        "import array\n"
        "a = array.array('q', range(1000))\n"
        "print(_heap.sizeof(a), sys.getsizeof(a))\n"
    )
    import subprocess

    # WHEN an array made later is sized
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    # THEN its item buffer is counted, as sys.getsizeof counts it
    assert result.returncode == 0, result.stderr
    ours, theirs = result.stdout.split()
    assert ours == theirs and int(ours) > 8000
