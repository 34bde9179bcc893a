"""Shared by the example scripts: call ``work`` in rounds and print what grows."""
import gc

import memlens
from memlens import _core


def run_example(work, rounds=5, calls=1000):
    """Call ``work(n)`` ``calls`` times per round, and print the census diff of each round."""
    for n in range(200):  # warm up: caches, lazy imports, bounded buffers filling up
        work(n)
    gc.collect()
    previous = memlens.census()
    n = 200
    for round_number in range(1, rounds + 1):
        for _ in range(calls):
            work(n)
            n += 1
        gc.collect()
        current = memlens.census()
        diff = memlens.census_diff(previous, current)
        growing = [row for row in diff.rows if row[1] >= calls // 2]
        if growing:
            summary = ", ".join("%s %+d" % (name, delta) for name, delta, _, _, _ in growing[:3])
        else:
            summary = "nothing grows"
        print("round %d: %d calls, %+d objects, %s: %s" % (
            round_number, calls, diff.count_delta, _human(diff.size_delta), summary))
        previous = current
    print("\nSee who holds it: memlens demo")


def _human(delta):
    return ("+" if delta >= 0 else "-") + _core.format_bytes(abs(delta))
