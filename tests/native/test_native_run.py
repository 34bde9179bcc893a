"""`memlens run --native`: allocations C code makes through libc are traced.

Each test runs a real program under `memlens run` in a fresh interpreter and
reads the capture back with the report commands, as a user would.
"""
import os
import subprocess
import sys
import textwrap

import pytest

import memlens
from memlens import _core

LIBRARY = os.path.join(os.path.dirname(memlens.__file__), "libmemlens_preload.so")
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD interposition is Linux-only"),
    pytest.mark.skipif(not os.path.exists(LIBRARY), reason="this memlens build has no libmemlens_preload.so"),
    pytest.mark.skipif(not hasattr(_core, "native_available"), reason="this memlens._core has no native tracing"),
]

# ctypes.PyDLL keeps the GIL during the call; ctypes.CDLL releases it (the
# allocation gets the Python stack as far as it was already interned).
PRELUDE = """\
import ctypes, mmap
libc_gil = ctypes.PyDLL(None)
libc_nogil = ctypes.CDLL(None)
for lib in (libc_gil, libc_nogil):
    lib.malloc.restype = ctypes.c_void_p
    lib.malloc.argtypes = [ctypes.c_size_t]
    lib.free.argtypes = [ctypes.c_void_p]
    lib.mmap.restype = ctypes.c_void_p
    lib.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    lib.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
ANON = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
RW = mmap.PROT_READ | mmap.PROT_WRITE
"""


def run(tmp_path, *args, env=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "memlens", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=timeout, env=env)


def script(tmp_path, name, body):
    source = PRELUDE + textwrap.dedent(body)
    (tmp_path / name).write_text(source)
    return source.splitlines()


def line_of(lines, marker):
    return next(i for i, line in enumerate(lines, 1) if marker in line)


def site_rows(report, site):
    return [row for row in report.splitlines() if site in row]


def test_libc_malloc_and_mmap_are_reported_at_their_python_lines(tmp_path):
    # GIVEN a program that allocates through libc: a kept malloc, a freed one, an mmap
    lines = script(tmp_path, "cprog.py", """\
        kept = libc_gil.malloc(3_000_001)  # KEPT
        freed = libc_gil.malloc(5_000_000)  # FREED
        libc_gil.free(freed)
        mapped = libc_gil.mmap(None, 8 << 20, RW, ANON, -1, 0)  # MAPPED
        unmapped = libc_gil.mmap(None, 4 << 20, RW, ANON, -1, 0)  # UNMAPPED
        libc_gil.munmap(unmapped, 4 << 20)
        released = libc_nogil.malloc(6_000_007)  # RELEASED
    """)
    # WHEN it runs under memlens run --native
    result = run(tmp_path, "run", "--native", "-o", "c.mlc", "cprog.py")
    assert result.returncode == 0, result.stderr
    leaks = run(tmp_path, "table", "--leaks", "--limit", "200", "c.mlc").stdout
    everything = run(tmp_path, "table", "--limit", "200", "c.mlc").stdout
    stats = run(tmp_path, "stats", "c.mlc").stdout
    summary = run(tmp_path, "summary", "c.mlc").stdout
    # THEN the kept blocks are leaks at their lines, with their sizes
    kept = site_rows(leaks, "/cprog.py:%d)" % line_of(lines, "# KEPT"))
    assert kept and "2.9 MiB" in kept[0], leaks
    mapped = site_rows(leaks, "/cprog.py:%d)" % line_of(lines, "# MAPPED"))
    assert mapped and "8.0 MiB" in mapped[0], leaks
    # AND so is a block allocated while ctypes had released the GIL
    released = site_rows(leaks, "/cprog.py:%d)" % line_of(lines, "# RELEASED"))
    assert released and "5.7 MiB" in released[0], leaks
    # AND the freed ones were allocated but are not leaks (the int that
    # ctypes returned for the address stays, a module global until exit)
    for marker, size in (("# FREED", "4.8 MiB"), ("# UNMAPPED", "4.0 MiB")):
        site = "/cprog.py:%d)" % line_of(lines, marker)
        assert site_rows(everything, site) and size in site_rows(everything, site)[0], everything
        assert not any("MiB" in row for row in site_rows(leaks, site)), leaks
    # AND the allocator breakdown and the header say native
    assert "malloc (native)" in stats and "mmap (native)" in stats, stats
    assert "native" in summary.splitlines()[1], summary


