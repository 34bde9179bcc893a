"""Sizes include what an object owns: for every type whose ``__sizeof__`` is
native code, memlens reports what ``sys.getsizeof`` reports (a numpy array's
data buffer, an Arrow array's buffers, a BytesIO's buffer), in ``census()``,
``memlens.pympler`` and the graph walks; a ``__sizeof__`` written in Python
is never called."""
import array
import io
import mmap
import sys

import numpy as np
import pytest

import memlens
from memlens import _core
from memlens.pympler import asizeof, muppy, summary


def row(census, name):
    return census[name] if name in census else (0, 0)


def test_a_numpy_array_owns_its_buffer_and_a_view_does_not():
    # GIVEN a 24 MB array and a view of it
    # (held by a list: the census walks from objects the collector tracks)
    held = [np.zeros(3_000_000)]
    held.append(held[0][::2])
    big, view = held
    # THEN each is sized as sys.getsizeof sizes it
    assert _core.sizeof(big) == sys.getsizeof(big) > 24_000_000
    assert _core.sizeof(view) == sys.getsizeof(view) < 1000
    del big, view
    # AND the census counts the buffer once, with the array that owns it
    before = row(memlens.census(), "numpy.ndarray")
    held.pop()
    after = row(memlens.census(), "numpy.ndarray")
    assert before[0] - after[0] == 1
    assert 0 < before[1] - after[1] < 1000
    held.pop()
    gone = row(memlens.census(), "numpy.ndarray")
    assert after[1] - gone[1] == sys.getsizeof(np.zeros(3_000_000))


def test_pympler_and_summary_see_the_buffer():
    held = [np.ones(1_000_000)]
    big = held[0]
    assert asizeof.asizeof(big) >= sys.getsizeof(big) > 8_000_000
    rows = {r[0]: r for r in summary.summarize(muppy.get_objects())}
    assert rows["numpy.ndarray"][2] >= sys.getsizeof(big)
    del big


@pytest.mark.parametrize("make", [
    lambda: io.BytesIO(b"x" * 100_000),
    lambda: array.array("d", range(10_000)),
    lambda: mmap.mmap(-1, 1 << 20),
    lambda: bytearray(50_000),
    lambda: b"y" * 40_000,
], ids=["BytesIO", "array", "mmap", "bytearray", "bytes"])
def test_bytes_like_objects_are_sized_as_getsizeof_sizes_them(make):
    obj = make()
    assert _core.sizeof(obj) == sys.getsizeof(obj)


def test_a_python_sizeof_is_never_called():
    calls = []

    class Liar:
        def __sizeof__(self):
            calls.append(1)
            return 10**9

    liar = Liar()
    memlens.census()
    assert _core.sizeof(liar) < 1000
    assert asizeof.asizeof(liar) < 1000
    assert calls == []


def test_subclasses_keep_the_native_size_unless_they_override_it_in_python():
    class Plain(np.ndarray):
        pass

    class Lying(np.ndarray):
        def __sizeof__(self):
            raise AssertionError("a Python __sizeof__ must not be called")

    plain = np.zeros(100_000).view(Plain)
    lying = np.zeros(100_000).view(Lying)
    # A view owns no buffer either way; a copy of the subclass does.
    owner = plain.copy()
    assert _core.sizeof(owner) == sys.getsizeof(owner) > 800_000
    assert _core.sizeof(lying) < 1000
    memlens.census()


def test_a_pandas_frame_is_sized_through_its_arrays():
    pd = pytest.importorskip("pandas")
    before = row(memlens.census(), "numpy.ndarray")[1]
    held = {}
    held["frame"] = frame = pd.DataFrame({"a": np.arange(1_000_000, dtype="int64"), "b": np.zeros(1_000_000)})
    grown = row(memlens.census(), "numpy.ndarray")[1] - before
    # 16 MB of column data, held by the frame's numpy blocks.
    assert 16_000_000 <= grown < 16_000_000 * 1.1, grown
    assert asizeof.asizeof(frame) >= 16_000_000
    del frame


def test_pyarrow_arrays_are_sized_as_getsizeof_sizes_them():
    pa = pytest.importorskip("pyarrow")
    held = [pa.array(np.arange(1_000_000))]
    values = held[0]
    assert _core.sizeof(values) == sys.getsizeof(values) >= 8_000_000
    census = memlens.census()
    name = type(values).__module__ + "." + type(values).__qualname__
    assert row(census, name)[1] >= 8_000_000
