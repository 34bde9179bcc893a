"""memlens.tracemalloc against the standard tracemalloc: the same code, run under each.

Each scenario runs in its own interpreter with either module, and prints what
a user would look at. Formats and structure must match exactly; sizes within
a tolerance (the two tracers differ in what they themselves allocate).
"""
import re

import pytest

from conftest import run_json

SCENARIO = r'''
import importlib, json, sys
tracemalloc = importlib.import_module(sys.argv[1])

def build_site():
    return [("item-%d" % i) * 4 for i in range(30000)]  # ALLOCATION SITE

def line_of(marker):
    with open(__file__) as f:
        for number, text in enumerate(f, 1):
            if marker in text and "line_of" not in text:
                return number

tracemalloc.start(10)
before = tracemalloc.take_snapshot()
kept = build_site()
after = tracemalloc.take_snapshot()
top = after.statistics("lineno")[:10]
diff = after.compare_to(before, "lineno")[:10]
site = [s for s in top if s.traceback[0].lineno == line_of("# ALLOCATION SITE")][0]
by_traceback = after.statistics("traceback")
site_tb = [s for s in by_traceback if s.traceback[-1].lineno == line_of("# ALLOCATION SITE")][0]
only_here = after.filter_traces([tracemalloc.Filter(True, __file__)])
no_here = after.filter_traces([tracemalloc.Filter(False, __file__)])
domain = after.filter_traces([tracemalloc.DomainFilter(True, 0)])
obj_tb = tracemalloc.get_object_traceback(kept[123])
current, peak = tracemalloc.get_traced_memory()
temporary = bytes(10_000_000)
del temporary
_, big_peak = tracemalloc.get_traced_memory()
tracemalloc.reset_peak()
_, peak_after_reset = tracemalloc.get_traced_memory()
print(json.dumps({
    "site_line": line_of("# ALLOCATION SITE"),
    "site_str": str(site), "site_repr": repr(site),
    "site_size": site.size, "site_count": site.count,
    "diff_str": str([d for d in diff if d.traceback[0].lineno == site.traceback[0].lineno][0]),
    "tb_len": len(site_tb.traceback), "tb_total": site_tb.traceback.total_nframe,
    "tb_format": site_tb.traceback.format(),
    "tb_format_recent": site_tb.traceback.format(limit=1, most_recent_first=True),
    "tb_repr": repr(site_tb.traceback),
    "frame_repr": repr(site_tb.traceback[-1]), "frame_str": str(site_tb.traceback[-1]),
    "trace_repr": repr(after.traces[0]).split(" size=")[0],
    "traces_repr": repr(after.traces).split("=")[0],
    "filtered_all_here": all(t.traceback[0].filename == __file__ for t in only_here.traces),
    "excluded_none_here": not any(t.traceback[0].filename == __file__ for t in no_here.traces),
    "domain_all": len(domain.traces) == len(after.traces),
    "obj_tb": [str(f) for f in obj_tb] if obj_tb else None,
    "obj_tb_repr": repr(obj_tb),
    "filename_stats": [str(s.traceback) for s in after.statistics("filename")[:1]],
    "cumulative_top": str(after.statistics("lineno", cumulative=True)[0].traceback),
    "peak_ge_current": peak >= current > 0,
    "peak_reset": peak_after_reset < big_peak - 5_000_000,
    "limit": tracemalloc.get_traceback_limit(),
    "tracing": tracemalloc.is_tracing(),
    "own_memory_positive": tracemalloc.get_tracemalloc_memory() > 0,
}))
tracemalloc.stop()
'''


@pytest.fixture(scope="module")
def both():
    return run_json(SCENARIO, "tracemalloc"), run_json(SCENARIO, "memlens.tracemalloc")


def shape(text):
    """A printed line with its numbers blanked: what must match exactly."""
    return re.sub(r"\d+(\.\d+)?", "N", text)


