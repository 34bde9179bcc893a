"""Deep sizes of objects, as ``pympler.asizeof``.

``asizeof(obj)`` is the size of ``obj`` plus the sizes of everything it
reaches, each counted once and rounded up to ``align`` (8) bytes, computed
in Rust (``memlens._core.DeepSizer``). As in pympler: classes, functions,
code and plain ``object()`` instances count 0 (classes, functions and code
count with ``code=True``), frames count 0 unless ``frames=True``, a module reached from
another object counts its own size only, ``limit`` bounds the depth.

Unlike pympler, the instance attributes of 3.11+ objects are read in place:
no ``__dict__`` is created (pympler #170), so an instance's deep size has no
dict in it unless the instance already had one.
"""
import gc
import struct
import sys
import types

from memlens import _core

__all__ = ["Asized", "Asizer", "asized", "asizeof", "asizesof", "basicsize", "flatsize", "itemsize", "leng", "named_refs",
           "refs"]

_DEFAULTS = {
    "above": 0,
    "align": 8,
    "all": False,
    "clip": 80,
    "code": False,
    "cutoff": 10,
    "derive": False,
    "detail": 0,
    "frames": False,
    "ignored": True,
    "infer": False,
    "limit": 100,
    "stats": 0,
}
_CALLABLE_CODE = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.MethodType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)


# Options a function does not take (pympler: ``all`` is asizeof's only).
_NOT_TAKEN = {"asizesof": ("all",), "asized": ("all",)}


def _options(where, opts):
    """The options with defaults; KeyError on an unknown one and ValueError
    on an alignment that is not a power of 2, as pympler raises."""
    for name in opts:
        if name not in _DEFAULTS or name in _NOT_TAKEN.get(where, ()):
            raise KeyError("invalid option: %s(%s=%r)" % (where, name, opts[name]))
    options = dict(_DEFAULTS, **opts)
    align = options["align"]
    if align > 1 and (align - 1) & align:
        raise ValueError("invalid option: %s(align=%r)" % (where, align))
    return options


def _sizer(options, excluded_types=()):
    zero_types = (object,) + tuple(excluded_types)
    if not options["code"]:
        zero_types += _CALLABLE_CODE
    if not options["frames"]:
        zero_types += (types.FrameType,)
    return _core.DeepSizer(zero_types, (types.ModuleType,), options["align"], options["limit"],
                           bool(options["code"]))


def _all_objects(objs, options):
    if not objs and options["all"]:
        return tuple(gc.get_objects())
    return objs


def asizeof(*objs, **opts):
    """The combined deep size in bytes of the objects (shared parts once)."""
    options = _options("asizeof", opts)
    objs = _all_objects(objs, options)
    sizer = _sizer(options)
    for obj in objs:
        sizer.mark(obj)
    return sum(sizer.size(obj, 0, True) for obj in _unique(objs))


def asizesof(*objs, **opts):
    """A tuple with the deep size of each object; what an earlier object
    already counted is not counted again."""
    options = _options("asizesof", opts)
    sizer = _sizer(options)
    for obj in objs:
        sizer.mark(obj)
    sizes = {}
    for obj in objs:
        if id(obj) not in sizes:
            sizes[id(obj)] = sizer.size(obj, 0, True)
    return tuple(sizes[id(obj)] for obj in objs)


def _unique(objs):
    seen = set()
    for obj in objs:
        if id(obj) not in seen:
            seen.add(id(obj))
            yield obj


class Asized(object):
    """Size information of one object: ``size`` (deep), ``flat`` (its own),
    ``name`` (its repr, clipped) and ``refs`` (an ``Asized`` per referent, down
    to the ``detail`` level)."""

    __slots__ = ("flat", "name", "refs", "size")

    def __init__(self, size, flat, refs=(), name=None):
        self.size = size
        self.flat = flat
        self.name = name
        self.refs = tuple(refs)

    def __str__(self):
        return "size %r, flat %r, refs[%d], name %r" % (self.size, self.flat, len(self.refs), self.name)

    def format(self, format="%(name)s size=%(size)d flat=%(flat)d", depth=-1, order_by="size", indent=""):
        """This object's line and, indented, its referents' lines, down to
        ``depth`` levels (-1: all), referents ordered by ``order_by``
        (``'size'`` and ``'flat'`` largest first, ``'name'`` alphabetical)."""
        text = indent + (format % dict(size=self.size, flat=self.flat, name=self.name))
        if depth and self.refs:
            refs = sorted(self.refs, key=lambda ref: getattr(ref, order_by), reverse=order_by in ("size", "flat"))
            lines = [ref.format(format=format, depth=depth - 1, order_by=order_by, indent=indent + "    ") for ref in refs]
            text = "\n".join([text] + lines)
        return text

    def get(self, name, dflt=None):
        """The referent named ``name``, or ``dflt``."""
        for ref in self.refs:
            if name == ref.name:
                return ref
        return dflt


