"""Churning floats and small tuples: the interpreter recycles them.

Each request computes statistics over fresh floats and returns coordinates as
small tuples. Freed floats and tuples go to CPython's free lists and pymalloc
pools and are reused by the next request, so nothing accumulates.
"""

import itertools
import math

_ids = itertools.count()


def request(i):
    n = next(_ids)
    values = [math.sin(n + k * 0.1) for k in range(200)]
    mean = sum(values) / len(values)
    points = [(v, v * 2.0, mean) for v in values[:50]]
    return max(p[1] for p in points)


def main(requests=5000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("computed statistics; floats and tuples recycled")
