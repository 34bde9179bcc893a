"""An embedding bridge that adds a reference to every object a call returns.

Rebuilt from JuliaPy/PyCall.jl#558 (issue #542): PyCall wrapped the result of
``PyObject_Call`` in a PyObject and incremented its reference count, but
``PyObject_Call`` already returns a new reference, so every result of every
Python call made from Julia kept one reference too many and was never freed.
The host side (Julia) is played here by the caller; the extra reference is
taken with ``ctypes.pythonapi.Py_IncRef``, as the C code did.
"""

import ctypes
import itertools

ctypes.pythonapi.Py_IncRef.argtypes = [ctypes.py_object]
ctypes.pythonapi.Py_IncRef.restype = None


class Prediction:
    """What the Python model returns to the Julia pipeline."""

    def __init__(self, label, scores):
        self.label = label
        self.scores = scores


def predict(features):
    scores = [f * 0.5 for f in features]
    return Prediction(label=max(range(len(scores)), key=scores.__getitem__), scores=scores)


def pycall(func, *args):
    """PyCall's call path: PyObject_Call, then wrap the (new) reference."""
    ret = func(*args)  # PyObject_Call returns a new reference
    ctypes.pythonapi.Py_IncRef(ret)  # the wrapper's Py_INCREF: one too many
    return ret


_rows = itertools.count()


def request(i):
    """Julia scores one row through the Python model and keeps only the label."""
    n = next(_rows)
    result = pycall(predict, [float((n + k) % 17) for k in range(16)])
    return result.label


def main(requests=6000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("scored rows; every Prediction is still alive with nothing referring to it")
