"""The tracer never crashes or disturbs the traced program: threads, restarts, fork, the stdlib tracer, abrupt exits."""
import os
import signal
import sys

import pytest

from conftest import run_json, run_python


def test_eight_threads_allocating_and_freeing_return_to_baseline(memlens_tracemalloc):
    # GIVEN tracing with a baseline
    import gc
    import threading
    import zlib

    memlens_tracemalloc.start(5)
    gc.collect()
    baseline, _ = memlens_tracemalloc.get_traced_memory()

    def churn(seed):
        kept = []
        for i in range(20000):
            kept.append({"i": i, "s": str(i) * (i % 7), "l": [seed] * (i % 11)})
            if i % 100 == 0:
                zlib.compress(bytes(4096))  # releases the GIL: RAW allocations on a thread without it
            if len(kept) > 50:
                kept.clear()
        kept.clear()

    # WHEN 8 threads allocate and free concurrently
    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    del threads
    gc.collect()
    # THEN the traced memory is back near its baseline
    current, peak = memlens_tracemalloc.get_traced_memory()
    assert peak > baseline
    assert abs(current - baseline) < 256 * 1024


def test_start_and_stop_a_hundred_times(memlens_tracemalloc):
    # GIVEN / WHEN tracing is started and stopped 100 times, allocating in between
    for round_ in range(100):
        memlens_tracemalloc.start(1 + round_ % 30)
        data = [str(i) for i in range(200)]
        snapshot = memlens_tracemalloc.take_snapshot()
        assert len(snapshot.traces) > 0
        memlens_tracemalloc.stop()
        del data
        # THEN each stop forgets everything
        assert memlens_tracemalloc.get_traced_memory() == (0, 0)
        assert not memlens_tracemalloc.is_tracing()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_tracing_continues_in_a_forked_child():
    # GIVEN a traced process that forks
    out = run_json(r'''
import json, os
from memlens import tracemalloc
tracemalloc.start(3)
before = [str(i) for i in range(1000)]
pid = os.fork()
if pid == 0:
    # WHEN the child allocates
    mine = ["child-%d" % i for i in range(5000)]  # CHILD SITE
    top = tracemalloc.take_snapshot().statistics("lineno")[0]
    os._exit(0 if top.count >= 5000 and tracemalloc.is_tracing() else 3)
_, status = os.waitpid(pid, 0)
after = [str(i) for i in range(1000)]
print(json.dumps({"child_status": status, "parent_tracing": tracemalloc.is_tracing(),
                  "parent_traces": len(tracemalloc.take_snapshot().traces)}))
''')
    # THEN the child sees its own allocations and the parent keeps tracing
    assert out["child_status"] == 0
    assert out["parent_tracing"] and out["parent_traces"] > 0


INTERPLAY = r'''
import json, sys, tracemalloc as stdlib
from memlens import tracemalloc as memlens
order = sys.argv[1]
def burst():
    return [str(i) * 2 for i in range(3000)]
seen = {}
if order == "memlens-first":
    memlens.start(); stdlib.start()
    a = burst()
    seen["both"] = (len(memlens.take_snapshot().traces) > 0, len(stdlib.take_snapshot().traces) > 0)
    stdlib.stop()                      # memlens is below the stdlib hooks: unaffected
    b = burst()
    seen["memlens_after_stdlib_stop"] = memlens.get_traced_memory()[0] > 0
    memlens.stop()
elif order == "stdlib-first":
    stdlib.start(); memlens.start()
    a = burst()
    stdlib.stop()                      # restores the allocators it found: memlens' hooks go too
    b = burst()
    seen["memlens_still_reports"] = memlens.is_tracing()
    memlens.stop()
    stdlib.start(); c = burst(); seen["stdlib_again"] = len(stdlib.take_snapshot().traces) > 0; stdlib.stop()
else:  # memlens stops first while the stdlib hooks wrap it: memlens stays in the chain, pass-through
    memlens.start(); stdlib.start()
    memlens.stop()
    a = burst()
    seen["stdlib_alone"] = len(stdlib.take_snapshot().traces) > 0
    memlens.start()
    b = burst()
    seen["memlens_restarted"] = len(memlens.take_snapshot().traces) > 0
    stdlib.stop(); memlens.stop()
c = burst()
print(json.dumps(seen))
'''


