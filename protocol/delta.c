/* delta.c — the BATCH_DELTA patch format (see delta.h): encode a payload against a template,
 * check and apply a patch list. */
#include "protocol/delta.h"

#include <isa-l/igzip_lib.h>
#include <stdlib.h>
#include <string.h>

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint of at most 5 bytes (32 bits); 0 when truncated or too long. */
static size_t get_varint(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 5 && p + i < end; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (x > UINT32_MAX)
                return 0;
            *v = (uint32_t)x;
            return i + 1;
        }
    }
    return 0;
}

size_t proto_delta_put_run(uint8_t *out, uint32_t gap, uint32_t len)
{
    size_t n = put_varint(out, gap);
    return n + put_varint(out + n, len);
}

int proto_delta_encode(const uint8_t *cur, const uint8_t *old, size_t n, size_t budget,
                       genie_buf *out, uint32_t *npatches)
{
    genie_buf_reset(out);
    *npatches = 0;
    if (n > UINT32_MAX)
        return GENIE_EINVAL;
    uint32_t np = 0;
    size_t i = 0, prev_end = 0;
    while (i < n) {
        while (i + 8 <= n && !memcmp(cur + i, old + i, 8)) /* skip equal words */
            i += 8;
        while (i < n && cur[i] == old[i])
            i++;
        if (i >= n)
            break;
        size_t last = i, j = i + 1;
        for (; j < n && j - last <= PROTO_DELTA_GAP; j++)
            if (cur[j] != old[j])
                last = j;
        size_t len = last + 1 - i;
        uint8_t h[PROTO_DELTA_RUN_HDR_MAX];
        size_t hl = proto_delta_put_run(h, (uint32_t)(i - prev_end), (uint32_t)len);
        if (out->len + hl + len > budget)
            return GENIE_ETOOBIG;
        if (genie_buf_append(out, h, hl) || genie_buf_append(out, cur + i, len))
            return GENIE_ENOMEM;
        np++;
        prev_end = last + 1;
        i = last + 1;
    }
    *npatches = np;
    return 0;
}

/* Walks the list; with buf NULL it only checks. */
static const char *walk(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                        uint32_t npatches)
{
    const uint8_t *p = patches, *end = patches + len;
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < npatches; i++) {
        uint32_t gap, rl;
        size_t k = get_varint(p, end, &gap);
        if (!k)
            return "patch list truncated";
        p += k;
        if (!(k = get_varint(p, end, &rl)))
            return "patch list truncated";
        p += k;
        if ((size_t)(end - p) < rl)
            return "patch bytes truncated";
        if (rl == 0)
            return "empty patch";
        uint64_t off = prev_end + gap;
        if (off + rl > n)
            return "patch outside the template";
        if (buf)
            memcpy(buf + off, p, rl);
        prev_end = off + rl;
        p += rl;
    }
    if (p != end)
        return "bytes after the last patch";
    return NULL;
}

const char *proto_delta_apply(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                              uint32_t npatches)
{
    const char *why = walk(NULL, n, patches, len, npatches);
    if (why)
        return why;
    walk(buf, n, patches, len, npatches);
    return NULL;
}

/* ---- back-references (PROTO_FRAME_DELTA_REF) ---- */

void proto_delta_refs_free(proto_delta_refs *r)
{
    free(r->key);
    free(r->at);
    free(r->pair);
    *r = (proto_delta_refs){0};
}

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v); /* the wire's order, whatever the host's */
#endif
    return v;
}

/* The pairs (candidate, earlier candidate of the same value) of tmpl, ascending. */
static int refs_scan(proto_delta_refs *r, const uint8_t *tmpl, size_t n)
{
    r->npair = 0;
    if (n > UINT32_MAX)
        return GENIE_EINVAL;
    uint32_t want = 64;
    while (want < n / 4 && want < (1u << 31)) /* at most n / 8 candidates: load <= 1/2 */
        want <<= 1;
    if (r->cap < want) {
        uint64_t *k = realloc(r->key, (size_t)want * sizeof *k);
        if (k)
            r->key = k;
        uint32_t *a = k ? realloc(r->at, (size_t)want * sizeof *a) : NULL;
        if (!a)
            return GENIE_ENOMEM;
        r->at = a;
        r->cap = want;
    }
    uint32_t mask = r->cap - 1;
    memset(r->at, 0, (size_t)r->cap * sizeof *r->at);
    for (size_t o = 0; o + 8 <= n;) {
        uint64_t v = ld64(tmpl + o);
        if (v < (1ull << 32) || v >= (1ull << 48)) {
            o += 4;
            continue;
        }
        uint32_t h = (uint32_t)((v * 0x9E3779B97F4A7C15ull) >> 32) & mask;
        while (r->at[h] && r->key[h] != v)
            h = (h + 1) & mask;
        if (r->at[h]) {
            if (r->npair == r->cap_pair) {
                uint32_t c = r->cap_pair ? 2 * r->cap_pair : 256;
                uint32_t *p = realloc(r->pair, (size_t)c * 2 * sizeof *p);
                if (!p)
                    return GENIE_ENOMEM;
                r->pair = p;
                r->cap_pair = c;
            }
            r->pair[2 * r->npair] = (uint32_t)o;
            r->pair[2 * r->npair + 1] = r->at[h] - 1;
            r->npair++;
        }
        r->key[h] = v;
        r->at[h] = (uint32_t)o + 1;
        o += 8;
    }
    return 0;
}

