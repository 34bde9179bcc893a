"""Summaries of object lists, as ``pympler.summary``: a summary is a list of
rows ``[type label, number of objects, total size]``.

Type labels are pympler's: ``str``, ``__main__.Node``, ``function (name)``,
``module(name)``, ``frame (codename: name)``; a class whose metaclass has its
own ``repr`` keeps it (``<enum 'Color'>``). Counting and sizing happen in
Rust (``memlens._core.type_totals_of``); only functions, modules and frames,
whose labels name the object, are labelled one by one here.
"""
import re
import types

from memlens import _core

__all__ = ["summarize", "get_diff", "format_", "print_"]

# Exact types whose label names the object rather than its type.
_LABELLED_BY_OBJECT = (types.FunctionType, types.ModuleType, types.FrameType)

_TYPE_REPR = re.compile(r"^<(?:type|class) '(\S+)'>$")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _type_label(tp):
    label = _ADDRESS.sub("", str(tp))
    return _TYPE_REPR.sub(r"\1", label)


def _module_name(module):
    name = getattr(module, "__name__", None)
    if name is None:
        name = getattr(module, "__file__", "nameless, id: %d" % id(module))
    return name


# pympler's row labels that name the object, by exact type; the n-th entry is
# verbosity n + 1 (a higher verbosity gets the last one). Verbosity 0, and a
# type not in the table, get the type's label.
_LABELS_BY_VERBOSITY = {
    types.FrameType: [
        lambda f: "frame (codename: %s)" % f.f_code.co_name,
        lambda f: "frame (codename: %s, codeline: %s)" % (f.f_code.co_name, f.f_code.co_firstlineno),
        lambda f: "frame (codename: %s, filename: %s, codeline: %s)"
        % (f.f_code.co_name, f.f_code.co_filename, f.f_code.co_firstlineno),
    ],
    dict: [lambda d: _type_label(dict), lambda d: "dict, len=%d" % len(d)],
    types.FunctionType: [
        lambda f: "function (%s)" % f.__name__,
        lambda f: "function (%s.%s)" % (f.__module__, f.__name__),
    ],
    list: [lambda lst: _type_label(list), lambda lst: "list, len=%d" % len(lst)],
    types.ModuleType: [lambda m: "module(%s)" % _module_name(m)],
    set: [lambda st: _type_label(set), lambda st: "set, len=%d" % len(st)],
}


def _repr(o, verbosity=1):
    """pympler's row label of one object at ``verbosity`` (0: its type; 1: the summaries' labels)."""
    tp = type(o)
    labels = _LABELS_BY_VERBOSITY.get(tp)
    if verbosity == 0 or labels is None:
        return _type_label(tp)
    label = labels[min(verbosity, len(labels)) - 1](o)
    return _TYPE_REPR.sub(r"\1", _ADDRESS.sub("", label))


def _object_label(obj):
    return _repr(obj)


def _traverse(summary, function, *args):
    """Call ``function(x, *args)`` on the summary, each of its rows and each item of a row."""
    function(summary, *args)
    for row in summary:
        function(row, *args)
        for item in row:
            function(item, *args)


def _subtract(summary, o):
    """Take object ``o`` out of ``summary`` (in place): its row loses 1 and its size,
    or a negative row is appended. Returns the summary."""
    label, size = _repr(o), _core.sizeof(o)
    found = False
    for row in summary:
        if row[0] == label:
            row[1] -= 1
            row[2] -= size
            found = True
    if not found:
        summary.append([label, -1, -size])
    return summary


def _sweep(summary):
    """The rows whose count or size is not zero."""
    return [row for row in summary if row[1] != 0 or row[2] != 0]


def summarize(objects):
    """Summarize a list of objects: ``[[type label, count, total size], ...]``,
    in no particular order."""
    return _summary_rows(*_core.type_totals_of(objects, _LABELLED_BY_OBJECT))


def _summary_rows(type_rows, labelled_one_by_one):
    """Summary rows from per-type totals and the objects labelled one by one."""
    totals = {}
    for tp, count, size in type_rows:
        label = _type_label(tp)
        row = totals.setdefault(label, [label, 0, 0])
        row[1] += count
        row[2] += size
    for obj in labelled_one_by_one:
        label = _object_label(obj)
        row = totals.setdefault(label, [label, 0, 0])
        row[1] += 1
        row[2] += _core.sizeof(obj)
    return list(totals.values())


def get_diff(left, right):
    """The change from summary ``left`` to summary ``right``, per row label.

    A label on both sides gives ``[label, count change, size change]`` (zeros
    included); one only in ``right`` is its row; one only in ``left`` is
    negated."""
    left_rows = {row[0]: row for row in left}
    right_rows = {row[0]: row for row in right}
    diff = []
    for label in set(left_rows) | set(right_rows):
        before, after = left_rows.get(label), right_rows.get(label)
        if before and after:
            diff.append([label, after[1] - before[1], after[2] - before[2]])
        elif after:
            diff.append(after)
        else:
            diff.append([label, -before[1], -before[2]])
    return diff


_SORT_COLUMNS = ["type", "#", "size"]
_ORDERS = ["ascending", "descending"]


def format_(rows, limit=15, sort="size", order="descending"):
    """The rows as table lines (an iterator of str), sorted by ``'size'``,
    ``'#'`` or ``'type'``, ``'ascending'`` or ``'descending'``, at most
    ``limit`` of them. ValueError on another sort or order."""
    table = [list(row) for row in rows]
    if sort not in _SORT_COLUMNS:
        raise ValueError("invalid sort, should be one of" + str(_SORT_COLUMNS))
    if order not in _ORDERS:
        raise ValueError("invalid order, should be one of" + str(_ORDERS))
    column = _SORT_COLUMNS.index(sort)
    if column == 0:
        # pympler sorts 'type' by the label of each label, which is 'str' for
        # every row: the rows keep their order. Kept for identical output.
        key = lambda row: _object_label(row[0])  # noqa: E731
    else:
        key = lambda row: row[column]  # noqa: E731
    table.sort(key=key, reverse=(order == "descending"))
    table = table[:limit]
    for row in table:
        row[2] = _human_size(row[2])
    table.insert(0, ["types", "# objects", "total size"])
    return _table_lines(table)


def print_(rows, limit=15, sort="size", order="descending"):
    """Print the rows as ``format_`` lays them out."""
    for line in format_(rows, limit=limit, sort=sort, order=order):
        print(line)


_UNITS = ["B", "KB", "MB", "GB", "TB", "EB"]


def _human_size(size, base=1024):
    """pympler's size column: ``'  56     B'``, ``'   1.65 KB'``; negative
    sizes stay in bytes, as in pympler."""
    unit = 0
    if size <= base:
        return "%4d     %s" % (size, _UNITS[unit])
    value = size
    while value > base:
        value = value / float(base)
        unit += 1
    return "%7.2f %s" % (value, _UNITS[unit])


def _table_lines(table):
    """Right-justified columns one space wider than their widest cell on each
    side, separated by ``' | '``, with a ``=`` rule under the header."""
    widths = [max(len(str(cell)) + 2 for cell in column) for column in zip(*table)]
    yield " | ".join(str(cell).rjust(width) for cell, width in zip(table[0], widths))
    yield " | ".join("=" * width for width in widths)
    for row in table[1:]:
        yield " | ".join(str(cell).rjust(width) for cell, width in zip(row, widths))
