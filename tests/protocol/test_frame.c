/* test_frame.c — tests protocol/frame.c and the generated codec (protocol/gen/ops.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/gen/ops.h"

static genie_buf make_frame(void)
{
    genie_buf b = {0};
    cr_assert_eq(proto_frame_begin(&b, PROTO_KIND_REQUEST, 7), 0);
    uint8_t *p = proto_put_MEMCPY_H2D(&b, 0x200000001000ull, 16, 5);
    cr_assert_not_null(p);
    memcpy(p, "hello", 5);
    cr_assert_not_null(proto_put_LAUNCH(&b, 3, 16, 1, 2, 3, 4, 5, 6, 128, 0));
    cr_assert_not_null(proto_put_DEVICE_SYNC(&b, 0));
    proto_frame_end(&b);
    return b;
}

Test(frame, round_trip)
{
    genie_buf b = make_frame();
    proto_frame f;
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), 0);
    cr_assert_eq(f.kind, PROTO_KIND_REQUEST);
    cr_assert_eq(f.seq, 7);
    proto_iter it;
    proto_iter_init(&it, &f);
    proto_rec r;
    cr_assert_eq(proto_iter_next(&it, &r), 1);
    cr_assert_eq(r.op, PROTO_OP_MEMCPY_H2D);
    proto_MEMCPY_H2D h;
    cr_assert_eq(proto_get_MEMCPY_H2D(&r, &h), 0);
    cr_assert_eq(h.dst, 0x200000001000ull);
    cr_assert_eq(h.stream, 16);
    cr_assert_eq(h.data_len, 5);
    cr_assert_eq(memcmp(h.data, "hello", 5), 0);
    cr_assert_eq(((uintptr_t)r.body) % 8, 0, "records are 8-byte aligned");
    cr_assert_eq(proto_iter_next(&it, &r), 1);
    proto_LAUNCH l;
    cr_assert_eq(proto_get_LAUNCH(&r, &l), 0);
    cr_assert(l.func == 3 && l.gx == 1 && l.gz == 3 && l.bx == 4 && l.bz == 6 && l.shmem == 128);
    cr_assert_eq(l.params_len, 0);
    cr_assert_eq(proto_iter_next(&it, &r), 1);
    cr_assert_eq(r.op, PROTO_OP_DEVICE_SYNC);
    cr_assert_eq(proto_iter_next(&it, &r), 0);
    genie_buf_free(&b);
}

Test(frame, truncated_frames_are_rejected)
{
    genie_buf b = make_frame();
    proto_frame f;
    for (size_t n = 0; n < b.len; n++)
        cr_assert_eq(proto_frame_parse(b.data, n, 1 << 20, &f), GENIE_ETRUNC, "cut at %zu", n);
    cr_assert_eq(proto_frame_parse(NULL, 0, 1 << 20, &f), GENIE_ETRUNC);
    genie_buf_free(&b);
}

Test(frame, oversized_frames_are_rejected)
{
    genie_buf b = make_frame();
    proto_frame f;
    cr_assert_eq(proto_frame_parse(b.data, b.len, 8, &f), GENIE_ETOOBIG);
    /* trailing garbage after the announced length */
    genie_buf_append(&b, "x", 1);
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), GENIE_EPROTO);
    genie_buf_free(&b);
}

Test(frame, every_flipped_bit_is_caught)
{
    genie_buf b = make_frame();
    proto_frame f;
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1 << bit);
            int e = proto_frame_parse(b.data, b.len, 1 << 20, &f);
            cr_assert_neq(e, 0, "flip of byte %zu bit %d went unnoticed", i, bit);
            b.data[i] ^= (uint8_t)(1 << bit);
        }
    }
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), 0);
    genie_buf_free(&b);
}

Test(frame, bad_magic_version_kind)
{
    genie_buf b = make_frame();
    proto_frame f;
    b.data[0] ^= 0xff;
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), GENIE_EPROTO);
    b.data[0] ^= 0xff;
    b.data[4] = 99; /* version */
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), GENIE_EVERSION);
    genie_buf_free(&b);
}

Test(frame, record_running_past_the_payload)
{
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    uint8_t *p = proto_rec_add(&b, PROTO_OP_PING, 8);
    memset(p, 0, 8);
    /* claim a longer body than the frame holds, then re-seal the frame */
    uint32_t big = 4096;
    memcpy(b.data + PROTO_HDR_SIZE + 4, &big, 4);
    proto_frame_end(&b);
    proto_frame f;
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), 0);
    proto_iter it;
    proto_iter_init(&it, &f);
    proto_rec r;
    cr_assert_eq(proto_iter_next(&it, &r), GENIE_ETRUNC);
    genie_buf_free(&b);
}

Test(codec, wrong_body_length_is_rejected)
{
    uint8_t body[64] = {0};
    proto_rec r = {PROTO_OP_DEVICE_SYNC, 0, 3, body};
    proto_DEVICE_SYNC d;
    cr_assert_eq(proto_get_DEVICE_SYNC(&r, &d), GENIE_EPROTO);
    r.len = PROTO_DEVICE_SYNC_FIXED;
    cr_assert_eq(proto_get_DEVICE_SYNC(&r, &d), 0);
    proto_MEMCPY_H2D h;
    r.len = PROTO_MEMCPY_H2D_FIXED - 1;
    cr_assert_eq(proto_get_MEMCPY_H2D(&r, &h), GENIE_EPROTO);
}

Test(codec, op_table)
{
    const proto_op_info *i = proto_op_lookup(PROTO_OP_MEMCPY_D2H);
    cr_assert_not_null(i);
    cr_assert_str_eq(i->name, "MEMCPY_D2H");
    cr_assert(i->flags & PROTO_F_D2H);
    cr_assert(i->flags & PROTO_F_QUERY);
    cr_assert(i->is_request);
    cr_assert_null(proto_op_lookup(0x7777));
    cr_assert_eq(proto_op_lookup(PROTO_OP_R_DATA)->is_request, 0);
}

Test(codec, huge_bytes_length_is_refused_not_wrapped)
{
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    size_t before = b.len;
    cr_assert_null(proto_put_MEMCPY_H2D(&b, 0, 0, SIZE_MAX - 4));
    cr_assert_null(proto_put_MEMCPY_H2D(&b, 0, 0, (size_t)UINT32_MAX));
    cr_assert_eq(b.len, before, "nothing was appended");
    genie_buf_free(&b);
}
