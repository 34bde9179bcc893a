"""memlens.gc_monitor: every collection recorded, nothing of the program changed."""
import gc
import json
import os
import sys
import threading
import time

import pytest

import memlens
from memlens import _core, gc_monitor


@pytest.fixture(autouse=True)
def _no_monitor_left_running():
    yield
    if gc_monitor.running():
        gc_monitor.stop()
    assert _core.gc_callback not in gc.callbacks


def stats_delta(before, after):
    return [
        {key: a[key] - b[key] for key in ("collections", "collected", "uncollectable")}
        for b, a in zip(before, after)
    ]


def make_cycles(n):
    for _ in range(n):
        a = []
        a.append(a)


def test_each_collection_is_recorded_with_generation_pause_and_counts():
    # GIVEN a program that collects each generation explicitly and triggers automatic collections
    gc.collect()
    before = gc.get_stats()
    with gc_monitor.monitor() as run:
        make_cycles(5000)
        for generation in (0, 1, 2):
            gc.collect(generation)
        after = gc.get_stats()
    events = run.events()
    # THEN the monitor saw every collection gc.get_stats() counted, per generation, with the same totals
    delta = stats_delta(before, after)
    for generation in (0, 1, 2):
        mine = [e for e in events if e.generation == generation]
        assert len(mine) == delta[generation]["collections"], (generation, events, delta)
        assert sum(e.collected for e in mine) == delta[generation]["collected"]
        assert sum(e.uncollectable for e in mine) == delta[generation]["uncollectable"]
    # AND each event has a positive pause, in order, from this thread; full collections note RSS
    assert all(e.pause_ns > 0 for e in events)
    assert all(a.end_ns <= b.start_ns for a, b in zip(events, events[1:]))
    assert {e.thread for e in events} == {threading.get_ident()}
    full = [e for e in events if e.generation == 2]
    if sys.platform.startswith("linux"):
        assert all(e.rss_bytes and e.rss_bytes > 1 << 20 for e in full)
    assert all(e.rss_bytes is None for e in events if e.generation != 2)
    assert run.result is not None and run.result.events == len(events) and run.result.dropped == 0


def test_collected_counts_the_known_cycles_and_the_pause_fits_the_wall_clock():
    gc.collect()
    with gc_monitor.monitor():
        gc.disable()
        try:
            make_cycles(1000)
            t0 = time.perf_counter_ns()
            gc.collect()
            wall = time.perf_counter_ns() - t0
        finally:
            gc.enable()
        event = gc_monitor.events()[-1]
    assert event.generation == 2
    assert event.collected >= 1000
    assert event.uncollectable == 0
    assert 0 < event.pause_ns <= wall


def test_finalizers_in_cycles_run_in_the_same_collection_with_the_monitor():
    finalized = []

    class Node:
        def __del__(self):
            finalized.append(1)

    gc.collect()
    with gc_monitor.monitor():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        collected = gc.collect()
    assert finalized == [1, 1]
    assert collected >= 2


def test_a_second_start_says_the_monitor_is_already_running():
    gc_monitor.start()
    with pytest.raises(memlens.CaptureError, match="already running"):
        gc_monitor.start()
    with pytest.raises(memlens.CaptureError, match="already running"):
        with gc_monitor.monitor():
            pass
    # the first run goes on recording, and our callback is in gc.callbacks once
    assert gc.callbacks.count(_core.gc_callback) == 1
    gc.collect()
    run = gc_monitor.stop()
    assert run.events >= 1
    with pytest.raises(memlens.CaptureError, match="not running"):
        gc_monitor.stop()


def test_start_refuses_a_directory_as_the_log(tmp_path):
    with pytest.raises(memlens.CaptureError, match="directory"):
        gc_monitor.start(tmp_path)
    assert not gc_monitor.running()


def test_collections_in_eight_threads_are_all_recorded():
    gc.collect()
    barrier = threading.Barrier(8)
    idents = set()

    def work():
        idents.add(threading.get_ident())
        barrier.wait()
        for _ in range(20):
            make_cycles(2000)
            gc.collect(0)

    before = gc.get_stats()
    with gc_monitor.monitor() as run:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = gc.get_stats()
    events = run.events()
    delta = stats_delta(before, after)
    assert len(events) == sum(d["collections"] for d in delta)
    assert run.result.dropped == 0
    assert {e.thread for e in events} <= idents | {threading.get_ident()}
    assert len({e.thread for e in events} & idents) >= 2


