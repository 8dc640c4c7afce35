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

/* ---- frames in pieces and the checksum computed while copying ---- */

/* b: a frame with two records whose data (5 and 70000 bytes) stays outside b, then a third
 * record; flat: the same frame built contiguously. */
static void make_spliced(genie_buf *b, genie_buf *flat, uint8_t *big, proto_ext ext[2])
{
    for (size_t i = 0; i < 70000; i++)
        big[i] = (uint8_t)(i * 31 + 7);
    cr_assert_eq(proto_frame_begin(b, PROTO_KIND_REQUEST, 9), 0);
    cr_assert_eq(proto_frame_begin(flat, PROTO_KIND_REQUEST, 9), 0);
    size_t rec = b->len;
    cr_assert_not_null(proto_put_MEMCPY_H2D(b, 0x1000, 16, 0));
    cr_assert_eq(proto_rec_splice(b, rec, 5, &ext[0].at), 0);
    ext[0].p = "hello";
    ext[0].n = 5;
    rec = b->len;
    cr_assert_not_null(proto_put_MEMCPY_H2D(b, 0x2000, 0, 0));
    cr_assert_eq(proto_rec_splice(b, rec, 70000, &ext[1].at), 0);
    ext[1].p = big;
    ext[1].n = 70000;
    cr_assert_not_null(proto_put_DEVICE_SYNC(b, 0));
    proto_frame_end_ext(b, ext, 2);

    memcpy(proto_put_MEMCPY_H2D(flat, 0x1000, 16, 5), "hello", 5);
    memcpy(proto_put_MEMCPY_H2D(flat, 0x2000, 0, 70000), big, 70000);
    cr_assert_not_null(proto_put_DEVICE_SYNC(flat, 0));
    proto_frame_end(flat);
}

static genie_buf gather(const genie_buf *b, const proto_ext *ext, size_t next)
{
    proto_iov iov[5];
    size_t n = proto_frame_iov(b, ext, next, iov);
    cr_assert_leq(n, 2 * next + 1);
    genie_buf g = {0};
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(genie_buf_append(&g, iov[i].p, iov[i].n), 0);
    return g;
}

Test(frame, spliced_frame_equals_the_contiguous_one)
{
    genie_buf b = {0}, flat = {0};
    uint8_t *big = malloc(70000);
    proto_ext ext[2];
    make_spliced(&b, &flat, big, ext);
    genie_buf g = gather(&b, ext, 2);
    cr_assert_eq(g.len, flat.len);
    cr_assert_eq(memcmp(g.data, flat.data, g.len), 0, "same bytes, same length and crc");
    proto_frame f;
    cr_assert_eq(proto_frame_parse(g.data, g.len, 1 << 20, &f), 0);
    genie_buf_free(&g);
    genie_buf_free(&b);
    genie_buf_free(&flat);
    free(big);
}

Test(frame, splice_needs_the_last_record)
{
    genie_buf b = {0};
    size_t at;
    cr_assert_eq(proto_frame_begin(&b, PROTO_KIND_REQUEST, 1), 0);
    size_t rec = b.len;
    cr_assert_not_null(proto_put_MEMCPY_H2D(&b, 0x1000, 0, 0));
    cr_assert_not_null(proto_put_DEVICE_SYNC(&b, 0));
    cr_assert_eq(proto_rec_splice(&b, rec, 8, &at), GENIE_EINVAL);
    cr_assert_eq(proto_rec_splice(&b, 3, 8, &at), GENIE_EINVAL);
    genie_buf_free(&b);
}

/* A bit flipped in the spliced payload after the checksum was taken (as on the wire). */
Test(frame, flipped_bit_in_a_spliced_payload_is_caught)
{
    genie_buf b = {0}, flat = {0};
    uint8_t *big = malloc(70000);
    proto_ext ext[2];
    make_spliced(&b, &flat, big, ext);
    const size_t at[] = {0, 4095, 69999};
    for (size_t i = 0; i < 3; i++) {
        big[at[i]] ^= 0x10;
        genie_buf g = gather(&b, ext, 2);
        proto_frame f;
        cr_assert_eq(proto_frame_parse(g.data, g.len, 1 << 20, &f), GENIE_ECRC);
        genie_buf_free(&g);
        big[at[i]] ^= 0x10;
    }
    genie_buf_free(&b);
    genie_buf_free(&flat);
    free(big);
}

