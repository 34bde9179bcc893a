//! The cross-module pass (findings that scale with instances of a class
//! made once per process are dropped) and the test-file default, over real
//! trees of files.

use std::path::Path;

use memlens_lint::{lint_paths, lint_paths_with_nearest_config, Settings};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// `file:line:code` for every finding under `root`.
fn reported(root: &Path, settings: &Settings) -> Vec<String> {
    let report = lint_paths(&[root.to_path_buf()], settings).unwrap();
    report
        .diagnostics
        .iter()
        .map(|d| {
            let relative = d.path.strip_prefix(root).unwrap_or(&d.path);
            format!("{}:{}:{}", relative.display(), d.line, d.rule.code())
        })
        .collect()
}

/// A class that subscribes in its constructor (line 3 is the finding).
const FEEDER: &str =
    "class Feeder:\n    def __init__(self, bus):\n        bus.subscribe('tick', self.on_tick)\n\n    def on_tick(self, event):\n        pass\n";

fn lint(files: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    reported(dir.path(), &Settings::default())
}

/// GIVEN a class registering a listener in `__init__`
/// WHEN no linted file makes it
/// THEN the finding stays (unknown lifetime).
#[test]
fn given_a_class_made_nowhere_when_linted_then_it_is_reported() {
    assert_eq!(
        lint(&[("app/feeder.py", FEEDER)]),
        ["app/feeder.py:3:ML004"]
    );
}

/// GIVEN the class made only at import in another module (relative import)
///       and in `main`
/// WHEN the tree is linted
/// THEN its constructor's registration is not reported.
#[test]
fn given_a_class_made_at_import_and_in_main_when_linted_then_it_is_not_reported() {
    let found = lint(&[
        ("app/__init__.py", ""),
        ("app/feeder.py", FEEDER),
        (
            "app/wiring.py",
            "from .feeder import Feeder\nfrom . import bus\n\nFEEDER = Feeder(bus.BUS)\n\ndef main():\n    Feeder(bus.BUS)\n",
        ),
        ("app/bus.py", "BUS = object()\n"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

/// GIVEN the class also made in an ordinary function (per request)
/// WHEN the tree is linted
/// THEN the finding stays.
#[test]
fn given_a_class_also_made_per_call_when_linted_then_it_is_reported() {
    let found = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/wiring.py",
            "import app.feeder\n\nFEEDER = app.feeder.Feeder(None)\n\ndef handle(request):\n    return app.feeder.Feeder(request.bus)\n",
        ),
    ]);
    assert_eq!(found, ["app/feeder.py:3:ML004"]);
}

/// GIVEN two classes named `Feeder` in different modules, one made at
///       import, the other per call, each through its own import
/// WHEN the tree is linted
/// THEN imports tell them apart: only the one made per call is reported.
#[test]
fn given_two_classes_of_the_same_name_when_linted_then_imports_tell_them_apart() {
    let found = lint(&[
        ("a/feeder.py", FEEDER),
        ("b/feeder.py", FEEDER),
        (
            "a/wiring.py",
            "from a.feeder import Feeder\n\nFEEDER = Feeder(None)\n",
        ),
        (
            "b/wiring.py",
            "from b.feeder import Feeder\n\ndef handle(request):\n    return Feeder(request.bus)\n",
        ),
    ]);
    assert_eq!(found, ["b/feeder.py:3:ML004"]);
}

/// GIVEN a same-named class made per call through star imports of both
///       packages that define one
/// WHEN the tree is linted
/// THEN the reference cannot be resolved, counts for every `Feeder` of
///      those packages, and both stay reported.
#[test]
fn given_an_unresolvable_reference_when_linted_then_it_counts_for_every_class_of_that_name() {
    let found = lint(&[
        ("a/__init__.py", "from .feeder import *\n"),
        ("a/feeder.py", FEEDER),
        ("b/__init__.py", ""),
        ("b/feeder.py", FEEDER),
        (
            "a/wiring.py",
            "from a.feeder import Feeder\n\nFEEDER = Feeder(None)\n",
        ),
        (
            "c/handlers.py",
            "from a import *\nfrom b import *\n\ndef handle(request):\n    return Feeder(request.bus)\n",
        ),
    ]);
    assert_eq!(found, ["a/feeder.py:3:ML004", "b/feeder.py:3:ML004"]);
}

/// GIVEN a same-named class made per call in a module whose only star
///       import comes from a module outside the linted files (a C
///       extension's `Error`, as `locale` does with `_locale`)
/// WHEN the tree is linted
/// THEN that reference cannot name the linted class, which is made once.
#[test]
fn given_a_star_import_from_elsewhere_when_linted_then_it_does_not_count_for_linted_classes() {
    let found = lint(&[
        ("a/__init__.py", ""),
        ("a/feeder.py", FEEDER),
        (
            "a/wiring.py",
            "from a.feeder import Feeder\n\nFEEDER = Feeder(None)\n",
        ),
        (
            "lib/locale.py",
            "from _locale import *\n\ndef setlocale(name):\n    raise Feeder(name)\n",
        ),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

/// GIVEN the class made at import but also passed on as a value, or a
///       subclass of it made per call
/// WHEN the tree is linted
/// THEN the finding stays: someone may make more instances.
#[test]
fn given_a_class_passed_as_a_value_or_subclassed_when_linted_then_it_is_reported() {
    let escaped = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/wiring.py",
            "from app.feeder import Feeder\n\nFEEDER = Feeder(None)\nFACTORIES = {'feeder': Feeder}\n",
        ),
    ]);
    assert_eq!(escaped, ["app/feeder.py:3:ML004"]);
    let subclassed = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/wiring.py",
            "from app.feeder import Feeder\n\nFEEDER = Feeder(None)\n\nclass Fast(Feeder):\n    pass\n\ndef handle(request):\n    return Fast(request.bus)\n",
        ),
    ]);
    assert_eq!(subclassed, ["app/feeder.py:3:ML004"]);
}

