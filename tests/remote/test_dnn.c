/* test_dnn.c — cuDNN backend Execute on the executor (remote/ops_dnn.c, remote/dnn_mirror.c): the variant pack's tensors are checked over their whole extent from the plan's graph, on the fake cuDNN. */
#include <cudnn.h>

#include "protocol/dnn.h"
#include "remote/dnn_mirror.h"
#include "tests/remote/harness.h"

static void setup_dnn(void)
{
    setenv("GENIE_CUDNN_LIB", FAKEDNN_LIB, 1);
    unsetenv("GENIE_FAKE_DNN_WORKSPACE");
    setup();
}

TestSuite(dnn, .init = setup_dnn, .fini = teardown);

/* ---- records ---- */

enum { H = 1, X = 10, W = 11, Y = 12, CONV = 13, OP = 14, GRAPH = 15, HEUR = 16, CFG = 17, PLAN = 18 };
enum { UID_X = 120, UID_W = 119, UID_Y = 121 };

static void set_i64(uint32_t d, uint32_t attr, uint32_t n, const int64_t *v)
{
    uint8_t *p = proto_put_DNN_BE_SET(&req, d, attr, CUDNN_TYPE_INT64, n, (size_t)n * 8);
    cr_assert_not_null(p);
    memcpy(p, v, (size_t)n * 8);
}
static void set_u32(uint32_t d, uint32_t attr, uint32_t type, uint32_t v)
{
    uint8_t *p = proto_put_DNN_BE_SET(&req, d, attr, type, 1, 4);
    memcpy(p, &v, 4);
}
static void set_f32(uint32_t d, uint32_t attr, float v)
{
    uint8_t *p = proto_put_DNN_BE_SET(&req, d, attr, CUDNN_TYPE_FLOAT, 1, 4);
    memcpy(p, &v, 4);
}
/* descriptor- and handle-valued: client IDs as u64 */
static void set_ids(uint32_t d, uint32_t attr, uint32_t type, uint32_t n, const uint64_t *ids)
{
    uint8_t *p = proto_put_DNN_BE_SET(&req, d, attr, type, n, (size_t)n * 8);
    memcpy(p, ids, (size_t)n * 8);
}
static void set_ptrs(uint32_t d, uint32_t attr, uint32_t n, const uint64_t *v)
{
    uint8_t *p = proto_put_DNN_BE_SET(&req, d, attr, CUDNN_TYPE_VOID_PTR, n, (size_t)n * 8);
    memcpy(p, v, (size_t)n * 8);
}

