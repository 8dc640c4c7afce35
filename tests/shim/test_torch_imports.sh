#!/usr/bin/env bash
# test_torch_imports.sh — fails if libgenie.so, the API table or the look-alikes miss a symbol stock PyTorch imports.
#
#   test_torch_imports.sh LIBGENIE SRC_DIR [LOOKALIKE_DIR]
# Reads SRC_DIR/protocol/api/torch_imports.txt (scripts/torch-imports.sh writes it from the
# wheel; this test never downloads). PyTorch's extensions are loaded with RTLD_NOW, so one
# missing symbol is a load failure even if it is never called. Checks, each listing every
# symbol it misses:
#   1. LIBGENIE exports the name, unversioned (so it wins over the versioned real one
#      under LD_PRELOAD);
#   2. protocol/gen/api_table.c (the generated table) has a row for it;
#   3. LOOKALIKE_DIR/libcudart.so.13, the look-alike that holds the shim, defines it at the
#      version node PyTorch asks for.
set -euo pipefail
[ "${1:-}" = --help ] && { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[ $# -ge 2 ] || { echo "usage: $0 LIBGENIE SRC_DIR [LOOKALIKE_DIR]" >&2; exit 2; }
lib=$1 src=$2 lookalike=${3:-}
list="$src/protocol/api/torch_imports.txt"
table="$src/protocol/gen/api_table.c"
for f in "$lib" "$list" "$table"; do
    [ -e "$f" ] || { echo "test_torch_imports: missing $f" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$list" | awk '{print $1}' | LC_ALL=C sort -u >"$tmp/want" # symbol@NODE
sed 's/@.*//' "$tmp/want" | LC_ALL=C sort -u >"$tmp/want_names"
n=$(wc -l <"$tmp/want")
[ "$n" -gt 0 ] || { echo "test_torch_imports: $list lists no symbol" >&2; exit 1; }
fail=0

# 1. exported by libgenie.so, unversioned: nm prints a versioned one as name@@node
nm -D --defined-only "$lib" | awk 'NF == 3 {print $3}' | LC_ALL=C sort -u >"$tmp/have"
LC_ALL=C comm -23 "$tmp/want_names" "$tmp/have" >"$tmp/miss"
if [ -s "$tmp/miss" ]; then
    echo "libgenie.so does not export (unversioned) $(wc -l <"$tmp/miss") of $n symbols PyTorch imports:"
    sed 's/^/  /' "$tmp/miss"
    fail=1
fi

# 2. listed in the generated API table: {id, "name", kind, flags, lib}
sed -n 's/^ *{0x[0-9a-f]*, "\([^"]*\)".*/\1/p' "$table" | LC_ALL=C sort -u >"$tmp/rows"
LC_ALL=C comm -23 "$tmp/want_names" "$tmp/rows" >"$tmp/miss"
if [ -s "$tmp/miss" ]; then
    echo "protocol/gen/api_table.c has no row for $(wc -l <"$tmp/miss") of $n symbols PyTorch imports:"
    sed 's/^/  /' "$tmp/miss"
    fail=1
fi

# 3. defined by the look-alike libcudart.so.13 at the node PyTorch binds to
if [ -n "$lookalike" ]; then
    nm -D --defined-only "$lookalike/libcudart.so.13" | awk 'NF == 3 {print $3}' |
        sed 's/@@*/@/' | LC_ALL=C sort -u >"$tmp/have_v"
    LC_ALL=C comm -23 "$tmp/want" "$tmp/have_v" >"$tmp/miss"
    if [ -s "$tmp/miss" ]; then
        echo "lookalike/libcudart.so.13 does not define $(wc -l <"$tmp/miss") of $n symbols at PyTorch's node:"
        sed 's/^/  /' "$tmp/miss"
        fail=1
    fi
fi
[ $fail = 0 ] || exit 1
echo "test_torch_imports: all $n symbols PyTorch imports are covered ($(sed 's/.*@//' "$tmp/want" | sort | uniq -c | awk '{printf "%s%s %s", s, $2, $1; s=", "}'))"
