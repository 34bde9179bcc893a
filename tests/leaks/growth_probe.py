"""Measure how one leak-corpus program grows, with plain CPython (no memlens).

    python growth_probe.py PROGRAM.py [--rounds R] [--requests N] [--warmup W]
                           [--type MODULE.QUALNAME] [--root ROOT_NAME]
                           [--no-collect] [--tracemalloc]

The program is imported as a module named after its file (``leak``, ``fixed``,
``bounded_lru_cache`` ...), so its ``if __name__ == "__main__"`` block does not run.
Then ``main(N)`` is called W times to warm up and R times more. Before the
first of those R rounds and after each, the probe records, on a quiet heap (a
full collection first, unless ``--no-collect``: some programs leak precisely
because nothing collects):

- ``blocks``: ``sys.getallocatedblocks()``, which also sees small objects no
  object refers to any more (a reference leaked in C);
- ``bytes``: the ``sys.getsizeof`` total of every object a heap walk reaches (the
  collector's objects and the untracked ones they refer to, numpy bases too);
- ``traced``: with ``--tracemalloc``, the bytes tracemalloc traces (for leaked
  objects nothing refers to, which no walk reaches);
- ``count``: live instances of ``--type``;
- ``root_size``: the size of what ``--root`` names (see resolve_root).

It also reports the types whose instance counts grew most over the R rounds
(``top_growth``) and which of them refer to which (``owners``), so a test can
check that the expected type is the one that grows. Counting runs in a forked
child, so it neither allocates in nor slows the measured process. One JSON
object is printed on stdout; the exit status is 0 unless the probe itself
failed (then ``error`` says why).

    python growth_probe.py --batch WORKERS TIMEOUT < jobs.json

measures many programs at once (see run_batch), each in a forked process.
"""

import atexit
import collections
import gc
import importlib.util
import json
import os
import re
import sys
import threading
import time
import tracemalloc
import traceback


def type_name(cls):
    """``module.Qualname``, with ``builtins.`` left out (``dict``, ``float``)."""
    module = getattr(cls, "__module__", None) or "?"
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    return qualname if module == "builtins" else f"{module}.{qualname}"


def load_program(path):
    name = os.path.splitext(os.path.basename(path))[0]
    directory = os.path.dirname(os.path.abspath(path))
    # The program may import siblings; its own directory goes first, as when run.
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def preimport(path):
    """Import the modules ``path`` imports at its top level (asyncio, numpy...)."""
    import ast

    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # the program will say so itself


def census():
    """``(counts by type name, total bytes)`` of every object a heap walk would see.

    That is the objects the collector tracks, plus the untracked objects they
    refer to (strings, floats, numpy arrays, tuples and dicts of atoms),
    transitively through untracked containers, plus the ``base`` a numpy view keeps alive (numpy
    arrays are invisible to ``gc.get_referents``). Bytes are ``sys.getsizeof``.
    """
    is_tracked = gc.is_tracked
    tracked = gc.get_objects()
    by_type = collections.Counter(map(type, tracked))
    total = sum(map(sys.getsizeof, tracked))
    untracked = {id(r): r for r in gc.get_referents(*tracked) if not is_tracked(r)}
    frontier = list(untracked.values())
    while frontier:
        refs = []
        for obj in frontier:
            cls = type(obj)
            if cls is tuple or cls is frozenset or cls is dict:  # dicts of atoms are untracked
                refs.extend(gc.get_referents(obj))
            elif cls.__module__ == "numpy" and getattr(obj, "base", None) is not None:
                refs.append(obj.base)
        frontier = [r for r in refs if id(r) not in untracked and not is_tracked(r)]
        untracked.update((id(r), r) for r in frontier)
    by_type.update(map(type, untracked.values()))
    total += sum(map(sys.getsizeof, untracked.values()))
    counts = collections.Counter()
    for cls, n in by_type.items():
        counts[type_name(cls)] += n
    return counts, total


