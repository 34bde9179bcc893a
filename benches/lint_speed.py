"""Speed of ``memlens lint`` against ``ruff check --select B006,B019,RUF012`` on CPython's Lib/.

Run with the interpreter that has memlens installed::

    .venv-3.11/bin/python benches/lint_speed.py [--repeat 5] [--python python3.11]

Both tools get the same paths (the top-level entries of Lib/ except
site-packages), write to /dev/null, and are timed alternately in this one
run, wall clock, after one untimed warm-up each (file cache warm). Prints a
table with the ratio memlens / ruff.
"""
import argparse
import os
import platform
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
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", default="python3.11", help="the CPython whose Lib/ is linted")
    args = parser.parse_args()

    lib = stdlib_dir(args.python)
    paths = stdlib_entries(lib)
    files, lines = count_lines(paths)
    tools = {
        "memlens lint (ML001-ML007)": [sys.executable, "-m", "memlens", "lint", "--format", "json", *paths],
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
    ruff_median = statistics.median(samples["ruff check --select B006,B019,RUF012"])
    print(f"| {'tool':<38} | {'median s':>8} | {'min s':>6} | {'max s':>6} | {'vs ruff':>7} |")
    print(f"|{'-' * 40}|{'-' * 10}:|{'-' * 7}:|{'-' * 7}:|{'-' * 8}:|")
    for name, times in samples.items():
        median = statistics.median(times)
        print(f"| {name:<38} | {median:>8.2f} | {min(times):>6.2f} | {max(times):>6.2f} | {median / ruff_median:>6.2f}x |")


if __name__ == "__main__":
    main()
