"""Keeping the first samples of each recording as a slice, which pins the recording.

Rebuilt from numpy/numpy#15746 (and #10273, #19091): a loop loads a sound,
slices its first samples (``s[0:50]``) and appends the slice to a list. A basic
slice is a view: it keeps its ``base``, the whole recording, alive, so memory
grows by a full recording per iteration although only 50 samples are kept.
"""

import itertools

import numpy as np

accum = list()


def load_recording(n, samples=25_000):
    """Decode one recording (here: synthesize it)."""
    t = np.arange(samples, dtype=np.float64)
    return np.sin(t * (0.001 * (1 + n % 7)))


_recordings = itertools.count()


def request(i):
    """Index one uploaded recording: keep its first 50 samples as a preview."""
    s = load_recording(next(_recordings))
    s_slice = s[0:50]
    accum.append(s_slice)
    return float(s_slice[-1])


def main(requests=120):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    pinned = sum(a.base.nbytes for a in accum if a.base is not None)
    print(f"indexed recordings; {len(accum)} previews of 400 bytes pin {pinned / 2**20:.1f} MiB of recordings")
