/* fuzz_batch.c — libFuzzer target: the frame decoder and the executor's validation of every
 * record of a batch, on the fake GPU (issue 12 item 7).
 *
 * An input is a session: segments {u8 mode, u32 length (little-endian), bytes}, run in order
 * through exec_session_handle of one fresh session (and a fresh exec_ctx, so nothing leaks
 * from one input into the next). mode bit 0x80: the bytes are a whole frame, header and CRC
 * included (the decoder's input as a client sends it); otherwise they are a payload of
 * records that the harness wraps in a correct header (mode & 0x7f are the frame flags, e.g.
 * PROTO_FRAME_TEMPLATE), so mutations reach the executor's per-record checks instead of
 * failing the CRC. GENIE_RECORD_FRAMES (remote/session.c) writes real sessions in this form:
 * tests/fuzz/corpus holds some, recorded from the workloads with GENIE_TEST_VA_HINT fixed to
 * the address this harness reserves, so their addresses are valid here.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined (GENIE_FUZZ=ON, a tree of its own:
 * scripts/test.sh); without libFuzzer, replay_main.c runs the corpus and the regression inputs
 * through the same function as a plain test (fuzz_batch_replay). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/gen/ops.h"
#include "protocol/session.h"
#include "remote/exec.h"

/* Where the fuzzed session's range is reserved (GENIE_TEST_VA_HINT: session 1 of a ctx). */
#define FUZZ_VA_HINT "0x300000000000"
#define FUZZ_MAX_SEGMENTS 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input's first segment was a HELLO the executor accepted: replay_main.c
 * requires it of every seed, so a seed that stops at HELLO (as all did once, after a session
 * version bump) fails the test instead of fuzzing nothing. */
int fuzz_hello_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* FAKEGPU_LIB / FAKEBLAS_LIB: paths compiled in by CMake */
    setenv("GENIE_CUDA_LIB", FAKEGPU_LIB, 0);
#ifdef FAKEBLAS_LIB
    setenv("GENIE_CUBLAS_LIB", FAKEBLAS_LIB, 0);
    setenv("GENIE_CUBLASLT_LIB", FAKEBLAS_LIB, 0);
#endif
    setenv("GENIE_VA_SIZE", "268435456", 1); /* 256 MiB */
    setenv("GENIE_TEST_VA_HINT", FUZZ_VA_HINT, 1);
    setenv("GENIE_WEIGHT_CACHE_BYTES", "16777216", 1);
    setenv("GENIE_LOG", "error", 0);
    return 0;
}

/* The reply to a HELLO holds its R_HELLO and no R_ERROR. */
static int hello_accepted(const proto_frame *f)
{
    proto_iter it;
    proto_rec r;
    int hello = 0;
    proto_iter_init(&it, f);
    while (proto_iter_next(&it, &r) == 1) {
        if (r.op == PROTO_OP_R_ERROR)
            return 0;
        hello |= r.op == PROTO_OP_R_HELLO;
    }
    return hello;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) { /* the replay driver has no LLVMFuzzerInitialize call */
        LLVMFuzzerInitialize(NULL, NULL);
        init = 1;
    }
    exec_ctx *ctx;
    char err[256];
    if (exec_ctx_open(NULL, &ctx, err, sizeof err)) {
        fprintf(stderr, "fuzz_batch: exec_ctx_open: %s\n", err);
        abort();
    }
    exec_limits lim = exec_limits_default();
    lim.mem_quota = 64u << 20; /* an input may not take the machine's memory */
    lim.max_reply = 4u << 20;
    exec_ctx_set_limits(ctx, &lim);
    exec_session *s = exec_session_open(ctx, "fuzz");
    genie_buf frame = {0};
    uint32_t seq = 1;
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    fuzz_hello_accepted = 0;
    for (int k = 0; s && k < FUZZ_MAX_SEGMENTS && size >= 5; k++) {
        uint8_t mode = data[0];
        uint32_t len = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                       (uint32_t)data[4] << 24;
        data += 5, size -= 5;
        if (len > size)
            len = (uint32_t)size;
        const void *req = data;
        size_t n = len;
        if (!(mode & 0x80)) {
            genie_buf_reset(&frame);
            if (proto_frame_begin(&frame, PROTO_KIND_REQUEST, seq++) ||
                genie_buf_append(&frame, data, len))
                break;
            /* A first HELLO record (op, flags, length 16+: pid, version) speaks this build's
             * session version, so recorded seeds outlive a version bump; a whole frame (mode
             * 0x80) keeps whatever version it says. */
            uint8_t *rec = frame.data + PROTO_HDR_SIZE;
            if (k == 0 && len >= PROTO_REC_HDR_SIZE + 12 && rec[0] == (PROTO_OP_HELLO & 0xff) &&
                rec[1] == (PROTO_OP_HELLO >> 8))
                for (int b = 0; b < 4; b++)
                    rec[PROTO_REC_HDR_SIZE + 8 + b] = (uint8_t)(PROTO_SESSION_VERSION >> (8 * b));
            proto_frame_set_flags(&frame, mode & 0x7f);
            proto_frame_end(&frame);
            req = frame.data;
            n = frame.len;
        }
        data += len, size -= len;
        void *reply = NULL;
        size_t rn = 0;
        int end = exec_session_handle(s, req, n, &reply, &rn);
        /* every reply must parse: the client trusts its framing */
        proto_frame f;
        if (reply && proto_frame_parse(reply, rn, proto_max_message(), &f)) {
            fprintf(stderr, "fuzz_batch: the executor's reply does not parse\n");
            abort();
        }
        if (k == 0)
            fuzz_hello_accepted = reply && !end && hello_accepted(&f);
        if (verbose && reply) { /* FUZZ_VERBOSE=1: how far a seed gets */
            proto_iter it;
            proto_rec r;
            unsigned nrec = 0, nerr = 0;
            proto_iter_init(&it, &f);
            while (proto_iter_next(&it, &r) == 1) {
                nrec++;
                if (r.op == PROTO_OP_R_ERROR) {
                    proto_R_ERROR e;
                    if (!proto_get_R_ERROR(&r, &e) && nerr++ < 2)
                        fprintf(stderr, "  error: %.*s\n", (int)e.msg_len, (const char *)e.msg);
                }
            }
            fprintf(stderr, "segment %d: %zu bytes, %u reply records, %u errors\n", k, n, nrec,
                    nerr);
        }
        free(reply);
        if (end)
            break;
    }
    genie_buf_free(&frame);
    exec_session_close(s);
    exec_ctx_close(ctx);
    return 0;
}
