"""A bounded functools.lru_cache that fills up, then evicts as fast as it adds.

Every request renders a fragment for a (template, customer) pair never seen
before; the cache keeps the 256 most recent. Once full, each new entry evicts
the oldest one: memory stays flat however long it runs.
"""

import functools
import itertools


@functools.lru_cache(maxsize=256)
def render_fragment(template_id, customer_id):
    return "<div class='t%d'>%s</div>" % (template_id, ("customer %d " % customer_id) * 8)


_ids = itertools.count()


def request(i):
    n = next(_ids)
    return len(render_fragment(n % 40, n))


def main(requests=20000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"rendered fragments; cache {render_fragment.cache_info().currsize}/256 full")
