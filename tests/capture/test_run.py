"""`memlens run`: a program runs as `python script.py` would, under the tracer,
and leaves captures every report reads — even when it raises, calls
`os._exit`, is killed, forks or starts multiprocessing children."""
import json
import os
import signal
import subprocess
import sys

import pytest

from memlens import _core

pytestmark = pytest.mark.skipif(
    not hasattr(_core, "capture_start"), reason="this build of memlens._core has no allocation tracer"
)

LEAKY = """
import json, sys

CACHE = []

def remember(n):
    for i in range(n):
        CACHE.append(bytearray(10_000))

def churn(n):
    for i in range(n):
        s = "x" * (i % 50 + 100)
        del s

if __name__ == "__main__":
    churn(20_000)
    remember(200)
    with open("seen.json", "w") as f:
        json.dump({"argv": sys.argv, "name": __name__, "path0": sys.path[0]}, f)
"""


def test_a_script_runs_with_its_own_argv_and_the_capture_holds_its_allocations(memlens, tmp_path):
    # GIVEN a script that keeps 200 blocks of 10 kB in a module-level cache
    script = memlens.script("leaky.py", LEAKY)
    # WHEN it runs under memlens with arguments of its own
    result = memlens("run", "-o", "leaky.mlc", script.name, "--flag", "value")
    # THEN it saw the argv, __name__ and sys.path[0] that python would give it
    assert result.returncode == 0, result.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"argv": ["leaky.py", "--flag", "value"], "name": "__main__", "path0": str(tmp_path)}
    # AND memlens says where the capture is and which reports to run
    assert "capture written to leaky.mlc" in result.stderr
    assert "memlens summary leaky.mlc" in result.stderr
    # AND the leak report names the function that fills the cache
    table = memlens("table", "--leaks", "leaky.mlc")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.split("╞")[1].splitlines()[1:]
    top = rows[0]
    # (named by its absolute path, as `python leaky.py` names it since 3.9)
    assert "remember (%s:" % (tmp_path / "leaky.py") in top, table.stdout
    assert "1.9 MiB" in top or "2.0 MiB" in top, table.stdout
    summary = memlens("summary", "leaky.mlc")
    assert summary.returncode == 0 and "was cut short" not in summary.stderr, summary.stderr
    # (remember's 2 MiB may rank below the program's own `import json`,
    # which the launcher does not do for it: 3 MiB on 3.13)
    assert "churn" in summary.stdout and "<module>" in summary.stdout, summary.stdout
    assert "memlens/_verb_run.py" not in summary.stdout, "the launcher's frames are folded away"


def test_a_module_runs_like_python_dash_m(memlens, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "job.py").write_text(LEAKY)
    result = memlens("run", "-m", "pkg.job", "--flag")
    assert result.returncode == 0, result.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["argv"] == [str(tmp_path / "pkg" / "job.py"), "--flag"]
    assert seen["name"] == "__main__"
    captures = list(tmp_path.glob("memlens-pkg.job.*.mlc"))
    assert len(captures) == 1, result.stderr


@pytest.mark.parametrize(
    "ending, expected_code",
    [
        ("raise ValueError('boom')", 1),
        ("import os; os._exit(3)", 3),
        ("import sys; sys.exit(4)", 4),
    ],
)
def test_a_program_that_raises_or_exits_abruptly_leaves_a_complete_capture(memlens, ending, expected_code):
    # GIVEN a program that allocates and then ends badly
    memlens.script("bad.py", "data = [bytes(100) for _ in range(1000)]\n" + ending + "\n")
    # WHEN it runs under memlens
    result = memlens("run", "-o", "bad.mlc", "bad.py")
    # THEN its exit code is kept, a traceback is shown for an exception, and the capture reads cleanly
    assert result.returncode == expected_code, result.stderr
    if "raise" in ending:
        assert "ValueError: boom" in result.stderr
        assert "_verb_run.py" not in result.stderr, "memlens's own frames are not in the traceback"
    summary = memlens("summary", "bad.mlc")
    assert summary.returncode == 0, summary.stderr
    assert "was cut short" not in summary.stderr
    assert "<module>" in summary.stdout


MAIN_MODULE = """
import pickle, sys

class Point:
    pass

main = sys.modules["__main__"]
seen = [
    ("file", __file__),
    ("spec", repr(__spec__)),
    ("package", repr(__package__)),
    ("cached", repr(__cached__)),
    ("loader", type(__loader__).__name__),
    ("is main", repr(main.__dict__ is globals())),
    ("builtins", type(__builtins__).__name__),
    ("pickles", repr(type(pickle.loads(pickle.dumps(Point()))) is Point)),
]
with open(sys.argv[1], "w") as out:
    out.write("\\n".join("%s=%s" % pair for pair in seen))
"""