int proto_delta_predict(const uint8_t *tmpl, const uint8_t *cur, size_t n, genie_buf *out,
                        proto_delta_refs *r)
{
    genie_buf_reset(out);
    int e = refs_scan(r, tmpl, n);
    if (e)
        return e;
    if (genie_buf_append(out, tmpl, n))
        return GENIE_ENOMEM;
    for (uint32_t i = 0; i < r->npair; i++)
        memcpy(out->data + r->pair[2 * i], cur + r->pair[2 * i + 1], 8);
    return 0;
}

/* The runs of a checked list, or of a layout with its bytes, one after the other. */
typedef struct run_src {
    const uint8_t *p, *end; /* the list, or the layout's bytes */
    const proto_delta_layout *l;
    uint64_t prev_end;
    uint32_t left, r;
} run_src;

static int next_run(run_src *s, uint64_t *at, uint64_t *len, const uint8_t **bytes)
{
    if (s->l) {
        if (s->r == s->l->n)
            return 0;
        *at = s->l->run[2 * s->r];
        *len = s->l->run[2 * s->r + 1];
        s->r++;
    } else {
        if (!s->left)
            return 0;
        uint32_t gap = 0, rl = 0;
        s->p += get_varint(s->p, s->end, &gap); /* checked before */
        s->p += get_varint(s->p, s->end, &rl);
        *at = s->prev_end + gap;
        *len = rl;
        s->prev_end = *at + rl;
        s->left--;
    }
    *bytes = s->p;
    s->p += *len;
    return 1;
}

/* One ascending walk over buf (the template): before the prediction at a candidate, every
 * patch byte below it, so the whole of the earlier candidate it copies (8 bytes below or
 * more) holds the batch's bytes. */
static const char *ref_walk(uint8_t *buf, size_t n, run_src *src, proto_delta_refs *r)
{
    if (refs_scan(r, buf, n))
        return "out of memory";
    uint64_t at = 0, len = 0;
    const uint8_t *bytes = NULL;
    for (uint32_t i = 0; i <= r->npair; i++) {
        uint64_t stop = i < r->npair ? r->pair[2 * i] : n;
        for (;;) {
            if (!len && !next_run(src, &at, &len, &bytes))
                break;
            if (!len || at >= stop)
                break;
            uint64_t k = at + len > stop ? stop - at : len;
            memcpy(buf + at, bytes, k);
            at += k;
            bytes += k;
            len -= k;
        }
        if (i < r->npair)
            memcpy(buf + r->pair[2 * i], buf + r->pair[2 * i + 1], 8);
    }
    return NULL;
}

const char *proto_delta_apply_ref(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                                  uint32_t npatches, proto_delta_refs *r)
{
    const char *why = walk(NULL, n, patches, len, npatches);
    if (why)
        return why;
    run_src src = {.p = patches, .end = patches + len, .left = npatches};
    return ref_walk(buf, n, &src, r);
}

/* ---- layouts (PROTO_DELTA_SAME_LAYOUT) ---- */

void proto_delta_layout_free(proto_delta_layout *l)
{
    free(l->run);
    *l = (proto_delta_layout){0};
}

static int layout_add(proto_delta_layout *l, uint32_t off, uint32_t len)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 64;
        uint32_t *r = realloc(l->run, (size_t)cap * 2 * sizeof *r);
        if (!r)
            return GENIE_ENOMEM;
        l->run = r;
        l->cap = cap;
    }
    l->run[2 * l->n] = off;
    l->run[2 * l->n + 1] = len;
    l->n++;
    l->bytes += len;
    return 0;
}

int proto_delta_layout_of(proto_delta_layout *l, const uint8_t *patches, size_t len,
                          uint32_t npatches)
{
    l->n = 0;
    l->bytes = 0;
    const uint8_t *p = patches, *end = patches + len;
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < npatches; i++) {
        uint32_t gap = 0, rl = 0;
        size_t k = get_varint(p, end, &gap);
        p += k;
        k = k ? get_varint(p, end, &rl) : 0;
        if (!k)
            return GENIE_EINVAL; /* not a list apply accepted */
        p += k + rl;
        uint64_t off = prev_end + gap;
        if (layout_add(l, (uint32_t)off, rl)) {
            l->n = 0;
            l->bytes = 0;
            return GENIE_ENOMEM;
        }
        prev_end = off + rl;
    }
    return 0;
}

int proto_delta_layout_copy(proto_delta_layout *dst, const proto_delta_layout *src)
{
    dst->n = 0;
    dst->bytes = 0;
    for (uint32_t i = 0; i < src->n; i++)
        if (layout_add(dst, src->run[2 * i], src->run[2 * i + 1])) {
            dst->n = 0;
            dst->bytes = 0;
            return GENIE_ENOMEM;
        }
    return 0;
}

