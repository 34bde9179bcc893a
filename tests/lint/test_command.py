"""`memlens lint` as a user runs it: output, exit codes, selection, noqa, configuration."""
from lint_helpers import CLEAN, LEAKY, run_lint, write


def test_findings_are_printed_ruff_style_with_the_source_line_and_exit_1(project):
    # GIVEN a project with one module-level list that only grows
    # WHEN it is linted
    result = run_lint("app", cwd=project)
    # THEN the finding is printed as path:line:col: CODE message, then the source line
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "app/leaky.py:5:5: ML001 module-level list `_seen` grows in `handle()` "
        "and is never shrunk in this module"
    )
    assert lines[1] == "5 |     _seen.append(request)"
    assert lines[-1] == "Found 1 leak pattern in 2 files."
    # AND the exit code says "findings"
    assert result.returncode == 1, result.stderr


def test_a_clean_tree_exits_0(tmp_path):
    write(tmp_path, {"clean.py": CLEAN})
    result = run_lint(tmp_path)
    assert result.returncode == 0
    assert "All clear" in result.stdout


def test_gitignored_files_are_not_linted(tmp_path):
    # GIVEN a leaking file that .gitignore excludes (no git checkout needed)
    write(tmp_path, {".gitignore": "build/\n", "build/gen.py": LEAKY, "ok.py": CLEAN})
    # WHEN the directory is linted
    result = run_lint(tmp_path)
    # THEN the ignored file is never read
    assert result.returncode == 0, result.stdout


def test_a_missing_path_is_a_clear_error_and_exit_2(tmp_path):
    result = run_lint(tmp_path / "nope")
    assert result.returncode == 2
    assert "nope: no such file or directory" in result.stderr


def test_a_bad_file_is_reported_and_the_run_goes_on_with_exit_2(tmp_path):
    # GIVEN a Python 2 file, a binary file with a .py name, and a leaking file
    write(tmp_path, {"old.py": 'print "hi"\n', "blob.py": b"\x00\x01\x02", "leaky.py": LEAKY})
    # WHEN the directory is linted
    result = run_lint(tmp_path)
    out = result.stdout
    # THEN each bad file gets one located ML000 error, the good file is still checked
    assert "blob.py:1:1: ML000 binary file" in out
    assert "old.py:1:7: ML000 syntax error" in out and "Python 2" in out
    assert "leaky.py:5:5: ML001" in out
    # AND the exit code reports the error
    assert result.returncode == 2


def test_select_and_ignore_choose_rules(tmp_path):
    write(tmp_path, {"leaky.py": LEAKY})
    assert run_lint(tmp_path, "--select", "ML002,ML005").returncode == 0
    assert run_lint(tmp_path, "--ignore", "ML001").returncode == 0
    assert run_lint(tmp_path, "--select", "ML00").returncode == 1


def test_an_unknown_rule_code_is_an_error(tmp_path):
    write(tmp_path, {"leaky.py": LEAKY})
    result = run_lint(tmp_path, "--select", "ML999")
    assert result.returncode == 2
    assert "unknown rule selector `ML999`" in result.stderr


def test_noqa_suppresses_the_named_rule_and_bare_noqa_all(tmp_path):
    write(
        tmp_path,
        {
            "named.py": LEAKY.replace("_seen.append(request)", "_seen.append(request)  # noqa: ML001"),
            "bare.py": LEAKY.replace("_seen.append(request)", "_seen.append(request)  # noqa"),
            "other.py": LEAKY.replace("_seen.append(request)", "_seen.append(request)  # noqa: ML004"),
        },
    )
    result = run_lint(tmp_path)
    assert "named.py" not in result.stdout
    assert "bare.py" not in result.stdout
    assert "other.py:5:5: ML001" in result.stdout


