"""The same previews copied out of each recording, into a preallocated array.

As the numpy maintainers answered in numpy/numpy#15746 and documented
(numpy/numpy#13099): copy a small part of a large array you no longer need
(``s[0:50].copy()``), so the large array can be freed. The copies go into a
preallocated ring of rows, so keeping them does not grow either.
"""

import itertools

import numpy as np

PREVIEWS = 4096
accum = np.zeros((PREVIEWS, 50))
_stored = itertools.count()


def load_recording(n, samples=25_000):
    """Decode one recording (here: synthesize it)."""
    t = np.arange(samples, dtype=np.float64)
    return np.sin(t * (0.001 * (1 + n % 7)))


_recordings = itertools.count()


def request(i):
    """Index one uploaded recording: keep its first 50 samples as a preview."""
    s = load_recording(next(_recordings))
    row = accum[next(_stored) % PREVIEWS]
    row[:] = s[0:50]  # copied: s is freed when this function returns
    return float(row[-1])


def main(requests=120):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"indexed recordings; previews kept in {accum.nbytes / 2**20:.1f} MiB, recordings freed")
