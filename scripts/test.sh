#!/usr/bin/env bash
# test.sh — runs every test: the normal build, a Release build's smoke tests, the ASan+UBSan
# build, then the fake GPU's workers under ThreadSanitizer (build-tsan/).
#
#   scripts/test.sh [--no-asan]   (--no-asan: the normal build only)
# Builds what is missing first (scripts/setup.sh --no-install).
set -euo pipefail
cd "$(dirname "$0")/.."
asan=1
case "${1:-}" in
--no-asan) asan=0 ;;
-h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "test.sh: unknown option $1" >&2; exit 2 ;;
esac
export PATH=/usr/local/cuda/bin:$PATH
if [ $asan = 1 ]; then
    scripts/setup.sh --no-install --asan --release >/dev/null
else
    scripts/setup.sh --no-install >/dev/null
fi
# A test that fails is run once more (its first failure stays in the log): on a loaded 2-core
# machine a few end-to-end tests have failed once under ASan without a trace to act on.
ctest --test-dir build --output-on-failure -j 2 -LE gpu --repeat until-pass:2
if [ $asan = 1 ]; then
    # the Release tree is built (that is the check: -O3 finds warnings -O2 does not) and runs
    # only a few tests: the wire, the executor's unit tests, the installed tree
    echo "== Release build: smoke tests"
    ctest --test-dir build-release --output-on-failure -j 2 -LE gpu --repeat until-pass:2 \
        -R '^(test_frame|test_gen_uptodate|test_exec|test_lib|test_exec_lt|test_dnn|test_shim_alloc|scripts_install)$'
    echo "== ASan+UBSan build"
    # torch_checks_cpu runs PyTorch on the CPU only (no shim) and the GPT-2, ResNet-50 and CLIP
    # traces repeat what torch_fake_local, torch_cudnn_fake and torch_sdpa_fake already put
    # through the shim: under ASan they cost minutes and check nothing ASan can see;
    # torch_habits_unix checks behaviour (counts, a fork, torch.compile's message), not memory,
    # as do torch_startup_lazy_* (module counters after import torch; the gRPC client's dlopen
    # runs in every e2e *_unix test), and torch_fake_local keeps torch through the shim under ASan.
    # LeakSanitizer is on for every test but PyTorch's (tests/torch/run.sh turns it off: CPython
    # and torch keep their own allocations to exit): the unit tests, genie-remote (its front, and
    # its workers, whose reports tests/lib/wait.sh's stop_server reads from the server's log), and
    # the CUDA programs preloaded with the shim. Suppressions: tests/lsan.supp (Criterion's own
    # 48 bytes) and, for TLS clients only, tests/lsan_tls_client.supp (a gRPC handshake buffer);
    # each line says why. Criterion runs each test in a child that exits early, before
    # LeakSanitizer's report: CRITERION_NO_EARLY_EXIT=1 lets the child exit normally, and
    # abort_on_error=1 turns LeakSanitizer's report into a crash Criterion counts (without
    # both, a planted 1,284-byte leak in test_common_lru passed).
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        CRITERION_NO_EARLY_EXIT=1 LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
        ctest --test-dir build-asan --output-on-failure -j 2 -LE gpu --repeat until-pass:2 \
        -E '^(torch_checks_cpu|torch_trace_gpt2_decode|torch_trace_gpt2_decode_static|torch_habits_unix|torch_trace_resnet50|torch_trace_clip|torch_startup_lazy_local|torch_startup_lazy_unix)$'
fi
if [ $asan = 1 ]; then
    # libFuzzer needs clang and a tree of its own (coverage instrumentation everywhere): only
    # the fuzz target and the fake GPU are built. A fixed seed, a bounded time; a crash, a leak
    # or a timeout (an input one session may not take minutes over) fails CI. libFuzzer writes
    # the input that failed as build-fuzz/crash-*: copy it to tests/fuzz/regress, fix, commit.
    echo "== libFuzzer: frame decoder + executor batch validation (60 s, ASan+UBSan)"
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
        -DCMAKE_CXX_COMPILER=clang++ -DGENIE_FUZZ=ON -DGENIE_WITH_CUDA_WORKLOADS=OFF \
        -DGENIE_WITH_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j 2 --target fuzz_batch
    rm -rf build-fuzz/corpus && mkdir -p build-fuzz/corpus
    (cd build-fuzz && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 timeout 300 \
        tests/fuzz/fuzz_batch -seed=1 -max_total_time=60 -timeout=30 -rss_limit_mb=4096 \
        -max_len=262144 -print_final_stats=1 corpus ../tests/fuzz/corpus ../tests/fuzz/regress)
fi
if [ $asan = 1 ]; then
    # ThreadSanitizer cannot share a tree with ASan: a tree of its own that builds only the fake
    # GPU's stress test (several host threads against its workers; about a minute to build)
    echo "== ThreadSanitizer: the fake GPU's workers"
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENIE_TSAN=ON -DGENIE_WERROR=ON >/dev/null
    cmake --build build-tsan -j 2 --target stress_fakegpu
    TSAN_OPTIONS=halt_on_error=1:exitcode=66 timeout 300 build-tsan/tests/fakegpu/stress_fakegpu
fi
