"""The originals' own test suites, run against memlens's drop-ins.

GIVEN the pinned objgraph and pympler sdists from PyPI (downloaded at test
time into a cache, never committed) and the interpreter's own
``test.test_tracemalloc``
WHEN their tests run with ``objgraph`` / ``pympler.*`` / ``tracemalloc``
bound to memlens's modules (``upstream_runner.py``, in a child process)
THEN every test passes except those named in ``expected_differences.py``,
and each of those still fails (a list that no longer matches is an error).

The cache is ``$MEMLENS_UPSTREAM_CACHE`` or ``~/.cache/memlens/upstream``.
Without network and without a cached sdist, the two sdist suites are skipped
with the reason.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from expected_differences import BY_DESIGN, NOT_YET_FIXED, PENDING_ELSEWHERE, applicable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUNNER = HERE / "upstream_runner.py"

# name, version, sha256 of the sdist as PyPI serves it.
SDISTS = {
    "objgraph": ("objgraph", "3.7.0", "b6ef4b244217410509b257970413b01a979d54df48d2d4055b6941e8679ddbbb"),
    "pympler": ("pympler", "1.1", "1eaa867cb8992c218430f1708fdaccda53df064144d1c5656b1e6f1ee6000424"),
}

SUITE_TIMEOUT_S = 1200
DOCS = {suite: ROOT / "docs" / "compat" / ("%s.md" % suite) for suite in ("objgraph", "pympler", "tracemalloc")}


def _cache_dir():
    configured = os.environ.get("MEMLENS_UPSTREAM_CACHE")
    path = Path(configured) if configured else Path.home() / ".cache" / "memlens" / "upstream"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download_sdist(suite):
    name, version, digest = SDISTS[suite]
    cache = _cache_dir()
    found = [p for p in cache.glob("*.tar.gz") if p.name.lower() == "%s-%s.tar.gz" % (name, version)]
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                   "--no-deps", "--no-binary", ":all:", "--dest", str(cache), "%s==%s" % (name, version)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        found = [p for p in cache.glob("*.tar.gz") if p.name.lower() == "%s-%s.tar.gz" % (name, version)]
        if done.returncode != 0 or not found:
            pytest.skip("cannot download the %s %s sdist from PyPI (offline?): %s"
                        % (name, version, done.stderr.strip()[-300:]))
    sdist = found[0]
    if _sha256(sdist) != digest:
        pytest.fail("%s has sha256 %s, expected %s: delete it and run again" % (sdist, _sha256(sdist), digest))
    return sdist


def _unpack(sdist, into):
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            target = (into / member.name).resolve()
            if not str(target).startswith(str(into.resolve())) or member.issym() or member.islnk():
                pytest.fail("%s: unsafe member %r" % (sdist, member.name))
        if hasattr(tarfile, "data_filter"):
            archive.extractall(into, filter="data")
        else:
            archive.extractall(into)
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    return top


def _run_suite(suite, source_dir, workdir):
    result_path = workdir / ("%s-results.json" % suite)
    log_path = workdir / ("%s-output.txt" % suite)
    env = dict(os.environ)
    env.pop("MEMLENS_UPSTREAM_ORIGINAL", None)
    with open(log_path, "w") as log:
        done = subprocess.run([sys.executable, str(RUNNER), suite, str(source_dir), str(result_path)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(workdir),
                              timeout=SUITE_TIMEOUT_S)
    output = log_path.read_text(errors="replace")
    assert done.returncode == 0 and result_path.exists(), "runner failed (rc %d):\n%s" % (done.returncode, output[-4000:])
    return json.loads(result_path.read_text()), output


def _failure_report(output, test_ids):
    """The unittest tracebacks of the given tests, cut from the runner's output."""
    names = {t.rsplit(".", 1)[-1].replace("_txt", ".txt") for t in test_ids}
    blocks = output.split("=" * 70 + "\n")
    keep = [b for b in blocks if any(name in b.split("\n", 1)[0] for name in names)]
    return "".join(keep)[-8000:]


def _check(suite, outcomes, output):
    version = sys.version_info[:2]
    expected = {}
    for table in (BY_DESIGN, PENDING_ELSEWHERE, NOT_YET_FIXED):
        expected.update(applicable(table[suite], version))
    failed = {t for t, outcome in outcomes.items() if outcome in ("fail", "error")}
    passed = sum(1 for outcome in outcomes.values() if outcome == "pass")
    skipped = sum(1 for outcome in outcomes.values() if outcome == "skip")
    print("%s on %d.%d: %d passed, %d failed, %d skipped (of %d)"
          % (suite, version[0], version[1], passed, len(failed), skipped, len(outcomes)))
    unexpected = sorted(failed - set(expected))
    now_passing = sorted(t for t in expected if outcomes.get(t) == "pass")
    missing = sorted(t for t in expected if t not in outcomes)
    problems = []
    if unexpected:
        problems.append("failing, not in expected_differences.py:\n  " + "\n  ".join(unexpected)
                        + "\n" + _failure_report(output, unexpected))
    if now_passing:
        problems.append("passing now, remove from expected_differences.py:\n  " + "\n  ".join(now_passing))
    if missing:
        problems.append("listed in expected_differences.py, but not in the suite:\n  " + "\n  ".join(missing))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("suite", ["objgraph", "pympler"])
def test_sdist_suite_passes_against_memlens(suite, tmp_path):
    source_dir = _unpack(_download_sdist(suite), tmp_path)
    outcomes, output = _run_suite(suite, source_dir, tmp_path)
    _check(suite, outcomes, output)


def test_cpython_test_tracemalloc_passes_against_memlens(tmp_path):
    try:
        import test.test_tracemalloc  # noqa: F401 (only checks it ships with this interpreter)
    except ImportError:
        pytest.skip("this interpreter ships without its test package")
    outcomes, output = _run_suite("tracemalloc", tmp_path, tmp_path)
    _check("tracemalloc", outcomes, output)


DOC_SECTION = "### Upstream tests that differ by design"


@pytest.mark.parametrize("suite", sorted(DOCS))
def test_docs_list_exactly_the_by_design_differences(suite):
    # GIVEN the compat page's "what differs" list of upstream tests
    text = DOCS[suite].read_text()
    assert DOC_SECTION in text, "%s has no %r section" % (DOCS[suite], DOC_SECTION)
    section = text.split(DOC_SECTION, 1)[1].split("\n#", 1)[0]
    # THEN its items (``- `test id`: reason``) name the same tests as expected_differences.BY_DESIGN
    in_docs = set(re.findall(r"^- `([^`]+)`", section, re.MULTILINE))
    assert in_docs == set(BY_DESIGN[suite]), (
        "docs only: %s; expected_differences.py only: %s"
        % (sorted(in_docs - set(BY_DESIGN[suite])), sorted(set(BY_DESIGN[suite]) - in_docs)))