def test_a_script_gets_the_main_module_python_gives_it(memlens, tmp_path):
    # GIVEN a script that describes its __main__ module and pickles a class of its own
    memlens.script("describe.py", MAIN_MODULE)
    # WHEN it runs under python and under memlens
    plain = subprocess.run([sys.executable, "describe.py", "plain.txt"], cwd=tmp_path, capture_output=True, text=True)
    traced = memlens("run", "-o", "d.mlc", "describe.py", "traced.txt")
    # THEN it sees the same module either way (absolute __file__, a source loader, no spec)
    assert plain.returncode == 0 and traced.returncode == 0, (plain.stderr, traced.stderr)
    assert (tmp_path / "traced.txt").read_text() == (tmp_path / "plain.txt").read_text()
    assert "file=%s" % (tmp_path / "describe.py") in (tmp_path / "traced.txt").read_text()


LOADED_MODULES = """
import sys
with open("modules.txt", "w") as out:
    out.write("\\n".join(sorted(sys.modules)))
"""


def test_the_launcher_imports_nothing_the_program_would_not(memlens, tmp_path):
    # GIVEN a script that lists the modules loaded when it starts
    memlens.script("modules.py", LOADED_MODULES)
    plain = subprocess.run([sys.executable, "modules.py"], cwd=tmp_path, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    before = set((tmp_path / "modules.txt").read_text().split())
    # WHEN it runs under memlens (started without `-m`, whose runpy imports
    # contextlib, or pip's console script, which imports re: neither is ours)
    launcher = "import sys; from memlens.__main__ import main; sys.exit(main(sys.argv))"
    result = subprocess.run([sys.executable, "-c", launcher, "run", "-o", "m.mlc", "modules.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    extra = set((tmp_path / "modules.txt").read_text().split()) - before
    # THEN memlens adds its own modules, but none of the standard library's
    # heavier ones: a program that never uses threads or regular expressions
    # does not pay for them (nor behaves differently for having them)
    heavy = {"threading", "pkgutil", "typing", "re", "json", "shlex", "traceback", "enum", "contextlib"}
    assert not extra & heavy, sorted(extra)


@pytest.mark.parametrize("kind", ["directory", "zip"])
def test_a_directory_or_zip_with_a_main_runs_like_python_runs_it(memlens, tmp_path, kind):
    # GIVEN an application as a directory, or a zip file, with a __main__.py
    source = "import sys\ndata = [bytes(1000) for _ in range(100)]\nopen(sys.argv[1], 'w').write(__name__)\n"
    if kind == "directory":
        (tmp_path / "app").mkdir()
        (tmp_path / "app" / "__main__.py").write_text(source)
        target = "app"
    else:
        import zipfile

        with zipfile.ZipFile(tmp_path / "app.pyz", "w") as archive:
            archive.writestr("__main__.py", source)
        target = "app.pyz"
    # WHEN memlens runs it
    result = memlens("run", "-o", "app.mlc", target, "name.txt")
    # THEN it ran as __main__ and its allocations are in the capture
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "name.txt").read_text() == "__main__"
    table = memlens("table", "--limit", "200", "app.mlc")
    assert table.returncode == 0 and "__main__.py:2)" in table.stdout, table.stdout


def test_a_script_with_a_syntax_error_is_reported_like_python_reports_it(memlens, tmp_path):
    # GIVEN a script that does not compile
    memlens.script("broken.py", "x = [1, 2\n")
    # WHEN memlens runs it
    result = memlens("run", "-o", "b.mlc", "broken.py")
    # THEN the program fails as under python, naming the file, without memlens's frames
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr and "broken.py" in result.stderr, result.stderr
    assert "_verb_run.py" not in result.stderr, result.stderr


def test_an_unreadable_script_is_a_clear_error(memlens):
    # GIVEN a script path that exists but cannot be read (even by root)
    # WHEN memlens runs it
    result = memlens("run", "-o", "s.mlc", "/proc/self/mem")
    # THEN it says so and exits with 2, before any capture is started
    assert result.returncode == 2
    assert "cannot run /proc/self/mem: Input/output error" in result.stderr, result.stderr
    assert not (memlens.cwd / "s.mlc").exists()


def test_a_killed_program_leaves_a_readable_capture(memlens):
    # GIVEN a program that allocates for a while and then is killed by SIGKILL
    memlens.script(
        "killed.py",
        """
        import os, signal, time
        keep = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            keep.append(bytearray(1000))
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    result = memlens("run", "-o", "killed.mlc", "killed.py")
    assert result.returncode == -signal.SIGKILL
    # WHEN a report reads the capture, THEN it reports what was recorded and says the file was cut
    summary = memlens("summary", "killed.mlc")
    assert summary.returncode == 0, summary.stderr
    assert "was cut short" in summary.stderr


def test_forked_children_write_their_own_captures(memlens, tmp_path):
    # GIVEN a program whose forked child allocates 1 MB and leaves with os._exit
    memlens.script(
        "forks.py",
        """
        import os
        pid = os.fork()
        if pid == 0:
            child_data = [bytearray(1000) for _ in range(1000)]
            os._exit(0)
        os.waitpid(pid, 0)
        with open("child.pid", "w") as f:
            f.write(str(pid))
        """,
    )
    result = memlens("run", "-o", "forks.mlc", "forks.py")
    assert result.returncode == 0, result.stderr
    child = int((tmp_path / "child.pid").read_text())
    child_capture = tmp_path / ("forks.%d.mlc" % child)
    # THEN the child has its own complete capture, announced with the parent's
    assert child_capture.exists(), result.stderr
    assert "child process capture" in result.stderr and child_capture.name in result.stderr
    stats = memlens("stats", "--leaks", child_capture.name)
    assert stats.returncode == 0 and "was cut short" not in stats.stderr, stats.stderr
    assert "pid %d (parent %d)" % (child, os.getpid()) not in stats.stdout  # its parent is the traced program
    assert "pid %d" % child in stats.stdout
    # AND a report takes parent and child together
    both = memlens("summary", "forks.mlc", child_capture.name)
    assert both.returncode == 0, both.stderr
    assert "Peak (sum of each process's peak)" in both.stdout


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_multiprocessing_children_are_followed(memlens, tmp_path, method):
    memlens.script(
        "pool.py",
        """
        import multiprocessing as mp

        def work(n):
            return len([bytes(100) for _ in range(n)])

        if __name__ == "__main__":
            pool = mp.get_context("%s").Pool(2)
            print(sum(pool.map(work, [1000] * 4)))
            pool.close()  # workers exit normally and close their captures
            pool.join()
        """ % method,
    )
    result = memlens("run", "-o", "pool.mlc", "pool.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4000"
    children = [p for p in tmp_path.glob("pool.*.mlc")]
    assert len(children) >= 2, (method, result.stderr)
    everything = memlens("table", "--limit", "100", "pool.mlc", *[c.name for c in children])
    assert everything.returncode == 0, everything.stderr
    assert "was cut short" not in everything.stderr
    assert "pool.py:5)" in everything.stdout, everything.stdout  # work()'s list, in the workers


def test_sampled_runs_report_estimates(memlens):
    memlens.script("big.py", "blocks = [bytearray(1 << 20) for _ in range(50)]\n")
    result = memlens("run", "--sampled", "-o", "big.mlc", "big.py")
    assert result.returncode == 0, result.stderr
    summary = memlens("summary", "big.mlc")
    assert summary.returncode == 0, summary.stderr
    assert "sampled every 512.0 KiB" in summary.stdout
    assert "~" in summary.stdout


@pytest.mark.skipif(
    os.path.exists(os.path.join(os.path.dirname(_core.__file__), "libmemlens_preload.so")),
    reason="this build ships the preload library (tests/native covers --native)",
)
def test_native_tracing_is_refused_clearly_when_the_preload_library_is_missing(memlens):
    memlens.script("app.py", "pass\n")
    result = memlens("run", "--native", "app.py")
    assert result.returncode == 2
    assert "--native needs libmemlens_preload.so" in result.stderr


def test_a_missing_script_is_an_error(memlens):
    result = memlens("run", "nope.py")
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_corrupt_captures_are_clear_errors_never_panics(memlens, tmp_path):
    memlens.script("ok.py", "x = [bytes(10) for _ in range(100)]\n")
    assert memlens("run", "-o", "ok.mlc", "ok.py").returncode == 0
    data = (tmp_path / "ok.mlc").read_bytes()
    (tmp_path / "header.mlc").write_bytes(data[:12])
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF  # inside a block's compressed payload
    (tmp_path / "flipped.mlc").write_bytes(bytes(flipped))
    (tmp_path / "junk.mlc").write_bytes(os.urandom(4096))
    for name, message in [("header.mlc", "ends inside its header"), ("flipped.mlc", "checksum"),
                          ("junk.mlc", "not a memlens capture")]:
        for verb in ("summary", "table", "tree", "stats", "flamegraph"):
            result = memlens(verb, name)
            assert result.returncode == 2, (verb, name, result.stderr)
            assert message in result.stderr, (verb, name, result.stderr)
            assert "panicked" not in result.stderr


def test_eight_threads_allocating_and_freeing_leave_one_consistent_capture(memlens):
    # GIVEN a program whose 8 threads each allocate and free 20,000 blocks
    memlens.script(
        "threads.py",
        """
        import threading

        def work(n):
            keep = [bytearray(100) for _ in range(n)]
            del keep

        threads = [threading.Thread(target=work, args=(20000,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        """,
    )
    result = memlens("run", "-o", "threads.mlc", "threads.py")
    assert result.returncode == 0, result.stderr
    # WHEN its capture is read
    stats = memlens("stats", "threads.mlc")
    table = memlens("table", "--limit", "1", "threads.mlc")
    leaks = memlens("table", "--leaks", "threads.mlc")
    # THEN every thread is there, every block is attributed, and the freed blocks are not leaks
    assert stats.returncode == 0 and "was cut short" not in stats.stderr, stats.stderr
    assert "Threads   9" in stats.stdout, stats.stdout
    # (named as threading names them, not by their OS name)
    assert "MainThread" in stats.stdout and "Thread-8" in stats.stdout, stats.stdout
    top = table.stdout.split("╞")[1].splitlines()[1]
    assert "threads.py:5)" in top, table.stdout
    blocks = int(top.split("┆")[3].strip().replace(",", ""))
    assert blocks >= 8 * 20000 * 2, top  # a bytearray object and its buffer each
    # (what stays is interpreter caches, e.g. 3.9's cached frame of the comprehension: KiB, not the 30 MiB)
    still_live = leaks.stdout.splitlines()[0].split("still live at exit: ")[1]
    assert still_live.split()[1] in ("B", "KiB"), leaks.stdout



def test_a_program_that_leaves_an_idle_thread_pool_exits_as_it_does_under_python(memlens):
    # GIVEN a program whose ThreadPoolExecutor is never shut down (its
    # workers wait for work until threading's exit hook tells them to stop)
    memlens.script(
        "pool.py",
        """
        import atexit
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(2)
        print(sum(pool.map(len, ["ab", "cde"])))
        atexit.register(print, "atexit ran")
        """,
    )
    plain = subprocess.run([sys.executable, "pool.py"], cwd=memlens.cwd, capture_output=True,
                           text=True, timeout=60)
    # WHEN it runs under memlens
    result = memlens("run", "-o", "pool.mlc", "pool.py", timeout=60)
    # THEN it ends as under plain python, its exit hooks run, and the capture is whole
    assert plain.returncode == 0 and plain.stdout == "5\natexit ran\n", plain
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("5\natexit ran\n"), result.stdout
    stats = memlens("stats", "pool.mlc")
    assert stats.returncode == 0 and "was cut short" not in stats.stderr, stats.stderr


FLOORED = """
import sys
from memlens import _core

def keep():
    return [bytearray(1000) for _ in range(2000)]

def launcher(path, floor):
    _core.capture_start(path, "exact", 0, 25, ["floored.py"], False)
    if floor:
        _core.capture_floor(0)
    kept = keep()
    _core.capture_stop()
    return kept

launcher(sys.argv[1], sys.argv[2] == "floor")
"""


@pytest.mark.parametrize("floor", [True, False])
def test_stack_walks_stop_at_the_launchers_frame(memlens, floor):
    # GIVEN a launcher function that starts a capture and then runs "the program"
    script = memlens.script("floored.py", FLOORED)
    # WHEN it sets the floor at its own frame (or not, as a control)
    run = subprocess.run([sys.executable, script.name, "f.mlc", "floor" if floor else "none"],
                         cwd=memlens.cwd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # THEN the program's stacks start at the frame above the launcher
    tree = memlens("tree", "f.mlc")
    assert tree.returncode == 0, tree.stderr
    assert "keep" in tree.stdout, tree.stdout
    assert ("launcher" in tree.stdout) is not floor, tree.stdout
    assert ("<module>" in tree.stdout) is not floor, tree.stdout


def test_the_floor_needs_a_capture_and_a_frame_that_deep(memlens):
    # GIVEN no capture, then a capture started from a shallow stack
    script = memlens.script("floor_errors.py", """
        from memlens import _core
        try:
            _core.capture_floor(0)
        except RuntimeError as e:
            print("no capture:", e)
        _core.capture_start("e.mlc", "exact", 0, 1, ["x"], False)
        try:
            _core.capture_floor(1000)
        except RuntimeError as e:
            print("too deep:", e)
        _core.capture_stop()
    """)
    # WHEN the floor is asked for
    run = subprocess.run([sys.executable, script.name], cwd=memlens.cwd, capture_output=True, text=True, timeout=120)
    # THEN both are clear errors, not crashes
    assert run.returncode == 0, run.stderr
    assert "no capture: no memlens capture is running" in run.stdout
    assert "too deep:" in run.stdout and "no frame at depth 1000" in run.stdout
