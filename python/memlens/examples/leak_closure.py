"""Leak: a closure capturing a list that it grows on every call.

``make_parser`` returns a function that closes over ``seen``; the list lives
in a closure cell for as long as the returned function does — here a module
global — and every call adds to it.

The fix (``fixed_closure.py``): keep only what is needed (a count), not every item.

    python -m memlens.examples.leak_closure
"""
from memlens.examples._harness import run_example


class Token:
    def __init__(self, text, position):
        self.text = text
        self.position = position


def make_parser():
    seen = []  # captured by parse() below, in a closure cell

    def parse(text):
        token = Token(text, len(seen))
        seen.append(token)  # the leak: the captured list grows on every call
        return token.position

    return parse


parse = make_parser()


def work(n):
    """One unit of work: parse one token."""
    parse("token-%d" % n)


if __name__ == "__main__":
    run_example(work)