def _clipped_repr(obj, clip):
    try:
        text = repr(obj)
    except Exception:
        return "N/A"
    if clip and len(text) > clip:
        return text[: clip - 4] + ".." + text[-2:]
    return text


def _asized(sizer, obj, depth, detail, clip, again=False, name=None):
    if name is None:
        name = _clipped_repr(obj, clip)
    if depth >= detail:
        size = sizer.size(obj, depth, again)
        return Asized(size, sizer.flat(obj) if size else 0, name=name)
    if not sizer.mark(obj) and not again:
        return Asized(0, 0, name=name)
    flat = sizer.flat(obj)
    if flat == 0:
        return Asized(0, 0, name=name)
    refs = []
    inline = []
    for child_name, child in _named_children(sizer, obj, depth, clip):
        if child_name is _INLINE:
            inline.append(child)
        else:
            refs.append(_asized(sizer, child, depth + 1, detail, clip, name=child_name))
    if inline:
        refs.append(_inline_attributes(sizer, obj, inline, depth + 1, detail, clip))
    return Asized(flat + sum(ref.size for ref in refs), flat, refs, name=name)


_INLINE = object()  # marks an attribute stored in the object itself (3.11+), not in a __dict__


def _named_children(sizer, obj, depth, clip):
    """``(name, child)`` for what sizing ``obj`` enters, named by role as
    pympler names them: ``[K] key`` and ``[V] key: value`` in a dict,
    ``__class__``, ``__dict__`` and slot names in an instance."""
    children = sizer.children(obj, depth)
    tp = type(obj)
    if isinstance(obj, dict):
        names = {}
        for key, value in dict.items(obj):
            key_text = key if isinstance(key, str) else _clipped_repr(key, clip)
            names.setdefault(id(key), "[K] %s" % key_text)
            names.setdefault(id(value), "[V] %s: %s" % (key_text, _clipped_repr(value, clip)))
        return [(names.get(id(child)) or _clipped_repr(child, clip), child) for child in children]
    instance = not isinstance(obj, type) and tp.__flags__ & _HEAPTYPE
    slots = _slot_names(tp) if instance else ()
    named = []
    for child in children:
        label = _core.edge_label(obj, child)
        if instance and label and label not in slots and label not in ("__class__", "__dict__") \
                and not label.startswith("["):
            named.append((_INLINE, (label, child)))
        elif label and not label.startswith("["):
            named.append((label, child))
        else:
            named.append((_clipped_repr(child, clip), child))
    return named


def _inline_attributes(sizer, obj, attributes, depth, detail, clip):
    """The ``__dict__`` entry of an instance whose attributes live inline:
    no dict exists, so it counts only the values (flat 0)."""
    if depth >= detail:
        size = sum(sizer.size(value, depth) for _name, value in attributes)
        return Asized(size, 0, name="__dict__")
    refs = [_asized(sizer, value, depth + 1, detail, clip,
                    name="[V] %s: %s" % (attr, _clipped_repr(value, clip))) for attr, value in attributes]
    return Asized(sum(ref.size for ref in refs), 0, refs, name="__dict__")


def asized(*objs, **opts):
    """An ``Asized`` for each object (the object itself when only one is
    given), with referents down to ``detail`` levels."""
    options = _options("asized", opts)
    sizer = _sizer(options)
    for obj in objs:
        sizer.mark(obj)
    sized = tuple(_asized(sizer, obj, 0, options["detail"], options["clip"], again=True) for obj in objs)
    if len(sized) == 1:
        return sized[0]
    return sized


_TPFLAGS_HAVE_GC = 1 << 14
# The garbage collector's header in front of each tracked object as pympler
# counts it in a GC type's basic size: three words rounded up to 16 bytes
# (32 on 64-bit; CPython's is two words, sys.getsizeof([]) - [].__sizeof__()).
_sizeof_CPyGC_Head = (3 * struct.calcsize("P") + 15) & ~15
# One entry of a dict's table (hash, key, value) and of a set's (key, hash).
_sizeof_CPyDictEntry = 3 * struct.calcsize("P")
_sizeof_Csetentry = 2 * struct.calcsize("P")