def test_pyproject_configuration_selects_ignores_and_excludes(tmp_path):
    # GIVEN a pyproject that ignores ML001 and excludes a generated folder
    write(
        tmp_path,
        {
            "pyproject.toml": """\
                [tool.memlens.lint]
                ignore = ["ML001"]
                exclude = ["generated/"]
                """,
            "src/leaky.py": LEAKY,
            "generated/listeners.py": """\
                class W:
                    def __init__(self, bus):
                        bus.subscribe("x", self.on_x)
                    def on_x(self):
                        pass
                """,
        },
    )
    # WHEN linted from inside the project
    result = run_lint(".", cwd=tmp_path)
    # THEN neither the ignored rule nor the excluded file is reported
    assert result.returncode == 0, result.stdout
    # AND --select on the command line overrides the configured selection
    assert run_lint(".", "--select", "ML001", cwd=tmp_path).returncode == 1


def test_a_malformed_configuration_is_an_error_naming_the_file(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool.memlens.lint]\nselekt = ['ML001']\n", "a.py": CLEAN})
    result = run_lint(".", cwd=tmp_path)
    assert result.returncode == 2
    assert "pyproject.toml" in result.stderr and "selekt" in result.stderr


def test_each_file_uses_the_nearest_pyproject_above_it(tmp_path):
    # GIVEN a project that ignores ML001, holding a sub-project that selects it
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.memlens.lint]\nignore = ["ML001"]\n',
            "top.py": LEAKY,
            "sub/pyproject.toml": '[tool.memlens.lint]\nselect = ["ML001"]\n',
            "sub/inner.py": LEAKY,
        },
    )
    # WHEN the whole tree is linted in one run (CLI and Python API)
    result = run_lint(".", cwd=tmp_path)
    # THEN only the sub-project's file is reported, as ruff would resolve it
    assert result.returncode == 1, result.stderr
    assert "inner.py:5:5: ML001" in result.stdout
    assert "top.py" not in result.stdout
    import memlens

    found = [d.path for d in memlens.lint(str(tmp_path))]
    assert len(found) == 1 and found[0].endswith("inner.py"), found
    # AND --config applies one file to every path
    forced = run_lint(".", "--config", "pyproject.toml", cwd=tmp_path)
    assert forced.returncode == 0, forced.stdout


def test_test_files_are_skipped_unless_include_tests(tmp_path):
    # GIVEN a leak in a module, in a tests/ folder, in a test_*.py and in a conftest.py
    write(tmp_path, {"app/core.py": LEAKY, "app/tests/util.py": LEAKY, "app/test_core.py": LEAKY, "conftest.py": LEAKY})
    # WHEN the tree is linted by default
    default = run_lint(tmp_path)
    # THEN only the module is reported: what a test makes lives for one test
    assert default.stdout.count("ML001") == 1, default.stdout
    assert "core.py" in default.stdout and "tests/util.py" not in default.stdout
    # AND --include-tests brings the test files back
    included = run_lint(tmp_path, "--include-tests")
    assert included.stdout.count("ML001") == 4, included.stdout
    # AND so does include-tests = true in the configuration
    write(tmp_path, {"pyproject.toml": "[tool.memlens.lint]\ninclude-tests = true\n"})
    configured = run_lint(tmp_path)
    assert configured.stdout.count("ML001") == 4, configured.stdout


def test_a_class_made_once_per_process_is_not_reported_across_modules(tmp_path):
    # GIVEN a class that subscribes in its constructor, made at import in another module
    feeder = """\
    class Feeder:
        def __init__(self, bus):
            bus.subscribe("tick", self.on_tick)

        def on_tick(self, event):
            pass
    """
    write(tmp_path, {"app/__init__.py": "", "app/feeder.py": feeder, "app/wiring.py": "from .feeder import Feeder\n\nFEEDER = Feeder(None)\n"})
    # WHEN the package is linted
    once = run_lint(tmp_path / "app")
    # THEN the cross-module pass drops the finding
    assert once.returncode == 0, once.stdout
    # BUT linting the class's module alone cannot see where it is made, and reports it
    alone = run_lint(tmp_path / "app" / "feeder.py")
    assert alone.returncode == 1 and "ML004" in alone.stdout, alone.stdout
