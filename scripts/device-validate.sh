#!/usr/bin/env bash
# device-validate.sh — validates Genie on a GPU host from a bundle made by scripts/bundle.sh.
#
#   scripts/device-validate.sh [--dry-run] [--bundle DIR] [--budget SECONDS] [--skip LIST] OUTDIR
#     OUTDIR      gets report.md, results.tsv and logs/ (raw output of every check)
#     --bundle    the bundle (default: the bundle this script sits in, else bundle/ of the repo)
#     --budget    seconds for the whole run (default 600: fits in 10 minutes with margin)
#     --dry-run   only the preflight (bundle, GPU, driver, CUDA libraries) and the plan
#
# Needs no network, no packages and no build: the bundle carries genie-remote, libgenie.so,
# the workloads, the microbenchmark and their non-glibc, non-CUDA libraries. The CUDA driver
# and libraries (libcuda.so.1, libcudart.so.13, libcublas.so.13, libcublasLt.so.13) are the
# host's. Steps, each with its own time cap (the whole run stops at --budget):
#   0 preflight  the bundle loads here (ldd, glibc), a GPU and driver exist, CUDA libs found
#   a gpu        nvidia-smi -L, driver version
#   b workloads  each program natively, through the shim in local mode and against
#                genie-remote on a unix socket, on the real driver (GENIE_REAL_GPU=1)
#   c minigpt    default and gpt2-small: prefill ms, decode ms/step, tokens/s, native vs shim;
#                per-step wire counters (GENIE_STATS=1)
#   d micro      bench/micro/run.sh against the real driver
#   e torch      if python3 imports torch: tests/torch/torch_checks.py natively and through the
#                shim (LD_PRELOAD, look-alikes, its own genie-remote on a unix socket), then
#                tests/torch/compare.py: pass/fail per check, GPT-2 tokens/s native vs shim
#   g replay     iteration replay (issue 11 item 1) against local eager: minigpt gpt2-small
#                (growing and --static-kv KV) and tests/torch/decode_timing.py (Hugging Face
#                GPT-2 12 x 768, dynamic and static cache) natively and through the shim
#                (unix) with GENIE_REPLAY_GRAPHS=0 and =1 in genie-remote's environment: ms per
#                token, and the tokens of graphs on against off
#   f bench      genie-bench --quick on the GPU (results kept in OUTDIR/bench/), then
#                tests/bench/check_results.py over them
#   --skip LIST  leaves out the steps in LIST (comma-separated keys, e.g. --skip b,d,f: the
#                replay checks alone fit the budget); their checks are SKIP "not run: --skip"
# Exit status: 0 every check passed (skips and informational rows aside), 1 a check failed,
# 3 the preflight failed (no GPU, no driver, or a bundle that cannot load here), 2 usage.
set -uo pipefail # not -e: every check records its own result

here=$(cd "$(dirname "$0")" && pwd)
dry=0 bundle='' budget=600 out='' skip=,
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) dry=1 ;;
    --bundle) bundle=${2:?--bundle needs a directory}; shift ;;
    --budget) budget=${2:?--budget needs seconds}; shift ;;
    --skip) skip=,${2:?--skip needs step keys},; shift ;;
    -h | --help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "device-validate.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "device-validate.sh: one OUTDIR only" >&2; exit 2; }; out=$1 ;;
    esac
    shift
done
[ -n "$out" ] || { echo "usage: device-validate.sh [--dry-run] [--bundle DIR] [--budget S] [--skip LIST] OUTDIR" >&2; exit 2; }
if [ -z "$bundle" ]; then
    if [ -e "$here/../.genie-bundle" ]; then bundle=$here/..; else bundle=$here/../bundle; fi
fi
mkdir -p "$out/logs" || exit 2
out=$(cd "$out" && pwd)
bundle=$(cd "$bundle" 2>/dev/null && pwd || echo "$bundle")
L=$out/logs
R=$out/results.tsv
: >"$R"
rm -f "$out"/section-*.md
T0=$(date +%s)
DEADLINE=$((T0 + budget))
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
preflight_ok=1
current_step=
torch_remote_pid= # step e's genie-remote, stopped by the EXIT trap if the run is cut short
exec 3>&1 # the terminal; check output goes to logs

# ---------------------------------------------------------------- results and report
# add STEP CHECK STATUS SECONDS NOTE [LOG]; STATUS: PASS FAIL SKIP INFO
add() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:+logs/${6##*/}}" >>"$R"
    printf '  %-5s %-34s %5ss  %s\n' "$3" "$2" "$4" "$5" >&3
}
section() { cat >"$out/section-$1.md"; } # section KEY < markdown
count() { awk -F'\t' -v s="$1" '$3 == s' "$R" | wc -l; }

write_report() {
    local f="$out/report.md.tmp"
    {
        echo "# Genie device validation"
        echo
        echo "- started: $started; elapsed $(($(date +%s) - T0)) s of a $budget s budget$([ $dry = 1 ] && echo ' (DRY RUN: preflight and plan only)')"
        echo "- host: $(hostname), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(ldd --version 2>/dev/null | head -1 | awk '{print "glibc " $NF}'), $(nproc) CPUs, kernel $(uname -r)"
        echo "- bundle: \`$bundle\` — $(sed -n 's/^source: *//p' "$bundle/MANIFEST.txt" 2>/dev/null | head -1) ($(sed -n 's/^made: *//p' "$bundle/MANIFEST.txt" 2>/dev/null | head -1))"
        echo "- totals: $(count PASS) pass, $(count FAIL) fail, $(count SKIP) skipped, $(count INFO) informational"
        echo
        for s in "$out"/section-0*.md; do [ -e "$s" ] && { cat "$s"; echo; }; done
        echo "## Checks"
        echo
        echo "| step | check | result | s | note | log |"
        echo "|---|---|---|---|---|---|"
        awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, ($3 == "FAIL" ? "**FAIL**" : $3), $4, $5, ($6 == "" ? "" : "`" $6 "`") }' "$R"
        echo
        for s in "$out"/section-[a-z]*.md; do [ -e "$s" ] && { cat "$s"; echo; }; done
    } >"$f" 2>/dev/null
    mv -f "$f" "$out/report.md"
}

