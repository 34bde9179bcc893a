"""`memlens run` and its reports in ordinary shell use: output files are never
lost, pipes into `head` and programs that close stdout are not errors, a
mistyped option is not run as the script, and nothing a captured program
names can act on the terminal."""
import subprocess
import sys

import pytest

MEMLENS = [sys.executable, "-m", "memlens"]


def make_capture(memlens, name="app.mlc"):
    memlens.script("app.py", """
        blocks = [bytearray(100 + i) for i in range(3000)]
        def kept():
            return [str(i) * 3 for i in range(2000)]
        keep = kept()
    """)
    result = memlens("run", "-o", name, "app.py")
    assert result.returncode == 0, result.stderr
    return memlens.cwd / name


@pytest.mark.parametrize("verb", [["flamegraph"], ["export", "--format", "pprof"],
                                  ["export", "--format", "speedscope"]])
def test_a_report_never_overwrites_its_own_capture(memlens, verb):
    # GIVEN a capture
    capture = make_capture(memlens)
    before = capture.read_bytes()
    # WHEN a report is asked to write over it, even with --force, under two spellings
    for target in ("app.mlc", "./app.mlc"):
        for force in ([], ["--force"]):
            result = memlens(*verb, "app.mlc", "-o", target, *force)
            # THEN it refuses with exit 2 and says why, and the capture is intact
            assert result.returncode == 2, result
            assert "it is the input" in result.stderr
            assert "Wrote" not in result.stdout
    assert capture.read_bytes() == before


def test_an_existing_report_file_needs_force(memlens):
    make_capture(memlens)
    page = memlens.cwd / "page.html"
    page.write_text("mine")
    result = memlens("flamegraph", "app.mlc", "-o", "page.html")
    assert result.returncode == 2 and "--force" in result.stderr
    assert page.read_text() == "mine"
    result = memlens("flamegraph", "app.mlc", "-o", "page.html", "--force")
    assert result.returncode == 0, result.stderr
    assert page.read_text().startswith("<!DOCTYPE html>")
    # No temporary file is left beside it.
    assert sorted(p.name for p in memlens.cwd.iterdir()) == ["app.mlc", "app.py", "page.html"]


def test_run_refuses_to_overwrite_a_capture_without_force(memlens):
    capture = make_capture(memlens)
    before = capture.read_bytes()
    marker = memlens.cwd / "ran"
    memlens.script("other.py", f"open({str(marker)!r}, 'w').close()\n")
    result = memlens("run", "-o", "app.mlc", "other.py")
    # THEN the program does not run and the old capture is kept
    assert result.returncode == 2
    assert "already exists; pass --force" in result.stderr
    assert not marker.exists() and capture.read_bytes() == before
    result = memlens("run", "-o", "app.mlc", "--force", "other.py")
    assert result.returncode == 0, result.stderr
    assert marker.exists() and capture.read_bytes() != before


