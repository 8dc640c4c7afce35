/* test_lt.c — protocol/lt.c: cuBLASLt objects in memory, their wire form, and hostile input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/genie.h"
#include "protocol/lt.h"

typedef struct objs {
    _Alignas(16) uint8_t desc[PROTO_LT_DESC_BYTES];
    _Alignas(16) uint8_t lay[4][PROTO_LT_LAYOUT_BYTES];
    _Alignas(16) uint8_t pref[PROTO_LT_PREF_BYTES];
} objs;

static void set32(void *o, uint32_t a, int32_t v)
{
    cr_assert_eq(proto_lt_obj_set(o, a, &v, 4), 0);
}
static void set64(void *o, uint32_t a, int64_t v)
{
    cr_assert_eq(proto_lt_obj_set(o, a, &v, 8), 0);
}

/* A problem like PyTorch's addmm: D[m,n] = op(A) op(B) + bias, fp32, A transposed. */
static void make(objs *o, uint64_t bias)
{
    proto_lt_obj_init(o->desc, PROTO_LT_DESC, 0);
    set32(o->desc, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, CUBLAS_COMPUTE_32F);
    set32(o->desc, CUBLASLT_MATMUL_DESC_SCALE_TYPE, CUDA_R_32F);
    set32(o->desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
    uint32_t epi = CUBLASLT_EPILOGUE_BIAS;
    cr_assert_eq(proto_lt_obj_set(o->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, 4), 0);
    set64(o->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, (int64_t)bias);
    const uint64_t dims[4][2] = {{64, 32}, {64, 16}, {32, 16}, {32, 16}};
    for (int i = 0; i < 4; i++) {
        proto_lt_obj_init(o->lay[i], PROTO_LT_LAYOUT, 0);
        uint32_t t = CUDA_R_32F;
        cr_assert_eq(proto_lt_obj_set(o->lay[i], CUBLASLT_MATRIX_LAYOUT_TYPE, &t, 4), 0);
        set64(o->lay[i], CUBLASLT_MATRIX_LAYOUT_ROWS, (int64_t)dims[i][0]);
        set64(o->lay[i], CUBLASLT_MATRIX_LAYOUT_COLS, (int64_t)dims[i][1]);
        set64(o->lay[i], CUBLASLT_MATRIX_LAYOUT_LD, (int64_t)dims[i][0]);
    }
    proto_lt_obj_init(o->pref, PROTO_LT_PREF, 0);
    uint64_t ws = 1 << 20;
    cr_assert_eq(proto_lt_obj_set(o->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, 8), 0);
}

static const void *const *lays(objs *o)
{
    static const void *l[4];
    for (int i = 0; i < 4; i++)
        l[i] = o->lay[i];
    return l;
}

/* Encodes into a malloc'd buffer of exactly the right size (caller frees). */
static uint8_t *enc(objs *o, int form, const proto_lt_scalars *sc, const void *algo, size_t *n)
{
    *n = proto_lt_problem_encode(NULL, 0, form, o->desc, lays(o), o->pref, sc, algo);
    cr_assert_gt(*n, 8);
    uint8_t *p = malloc(*n);
    cr_assert_eq(proto_lt_problem_encode(p, *n, form, o->desc, lays(o), o->pref, sc, algo), *n);
    return p;
}

static proto_lt_scalars host_scalars(float alpha, float beta)
{
    proto_lt_scalars sc;
    memset(&sc, 0, sizeof sc);
    sc.alpha_kind = sc.beta_kind = PROTO_LT_SC_HOST;
    sc.size = 4;
    memcpy(sc.alpha, &alpha, 4);
    memcpy(sc.beta, &beta, 4);
    return sc;
}

/* ---- in-memory objects ---- */

Test(lt, objects_fit_their_public_storage_with_defaults)
{
    objs o;
    proto_lt_obj_init(o.desc, PROTO_LT_DESC, 1);
    proto_lt_obj_init(o.lay[0], PROTO_LT_LAYOUT, 0);
    proto_lt_obj_init(o.pref, PROTO_LT_PREF, 0);
    cr_assert_eq(proto_lt_obj_kind(o.desc), PROTO_LT_DESC, "desc does not fit 256 bytes");
    cr_assert_eq(proto_lt_obj_kind(o.lay[0]), PROTO_LT_LAYOUT, "layout does not fit 64 bytes");
    cr_assert_eq(proto_lt_obj_kind(o.pref), PROTO_LT_PREF, "preference does not fit 64 bytes");
    cr_assert(proto_lt_obj_heap(o.desc));
    cr_assert_not(proto_lt_obj_heap(o.pref));
    cr_assert_eq(proto_lt_obj_geti(o.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE), -1);
    cr_assert_eq(proto_lt_obj_geti(o.desc, CUBLASLT_MATMUL_DESC_EPILOGUE),
                 CUBLASLT_EPILOGUE_DEFAULT);
    cr_assert_eq(proto_lt_obj_geti(o.desc, CUBLASLT_MATMUL_DESC_FILL_MODE), CUBLAS_FILL_MODE_FULL);
    cr_assert_eq(proto_lt_obj_geti(o.lay[0], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT), 1);
    cr_assert_eq(proto_lt_obj_geti(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES), 256);
    cr_assert_eq((uint64_t)proto_lt_obj_geti(o.pref, CUBLASLT_MATMUL_PREF_IMPL_MASK), UINT64_MAX);
    cr_assert_eq(proto_lt_obj_next_set(o.desc, -1), -1, "nothing is set after init");
    proto_lt_obj_kill(o.desc);
    cr_assert_eq(proto_lt_obj_kind(o.desc), 0);
    uint8_t junk[64] = {1, 2, 3, 4};
    cr_assert_eq(proto_lt_obj_kind(junk), 0);
    cr_assert_eq(proto_lt_obj_kind(NULL), 0);
}

Test(lt, every_attribute_sets_and_reads_back)
{
    static const int kinds[3] = {PROTO_LT_DESC, PROTO_LT_LAYOUT, PROTO_LT_PREF};
    _Alignas(16) uint8_t o[PROTO_LT_DESC_BYTES];
    for (int k = 0; k < 3; k++) {
        proto_lt_obj_init(o, kinds[k], 0);
        int nattrs = 0;
        for (uint32_t a = 0; a < 64; a++) {
            size_t sz = proto_lt_attr_size(kinds[k], a);
            if (!sz)
                continue;
            nattrs++;
            uint8_t v[8], back[8];
            for (size_t i = 0; i < sz; i++)
                v[i] = (uint8_t)(a * 7 + i + 1);
            if (kinds[k] == PROTO_LT_DESC && a == CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR)
                memset(v, 0, sz);
            cr_assert_eq(proto_lt_obj_set(o, a, v, sz), 0, "kind %d attr %u", kinds[k], a);
            size_t w = 0;
            cr_assert_eq(proto_lt_obj_get(o, a, back, sz, &w), 0);
            cr_assert_eq(w, sz);
            cr_assert_arr_eq(back, v, sz);
            cr_assert(proto_lt_obj_isset(o, a));
        }
        /* the values do not overlap: re-read all after setting all */
        for (uint32_t a = 0; a < 64; a++) {
            size_t sz = proto_lt_attr_size(kinds[k], a);
            uint8_t v[8], back[8];
            if (!sz ||
                (kinds[k] == PROTO_LT_DESC && a == CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR))
                continue;
            for (size_t i = 0; i < sz; i++)
                v[i] = (uint8_t)(a * 7 + i + 1);
            cr_assert_eq(proto_lt_obj_get(o, a, back, sz, NULL), 0);
            cr_assert_arr_eq(back, v, sz, "kind %d attr %u overlaps another", kinds[k], a);
        }
        cr_assert_gt(nattrs, 5);
    }
}

Test(lt, attribute_rules_follow_cublaslt)
{
    objs o;
    make(&o, 0);
    int32_t v = 1;
    int64_t v8 = 1;
    size_t w = 99;
    /* wrong size, unknown attribute, NULL buffer */
    cr_assert_eq(proto_lt_obj_set(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &v8, 8), GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_set(o.desc, 9, &v, 4), GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_set(o.desc, 1000, &v, 4), GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_set(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, NULL, 4), GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_set(o.lay[0], CUBLASLT_MATRIX_LAYOUT_ROWS, &v, 4), GENIE_EINVAL);
    /* a wrong kind of object is not an object of that kind */
    cr_assert_eq(proto_lt_obj_set(o.pref, CUBLASLT_MATMUL_PREF_IMPL_MASK + 1, &v8, 8),
                 GENIE_EINVAL);
    /* size query: buf NULL, size 0 -> the size; sizeWritten NULL then is an error */
    cr_assert_eq(proto_lt_obj_get(o.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, NULL, 0, &w), 0);
    cr_assert_eq(w, 8);
    cr_assert_eq(proto_lt_obj_get(o.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, NULL, 0, NULL),
                 GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_get(o.desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, NULL, 0, &w), 0);
    cr_assert_eq(w, 1);
    cr_assert_eq(proto_lt_obj_get(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &v8, 8, &w), GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_get(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, NULL, 4, &w), GENIE_EINVAL);
    cr_assert_eq(proto_lt_obj_get(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &v, 4, &w), 0);
    cr_assert_eq(v, CUBLAS_OP_T);
}

/* ---- the wire ---- */

Test(lt, heuristic_problem_round_trips_with_pointer_alignment)
{
    objs o;
    make(&o, 0x7f0000001040ull); /* 64-byte aligned */
    size_t n;
    uint8_t *p = enc(&o, PROTO_LT_FORM_HEURISTIC, NULL, NULL, &n);
    proto_lt_problem pb;
    char why[160] = "";
    cr_assert_eq(proto_lt_problem_decode(p, n, &pb, why, sizeof why), 0, "%s", why);
    cr_assert_eq(pb.form, PROTO_LT_FORM_HEURISTIC);
    cr_assert_eq(proto_lt_obj_geti(pb.desc, CUBLASLT_MATMUL_DESC_TRANSA), CUBLAS_OP_T);
    cr_assert_eq(proto_lt_obj_geti(pb.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER), 64,
                 "the heuristic sees the bias alignment only");
    cr_assert_eq(proto_lt_obj_geti(pb.layout[1], CUBLASLT_MATRIX_LAYOUT_COLS), 16);
    cr_assert_eq(proto_lt_obj_geti(pb.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES), 1 << 20);
    cr_assert_not(proto_lt_obj_isset(pb.desc, CUBLASLT_MATMUL_DESC_TRANSB));
    /* spans cover the stream in order */
    cr_assert_eq(pb.wire_desc.p, p + 8);
    cr_assert_eq(pb.wire_layout[0].p, pb.wire_desc.p + pb.wire_desc.n);
    cr_assert_eq(pb.wire_pref.p + pb.wire_pref.n, p + n);
    /* another bias with the same alignment: the same bytes (one heuristic answer for both) */
    objs o2;
    make(&o2, 0x7f0000099040ull);
    size_t n2;
    uint8_t *p2 = enc(&o2, PROTO_LT_FORM_HEURISTIC, NULL, NULL, &n2);
    cr_assert_eq(n2, n);
    cr_assert_arr_eq(p2, p, n);
    /* equal objects encode equally: layouts C and D */
    cr_assert_eq(pb.wire_layout[2].n, pb.wire_layout[3].n);
    cr_assert_arr_eq(pb.wire_layout[2].p, pb.wire_layout[3].p, pb.wire_layout[2].n);
    free(p);
    free(p2);
}

Test(lt, matmul_problem_round_trips)
{
    objs o;
    make(&o, 0x7f0000001044ull);
    proto_lt_scalars sc = host_scalars(1.5f, 0.0f);
    uint8_t algo[PROTO_LT_ALGO_BYTES];
    for (size_t i = 0; i < sizeof algo; i++)
        algo[i] = (uint8_t)(i * 3);
    for (int with_algo = 0; with_algo < 2; with_algo++) {
        size_t n;
        uint8_t *p = enc(&o, PROTO_LT_FORM_MATMUL, &sc, with_algo ? algo : NULL, &n);
        proto_lt_problem pb;
        char why[160] = "";
        cr_assert_eq(proto_lt_problem_decode(p, n, &pb, why, sizeof why), 0, "%s", why);
        cr_assert_eq(pb.form, PROTO_LT_FORM_MATMUL);
        cr_assert_eq((uint64_t)proto_lt_obj_geti(pb.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER),
                     0x7f0000001044ull, "a matmul carries the real address");
        cr_assert_eq(pb.sc.alpha_kind, PROTO_LT_SC_HOST);
        cr_assert_eq(pb.sc.size, 4);
        float a;
        memcpy(&a, pb.sc.alpha, 4);
        cr_assert_eq(a, 1.5f);
        cr_assert_eq(pb.has_algo, with_algo);
        if (with_algo)
            cr_assert_arr_eq(pb.algo, algo, sizeof algo);
        /* decoding what was decoded gives the same bytes: the form is canonical */
        const void *l[4] = {pb.layout[0], pb.layout[1], pb.layout[2], pb.layout[3]};
        size_t n2 = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_MATMUL, pb.desc, l, NULL, &pb.sc,
                                            pb.has_algo ? pb.algo : NULL);
        cr_assert_eq(n2, n);
        uint8_t *p2 = malloc(n2);
        proto_lt_problem_encode(p2, n2, PROTO_LT_FORM_MATMUL, pb.desc, l, NULL, &pb.sc,
                                pb.has_algo ? pb.algo : NULL);
        cr_assert_arr_eq(p2, p, n);
        free(p2);
        free(p);
    }
}

