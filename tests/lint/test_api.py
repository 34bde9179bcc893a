"""`memlens.lint()`: the same engine, returning data."""
from pathlib import Path

import pytest

import memlens
from lint_helpers import LEAKY, write


def test_lint_returns_diagnostics_as_objects(project):
    # WHEN the project is linted from Python
    diagnostics = memlens.lint(project / "app")
    # THEN each finding is a LintDiagnostic with its rule and location
    [d] = diagnostics
    assert isinstance(d, memlens.LintDiagnostic)
    assert (d.code, d.name, d.line, d.column) == ("ML001", "module-container-grows", 5, 5)
    assert d.path.endswith("leaky.py")
    assert d.source_line == "    _seen.append(request)"
    assert not d.is_error
    assert str(d).endswith("ML001 " + d.message)


def test_select_and_ignore_filter_rules(tmp_path):
    write(tmp_path, {"leaky.py": LEAKY})
    assert memlens.lint([tmp_path], select=["ML002"]) == []
    assert memlens.lint([tmp_path], ignore=["ML001"]) == []
    assert [d.code for d in memlens.lint([str(tmp_path)], select=["ML001"])] == ["ML001"]


def test_unparsable_files_are_returned_not_raised(tmp_path):
    write(tmp_path, {"bad.py": b"\xff\xfe not utf-8"})
    [d] = memlens.lint(tmp_path)
    assert d.code == "ML000" and d.is_error and "UTF-8" in d.message


def test_a_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        memlens.lint(tmp_path / "missing")


def test_an_unknown_rule_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="ML999"):
        memlens.lint(tmp_path, select=["ML999"])


def test_include_tests_lints_test_files(tmp_path):
    write(tmp_path, {"app.py": LEAKY, "tests/test_app.py": LEAKY})
    assert [Path(d.path).name for d in memlens.lint(tmp_path)] == ["app.py"]
    assert sorted(Path(d.path).name for d in memlens.lint(tmp_path, include_tests=True)) == ["app.py", "test_app.py"]