def test_top10_idiom_prints_the_same_line_for_the_allocation_site(both):
    # GIVEN the top-10 statistics idiom under each module
    stdlib, memlens = both
    # THEN the allocation site is found at the same line, printed the same way
    assert stdlib["site_line"] == memlens["site_line"]
    assert shape(stdlib["site_str"]) == shape(memlens["site_str"])
    assert shape(stdlib["site_repr"]) == shape(memlens["site_repr"])
    # AND the sizes and counts agree within the tracers' own noise
    assert memlens["site_count"] == pytest.approx(stdlib["site_count"], rel=0.01)
    assert memlens["site_size"] == pytest.approx(stdlib["site_size"], rel=0.05)


def test_compare_to_idiom_prints_the_same(both):
    stdlib, memlens = both
    assert shape(stdlib["diff_str"]) == shape(memlens["diff_str"])


def test_tracebacks_frames_and_traces_print_the_same(both):
    stdlib, memlens = both
    for key in ("tb_len", "tb_total", "tb_format", "tb_format_recent", "tb_repr", "frame_repr", "frame_str",
                "trace_repr", "traces_repr", "obj_tb", "obj_tb_repr", "filename_stats", "cumulative_top"):
        assert stdlib[key] == memlens[key], key


def test_filters_and_counters_behave_the_same(both):
    stdlib, memlens = both
    for key in ("filtered_all_here", "excluded_none_here", "domain_all", "peak_ge_current", "peak_reset",
                "limit", "tracing", "own_memory_positive"):
        assert stdlib[key] == memlens[key], key


def test_not_tracing_behaves_the_same():
    # GIVEN neither module tracing
    code = r'''
import importlib, json, sys
tm = importlib.import_module(sys.argv[1])
out = {"tracing": tm.is_tracing(), "memory": tm.get_traced_memory(), "tb": tm.get_object_traceback(object())}
try:
    tm.take_snapshot()
except RuntimeError as error:
    out["error"] = str(error)
try:
    tm.start(0)
except ValueError as error:
    out["start0"] = str(error)
tm.start(3); tm.start(7); out["restart_limit"] = tm.get_traceback_limit(); tm.stop()
out["after_stop"] = tm.get_traced_memory()
print(json.dumps(out))
'''
    # THEN the answers, errors and messages are the same
    assert run_json(code, "tracemalloc") == run_json(code, "memlens.tracemalloc")


DEEP = r'''
import importlib, json, sys
tracemalloc = importlib.import_module(sys.argv[1])
options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}

def nest(depth):
    if depth == 0:
        return bytearray(300_000)  # DEEP SITE
    return nest(depth - 1)

out = []
for nframe, depth in ((1, 30), (5, 30), (200, 30), (32, 29), (200, 300)):
    tracemalloc.start(nframe, **options)
    kept = nest(depth)
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    trace = [t for t in snapshot.traces if t.size >= 300_000][0]
    out.append([nframe, depth, len(trace.traceback), trace.traceback.total_nframe, repr(trace.traceback)[-20:]])
print(json.dumps(out))
'''


def test_total_nframe_counts_the_whole_stack_like_the_stdlib_with_count_frames():
    # GIVEN allocations 31 and 301 frames deep, traced with 1 to 200 frames
    stdlib = run_json(DEEP, "tracemalloc")
    counted = run_json(DEEP, "memlens.tracemalloc", '{"count_frames": true}')
    # THEN with count_frames every total_nframe (and repr) is the stdlib's,
    # including stacks deeper than the 128 frames memlens keeps
    for ours, theirs in zip(counted, stdlib):
        nframe, depth, length, total, _ = ours
        assert total == theirs[3] == depth + 2, ours
        if length == theirs[2]:
            assert ours == theirs
        else:
            assert (nframe, length) == (200, 128)


def test_total_nframe_of_a_cut_traceback_is_unknown_without_count_frames():
    # GIVEN the same allocations traced without counting
    stdlib = run_json(DEEP, "tracemalloc")
    ours = run_json(DEEP, "memlens.tracemalloc")
    for (_nframe, depth, length, total, text), theirs in zip(ours, stdlib):
        if theirs[2] == theirs[3]:
            # THEN a traceback that was not cut has its exact length
            assert (length, total, text) == (theirs[2], theirs[3], theirs[4])
        else:
            # AND one cut at the limit says "not available", as the stdlib
            # documents for total_nframe, and prints without it
            assert total is None and text.endswith(")>") and length < depth + 2
