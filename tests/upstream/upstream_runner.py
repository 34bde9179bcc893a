"""Run an upstream project's own test suite against a memlens drop-in.

    python upstream_runner.py SUITE SOURCE_DIR RESULT_JSON

SUITE is ``objgraph``, ``pympler`` or ``tracemalloc``. SOURCE_DIR is the
unpacked sdist (ignored for ``tracemalloc``, whose tests come with the
interpreter). Before the suite is imported, the original module names are
bound to memlens's modules in ``sys.modules``, so ``import objgraph`` in the
upstream tests gets ``memlens.objgraph``. Each test's outcome is written to
RESULT_JSON as ``{test id: "pass" | "fail" | "error" | "skip"}``.
With ``MEMLENS_UPSTREAM_ORIGINAL=1`` in the environment nothing is redirected:
the suite runs against the originals, for comparison.

It runs in a child process so that a suite's global changes (gc settings,
tracing left on, modules replaced) cannot leak into the pytest process.
"""

import json
import os
import sys
import unittest

# The part of pympler's suite that covers the modules memlens replaces; the
# rest (class tracker, web GUI, refbrowser, process) has no memlens version.
# Imported as pympler's test/runtest.py does, from its test/ folder
# (test_summary checks a function's module name: ``muppy.test_summary``).
PYMPLER_TEST_MODULES = [
    "muppy.test_muppy",
    "muppy.test_summary",
    "muppy.test_tracker",
    "asizeof.test_asizeof",
]

# Prepended to the ``-c`` code of the interpreters that test_tracemalloc
# starts, so that the child's ``import tracemalloc`` is memlens's as well.
TRACEMALLOC_CHILD_PRELUDE = (
    "import sys, memlens.tracemalloc; sys.modules['tracemalloc'] = memlens.tracemalloc\n"
)


ORIGINAL = os.environ.get("MEMLENS_UPSTREAM_ORIGINAL") == "1"


def redirect_objgraph():
    if ORIGINAL:
        return
    import memlens.objgraph

    sys.modules["objgraph"] = memlens.objgraph


def redirect_pympler(source_dir):
    # The original package provides what memlens does not replace
    # (pympler.util.compat, used by the tests); the four drop-in modules are
    # memlens's, bound before anything can import the originals.
    sys.path.insert(0, source_dir)
    import pympler

    if ORIGINAL:
        return
    import memlens.pympler
    from memlens.pympler import asizeof, muppy, summary, tracker

    assert pympler.__file__.startswith(source_dir), pympler.__file__
    for name, module in [("asizeof", asizeof), ("muppy", muppy), ("summary", summary), ("tracker", tracker)]:
        sys.modules["pympler." + name] = module
        setattr(pympler, name, module)
    del memlens.pympler


def redirect_tracemalloc():
    if ORIGINAL:
        return
    import memlens.tracemalloc

    sys.modules["tracemalloc"] = memlens.tracemalloc


def _wrap_child_launcher(launch):
    if ORIGINAL:
        return launch

    def launch_with_memlens(*args, **env_vars):
        args = list(args)
        if "-c" in args:
            at = args.index("-c") + 1
            args[at] = TRACEMALLOC_CHILD_PRELUDE + args[at]
        return launch(*args, **env_vars)

    return launch_with_memlens


def load_suite(suite, source_dir):
    loader = unittest.defaultTestLoader
    if suite == "objgraph":
        redirect_objgraph()
        os.chdir(source_dir)
        sys.path.insert(0, source_dir)
        import tests

        return tests.test_suite()
    if suite == "pympler":
        redirect_pympler(source_dir)
        os.chdir(source_dir)
        sys.path.insert(1, os.path.join(source_dir, "test"))
        return unittest.TestSuite(loader.loadTestsFromName(name) for name in PYMPLER_TEST_MODULES)
    if suite == "tracemalloc":
        redirect_tracemalloc()
        import test.test_tracemalloc as upstream

        for name in ("assert_python_ok", "assert_python_failure"):
            setattr(upstream, name, _wrap_child_launcher(getattr(upstream, name)))
        return loader.loadTestsFromModule(upstream)
    raise SystemExit("unknown suite %r (objgraph, pympler or tracemalloc)" % suite)


class RecordingResult(unittest.TextTestResult):
    """A text result that also keeps one outcome per test id."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}

    def addSuccess(self, test):
        super().addSuccess(test)
        self.outcomes.setdefault(test.id(), "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.outcomes[test.id()] = "fail"

    def addError(self, test, err):
        super().addError(test, err)
        self.outcomes[test.id()] = "error"

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.outcomes[test.id()] = "skip"

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.outcomes[test.id()] = "pass"

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.outcomes[test.id()] = "fail"

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self.outcomes[test.id()] = "fail" if failed else "error"


# CPython's regrtest calls a test some frames deeper than a plain unittest
# runner does, and test_tracemalloc's test_snapshot asserts that the stack
# is more than 10 frames deep.
REGRTEST_EXTRA_FRAMES = 8


def run_deeper(runner, suite, frames):
    if frames == 0:
        return runner.run(suite)
    return run_deeper(runner, suite, frames - 1)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    suite_name, source_dir, result_path = argv[1], os.path.abspath(argv[2]), argv[3]
    suite = load_suite(suite_name, source_dir)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=RecordingResult)
    result = run_deeper(runner, suite, REGRTEST_EXTRA_FRAMES)
    with open(result_path, "w") as out:
        json.dump(result.outcomes, out, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
