"""Compiling a new regular expression per request: re's own cache is bounded.

Each request compiles a pattern it has never seen (a per-customer prefix).
``re.compile`` caches compiled patterns, but only the most recent few hundred
(``re._MAXCACHE``): after the first few hundred requests the cache is full and
old patterns are dropped as new ones come in.
"""

import itertools
import re

_ids = itertools.count()


def request(i):
    n = next(_ids)
    pattern = re.compile(r"^cust%06d-(?P<order>\d+)-(?P<line>\d+)$" % n)
    return bool(pattern.match("cust%06d-42-7" % n))


def main(requests=3000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"matched orders; patterns in re's cache: {len(re._cache)}")
