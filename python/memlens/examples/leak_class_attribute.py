"""Leak: a class-level list shared by all instances, appended to through ``self``.

``history = []`` in the class body creates ONE list, stored on the class.
``self.history.append(...)`` finds it through the class, so every Session
appends to the same list, which lives as long as the class: every Event of
every Session ever opened stays alive.

The fix (``fixed_class_attribute.py``): create the list per instance, in ``__init__``.

    python -m memlens.examples.leak_class_attribute
"""
from memlens.examples._harness import run_example


class Event:
    def __init__(self, name, data):
        self.name = name
        self.data = data


class Session:
    history = []  # the leak: one list on the class, shared by every instance

    def __init__(self, user):
        self.user = user

    def record(self, event):
        self.history.append(event)


def work(n):
    """One unit of work: a short-lived session that records one event."""
    session = Session("user-%d" % (n % 10))
    session.record(Event("click", {"x": n % 640, "y": n % 480}))


if __name__ == "__main__":
    run_example(work)
