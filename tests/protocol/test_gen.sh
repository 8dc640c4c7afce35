#!/usr/bin/env bash
# test_gen.sh — regenerates every generated folder into a temporary tree; fails on any difference.
set -euo pipefail
apigen=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$apigen" "$tmp"
stale=0 files=0
for dir in protocol/gen shim/gen remote/gen; do
    # -N: a file missing on either side is a difference too
    if ! diff -ruN "$src/$dir" "$tmp/$dir"; then
        echo "$dir is stale: run 'cmake --build build --target regen' and commit" >&2
        stale=1
    fi
    files=$((files + $(ls "$tmp/$dir" | wc -l)))
done
[ $stale = 0 ] || exit 1
echo "protocol/gen, shim/gen and remote/gen are up to date ($files files)"
