"""``memlens.lint``: leak-prone patterns in Python source, as data.

The analysis is the Rust engine behind ``memlens lint``; this module only
turns its rows into :class:`LintDiagnostic` objects.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Union

from memlens import _core

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class LintDiagnostic:
    """One finding of ``memlens.lint``: a rule, a message and a location.

    ``line`` and ``column`` are 1-based (columns count characters).
    ``is_error`` is true for ``ML000``, a file that could not be checked.
    """

    code: str
    name: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    source_line: str
    is_error: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"


def lint(
    paths: Union[PathLike, Iterable[PathLike]],
    select: Optional[Iterable[str]] = None,
    ignore: Optional[Iterable[str]] = None,
    include_tests: bool = False,
) -> List[LintDiagnostic]:
    """Lint files and directories for leak-prone patterns (rules ML001-ML007).

    ``paths`` is one path or several; directories are walked respecting
    ``.gitignore``. ``select``/``ignore`` take rule codes or prefixes
    (``"ML001"``, ``"ML00"``) and combine with ``[tool.memlens.lint]`` in the
    ``pyproject.toml`` nearest above each file, as on the command line. Files that cannot be
    parsed are returned as ``ML000`` diagnostics, not raised. Test files
    found in directories (``tests/`` and ``test/`` folders, ``test_*.py``,
    ``*_test.py``, ``conftest.py``) are skipped unless ``include_tests`` is
    true or the configuration says ``include-tests = true``.

    Raises ``FileNotFoundError`` for a path that does not exist and
    ``ValueError`` for an unknown rule code or a malformed configuration.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows = _core.lint_paths(
        [os.fspath(p) for p in paths],
        None if select is None else list(select),
        None if ignore is None else list(ignore),
        bool(include_tests),
    )
    return [LintDiagnostic(**row) for row in rows]
