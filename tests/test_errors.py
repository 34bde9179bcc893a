"""memlens's exceptions: one base class, each also the builtin callers caught before."""
import pytest

import memlens
from memlens import _core
from memlens import tracemalloc as memlens_tracemalloc


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("FileFormatError", ValueError),
        ("CaptureError", RuntimeError),
        ("ConfigurationError", ValueError),
    ],
)
def test_each_error_is_a_memlens_error_and_its_builtin(name, builtin):
    # GIVEN the class memlens exports under that name
    cls = getattr(memlens, name)
    # THEN both `except memlens.MemlensError` and the old builtin clause catch it
    assert issubclass(cls, memlens.MemlensError)
    assert issubclass(cls, builtin)
    assert cls.__module__ == "memlens._errors"


def test_an_unknown_capture_mode_is_a_configuration_error(tmp_path):
    # WHEN a capture is started with a mode that does not exist
    with pytest.raises(memlens.ConfigurationError) as caught:
        _core.capture_start(str(tmp_path / "x.mlc"), "sometimes", 0, 1, [])
    # THEN it is also the ValueError it always was, with the same message
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == 'unknown tracing mode "sometimes" (interval 0)'


def test_a_capture_floor_without_a_capture_is_a_capture_error():
    # GIVEN no capture running, WHEN memlens run's floor is set
    with pytest.raises(memlens.CaptureError) as caught:
        _core.capture_floor(1)
    # THEN it is the RuntimeError it always was
    assert isinstance(caught.value, RuntimeError)
    assert str(caught.value) == "no memlens capture is running"


def test_an_unknown_lint_rule_is_a_configuration_error(tmp_path):
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    # WHEN lint is asked for a rule code that does not exist
    with pytest.raises(memlens.ConfigurationError) as caught:
        memlens.lint([source], select=["ML999"])
    # THEN it is a ValueError too
    assert isinstance(caught.value, ValueError)


def test_a_missing_lint_path_stays_file_not_found(tmp_path):
    # WHEN lint is given a path that does not exist
    # THEN the operating system's error is reported as such
    with pytest.raises(FileNotFoundError):
        memlens.lint([tmp_path / "missing.py"])


def test_a_damaged_snapshot_file_is_a_file_format_error(tmp_path):
    # GIVEN a file that is not a snapshot
    path = tmp_path / "snap.mls"
    path.write_bytes(b"not a snapshot at all")
    # WHEN the tracemalloc drop-in loads it
    with pytest.raises(memlens_tracemalloc.SnapshotFormatError) as caught:
        memlens_tracemalloc.Snapshot.load(path)
    # THEN its own class is a memlens file-format error and a ValueError
    assert isinstance(caught.value, memlens.FileFormatError)
    assert isinstance(caught.value, memlens.MemlensError)
    assert isinstance(caught.value, ValueError)