@pytest.mark.parametrize("order", ["memlens-first", "stdlib-first", "memlens-stops-first"])
def test_stdlib_tracemalloc_started_and_stopped_while_memlens_traces(order):
    # GIVEN both tracers started and stopped in some order
    # WHEN allocating throughout
    seen = run_json(INTERPLAY, order)
    # THEN nothing crashes and each tracer reports what the docs say
    assert all(seen.values()), seen


@pytest.mark.parametrize(
    "ending, expected",
    [
        ("raise RuntimeError('boom')", 1),
        ("os._exit(7)", 7),
        ("os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
    ],
)
def test_traced_program_ending_abruptly(ending, expected):
    # GIVEN a traced program
    code = f'''
import os, signal
from memlens import tracemalloc
tracemalloc.start(25)
data = [{{"k": i}} for i in range(10000)]
{ending}
'''
    # WHEN it ends by raising, os._exit or SIGKILL
    result = run_python(code)
    # THEN it ends exactly as it would untraced
    assert result.returncode == expected, result.stderr
    if expected == 1:
        assert "RuntimeError: boom" in result.stderr


def test_sampled_mode_estimates_are_unbiased(memlens_tracemalloc):
    # GIVEN sampling with a 64 KiB mean interval
    memlens_tracemalloc.start(1, sample_bytes=64 * 1024)
    # WHEN holding 40 MiB in 1 KiB blocks
    blocks = [bytearray(1024) for _ in range(40 * 1024)]  # noqa: F841
    current, _ = memlens_tracemalloc.get_traced_memory()
    stats = memlens_tracemalloc.take_snapshot().statistics("lineno")
    # THEN the estimate is close to the real total (std dev ~2.5% here)
    assert current == pytest.approx(40 * 1024 * (1024 + sys.getsizeof(bytearray()) ), rel=0.15)
    # AND statistics say they are estimates
    assert "(sampled estimate)" in str(stats[0])


def test_sampled_mode_follows_blocks_that_realloc_grows_and_moves(memlens_tracemalloc):
    # GIVEN sampling with a 32 KiB mean interval
    memlens_tracemalloc.start(1, sample_bytes=32 * 1024)
    # WHEN 20 000 buffers are grown by realloc four times each and held
    blocks = []
    for _ in range(20000):
        block = bytearray(100)
        for _ in range(4):
            block.extend(b"x" * 500)
        blocks.append(block)
    held = sum(sys.getsizeof(block) for block in blocks)
    current, _ = memlens_tracemalloc.get_traced_memory()
    # THEN the estimate follows what the buffers hold now
    assert current == pytest.approx(held, rel=0.2)
    # AND once they are freed, so are their sampled blocks, wherever realloc moved them
    del blocks
    after, _ = memlens_tracemalloc.get_traced_memory()
    assert after < 0.1 * held, (after, held)


def test_sampled_mode_forgets_the_old_size_of_a_sampled_block_that_realloc_shrinks(memlens_tracemalloc):
    # GIVEN a 50 MiB buffer, surely sampled at a 1 MiB mean interval
    memlens_tracemalloc.start(1, sample_bytes=1 << 20)
    block = bytearray(50 << 20)
    before, _ = memlens_tracemalloc.get_traced_memory()
    assert before >= 50 << 20
    # WHEN realloc shrinks it to 100 bytes (far from the next sample point)
    del block[100:]
    after, _ = memlens_tracemalloc.get_traced_memory()
    # THEN its 50 MiB are no longer counted
    assert after < 5 << 20, after


def test_an_exact_session_after_a_sampled_one_records_every_allocation(memlens_tracemalloc):
    # GIVEN a sampled session that sampled nothing (its countdown still far from zero)
    memlens_tracemalloc.start(1, sample_bytes=1 << 40)
    warmup = [bytearray(64) for _ in range(1000)]
    memlens_tracemalloc.stop()
    del warmup
    # WHEN an exact session follows in the same process
    memlens_tracemalloc.start(1)
    held = [bytearray(1000) for _ in range(2000)]
    current, _ = memlens_tracemalloc.get_traced_memory()
    memlens_tracemalloc.stop()
    # THEN no allocation was skipped as "unsampled": all 2 MB are traced
    assert current >= 2000 * 1000, current
    del held


def test_pass_through_hooks_forward_and_leave_tracing_working(memlens_tracemalloc):
    from memlens import _core

    # GIVEN the benchmark's pass-through hooks installed
    _core._trace_passthrough(True)
    try:
        # WHEN the program allocates and a trace starts on top of them
        data = [str(i) * 10 for i in range(10000)]
        memlens_tracemalloc.start(1)
        held = [bytearray(1000) for _ in range(1000)]
        # THEN allocation works, tracing sees through, and they cannot be removed mid-trace
        assert memlens_tracemalloc.get_traced_memory()[0] >= 1000 * 1000
        with pytest.raises(RuntimeError):
            _core._trace_passthrough(False)
        memlens_tracemalloc.stop()
        del data, held
    finally:
        _core._trace_passthrough(False)


SMALL_OBJECTS_SAMPLED = """
import json, sys
from memlens import _core, tracemalloc

def size(t):
    return sys.getsizeof(t) + sys.getsizeof(t[1]) + sys.getsizeof(t[2]) + (sys.getsizeof(t[0]) if t[0] > 256 else 0)

def cycle(measure):
    base, _ = measure()
    data = [(i, "item-%d" % i, [i]) for i in range(200_000)]
    held, _ = measure()
    real = sys.getsizeof(data) + sum(map(size, data))
    freed = sum(map(size, data[::3]))
    data[::3] = [None] * len(data[::3])      # a third of the tuples freed, the list kept
    some, _ = measure()
    del data
    after, _ = measure()
    return dict(base=base, real=real, freed=freed, held=held, some=some, after=after)

cycle(lambda: (0, 0))                        # warm-up: whatever the first run creates for good
tracemalloc.start(1, sample_bytes=16 * 1024)
hooked = _core._trace_frees_hooked()
blocks_before = sys.getallocatedblocks()
seen = cycle(tracemalloc.get_traced_memory)
blocks_after = sys.getallocatedblocks()
tracemalloc.stop()
print(json.dumps(dict(seen, hooked=hooked, blocks_before=blocks_before, blocks_after=blocks_after)))
"""


@pytest.mark.parametrize("free_hooks", [False, True], ids=["raw-backed samples", "hooked frees"])
def test_sampled_mode_sees_small_objects_freed_either_way(free_hooks, monkeypatch):
    # GIVEN sampled tracing with the MEM/OBJ frees hooked, or (over plain
    # pymalloc, the default) not hooked, sampled blocks being raw-backed
    if free_hooks:
        monkeypatch.setenv("MEMLENS_SAMPLED_FREE_HOOKS", "1")
    else:
        monkeypatch.delenv("MEMLENS_SAMPLED_FREE_HOOKS", raising=False)
        monkeypatch.delenv("PYTHONMALLOC", raising=False)
        monkeypatch.delenv("PYTHONDEVMODE", raising=False)
    # WHEN 600 000 small objects are made, a third of them freed, then the rest
    seen = run_json(SMALL_OBJECTS_SAMPLED)
    # THEN the session ran the way asked for
    assert seen["hooked"] is free_hooks
    # AND the estimates follow the objects as they are made and freed
    grown = seen["held"] - seen["base"]
    assert grown == pytest.approx(seen["real"], rel=0.15), seen
    assert seen["held"] - seen["some"] == pytest.approx(seen["freed"], rel=0.2), seen
    assert seen["after"] - seen["base"] < 0.05 * grown, seen
    # AND pymalloc's own count of blocks is not thrown off by raw-backed samples
    assert abs(seen["blocks_after"] - seen["blocks_before"]) < 200, seen


def test_sampled_mode_keeps_its_free_hooks_under_the_debug_allocator():
    # GIVEN Python's debug allocator hooks (PYTHONMALLOC=debug), whose free needs its own context
    env = dict(os.environ, PYTHONMALLOC="debug")
    env.pop("MEMLENS_SAMPLED_FREE_HOOKS", None)
    code = SMALL_OBJECTS_SAMPLED
    import json
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    # WHEN sampled tracing runs, THEN it hooks the frees and follows the objects all the same
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hooked"] is True
    assert seen["after"] - seen["base"] < 0.05 * (seen["held"] - seen["base"]), seen
