"""Shared helpers for the lint tests: write a small project, run the CLI.

(A uniquely named module, not conftest, so that importing it cannot pick up
another test folder's conftest.)
"""
import subprocess
import sys
import textwrap
from pathlib import Path

LEAKY = """\
_seen = []


def handle(request):
    _seen.append(request)
"""

CLEAN = """\
import collections

_recent = collections.deque(maxlen=10)


def handle(request):
    _recent.append(request)
"""


def write(root: Path, files: dict) -> Path:
    """Write ``{relative path: text or bytes}`` under ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return root


def run_lint(*args, cwd=None):
    """Run ``memlens lint`` in a subprocess (the Rust side writes straight to fd 1)."""
    return subprocess.run(
        [sys.executable, "-m", "memlens", "lint", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