# A root name is a module-level name followed by steps (docs/leak-corpus.md):
#   .attr    ['key'] / [0]    closure 'var'    default 'param'
_STEP = re.compile(
    r"""\.(?P<attr>[A-Za-z_][A-Za-z_0-9]*)
      | \[(?P<key>'[^']*'|"[^"]*"|-?\d+)\]
      | \s+closure\s+'(?P<cell>[A-Za-z_][A-Za-z_0-9]*)'
      | \s+default\s+'(?P<param>[A-Za-z_][A-Za-z_0-9]*)'
    """,
    re.VERBOSE,
)
_HEAD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _thread_local_dicts(local):
    """The per-thread ``__dict__`` of a ``threading.local``, for every live thread."""
    dicts = []
    for ref in gc.get_referents(local):
        if isinstance(ref, dict):
            dicts.extend(v for v in ref.values() if isinstance(v, dict))
    return dicts


def _step(objs, kind, value):
    out = []
    for obj in objs:
        if kind == "attr":
            if isinstance(obj, threading.local):
                out.extend(d[value] for d in _thread_local_dicts(obj) if value in d)
            elif hasattr(obj, value):
                out.append(getattr(obj, value))
        elif kind == "key":
            key = eval(value, {})  # a str or int literal, checked by _STEP
            try:
                out.append(obj[key])
            except (KeyError, IndexError, TypeError):
                pass
        elif kind == "cell":
            code = getattr(obj, "__code__", None)
            if code is not None and value in code.co_freevars:
                out.append(obj.__closure__[code.co_freevars.index(value)].cell_contents)
        elif kind == "param":
            code = obj.__code__
            names = code.co_varnames[: code.co_argcount]
            defaults = obj.__defaults__ or ()
            first = len(names) - len(defaults)
            if value in names[first:]:
                out.append(defaults[names.index(value) - first])
            elif obj.__kwdefaults__ and value in obj.__kwdefaults__:
                out.append(obj.__kwdefaults__[value])
    return out


PSEUDO_ROOTS = ("c:atexit.register", "c:codecs.register", "c:refcount", "gc:disabled", "gc:delayed")


def check_root_name(root):
    """Raise ValueError unless ``root`` follows the root-name grammar (docs/leak-corpus.md)."""
    if root in PSEUDO_ROOTS:
        return
    expr = root[2:] if root.startswith("c:") else root
    head = _HEAD.match(expr)
    if not head:
        raise ValueError(f"root name {root!r} does not start with a name")
    pos = head.end()
    while pos < len(expr):
        m = _STEP.match(expr, pos)
        if not m:
            raise ValueError(f"root name {root!r}: cannot read {expr[pos:]!r}")
        pos = m.end()


def resolve_expression(expr):
    """The objects an expression names (several when it crosses a thread-local)."""
    head = _HEAD.match(expr)
    if not head:
        raise ValueError(f"root name {expr!r} does not start with a name")
    name = head.group(0)
    if name not in sys.modules:
        importlib.import_module(name)
    objs = [sys.modules[name]]
    pos = head.end()
    while pos < len(expr):
        m = _STEP.match(expr, pos)
        if not m:
            raise ValueError(f"root name {expr!r}: cannot read {expr[pos:]!r}")
        kind = m.lastgroup
        objs = _step(objs, kind, m.group(kind))
        pos = m.end()
    return objs


def _size(obj):
    """Entries held by a container, a functools cache or a pickle memo, or the
    length of an exception's traceback; else None."""
    if isinstance(obj, BaseException):
        tb, depth = obj.__traceback__, 0
        while tb is not None:
            tb, depth = tb.tb_next, depth + 1
        return depth
    if hasattr(obj, "cache_info"):
        return obj.cache_info().currsize
    memo = getattr(obj, "memo", None)
    if memo is not None and hasattr(memo, "copy") and type(obj).__name__ in ("Pickler", "Unpickler"):
        return len(memo.copy())
    try:
        return len(obj)
    except TypeError:
        return None


def resolve_root(root):
    """``(exists, size)`` for a root name; size is None when it has no length.

    Pseudo-roots (docs/leak-corpus.md): ``c:atexit.register`` (size: registered
    callbacks), ``c:codecs.register`` (exists once codecs is imported),
    ``c:<expr>`` (an object whose C struct holds the references, such as a
    pickle memo: size is its entries), ``c:refcount`` (nothing holds them),
    ``gc:disabled``, ``gc:delayed`` (a first threshold 100 times the default).
    """
    if root == "c:atexit.register":
        return True, atexit._ncallbacks()
    if root == "c:codecs.register":
        return "codecs" in sys.modules, None
    if root == "c:refcount":
        return True, None
    if root == "gc:disabled":
        return (not gc.isenabled()) or gc.get_threshold()[0] == 0, None
    if root == "gc:delayed":
        return gc.isenabled() and gc.get_threshold()[0] >= 100 * 700, None
    if root.startswith("c:"):
        objs = resolve_expression(root[2:])
        sizes = [_size(o) for o in objs]
        return bool(objs), sum(sizes) if objs and None not in sizes else None
    objs = resolve_expression(root)
    sizes = [_size(o) for o in objs]
    size = sum(s for s in sizes if s is not None) if any(s is not None for s in sizes) else None
    return bool(objs), size