Test(frame, crc_fed_in_any_split_equals_the_frame_crc)
{
    genie_buf b = make_frame();
    uint32_t want;
    memcpy(&want, b.data + 24, 4);
    for (size_t step = 1; step <= 40; step++) {
        proto_crc_acc a = {0, 0};
        for (size_t o = 0; o < b.len; o += step)
            proto_frame_crc_update(&a, b.data + o, b.len - o < step ? b.len - o : step);
        cr_assert_eq(a.crc, want, "split every %zu bytes", step);
    }
    genie_buf_free(&b);
}

Test(frame, noted_crc_serves_one_parse_of_its_buffer)
{
    genie_buf b = make_frame();
    uint32_t good;
    memcpy(&good, b.data + 24, 4);
    proto_frame f;
    /* a wrong note proves the parse used it; the note is then gone */
    proto_frame_crc_note(b.data, b.len, good ^ 1);
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), GENIE_ECRC);
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), 0);
    /* a note for another length or buffer is not used, and is dropped */
    proto_frame_crc_note(b.data, b.len - 8, good ^ 1);
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), 0);
    proto_frame_crc_note(b.data, b.len, good);
    cr_assert_eq(proto_frame_parse(b.data, b.len, 1 << 20, &f), 0);
    genie_buf_free(&b);
}

Test(frame, noted_crc_can_be_read_back_for_its_buffer_only)
{
    genie_buf b = make_frame();
    uint32_t c = 0;
    proto_frame_crc_note(b.data, b.len, 0x1234);
    cr_assert_eq(proto_frame_crc_noted(b.data, b.len, &c), 1);
    cr_assert_eq(c, 0x1234);
    cr_assert_eq(proto_frame_crc_noted(b.data, b.len - 8, &c), 0);
    cr_assert_eq(proto_frame_crc_noted(b.data + 8, b.len - 8, &c), 0);
    proto_frame_crc_note(NULL, 0, 0);
    cr_assert_eq(proto_frame_crc_noted(b.data, b.len, &c), 0);
    genie_buf_free(&b);
}

/* A reply frame: R_VALUE, an R_DATA of n bytes (0xab), R_EXEC. */
static genie_buf reply_with_data(size_t n, uint32_t index)
{
    genie_buf b = {0};
    cr_assert_eq(proto_frame_begin(&b, PROTO_KIND_REPLY, 3), 0);
    cr_assert_not_null(proto_put_R_VALUE(&b, 0, 5, 0));
    uint8_t *p = proto_put_R_DATA(&b, index, n);
    cr_assert_not_null(p);
    memset(p, 0xab, n);
    cr_assert_not_null(proto_put_R_EXEC(&b, 1000));
    proto_frame_end(&b);
    return b;
}

Test(frame, find_data_locates_a_big_r_data_from_the_head_alone)
{
    genie_buf b = reply_with_data(100000, 7);
    uint32_t index = 0;
    uint64_t off = 0, len = 0;
    cr_assert_eq(proto_frame_find_data(b.data, 4096, b.len, &index, &off, &len), 1);
    cr_assert_eq(index, 7);
    cr_assert_eq(len, 100000);
    cr_assert_eq(b.data[off], 0xab);
    cr_assert_eq(b.data[off - 1], 0, "the data starts right after the index field");
    cr_assert_eq(b.data[off + len - 1], 0xab);
    cr_assert_neq(b.data[off + len], 0xab, "and ends where R_DATA says");
    /* data ending inside the head is not worth placing */
    cr_assert_eq(proto_frame_find_data(b.data, b.len, b.len, &index, &off, &len), 0);
    /* a head that is not of a reply of this length */
    cr_assert_eq(proto_frame_find_data(b.data, 4096, b.len + 8, &index, &off, &len), 0);
    b.data[6] = PROTO_KIND_REQUEST;
    cr_assert_eq(proto_frame_find_data(b.data, 4096, b.len, &index, &off, &len), 0);
    genie_buf_free(&b);
    /* too short a head to see the R_DATA's index */
    b = reply_with_data(100000, 7);
    cr_assert_eq(proto_frame_find_data(b.data, 40, b.len, &index, &off, &len), 0);
    genie_buf_free(&b);
}
