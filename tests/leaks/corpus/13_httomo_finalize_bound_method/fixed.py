"""The same readers with a finalizer that does not refer to the reader.

DiamondLightSource/httomo#265 passes ``weakref.finalize`` a function and the
resources to release, not a bound method, as the weakref documentation says:
"func should not be a bound method of obj".
"""

import weakref


class DataSetStoreReader:
    def __init__(self, path, chunk_shape):
        self.path = path
        self.chunk_shape = chunk_shape
        self._buffer = bytearray(chunk_shape[0] * chunk_shape[1])
        self._closed = False
        self._finalizer = weakref.finalize(self, DataSetStoreReader._release, self._buffer)

    def read_block(self, start, length):
        return memoryview(self._buffer)[start:start + length]

    @staticmethod
    def _release(buffer):
        """Close the backing file (here: empty the buffer)."""
        del buffer[:]

    def finalize(self):
        self._closed = True
        self._finalizer()


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
