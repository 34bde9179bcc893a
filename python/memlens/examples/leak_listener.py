"""Leak: a listener's bound method registered on a long-lived manager and never removed.

``bus.subscribe(self.on_event)`` stores a bound method, and a bound method
holds its ``self``: the event bus, a module global, keeps every Widget alive
(with its buffer) long after the program dropped it.

The fix (``fixed_listener.py``): unsubscribe when the widget is closed.

    python -m memlens.examples.leak_listener
"""
from memlens.examples._harness import run_example


class EventBus:
    def __init__(self):
        self._listeners = []

    def subscribe(self, callback):
        self._listeners.append(callback)

    def unsubscribe(self, callback):
        self._listeners.remove(callback)

    def publish(self, event):
        for callback in list(self._listeners):
            callback(event)


bus = EventBus()  # long-lived: a module global


class Widget:
    def __init__(self, name):
        self.name = name
        self.buffer = bytearray(256)
        bus.subscribe(self.on_event)  # the leak: never unsubscribed

    def on_event(self, event):
        self.buffer[0] = len(event) % 256


def work(n):
    """One unit of work: a widget that is shown, then dropped."""
    widget = Widget("widget-%d" % n)
    widget.on_event("shown")


if __name__ == "__main__":
    run_example(work)
