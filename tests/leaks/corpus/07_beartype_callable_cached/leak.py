"""A decoration-time check memoized forever on the callables it is asked about.

Rebuilt from beartype/beartype#673: under ``beartype_this_package()`` a closure
defined inside a function is re-decorated on every call of that function, and
the decoration gate ``is_object_blacklisted()`` is memoized by
``@callable_cached``, whose cache is a plain dict in the decorator's closure,
keyed by the arguments with strong references and no eviction. Each call adds
the fresh closure, and everything the closure captures, to that dict.
"""

import functools
import re

BLACKLISTED_MODULES = frozenset({"builtins", "typing", "abc"})


def callable_cached(func):
    """Memoize ``func`` on its positional arguments (as beartype's utility does)."""
    params_flat_to_return_value = {}

    @functools.wraps(func)
    def _callable_cached(*args):
        try:
            return params_flat_to_return_value[args]
        except KeyError:
            return_value = params_flat_to_return_value[args] = func(*args)
            return return_value

    return _callable_cached


@callable_cached
def is_object_blacklisted(obj):
    return getattr(obj, "__module__", None) in BLACKLISTED_MODULES


def beartype(func):
    """Decorate ``func`` unless it is blacklisted (the type-checking wrapper is elided)."""
    if is_object_blacklisted(func):
        return func
    return func


class Widget:
    def __init__(self):
        self.template = ["<span>%s</span>"] * 32

    def render(self, text):
        return self.template[0] % text


def process(x):
    widget = Widget()  # created per call, captured by the closure

    @beartype  # what the import hook applies to every nested def, on every call
    def on_match(match):
        return widget.render(match.group(0))

    return re.sub(r"\d+", on_match, "value %d" % x)


def request(i):
    return process(i)


def main(requests=3000):
    out = ""
    for i in range(requests):
        out = request(i)
    return out


if __name__ == "__main__":
    main()
    print("processed values; is_object_blacklisted() cache entries:",
          len(is_object_blacklisted.__closure__[1].cell_contents))