summary() {
    echo "================================================================ device-validate" >&3
    [ $dry = 1 ] && echo "DRY RUN (preflight and plan only)" >&3
    grep -h '^GPU: ' "$out/section-0-pre.md" 2>/dev/null >&3
    printf 'checks: %s pass, %s fail, %s skipped, %s informational; %s s of %s s\n' \
        "$(count PASS)" "$(count FAIL)" "$(count SKIP)" "$(count INFO)" "$(($(date +%s) - T0))" "$budget" >&3
    awk -F'\t' '$3 == "FAIL" { if (++n <= 12) printf "  FAIL  %-2s %-32s %s\n", $1, $2, substr($5, 1, 70) }
                END { if (n > 12) printf "  ... and %d more failures in the report\n", n - 12 }' "$R" >&3
    [ -s "$out/minigpt.tsv" ] && {
        echo "minigpt (prefill ms / decode ms per step / tokens/s):" >&3
        awk -F'\t' '{ w = $6; i = index(w, "later steps: "); w = (i ? substr(w, i + 13) : w)
                      printf "  %-10s %-6s %9s %9s %8s  per step: %s\n", $1, $2, $3, $4, $5, substr(w, 1, 45) }' "$out/minigpt.tsv" >&3
    }
    grep -h '^CSV,' "$L/micro.log" 2>/dev/null | sed 's/^/  micro /' >&3
    grep -h '^torch-summary: ' "$out/section-e-torch.md" 2>/dev/null | sed 's/^torch-summary: /torch: /' >&3
    echo "report: $out/report.md" >&3
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$torch_remote_pid" ] && kill "$torch_remote_pid" 2>/dev/null
    [ -n "$current_step" ] && add "$current_step" "(interrupted)" FAIL 0 "the run stopped during this step (exit $rc)"
    write_report
    summary
    if [ $preflight_ok = 0 ]; then exit 3; fi
    if [ "$(count FAIL)" -gt 0 ]; then exit 1; fi
    exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

# run_capped CAP LOG CMD... : runs CMD with output to LOG under min(CAP, step and overall
# deadlines); sets RC, SECS, TIMED_OUT; RC=125 and no run when under 3 s remain.
step_deadline=$DEADLINE NOTRUN="not run: out of time"
run_capped() {
    local cap=$1 log=$2; shift 2
    local now left
    now=$(date +%s)
    left=$((step_deadline < DEADLINE ? step_deadline - now : DEADLINE - now))
    [ "$cap" -lt "$left" ] && left=$cap
    TIMED_OUT=0 SECS=0
    if [ "$left" -lt 3 ]; then RC=125; echo "$NOTRUN" >"$log"; return; fi
    local t1 t2
    t1=$(date +%s.%N)
    # run_workload.sh's own limit on the program: inside ours, so its cleanup still runs
    GENIE_RUN_TIMEOUT=$((left > 10 ? left - 5 : left)) timeout -k 5 "$left" "$@" >"$log" 2>&1 </dev/null
    RC=$?
    t2=$(date +%s.%N)
    SECS=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
    if [ $RC = 124 ] || [ $RC = 137 ]; then TIMED_OUT=1; echo "[device-validate: killed after ${left} s]" >>"$log"; fi
}
begin_step() { # begin_step KEY CAP TITLE
    current_step=$1
    local now
    now=$(date +%s)
    step_deadline=$((now + $2))
    [ $step_deadline -gt $DEADLINE ] && step_deadline=$DEADLINE
    NOTRUN="not run: out of time"
    case $skip in *",$1,"*) step_deadline=$now NOTRUN="not run: --skip" ;; esac
    echo "== step $1: $3 (cap $2 s, $((DEADLINE - now)) s left overall)$([ "$NOTRUN" = "not run: --skip" ] && echo ': skipped (--skip)')" >&3
}
end_step() { current_step=; write_report; }
verdict() { # verdict LOG -> PASS/FAIL note for a workload run (rc 0 and RESULT OK)
    if [ $RC = 125 ]; then V=SKIP N=$NOTRUN
    elif [ $TIMED_OUT = 1 ]; then V=FAIL N="timed out"
    elif [ $RC != 0 ]; then V=FAIL N="exit $RC: $(grep -v '^---' "$1" | grep -iE 'error|fail|missing|not found|died' | head -1 | cut -c1-100)"
    elif grep -q '^RESULT OK' "$1"; then V=PASS N="RESULT OK"
    else V=FAIL N="no RESULT OK"
    fi
}

# ---------------------------------------------------------------- 0: preflight
begin_step 0 30 "preflight"
pre=()
for v in GENIE_CUDA_LIB GENIE_CUBLAS_LIB GENIE_CUBLASLT_LIB GENIE_REMOTE LD_PRELOAD; do
    if [ -n "${!v:-}" ]; then pre+=("- \`$v\` was set to \`${!v}\`; unset for this run"); unset "$v"; fi
