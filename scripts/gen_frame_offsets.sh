#!/usr/bin/env bash
# Regenerates crates/memlens-py/src/trace/frames/pyXY.rs: the CPython struct
# offsets the allocation tracer's frame walker reads, taken from each
# interpreter's own headers (internal ones included) with offsetof.
#
#   bash scripts/gen_frame_offsets.sh            # 3.9 3.10 3.11 3.12 3.13
set -euo pipefail
cd "$(dirname "$0")/.."
dir=crates/memlens-py/src/trace/frames
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for version in ${MEMLENS_PYTHONS:-3.9 3.10 3.11 3.12 3.13}; do
    python=$(ls -d "$HOME/.pyenv/versions/$version"*/bin/python"$version" 2>/dev/null | head -1 || command -v "python$version")
    include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    gcc -I"$include" -I"$include/internal" "$dir/offsets.c" -o "$tmp/offsets"
    "$tmp/offsets" > "$dir/py${version/./}.rs"
    echo "wrote $dir/py${version/./}.rs"
done