def basicsize(obj, **opts):
    """The basic size of the object's type, as pympler gives it:
    ``__basicsize__`` plus the GC header for the types the GC tracks."""
    _options("basicsize", opts)
    tp = type(obj)
    return tp.__basicsize__ + (_sizeof_CPyGC_Head if tp.__flags__ & _TPFLAGS_HAVE_GC else 0)


def itemsize(obj, **opts):
    """The size of one item of the object's type, as pympler gives it: a
    dict's or set's table entry, a list's pointer, one byte of a str or
    bytes, else ``__itemsize__``."""
    _options("itemsize", opts)
    tp = type(obj)
    if issubclass(tp, dict):
        return _sizeof_CPyDictEntry
    if issubclass(tp, (set, frozenset)):
        return _sizeof_Csetentry
    if issubclass(tp, list):
        return _POINTER
    if issubclass(tp, (str, bytes, bytearray)):
        return 1
    return tp.__itemsize__


def flatsize(obj, align=0, **opts):
    """The object's own size in bytes, rounded up to ``align`` (a power of 2);
    ValueError on another alignment."""
    if align > 1:
        if (align - 1) & align:
            raise ValueError("invalid option: flatsize(align=%r)" % (align,))
        mask = align - 1
    else:
        mask = 0
    return (_core.sizeof(obj) + mask) & ~mask


_POINTER = struct.calcsize("P")
_HEAPTYPE = 1 << 9


def leng(obj, **opts):
    """The number of items of ``obj``, as pympler counts them (allocated
    slots of a list or set, digits of an int), or None for an object
    without items."""
    _options("leng", opts)
    tp = type(obj)
    if issubclass(tp, int):
        bits = sys.int_info.bits_per_digit
        return (abs(int(obj)).bit_length() + bits - 1) // bits
    if issubclass(tp, list):
        return (list.__sizeof__(obj) - list.__sizeof__([])) // _POINTER
    if issubclass(tp, (set, frozenset)):
        return (set.__sizeof__(obj) - set.__sizeof__(set())) // (2 * _POINTER) or len(obj)
    if issubclass(tp, (tuple, str, bytes, bytearray, dict)):
        return len(obj)
    return None


def _slot_names(tp):
    names = set()
    for klass in tp.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    return names


def _labelled_referents(obj):
    """``(label, referent)`` of what ``obj`` refers to, as the walker names it (type left out)."""
    for referent in _core.referents(obj):
        label = _core.edge_label(obj, referent)
        if label != "__class__" or referent is not type(obj):
            yield label, referent


def refs(obj, **opts):
    """What ``obj`` refers to, as pympler's ``refs``: an instance gives its
    class, its attributes as one dict (a copy when they live inline in the
    object: no ``__dict__`` is created) and the values of its ``__slots__``; other
    objects give their referents."""
    _options("refs", opts)
    if isinstance(obj, type) or not (type(obj).__flags__ & _HEAPTYPE):
        return (referent for _label, referent in _labelled_referents(obj))
    slots = _slot_names(type(obj))
    attributes, others = {}, [type(obj)]
    for label, referent in _labelled_referents(obj):
        if label == "__dict__":
            others.insert(1, referent)
        elif label and label not in slots and not label.startswith("["):
            attributes[label] = referent
        else:
            others.append(referent)
    if attributes:
        others.insert(1, attributes)
    return iter(others)


def named_refs(obj, **opts):
    """``[(name, referent)]`` of the named referents of ``obj``: attributes
    (inline, ``__dict__``, ``__slots__``) and the fields a C type exposes
    (a traceback's ``tb_frame``, a ``stat_result``'s ``st_mode``), read
    through the C type's own descriptors, never a Python property."""
    _options("named_refs", opts)
    named = [(label, referent) for label, referent in _labelled_referents(obj)
             if label and not label.startswith("[")]
    seen = {name for name, _ in named}
    tp = type(obj)
    doc = tp.__dict__.get("__doc__")
    if isinstance(doc, str) and "__doc__" not in seen:
        named.append(("__doc__", doc))
        seen.add("__doc__")
    for klass in tp.__mro__:
        for name, descriptor in klass.__dict__.items():
            # A member or C getter runs no Python code; ``__dict__`` would create the dict.
            if name in seen or name in ("__dict__", "__weakref__") or not isinstance(descriptor, (types.MemberDescriptorType, types.GetSetDescriptorType)):
                continue
            try:
                value = descriptor.__get__(obj, tp)
            except Exception:  # an unset slot, or a field this object lacks
                continue
            named.append((name, value))
            seen.add(name)
    return named