int proto_delta_covers(const proto_delta_layout *l, const uint8_t *cur, const uint8_t *old,
                       size_t n)
{
    size_t at = 0;
    for (uint32_t r = 0; r <= l->n; r++) {
        /* the stretch before run r (or after the last) must be equal */
        size_t stop = r < l->n ? l->run[2 * r] : n;
        if (stop > n || stop < at)
            return 0;
        if (memcmp(cur + at, old + at, stop - at))
            return 0;
        if (r < l->n)
            at = (size_t)l->run[2 * r] + l->run[2 * r + 1];
    }
    return 1;
}

int proto_delta_encode_same(const proto_delta_layout *l, const uint8_t *cur, size_t n,
                            genie_buf *out)
{
    genie_buf_reset(out);
    for (uint32_t r = 0; r < l->n; r++) {
        size_t off = l->run[2 * r], len = l->run[2 * r + 1];
        if (off + len > n)
            return GENIE_EINVAL;
        if (genie_buf_append(out, cur + off, len))
            return GENIE_ENOMEM;
    }
    return 0;
}

static const char *same_check(size_t n, const proto_delta_layout *l, size_t len)
{
    if (len != l->bytes)
        return "patch bytes do not match the template's layout";
    uint64_t end = 0;
    for (uint32_t r = 0; r < l->n; r++) {
        if ((uint64_t)l->run[2 * r] + l->run[2 * r + 1] > n)
            return "patch outside the template";
        if (l->run[2 * r] < end || !l->run[2 * r + 1])
            return "layout out of order"; /* never from a list walk accepted */
        end = (uint64_t)l->run[2 * r] + l->run[2 * r + 1];
    }
    return NULL;
}

const char *proto_delta_apply_same_ref(uint8_t *buf, size_t n, const proto_delta_layout *l,
                                       const uint8_t *bytes, size_t len, proto_delta_refs *r)
{
    const char *why = same_check(n, l, len);
    if (why)
        return why;
    run_src src = {.p = bytes, .end = bytes + len, .l = l};
    return ref_walk(buf, n, &src, r);
}

const char *proto_delta_apply_same(uint8_t *buf, size_t n, const proto_delta_layout *l,
                                   const uint8_t *bytes, size_t len)
{
    const char *why = same_check(n, l, len);
    if (why)
        return why;
    for (uint32_t r = 0; r < l->n; r++) {
        memcpy(buf + l->run[2 * r], bytes, l->run[2 * r + 1]);
        bytes += l->run[2 * r + 1];
    }
    return NULL;
}

int proto_delta_deflate(const uint8_t *in, size_t n, genie_buf *out, genie_buf *scratch)
{
    genie_buf_reset(out);
    if (n < 16 || n > UINT32_MAX) /* nothing to win below a few bytes */
        return GENIE_ETOOBIG;
    if (scratch->cap < ISAL_DEF_LVL1_DEFAULT && genie_buf_reserve(scratch, ISAL_DEF_LVL1_DEFAULT))
        return GENIE_ENOMEM;
    if (genie_buf_reserve(out, n))
        return GENIE_ENOMEM;
    struct isal_zstream z;
    isal_deflate_stateless_init(&z);
    z.level = 1;
    z.level_buf = scratch->data;
    z.level_buf_size = (uint32_t)(scratch->cap < UINT32_MAX ? scratch->cap : UINT32_MAX);
    z.gzip_flag = IGZIP_DEFLATE;
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    z.next_in = (uint8_t *)in; /* igzip's API is not const; it only reads */
    z.avail_in = (uint32_t)n;
    z.next_out = out->data;
    z.avail_out = (uint32_t)(n - 1); /* smaller than the input, or not worth it */
    int rc = isal_deflate_stateless(&z);
    if (rc == STATELESS_OVERFLOW)
        return GENIE_ETOOBIG;
    if (rc != COMP_OK)
        return GENIE_EPROTO;
    out->len = z.total_out;
    return 0;
}

const char *proto_delta_inflate(const uint8_t *in, size_t n, size_t max, genie_buf *out)
{
    genie_buf_reset(out);
    if (n > UINT32_MAX || max > UINT32_MAX)
        return "compressed patches too large";
    if (genie_buf_reserve(out, max ? max : 1))
        return "out of memory";
    struct inflate_state st;
    isal_inflate_init(&st);
    st.crc_flag = ISAL_DEFLATE;
    st.next_in = (uint8_t *)in;
    st.avail_in = (uint32_t)n;
    st.next_out = out->data;
    st.avail_out = (uint32_t)max;
    int rc = isal_inflate_stateless(&st);
    if (rc == ISAL_OUT_OVERFLOW)
        return "compressed patches inflate past the bound";
    if (rc != ISAL_DECOMP_OK)
        return "malformed compressed patches";
    if (st.avail_in) /* bytes after the stream's end: not what the encoder writes */
        return "trailing bytes after the compressed patches";
    out->len = st.total_out;
    return NULL;
}