Test(lt, encode_writes_nothing_past_a_short_buffer)
{
    objs o;
    make(&o, 0);
    size_t n = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_HEURISTIC, o.desc, lays(&o), o.pref,
                                       NULL, NULL);
    uint8_t *buf = malloc(n + 16);
    memset(buf, 0xee, n + 16);
    cr_assert_eq(proto_lt_problem_encode(buf, n - 1, PROTO_LT_FORM_HEURISTIC, o.desc, lays(&o),
                                         o.pref, NULL, NULL),
                 n);
    for (size_t i = n - 1; i < n + 16; i++)
        cr_assert_eq(buf[i], 0xee, "byte %zu written past the cap", i);
    free(buf);
}

Test(lt, every_truncation_is_rejected)
{
    objs o;
    make(&o, 0x1000);
    proto_lt_scalars sc = host_scalars(1, 1);
    uint8_t algo[PROTO_LT_ALGO_BYTES] = {1};
    for (int form = PROTO_LT_FORM_HEURISTIC; form <= PROTO_LT_FORM_MATMUL; form++) {
        size_t n;
        uint8_t *p = enc(&o, form, &sc, algo, &n);
        proto_lt_problem pb;
        for (size_t k = 0; k < n; k++) {
            /* a copy of exactly k bytes, so ASan sees any read past the end */
            uint8_t *q = malloc(k ? k : 1);
            memcpy(q, p, k);
            cr_assert_eq(proto_lt_problem_decode(q, k, &pb, NULL, 0), GENIE_EPROTO,
                         "form %d: %zu of %zu bytes accepted", form, k, n);
            free(q);
        }
        uint8_t *q = malloc(n + 1);
        memcpy(q, p, n);
        q[n] = 0;
        cr_assert_eq(proto_lt_problem_decode(q, n + 1, &pb, NULL, 0), GENIE_EPROTO,
                     "a trailing byte is accepted");
        cr_assert_eq(proto_lt_problem_decode(NULL, 0, &pb, NULL, 0), GENIE_EPROTO);
        free(q);
        free(p);
    }
}

