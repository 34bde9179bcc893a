"""Fixed: each Session gets its own history list, which dies with the Session.

    python -m memlens.examples.fixed_class_attribute
"""
from memlens.examples._harness import run_example


class Event:
    def __init__(self, name, data):
        self.name = name
        self.data = data


class Session:
    def __init__(self, user):
        self.user = user
        self.history = []  # the fix: per instance

    def record(self, event):
        self.history.append(event)


def work(n):
    """One unit of work: a short-lived session that records one event."""
    session = Session("user-%d" % (n % 10))
    session.record(Event("click", {"x": n % 640, "y": n % 480}))


if __name__ == "__main__":
    run_example(work)
