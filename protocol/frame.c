/* frame.c — builds, validates and walks frames (see frame.h for the layout). */
#include "protocol/frame.h"

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

void proto_frame_end(genie_buf *b)
{
    uint8_t *h = b->data;
    put64(h + 16, b->len - PROTO_HDR_SIZE);
    put32(h + 24, 0);
    uint32_t crc = genie_crc32c(0, h, PROTO_HDR_SIZE);
    crc = genie_crc32c(crc, h + PROTO_HDR_SIZE, b->len - PROTO_HDR_SIZE);
    put32(h + 24, crc);
}

int proto_frame_parse(const void *buf, size_t n, uint64_t max, proto_frame *f)
{
    const uint8_t *h = buf;
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
    uint8_t hdr[PROTO_HDR_SIZE];
    memcpy(hdr, h, PROTO_HDR_SIZE);
    put32(hdr + 24, 0);
    uint32_t crc = genie_crc32c(0, hdr, PROTO_HDR_SIZE);
    crc = genie_crc32c(crc, h + PROTO_HDR_SIZE, (size_t)length);
    if (crc != get32(h + 24))
        return GENIE_ECRC;
    f->kind = kind;
    f->flags = get32(h + 8);
    f->seq = get32(h + 12);
    f->payload = h + PROTO_HDR_SIZE;
    f->length = length;
    return 0;
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
