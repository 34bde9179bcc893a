#!/usr/bin/env bash
# The whole memlens test suite: Rust unit tests, then pytest on each Python.
#
#   bash scripts/test.sh                        # CPython 3.11
#   MEMLENS_PYTHONS="3.9 3.11 3.13" bash scripts/test.sh
#
# Each Python gets its own virtualenv (.venv-X.Y) with the extension built in
# release mode and the peers the parity tests compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHONS=${MEMLENS_PYTHONS:-3.11}

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

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace --quiet

for version in $PYTHONS; do
    python=$(find_python "$version")
    venv=".venv-$version"
    echo "== CPython $version ($python) in $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" maturin develop --release --quiet
    "$venv/bin/python" -m pytest tests -q -p no:cacheprovider
done
