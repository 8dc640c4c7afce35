#!/usr/bin/env bash
# checks_cpu.sh — tests torch_checks.py and compare.py without a GPU (CTest torch_checks_cpu).
#
#   GENIE_CUDA_ROOT=/usr/local/cuda tests/torch/checks_cpu.sh
#
# Runs torch_checks.py --device cpu twice (labelled native and shim; GPT-2 at the tiny size)
# and expects: every check passes (GPT-2 may skip, with a line naming transformers), the two
# files compare equal, and compare.py exits 1 on an exact output changed, a float moved beyond
# its tolerance, a failed check and a partial file, but 0 on a float moved within tolerance.
# --inject-fail must record the exception and go on. Prints "SKIPPED: ..." and exits 0 where
# no torch is installed (as run.sh does). The wheel imports with the toolkit's libraries and
# the stand-ins of make_stubs.sh; nothing here touches a GPU or the shim.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
if ! "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
    echo "SKIPPED: torch not installed (scripts/setup.sh --torch installs it)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$py" -c 'import torch' >/dev/null 2>&1; then # a --no-deps CUDA wheel: toolkit + stubs
    torch_lib=$("$py" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torch").origin), "lib"))')
    "$here/make_stubs.sh" "$torch_lib" "$tmp/stubs"
    export LD_LIBRARY_PATH=$tmp/stubs:${GENIE_CUDA_ROOT:-/usr/local/cuda}/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
fail() { echo "checks_cpu.sh: FAIL: $*" >&2; exit 1; }
tc() { timeout 600 "$py" -W ignore "$here/torch_checks.py" --device cpu --gpt2-size tiny "$@"; }
cmp_rc() { # cmp_rc A B -> compare.py's exit status, output in $tmp/cmp.txt
    set +e
    "$py" "$here/compare.py" "$1" "$2" >"$tmp/cmp.txt" 2>&1
    local rc=$?
    set -e
    return $rc
}

"$py" "$here/compare.py" --help >/dev/null || fail "compare.py --help"
tc --help >/dev/null || fail "torch_checks.py --help"
[ "$(tc --list | wc -l)" -ge 15 ] || fail "torch_checks.py --list lists too few checks"

# two runs of every check on the CPU
for m in native shim; do
    tc --mode $m --out "$tmp/$m.json" | tee "$tmp/$m.txt" || fail "torch_checks.py --mode $m exited $?"
done
grep -q '^PASS gpt2_generate\|^SKIP gpt2_generate.*transformers' "$tmp/native.txt" ||
    fail "gpt2_generate neither passed nor skipped naming transformers"
grep -q '^SKIP gpt2_generate' "$tmp/native.txt" && echo "checks_cpu.sh: note: transformers is not installed here; GPT-2 skipped"
if grep -v '^PASS \|^SKIP gpt2_generate\|^torch_checks ' "$tmp/native.txt" | grep -q .; then
    fail "a check did not pass on the CPU: $(grep -v '^PASS \|^torch_checks ' "$tmp/native.txt" | head -3)"
fi
cmp_rc "$tmp/native.json" "$tmp/shim.json" || { cat "$tmp/cmp.txt"; fail "two CPU runs do not compare equal"; }
cat "$tmp/cmp.txt"
grep -q '^| matmul | pass .* | yes' "$tmp/cmp.txt" || fail "no matmul row in the table"
grep -q '^summary: .* 0 mismatch' "$tmp/cmp.txt" || fail "no summary line"

# perturbed copies: NAME PYTHON-EXPR-ON-d EXPECTED-RC
perturb() {
    "$py" - "$tmp/shim.json" "$tmp/p-$1.json" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in d["checks"]}
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
EOF
    local rc=0
    cmp_rc "$tmp/native.json" "$tmp/p-$1.json" || rc=$?
    [ $rc = "$3" ] || { cat "$tmp/cmp.txt"; fail "perturbation $1: compare.py exited $rc, expected $3"; }
    echo "checks_cpu.sh: perturbation $1: exit $rc as expected$([ $rc = 1 ] && echo ": $(grep -m1 '^- ' "$tmp/cmp.txt" | cut -c1-110)")"
}
perturb exact_hash 'o = c["embedding"]["outputs"]["embedding_i64"]; o["value"] = o["value"][:-4] + "0000"' 1
perturb exact_int 'c["allocator_churn"]["outputs"]["checksum"]["value"] += 1' 1
perturb float_far 'o = c["matmul"]["outputs"]["f32_512"]; o["values"][3] = o["values"][3] * 1.01 + 0.01' 1
perturb float_sum 'o = c["layernorm"]["outputs"]["layernorm_f32"]; o["sum"] += 0.1 * o["abs_sum"]' 1
perturb float_near 'o = c["matmul"]["outputs"]["f32_512"]; o["values"][3] *= 1 + 1e-7; o["sha256"] = "x"' 0
grep -q '^| matmul | .*within tolerance' "$tmp/cmp.txt" || fail "float_near: matmul not reported as within tolerance"
perturb status_fail 'c["softmax"].update(status="fail", error="RuntimeError: boom")' 1
perturb crashed 'c["streams"]["status"] = "running"; d["complete"] = False' 1
grep -q '^| streams | .*crashed' "$tmp/cmp.txt" || fail "crashed: the streams row does not say so"
perturb missing_output 'del c["reductions"]["outputs"]["argmax"]' 1

# a check that raises: recorded with its text, the others still run, the JSON is written, exit 1
rc=0
tc --only device_query,embedding,softmax --inject-fail embedding --out "$tmp/inj.json" >"$tmp/inj.txt" 2>&1 || rc=$?
cat "$tmp/inj.txt"
[ $rc = 1 ] || fail "--inject-fail: exit $rc, expected 1"
"$py" - "$tmp/inj.json" <<'EOF' || fail "--inject-fail: the JSON does not record it"
import json, sys
d = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in d["checks"]}
assert d["complete"], "incomplete"
assert c["embedding"]["status"] == "fail" and "injected failure" in c["embedding"]["error"], c["embedding"]
assert c["softmax"]["status"] == "pass" and c["device_query"]["status"] == "pass"
assert c["matmul"]["status"] == "skip" and c["matmul"]["note"] == "not selected"
EOF
echo "checks_cpu.sh: torch_checks.py and compare.py OK on the CPU"
