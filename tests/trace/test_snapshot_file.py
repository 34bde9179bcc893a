"""Snapshot.dump / Snapshot.load: memlens' own format, never pickle; damage is reported clearly."""
import pickle

import pytest


def make_snapshot(tracemalloc):
    tracemalloc.start(5)
    data = [bytes(100 + i % 50) for i in range(2000)]  # noqa: F841 (kept alive until the snapshot)
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return snapshot


def test_round_trip_keeps_every_trace(memlens_tracemalloc, tmp_path):
    # GIVEN a snapshot written to a file
    snapshot = make_snapshot(memlens_tracemalloc)
    path = tmp_path / "snap.mls"
    snapshot.dump(path)
    # WHEN reading it back
    loaded = memlens_tracemalloc.Snapshot.load(path)
    # THEN traces, limit and statistics are identical
    assert loaded.traces == snapshot.traces
    assert loaded.traceback_limit == snapshot.traceback_limit
    assert [str(s) for s in loaded.statistics("traceback")] == [str(s) for s in snapshot.statistics("traceback")]
    # AND the file is not a pickle
    assert not path.read_bytes().startswith(b"\x80")


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "pickle"])
def test_damaged_file_raises_a_clear_error(memlens_tracemalloc, tmp_path, damage):
    # GIVEN a damaged snapshot file
    path = tmp_path / "snap.mls"
    make_snapshot(memlens_tracemalloc).dump(path)
    data = path.read_bytes()
    if damage == "flip":
        data = data[:40] + bytes([data[40] ^ 0xFF]) + data[41:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    else:
        data = pickle.dumps({"not": "a snapshot"})
    path.write_bytes(data)
    # WHEN loading it THEN a SnapshotFormatError (a ValueError) names the file and the problem
    with pytest.raises(memlens_tracemalloc.SnapshotFormatError, match="not a readable memlens snapshot"):
        memlens_tracemalloc.Snapshot.load(path)
