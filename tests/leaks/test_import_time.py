"""What a module adds while it is still importing is not a leak (docs/leaks.md).

- GIVEN a package whose import is under way when the baseline is taken, and a
  submodule of it loaded later WHEN memlens.leaks lists the incomplete modules
  THEN both are listed, and a module whose name only shares a prefix is not.
"""

import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

from memlens import leaks


def test_a_package_still_importing_and_its_submodules_are_incomplete(monkeypatch):
    package = ModuleType("mlpkg")
    package.__spec__ = ModuleSpec("mlpkg", None, is_package=True)
    package.__spec__._initializing = True
    done = ModuleType("mlpkg_done")
    done.__spec__ = ModuleSpec("mlpkg_done", None)
    monkeypatch.setitem(sys.modules, "mlpkg", package)
    monkeypatch.setitem(sys.modules, "mlpkg_done", done)

    importing = leaks._importing_modules()
    assert importing.get("mlpkg") == id(package)
    assert "mlpkg_done" not in importing

    # The C core of a package joins sys.modules only once its init returns.
    core = ModuleType("mlpkg._core")
    monkeypatch.setitem(sys.modules, "mlpkg._core", core)
    incomplete = leaks._incomplete_modules(importing)
    assert id(package) in incomplete and id(core) in incomplete
    assert id(done) not in incomplete


def test_nothing_is_incomplete_when_no_import_is_under_way():
    assert leaks._incomplete_modules({}) == []
