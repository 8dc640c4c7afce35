#!/usr/bin/env bash
# test_device_validate.sh — with no GPU, scripts/device-validate.sh (dry run and real run) must say so
# within seconds, write its report and exit 3 without running anything on a GPU.
set -euo pipefail
if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep '^GPU ' >/dev/null; then
    echo "SKIP: this machine has a GPU: run scripts/device-validate.sh itself"
    exit 77
fi
# shellcheck source=tests/scripts/common.sh
. "$(dirname "$0")/common.sh"

"$root/scripts/bundle.sh" --build-dir "$build" --max-mib "$max_mib" "$tmp/b" >/dev/null
for mode in --dry-run ""; do
    o=$tmp/out${mode:+-dry}
    t0=$(date +%s)
    set +e
    timeout 60 "$root/scripts/device-validate.sh" $mode --bundle "$tmp/b" "$o" >"$tmp/log" 2>&1
    rc=$?
    set -e
    took=$(($(date +%s) - t0))
    cat "$tmp/log"
    [ $rc = 3 ] || fail "device-validate.sh $mode: exit $rc, want 3 (no GPU)"
    [ $took -le 15 ] || fail "device-validate.sh $mode took $took s to find there is no GPU"
    [ -s "$o/report.md" ] || fail "no report.md"
    grep -q '^GPU: NONE' "$o/report.md" || fail "the report does not say there is no GPU"
    grep -q 'bundle loads here | PASS' "$o/report.md" || fail "the report does not show the bundle check"
    grep -q '^## Plan' "$o/report.md" || fail "the report lacks the plan"
    ! ls "$o"/logs/wl-* >/dev/null 2>&1 || fail "workloads ran without a GPU"
    grep -q '^report: ' "$tmp/log" || fail "no summary"
done
echo "test_device_validate: OK"
