"""Cost of the native interposer (``memlens run --native``) on malloc-heavy work.

    python benches/native_overhead.py                # 5 repetitions
    python benches/native_overhead.py --repeat 7

Three workloads, each run in a child process under several configurations,
interleaved within each repetition so that a noisy host affects them alike;
reported: the median CPU time (user+sys of the child) and its ratio to the
plain run.

- ``c-malloc``: a C program doing 5 million malloc/free pairs (sizes 16 B to
  4 KiB), plain and with ``libmemlens_preload.so`` in ``LD_PRELOAD`` but no
  tracer: the forwarding cost every process started from a native run pays.
  Needs ``cc``; skipped without it.
- ``sqlite``: Python filling an in-memory sqlite3 table (SQLite allocates
  through libc malloc): plain, ``memlens run`` and ``memlens run --native``.
- ``objects``: Python building lists of tuples and dicts (pymalloc; the
  interposer mostly sees arenas): the same three.

memlens must be installed in the running interpreter (``maturin develop
--release``); the captures go to a temporary directory.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap

import memlens

LIBRARY = os.path.join(os.path.dirname(memlens.__file__), "libmemlens_preload.so")

C_PROGRAM = r"""
#include <stdlib.h>
#include <stdio.h>
int main(void) {
    void *slots[64] = {0};
    unsigned long sum = 0;
    for (unsigned long i = 0; i < 5000000UL; i++) {
        unsigned slot = (i * 2654435761UL) & 63;
        free(slots[slot]);
        slots[slot] = malloc(16 + (i * 40503UL) % 4080);
        sum += (unsigned long)slots[slot] & 1;
    }
    for (int i = 0; i < 64; i++) free(slots[i]);
    printf("%lu\n", sum);
    return 0;
}
"""

SQLITE = textwrap.dedent("""
    import sqlite3
    db = sqlite3.connect(":memory:")
    db.execute("create table t (a integer, b text, c real)")
    for chunk in range(20):
        db.executemany("insert into t values (?, ?, ?)",
                       ((i, "row %d" % i, i / 3) for i in range(chunk * 10000, (chunk + 1) * 10000)))
    db.execute("create index ta on t (b)")
    print(db.execute("select count(*), sum(length(b)) from t").fetchone())
""")

OBJECTS = textwrap.dedent("""
    rows = []
    for i in range(400000):
        rows.append((i, str(i), {"k": i}))
    print(len(rows))
""")


def cpu_time(argv, env=None, cwd=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    work = tempfile.mkdtemp(prefix="memlens-native-bench-")
    try:
        configs = {}
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler:
            source = os.path.join(work, "churn.c")
            binary = os.path.join(work, "churn")
            with open(source, "w") as f:
                f.write(C_PROGRAM)
            subprocess.run([compiler, "-O2", "-o", binary, source], check=True)
            preload_env = dict(os.environ, LD_PRELOAD=LIBRARY)
            configs["c-malloc"] = [("plain", [binary], None), ("LD_PRELOAD, no tracer", [binary], preload_env)]
        for name, code in (("sqlite", SQLITE), ("objects", OBJECTS)):
            script = os.path.join(work, name + ".py")
            with open(script, "w") as f:
                f.write(code)
            run = [sys.executable, "-m", "memlens", "run", "-o", os.path.join(work, name + ".mlc")]
            configs[name] = [
                ("plain", [sys.executable, script], None),
                ("memlens run", run + [script], None),
                ("memlens run --native", run[:4] + ["--native"] + run[4:] + [script], None),
            ]
        times = {(w, label): [] for w, runs in configs.items() for label, _, _ in runs}
        for _ in range(options.repeat):
            for workload, runs in configs.items():
                for label, argv, env in runs:
                    times[(workload, label)].append(cpu_time(argv, env=env, cwd=work))
        print("%-10s %-24s %12s %8s" % ("workload", "configuration", "CPU median", "ratio"))
        for workload, runs in configs.items():
            base = statistics.median(times[(workload, runs[0][0])])
            for label, _, _ in runs:
                median = statistics.median(times[(workload, label)])
                print("%-10s %-24s %10.3f s %7.2fx" % (workload, label, median, median / base))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