# Options that change what the Rust sizer counts (the others only change output).
_SIZER_OPTIONS = ("align", "code", "frames", "limit")


class Asizer(object):
    """A sizer that remembers what it counted between calls, as pympler's:
    an object sized by an earlier call counts 0 in a later one, ``total``
    is the sum of all the calls, ``duplicate`` the number of objects
    reached more than once. Options are those of :func:`asizeof`, given to
    the constructor, :meth:`set`, :meth:`reset` or a call. Changing one of
    the sizing options (``align``, ``code``, ``frames``, ``limit``) starts
    counting afresh (``total`` is kept): objects counted before count again.
    """

    def __init__(self, **opts):
        self._excluded_types = ()
        self.reset(**opts)

    def reset(self, **opts):
        """All options to their defaults (or ``opts``), nothing counted, no exclusions."""
        self._options = _options("reset", opts)
        self._excluded_types = ()
        self._excluded_refs = []
        self._total = 0
        self._duplicates_before = 0
        self._sizer = _sizer(self._options)

    def set(self, **opts):
        """Change some options; the others keep their values."""
        options = dict(self._options, **_given(_options("set", opts), opts))
        rebuild = any(options[name] != self._options[name] for name in _SIZER_OPTIONS)
        self._options = options
        if rebuild:
            self._new_sizer()

    def _new_sizer(self):
        self._duplicates_before += self._sizer.duplicates()
        self._sizer = _sizer(self._options, self._excluded_types)
        for obj in self._excluded_refs:
            self._sizer.exclude_refs(obj)

    def exclude_types(self, *objs):
        """Count instances of the types of ``objs`` (types given as such) as 0 from now on."""
        types_ = [obj if isinstance(obj, type) else type(obj) for obj in objs]
        self._excluded_types = tuple(dict.fromkeys(self._excluded_types + tuple(types_)))
        self._new_sizer()

    def exclude_refs(self, *objs):
        """Count ``objs`` flat from now on: what they refer to is not counted through them."""
        for obj in objs:
            self._excluded_refs.append(obj)
            self._sizer.exclude_refs(obj)

    def exclude_objs(self, *objs):
        """Count ``objs`` as 0 from now on (as if already counted)."""
        for obj in objs:
            self._sizer.mark(obj)

    def _call_options(self, where, opts):
        if opts:
            _options(where, opts)
            self.set(**opts)

    def asizeof(self, *objs, **opts):
        """The combined deep size of ``objs``, leaving out what this sizer counted before."""
        self._call_options("asizeof", opts)
        size = sum(self._sizer.size(obj, 0, False) for obj in objs)
        self._total += size
        return size

    def asizesof(self, *objs, **opts):
        """The deep size of each of ``objs`` (0 for a repeat or what was counted before)."""
        self._call_options("asizesof", opts)
        sizes = tuple(self._sizer.size(obj, 0, False) for obj in objs)
        self._total += sum(sizes)
        return sizes

    def asized(self, *objs, **opts):
        """An :class:`Asized` per object (the object's alone when one is given)."""
        self._call_options("asized", opts)
        sized = tuple(_asized(self._sizer, obj, 0, self._options["detail"], self._options["clip"]) for obj in objs)
        self._total += sum(one.size for one in sized)
        return sized[0] if len(sized) == 1 else sized

    @property
    def total(self):
        """The total size of everything this sizer counted, in bytes."""
        return self._total

    @property
    def duplicate(self):
        """How many objects were reached again after being counted."""
        return self._duplicates_before + self._sizer.duplicates()

    @property
    def excluded(self):
        """The types excluded by :meth:`exclude_types`."""
        return self._excluded_types

    above = property(lambda self: self._options["above"])
    align = property(lambda self: self._options["align"])
    clip = property(lambda self: self._options["clip"])
    code = property(lambda self: self._options["code"])
    cutoff = property(lambda self: self._options["cutoff"])
    derive = property(lambda self: self._options["derive"])
    detail = property(lambda self: self._options["detail"])
    frames = property(lambda self: self._options["frames"])
    ignored = property(lambda self: self._options["ignored"])
    infer = property(lambda self: self._options["infer"])
    limit = property(lambda self: self._options["limit"])
    stats = property(lambda self: self._options["stats"])


def _given(options, opts):
    """The entries of ``options`` that were given in ``opts``."""
    return {name: options[name] for name in opts}
