"""Heap snapshots on the reference heap: walk speed, fork pause, file size,
dominators, and guppy3's dominated set beside memlens's retained size.

    benches/.venv/bin/python benches/heap_snapshot.py [--sizes 1000000,3000000]

(``python benches/heap_tools.py --setup`` makes benches/.venv with guppy3
and memlens.) Builds ../shared/bench/heap_workload.py's heap at each size in
this process and prints, per size: in-process snapshot time and objects per
second, the parent's pause for a fork snapshot (against the target of
2 ms + 15 ms per GB of RSS), file bytes per object and raw node / edge
bytes, the first dominator computation (``retained_size``), the suspects
report, and guppy3's ``hpy().heap()`` time and dominated-set size of the
workload's root list next to memlens's retained size of it. Wall-clock
times on a shared machine: read the ratios, not the seconds.
"""
import argparse
import gc
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKLOAD = next(
    (parent / "shared" / "bench" / "heap_workload.py" for parent in REPO.parents
     if (parent / "shared" / "bench" / "heap_workload.py").exists()),
    REPO.parent / "shared" / "bench" / "heap_workload.py",
)


def load_workload():
    spec = importlib.util.spec_from_file_location("heap_workload", WORKLOAD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def measure(size, tmp):
    import memlens

    heapdata = load_workload().build(size)
    gc.collect()
    rows = {}
    seconds, snap = timed(memlens.snapshot)
    rows["objects in the snapshot"] = f"{snap.node_count:,} ({snap.edge_count:,} references)"
    walk = snap.meta["walk_seconds"]
    rows["in-process snapshot"] = (f"{seconds:.3f} s ({snap.node_count / seconds / 1e6:.1f} M objects/s;"
                                   f" walk {walk:.3f} s = {snap.node_count / walk / 1e6:.1f} M/s)")
    path = os.path.join(tmp, f"heap-{size}.mlh")
    seconds, stats = timed(lambda: snap.save(path))
    rows["file"] = (f"{stats['file_bytes'] / snap.node_count:.1f} B/object on disk; raw "
                    f"{stats['node_bytes'] / snap.node_count:.1f} B/node + "
                    f"{stats['edge_bytes'] / max(1, snap.edge_count):.1f} B/edge; written in {seconds:.3f} s")
    seconds, loaded = timed(lambda: memlens.load_snapshot(path))
    rows["load"] = f"{seconds:.3f} s"
    root = heapdata.ROOT
    seconds, retained = timed(lambda: snap.retained_size(root))
    rows["dominators (first retained_size)"] = f"{seconds:.3f} s; heapdata.ROOT retains {retained:,} B"
    seconds, suspects = timed(snap.suspects)
    rows["suspects"] = f"{seconds:.3f} s, {len(suspects.data['suspects'])} found"
    pauses = []
    for i in range(3):
        forked = memlens.snapshot(os.path.join(tmp, f"fork-{size}-{i}.mlh"), fork=True)
        pauses.append(forked.pause_seconds)
        forked.wait()
    gb = rss_bytes() / 2**30
    target = 0.002 + 0.015 * gb
    rows["fork pause in the parent"] = (f"{min(pauses) * 1e3:.1f}-{max(pauses) * 1e3:.1f} ms "
                                        f"(target {target * 1e3:.1f} ms at {gb:.2f} GB RSS)")
    try:
        import guppy
    except ImportError:
        rows["guppy3"] = "not installed"
    else:
        hp = guppy.hpy()
        seconds, _ = timed(hp.heap)
        dom_seconds, iso = timed(lambda: hp.iso(root).domisize)
        rows["guppy3 hpy().heap()"] = f"{seconds:.3f} s"
        rows["guppy3 iso(ROOT).domisize"] = f"{iso:,} B in {dom_seconds:.3f} s (memlens {retained:,} B)"
    del loaded, snap
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            print(f"\n== heap_workload.build({size:,})")
            for name, value in measure(size, tmp).items():
                print(f"  {name:36} {value}")
            sys.modules.pop("heapdata", None)
            gc.collect()


if __name__ == "__main__":
    main()
