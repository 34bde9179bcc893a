"""Fixed: the closure keeps a counter, not every token it ever made.

    python -m memlens.examples.fixed_closure
"""
from memlens.examples._harness import run_example


class Token:
    def __init__(self, text, position):
        self.text = text
        self.position = position


def make_parser():
    count = 0  # the fix: keep what is needed, not the items themselves

    def parse(text):
        nonlocal count
        token = Token(text, count)
        count += 1
        return token.position

    return parse


parse = make_parser()


def work(n):
    """One unit of work: parse one token."""
    parse("token-%d" % n)


if __name__ == "__main__":
    run_example(work)