def test_without_native_libc_blocks_are_not_seen(tmp_path):
    # GIVEN the same kind of program
    lines = script(tmp_path, "cprog.py", "kept = libc_gil.malloc(3_000_001)  # KEPT\n")
    # WHEN it runs under memlens run without --native
    result = run(tmp_path, "run", "-o", "c.mlc", "cprog.py")
    assert result.returncode == 0, result.stderr
    leaks = run(tmp_path, "table", "--leaks", "--limit", "200", "c.mlc").stdout
    stats = run(tmp_path, "stats", "c.mlc").stdout
    # THEN libc's block is invisible (only the int holding its address is seen)
    assert not any("MiB" in row for row in site_rows(leaks, "/cprog.py:%d)" % line_of(lines, "# KEPT"))), leaks
    assert "(native)" not in stats, stats


def test_python_allocations_are_not_counted_twice(tmp_path):
    # GIVEN a program whose memory is Python objects (pymalloc arenas and
    # PyMem_RawMalloc blocks both come from libc underneath)
    script(tmp_path, "py.py", """\
        import zlib
        data = [bytes(1000) for _ in range(5000)]
        big = bytearray(20_000_000)
        z = zlib.compressobj(9, zlib.DEFLATED, 15, 9)
    """)
    # WHEN traced with and without --native
    for flag, name in (([], "plain.mlc"), (["--native"], "native.mlc")):
        result = run(tmp_path, "run", *flag, "-o", name, "py.py")
        assert result.returncode == 0, result.stderr
    # THEN the Python allocators' totals agree (within the few objects the
    # re-executed process's environment adds), and the native rows only hold
    # what C code allocated on its own: far less than the Python data
    plain, native = allocator_bytes(tmp_path, "plain.mlc"), allocator_bytes(tmp_path, "native.mlc")
    for allocator in ("PyMem_RawMalloc", "PyObject_Malloc", "PyMem_Malloc"):
        assert abs(plain[allocator] - native[allocator]) <= 0.02 * plain[allocator], (plain, native)
    python_total = sum(v for k, v in native.items() if k.startswith("Py"))
    assert native.get("malloc (native)", 0) < 0.1 * python_total, native


UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def allocator_bytes(tmp_path, capture):
    """The allocator table of `memlens stats`: name -> bytes allocated over the run."""
    stats = run(tmp_path, "stats", capture).stdout
    rows = {}
    for row in stats.splitlines():
        cells = [c.strip() for c in row.strip("│ ").split("┆")]
        if len(cells) == 3 and cells[2].split()[-1:] and cells[2].split()[-1] in UNITS:
            value, unit = cells[2].split()
            rows[cells[0]] = float(value) * UNITS[unit]
    return rows


def test_threads_calling_malloc_without_the_gil(tmp_path):
    # GIVEN threads that malloc and free through libc without the GIL, each keeping one block
    lines = script(tmp_path, "threads.py", """\
        import threading
        kept = []
        def worker():
            for i in range(20000):
                libc_nogil.free(libc_nogil.malloc(100 + i % 1000))
            kept.append(libc_nogil.malloc(777_777))  # KEPT
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
    """)
    # WHEN traced with --native
    result = run(tmp_path, "run", "--native", "-o", "t.mlc", "threads.py")
    assert result.returncode == 0, result.stderr
    leaks = run(tmp_path, "table", "--leaks", "t.mlc").stdout
    allocated = allocator_bytes(tmp_path, "t.mlc")["malloc (native)"]
    # THEN all 80,000 blocks were seen (the allocator table counts the whole run)
    assert allocated >= 4 * (20000 * 100 + 777_777), allocated
    # AND only the four kept blocks are still live, at their Python line
    # although the GIL was released (the threads read their own frames),
    # the freed ones are gone
    kept = site_rows(leaks, "/threads.py:%d)" % line_of(lines, "# KEPT"))
    assert kept and "3.0 MiB" in kept[0], leaks
    assert not any("MiB" in row for row in site_rows(leaks, "[no Python frame]")), leaks
    assert "live at exit: 3." in leaks.splitlines()[0], leaks


