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


def test_attributes_set_on_a_snapshot_survive_dump_and_load(memlens_tracemalloc, tmp_path):
    # GIVEN a snapshot with attributes of each kept kind
    snapshot = make_snapshot(memlens_tracemalloc)
    values = {"label": "nightly", "run": -12345678901234567890, "ratio": 0.25, "ok": True,
              "note": None, "raw": b"\x00\xff"}
    for name, value in values.items():
        setattr(snapshot, name, value)
    path = tmp_path / "snap.mls"
    snapshot.dump(path)
    # WHEN reading it back THEN they are there, with their types
    loaded = memlens_tracemalloc.Snapshot.load(path)
    for name, value in values.items():
        assert getattr(loaded, name) == value and type(getattr(loaded, name)) is type(value)


def test_an_attribute_that_needs_pickle_is_refused(memlens_tracemalloc, tmp_path):
    snapshot = make_snapshot(memlens_tracemalloc)
    snapshot.tags = ["a", "b"]
    with pytest.raises(TypeError, match="attribute 'tags' is a list"):
        snapshot.dump(tmp_path / "snap.mls")


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


def test_mutated_files_with_valid_checksums_never_escape_as_other_errors(memlens_tracemalloc, tmp_path):
    # GIVEN a small real snapshot, and 3,000 seeded mutations of it whose CRC
    # is recomputed so that the structure parser (not the checksum) meets them
    import random
    import struct
    import zlib

    memlens_tracemalloc.start(3)
    data = [bytes(10 + i) for i in range(20)]  # noqa: F841 (kept alive until the snapshot)
    snapshot = memlens_tracemalloc.take_snapshot()
    memlens_tracemalloc.stop()
    path = tmp_path / "snap.mls"
    snapshot.dump(path)
    body = path.read_bytes()[:-4]
    rng = random.Random(20261125)
    outcomes = {"loaded": 0, "rejected": 0}
    for _case in range(3000):
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            kind = rng.randrange(5)
            at = rng.randrange(len(mutated)) if mutated else 0
            if kind == 0 and mutated:
                mutated[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                del mutated[at:at + rng.randint(1, 16)]
            elif kind == 2:
                mutated[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            elif kind == 3 and len(mutated) >= at + 4:
                mutated[at:at + 4] = struct.pack("<I", rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            else:
                mutated = mutated[:at]
        mutated += struct.pack("<I", zlib.crc32(bytes(mutated)))
        path.write_bytes(bytes(mutated))
        # WHEN each is loaded
        try:
            loaded = memlens_tracemalloc.Snapshot.load(path)
        except memlens_tracemalloc.SnapshotFormatError:
            outcomes["rejected"] += 1
            continue
        # THEN it either loads into a usable snapshot or is rejected with the format error
        loaded.statistics("traceback")
        outcomes["loaded"] += 1
    assert outcomes["rejected"] > 1000, outcomes
