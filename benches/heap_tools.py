"""memlens against objgraph 3.7, pympler 1.1 and guppy3 on the reference heap.

    python benches/heap_tools.py --setup          # benches/.venv with the peers and memlens
    benches/.venv/bin/python benches/heap_tools.py [--sizes 1000000,3000000] [--skip-slow]

Builds ../shared/bench/heap_workload.py's heap (relative to the repository
root) at each size, in one process, and times each tool on the same heap,
one after the other; prints a table of CPU seconds and ratios per size.
``--skip-slow`` leaves out pympler's summarize and SummaryTracker above one
million objects (17 s and ~90 s at three million).

Peak memory: tracemalloc cannot see the Rust side's allocations, so the
extra peak of a census is measured in a fresh child process per size: it
builds the heap, resets the kernel's peak-RSS mark (``5`` written to
``/proc/self/clear_refs``), takes a census and reads ``VmHWM`` (peak RSS)
minus ``VmRSS`` from before the census in ``/proc/self/status``, divided by
the number of live objects the census counted.
"""
import argparse
import gc
import importlib.util
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# ../shared/bench/heap_workload.py from the repository root; from a git
# worktree (/work/wt/<name>) the nearest ancestor holding shared/bench.
WORKLOAD = next(
    (parent / "shared" / "bench" / "heap_workload.py" for parent in REPO.parents
     if (parent / "shared" / "bench" / "heap_workload.py").exists()),
    REPO.parent / "shared" / "bench" / "heap_workload.py",
)
VENV = REPO / "benches" / ".venv"
PEERS = ["objgraph==3.7.0", "pympler==1.1", "guppy3==3.1.7", "maturin>=1.16,<2"]
TARGETS = {
    "census vs objgraph.most_common_types": 2.0,
    "census vs pympler summarize(get_objects())": 30.0,
    "census vs guppy3 hpy().heap()": 5.0,
    "summarize(get_objects()) vs pympler": 30.0,
    "SummaryTracker.diff (2nd) vs pympler": 30.0,
}


def setup():
    """Creates benches/.venv with the peers from PyPI and memlens built in release mode."""
    python = os.environ.get("PYTHON", "python3.11")
    if not (VENV / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + PEERS, check=True)
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{VENV / 'bin'}:{os.environ['PATH']}")
    subprocess.run(["maturin", "develop", "--release", "--quiet"], cwd=REPO, env=env, check=True)


