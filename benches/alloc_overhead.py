"""Allocation-tracer overhead, side by side: memlens against its peers.

    python benches/alloc_overhead.py                       # n=500000, 3 repetitions
    python benches/alloc_overhead.py --python .venv-3.9/bin/python --python .venv-3.13/bin/python
    python benches/alloc_overhead.py --n 100000 --repeat 5 --only memlens

Runs the reference workload (../shared/bench/alloc_workload.py, 17.7 million
allocations at n=500000) in a child process, plain and under each tracer,
interleaving the configurations within each repetition so that a noisy host
affects them alike. Reports, per interpreter, the median CPU time (user+sys of
the child) and its ratio to the plain run, the cost per allocation in
nanoseconds (the extra CPU time over the plain run divided by the
allocations), the median of each repetition's own ratio to the plain run
measured just before it (steadier on a noisy host) with the range of the
middle half of those ratios, and the tracers' own memory for the same live
traces (``get_tracemalloc_memory()`` of stdlib tracemalloc and memlens with
200 000 live blocks).

Each interpreter needs memlens installed (``maturin develop --release`` in its
venv); memray is measured when importable there (``pip install memray``).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_workload():
    """../shared/bench/alloc_workload.py from the repository root (or from a parent, for git worktrees)."""
    folder = REPO
    while True:
        candidate = os.path.join(os.path.dirname(folder), "shared", "bench", "alloc_workload.py")
        if os.path.exists(candidate) or os.path.dirname(folder) == folder:
            return candidate
        folder = os.path.dirname(folder)


WORKLOAD = find_workload()
ALLOCATIONS_AT_500K = 17.7e6

# Started before the workload runs as __main__ in the same process.
IN_PROCESS = {
    "plain": "",
    "tracemalloc, 1 frame": "import tracemalloc; tracemalloc.start(1)",
    "tracemalloc, 25 frames": "import tracemalloc; tracemalloc.start(25)",
    "memlens exact, 1 frame": "from memlens import tracemalloc; tracemalloc.start(1)",
    "memlens exact, 25 frames": "from memlens import tracemalloc; tracemalloc.start(25)",
    "memlens sampled (512 KiB)": "from memlens import tracemalloc; tracemalloc.start(1, sample_bytes=512 * 1024)",
    # The floor under sampled mode: hooks that only forward, recording nothing.
    "memlens pass-through hooks": "from memlens import _core; _core._trace_passthrough(True)",
}
MEMRAY = "memray --trace-python-allocators"

# `memlens run`, streaming every event to a capture file (the writer
# thread's compression counts: CPU time is the whole process's).
RUN = {
    "memlens run exact, 1 frame": ["--frames", "1"],
    "memlens run exact, 25 frames": ["--frames", "25"],
    "memlens run sampled (512 KiB)": ["--sampled", "--frames", "1"],
}

# Runs the workload as __main__ with one frame of driver below it (no runpy
# frames), so that N-frame tracers see the same stacks as `python workload.py`.
DRIVER = textwrap.dedent(
    """
    import sys
    {setup}
    sys.argv = [{workload!r}, {n!r}]
    with open({workload!r}) as source:
        code = compile(source.read(), {workload!r}, "exec")
    exec(code, {{"__name__": "__main__", "__file__": {workload!r}}})
    """
)

TRACER_MEMORY = textwrap.dedent(
    """
    import sys
    if sys.argv[1] == "memlens":
        from memlens import tracemalloc
    else:
        import tracemalloc
    tracemalloc.start(1)
    def hold(n):
        return [("item", i, str(i)) for i in range(n)]
    held = hold(200_000)
    print(tracemalloc.get_tracemalloc_memory(), tracemalloc.get_traced_memory()[0])
    """
)


def cpu_seconds(argv):
    """CPU time (user + sys) of a child process running argv."""
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(argv, stdout=devnull, stderr=devnull)
        _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"{argv!r} failed with status {status}")
    return usage.ru_utime + usage.ru_stime


def has_module(python, module):
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def configurations(python, n, only, scratch):
    configs = {}
    for name, setup in IN_PROCESS.items():
        if only and name != "plain" and only not in name:
            continue
        if "memlens" in name and not has_module(python, "memlens"):
            continue
        configs[name] = [python, "-c", DRIVER.format(setup=setup, workload=WORKLOAD, n=str(n))]
    if has_module(python, "memlens"):
        for name, options in RUN.items():
            if only and only not in name:
                continue
            output = os.path.join(scratch, "run.mlc")
            configs[name] = [python, "-m", "memlens", "run", *options, "--force", "-o", output, WORKLOAD, str(n)]
    if (not only or only in MEMRAY) and has_module(python, "memray"):
        output = os.path.join(scratch, "memray.bin")
        configs[MEMRAY] = [python, "-m", "memray", "run", "--trace-python-allocators", "-f", "-q", "-o", output, WORKLOAD, str(n)]
    return configs


def tracer_memory(python, which):
    out = subprocess.run([python, "-c", TRACER_MEMORY, which], capture_output=True, text=True, check=True).stdout
    own, traced = out.split()
    return int(own), int(traced)


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
    return f"{size} B"


def precompile(python):
    """Byte-compile memlens' Python modules, as ``pip install`` does, so that
    no run pays for compiling them (a development install under
    PYTHONDONTWRITEBYTECODE=1 would recompile them in every process)."""
    if has_module(python, "memlens"):
        where = subprocess.run([python, "-c", "import memlens, os; print(os.path.dirname(memlens.__file__))"], capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run([python, "-m", "compileall", "-q", where], check=True)


def bench(python, n, repeat, only):
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=True).stdout.strip()
    precompile(python)
    allocations = ALLOCATIONS_AT_500K * n / 500_000
    with tempfile.TemporaryDirectory() as scratch:
        configs = configurations(python, n, only, scratch)
        times = {name: [] for name in configs}
        for repetition in range(repeat):
            for name, argv in configs.items():
                times[name].append(cpu_seconds(argv))
            print(f"  [{version}] repetition {repetition + 1}/{repeat} done", file=sys.stderr)
    plain = statistics.median(times["plain"])
    print(f"\nCPython {version}, alloc_workload.py {n} (~{allocations / 1e6:.1f}M allocations), median of {repeat}\n")
    # `ratio` divides the medians; `paired` is the median of each
    # repetition's own ratio (the configuration over the plain run just
    # before it), which cancels the host's slow drifts, with the range of
    # the middle half of those ratios beside it.
    print(f"| {'configuration':<34} | {'CPU s':>6} | {'ratio':>6} | {'paired':>6} | {'middle half':>13} | {'ns/alloc':>8} |")
    print(f"|{'-' * 36}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 15}|{'-' * 10}|")
    for name, samples in times.items():
        median = statistics.median(samples)
        extra = (median - plain) / allocations * 1e9
        paired = sorted(t / p for t, p in zip(samples, times["plain"]))
        low, high = paired[(len(paired) - 1) // 4], paired[len(paired) * 3 // 4]
        spread = f"{low:.3f}-{high:.3f}"
        print(f"| {name:<34} | {median:6.2f} | {median / plain:5.2f}x | {statistics.median(paired):5.3f}x | {spread:>13} | {extra:8.0f} |")
    if has_module(python, "memlens") and not only:
        print("\nTracer's own memory with 200 000 live traced blocks (1 frame):")
        for which in ("tracemalloc", "memlens"):
            own, traced = tracer_memory(python, which)
            print(f"  {which:<12} get_tracemalloc_memory() = {human(own):>10}   (traced {human(traced)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", help="interpreter to measure (repeatable; default: this one)")
    parser.add_argument("--n", type=int, default=500_000, help="workload size (default 500000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per configuration (default 3)")
    parser.add_argument("--only", help="measure only configurations whose name contains this (plus plain)")
    args = parser.parse_args()
    for python in args.python or [sys.executable]:
        bench(python, args.n, args.repeat, args.only)


if __name__ == "__main__":
    main()
