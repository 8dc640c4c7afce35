/* frame.c — builds, validates and walks frames (see frame.h for the layout). */
#include "protocol/frame.h"
#include "protocol/gen/ops.h" /* PROTO_OP_R_DATA */

#include <string.h>

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int proto_frame_begin(genie_buf *b, uint16_t kind, uint32_t seq)
{
    genie_buf_reset(b);
    uint8_t *h = genie_buf_grow(b, PROTO_HDR_SIZE);
    if (!h)
        return GENIE_ENOMEM;
    memset(h, 0, PROTO_HDR_SIZE);
    put32(h, PROTO_MAGIC);
    put16(h + 4, PROTO_VERSION);
    put16(h + 6, kind);
    put32(h + 12, seq);
    return 0;
}

/* header offsets: magic 0, version 4, kind 6, flags 8, seq 12, length 16, crc 24 */
void proto_frame_set_flags(genie_buf *b, uint32_t flags) { put32(b->data + 8, flags); }

void proto_frame_set_seq(genie_buf *b, uint32_t seq) { put32(b->data + 12, seq); }

uint32_t proto_frame_peek_seq(const void *p) { return get32((const uint8_t *)p + 12); }

uint32_t proto_frame_peek_flags(const void *p) { return get32((const uint8_t *)p + 8); }

void proto_frame_end(genie_buf *b)
{
    uint8_t *h = b->data;
    put64(h + 16, b->len - PROTO_HDR_SIZE);
    put32(h + 24, 0);
    uint32_t crc = genie_crc32c(0, h, PROTO_HDR_SIZE);
    crc = genie_crc32c(crc, h + PROTO_HDR_SIZE, b->len - PROTO_HDR_SIZE);
    put32(h + 24, crc);
}

/* The last proto_frame_crc_note of this thread (buf NULL: none). */
static __thread struct {
    const void *buf;
    size_t n;
    uint32_t crc;
} memo;

void proto_frame_crc_note(const void *buf, size_t n, uint32_t crc)
{
    memo.buf = buf;
    memo.n = n;
    memo.crc = crc;
}

int proto_frame_find_data(const void *head, size_t head_n, uint64_t total, uint32_t *index,
                          uint64_t *off, uint64_t *len)
{
    const uint8_t *h = head;
    if (!head || head_n < PROTO_HDR_SIZE || total < PROTO_HDR_SIZE || get32(h) != PROTO_MAGIC ||
        get16(h + 6) != PROTO_KIND_REPLY || get64(h + 16) != total - PROTO_HDR_SIZE)
        return 0;
    uint64_t p = PROTO_HDR_SIZE;
    while (p + PROTO_REC_HDR_SIZE + 4 <= head_n) {
        uint32_t n = get32(h + p + 4);
        uint64_t end = p + PROTO_REC_HDR_SIZE + (((uint64_t)n + 7) & ~(uint64_t)7);
        if (end > total)
            return 0;
        uint64_t d = p + PROTO_REC_HDR_SIZE + 4;
        if (get16(h + p) == PROTO_OP_R_DATA && n >= 4 && d + (n - 4) > head_n) {
            *index = get32(h + p + PROTO_REC_HDR_SIZE);
            *off = d;
            *len = n - 4;
            return 1;
        }
        p = end;
    }
    return 0;
}

int proto_frame_crc_noted(const void *buf, size_t n, uint32_t *crc)
{
    if (!buf || memo.buf != buf || memo.n != n)
        return 0;
    *crc = memo.crc;
    return 1;
}

void proto_frame_crc_update(proto_crc_acc *a, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (a->off < PROTO_HDR_SIZE && n) { /* the header, with its crc field read as zero */
        uint8_t hdr[PROTO_HDR_SIZE];
        size_t k = PROTO_HDR_SIZE - (size_t)a->off < n ? PROTO_HDR_SIZE - (size_t)a->off : n;
        memcpy(hdr, b, k);
        for (size_t i = 0; i < k; i++)
            if (a->off + i >= 24 && a->off + i < 28)
                hdr[i] = 0;
        a->crc = genie_crc32c(a->crc, hdr, k);
        a->off += k;
        b += k;
        n -= k;
    }
    a->crc = genie_crc32c(a->crc, b, n);
    a->off += n;
}

int proto_frame_parse(const void *buf, size_t n, uint64_t max, proto_frame *f)
{
    const uint8_t *h = buf;
    if (!buf || n < PROTO_HDR_SIZE || memo.buf != buf)
        memo.buf = NULL; /* a note is good for the parse that follows it, of its buffer */
    if (!buf || n < PROTO_HDR_SIZE)
        return GENIE_ETRUNC;
    if (get32(h) != PROTO_MAGIC)
        return GENIE_EPROTO;
    if (get16(h + 4) != PROTO_VERSION)
        return GENIE_EVERSION;
    uint16_t kind = get16(h + 6);
    if (kind != PROTO_KIND_REQUEST && kind != PROTO_KIND_REPLY)
        return GENIE_EPROTO;
    uint64_t length = get64(h + 16);
    if (length > max)
        return GENIE_ETOOBIG;
    if (n - PROTO_HDR_SIZE < length)
        return GENIE_ETRUNC;
    if (n - PROTO_HDR_SIZE > length)
        return GENIE_EPROTO;
    uint32_t crc;
    if (memo.buf == buf && memo.n == n) {
        crc = memo.crc; /* computed while the frame was copied in (proto_frame_crc_note) */
    } else {
        uint8_t hdr[PROTO_HDR_SIZE];
        memcpy(hdr, h, PROTO_HDR_SIZE);
        put32(hdr + 24, 0);
        crc = genie_crc32c(0, hdr, PROTO_HDR_SIZE);
        crc = genie_crc32c(crc, h + PROTO_HDR_SIZE, (size_t)length);
    }
    memo.buf = NULL;
    if (crc != get32(h + 24))
        return GENIE_ECRC;
    f->kind = kind;
    f->flags = get32(h + 8);
    f->seq = get32(h + 12);
    f->payload = h + PROTO_HDR_SIZE;
    f->length = length;
    return 0;
}

