"""Speed of ``memlens lint`` against ``ruff check --select B006,B019,RUF012`` on CPython's Lib/.

Run with the interpreter that has memlens installed::

    .venv-3.11/bin/python benches/lint_speed.py [--repeat 5] [--python python3.11]

Both tools get the same paths (the top-level entries of Lib/ except
site-packages), write to /dev/null, and are timed alternately in this one
run, after one untimed warm-up each (file cache warm). memlens runs with
``--include-tests`` so that it reads the same files as ruff (by default it
skips test files, most of ``Lib/test``); a second memlens row shows the
default. Prints wall-clock
and CPU time (user + system, which other load on the machine disturbs less)
with the ratios memlens / ruff.
"""
import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_env import ruff, stdlib_dir, stdlib_entries  # noqa: E402


def count_lines(paths):
    files = lines = 0
    for root in paths:
        root = Path(root)
        candidates = [root] if root.is_file() else root.rglob("*.py")
        for path in candidates:
            files += 1
            with open(path, "rb") as f:
                lines += sum(1 for _ in f)
    return files, lines


def timed(cmd):
    """Wall-clock seconds and CPU seconds (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", default="python3.11", help="the CPython whose Lib/ is linted")
    args = parser.parse_args()

    lib = stdlib_dir(args.python)
    paths = stdlib_entries(lib)
    files, lines = count_lines(paths)
    tools = {
        "memlens lint --include-tests": [sys.executable, "-m", "memlens", "lint", "--include-tests", "--format", "json", *paths],
        "memlens lint (default: tests skipped)": [sys.executable, "-m", "memlens", "lint", "--format", "json", *paths],
        "ruff check --select B006,B019,RUF012": [ruff(), "check", "--select", "B006,B019,RUF012", "--no-cache", "--exit-zero", "-q", *paths],
    }
    for cmd in tools.values():
        timed(cmd)  # warm-up: file cache, binary pages
    samples = {name: [] for name in tools}
    for _ in range(args.repeat):
        for name, cmd in tools.items():
            samples[name].append(timed(cmd))

    print(f"Lint {lib} (site-packages excluded): {files} files, {lines:,} lines")
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {args.repeat} runs each, alternating")
    print()
    ruff_name = "ruff check --select B006,B019,RUF012"
    ruff_wall = statistics.median(w for w, _ in samples[ruff_name])
    ruff_cpu = statistics.median(c for _, c in samples[ruff_name])
    print(f"| {'tool':<38} | {'wall median s':>13} | {'wall min s':>10} | {'CPU median s':>12} | {'wall vs ruff':>12} | {'CPU vs ruff':>11} |")
    print(f"|{'-' * 40}|{'-' * 14}:|{'-' * 11}:|{'-' * 13}:|{'-' * 13}:|{'-' * 12}:|")
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"| {name:<38} | {wall:>13.2f} | {min(w for w, _ in runs):>10.2f} | {cpu:>12.2f} "
            f"| {wall / ruff_wall:>11.2f}x | {cpu / ruff_cpu:>10.2f}x |"
        )
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} (other processes share the machine: compare ratios)")


if __name__ == "__main__":
    main()
