"""`memlens demo` and the example scripts: they run, and say what they should."""
import os
import subprocess
import sys

import pytest

from memlens.examples import SCENARIOS

EXAMPLES = os.path.dirname(__import__("memlens.examples", fromlist=["x"]).__file__)


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)


def test_demo_finds_each_leak_and_its_holder_and_shows_the_fixes_do_not_grow():
    # WHEN the demo runs
    result = run("-m", "memlens", "demo", "--iterations", "300")
    out = result.stdout
    # THEN it exits 0 and, for each scenario, names the growing type and the chain that holds it
    assert result.returncode == 0, result.stderr + out
    expected = {
        "module_list": ("leak_module_list.Request", "memlens.examples.leak_module_list._recent_requests["),
        "class_attribute": ("leak_class_attribute.Event", "memlens.examples.leak_class_attribute.Session.history["),
        "closure": ("leak_closure.Token", "memlens.examples.leak_closure.parse.__closure__[0].cell_contents["),
        "listener": ("leak_listener.Widget", "memlens.examples.leak_listener.bus._listeners["),
    }
    for name, (growing_type, chain) in expected.items():
        section = out.split(". %s: " % name, 1)[1].split("=" * 78, 1)[0]
        assert growing_type in section, section
        assert "+1.0" in section, section
        assert chain in section, section
        assert "Fixed version" in section and "nothing grows" in section, section
    assert "a closure cell" in out and "a class attribute" in out and "a module global" in out
    assert "a listener list holding bound methods" in out
    assert out.count("leak found      fix does not grow") == 4


def test_demo_runs_one_scenario_and_rejects_unknown_ones():
    result = run("-m", "memlens", "demo", "--only", "closure", "--iterations", "100")
    assert result.returncode == 0, result.stderr
    assert "closure" in result.stdout and "module_list" not in result.stdout
    bad = run("-m", "memlens", "demo", "--only", "nope")
    assert bad.returncode == 2


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_example_pair_exists_and_runs(scenario):
    # GIVEN the naming convention leak_<scenario>.py / fixed_<scenario>.py
    for kind in ("leak", "fixed"):
        assert os.path.exists(os.path.join(EXAMPLES, "%s_%s.py" % (kind, scenario)))
    # WHEN each is run as a module
    leak = run("-m", "memlens.examples.leak_" + scenario)
    fixed = run("-m", "memlens.examples.fixed_" + scenario)
    # THEN the leak grows every round and the fix does not
    assert leak.returncode == 0 and fixed.returncode == 0, leak.stderr + fixed.stderr
    assert leak.stdout.count("+1000") >= 5, leak.stdout
    assert fixed.stdout.count("nothing grows") == 5, fixed.stdout