def test_fork_child_and_subprocess_inherit_native_tracing(tmp_path):
    # GIVEN a program that forks a child which allocates through libc, and
    # starts a Python subprocess that does the same
    lines = script(tmp_path, "forks.py", """\
        import os, subprocess, sys
        pid = os.fork()
        if pid == 0:
            child_block = libc_gil.malloc(2_000_003)  # CHILD
            os._exit(0)
        os.waitpid(pid, 0)
        subprocess.run([sys.executable, "-c", "import os; print(os.environ['LD_PRELOAD'])"], check=True)
    """)
    # WHEN traced with --native (with a user LD_PRELOAD already set)
    env = dict(os.environ, LD_PRELOAD="")
    result = run(tmp_path, "run", "--native", "-o", "f.mlc", "forks.py", env=env)
    assert result.returncode == 0, result.stderr
    # THEN the child's capture holds its libc block at its line
    children = [p for p in tmp_path.glob("f.*.mlc")]
    child_reports = [run(tmp_path, "table", "--leaks", "--limit", "200", p.name).stdout for p in children]
    site = "/forks.py:%d)" % line_of(lines, "# CHILD")
    assert any(site_rows(report, site) and "1.9 MiB" in site_rows(report, site)[0]
               for report in child_reports), (children, child_reports)
    # AND the subprocess ran with the interposer in LD_PRELOAD
    assert "libmemlens_preload.so" in result.stdout


def test_an_existing_ld_preload_is_kept(tmp_path):
    # GIVEN a user preload (an empty shared object is enough: libc itself)
    libc = "libc.so.6"
    script(tmp_path, "env.py", "import os\nprint('PRELOAD=' + os.environ['LD_PRELOAD'])\n")
    # WHEN run with --native
    result = run(tmp_path, "run", "--native", "-o", "e.mlc", "env.py",
                 env=dict(os.environ, LD_PRELOAD=libc))
    # THEN ours comes first and the user's is still there
    assert result.returncode == 0, result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("PRELOAD=")][0]
    assert line == "PRELOAD=%s:%s" % (LIBRARY, libc)


def test_exit_with_threads_still_allocating_does_not_crash(tmp_path):
    # GIVEN daemon threads allocating through libc while the program exits
    script(tmp_path, "exit.py", """\
        import threading
        def spin():
            while True:
                libc_nogil.free(libc_nogil.malloc(4096))
        for _ in range(3):
            threading.Thread(target=spin, daemon=True).start()
        data = [libc_gil.malloc(64) for _ in range(1000)]
    """)
    # WHEN it runs to completion under --native, several times
    for attempt in range(3):
        result = run(tmp_path, "run", "--native", "-o", "x%d.mlc" % attempt, "exit.py")
        # THEN it exits cleanly and leaves a readable capture
        assert result.returncode == 0, result.stderr
        assert run(tmp_path, "summary", "x%d.mlc" % attempt).returncode == 0


def test_preload_alone_forwards_everything(tmp_path):
    # GIVEN a non-traced process with the interposer preloaded (as children of
    # a native run that are not Python are)
    env = dict(os.environ, LD_PRELOAD=LIBRARY)
    code = "import numpy" if _has_numpy() else "import json"
    result = subprocess.run([sys.executable, "-c", code + "; print(sum(len(bytes(i)) for i in range(10000)))"],
                            capture_output=True, text=True, env=env, timeout=120)
    # THEN it runs as without
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(sum(range(10000)))
    assert subprocess.run(["ls", "/"], env=env, capture_output=True).returncode == 0