def forks():
    """Whether a census runs in a forked child: not with other threads running,
    since a child has only the forking thread and their thread-local data is
    gone there."""
    return hasattr(os, "fork") and threading.active_count() == 1


def in_child(fn):
    """``fn()``'s (JSON-able) result, computed in a forked child where possible.

    Counting the heap allocates (lists, sets, counters) and is slow while
    tracemalloc traces every allocation; a forked child stops tracing, counts a
    copy of the heap and reports back, leaving the measured process untouched.
    With other threads running, it counts in this process: their thread-local
    data does not survive a fork.
    """
    if not forks():
        return fn()
    read_fd, write_fd = os.pipe()
    # No warnings.catch_warnings() around this (3.12+ warns about fork() with
    # threads running): changing the filters empties every __warningregistry__,
    # which one scenario measures.
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            tracemalloc.stop()
            try:
                result = {"ok": fn()}
            except BaseException:
                result = {"error": traceback.format_exc()}
            with os.fdopen(write_fd, "wb") as out:
                out.write(json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as src:
        data = src.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the census child died without a word")
    result = json.loads(data)
    if "error" in result:
        raise RuntimeError("the census child failed:\n" + result["error"])
    return result["ok"]


def measure(args):
    program_name = os.path.splitext(os.path.basename(args.program))[0]
    # What exists before the program is imported (the interpreter, the probe,
    # the library modules the program imports) is moved out of the collector's
    # generations: gc.get_objects() then lists only what the program made,
    # which keeps each census small and quick.
    preimport(args.program)
    gc.collect()
    gc.freeze()
    program = load_program(args.program)
    if args.tracemalloc:
        # Traced from before the warm-up: what the warm-up allocates and later
        # rounds free (an LRU cache evicting) must count as freed.
        tracemalloc.start()
    collect = gc.collect if args.collect else (lambda: None)
    # The baseline census goes to a file, so that the measured process holds
    # nothing more after the baseline than before it.
    baseline = os.path.join(os.environ.get("TMPDIR", "/tmp"), "growth_probe_%d.json" % os.getpid())

    def count_and_root(phase):
        counts, total = census()
        out = {"bytes": total, "count": counts.get(args.type, 0) if args.type else None}
        if args.root:
            out["root_exists"], out["root_size"] = resolve_root(args.root)
        if phase == "baseline":
            with open(baseline, "w") as f:
                json.dump(counts, f)
        elif phase == "last":
            with open(baseline) as f:
                before = json.load(f)
            growth = {name: n - before.get(name, 0) for name, n in counts.items()}
            top = sorted(((n, name) for name, n in growth.items() if n > 0), key=lambda t: (-t[0], t[1]))[:12]
            out["top_growth"] = [[name, n] for n, name in top]
            out["owners"] = owners([name for _, name in top[:6]])
        return out

    def sample(phase=None):
        collect()
        row = {"blocks": sys.getallocatedblocks()}
        if args.tracemalloc:
            row["traced"] = tracemalloc.get_traced_memory()[0]
        row.update(in_child(lambda: count_and_root(phase)))
        return row

    try:
        for _ in range(args.warmup):
            program.main(args.requests)
        if not forks():
            # Counting once before the baseline absorbs what a first census
            # creates for good (interpreter caches) when it runs in this process.
            sample()
        rows = [sample("baseline")]
        for n in range(args.rounds):
            program.main(args.requests)
            rows.append(sample("last" if n == args.rounds - 1 else None))
    finally:
        os.unlink(baseline)
    last = rows[-1]
    return {
        "python": "%d.%d" % sys.version_info[:2],
        "program": program_name,
        "rows": rows,
        "top_growth": last.pop("top_growth"),
        "owners": last.pop("owners"),
    }


def owners(names):
    """Pairs ``[a, b]`` of grown types such that instances of ``a`` refer to a ``b``.

    Used to break count ties: a NullHandler and the RLock it owns grow by one
    each, and the owner is the one a user means. The newest instances are looked
    at (the collector lists objects oldest first), since those are the ones that
    grew.
    """
    wanted = set(names)
    newest = collections.defaultdict(lambda: collections.deque(maxlen=200))
    for obj in gc.get_objects():
        name = type_name(type(obj))
        if name in wanted:
            newest[name].append(obj)
    result = []
    for a in names:
        referred = set()
        for obj in newest[a]:
            refs = list(gc.get_referents(obj))
            refs += gc.get_referents(getattr(obj, "__dict__", None) or {})
            referred.update(type_name(type(r)) for r in refs)
        result.extend([a, b] for b in names if b != a and b in referred)
    return result


class Args:
    """The command line (argparse costs more start-up time than the probe can spare)."""

    rounds, requests, warmup, type, root, collect, tracemalloc = 3, 100, 1, None, None, True, False

    def __init__(self, argv):
        options = {"--rounds": int, "--requests": int, "--warmup": int, "--type": str, "--root": str}
        rest = list(argv)
        self.program = None
        while rest:
            arg = rest.pop(0)
            if arg in options:
                if not rest:
                    raise SystemExit(f"growth_probe: {arg} needs a value")
                setattr(self, arg[2:], options[arg](rest.pop(0)))
            elif arg == "--no-collect":
                self.collect = False
            elif arg == "--tracemalloc":
                self.tracemalloc = True
            elif arg in ("-h", "--help"):
                raise SystemExit(__doc__)
            elif self.program is None and not arg.startswith("-"):
                self.program = arg
            else:
                raise SystemExit(f"growth_probe: unexpected argument {arg!r} (see --help)")
        if self.program is None:
            raise SystemExit("growth_probe: PROGRAM.py is required (see --help)")


# Modules most programs import: imported once by a batch, before it forks.
BATCH_PREIMPORTS = (
    "asyncio", "codecs", "concurrent.futures", "contextvars", "ctypes", "datetime",
    "functools", "hashlib", "itertools", "logging", "pickle", "struct", "uuid", "warnings", "weakref",
    "numpy",
)


def run_batch(jobs, workers, timeout):
    """Measure many programs, each in a process forked from this one.

    ``jobs`` maps a key to ``{"argv": [...], "cwd": dir}``; the result maps each
    key to its report. Forking from an interpreter that has already started and
    imported the usual modules spares each program the start-up, which is most
    of a small probe's cost; each program still gets a process of its own.
    """
    for name in BATCH_PREIMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    pending = list(jobs.items())
    running = {}  # pid -> (key, read end of its pipe, deadline)
    results = {}
    while pending or running:
        while pending and len(running) < workers:
            key, job = pending.pop(0)
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(read_fd)
                    os.chdir(job["cwd"])
                    try:
                        report = measure(Args(job["argv"]))
                    except BaseException:
                        report = {"error": traceback.format_exc()}
                    with os.fdopen(write_fd, "wb") as out:
                        out.write(json.dumps(report).encode())
                finally:
                    os._exit(0)
            os.close(write_fd)
            running[pid] = (key, read_fd, time.monotonic() + timeout)
        for pid, (key, read_fd, deadline) in list(running.items()):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done and time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                results[key] = {"error": f"timed out after {timeout} s"}
            elif not done:
                continue
            with os.fdopen(read_fd, "rb") as src:
                data = src.read()
            if key not in results:
                results[key] = json.loads(data) if data else {"error": "the probe died without a report"}
            del running[pid]
        if running:
            time.sleep(0.005)
    return results


def main():
    if sys.argv[1:2] == ["--batch"]:
        # growth_probe.py --batch WORKERS TIMEOUT < jobs.json > results.json
        workers, timeout = int(sys.argv[2]), float(sys.argv[3])
        results = run_batch(json.load(sys.stdin), workers, timeout)
        sys.stdout.write(json.dumps(results) + "\n")
        sys.stdout.flush()
        os._exit(0)
    args = Args(sys.argv[1:])
    try:
        report = measure(args)
    except Exception:
        report = {"error": traceback.format_exc()}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    # Skip interpreter teardown: some programs leave atexit callbacks or threads
    # whose shutdown would only cost time here.
    os._exit(0 if "error" not in report else 1)


if __name__ == "__main__":
    main()