def test_another_callback_that_raises_does_not_stop_ours():
    calls = []

    def bad(phase, info):
        calls.append(phase)
        raise RuntimeError("a callback of the program fails")

    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    gc.callbacks.insert(0, bad)
    try:
        with gc_monitor.monitor() as run:
            gc.collect()
            gc.collect()
    finally:
        gc.callbacks.remove(bad)
        sys.unraisablehook = old_hook
    # the hook's records hold tracebacks whose frames point back at this one: drop
    # them so the cycle does not outlive the test
    reported, unraisable[:] = len(unraisable), []
    assert calls.count("stop") >= 2 and reported
    assert len([e for e in run.events() if e.generation == 2]) >= 2


def test_stop_restores_the_programs_gc_callbacks():
    def first(phase, info):
        pass

    def second(phase, info):
        pass

    callbacks = gc.callbacks
    callbacks[:0] = [first]
    try:
        gc_monitor.start()
        callbacks.append(second)  # the program adds one while the monitor runs
        assert callbacks[0] is first and _core.gc_callback in callbacks
        gc_monitor.stop()
        assert gc.callbacks is callbacks
        assert [c for c in callbacks if c in (first, second)] == [first, second]
        assert _core.gc_callback not in callbacks
    finally:
        for c in (first, second):
            if c in callbacks:
                callbacks.remove(c)


class Weird:
    def __eq__(self, other):
        raise RuntimeError("no")

    __hash__ = object.__hash__


@pytest.mark.parametrize(
    "phase,info",
    [
        (1, 2),
        (None, None),
        (Weird(), {}),
        ("start", None),
        ("stop", None),
        ("stop", {}),
        ("stop", {"generation": "two", "collected": 0, "uncollectable": 0}),
        ("stop", {"generation": 7, "collected": 0, "uncollectable": 0}),
        ("stop", {"generation": -1, "collected": 0, "uncollectable": 0}),
        ("stop", {"generation": 0, "collected": 2**80, "uncollectable": 0}),
        ("stop", {"generation": 0, "collected": -5, "uncollectable": 0}),
        ("stop", [("generation", 0)]),
        ("bogus", {"generation": 0}),
    ],
)
def test_no_exception_escapes_the_callback_whatever_it_is_given(phase, info):
    with gc_monitor.monitor() as run:
        _core.gc_callback("start", {})
        assert _core.gc_callback(phase, info) is None
        gc.collect()
    assert run.events()[-1].generation == 2
    # outside a run it is a no-op too
    assert _core.gc_callback(phase, info) is None


def test_report_text_has_percentiles_per_generation():
    with gc_monitor.monitor() as run:
        make_cycles(3000)
        gc.collect(0)
        gc.collect(1)
        gc.collect()
    text = run.report()
    header = next(line for line in text.splitlines() if line.startswith("gen"))
    for column in ("count", "total", "p50", "p90", "p99", "p99.9", "max", "collected", "uncoll"):
        assert column in header.split()
    rows = [line.split() for line in text.splitlines() if line[:1] in "012" and line[1:2] == " "]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert "in GC" in text and "advice" in text
    report = json.loads(run.report("json"))
    assert [g["generation"] for g in report["generations"]] == [0, 1, 2]
    assert report["collections"] == len(run.events())


def test_the_log_reads_back_from_the_file(tmp_path):
    path = tmp_path / "run.mlg"
    with gc_monitor.monitor(path) as run:
        make_cycles(3000)
        gc.collect()
    assert run.result.path == str(path) and run.result.file_bytes == os.path.getsize(path)
    events = run.events()
    report = json.loads(gc_monitor.read_report(path, "json"))
    assert report["collections"] == len(events) == run.result.events
    assert sum(g["collected"] for g in report["generations"]) == sum(e.collected for e in events)
    trace = gc_monitor.read_report(path, "trace").splitlines()
    assert len(trace) == len(events)
    assert trace[-1].startswith("gc %d @" % len(events)) and " gen2 " in trace[-1]
    assert gc_monitor.read_report(path) == run.report()


def test_unknown_report_format_is_a_configuration_error(tmp_path):
    with gc_monitor.monitor():
        pass
    with pytest.raises(memlens.ConfigurationError, match="text, json or trace"):
        gc_monitor.report("xml")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other_kind", "payload"])
def test_a_damaged_log_is_a_file_format_error(tmp_path, damage):
    path = tmp_path / "run.mlg"
    with gc_monitor.monitor(path):
        make_cycles(3000)
        gc.collect()
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"this is not a memlens file\n" * 10
    elif damage == "empty":
        data = b""
    elif damage == "other_kind":
        data = data[:6] + b"\x01\x00" + data[8:]  # the header says: an allocation capture
    else:
        data = data[:0x30] + bytes([data[0x30] ^ 0xFF]) + data[0x31:]  # inside the first chunk
    path.write_bytes(data)
    with pytest.raises(memlens.FileFormatError) as info:
        gc_monitor.read_report(path)
    assert str(path) in str(info.value)


def test_a_missing_log_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        gc_monitor.read_report(tmp_path / "absent.mlg")
