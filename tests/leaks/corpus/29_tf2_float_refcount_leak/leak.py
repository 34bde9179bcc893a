"""A C++-to-Python message converter that never releases the floats it creates.

Rebuilt from ros/geometry2#251: tf2_py's ``transform_converter`` filled the
Python message with ``PyObject_SetAttrString(ptranslation, "x",
PyFloat_FromDouble(...))``. ``PyFloat_FromDouble`` returns a new reference and
``PyObject_SetAttrString`` takes its own, so every float set this way kept one
reference that was never released: robots running for days lost memory on
every transform lookup. The forgotten ``Py_DECREF`` is simulated with
``ctypes.pythonapi.Py_IncRef`` on each new float.
"""

import ctypes
import itertools

ctypes.pythonapi.Py_IncRef.argtypes = [ctypes.py_object]
ctypes.pythonapi.Py_IncRef.restype = None


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
    """PyObject_SetAttrString(obj, name, PyFloat_FromDouble(value)), without the DECREF."""
    pyfloat = value + 0.0  # PyFloat_FromDouble: a new float, a new reference we own
    setattr(obj, name, pyfloat)  # PyObject_SetAttrString takes its own reference
    ctypes.pythonapi.Py_IncRef(pyfloat)  # ours is never released: the missing Py_DECREF


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
    print("looked transforms up; 7 floats per lookup are still alive with no owner")