done
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
# the bundle
bundle_ok=1 note=
need=(shim/libgenie.so shim/libgenie_grpc.so remote/genie-remote bench/micro/micro tests/e2e/run_workload.sh bench/micro/run.sh MANIFEST.txt)
WORKLOADS=(saxpy reduce mlp streams errors queries symbols blascheck ltcheck minicnn minigpt twobranch graphs copies2d)
for w in "${WORKLOADS[@]}"; do need+=("tests/workloads/$w"); done
miss=()
for f in "${need[@]}"; do [ -e "$bundle/$f" ] || miss+=("$f"); done
if [ ${#miss[@]} -gt 0 ]; then
    bundle_ok=0 note="missing: ${miss[*]} (make it with scripts/bundle.sh and carry it)"
else
    # carried files may lose their x bits
    chmod u+x "$bundle"/remote/genie-remote "$bundle"/bench/micro/micro "$bundle"/tests/workloads/* 2>/dev/null
    for f in shim/libgenie.so shim/libgenie_grpc.so remote/genie-remote; do
        env -u LD_LIBRARY_PATH ldd "$bundle/$f" >"$L/ldd-${f##*/}.log" 2>&1
        if grep -q 'not found' "$L/ldd-${f##*/}.log"; then
            bundle_ok=0 note="$f: $(grep 'not found' "$L/ldd-${f##*/}.log" | awk '{print $1}' | tr '\n' ' ')not found"
        elif grep -qi 'version .GLIBC.* not found\|No such file' "$L/ldd-${f##*/}.log"; then
            bundle_ok=0 note="$f: $(grep -i 'not found\|No such' "$L/ldd-${f##*/}.log" | head -1)"
        fi
    done
fi
need_glibc=$(sed -n 's/^requires: *GLIBC_\([0-9.]*\).*/\1/p' "$bundle/MANIFEST.txt" 2>/dev/null)
host_glibc=$(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')
if [ -n "$need_glibc" ] && [ -n "$host_glibc" ] &&
    [ "$(printf '%s\n%s\n' "$need_glibc" "$host_glibc" | sort -V | tail -1)" != "$host_glibc" ]; then
    bundle_ok=0 note="the bundle needs GLIBC_$need_glibc, this host has glibc $host_glibc"
fi
if [ $bundle_ok = 1 ]; then add 0 "bundle loads here" PASS 0 "ldd resolves; needs GLIBC_${need_glibc:-?}, host has $host_glibc" ldd-genie-remote.log
else add 0 "bundle loads here" FAIL 0 "$note" ldd-genie-remote.log; preflight_ok=0; fi

# the GPU and the driver
gpu_ok=1 gpu_note=
if ! command -v nvidia-smi >/dev/null; then
    gpu_ok=0 gpu_note="no GPU: nvidia-smi not found"
else
    run_capped 15 "$L/nvidia-smi-L.log" nvidia-smi -L
    if [ $RC != 0 ] || ! grep -q '^GPU ' "$L/nvidia-smi-L.log"; then
        gpu_ok=0 gpu_note="no GPU: nvidia-smi -L failed (exit $RC): $(head -1 "$L/nvidia-smi-L.log")"
    fi
fi
libcuda=$( (ldconfig -p 2>/dev/null | grep -m1 'libcuda\.so\.1 ' | sed 's/.*=> //') || true)
if [ -z "$libcuda" ]; then
    for d in ${ORIG_LD_LIBRARY_PATH//:/ } /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/lib/wsl/lib; do
        [ -e "$d/libcuda.so.1" ] && { libcuda=$d/libcuda.so.1; break; }
    done
fi
if [ -z "$libcuda" ]; then
    gpu_ok=0 gpu_note="${gpu_note:+$gpu_note; }no driver: libcuda.so.1 not found"
fi
if [ $gpu_ok = 1 ]; then add 0 "GPU and driver" PASS 0 "$(grep -c '^GPU ' "$L/nvidia-smi-L.log") GPU(s); libcuda.so.1 at $libcuda" nvidia-smi-L.log
else add 0 "GPU and driver" FAIL 0 "$gpu_note"; preflight_ok=0; fi

# the CUDA libraries the workloads (libcudart, libcublas, libcublasLt) and the executor need
cuda_dirs=()
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
    ldconfig -p 2>/dev/null | grep "$lib " >/dev/null && continue # not -q: SIGPIPE under pipefail
    found=
    for d in ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
        /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/targets/x86_64-linux/lib /usr/local/cuda/lib \
        ${ORIG_LD_LIBRARY_PATH//:/ }; do
        [ -e "$d/$lib" ] && { found=$d; break; }
    done
    if [ -z "$found" ]; then # a CUDA 13 wheel of the Python environment (torch cu130)
        for py in python3 ${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}; do
            sp=$(timeout 10 "$py" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) || continue
            for s in $sp; do
                for d in "$s"/nvidia/cu13/lib "$s"/nvidia/cublas/lib "$s"/nvidia/cuda_runtime/lib; do
                    [ -e "$d/$lib" ] && { found=$d; break 3; }
                done
            done
        done
    fi
    if [ -n "$found" ]; then
        case " ${cuda_dirs[*]:-} " in *" $found "*) ;; *) cuda_dirs+=("$found") ;; esac
    else
        cuda_missing="${cuda_missing:-}$lib "
    fi
done
if [ ${#cuda_dirs[@]} -gt 0 ]; then
    LD_LIBRARY_PATH=$(IFS=:; echo "${cuda_dirs[*]}")${ORIG_LD_LIBRARY_PATH:+:$ORIG_LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
fi
if [ -n "${cuda_missing:-}" ]; then
    add 0 "CUDA 13 libraries" FAIL 0 "not found: ${cuda_missing}(looked in ldconfig, /usr/local/cuda*, LD_LIBRARY_PATH, Python wheels)"
    preflight_ok=0
else
    add 0 "CUDA 13 libraries" PASS 0 "${cuda_dirs[*]:+LD_LIBRARY_PATH += ${cuda_dirs[*]}}${cuda_dirs[*]:-all in the ldconfig cache}"
fi
{
    echo "## Preflight"
    echo
    if [ $gpu_ok = 1 ]; then echo "GPU: $(head -1 "$L/nvidia-smi-L.log")"; else echo "GPU: NONE (${gpu_note#no GPU: })"; fi
    echo
    echo "- bundle: $([ $bundle_ok = 1 ] && echo "loads here (ldd: every library found)" || echo "**cannot be used here**: $note")"
    echo "- glibc: the bundle needs GLIBC_${need_glibc:-?}; this host has $host_glibc"
    echo "- libcuda.so.1: ${libcuda:-not found}"
    echo "- CUDA libraries: ${cuda_dirs[*]:+added to LD_LIBRARY_PATH: ${cuda_dirs[*]}}${cuda_dirs[*]:-found through the ldconfig cache}${cuda_missing:+; missing: $cuda_missing}"
    echo "- nvcc: $(command -v nvcc >/dev/null && nvcc --version | tail -2 | head -1 || echo 'not on PATH (not needed)')"
    for p in "${pre[@]}"; do echo "$p"; done
} | section 0-pre
end_step

plan() {
    cat <<EOF
## Plan

| step | what | cap |
|---|---|---|
| a | \`nvidia-smi -L\`, driver version, \`nvidia-smi\` | 20 s |
| b | ${WORKLOADS[*]}: native, shim \`local\`, shim \`unix\` (genie-remote, real driver: \`GENIE_REAL_GPU=1\`); saxpy one round trip; ltcheck one query round trip; graphs one round trip per phase | 150 s |
| c | minigpt default and \`--config gpt2-small --no-check\`: native, shim local, shim unix with \`GENIE_STATS=1\` | 80 s |
| d | \`GENIE_REAL_GPU=1 bench/micro/run.sh BUNDLE\`; \`bench/micro/devtimes\` natively (device time per GEMM, copy, kernel: \`device-timings.tsv\`) and \`fit_fakegpu_model.py\` fitting the fake GPU's model file of this GPU to it (\`fitted.model\`) | 50 + 30 s |
| e | if \`python3 -c "import torch"\` works: \`tests/torch/torch_checks.py\` natively and through the shim (genie-remote on the real driver), \`compare.py\`: per-check table, GPT-2 tokens/s | 120 s |
| g | iteration replay against local eager: minigpt \`--config gpt2-small --no-check\` (and \`--static-kv\`) natively and shim unix with \`GENIE_REPLAY_GRAPHS=0\`/\`1\`; if torch imports, \`tests/torch/decode_timing.py\` (GPT-2 12 x 768, \`--cache dynamic\`/\`static\`) natively and through the shim, graphs off/on: ms per token, tokens of on against off | 150 s |
| f | \`genie-bench --quick\` on the GPU (results in \`bench/\`), then \`tests/bench/check_results.py\` | 170 s |
EOF
}
if [ $preflight_ok = 0 ] || [ $dry = 1 ]; then
    plan | section x-plan
    if [ $preflight_ok = 0 ]; then
        echo "device-validate.sh: preflight failed: nothing was run on a GPU (see $out/report.md)" >&3
    fi
    exit # the EXIT trap writes the report and sets the status
fi

# ---------------------------------------------------------------- a: GPU
begin_step a 20 "GPU and driver"
run_capped 15 "$L/nvidia-smi.log" nvidia-smi
run_capped 10 "$L/nvidia-smi-query.log" nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv,noheader
drv=$(head -1 "$L/nvidia-smi-query.log" | awk -F', ' '{print $3}')
if [ $RC = 0 ] && [ -n "$drv" ]; then add a "driver version" PASS "$SECS" "driver $drv" nvidia-smi-query.log
else add a "driver version" FAIL "$SECS" "nvidia-smi --query-gpu failed (exit $RC)" nvidia-smi-query.log; fi
{
    echo "## GPU"
    echo
    echo '```'
    cat "$L/nvidia-smi-L.log"
    echo "index, name, driver, memory, compute capability:"
    cat "$L/nvidia-smi-query.log"
    echo '```'
} | section a-gpu
end_step

# ---------------------------------------------------------------- b: workloads
RW="$bundle/tests/e2e/run_workload.sh"
WL="$bundle/tests/workloads"
export GENIE_BUILD="$bundle"
shim_run() { # shim_run MODE LOG PROG [ARGS...] (through run_workload.sh, real driver)
    local mode=$1 log=$2; shift 2
    GENIE_REAL_GPU=1 run_capped 60 "$log" bash "$RW" "$mode" "$@"
}
begin_step b 150 "workloads: native, shim local, shim unix"
for p in "${WORKLOADS[@]}"; do
    run_capped 50 "$L/wl-$p-native.log" "$WL/$p"
    verdict "$L/wl-$p-native.log"
    if [ "$p" = errors ]; then # Genie's range checks: the real runtime may answer differently
        add b "$p native" INFO "$SECS" "exit $RC, $(grep -q '^RESULT OK' "$L/wl-$p-native.log" && echo 'RESULT OK' || echo 'no RESULT OK') (recorded, not judged)" "wl-$p-native.log"
    else
        add b "$p native" "$V" "$SECS" "$N" "wl-$p-native.log"
    fi
    for mode in local unix; do
        shim_run $mode "$L/wl-$p-$mode.log" "$WL/$p"
        verdict "$L/wl-$p-$mode.log"
        add b "$p shim $mode" "$V" "$SECS" "$N" "wl-$p-$mode.log"
    done
done
# the wire properties the e2e tests check on the fake GPU
EXPECT_RT_SYNC=1 shim_run unix "$L/wl-saxpy-one-rt.log" "$WL/saxpy" 65536 50
verdict "$L/wl-saxpy-one-rt.log"
add b "saxpy 50 launches: 1 round trip" "$V" "$SECS" "$( [ $V = PASS ] && echo 'EXPECT_RT_SYNC=1 holds' || echo "$N")" wl-saxpy-one-rt.log
EXPECT_RT_QUERY=1 shim_run unix "$L/wl-ltcheck-one-query.log" "$WL/ltcheck"
verdict "$L/wl-ltcheck-one-query.log"
add b "ltcheck: 1 heuristic query" "$V" "$SECS" "$( [ $V = PASS ] && echo 'EXPECT_RT_QUERY=1 holds' || echo "$N")" wl-ltcheck-one-query.log
GENIE_STATS=1 EXPECT_RT_SYNC=4 shim_run unix "$L/wl-graphs-rt.log" "$WL/graphs" 20
verdict "$L/wl-graphs-rt.log"
add b "graphs: 20 launches, 1 round trip per phase" "$V" "$SECS" "$( [ $V = PASS ] && echo 'EXPECT_RT_SYNC=4 holds' || echo "$N")" wl-graphs-rt.log
# errors.cu natively vs through the shim (informational)
if [ -s "$L/wl-errors-native.log" ] && [ -s "$L/wl-errors-unix.log" ]; then
    grep '^case ' "$L/wl-errors-native.log" >"$L/errors-native.cases" || true
    grep '^case ' "$L/wl-errors-unix.log" >"$L/errors-shim.cases" || true
    {
        echo "## errors.cu: the real runtime vs Genie"
        echo
        if [ ! -s "$L/errors-native.cases" ]; then
            echo "The native run printed no \`case\` lines (exit status in the table)."
        elif cmp -s "$L/errors-native.cases" "$L/errors-shim.cases"; then
            echo "Every case answers the same natively and through the shim (unix)."
        else
            echo "Cases that differ (native → through the shim over unix); Genie's range checks are documented in errors.cu:"
            echo
            echo '```'
            diff "$L/errors-native.cases" "$L/errors-shim.cases" | grep '^[<>]' || true
            echo '```'
        fi
    } | section b-errors
fi
end_step

# ---------------------------------------------------------------- c: minigpt timing
begin_step c 80 "minigpt timing and per-step counters"
: >"$out/minigpt.tsv"
mg_row() { # mg_row CONFIG MODE LOG
    local pre dec tps steps
    pre=$(sed -n 's/^prefill_ms \([0-9.]*\) decode_ms_per_step \([0-9.]*\).*/\1/p' "$3" | head -1)
    dec=$(sed -n 's/^prefill_ms \([0-9.]*\) decode_ms_per_step \([0-9.]*\).*/\2/p' "$3" | head -1)
    tps=$(awk -v d="$dec" 'BEGIN { if (d > 0) printf "%.1f", 1000 / d; else print "-" }')
    # per-step counters: step 1 (pays first-use module loads) and the rest
    steps=$(awk '/^step [0-9]+: round_trips/ {
                v = sprintf("rt %s batches %s sent %s recv %s", $4, $6, $8, $10)
                if ($2 == "1:") first = v; else { n++; c[v]++ } }
            END { if (first == "") exit
                  s = "step 1: " first
                  for (v in c) s = s "; " c[v] " of " n " later steps: " v
                  print s }' "$3")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${pre:--}" "${dec:--}" "$tps" "$steps" >>"$out/minigpt.tsv"
}
for conf in default gpt2-small; do
    args=()
    [ $conf = gpt2-small ] && args=(--config gpt2-small --no-check)
    run_capped 45 "$L/mg-$conf-native.log" "$WL/minigpt" "${args[@]}"
    verdict "$L/mg-$conf-native.log"
    add c "minigpt $conf native" "$V" "$SECS" "$N" "mg-$conf-native.log"
    [ $V = PASS ] && mg_row $conf native "$L/mg-$conf-native.log"
    for mode in local unix; do
        GENIE_STATS=1 shim_run $mode "$L/mg-$conf-$mode.log" "$WL/minigpt" "${args[@]}"
        verdict "$L/mg-$conf-$mode.log"
        add c "minigpt $conf shim $mode" "$V" "$SECS" "$N" "mg-$conf-$mode.log"
        [ $V = PASS ] && mg_row $conf "$mode" "$L/mg-$conf-$mode.log"
    done
done
{
    echo "## minigpt: native vs through the shim (real GPU)"
    echo
    echo "One run each; decode ms per step is the mean over the run's decode steps (default: 8, gpt2-small: 32);"
    echo "tokens/s = 1000 / decode ms per step. Shim runs have GENIE_STATS=1 (per-step wire counters)."
    echo
    echo "| config | mode | prefill ms | decode ms/step | tokens/s | per-step wire counters |"
    echo "|---|---|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$out/minigpt.tsv"
} | section c-minigpt
end_step

# ---------------------------------------------------------------- d: microbenchmark
begin_step d 50 "bench/micro/run.sh on the real driver"
GENIE_REAL_GPU=1 GENIE_MICRO_KINDS="unix tcp" run_capped 45 "$L/micro.log" bash "$bundle/bench/micro/run.sh" "$bundle"
ncsv=$(grep -c '^CSV,' "$L/micro.log")
if [ $RC = 0 ] && [ "$ncsv" -ge 2 ]; then add d "micro unix + tcp" PASS "$SECS" "$(grep -m1 '^machine:' "$L/micro.log" | cut -c1-90)" micro.log
elif [ $RC = 125 ]; then add d "micro unix + tcp" SKIP 0 "$NOTRUN" micro.log
else add d "micro unix + tcp" FAIL "$SECS" "exit $RC$([ $TIMED_OUT = 1 ] && echo ' (timed out)'), $ncsv of 2 CSV lines" micro.log; fi
{
    echo "## Microbenchmark (real driver)"
    echo
    echo '```'
    grep -v '^$' "$L/micro.log" | tail -20
    echo '```'
} | section d-micro
# device time per operation, natively, for the fake GPU's model files (docs/fakegpu.md)
step_deadline=$((step_deadline + 30))
[ $step_deadline -gt $DEADLINE ] && step_deadline=$DEADLINE
if [ -x "$bundle/bench/micro/devtimes" ]; then
    run_capped 25 "$L/devtimes.log" "$bundle/bench/micro/devtimes"
    if [ $RC = 0 ] && [ "$(grep -c $'^[a-z0-9]*\t' "$L/devtimes.log")" -ge 20 ]; then
        grep -v '^devtimes:' "$L/devtimes.log" >"$out/device-timings.tsv"
        add d "devtimes (device-timings.tsv)" PASS "$SECS" "$(($(wc -l <"$out/device-timings.tsv") - 2)) timings" devtimes.log
        gpuname=$(head -1 "$L/nvidia-smi-query.log" 2>/dev/null | awk -F', ' '{print $2}')
        case "$gpuname" in *H200*) m=h200 ;; *A100*) m=a100 ;; *) m=h100 ;; esac
        if command -v python3 >/dev/null; then
            run_capped 10 "$L/fit.log" python3 "$bundle/bench/micro/fit_fakegpu_model.py" fit \
                "$bundle/tests/fakegpu/models/$m.model" "$out/device-timings.tsv" --out "$out/fitted.model"
            if [ $RC = 0 ]; then add d "fit $m.model to them (fitted.model)" INFO "$SECS" "$(tail -1 "$L/fit.log" | cut -c1-90)" fit.log
            else add d "fit $m.model to them" FAIL "$SECS" "exit $RC" fit.log; fi
        fi
    elif [ $RC = 125 ]; then add d "devtimes" SKIP 0 "$NOTRUN" devtimes.log
    else add d "devtimes" FAIL "$SECS" "exit $RC$([ $TIMED_OUT = 1 ] && echo ' (timed out)')" devtimes.log; fi
else
    add d "devtimes" SKIP 0 "not in the bundle (built with nvcc: bench/micro)"
fi
end_step

# ---------------------------------------------------------------- e: torch
# tests/torch/torch_checks.py natively, then under the shim against a genie-remote of its own on
# the real driver, then tests/torch/compare.py on the two JSON files (docs/operations.md)
begin_step e 120 "torch checks: native, through the shim, compared"
PY=${GENIE_PYTHON:-python3}
TC=
for d in "$bundle/tests/torch" "$here/../tests/torch"; do
    [ -e "$d/torch_checks.py" ] && [ -e "$d/compare.py" ] && { TC=$(cd "$d" && pwd); break; }
done
tc_rows() { # tc_rows JSON -> "N pass, N fail, N skip[; died in X][: failed ...][; GPT-2 N tokens/s]"
    "$PY" - "$1" <<'EOF' 2>/dev/null || echo "no readable result file"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["checks"]
n = {s: [x["name"] for x in c if x["status"] == s] for s in ("pass", "fail", "skip", "running")}
s = f"{len(n['pass'])} pass, {len(n['fail'])} fail, {len(n['skip'])} skip"
if n["running"]:
    s += f"; died in {n['running'][0]}"
if n["fail"]:
    s += ": failed " + " ".join(n["fail"])[:70]
t = d.get("metrics", {}).get("gpt2_tokens_per_s", {}).get("value")
s += f"; GPT-2 {t} tokens/s" if t is not None else ""
s += "" if d.get("complete") else " (partial file)"
print(s)
EOF
}
run_capped 30 "$L/torch-import.log" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" "$PY" -c \
    "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)
try:
    import transformers; print('transformers', transformers.__version__)
except Exception as e:
    print('transformers not importable (GPT-2 skipped):', type(e).__name__, str(e).splitlines()[0][:80])"
if [ $RC != 0 ]; then
    why=$(tail -1 "$L/torch-import.log" | cut -c1-100)
    add e "torch" SKIP 0 "skipped: \`$PY -c 'import torch'\` failed: $why" torch-import.log
    printf '## torch\n\ntorch-summary: skipped (%s cannot import torch: %s)\n' "$PY" "$why" | section e-torch
elif [ -z "$TC" ]; then
    add e "torch checks" FAIL 0 "tests/torch/torch_checks.py and compare.py are not in the bundle (make it again: scripts/bundle.sh)"
    printf '## torch\n\ntorch-summary: not run (torch_checks.py missing from the bundle)\n' | section e-torch
else
    tver=$(grep -m1 '^torch ' "$L/torch-import.log")
    trf=$(grep -m1 '^transformers' "$L/torch-import.log")
    rm -f "$out/torch-native.json" "$out/torch-shim.json" "$out/torch-compare.md"
    # 1. natively: the host's own libraries, as python3 finds them
    run_capped 45 "$L/torch-native.log" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" \
        "$PY" -W ignore "$TC/torch_checks.py" --mode native --out "$out/torch-native.json"
    if [ $RC = 125 ]; then add e "torch checks native" SKIP 0 "$NOTRUN" torch-native.log
    else
        note=$(tc_rows "$out/torch-native.json")
        [ $TIMED_OUT = 1 ] && note="timed out; $note"
        add e "torch checks native" "$([ $RC = 0 ] && echo PASS || echo FAIL)" "$SECS" "$note" torch-native.log
    fi
    # 2. through the shim: the look-alikes first on the path, a genie-remote on the real driver
    missing=
    for f in libgenie.so libgenie_grpc.so lookalike/libcudart.so.13 lookalike/libcublas.so.13 lookalike/libcublasLt.so.13 \
        lookalike/libcuda.so.1 lookalike/libnvidia-ml.so.1; do
        [ -e "$bundle/shim/$f" ] || missing="$missing shim/$f"
    done
    shim_llp=$bundle/shim/lookalike${cuda_dirs[*]:+:$(IFS=:; echo "${cuda_dirs[*]}")}${ORIG_LD_LIBRARY_PATH:+:$ORIG_LD_LIBRARY_PATH}
    sockdir=$(mktemp -d /tmp/genie-dv.XXXXXX) # a short path: unix socket names are limited
    if [ -n "$missing" ]; then
        add e "torch checks shim" FAIL 0 "the bundle lacks$missing (make it again: scripts/bundle.sh)"
    else
        # the executor's libraries by name: libcuda.so.1, libcublas.so.13, libcublasLt.so.13
        "$bundle/remote/genie-remote" --listen "unix:$sockdir/g.sock" --port-file "$sockdir/port" \
            >"$L/torch-remote.log" 2>&1 </dev/null &
        torch_remote_pid=$!
        for _ in $(seq 1 100); do
            [ -s "$sockdir/port" ] && break
            kill -0 "$torch_remote_pid" 2>/dev/null || break
            sleep 0.05
        done
        if [ ! -s "$sockdir/port" ]; then
            add e "torch checks shim" FAIL 0 "genie-remote did not start: $(tail -1 "$L/torch-remote.log" | cut -c1-80)" torch-remote.log
        else
            preload=$bundle/shim/libgenie.so
            asan=$(env -u LD_LIBRARY_PATH ldd "$preload" 2>/dev/null | awk '/libasan/ { print $3; exit }')
            [ -n "$asan" ] && preload=$asan:$preload # a sanitizer build: its runtime first
            run_capped 65 "$L/torch-shim.log" env LD_PRELOAD="$preload" LD_LIBRARY_PATH="$shim_llp" \
                ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
                GENIE_REMOTE="unix:$sockdir/g.sock" GENIE_TIMEOUT_MS=20000 GENIE_STATS_FILE="$L/torch-shim-stats.json" \
                "$PY" -W ignore "$TC/torch_checks.py" --mode shim --out "$out/torch-shim.json"
            alive=1
            kill -0 "$torch_remote_pid" 2>/dev/null || alive=0
            if [ $RC = 125 ]; then add e "torch checks shim" SKIP 0 "$NOTRUN" torch-shim.log
            else
                note=$(tc_rows "$out/torch-shim.json")
                [ $TIMED_OUT = 1 ] && note="timed out; $note"
                [ $alive = 0 ] && note="genie-remote died; $note"
                add e "torch checks shim" "$([ $RC = 0 ] && [ $alive = 1 ] && echo PASS || echo FAIL)" "$SECS" "$note" torch-shim.log
            fi
        fi
        kill "$torch_remote_pid" 2>/dev/null
        wait "$torch_remote_pid" 2>/dev/null
        torch_remote_pid=
    fi
    rm -rf "$sockdir"
    # 3. compared, check by check
    if [ -s "$out/torch-native.json" ] && [ -s "$out/torch-shim.json" ]; then
        run_capped 20 "$L/torch-compare.log" "$PY" "$TC/compare.py" "$out/torch-native.json" "$out/torch-shim.json" \
            --md "$out/torch-compare.md"
        csum=$(sed -n 's/^summary: //p' "$L/torch-compare.log" | tail -1)
        if [ $RC = 0 ]; then add e "torch native vs shim" PASS "$SECS" "${csum:-?}" torch-compare.log
        else add e "torch native vs shim" FAIL "$SECS" "exit $RC: ${csum:-$(tail -1 "$L/torch-compare.log" | cut -c1-90)}" torch-compare.log; fi
    else
        csum="not compared: a result file is missing"
        add e "torch native vs shim" FAIL 0 "$csum"
    fi
    {
        echo "## torch: native vs through the shim (genie-remote on the real driver, unix socket)"
        echo
        echo "torch-summary: $csum"
        echo
        echo "- ${tver:-torch ?}; ${trf:-transformers ?}; \`$PY\`"
        echo "- through the shim: \`LD_PRELOAD=$bundle/shim/libgenie.so\`, \`LD_LIBRARY_PATH=$shim_llp\`, a genie-remote of its own"
        "$PY" - "$out/torch-shim.json" <<'EOF' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
libs = d.get("env", {}).get("cuda_libs_mapped") or []
if libs:
    print("- CUDA libraries mapped in the shim run: " + ", ".join(f"`{p}`" for p in libs))
EOF
        echo "- result files \`torch-native.json\`, \`torch-shim.json\`; logs \`logs/torch-{native,shim,compare,remote}.log\`"
        echo
        if [ -s "$out/torch-compare.md" ]; then
            sed '1{/^### /d}' "$out/torch-compare.md"
        else
            for w in native shim; do
                [ -s "$L/torch-$w.log" ] || continue
                echo "$w (last lines):"
                echo
                echo '```'
                tail -8 "$L/torch-$w.log"
                echo '```'
            done
        fi
    } | section e-torch
fi
end_step

# ---------------------------------------------------------------- g: iteration replay vs local
# issue 11 item 1: time per token through the shim with the executor's CUDA-graph replay on and
# off (GENIE_REPLAY_GRAPHS in genie-remote's environment) against the same program natively
begin_step g 150 "iteration replay: native vs shim, graphs off and on"
: >"$out/replay.tsv"
rp_row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$out/replay.tsv"; } # workload mode ms tokens
mg_ms() { sed -n 's/^prefill_ms [0-9.]* decode_ms_per_step \([0-9.]*\).*/\1/p' "$1" | head -1; }
for kv in growing static; do
    args=(--config gpt2-small --no-check)
    [ $kv = static ] && args+=(--static-kv)
    run_capped 30 "$L/rp-mg-$kv-native.log" "$WL/minigpt" "${args[@]}"
    verdict "$L/rp-mg-$kv-native.log"
    add g "minigpt gpt2-small $kv KV native" "$V" "$SECS" "$N$([ $V = PASS ] && echo "; $(mg_ms "$L/rp-mg-$kv-native.log") ms/step")" "rp-mg-$kv-native.log"
    [ $V = PASS ] && rp_row "minigpt gpt2-small $kv KV" native "$(mg_ms "$L/rp-mg-$kv-native.log")" -
    for g in 0 1; do
        GENIE_REPLAY_GRAPHS=$g GENIE_STATS=1 shim_run unix "$L/rp-mg-$kv-graphs$g.log" "$WL/minigpt" "${args[@]}"
        verdict "$L/rp-mg-$kv-graphs$g.log"
        add g "minigpt gpt2-small $kv KV shim graphs=$g" "$V" "$SECS" "$N$([ $V = PASS ] && echo "; $(mg_ms "$L/rp-mg-$kv-graphs$g.log") ms/step")" "rp-mg-$kv-graphs$g.log"
        [ $V = PASS ] && rp_row "minigpt gpt2-small $kv KV" "shim unix, graphs $([ $g = 1 ] && echo on || echo off)" "$(mg_ms "$L/rp-mg-$kv-graphs$g.log")" -
    done
done
DT=
for d in "$bundle/tests/torch" "$here/../tests/torch"; do
    [ -e "$d/decode_timing.py" ] && { DT=$(cd "$d" && pwd); break; }
done
PY=${GENIE_PYTHON:-python3}
dt_json() { sed -n 's/^decode-json: //p' "$1" | tail -1; }
dt_field() { "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2" 2>/dev/null; }
if [ -z "$DT" ]; then
    add g "HF GPT-2 decode" SKIP 0 "tests/torch/decode_timing.py is not in the bundle (make it again: scripts/bundle.sh)"
elif ! env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" "$PY" -c 'import torch, transformers' >"$L/rp-import.log" 2>&1; then
    add g "HF GPT-2 decode" SKIP 0 "torch or transformers does not import: $(tail -1 "$L/rp-import.log" | cut -c1-80)" rp-import.log
else
    rp_llp=$bundle/shim/lookalike${cuda_dirs[*]:+:$(IFS=:; echo "${cuda_dirs[*]}")}${ORIG_LD_LIBRARY_PATH:+:$ORIG_LD_LIBRARY_PATH}
    rp_preload=$bundle/shim/libgenie.so
    rp_asan=$(env -u LD_LIBRARY_PATH ldd "$rp_preload" 2>/dev/null | awk '/libasan/ { print $3; exit }')
    [ -n "$rp_asan" ] && rp_preload=$rp_asan:$rp_preload
    for cache in dynamic static; do
        run_capped 40 "$L/rp-hf-$cache-native.log" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" \
            "$PY" -W ignore "$DT/decode_timing.py" --cache $cache --label native
        j=$(dt_json "$L/rp-hf-$cache-native.log")
        if [ $RC = 125 ]; then add g "HF GPT-2 $cache cache native" SKIP 0 "$NOTRUN" "rp-hf-$cache-native.log"
        else
            add g "HF GPT-2 $cache cache native" "$([ $RC = 0 ] && [ -n "$j" ] && echo PASS || echo FAIL)" "$SECS" \
                "$([ -n "$j" ] && echo "$(dt_field "$j" ms_per_token_median) ms/token" || echo "exit $RC")" "rp-hf-$cache-native.log"
            [ -n "$j" ] && rp_row "HF GPT-2 12x768 $cache cache" native "$(dt_field "$j" ms_per_token_median)" "$(dt_field "$j" tokens)"
        fi
        toks=()
        for g in 0 1; do
            sockdir=$(mktemp -d /tmp/genie-rp.XXXXXX)
            GENIE_REPLAY_GRAPHS=$g "$bundle/remote/genie-remote" --listen "unix:$sockdir/g.sock" --port-file "$sockdir/port" \
                >"$L/rp-hf-$cache-remote$g.log" 2>&1 </dev/null &
            torch_remote_pid=$!
            for _ in $(seq 1 100); do
                [ -s "$sockdir/port" ] && break
                kill -0 "$torch_remote_pid" 2>/dev/null || break
                sleep 0.05
            done
            run_capped 50 "$L/rp-hf-$cache-graphs$g.log" env LD_PRELOAD="$rp_preload" LD_LIBRARY_PATH="$rp_llp" \
                ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
                GENIE_REMOTE="unix:$sockdir/g.sock" GENIE_TIMEOUT_MS=20000 \
                "$PY" -W ignore "$DT/decode_timing.py" --cache $cache --label "graphs=$g"
            kill "$torch_remote_pid" 2>/dev/null
            wait "$torch_remote_pid" 2>/dev/null
            torch_remote_pid=
            rm -rf "$sockdir"
            j=$(dt_json "$L/rp-hf-$cache-graphs$g.log")
            if [ $RC = 125 ]; then add g "HF GPT-2 $cache cache shim graphs=$g" SKIP 0 "$NOTRUN" "rp-hf-$cache-graphs$g.log"; continue; fi
            add g "HF GPT-2 $cache cache shim graphs=$g" "$([ $RC = 0 ] && [ -n "$j" ] && echo PASS || echo FAIL)" "$SECS" \
                "$([ -n "$j" ] && echo "$(dt_field "$j" ms_per_token_median) ms/token" || echo "exit $RC")" "rp-hf-$cache-graphs$g.log"
            [ -n "$j" ] && {
                toks[$g]=$(dt_field "$j" tokens)
                rp_row "HF GPT-2 12x768 $cache cache" "shim unix, graphs $([ $g = 1 ] && echo on || echo off)" \
                    "$(dt_field "$j" ms_per_token_median)" "${toks[$g]}"
            }
        done
        if [ -n "${toks[0]:-}" ] && [ -n "${toks[1]:-}" ]; then
            if [ "${toks[0]}" = "${toks[1]}" ]; then add g "HF GPT-2 $cache cache: graphs on = off" PASS 0 "the same tokens: ${toks[1]}"
            else add g "HF GPT-2 $cache cache: graphs on = off" FAIL 0 "tokens differ: off ${toks[0]}, on ${toks[1]}"; fi
        fi
    done
fi
{
    echo "## Iteration replay: time per token, native vs through the shim (graphs off / on)"
    echo
    echo "minigpt: decode ms per step is the program's mean over its 32 steps; HF: the median of 32 timed"
    echo "steps after 8 untimed (tests/torch/decode_timing.py). Graphs: GENIE_REPLAY_GRAPHS in genie-remote's"
    echo "environment. The goal (issue 11): through the shim no slower than native (local eager)."
    echo
    echo "| workload | mode | ms per token | first tokens |"
    echo "|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$out/replay.tsv"
} | section g-replay
end_step

# ---------------------------------------------------------------- f: genie-bench --quick
# the benchmark suite's CI-sized matrix on the GPU: every baseline on the GPU (Ray stays "not
# run: not installed" unless it is there); its results directory is kept in OUTDIR/bench/ and
# checked by tests/bench/check_results.py (every summary number recomputed from raw.csv)
begin_step f 170 "genie-bench --quick on the GPU"
PY=${GENIE_PYTHON:-python3}
if [ ! -e "$bundle/bench/genie_bench/cli.py" ]; then
    add f "genie-bench --quick" SKIP 0 "bench/genie_bench is not in the bundle (make it again: scripts/bundle.sh)"
elif ! "$PY" -c 'import numpy, scipy, matplotlib' >"$L/bench-import.log" 2>&1; then
    add f "genie-bench --quick" SKIP 0 "skipped: numpy/scipy/matplotlib do not import" bench-import.log
else
    rm -rf "$out/bench"
    run_capped 160 "$L/bench.log" env PYTHONPATH="$bundle/bench" LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" \
        "$PY" -m genie_bench --quick --no-progress --build "$bundle" --out "$out/bench" --timeout 60
    if [ $RC = 125 ]; then add f "genie-bench --quick" SKIP 0 "$NOTRUN" bench.log
    elif [ -s "$out/bench/report.md" ]; then
        note="$(grep -c ',ran,' "$out/bench/summary.csv") cells ran$([ $TIMED_OUT = 1 ] && echo ', timed out (partial)')"
        add f "genie-bench --quick" "$([ $RC = 0 ] && echo PASS || echo FAIL)" "$SECS" "$note; results in bench/" bench.log
        if [ -e "$bundle/tests/bench/check_results.py" ]; then
            run_capped 30 "$L/bench-check.log" "$PY" "$bundle/tests/bench/check_results.py" "$out/bench"
            add f "genie-bench honesty checks" "$([ $RC = 0 ] && echo PASS || echo FAIL)" "$SECS" \
                "$(tail -1 "$L/bench-check.log" | cut -c1-90)" bench-check.log
        fi
    else
        add f "genie-bench --quick" FAIL "$SECS" "exit $RC$([ $TIMED_OUT = 1 ] && echo ' (timed out)'), no report.md" bench.log
    fi
    {
        echo "## genie-bench --quick (results directory: \`bench/\`, report \`bench/report.md\`)"
        echo
        if [ -s "$out/bench/report.md" ]; then
            sed -n '/^## Performance/,/^## Cells that did not run/p' "$out/bench/report.md" | sed '$d'
        else
            echo '```'
            tail -8 "$L/bench.log"
            echo '```'
        fi
    } | section f-bench
fi
end_step
exit # the EXIT trap writes the report and the summary