@pytest.mark.parametrize("verb", [["summary"], ["table"], ["tree"], ["stats"], ["table", "--leaks"]])
def test_a_report_piped_into_head_exits_quietly(memlens, verb):
    make_capture(memlens)
    # `memlens table x.mlc | head -1`: the reader closes the pipe after one line.
    shell = " ".join(MEMLENS + verb + ["app.mlc"]) + " | head -c 1 >/dev/null; echo ${PIPESTATUS[0]}"
    result = subprocess.run(["bash", "-c", shell], cwd=memlens.cwd, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "0", result
    assert "panicked" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == "", result.stderr


def test_a_python_verb_piped_into_head_exits_quietly(memlens):
    shell = " ".join(MEMLENS + ["demo"]) + " | head -c 1 >/dev/null; echo ${PIPESTATUS[0]}"
    result = subprocess.run(["bash", "-c", shell], cwd=memlens.cwd, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "0", result
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr


def test_a_program_that_closes_stdout_exits_as_under_plain_python(memlens):
    # `echo '{"a":1}' | memlens run -m json.tool`: json.tool closes sys.stdout.
    plain = subprocess.run([sys.executable, "-m", "json.tool"], input='{"a":1}', capture_output=True,
                           text=True, cwd=memlens.cwd, timeout=60)
    result = subprocess.run(MEMLENS + ["run", "-o", "j.mlc", "-m", "json.tool"], input='{"a":1}',
                            capture_output=True, text=True, cwd=memlens.cwd, timeout=120)
    assert result.returncode == plain.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    assert "Traceback" not in result.stderr
    assert "capture written to j.mlc" in result.stderr


def test_a_program_that_closes_stderr_still_gets_its_capture_named_on_fd_2(memlens):
    memlens.script("quiet.py", "import sys\nsys.stderr.close()\nx = [0] * 1000\n")
    result = memlens("run", "-o", "q.mlc", "quiet.py")
    assert result.returncode == 0
    assert "capture written to q.mlc" in result.stderr
    assert (memlens.cwd / "q.mlc").exists()


@pytest.mark.parametrize("word, hint", [("--smapled", "did you mean --sampled?"), ("--forse", "did you mean --force?"),
                                        ("--live", "no live view"), ("--nativ", "did you mean --native?")])
def test_a_mistyped_run_option_is_an_error_not_the_script(memlens, word, hint):
    memlens.script("app.py", "print('ran')\n")
    result = memlens("run", word, "app.py")
    assert result.returncode == 2
    assert "unknown option" in result.stderr and hint in result.stderr, result.stderr
    assert "ran" not in result.stdout


def test_names_from_the_program_cannot_act_on_the_terminal(memlens):
    # GIVEN a capture of a program whose file name and argv hold escape sequences
    evil = "evil\x1b[2J\x1b]0;pwned\x07.py"
    (memlens.cwd / evil).write_text("keep = [bytearray(64) for _ in range(2000)]\n")
    result = memlens("run", "-o", "e.mlc", evil, "\x1b[31mred")
    assert result.returncode == 0, result.stderr
    # WHEN any text report is printed
    for verb in (["summary"], ["table"], ["tree"], ["stats"]):
        out = memlens(*verb, "e.mlc").stdout
        # THEN it shows the names escaped and holds no control character
        assert not any(ord(c) < 32 and c not in "\n\t" for c in out), (verb, repr(out))
        if verb == ["summary"]:
            assert "\\x1b[2J" in out and "\\x1b[31mred" in out, out


def test_run_of_a_missing_module_writes_no_capture(memlens):
    result = memlens("run", "-m", "no_such_module_here")
    assert result.returncode == 1
    assert "No module named no_such_module_here" in result.stderr
    assert "Traceback" not in result.stderr and "Reports:" not in result.stderr, result.stderr
    assert not list(memlens.cwd.glob("*.mlc"))


def test_a_module_whose_own_import_fails_keeps_its_capture_and_traceback(memlens):
    memlens.script("broken.py", "import no_such_dependency_here\n")
    result = memlens("run", "-o", "b.mlc", "-m", "broken")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "no_such_dependency_here" in result.stderr
    assert (memlens.cwd / "b.mlc").exists()


@pytest.mark.parametrize("args, said", [
    (["tree", "--min-percent", "nan"], "percentage from 0 to 100"),
    (["tree", "--min-percent", "-5"], "percentage from 0 to 100"),
    (["tree", "--limit", "0"], "at least 1"),
    (["tree", "--max-depth", "0"], "at least 1"),
    (["table", "--limit", "0"], "at least 1"),
    (["summary", "--limit", "0"], "at least 1"),
])
def test_a_numeric_option_out_of_range_is_an_argument_error(memlens, args, said):
    make_capture(memlens)
    result = memlens(*args, "app.mlc")
    assert result.returncode == 2
    assert said in result.stderr, result.stderr


def test_a_sample_interval_past_a_tebibyte_is_refused(memlens):
    memlens.script("app.py", "print('ran')\n")
    result = memlens("run", "--sampled", "--sample-interval", str(2**64 - 1), "app.py")
    assert result.returncode == 2 and "ran" not in result.stdout
    assert "1099511627776" in result.stderr, result.stderr


def test_an_os_error_is_said_once(memlens):
    result = memlens("summary", "missing.mlc")
    assert result.returncode != 0
    assert result.stderr.count("No such file or directory") == 1, result.stderr


def test_run_c_runs_code_as_python_c_does(memlens):
    # GIVEN code given with -c and arguments after it
    code = ("import sys; print(sys.argv, repr(sys.path[0]), __name__, '__file__' in globals()); "
            "kept = [str(i) * 5 for i in range(30000)]")
    plain = subprocess.run([sys.executable, "-c", code, "a", "-b"], capture_output=True, text=True,
                           cwd=memlens.cwd)
    # WHEN memlens runs it
    result = memlens("run", "-o", "c.mlc", "-c", code, "a", "-b")
    # THEN the program sees what python -c gives it, and its memory is at <string>:1
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout == "['-c', 'a', '-b'] '' __main__ False\n"
    table = memlens("table", "--limit", "1", "c.mlc").stdout
    assert "(<string>:1)" in table, table
    assert "memlens" not in table.split("Site")[1]


def test_run_c_with_a_syntax_error_is_python_s_error_and_no_capture(memlens):
    plain = subprocess.run([sys.executable, "-c", "x = ("], capture_output=True, text=True)
    result = memlens("run", "-o", "bad.mlc", "-c", "x = (")
    assert result.returncode == plain.returncode == 1
    assert result.stderr == plain.stderr
    assert not (memlens.cwd / "bad.mlc").exists()


def test_run_c_exit_status_is_the_program_s(memlens):
    result = memlens("run", "-o", "exit.mlc", "-c", "raise SystemExit(3)")
    assert result.returncode == 3
    assert (memlens.cwd / "exit.mlc").exists()


def test_an_earlier_run_s_capture_is_not_taken_for_a_child(memlens):
    # GIVEN two runs of -c code in the same directory, default capture names
    first = memlens("run", "-c", "x = [0] * 100")
    second = memlens("run", "-c", "x = [0] * 100")
    # THEN each names its own capture only: no child process captures
    assert first.returncode == second.returncode == 0
    assert "child process" not in second.stderr, second.stderr
    assert len(list(memlens.cwd.glob("memlens-c.*.mlc"))) == 2
