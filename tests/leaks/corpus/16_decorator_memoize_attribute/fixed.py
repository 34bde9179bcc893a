"""The same method memoized per instance.

As micheles/decorator#14 suggests, the memo of a method belongs to the
instance: here it lives in the instance's ``__dict__`` and dies with it.
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


def memoize_method(f):
    """Memoize a method in its instance, keyed by the other arguments."""
    attr = "_memo_" + f.__name__

    @functools.wraps(f)
    def fun(self, *args, **kw):
        cache = self.__dict__.setdefault(attr, {})
        key = args, frozenset(kw.items())
        if key not in cache:
            cache[key] = f(self, *args, **kw)
        return cache[key]

    return fun


class Report:
    """One sales report, built per HTTP request."""

    def __init__(self, rows):
        self.rows = rows

    @memoize_method
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
    print("served reports; memoized results held: none once each report is gone")
