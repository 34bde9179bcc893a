"""numpy data buffers are traced through numpy's memory-handler API (NEP 49).

Every scenario runs in a fresh interpreter (tests/trace/conftest.py), so the
import of numpy, the threads and the handler swaps of one test cannot leak
into another.
"""
import subprocess
import sys

import pytest

from memlens import _core

from conftest import run_json

numpy = pytest.importorskip("numpy", minversion="1.22", reason="numpy >= 1.22 (NEP 49 handler API)")
pytestmark = pytest.mark.skipif(
    not hasattr(_core, "_numpy_attach"), reason="this build of memlens._core does not trace numpy"
)

NUMPY_DOMAIN = 389047


def test_np_ones_is_reported_like_stdlib_tracemalloc_reports_it():
    # GIVEN the same numpy allocation traced by stdlib tracemalloc and by the drop-in
    code = """
        import json, sys
        import numpy as np
        import tracemalloc as std
        import memlens.tracemalloc as ours

        def numpy_traces(tm):
            tm.start(10)
            data = np.ones(10**6)
            snapshot = tm.take_snapshot().filter_traces([tm.DomainFilter(True, 389047)])
            tm.stop()
            return sorted((t.size, [f.lineno for f in t.traceback if f.filename == __file__])
                          for t in snapshot.traces if t.size >= 10**6)

        print(json.dumps({"std": numpy_traces(std), "ours": numpy_traces(ours)}))
    """
    # WHEN both snapshots keep the numpy domain only
    found = run_json(code)
    # THEN memlens sees the 8 MB buffer, at the line that made it, as stdlib does
    assert found["std"] == [[8_000_000, [15, 9]]]  # the call in print(), then np.ones
    assert found["ours"] == found["std"]


def test_arrays_made_by_other_threads_and_freed_arrays_are_accounted():
    # GIVEN arrays allocated by worker threads while tracing
    found = run_json("""
        import json, threading
        import numpy as np
        import memlens.tracemalloc as tm
        tm.start()
        kept = []
        def worker(n):
            kept.append(np.zeros(n))
        threads = [threading.Thread(target=worker, args=(100_000 * (i + 1),)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        def numpy_bytes():
            snap = tm.take_snapshot().filter_traces([tm.DomainFilter(True, 389047)])
            return sorted(t.size for t in snap.traces if t.size >= 100_000)
        live = numpy_bytes()
        kept.clear()
        after = numpy_bytes()
        tm.stop()
        print(json.dumps({"live": live, "after": after}))
    """)
    # THEN each thread's buffer is traced with its size, and freeing forgets it
    assert found["live"] == [800_000, 1_600_000, 2_400_000, 3_200_000]
    assert found["after"] == []


def test_numpy_imported_after_tracing_started_is_traced():
    # GIVEN a trace started before numpy is imported
    found = run_json("""
        import json, sys
        import memlens.tracemalloc as tm
        from memlens import _core
        tm.start()
        assert "numpy" not in sys.modules
        import numpy as np
        data = np.empty(300_000)
        snap = tm.take_snapshot().filter_traces([tm.DomainFilter(True, 389047)])
        print(json.dumps({"attached": _core._numpy_attached(),
                          "sizes": [t.size for t in snap.traces if t.size >= 10**6]}))
    """)
    # THEN the buffer allocated after the import is traced
    assert found == {"attached": True, "sizes": [2_400_000]}


def test_stop_restores_numpy_handler_and_buffers_cross_trace_boundaries():
    # GIVEN arrays allocated before tracing, during a first trace and after it
    found = run_json("""
        import json, gc
        import numpy as np
        import memlens.tracemalloc as tm
        from memlens import _core
        from numpy._core.multiarray import get_handler_name
    """.replace("from numpy._core.multiarray", "from numpy.core.multiarray" if numpy.__version__ < "2" else "from numpy._core.multiarray") + """
        before = np.ones(200_000)
        names = [get_handler_name(), get_handler_name(before)]
        sizes = []
        for cycle in range(3):
            tm.start()
            names.append(get_handler_name())
            during = np.ones(150_000)
            del before  # allocated by numpy's own handler, freed through the wrapper
            before = during
            snap = tm.take_snapshot().filter_traces([tm.DomainFilter(True, 389047)])
            sizes.append(sorted(t.size for t in snap.traces if t.size >= 10**6))
            tm.stop()
            assert not _core._numpy_attached()
        del before  # allocated during the trace, freed after it
        gc.collect()
        print(json.dumps({"names": names, "sizes": sizes,
                          "sum": float(np.arange(10).sum())}))
    """)
    # THEN every cycle sees exactly its own buffer, numpy's handler answers
    # with its own name throughout, and numpy keeps working after the last stop
    assert found["sizes"] == [[1_200_000]] * 3
    assert set(found["names"]) == {"default_allocator"}
    assert found["sum"] == 45.0


def test_sampled_mode_sees_large_numpy_buffers():
    # GIVEN sampling with a mean interval far below the buffer size
    found = run_json("""
        import json
        import numpy as np
        import memlens.tracemalloc as tm
        tm.start(sample_bytes=64 * 1024)
        data = [np.ones(500_000) for _ in range(4)]
        snap = tm.take_snapshot().filter_traces([tm.DomainFilter(True, 389047)])
        print(json.dumps(len([t for t in snap.traces if t.size >= 4_000_000])))
    """)
    # THEN every 4 MB buffer is sampled (the chance to miss one is e^-61)
    assert found == 4


def test_memlens_run_reports_numpy_buffers_with_their_lines(tmp_path):
    # GIVEN a program that keeps numpy arrays made in the main thread and a worker
    (tmp_path / "arrays.py").write_text(
        "import threading\n"
        "import numpy as np\n"
        "keep = np.ones(10**6)\n"
        "def worker():\n"
        "    global other\n"
        "    other = np.zeros(250_000)\n"
        "t = threading.Thread(target=worker)\n"
        "t.start(); t.join()\n"
    )
    # WHEN it runs under memlens
    run = subprocess.run([sys.executable, "-m", "memlens", "run", "-o", "arrays.mlc", "arrays.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    table = subprocess.run([sys.executable, "-m", "memlens", "table", "--leaks", "--limit", "100",
                            "arrays.mlc"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    stats = subprocess.run([sys.executable, "-m", "memlens", "stats", "--leaks", "arrays.mlc"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    # THEN the leak report names the worker's line with its 2 MB buffer
    worker = [line for line in table.stdout.splitlines() if "worker (" in line and "/arrays.py:6)" in line]
    assert worker and "1.9 MiB" in worker[0], table.stdout
    # AND the allocator breakdown has numpy data of at least both buffers
    numpy_rows = [line for line in stats.stdout.splitlines() if "numpy data" in line]
    assert numpy_rows and ("MiB" in numpy_rows[0]), stats.stdout
    # AND they are not counted a second time as PyMem_RawMalloc blocks (numpy
    # >= 2.5 allocates its buffers through PyMem_RawMalloc)
    raw_rows = [line for line in stats.stdout.splitlines() if "PyMem_RawMalloc" in line]
    assert raw_rows and "MiB" not in raw_rows[0], stats.stdout
