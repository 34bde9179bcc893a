"""Helpers for the allocation-tracer tests: run a scenario in a fresh interpreter."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest


def run_python(code, *args, timeout=120):
    """Runs `code` as a script file in a child interpreter; returns the CompletedProcess.

    The same code always gets the same path, so runs under different tracers
    print identical file names.
    """
    code = textwrap.dedent(code)
    folder = os.path.join(tempfile.gettempdir(), "memlens-trace-tests")
    os.makedirs(folder, exist_ok=True)
    script = os.path.join(folder, "scenario_%s.py" % hashlib.sha256(code.encode()).hexdigest()[:16])
    with open(script, "w") as file:
        file.write(code)
    return subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(code, *args):
    """Runs `code`, which prints one JSON document last; returns it."""
    result = run_python(code, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def memlens_tracemalloc():
    from memlens import tracemalloc

    yield tracemalloc
    tracemalloc.stop()
