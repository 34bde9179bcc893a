"""``memlens demo``: the four classic leaks, found with memlens.

For each scenario in ``memlens.examples``: call the leaking version's
``work()`` in rounds, take a census after each round and show which types
grow per call; walk the heap and show the reference chain from the root (a
module global, a class attribute, a closure cell, a listener list) to one of
the leaked objects; then run the fixed version the same way and show that
nothing grows.
"""
import argparse
import gc
import importlib
import sys
import types

import memlens
from memlens import _core, _heap
from memlens.examples import SCENARIOS

ROUNDS = 3
WARMUP_CALLS = 200

TITLES = {
    "module_list": "a module-level list appended to in a function",
    "class_attribute": "a class-level list shared by all instances, appended to through self",
    "closure": "a closure capturing a list it grows on every call",
    "listener": "a listener's bound method registered on a long-lived manager, never removed",
}


def main(args):
    """Run the demo; exit code 0 when every leak is found and no fix grows."""
    parser = argparse.ArgumentParser(prog="memlens demo")
    parser.add_argument("--only", choices=SCENARIOS)
    parser.add_argument("--iterations", type=int, default=1000)
    options = parser.parse_args(args)
    if options.iterations < 10:
        print("memlens demo: --iterations must be at least 10", file=sys.stderr)
        return 2
    scenarios = [options.only] if options.only else list(SCENARIOS)
    out = sys.stdout
    out.write("memlens demo: the four classic Python leaks, found with memlens\n")
    out.write("Python %s; each scenario's work() is called %s times per round, %d rounds.\n"
              % (sys.version.split()[0], _thousands(options.iterations), ROUNDS))
    verdicts = []
    for number, name in enumerate(scenarios, 1):
        verdicts.append(_run_scenario(number, name, options.iterations, out))
    out.write("\n" + "=" * 78 + "\n")
    for name, (leak_found, fix_flat) in zip(scenarios, verdicts):
        out.write("  %-16s leak %-10s fix %s\n" % (
            name, "found" if leak_found else "NOT FOUND", "does not grow" if fix_flat else "STILL GROWS"))
    ok = all(leak and flat for leak, flat in verdicts)
    out.write("\nEach leak_<scenario>.py has its fix beside it in fixed_<scenario>.py (%s).\n"
              % _examples_dir())
    return 0 if ok else 1


