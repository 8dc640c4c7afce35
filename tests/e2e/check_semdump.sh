#!/usr/bin/env bash
# check_semdump.sh — the semantics IR the shim records for minigpt (GENIE_SEM_DUMP), checked
# against what the program does: every batch fully described, prefill GEMMs over the prompt's
# tokens, decode-step GEMMs over one token with the model's shapes, launches with buffers.
#
#   check_semdump.sh PROGRAM        (minigpt, default config: d 128, 2 layers, vocab 512, prompt 16)
#   Paths come from GENIE_BUILD.
set -euo pipefail
prog=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GENIE_SEM_DUMP=$tmp/dump bash "$here/run_workload.sh" unix "$prog" >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; echo "check_semdump: the program failed" >&2; exit 1; }
d=$tmp/dump
fail() { echo "check_semdump: $*" >&2; exit 1; }
[ -s "$d" ] || fail "no dump written"
# 1. the IR describes every byte of every batch (bulk payload aside), and none was lost
bad=$(awk '/^batch/ { ir = substr($5, 10); pay = substr($6, 9)
                      if ($0 ~ / lost=1/ || ($0 ~ / bulk=0 / && ir != pay)) print }' "$d")
[ -z "$bad" ] || fail "IR out of step with the batch: $bad"
# 2. the last delta batch is a decode step: 13 GEMMs, all over one token, with minigpt's shapes
last=$(grep -n '^batch .* form=delta' "$d" | tail -1 | cut -d: -f1)
[ -n "$last" ] || fail "no batch went as a delta"
step=$(tail -n +"$((last + 1))" "$d" | awk '/^batch/{exit} {print}')
# its delta's changed bytes, each inside one of its ops (the dump's "changed" lines)
changed=$(grep '^  changed op=' <<<"$step" || true)
[ -n "$changed" ] || fail "decode step: the delta's changed bytes are not listed"
nops=$(sed -n "${last}p" "$d" | sed 's/.* ops=\([0-9]*\) .*/\1/')
bad=$(awk -v n="$nops" '{ split($2, a, "="); if (a[2] + 0 >= n + 0 || $4 !~ /^wire=0x/) print }' <<<"$changed")
[ -z "$bad" ] || fail "decode step: a changed run outside the batch's ops: $bad"
step=$(grep -v '^  changed ' <<<"$step")
ngemm=$(grep -c '^gemm ' <<<"$step" || true)
[ "$ngemm" = 13 ] || fail "decode step: $ngemm GEMMs, expected 13"
grep '^gemm ' <<<"$step" | grep -qv 'gemm=[0-9]*x1x' && fail "decode step: a GEMM not over one token"
for shape in 384x1x128 128x1x128 512x1x128 128x1x512 24x1x32 32x1x24; do
    grep -q "gemm=$shape " <<<"$step" || fail "decode step: no GEMM of shape $shape"
done
grep -q 'gemm=24x1x32 batch=4 ' <<<"$step" || fail "decode step: attention GEMM not batched over 4 heads"
grep '^launch ' <<<"$step" | grep -q 'ranges=0' && fail "decode step: a launch with no buffer"
grep -q '^d2h ' <<<"$step" || fail "decode step: no D2H copy"
grep -v ' site=0x' <<<"$step" | grep -q . && fail "decode step: an op without its call site"
# buffers and extents: the logits GEMM (cublasSgemm, the table's roles: wte 512x128 and the
# hidden state read, the logits read and written), the QKV matmul (cuBLASLt layouts: weights
# 384x128, input, output in place), launches' pointer parameters (unknown size, read-write)
grep -q 'gemm .*use=R262144,R512,RW2048 .*gemm=512x1x128 ' <<<"$step" ||
    fail "decode step: the logits GEMM's buffers are not A 262144 R, B 512 R, C 2048 RW"
grep -q 'gemm .*use=R196608,R512,RW1536,.*gemm=384x1x128 ' <<<"$step" ||
    fail "decode step: the QKV matmul's buffers are not A 196608 R, B 512 R, C=D 1536 RW"
grep '^launch ' <<<"$step" | grep -v 'use=RW?' | grep -q . && fail "decode step: a launch buffer not RW?"
# 3. the prefill: GEMMs over the 16 prompt tokens
grep -q 'gemm=384x16x128 ' "$d" || fail "no prefill GEMM over 16 tokens"
echo "check_semdump: OK ($(grep -c '^batch' "$d") batches)"