/// GIVEN a class made in the constructor of a class made at import
/// WHEN the tree is linted
/// THEN it is made once too, and its registration is not reported.
#[test]
fn given_a_class_made_by_a_singleton_constructor_when_linted_then_it_is_not_reported() {
    let found = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/core.py",
            "from app.feeder import Feeder\n\nclass Core:\n    def __init__(self, bus):\n        self.feeder = Feeder(bus)\n\nCORE = Core(None)\n",
        ),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

/// GIVEN a class made only at import whose class-level list grows in its
///       constructor (ML002), and a cache on one of its methods (ML005)
/// WHEN the tree is linted
/// THEN neither is reported; made per call as well, both are.
#[test]
fn given_ml002_and_ml005_when_the_class_is_made_once_then_they_are_not_reported() {
    let colour = "import functools\n\nclass Colour:\n    named = []\n\n    def __init__(self, name):\n        self.named.append(name)\n\n    @functools.cache\n    def rgb(self, space):\n        return space\n";
    let once = lint(&[
        ("pkg/colour.py", colour),
        (
            "pkg/named.py",
            "from pkg.colour import Colour\n\nRED = Colour('red')\n",
        ),
    ]);
    assert!(once.is_empty(), "{once:?}");
    let per_call = lint(&[
        ("pkg/colour.py", colour),
        (
            "pkg/named.py",
            "from pkg.colour import Colour\n\nRED = Colour('red')\n\ndef mix(a, b):\n    return Colour(a + b)\n",
        ),
    ]);
    assert_eq!(per_call, ["pkg/colour.py:7:ML002", "pkg/colour.py:9:ML005"]);
}

const LEAK: &str = "_seen = []\n\ndef handle(x):\n    _seen.append(x)\n";