/* Offset of the first attribute record of the descriptor: magic, form, kind, count. */
#define DESC_ATTR0 12

Test(lt, corrupt_fields_are_rejected_with_a_reason)
{
    objs o;
    make(&o, 0x1000);
    size_t n;
    uint8_t *p = enc(&o, PROTO_LT_FORM_HEURISTIC, NULL, NULL, &n);
    proto_lt_problem pb;
    char why[160];
    struct {
        size_t off;
        uint8_t val;
        const char *what;
    } cases[] = {
        {0, 0x00, "magic"},
        {4, 7, "form"},
        {8, PROTO_LT_LAYOUT, "kind"},
        {10, 200, "count"},
        {DESC_ATTR0, 9, "unknown attribute"}, /* attr 0 -> 9: none has that ID */
        {DESC_ATTR0 + 2, 8, "size"},          /* COMPUTE_TYPE of 8 bytes */
        {DESC_ATTR0 + 8, 0, "order"},         /* second attr ID 1 -> 0: repeated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *q = malloc(n);
        memcpy(q, p, n);
        q[cases[i].off] = cases[i].val;
        why[0] = 0;
        cr_assert_eq(proto_lt_problem_decode(q, n, &pb, why, sizeof why), GENIE_EPROTO,
                     "corrupt %s accepted", cases[i].what);
        cr_assert_neq(why[0], 0, "no reason for corrupt %s", cases[i].what);
        free(q);
    }
    free(p);
}

Test(lt, hostile_values_are_rejected)
{
    objs o;
    make(&o, 0);
    /* an emulation descriptor would be a client pointer on the executor */
    int64_t emu = 0x1234;
    cr_assert_eq(proto_lt_obj_set(o.desc, CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR, &emu, 8), 0);
    proto_lt_scalars sc = host_scalars(1, 0);
    size_t n;
    uint8_t *p = enc(&o, PROTO_LT_FORM_MATMUL, &sc, NULL, &n);
    proto_lt_problem pb;
    char why[160] = "";
    cr_assert_eq(proto_lt_problem_decode(p, n, &pb, why, sizeof why), GENIE_EPROTO);
    cr_assert(strstr(why, "emulation"), "%s", why);
    free(p);
    /* bad scalars */
    make(&o, 0);
    proto_lt_scalars bad[3] = {host_scalars(1, 0), host_scalars(1, 0), host_scalars(1, 0)};
    bad[0].alpha_kind = 3;
    bad[1].size = 17;
    bad[2].size = 0;
    for (int i = 0; i < 3; i++) {
        p = enc(&o, PROTO_LT_FORM_MATMUL, &bad[i], NULL, &n);
        cr_assert_eq(proto_lt_problem_decode(p, n, &pb, NULL, 0), GENIE_EPROTO, "scalars %d", i);
        free(p);
    }
}

Test(lt, random_corruption_never_crashes)
{
    objs o;
    make(&o, 0x1000);
    proto_lt_scalars sc = host_scalars(1, 1);
    size_t n;
    uint8_t *p = enc(&o, PROTO_LT_FORM_MATMUL, &sc, NULL, &n);
    uint8_t *q = malloc(n);
    unsigned s = 12345u, accepted = 0;
    proto_lt_problem pb;
    for (int it = 0; it < 20000; it++) {
        memcpy(q, p, n);
        int flips = 1 + (int)((s = s * 1664525u + 1013904223u) >> 29);
        for (int f = 0; f < flips; f++) {
            s = s * 1664525u + 1013904223u;
            q[(s >> 8) % n] = (uint8_t)(s >> 24);
        }
        s = s * 1664525u + 1013904223u;
        size_t len = (s >> 4) % 8 == 0 ? (s >> 8) % n : n;
        if (proto_lt_problem_decode(q, len, &pb, NULL, 0) == 0) {
            accepted++; /* a value changed within the rules is fine; it must read back sanely */
            cr_assert(pb.sc.size >= 1 && pb.sc.size <= 16);
        }
    }
    cr_assert_lt(accepted, 20000u);
    free(q);
    free(p);
}

/* ---- helpers ---- */

Test(lt, type_sizes)
{
    cr_assert_eq(proto_lt_type_size(CUDA_R_32F), 4);
    cr_assert_eq(proto_lt_type_size(CUDA_R_64F), 8);
    cr_assert_eq(proto_lt_type_size(CUDA_R_16F), 2);
    cr_assert_eq(proto_lt_type_size(CUDA_R_16BF), 2);
    cr_assert_eq(proto_lt_type_size(CUDA_C_64F), 16);
    cr_assert_eq(proto_lt_type_size(CUDA_R_8F_E4M3), 1);
    cr_assert_eq(proto_lt_type_size(CUDA_R_4F_E2M1), 0);
    cr_assert_eq(proto_lt_type_size(-1), 0);
}

Test(lt, layout_extents)
{
    _Alignas(16) uint8_t l[PROTO_LT_LAYOUT_BYTES];
    uint64_t b;
    proto_lt_obj_init(l, PROTO_LT_LAYOUT, 0);
    uint32_t t = CUDA_R_32F;
    proto_lt_obj_set(l, CUBLASLT_MATRIX_LAYOUT_TYPE, &t, 4);
    set64(l, CUBLASLT_MATRIX_LAYOUT_ROWS, 10);
    set64(l, CUBLASLT_MATRIX_LAYOUT_COLS, 3);
    set64(l, CUBLASLT_MATRIX_LAYOUT_LD, 16);
    cr_assert_eq(proto_lt_layout_extent(l, &b), 0);
    cr_assert_eq(b, (2 * 16 + 10) * 4);
    set32(l, CUBLASLT_MATRIX_LAYOUT_ORDER, CUBLASLT_ORDER_ROW); /* 10 rows of 3, ld 16 */
    cr_assert_eq(proto_lt_layout_extent(l, &b), 0);
    cr_assert_eq(b, (9 * 16 + 3) * 4);
    set32(l, CUBLASLT_MATRIX_LAYOUT_ORDER, CUBLASLT_ORDER_COL);
    set32(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, 4);
    set64(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, 100);
    cr_assert_eq(proto_lt_layout_extent(l, &b), 0);
    cr_assert_eq(b, (3 * 100 + 2 * 16 + 10) * 4);
    set64(l, CUBLASLT_MATRIX_LAYOUT_LD, -1);
    cr_assert_eq(proto_lt_layout_extent(l, &b), GENIE_EINVAL);
    set64(l, CUBLASLT_MATRIX_LAYOUT_LD, INT64_MAX);
    cr_assert_eq(proto_lt_layout_extent(l, &b), GENIE_EINVAL, "overflow");
    set64(l, CUBLASLT_MATRIX_LAYOUT_LD, 16);
    set32(l, CUBLASLT_MATRIX_LAYOUT_ORDER, CUBLASLT_ORDER_COL32);
    cr_assert_eq(proto_lt_layout_extent(l, &b), GENIE_ENOTSUP);
    set32(l, CUBLASLT_MATRIX_LAYOUT_ORDER, CUBLASLT_ORDER_COL);
    set64(l, CUBLASLT_MATRIX_LAYOUT_ROWS, 0);
    cr_assert_eq(proto_lt_layout_extent(l, &b), 0);
    cr_assert_eq(b, 0);
}