def _run_scenario(number, name, iterations, out):
    leak = importlib.import_module("memlens.examples.leak_" + name)
    fixed = importlib.import_module("memlens.examples.fixed_" + name)
    out.write("\n" + "=" * 78 + "\n")
    out.write("%d. %s: %s\n" % (number, name, TITLES[name]))
    out.write("   leak: examples/leak_%s.py   fix: examples/fixed_%s.py\n" % (name, name))

    growth, series = _measure(leak.work, iterations)
    calls = iterations * ROUNDS
    growing = [row for row in growth.rows if row[1] >= calls // 2]
    out.write("\n   Leaking version, %s calls: %s objects, %s\n"
              % (_thousands(calls), _signed(growth.count_delta), _signed_bytes(growth.size_delta)))
    if not growing:
        out.write("   no type grows with the calls: the leak was NOT found\n")
        leak_found = False
    else:
        leak_found = True
        out.write("   Types that grow with every call (census diff):\n")
        out.write("     %8s  %9s  %10s  %s\n" % ("per call", "objects", "size", "type"))
        for type_name, count_delta, size_delta, _count, _size in growing[:6]:
            out.write("     %8s  %9s  %10s  %s\n" % (
                "%+.1f" % (count_delta / calls), _signed(count_delta), _signed_bytes(size_delta), type_name))
        lead = _lead_type(growing)
        counts = " -> ".join(_thousands(c) for c in series.get(lead, []))
        out.write("   %s alive after each round: %s\n" % (lead, counts))
        _explain_chain(lead, leak, out)
    growth_fixed, _ = _measure(fixed.work, iterations)
    still_growing = [row for row in growth_fixed.rows if row[1] >= calls // 2]
    out.write("\n   %s\n" % _first_line(fixed.__doc__))
    out.write("   Fixed version, %s calls: %s objects, %s -- %s\n" % (
        _thousands(calls), _signed(growth_fixed.count_delta), _signed_bytes(growth_fixed.size_delta),
        "nothing grows" if not still_growing else "STILL GROWS: " + ", ".join(r[0] for r in still_growing)))
    return leak_found, not still_growing


def _measure(work, iterations):
    """Census diff over ROUNDS rounds of calls, and each type's count after every round."""
    for n in range(WARMUP_CALLS):
        work(n)
    censuses = []
    n = WARMUP_CALLS
    gc.collect()
    censuses.append(memlens.census(exclude=[censuses]))
    for _ in range(ROUNDS):
        for _ in range(iterations):
            work(n)
            n += 1
        gc.collect()
        censuses.append(memlens.census(exclude=[censuses]))
    series = {}
    for census in censuses[1:]:
        for type_name, count, _size in census.rows:
            series.setdefault(type_name, []).append(count)
    return memlens.census_diff(censuses[0], censuses[-1]), series


def _lead_type(growing):
    """The growing type to explain: the first class that is not a builtin, else the first row."""
    for row in growing:
        if not row[0].startswith("builtins."):
            return row[0]
    return growing[0][0]


def _explain_chain(type_name, module, out):
    """Print the reference chain from a root to one object of ``type_name``."""
    wanted = [tp for tp, _, _ in _heap.type_counts() if _heap.type_key(tp) == type_name]
    graph = _heap.walk()
    nodes = graph.indices_of_types(wanted)
    if not nodes:
        out.write("   (no %s left to explain)\n" % type_name)
        return
    frames = graph.indices_of_types([types.FrameType])
    target = nodes[-1]
    path = graph.shortest_path(target, forward=False, predicate=_is_root_module, max_depth=30, skip=frames)
    if path is None:
        out.write("   no chain from a module to %s was found\n" % type_name)
        return
    path.reverse()
    steps = []
    for parent, child in zip(path, path[1:]):
        steps.append((graph.edge_label(parent, child), child))
    out.write("\n   Who holds them (%s), found by walking the heap back from one %s:\n"
              % (_root_kind(graph, path), type_name.rsplit(".", 1)[-1]))
    out.write("     %s\n" % _expression(graph, path[0], steps))
    out.write("   step by step:\n")
    out.write("     module %s\n" % graph.object(path[0]).__name__)
    depth = 0
    for label, node in steps:
        if label == "__dict__" and graph.type_of(node) is dict:
            continue
        depth += 1
        obj = graph.object(node)
        out.write("     %s%-*s %s\n" % ("  " * depth, 34 - 2 * depth, _step_text(label, obj), _describe(graph, node)))
    del graph


def _is_root_module(obj):
    return isinstance(obj, types.ModuleType) and sys.modules.get(getattr(obj, "__name__", None)) is obj


def _root_kind(graph, path):
    kinds = [graph.type_of(n) for n in path]
    if any(k.__name__ == "cell" for k in kinds):
        return "a closure cell"
    if any(k is types.MethodType for k in kinds):
        return "a listener list holding bound methods"
    if any(issubclass(k, type) for k in kinds[1:]):
        return "a class attribute"
    return "a module global"


def _expression(graph, root, steps):
    """The chain as a Python expression: ``module.Class.history[999]``."""
    text = graph.object(root).__name__
    parent_is_plain_dict = False
    for label, node in steps:
        if label is None:
            text += " -> <%s>" % graph.type_of(node).__name__
        elif label == "__dict__" and graph.type_of(node) is dict:
            parent_is_plain_dict = False
            continue
        elif label.startswith("["):
            text += label
        elif parent_is_plain_dict:
            text += "[%r]" % label
        else:
            text += "." + label
        parent_is_plain_dict = graph.type_of(node) is dict
    return text


def _step_text(label, obj):
    if label is None:
        return "->"
    return label if label.startswith("[") else "." + label


def _describe(graph, node):
    obj = graph.object(node)
    tp = graph.type_of(node)
    if isinstance(obj, (list, tuple, dict, set)):
        return "%s, %s item%s" % (tp.__name__, _thousands(len(obj)), "" if len(obj) == 1 else "s")
    if isinstance(obj, type):
        return "class %s" % obj.__qualname__
    if isinstance(obj, types.FunctionType):
        return "function %s" % obj.__qualname__
    if isinstance(obj, types.MethodType):
        return "bound method %s" % obj.__func__.__qualname__
    module = _heap.type_names(tp)[0]
    return tp.__qualname__ if module == "builtins" else "%s (%s)" % (tp.__qualname__, module)


def _first_line(doc):
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _examples_dir():
    import os

    import memlens.examples

    return os.path.dirname(memlens.examples.__file__)


def _thousands(value):
    return "{:,}".format(value)


def _signed(value):
    return "{:+,}".format(value)


def _signed_bytes(delta):
    return ("+" if delta >= 0 else "-") + _core.format_bytes(abs(delta))
