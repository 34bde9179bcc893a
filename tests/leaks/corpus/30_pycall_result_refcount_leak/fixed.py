"""The same bridge taking ownership of the new reference (JuliaPy/PyCall.jl#558).

"Since PyObject_Call returns a new reference, we don't need to increment the
reference count": the wrapper adopts the reference instead of adding one.
"""

import itertools


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
    return func(*args)  # PyObject_Call returns a new reference: adopt it


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
    print("scored rows; no Prediction outlives its row")
