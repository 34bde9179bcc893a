"""Helpers for the `memlens run` tests: run memlens in a fresh interpreter."""
import subprocess
import sys
import textwrap

import pytest


class Memlens:
    def __init__(self, cwd):
        self.cwd = cwd

    def __call__(self, *args, timeout=180, env=None):
        return subprocess.run(
            [sys.executable, "-m", "memlens", *map(str, args)],
            cwd=self.cwd, capture_output=True, text=True, timeout=timeout, env=env,
        )

    def script(self, name, source):
        path = self.cwd / name
        path.write_text(textwrap.dedent(source))
        return path


@pytest.fixture
def memlens(tmp_path):
    return Memlens(tmp_path)
