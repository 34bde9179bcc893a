"""The same registry holding subscribers weakly (scikit-hep/pyhf#1035).

The fix stores bound methods as ``weakref.WeakMethod`` (plain functions as
``weakref.ref``) and drops the dead ones, so a subscription no longer keeps its
object alive.
"""

import itertools
import weakref

__events = {}


class Callables(list):
    def append(self, func):
        ref = weakref.WeakMethod(func, self._flush) if hasattr(func, "__self__") else weakref.ref(func, self._flush)
        super().append(ref)

    def _flush(self, _dead_ref=None):
        self[:] = [ref for ref in self if ref() is not None]

    def __call__(self, *args, **kwargs):
        for ref in list(self):
            func = ref()
            if func is not None:
                func(*args, **kwargs)


def subscribe(event):
    """Decorator: register ``func`` to be called when ``event`` is triggered."""

    def __decorator(func):
        __events.setdefault(event, Callables()).append(func)
        return func

    return __decorator


def trigger(event):
    return __events.setdefault(event, Callables())


class _TensorViewer:
    def __init__(self, indices, batch_size=None, names=None):
        self.batch_size = batch_size
        self.names = names
        self._partition_indices = indices
        self._sorted_indices = sorted(i for part in indices for i in part)
        subscribe("tensorlib_changed")(self._precompute)
        self._precompute()

    def _precompute(self):
        self.sorted_indices = list(self._sorted_indices)
        self.index_selection = [list(part) for part in self._partition_indices]

    def stitch(self, data):
        return [data[i] for i in self.sorted_indices]


_models = itertools.count()


def request(i):
    """Build one model's tensor viewer (each workspace fit makes several)."""
    n = next(_models)
    viewer = _TensorViewer([list(range(n % 7, n % 7 + 40)), list(range(100, 140))], names=["hello"])
    return len(viewer.stitch(list(range(200))))


def main(requests=2000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"built models; viewers subscribed to 'tensorlib_changed': {len(trigger('tensorlib_changed'))}")
