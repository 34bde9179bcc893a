"""The decorator package's ``memoize`` example applied to a method.

Rebuilt from micheles/decorator#14: the documented ``memoize`` stores results in
``func.cache``, a dict attached to the decorated function, keyed by all the
arguments. On an instance method the key includes ``self``, so every instance
ever used is kept by the cache, with its results, after it is done; the example
had been copied into several projects as a production memoizer.
"""

import functools
import itertools


def decorate(func, caller):
    """A signature-keeping decorator: calls ``caller(func, *args, **kw)``."""

    @functools.wraps(func)
    def fun(*args, **kw):
        return caller(func, *args, **kw)

    return fun


def _memoize(func, *args, **kw):
    if kw:  # frozenset is used to ensure hashability
        key = args, frozenset(kw.items())
    else:
        key = args
    cache = func.cache  # attribute added by memoize
    if key not in cache:
        cache[key] = func(*args, **kw)
    return cache[key]


def memoize(f):
    f.cache = {}
    return decorate(f, _memoize)


class Report:
    """One sales report, built per HTTP request."""

    def __init__(self, rows):
        self.rows = rows

    @memoize
    def total(self, currency="EUR"):
        rate = {"EUR": 1.0, "USD": 1.08}[currency]
        return sum(amount for _, amount in self.rows) * rate


_requests = itertools.count()


def request(i):
    n = next(_requests)
    report = Report([("item-%d-%d" % (n, k), float(k + n % 13)) for k in range(25)])
    return report.total() + report.total(currency="USD")


def main(requests=2000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"served reports; memoized results held: {len(Report.total.cache)}")