def _has_numpy():
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def test_part_of_a_mapping_unmapped_leaves_the_rest_live_at_its_line(tmp_path):
    # GIVEN a program that unmaps the middle of one mapping, the head of
    # another, one range spanning two adjacent mappings, and maps over part
    # of a mapping with MAP_FIXED
    lines = script(tmp_path, "cuts.py", """\
        MiB = 1 << 20
        FIXED = 0x10  # MAP_FIXED on Linux
        middle = libc_gil.mmap(None, 8 * MiB, RW, ANON, -1, 0)  # MIDDLE
        libc_gil.munmap(middle + 2 * MiB, 4 * MiB)
        head = libc_gil.mmap(None, 6 * MiB, RW, ANON, -1, 0)  # HEAD
        libc_gil.munmap(head, 5 * MiB)
        pair = libc_gil.mmap(None, 6 * MiB, RW, ANON, -1, 0)  # FIRST
        libc_gil.munmap(pair + 3 * MiB, 3 * MiB)
        second = libc_gil.mmap(pair + 3 * MiB, 3 * MiB, RW, ANON | FIXED, -1, 0)  # SECOND
        libc_gil.munmap(pair + 2 * MiB, 2 * MiB)
        base = libc_gil.mmap(None, 4 * MiB, RW, ANON, -1, 0)  # BASE
        over = libc_gil.mmap(base, 1 * MiB, RW, ANON | FIXED, -1, 0)  # OVER
    """)
    # WHEN it runs under memlens run --native
    result = run(tmp_path, "run", "--native", "-o", "c.mlc", "cuts.py")
    assert result.returncode == 0, result.stderr
    leaks = run(tmp_path, "table", "--leaks", "--limit", "200", "c.mlc").stdout
    # THEN each mapping is still live by what was left of it, at its line
    expected = {"# MIDDLE": "4.0 MiB", "# HEAD": "1.0 MiB", "# FIRST": "2.0 MiB", "# SECOND": "2.0 MiB",
                "# BASE": "3.0 MiB", "# OVER": "1.0 MiB"}
    for marker, size in expected.items():
        rows = site_rows(leaks, "/cuts.py:%d)" % line_of(lines, marker))
        assert rows and size in rows[0], (marker, leaks)


def test_sampled_native_run_estimates_libc_and_python_memory(tmp_path):
    # GIVEN a program that keeps 20 MiB from libc and makes and drops 30 MiB of small Python objects
    lines = script(tmp_path, "mixed.py", """\
        kept = [libc_gil.malloc(1 << 20) for _ in range(20)]  # KEPT
        data = [(i, str(i)) for i in range(300_000)]  # DROPPED
        del data
    """)
    # WHEN it runs under memlens run --native --sampled
    result = run(tmp_path, "run", "--native", "--sampled", "-o", "m.mlc", "mixed.py")
    assert result.returncode == 0, result.stderr
    leaks = run(tmp_path, "table", "--leaks", "--limit", "200", "m.mlc").stdout
    everything = run(tmp_path, "table", "--limit", "200", "m.mlc").stdout
    # THEN the libc blocks are estimated leaks at their line (a 1 MiB block at a
    # 512 KiB mean interval is sampled with probability 86%: 20 of them, ~17)
    kept = site_rows(leaks, "/mixed.py:%d)" % line_of(lines, "# KEPT"))
    assert kept and "MiB" in kept[0], leaks
    # AND the Python objects were seen allocated, and seen freed (sampled
    # blocks of small objects come back through the RAW domain)
    dropped = "/mixed.py:%d)" % line_of(lines, "# DROPPED")
    assert site_rows(everything, dropped) and "MiB" in site_rows(everything, dropped)[0], everything
    assert not any("MiB" in row for row in site_rows(leaks, dropped)), leaks