int proto_rec_splice(genie_buf *b, size_t rec_off, size_t ext_len, size_t *at)
{
    if (rec_off < PROTO_HDR_SIZE || rec_off > b->len || b->len - rec_off < PROTO_REC_HDR_SIZE)
        return GENIE_EINVAL;
    uint32_t len = get32(b->data + rec_off + 4);
    size_t padded = ((size_t)len + 7) & ~(size_t)7;
    if (b->len - rec_off - PROTO_REC_HDR_SIZE != padded || ext_len > UINT32_MAX - len)
        return GENIE_EINVAL;
    size_t total = (size_t)len + ext_len;
    size_t pad = ((total + 7) & ~(size_t)7) - total;
    size_t keep = rec_off + PROTO_REC_HDR_SIZE + len; /* header and fixed fields, no padding */
    if (genie_buf_reserve(b, 8)) /* keep + pad <= b->len + 7 */
        return GENIE_ENOMEM;
    b->len = keep;
    *at = keep;
    uint8_t *p = genie_buf_grow(b, pad); /* reserved above: cannot fail */
    memset(p, 0, pad);
    put32(b->data + rec_off + 4, (uint32_t)total);
    return 0;
}

void proto_frame_end_ext(genie_buf *b, const proto_ext *ext, size_t next)
{
    uint8_t *h = b->data;
    uint64_t length = b->len - PROTO_HDR_SIZE;
    for (size_t i = 0; i < next; i++)
        length += ext[i].n;
    put64(h + 16, length);
    put32(h + 24, 0);
    uint32_t crc = genie_crc32c(0, h, PROTO_HDR_SIZE);
    size_t pos = PROTO_HDR_SIZE;
    for (size_t i = 0; i < next; i++) {
        crc = genie_crc32c(crc, h + pos, ext[i].at - pos);
        crc = genie_crc32c(crc, ext[i].p, ext[i].n);
        pos = ext[i].at;
    }
    crc = genie_crc32c(crc, h + pos, b->len - pos);
    put32(h + 24, crc);
}

size_t proto_frame_iov(const genie_buf *b, const proto_ext *ext, size_t next, proto_iov *iov)
{
    size_t k = 0, pos = 0;
    for (size_t i = 0; i < next; i++) {
        if (ext[i].at > pos)
            iov[k++] = (proto_iov){b->data + pos, ext[i].at - pos};
        if (ext[i].n)
            iov[k++] = (proto_iov){ext[i].p, ext[i].n};
        pos = ext[i].at;
    }
    if (b->len > pos)
        iov[k++] = (proto_iov){b->data + pos, b->len - pos};
    return k;
}

uint8_t *proto_rec_add(genie_buf *b, uint16_t op, size_t body_len)
{
    if (body_len > UINT32_MAX)
        return NULL;
    size_t padded = (body_len + 7) & ~(size_t)7;
    uint8_t *p = genie_buf_grow(b, PROTO_REC_HDR_SIZE + padded);
    if (!p)
        return NULL;
    put16(p, op);
    put16(p + 2, 0);
    put32(p + 4, (uint32_t)body_len);
    if (padded != body_len)
        memset(p + PROTO_REC_HDR_SIZE + body_len, 0, padded - body_len);
    return p + PROTO_REC_HDR_SIZE;
}

void proto_iter_init(proto_iter *it, const proto_frame *f)
{
    it->p = f->payload;
    it->end = f->payload + f->length;
}

int proto_iter_next(proto_iter *it, proto_rec *r)
{
    size_t left = (size_t)(it->end - it->p);
    if (left == 0)
        return 0;
    if (left < PROTO_REC_HDR_SIZE)
        return GENIE_ETRUNC;
    uint32_t len = get32(it->p + 4);
    size_t padded = ((size_t)len + 7) & ~(size_t)7;
    if (padded > left - PROTO_REC_HDR_SIZE)
        return GENIE_ETRUNC;
    r->op = get16(it->p);
    r->flags = get16(it->p + 2);
    r->len = len;
    r->body = it->p + PROTO_REC_HDR_SIZE;
    it->p += PROTO_REC_HDR_SIZE + padded;
    return 1;
}

uint64_t proto_max_message(void)
{
    static uint64_t max;
    if (!max) {
        long long v = genie_env_int("GENIE_MAX_MESSAGE_BYTES", (long long)PROTO_DEFAULT_MAX);
        max = v > 0 ? (uint64_t)v : PROTO_DEFAULT_MAX;
    }
    return max;
}
