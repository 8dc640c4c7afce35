#!/usr/bin/env bash
# check_phase_kv.sh — the phase (GENIE_PHASE), KV-cache (GENIE_KV_COLOCATE) and executor replay
# (GENIE_GRAPH_REPLAY) passes on minigpt, checked against what the program does:
#   - the prefill's batches include a prefill and no decode; every decode step is exactly one
#     decode batch and no prefill;
#   - the buffers the KV pass marks (GENIE_SEM_DUMP "kv" lines) are exactly the K and V caches
#     the program allocated (its "kv_cache:" line), and no KV byte crosses the wire;
#   - the executor captures the step on its 3rd delta and runs every later step through graphs
#     (GENIE_REPLAY_STATS), and the tokens still match the CPU reference (RESULT OK).
#
#   check_phase_kv.sh PROGRAM [ARGS...]    (minigpt; paths from GENIE_BUILD)
set -euo pipefail
prog=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_phase_kv: $*" >&2; exit 1; }
GENIE_STATS=1 GENIE_SEM_DUMP=$tmp/dump GENIE_REPLAY_STATS=$tmp/replay \
    bash "$here/run_workload.sh" unix "$prog" "$@" >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "the program failed"; }
out=$tmp/out
# 1. phases
grep -Eq '^prefill: .* phase_prefill [1-9][0-9]* phase_decode 0$' "$out" ||
    fail "prefill not detected: $(grep '^prefill:' "$out")"
nsteps=$(grep -c '^step [0-9]*:' "$out" || true)
[ "$nsteps" -ge 4 ] || fail "only $nsteps decode steps"
bad=$(grep '^step [0-9]*:' "$out" | grep -v ' phase_prefill 0 phase_decode 1 ' || true)
[ -z "$bad" ] || fail "decode steps not detected as one decode batch each: $bad"
# 2. KV buffers: exactly the program's K and V caches, and none of their bytes on the wire
want=$( (grep '^kv_cache:' "$out" || true) | cut -d: -f2 | tr ' ' '\n' | (grep . || true) | sort)
got=$( (grep '^kv ' "$tmp/dump" || true) | sed 's/.*ptr=\(0x[0-9a-f]*\).*/\1/' | sort)
[ -n "$want" ] || fail "the program printed no kv_cache line"
[ "$want" = "$got" ] || fail "KV buffers marked: [$(echo $got)], the program's caches: [$(echo $want)]"
bad=$(grep '^step [0-9]*:' "$out" | grep -v ' kv_bytes 0$' || true)
[ -z "$bad" ] || fail "KV bytes on the wire in a decode step: $bad"
# 3. replay: deltas 1 and 2 plain, the 3rd captures, every later one through graphs
forms=$(sed 's/.* form=\([a-z]*\) .*/\1/' "$tmp/replay" | tr '\n' ' ')
[ -n "$forms" ] || fail "no replay stats"
want_forms="plain plain capture"
for ((i = 4; i <= nsteps; i++)); do want_forms="$want_forms graph"; done
[ "$forms" = "$want_forms " ] || fail "replay forms: $forms; want $want_forms"
grep -q '^RESULT OK' "$out" || fail "no RESULT OK"
echo "check_phase_kv: $nsteps decode steps, $(echo $got | wc -w) KV buffers, replayed: OK"