/// GIVEN leaks in a `tests/` folder, a `test_*.py`, a `conftest.py` and a
///       plain module
/// WHEN the tree is linted by default, and with test files included
/// THEN only the plain module is reported by default; all four with them.
#[test]
fn given_test_files_when_linted_then_they_are_skipped_unless_included() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        &[
            ("app/core.py", LEAK),
            ("app/tests/util.py", LEAK),
            ("app/test_core.py", LEAK),
            ("conftest.py", LEAK),
        ],
    );
    assert_eq!(
        reported(root, &Settings::default()),
        ["app/core.py:4:ML001"]
    );
    let with_tests = Settings {
        include_tests: true,
        ..Settings::default()
    };
    assert_eq!(reported(root, &with_tests).len(), 4);
    // The same through per-file configuration.
    let default =
        lint_paths_with_nearest_config(&[root.to_path_buf()], None, Vec::new(), false).unwrap();
    assert_eq!(default.diagnostics.len(), 1);
    let flag =
        lint_paths_with_nearest_config(&[root.to_path_buf()], None, Vec::new(), true).unwrap();
    assert_eq!(flag.diagnostics.len(), 4);
    write(
        root,
        &[(
            "pyproject.toml",
            "[tool.memlens.lint]\ninclude-tests = true\n",
        )],
    );
    let configured =
        lint_paths_with_nearest_config(&[root.to_path_buf()], None, Vec::new(), false).unwrap();
    assert_eq!(configured.diagnostics.len(), 4);
}

/// GIVEN a test file or test folder named on the command line
/// WHEN it is linted by default
/// THEN it is linted: the user asked for it.
#[test]
fn given_a_test_file_or_folder_named_directly_when_linted_then_it_is_linted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        &[("tests/test_core.py", LEAK), ("tests/helpers.py", LEAK)],
    );
    let file = lint_paths(&[root.join("tests/helpers.py")], &Settings::default()).unwrap();
    assert_eq!(file.diagnostics.len(), 1);
    let folder = lint_paths(&[root.join("tests")], &Settings::default()).unwrap();
    // Inside a named folder the folder rule does not apply; the file-name rule still does.
    assert_eq!(folder.diagnostics.len(), 1);
}

/// GIVEN a class made in `main`, but inside its serving loop, or in a
///       module-level `while` loop
/// WHEN the tree is linted
/// THEN it is made per iteration, not once, and stays reported; a
///      module-level `for` over constants still counts as import time.
#[test]
fn given_a_class_made_in_a_loop_when_linted_then_it_is_not_made_once() {
    let in_main_loop = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/serve.py",
            "from app.feeder import Feeder\n\ndef main(server):\n    for conn in server:\n        Feeder(conn)\n",
        ),
    ]);
    assert_eq!(in_main_loop, ["app/feeder.py:3:ML004"]);
    let in_module_while = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/serve.py",
            "import socket\nfrom app.feeder import Feeder\n\nwhile True:\n    Feeder(socket.accept())\n",
        ),
    ]);
    assert_eq!(in_module_while, ["app/feeder.py:3:ML004"]);
    let module_for = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/table.py",
            "from app.feeder import Feeder\n\nFEEDERS = {}\nfor name in ('a', 'b'):\n    FEEDERS[name] = Feeder(name)\n",
        ),
    ]);
    assert!(module_for.is_empty(), "{module_for:?}");
}

/// GIVEN a class made in a function called `main` that is nested in
///       another function (a callback, not the program's entry point)
/// WHEN the tree is linted
/// THEN it is not made once.
#[test]
fn given_a_nested_main_when_linted_then_it_is_not_an_entry_point() {
    let found = lint(&[
        ("app/feeder.py", FEEDER),
        (
            "app/serve.py",
            "from app.feeder import Feeder\n\ndef make_handler():\n    def main(conn):\n        return Feeder(conn)\n    return main\n",
        ),
    ]);
    assert_eq!(found, ["app/feeder.py:3:ML004"]);
}

/// GIVEN a module-level list grown in a function that only `main` calls,
///       and a registration in a helper that only the constructor of a class
///       made at import calls
/// WHEN the tree is linted
/// THEN both stay reported: the pass does not follow calls (measured on the
///      precision corpora, following them removed no finding).
#[test]
fn given_code_reached_only_from_once_code_when_linted_then_calls_are_not_followed() {
    let found = lint(&[
        ("app/__init__.py", ""),
        ("app/state.py", "_plugins = []\n\ndef load(name):\n    _plugins.append(name)\n"),
        (
            "app/cli.py",
            "from app.state import load\n\ndef main():\n    load('core')\n",
        ),
        (
            "app/feeder.py",
            "class Feeder:\n    def __init__(self, bus):\n        self._wire(bus)\n\n    def _wire(self, bus):\n        bus.subscribe('tick', self.on_tick)\n\n    def on_tick(self, event):\n        pass\n\nFEEDER = Feeder(None)\n",
        ),
    ]);
    assert_eq!(found, ["app/feeder.py:6:ML004", "app/state.py:4:ML001"]);
}