static void tensor(uint32_t id, int64_t uid, const int64_t dims[4], const int64_t strides[4])
{
    proto_put_DNN_BE_CREATE(&req, id, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    set_u32(id, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT);
    set_i64(id, CUDNN_ATTR_TENSOR_DIMENSIONS, 4, dims);
    set_i64(id, CUDNN_ATTR_TENSOR_STRIDES, 4, strides);
    set_i64(id, CUDNN_ATTR_TENSOR_UNIQUE_ID, 1, &uid);
    set_i64(id, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 1, &(int64_t){16});
}

/* Expects r to hold n records, each an R_VALUE or R_DATA with cuDNN status 0. */
static void all_answered(const reply *r, int n)
{
    cr_assert_eq(r->n, n, "%d records in the reply, want %d (first: %s)", r->n, n,
                 r->n ? proto_op_name(r->recs[0].op) : "-");
    for (int i = 0; i < n; i++) {
        if (r->recs[i].op == PROTO_OP_R_VALUE) {
            proto_R_VALUE v;
            cr_assert_eq(proto_get_R_VALUE(&r->recs[i], &v), 0);
            cr_assert_eq(v.status, 0, "record %d: cuDNN status %d", i, v.status);
        } else {
            cr_assert_eq(r->recs[i].op, PROTO_OP_R_DATA, "record %d is %s", i,
                         proto_op_name(r->recs[i].op));
            proto_R_DATA d;
            cr_assert_eq(proto_get_R_DATA(&r->recs[i], &d), 0);
            int32_t st;
            memcpy(&st, d.data + 8, 4);
            cr_assert_eq(st, 0, "record %d: cuDNN status %d", i, st);
        }
    }
}

/* A 1x1 convolution plan as cudnn-frontend builds it: x [2,1,4,4] (NCHW), w [1,1,1,1], y [2,1,4,4]
 * with image stride ystride (floats); heuristic, its engine config, plan. ragged: y names a
 * ragged-offset tensor (its extent depends on the offsets: the executor cannot size it).
 * early: the operation is given to the graph before it is finalized (the fake cuDNN takes it,
 * by reference, so it could still change); late_graph: the heuristic is given the graph before
 * the graph is finalized. */
enum { RAGGED = 1, EARLY = 2, LATE_GRAPH = 4 };
static void build_plan(exec_session *s, int64_t ystride, int how)
{
    int ragged = how & RAGGED, early = how & EARLY, late = how & LATE_GRAPH;
    const int64_t xd[4] = {2, 1, 4, 4}, xs[4] = {16, 16, 4, 1};
    const int64_t wd[4] = {1, 1, 1, 1}, ws[4] = {1, 1, 1, 1};
    const int64_t ys[4] = {ystride, 16, 4, 1};
    begin();
    proto_put_DNN_CREATE(&req, H);
    tensor(X, UID_X, xd, xs);
    tensor(W, UID_W, wd, ws);
    tensor(Y, UID_Y, xd, ys);
    if (ragged) {
        const int64_t od[4] = {3, 1, 1, 1}, os[4] = {1, 1, 1, 1};
        tensor(30, 130, od, os);
        proto_put_DNN_BE_FINALIZE_ASYNC(&req, 30);
        set_ids(Y, CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                (uint64_t[]){30});
    }
    proto_put_DNN_BE_FINALIZE_ASYNC(&req, X);
    proto_put_DNN_BE_FINALIZE_ASYNC(&req, W);
    proto_put_DNN_BE_FINALIZE_ASYNC(&req, Y);
    proto_put_DNN_BE_CREATE(&req, CONV, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    set_u32(CONV, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT);
    set_u32(CONV, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE,
            CUDNN_CROSS_CORRELATION);
    set_i64(CONV, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 1, &(int64_t){2});
    set_i64(CONV, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 2, (int64_t[]){0, 0});
    set_i64(CONV, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, 2, (int64_t[]){0, 0});
    set_i64(CONV, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 2, (int64_t[]){1, 1});
    set_i64(CONV, CUDNN_ATTR_CONVOLUTION_DILATIONS, 2, (int64_t[]){1, 1});
    proto_put_DNN_BE_FINALIZE_ASYNC(&req, CONV);
    proto_put_DNN_BE_CREATE(&req, OP, CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    const uint32_t B = CUDNN_TYPE_BACKEND_DESCRIPTOR;
    set_ids(OP, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, B, 1, (uint64_t[]){X});
    set_ids(OP, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, B, 1, (uint64_t[]){W});
    set_ids(OP, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, B, 1, (uint64_t[]){Y});
    set_ids(OP, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, B, 1, (uint64_t[]){CONV});
    set_f32(OP, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 1.0f);
    set_f32(OP, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 0.0f);
    if (!early)
        proto_put_DNN_BE_FINALIZE_ASYNC(&req, OP);
    /* the program may destroy what the graph is built from: the plan keeps its own copy */
    proto_put_DNN_BE_DESTROY(&req, X);
    proto_put_DNN_BE_CREATE(&req, GRAPH, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set_ids(GRAPH, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, (uint64_t[]){H});
    set_ids(GRAPH, CUDNN_ATTR_OPERATIONGRAPH_OPS, B, 1, (uint64_t[]){OP});
    if (early)
        proto_put_DNN_BE_FINALIZE_ASYNC(&req, OP);
    if (!late)
        proto_put_DNN_BE_FINALIZE(&req, GRAPH);
    proto_put_DNN_BE_CREATE(&req, HEUR, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    set_ids(HEUR, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, B, 1, (uint64_t[]){GRAPH});
    if (late)
        proto_put_DNN_BE_FINALIZE(&req, GRAPH);
    proto_put_DNN_BE_DESTROY(&req, OP);
    set_u32(HEUR, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, CUDNN_HEUR_MODE_A);
    proto_put_DNN_BE_FINALIZE(&req, HEUR);
    proto_put_DNN_BE_CREATE(&req, CFG, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    uint8_t *o = proto_put_DNN_BE_GET(&req, HEUR, CUDNN_ATTR_ENGINEHEUR_RESULTS, B, 1, 8);
    memcpy(o, &(uint64_t){CFG}, 8);
    proto_put_DNN_BE_DESTROY(&req, GRAPH);
    proto_put_DNN_BE_DESTROY(&req, HEUR);
    proto_put_DNN_BE_CREATE(&req, PLAN, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    set_ids(PLAN, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, (uint64_t[]){H});
    set_ids(PLAN, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, B, 1, (uint64_t[]){CFG});
    proto_put_DNN_BE_FINALIZE(&req, PLAN);
    proto_put_DNN_BE_DESTROY(&req, CFG);
    reply r;
    run(s, &r);
    all_answered(&r, 4); /* graph, heuristic, the heuristic's results, plan */
    done(&r);
}

/* Runs the plan with a fresh variant pack (x, w, y; workspace ws), then a PING: 1 when the
 * Execute was refused (its error in *err, message copied), 0 when it ran. A by-value tag for
 * y (value_y) gives y a host value instead of a pointer. */
static int execute(exec_session *s, uint64_t x, uint64_t w, uint64_t y, uint64_t ws,
                   int64_t uid_y, proto_R_ERROR *err)
{
    static uint32_t pack = 100;
    pack++;
    begin();
    proto_put_DNN_BE_CREATE(&req, pack, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    set_i64(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, 3, (int64_t[]){UID_X, UID_W, uid_y});
    set_ptrs(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, 3, (uint64_t[]){x, w, y});
    set_ptrs(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, 1, &ws);
    proto_put_DNN_BE_FINALIZE_ASYNC(&req, pack);
    if (y == (PROTO_DNN_BYVALUE_TAG | 2))
        memset(proto_put_DNN_BE_VALUES(&req, pack, 3 * PROTO_DNN_BYVALUE_SLOT), 0,
               3 * PROTO_DNN_BYVALUE_SLOT);
    proto_put_DNN_BE_EXECUTE(&req, H, 0, PLAN, pack);
    proto_put_DNN_BE_DESTROY(&req, pack);
    return run_then_ping(s, err);
}

static void put(exec_session *s, uint64_t dst, const void *src, size_t n)
{
    begin();
    memcpy(proto_put_MEMCPY_H2D(&req, dst, 0, n), src, n);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
}

#define MSG(e) (int)(e).msg_len, (const char *)(e).msg

/* x: 32 floats i - 7.5; w: 2. */
static void inputs(exec_session *s, uint64_t x, uint64_t w)
{
    float hx[32];
    for (int i = 0; i < 32; i++)
        hx[i] = (float)i - 7.5f;
    put(s, x, hx, 32 * 4);
    put(s, w, &(float){2.0f}, 4);
}

/* A session with 2 MiB mapped at *base, x (its values: i - 7.5) at base, w = 2 4 KiB after,
 * and the plan (y of image stride 16; how: build_plan's RAGGED, EARLY). */
static exec_session *ready(uint64_t *base, int how)
{
    exec_session *s = open_hello();
    *base = hello_rep.va_base;
    map(s, *base, 2 * MiB);
    inputs(s, *base, *base + 4096);
    build_plan(s, 16, how);
    return s;
}

Test(dnn, a_good_execute_computes_and_is_checked_whole)
{
    uint64_t base;
    exec_session *s = ready(&base, 0);
    uint64_t end = base + 2 * MiB;
    float hy[32];
    proto_R_ERROR e;
    /* y ends exactly at the end of the mapping: in range */
    uint64_t y = end - 32 * 4;
    cr_assert_not(execute(s, base, base + 4096, y, 0, UID_Y, &e), "a good Execute failed: %.*s",
                  MSG(e));
    copy_back(s, y, hy, sizeof hy);
    for (int i = 0; i < 32; i++)
        cr_assert_float_eq(hy[i], 2 * (i - 7.5f), 1e-6, "y[%d] = %g, want %g", i, hy[i],
                           2 * (i - 7.5));
    exec_session_close(s);
}

Test(dnn, a_tensor_reaching_past_the_mapping_is_refused_and_nothing_written)
{
    uint64_t base;
    exec_session *s = ready(&base, 0);
    uint64_t end = base + 2 * MiB;
    /* y's first image is the last 64 bytes of the mapping, its second lies past it: the first
     * byte is the session's (DNN_BE_SET's check passes), the extent (128 bytes) is not */
    uint64_t y = end - 16 * 4;
    uint8_t before[64], after[64];
    memset(before, 0x5a, sizeof before);
    put(s, y, before, sizeof before);
    proto_R_ERROR e;
    cr_assert(execute(s, base, base + 4096, y, 0, UID_Y, &e), "y past the mapping ran");
    cr_assert_eq(e.cuda_err, 1);
    cr_assert(msg_has(&e, "DNN_BE_EXECUTE: variant pack"), "message: %.*s", MSG(e));
    cr_assert(msg_has(&e, ": tensor UID 121 [0x"), "message: %.*s", MSG(e));
    cr_assert(msg_has(&e, ", +128) is not in this session's memory"), "message: %.*s", MSG(e));
    copy_back(s, y, after, sizeof after);
    cr_assert_arr_eq(before, after, sizeof before, "the refused Execute wrote y");
    /* the same for an input: x starting 64 bytes before the end */
    cr_assert(execute(s, end - 64, base + 4096, base + 8192, 0, UID_Y, &e), "x past the end ran");
    cr_assert(msg_has(&e, ": tensor UID 120 [0x"), "message: %.*s", MSG(e));
    /* the session goes on: a good one still runs */
    cr_assert_not(execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "%.*s", MSG(e));
    exec_session_close(s);
}

/* Two sessions of one process (--sessions threads): a tensor that starts in the attacker's
 * memory and whose strides reach the victim's bytes is refused, and the victim's bytes are
 * unchanged. Without the check, y's second image would land exactly on them. */
Test(dnn, a_tensor_striding_into_another_session_is_refused)
{
    exec_session *a = open_hello();
    uint64_t abase = hello_rep.va_base;
    exec_session *b = open_hello();
    uint64_t bbase = hello_rep.va_base;
    if (bbase < abase) { /* the attacker is the one below: its strides go up */
        exec_session *t = a;
        a = b;
        b = t;
        uint64_t u = abase;
        abase = bbase;
        bbase = u;
    }
    map(a, abase, 2 * MiB);
    map(b, bbase, 2 * MiB);
    uint8_t secret[64], after[64];
    fill(secret, sizeof secret, 9);
    put(b, bbase, secret, sizeof secret);
    inputs(a, abase, abase + 4096);
    uint64_t y = abase + 8192;
    cr_assert_eq((bbase - y) % 4, 0);
    build_plan(a, (int64_t)((bbase - y) / 4), 0);
    proto_R_ERROR e;
    int refused = execute(a, abase, abase + 4096, y, 0, UID_Y, &e);
    copy_back(b, bbase, after, sizeof after);
    cr_assert_arr_eq(secret, after, sizeof secret, "the other session's bytes changed");
    cr_assert(refused, "a tensor striding into another session ran");
    cr_assert(msg_has(&e, ": tensor UID 121 [0x"), "message: %.*s", MSG(e));
    /* a pointer into the other session is refused at once, at its first byte */
    begin();
    proto_put_DNN_BE_CREATE(&req, 50, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    set_ptrs(50, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, 1, &bbase);
    reply r;
    run(a, &r);
    cr_assert_eq(r.n, 1);
    e = error_at(&r, 0);
    cr_assert(msg_has(&e, "is not in this session's memory"), "message: %.*s", MSG(e));
    done(&r);
    exec_session_close(a);
    exec_session_close(b);
}

Test(dnn, what_the_plan_does_not_know_is_refused)
{
    uint64_t base;
    exec_session *s = ready(&base, 0);
    proto_R_ERROR e;
    /* a UID the plan's graph does not have */
    cr_assert(execute(s, base, base + 4096, base + 8192, 0, 999, &e), "an unknown UID ran");
    cr_assert(msg_has(&e, "tensor UID 999 is not in plan 18's graph"), "message: %.*s", MSG(e));
    /* y is not by-value: a host value for it is refused */
    cr_assert(execute(s, base, base + 4096, PROTO_DNN_BYVALUE_TAG | 2, 0, UID_Y, &e),
              "a host value for a device tensor ran");
    cr_assert(msg_has(&e, "tensor UID 121 is not by-value but was given a host value"),
              "message: %.*s", MSG(e));
    exec_session_close(s);
}

/* Attributes that would change a tensor's extent behind the plan's descriptors, or hand the
 * library a pointer Genie cannot size, are refused at their DNN_BE_SET with the reason (the
 * shim refuses them first with CUDNN_STATUS_NOT_SUPPORTED; this is the executor's own guard
 * against a client that sends them anyway); the session goes on and a good Execute runs. */
Test(dnn, attributes_whose_extent_cannot_be_checked_are_refused)
{
    uint64_t base;
    exec_session *s = ready(&base, 0);
    static const struct {
        uint32_t desc_type, attr;
        int type;
        const char *why;
    } cases[] = {
        {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_OVERRIDE_SHAPES,
         CUDNN_TYPE_INT64, "shapes overridden at execution"},
        {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_OVERRIDE_STRIDES,
         CUDNN_TYPE_INT64, "shapes overridden at execution"},
        {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_INTERMEDIATES,
         CUDNN_TYPE_VOID_PTR, "intermediates"},
        {CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC,
         CUDNN_TYPE_BACKEND_DESCRIPTOR, "GEMM sizes read from device tensors"},
        {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_VOID_PTR,
         "a pointer outside a variant pack"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t id = 300 + (uint32_t)i;
        begin();
        proto_put_DNN_BE_CREATE(&req, id, cases[i].desc_type);
        if (cases[i].type == CUDNN_TYPE_VOID_PTR)
            set_ptrs(id, cases[i].attr, 1, &base);
        else if (cases[i].type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
            set_ids(id, cases[i].attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, (uint64_t[]){X});
        else
            set_i64(id, cases[i].attr, 1, &(int64_t){4});
        proto_R_ERROR e;
        cr_assert(run_then_ping(s, &e), "case %zu: the attribute was taken", i);
        cr_assert_eq(e.cu_result, CUDNN_STATUS_NOT_SUPPORTED, "case %zu", i);
        cr_assert(msg_has(&e, cases[i].why), "case %zu: %.*s", i, MSG(e));
        begin();
        proto_put_DNN_BE_DESTROY(&req, id);
        cr_assert(!run_then_ping(s, &e), "case %zu: destroy: %.*s", i, MSG(e));
    }
    proto_R_ERROR e;
    cr_assert(!execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "%.*s", MSG(e));
    exec_session_close(s);
}

Test(dnn, a_plan_with_a_tensor_that_cannot_be_sized_is_refused)
{
    uint64_t base;
    exec_session *s = ready(&base, RAGGED);
    proto_R_ERROR e;
    cr_assert(execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "a ragged y ran");
    cr_assert(msg_has(&e, "plan 18: tensor UID 121 cannot be sized: it is ragged"),
              "message: %.*s", MSG(e));
    exec_session_close(s);
    /* an operation given to its graph before it was finalized could have changed since */
    s = ready(&base, EARLY);
    cr_assert(execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "an early operation ran");
    cr_assert(msg_has(&e, "plan 18: operation 14 of its graph was not finalized when the graph "
                          "was given it"),
              "message: %.*s", MSG(e));
    exec_session_close(s);
    /* likewise a heuristic given its graph before the graph was finalized */
    s = ready(&base, LATE_GRAPH);
    cr_assert(execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "a late graph ran");
    cr_assert(msg_has(&e, "plan 18: the executor does not know its operation graph's tensors"),
              "message: %.*s", MSG(e));
    exec_session_close(s);
}

Test(dnn, the_workspace_is_checked_against_the_plans_size)
{
    setenv("GENIE_FAKE_DNN_WORKSPACE", "4096", 1);
    uint64_t base;
    exec_session *s = ready(&base, 0);
    uint64_t end = base + 2 * MiB;
    proto_R_ERROR e;
    cr_assert_not(execute(s, base, base + 4096, base + 8192, end - 4096, UID_Y, &e),
                  "a workspace up to the end failed: %.*s", MSG(e));
    cr_assert(execute(s, base, base + 4096, base + 8192, end - 1024, UID_Y, &e),
              "a workspace past the end ran");
    cr_assert(msg_has(&e, "workspace [0x"), "message: %.*s", MSG(e));
    cr_assert(msg_has(&e, ", +4096) (plan 18's size) is not in this session's memory"),
              "message: %.*s", MSG(e));
    cr_assert(execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "no workspace ran");
    exec_session_close(s);
    unsetenv("GENIE_FAKE_DNN_WORKSPACE");
}

Test(dnn_extent, spans_of_strided_tensors)
{
    const int64_t d[4] = {2, 3, 4, 5}, st[4] = {60, 20, 5, 1};
    cr_assert_eq(exec_dnnm_extent(4, d, st, 4, 1), 120 * 4);
    const int64_t nhwc[4] = {2, 3, 4, 5}, sn[4] = {60, 1, 15, 3};
    cr_assert_eq(exec_dnnm_extent(4, nhwc, sn, 2, 1), 120 * 2);
    const int64_t bcast[2] = {7, 9}, sb[2] = {0, 1}; /* a broadcast dimension: stride 0 */
    cr_assert_eq(exec_dnnm_extent(2, bcast, sb, 4, 1), 9 * 4);
    cr_assert_eq(exec_dnnm_extent(4, d, st, 1, 32), 120 * 32); /* vectorized: conservative */
    const int64_t big[2] = {INT64_MAX, 3}, sg[2] = {4, 1};
    cr_assert_eq(exec_dnnm_extent(2, big, sg, 4, 1), 0, "an overflow must not size");
    const int64_t zero[2] = {0, 3}, neg[2] = {-1, 1};
    cr_assert_eq(exec_dnnm_extent(2, zero, sg, 4, 1), 0);
    cr_assert_eq(exec_dnnm_extent(2, d, neg, 4, 1), 0);
}

/* ---- batch norm: the three calls share their first checks (bn_begin in ops_dnn.c), in order:
 * the descriptors' size, then the handle, then each buffer over its whole extent ---- */

/* One batch-norm record of kind k (0 inference, 1 training, 2 backward) with every buffer at
 * p, n descriptors (all t) on handle hd; its R_ERROR's message must contain want. */
static void bn_refused(exec_session *s, int k, uint64_t p, uint32_t hd, size_t n,
                       const proto_dnn_tensor *t, const char *want)
{
    begin();
    uint8_t *d = k == 0   ? proto_put_DNN_BN_INFER(&req, p, p, p, p, p, p, 0, 0, 0, hd, 0,
                                                   CUDNN_BATCHNORM_SPATIAL, n * sizeof *t)
                 : k == 1 ? proto_put_DNN_BN_TRAIN(&req, p, p, p, p, p, p, p, p, 0, 0, 0, 0, 0,
                                                   0, 0, 0, hd, 0, CUDNN_BATCHNORM_SPATIAL,
                                                   n * sizeof *t)
                          : proto_put_DNN_BN_BACKWARD(&req, p, p, p, p, p, p, p, p, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, hd, 0,
                                                      CUDNN_BATCHNORM_SPATIAL, n * sizeof *t);
    cr_assert_not_null(d);
    for (size_t i = 0; i < n; i++)
        memcpy(d + i * sizeof *t, t, sizeof *t);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 1, "batch norm %d: %d records", k, r.n);
    proto_R_ERROR e = error_at(&r, 0);
    cr_assert(msg_has(&e, want), "batch norm %d: message %.*s, want %s", k, MSG(e), want);
    done(&r);
}

Test(dnn, batch_norm_checks_come_in_their_order)
{
    uint64_t base;
    exec_session *s = ready(&base, 0); /* cuDNN handle 1 */
    uint64_t end = base + 2 * MiB;
    proto_dnn_tensor t = {.dtype = CUDNN_DATA_FLOAT, .nd = 4, .dims = {2, 1, 4, 4},
                          .strides = {16, 16, 4, 1}};
    static const char *ops[3] = {"DNN_BN_INFER", "DNN_BN_TRAIN", "DNN_BN_BACKWARD"};
    for (int k = 0; k < 3; k++) {
        size_t n = k == 2 ? 4 : 3;
        char want[96];
        /* a wrong descriptor count is named before an unknown handle */
        snprintf(want, sizeof want, "%s: %zu bytes of descriptors", ops[k], (n - 1) * sizeof t);
        bn_refused(s, k, base, 77, n - 1, &t, want);
        snprintf(want, sizeof want, "%s: unknown cuDNN handle 77", ops[k]);
        bn_refused(s, k, base, 77, n, &t, want);
        /* x (128 bytes) starting 64 bytes before the end of the mapping */
        snprintf(want, sizeof want, "%s: x [%#llx, +128) is not in this session's memory",
                 ops[k], (unsigned long long)(end - 64));
        bn_refused(s, k, end - 64, H, n, &t, want);
    }
    exec_session_close(s);
}

/* The library fills a query's descriptors in place: never one the mirror knows finalized (a
 * tensor operations name, a plan), which would then no longer be what it mirrors. */
static int32_t get_into(exec_session *s, uint32_t out)
{
    begin();
    uint8_t *o = proto_put_DNN_BE_GET(&req, PLAN, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 8);
    memcpy(o, &(uint64_t){out}, 8);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 1);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    int32_t st;
    memcpy(&st, d.data + 8, 4);
    done(&r);
    return st;
}

Test(dnn, a_query_never_fills_a_finalized_descriptor)
{
    uint64_t base;
    exec_session *s = ready(&base, 0);
    begin();
    proto_put_DNN_BE_CREATE(&req, 60, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    proto_put_DNN_BE_CREATE(&req, 61, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
    cr_assert_eq(get_into(s, 60), CUDNN_STATUS_SUCCESS, "a fresh descriptor was not filled");
    cr_assert_eq(get_into(s, 60), CUDNN_STATUS_BAD_PARAM, "a filled one was filled again");
    cr_assert_eq(get_into(s, PLAN), CUDNN_STATUS_BAD_PARAM, "the finalized plan was filled");
    /* the plan is still the plan: it runs */
    proto_R_ERROR e;
    cr_assert_not(execute(s, base, base + 4096, base + 8192, 0, UID_Y, &e), "%.*s", MSG(e));
    exec_session_close(s);
}
