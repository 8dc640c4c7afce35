#!/usr/bin/env bash
# test_gen.sh — regenerates protocol/gen into a temporary directory; fails on any difference.
set -euo pipefail
apigen=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$apigen" "$tmp"
if ! diff -ru "$src/protocol/gen" "$tmp"; then
    echo "protocol/gen is stale: run 'cmake --build build --target regen' and commit" >&2
    exit 1
fi
echo "protocol/gen is up to date ($(ls "$tmp" | wc -l) files)"
