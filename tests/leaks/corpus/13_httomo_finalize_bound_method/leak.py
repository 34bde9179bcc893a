"""Readers that register their own bound method with weakref.finalize.

Rebuilt from DiamondLightSource/httomo#265 (issue #264): ``DataSetStoreReader``
and ``DataSetStoreWriter`` called ``weakref.finalize(self, self.finalize)``.
``weakref.finalize`` keeps its callback in a class-level registry until the
object dies; the callback is a bound method of the object, so the object never
dies, and every reader and writer of every pipeline section stayed in memory.
"""

import weakref


class DataSetStoreReader:
    def __init__(self, path, chunk_shape):
        self.path = path
        self.chunk_shape = chunk_shape
        self._buffer = bytearray(chunk_shape[0] * chunk_shape[1])
        self._closed = False
        weakref.finalize(self, self.finalize)

    def read_block(self, start, length):
        return memoryview(self._buffer)[start:start + length]

    def finalize(self):
        """Close the backing file (here: release the buffer)."""
        self._closed = True
        self._buffer = None


def run_section(section, reader):
    total = 0
    for start in range(0, len(reader._buffer), 4096):
        total += len(reader.read_block(start, 4096))
    return total


def request(i):
    """One pipeline section reads its input chunk through a fresh reader."""
    reader = DataSetStoreReader("/tmp/httomo/section_%d.h5" % i, (64, 256))
    return run_section(i, reader)


def main(requests=1000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    alive = sum(1 for f in weakref.finalize._registry if isinstance(f.peek()[0] if f.peek() else None, DataSetStoreReader))
    print(f"ran pipeline sections; readers kept alive by their finalizers: {alive}")
