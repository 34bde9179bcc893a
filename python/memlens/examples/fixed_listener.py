"""Fixed: the widget unsubscribes when it is closed, so the bus lets it go.

    python -m memlens.examples.fixed_listener
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


bus = EventBus()


class Widget:
    def __init__(self, name):
        self.name = name
        self.buffer = bytearray(256)
        bus.subscribe(self.on_event)

    def on_event(self, event):
        self.buffer[0] = len(event) % 256

    def close(self):
        bus.unsubscribe(self.on_event)  # the fix: the registration is undone


def work(n):
    """One unit of work: a widget that is shown, then closed and dropped."""
    widget = Widget("widget-%d" % n)
    try:
        widget.on_event("shown")
    finally:
        widget.close()


if __name__ == "__main__":
    run_example(work)
