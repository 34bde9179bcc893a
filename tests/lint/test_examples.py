"""Recall on the runnable examples: every leaking example is flagged, no fixed one is.

Convention: under ``examples/`` (``python/memlens/examples``), a file whose
name contains ``leak`` must get at least one ML001-ML007 finding, and a file
whose name contains ``fixed`` must get none.
"""
from pathlib import Path

import pytest

import memlens

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _examples(word):
    if not EXAMPLES.is_dir():
        return []
    return sorted(p for p in EXAMPLES.rglob("*.py") if word in p.name)


def _skip_if_none(paths, word):
    if not paths:
        pytest.skip(f"no examples/**/*{word}*.py yet (the heap work adds them)")


@pytest.mark.parametrize("word", ["leak"])
def test_every_leaking_example_is_flagged(word):
    paths = _examples(word)
    _skip_if_none(paths, word)
    missed = [p.name for p in paths if not [d for d in memlens.lint(p) if not d.is_error]]
    assert missed == [], f"leaking examples with no finding: {missed}"


@pytest.mark.parametrize("word", ["fixed"])
def test_no_fixed_example_is_flagged(word):
    paths = _examples(word)
    _skip_if_none(paths, word)
    flagged = {p.name: [str(d) for d in memlens.lint(p)] for p in paths}
    assert {name: found for name, found in flagged.items() if found} == {}
