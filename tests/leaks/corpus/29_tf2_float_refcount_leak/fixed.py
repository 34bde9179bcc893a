"""The same converter releasing its reference to each float (ros/geometry2#251).

The fix calls ``Py_DECREF`` on every PyObject the converter creates once it has
been stored; here, no extra reference is taken.
"""

import itertools


class Vector3:
    __slots__ = ("x", "y", "z")


class Quaternion:
    __slots__ = ("x", "y", "z", "w")


class Transform:
    def __init__(self):
        self.translation = Vector3()
        self.rotation = Quaternion()


class TransformStamped:
    def __init__(self, frame_id, child_frame_id):
        self.header_frame_id = frame_id
        self.child_frame_id = child_frame_id
        self.transform = Transform()


def _set_float(obj, name, value):
    """PyObject_SetAttrString(obj, name, PyFloat_FromDouble(value)), then Py_DECREF."""
    pyfloat = value + 0.0  # PyFloat_FromDouble: a new float, a new reference we own
    setattr(obj, name, pyfloat)  # PyObject_SetAttrString takes its own reference
    del pyfloat  # Py_DECREF(pyfloat): ours is released


def transform_converter(frame_id, child_frame_id, stamp):
    """Build the Python message for one lookupTransform() result."""
    msg = TransformStamped(frame_id, child_frame_id)
    t, r = msg.transform.translation, msg.transform.rotation
    for name, value in zip("xyz", (0.5 + stamp, -1.25 * stamp, 0.75)):
        _set_float(t, name, value)
    for name, value in zip("xyzw", (0.0, 0.0, stamp * 1e-3, 1.0 - stamp * 1e-6)):
        _set_float(r, name, value)
    return msg


_stamps = itertools.count()


def request(i):
    """One lookupTransform('map', 'base_link') from the navigation stack."""
    stamp = next(_stamps) * 0.01
    msg = transform_converter("map", "base_link", stamp)
    return msg.transform.translation.x


def main(requests=20000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("looked transforms up; no float outlives its message")
