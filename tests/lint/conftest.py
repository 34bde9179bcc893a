"""Fixtures for the lint tests."""
import pytest

from lint_helpers import CLEAN, LEAKY, write


@pytest.fixture
def project(tmp_path):
    """A project directory with one leaking and one clean module."""
    return write(tmp_path, {"app/leaky.py": LEAKY, "app/clean.py": CLEAN})
