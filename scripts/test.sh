#!/usr/bin/env bash
# The whole memlens test suite: Rust checks and tests, the Python checks
# (ruff, mypy --strict, stubtest), then pytest on each Python.
#
#   bash scripts/test.sh                        # CPython 3.11
#   MEMLENS_PYTHONS="3.9 3.11 3.13" bash scripts/test.sh
#
# Each Python gets its own virtualenv (.venv-X.Y) with the extension built in
# release mode and the peers the parity tests compare against. Every version's
# extension lands beside the sources under its own name
# (_core.cpython-XY-*.so), so the builds share one cargo target directory
# (only pyo3 and memlens-py are rebuilt per version) and pytest on one version
# runs while the next version builds: a build keeps both cores busy only in
# bursts, pytest mostly one.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHONS=${MEMLENS_PYTHONS:-3.11}
logs=$(mktemp -d "${TMPDIR:-/tmp}/memlens-test.XXXXXX")
trap 'rm -rf "$logs"' EXIT

find_python() {
    local version=$1 candidate
    for candidate in "python$version" "$HOME/.pyenv/versions/$version"*/bin/python"$version"; do
        if "$candidate" -c 'import sys' >/dev/null 2>&1; then
            command -v "$candidate" 2>/dev/null || echo "$candidate"
            return 0
        fi
    done
    echo "no CPython $version found (looked on PATH and under ~/.pyenv/versions)" >&2
    return 1
}

stamp() { date +%s; }
started=$(stamp)
elapsed() { echo "$(($(stamp) - started)) s"; }

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test ($(elapsed))"
cargo test --workspace --quiet

# Tests read by real consumers (headless Chromium, npm readers) are #[ignore]d
# in a plain `cargo test`; they run here when the tools are installed, fail
# under CI when they are not, and are reported as skipped otherwise.
echo "== real readers: Chromium and npm ($(elapsed))"
have() { command -v "$1" >/dev/null 2>&1; }
if have chromium && have node && have npm; then
    for js in tests/capture/js tests/heap/js; do
        if [ ! -d "$js/node_modules" ]; then
            # memlab depends on puppeteer, whose install would fetch a Chrome.
            (cd "$js" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
        fi
    done
    cargo test --workspace --quiet -- --ignored
elif [ -n "${CI:-}" ]; then
    echo "chromium, node and npm are needed under CI (.ci/apt-packages.txt)" >&2
    exit 1
else
    echo "SKIPPED: the real-reader tests need chromium, node and npm"
fi

# The pytest run started last: its version, pid and log.
pending_version="" pending_pid="" failed=""

# Waits for the pending pytest run, prints its log, remembers a failure.
finish_pending() {
    [ -n "$pending_pid" ] || return 0
    local rc=0
    wait "$pending_pid" || rc=$?
    echo "== pytest on CPython $pending_version: exit $rc ($(elapsed))"
    cat "$logs/pytest-$pending_version.log"
    [ "$rc" -eq 0 ] || failed="$failed $pending_version"
    pending_version="" pending_pid=""
}

# The Python checks run once, in the first virtualenv whose Python the
# checkers support (mypy needs 3.10 or later).
checked=0
for version in $PYTHONS; do
    python=$(find_python "$version")
    venv=".venv-$version"
    echo "== CPython $version ($python) in $venv ($(elapsed))"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
    fi
    requirements=(-r tests/requirements.txt)
    check_here=0
    if [ "$checked" -eq 0 ] && [ "$version" != 3.9 ]; then
        check_here=1 checked=1
        requirements+=(-r tests/requirements-lint.txt)
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" maturin develop --release --quiet
    if [ "$check_here" -eq 1 ]; then
        echo "== ruff, mypy --strict, stubtest on CPython $version ($(elapsed))"
        "$venv/bin/ruff" check --quiet python tests
        "$venv/bin/mypy"
        "$venv/bin/python" -m mypy.stubtest --mypy-config-file pyproject.toml \
            --allowlist tests/stubtest-allowlist.txt memlens._core
    fi
    finish_pending
    "$venv/bin/python" -m pytest tests -q -p no:cacheprovider >"$logs/pytest-$version.log" 2>&1 &
    pending_version=$version pending_pid=$!
done
finish_pending
[ "$checked" -eq 1 ] || echo "== ruff, mypy, stubtest skipped: they need CPython 3.10 or later"

if [ -n "$failed" ]; then
    echo "== pytest failed on CPython$failed ($(elapsed))"
    exit 1
fi
echo "== all passed ($(elapsed))"