def load_workload():
    spec = importlib.util.spec_from_file_location("heap_workload", WORKLOAD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_seconds(function, repeat=1):
    """The smallest CPU time of `repeat` calls (the machine is shared: CPU time, not wall)."""
    best = None
    for _ in range(repeat):
        start = time.process_time()
        function()
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def object_at(address):
    import memlens._heap
    return memlens._heap.object_at(address)


def measure(size, skip_slow):
    """Times every tool on a heap of `size` extra objects: {row: (memlens s, {peer: s})}."""
    import guppy
    import objgraph
    from pympler import muppy as pm_muppy
    from pympler import summary as pm_summary
    from pympler import tracker as pm_tracker

    import memlens
    from memlens import objgraph as ml_objgraph
    from memlens.pympler import muppy as ml_muppy
    from memlens.pympler import summary as ml_summary
    from memlens.pympler import tracker as ml_tracker

    slow = not (skip_slow and size > 1_000_000)
    heapdata = load_workload().build(size)
    live = memlens.census().total_count
    results = {}
    sink = io.StringIO()

    census = cpu_seconds(memlens.census, repeat=3)
    results["census vs objgraph.most_common_types"] = (census, cpu_seconds(objgraph.most_common_types, repeat=3))
    pympler_summarize = cpu_seconds(lambda: pm_summary.summarize(pm_muppy.get_objects())) if slow else None
    if slow:
        results["census vs pympler summarize(get_objects())"] = (census, pympler_summarize)
    results["census vs guppy3 hpy().heap()"] = (census, cpu_seconds(lambda: guppy.hpy().heap()))

    ml_objgraph.show_growth(file=sink)
    objgraph.show_growth(file=sink)
    results["show_growth (2nd call)"] = (
        cpu_seconds(lambda: ml_objgraph.show_growth(file=sink)), cpu_seconds(lambda: objgraph.show_growth(file=sink)))

    for name, address in (("list", heapdata.DEEP_LIST_ID), ("str in a tuple", heapdata.DEEP_TARGET_ID)):
        target = object_at(address)
        chains = {}

        def ours():
            chains["memlens"] = ml_objgraph.find_backref_chain(target, ml_objgraph.is_proper_module)

        def theirs():
            chains["objgraph"] = objgraph.find_backref_chain(target, objgraph.is_proper_module)

        results[f"find_backref_chain to heapdata, {name}"] = (cpu_seconds(ours), cpu_seconds(theirs))
        results[f"  chain length, {name}"] = (len(chains["memlens"]), len(chains["objgraph"]))
        chains.clear()  # the chains hold the heap: the next size must start from a clean one
        del chains, target, ours, theirs

    ml_summarize = cpu_seconds(lambda: ml_summary.summarize(ml_muppy.get_objects()), repeat=3)
    results["summarize(get_objects()) vs pympler"] = (ml_summarize, pympler_summarize)

    ours = ml_tracker.SummaryTracker()
    ours.diff()
    ml_diff = cpu_seconds(ours.diff, repeat=3)
    if slow:
        theirs = pm_tracker.SummaryTracker()
        theirs.diff()
        results["SummaryTracker.diff (2nd) vs pympler"] = (ml_diff, cpu_seconds(theirs.diff))
        del theirs
    else:
        results["SummaryTracker.diff (2nd) vs pympler"] = (ml_diff, None)
    del ours

    results["extra peak bytes per live object (census)"] = (peak_per_object(size), None)
    del heapdata
    sys.modules.pop("heapdata", None)
    gc.collect()
    return live, results


def peak_per_object(size):
    """Runs the peak-memory probe in a fresh process (see the module docstring)."""
    out = subprocess.run([sys.executable, __file__, "--peak-child", str(size)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def peak_child(size):
    import memlens
    load_workload().build(size)
    gc.collect()

    def status(field):
        return int(re.search(field + r":\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

    before = status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    census = memlens.census()
    peak = status("VmHWM")
    print(f"{max(peak - before, 0) / census.total_count:.2f}")


def print_table(size, live, results):
    print(f"\n## {size:,} extra objects ({live:,} live objects counted by memlens)\n")
    print(f"| {'measure':<46} | {'memlens':>9} | {'peer':>9} | {'ratio':>7} | target |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 11}|{'-' * 9}|--------|")
    for name, (ours, theirs) in results.items():
        if name.startswith("  chain length"):
            print(f"| {name:<46} | {ours:>9} | {theirs:>9} | {'':>7} |        |")
            continue
        if name.startswith("extra peak"):
            verdict = "met" if ours <= 24 else "MISSED"
            print(f"| {name:<46} | {ours:>9.2f} | {'':>9} | {'':>7} | ≤24 {verdict} |")
            continue
        if theirs is None:
            print(f"| {name:<46} | {ours:>8.3f}s | {'skipped':>9} | {'':>7} |        |")
            continue
        ratio = theirs / ours if ours > 0 else float("inf")
        target = TARGETS.get(name)
        verdict = "" if target is None else f"≥{target:g}× {'met' if ratio >= target else 'MISSED'}"
        print(f"| {name:<46} | {ours:>8.3f}s | {theirs:>8.3f}s | {ratio:>6.1f}× | {verdict} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="create benches/.venv with the peers and memlens")
    parser.add_argument("--sizes", default="1000000,3000000", help="comma-separated extra object counts")
    parser.add_argument("--skip-slow", action="store_true", help="skip pympler's summaries above 1M objects")
    parser.add_argument("--peak-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    if args.peak_child:
        peak_child(args.peak_child)
        return
    import platform
    print(f"CPython {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; CPU seconds")
    for size in (int(s) for s in args.sizes.split(",")):
        live, results = measure(size, args.skip_slow)
        print_table(size, live, results)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
