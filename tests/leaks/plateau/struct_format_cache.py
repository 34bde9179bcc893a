"""Packing with varying struct formats: the struct module's cache is bounded.

Each request packs a record whose format depends on its number of fields
(``">%dH"``); the struct module caches compiled Struct objects for formats it
has seen, but only up to a fixed count, and empties the cache when full.
"""

import itertools
import struct

_ids = itertools.count()


def request(i):
    n = next(_ids)
    count = 1 + n % 400
    return len(struct.pack(">%dH" % count, *range(count)))


def main(requests=20000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("packed records with 400 formats; struct's cache stays bounded")