/// GIVEN a class made lazily in a per-call method of a class made once
///       (`if self._feeder is None: self._feeder = Feeder()`, or after
///       `if self._feeder is not None: return self._feeder`), and a
///       class made under a global `is None` test, or by a `singleton`
///       function
/// WHEN the tree is linted
/// THEN each is made once per process and not reported; made without the
///      guard, it is.
#[test]
fn given_a_lazily_made_class_when_linted_then_it_is_made_once() {
    for getter in [
        "    def feeder(self, bus):\n        if self._feeder is None:\n            self._feeder = Feeder(bus)\n        return self._feeder\n",
        "    def feeder(self, bus):\n        if self._feeder is not None:\n            return self._feeder\n        self._feeder = Feeder(bus)\n        return self._feeder\n",
    ] {
        let found = lint(&[
            ("app/__init__.py", ""),
            ("app/feeder.py", FEEDER),
            (
                "app/hub.py",
                &format!("from app.feeder import Feeder\n\nclass Hub:\n    _feeder = None\n\n{getter}\nHUB = Hub()\n"),
            ),
        ]);
        assert!(found.is_empty(), "{getter}: {found:?}");
    }
    let global = lint(&[
        ("app/__init__.py", ""),
        ("app/feeder.py", FEEDER),
        (
            "app/hub.py",
            "from app.feeder import Feeder\n\n_feeder = None\n\ndef feeder(bus):\n    global _feeder\n    if _feeder is None:\n        _feeder = Feeder(bus)\n    return _feeder\n",
        ),
    ]);
    assert!(global.is_empty(), "{global:?}");
    let singleton = lint(&[
        ("app/__init__.py", ""),
        ("app/feeder.py", FEEDER),
        (
            "app/hub.py",
            "from app.feeder import Feeder\nfrom app.util import singleton\n\n@singleton('feeder')\ndef get_feeder(bus):\n    return Feeder(bus)\n",
        ),
    ]);
    assert!(singleton.is_empty(), "{singleton:?}");
    let unguarded = lint(&[
        ("app/__init__.py", ""),
        ("app/feeder.py", FEEDER),
        (
            "app/hub.py",
            "from app.feeder import Feeder\n\nclass Hub:\n    def feeder(self, bus):\n        self._feeder = Feeder(bus)\n        return self._feeder\n\nHUB = Hub()\n",
        ),
    ]);
    assert_eq!(unguarded, ["app/feeder.py:3:ML004"]);
}

/// GIVEN a class made at import that another module reaches only through a
///       local alias (`kind = A if x else B`) to read class attributes
/// WHEN the tree is linted
/// THEN the alias does not pass the class on, and it stays made once;
///      an alias that is called makes instances there.
#[test]
fn given_a_class_read_through_a_local_alias_when_linted_then_it_stays_made_once() {
    let issue = "class Issue:\n    codes = []\n\n    def __init__(self, code):\n        self.codes.append(code)\n\n    @classmethod\n    def get(cls, code):\n        return code\n";
    let read = lint(&[
        ("app/__init__.py", ""),
        ("app/issue.py", issue),
        (
            "app/codes.py",
            "from app.issue import Issue\n\nE1 = Issue(1)\n\ndef lookup(code, strict):\n    kind = Issue if strict else Issue\n    return kind.get(code)\n",
        ),
    ]);
    assert!(read.is_empty(), "{read:?}");
    let called = lint(&[
        ("app/__init__.py", ""),
        ("app/issue.py", issue),
        (
            "app/codes.py",
            "from app.issue import Issue\n\nE1 = Issue(1)\n\ndef make(code, strict):\n    kind = Issue if strict else Issue\n    return kind(code)\n",
        ),
    ]);
    assert_eq!(called, ["app/issue.py:5:ML002"]);
}
