/* frame.h — the flat frame codec: a checksummed header and a packed array of records.
 *
 * A frame is one logical message on the stream (a request batch or its reply):
 *
 *   header (32 bytes, little-endian)       records, each 8-byte aligned
 *   magic u32 | version u16 | kind u16     op u16 | flags u16 | len u32 | body[len] | pad
 *   flags u32 | seq u32 | length u64       ...
 *   crc32c u32 | reserved u32
 *
 * length counts the bytes after the header; crc32c covers the header (with the crc field
 * zero) and the payload, so a corrupted length or kind is caught as surely as a flipped
 * payload bit. Record bodies are generated from protocol/api/ops.def (protocol/gen/ops.h). */
#ifndef GENIE_PROTO_FRAME_H
#define GENIE_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/genie.h"

#define PROTO_MAGIC 0x494e4547u /* "GENI" */
#define PROTO_VERSION 1
#define PROTO_HDR_SIZE 32
#define PROTO_REC_HDR_SIZE 8
/* Default upper bound on a frame's payload; GENIE_MAX_MESSAGE_BYTES overrides it. */
#define PROTO_DEFAULT_MAX (4ull << 30)

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire is little-endian; so is the host");

enum proto_kind {
    PROTO_KIND_REQUEST = 1, /* a batch of op records from the client */
    PROTO_KIND_REPLY = 2,   /* result records from the executor */
};

/* Header flags of a request frame. TEMPLATE: the executor keeps this frame's payload (at
 * most PROTO_DELTA_TEMPLATE_MAX bytes) as the template a later BATCH_DELTA patches, if no
 * record of it failed; otherwise it drops the template it had. */
#define PROTO_FRAME_TEMPLATE 0x1u
/* TRACE (GENIE_TRACE_FILE): the executor times this frame's stream work with events and
 * answers R_TRACE before R_EXEC. 0x10: clear of the flags other passes may take. */
#define PROTO_FRAME_TRACE 0x10u
/* DELTA_Z: on a BATCH_DELTA frame, the record's patches are compressed (protocol/delta.h,
 * proto_delta_deflate; GENIE_DELTA_DEFLATE). Meaningless on any other frame. */
#define PROTO_FRAME_DELTA_Z 0x20u
/* DELTA_REF: on a BATCH_DELTA frame, its patches (a list or same-layout bytes) patch the
 * template's back-reference prediction, not the template (protocol/delta.h,
 * proto_delta_apply_ref; GENIE_DELTA_REF). Meaningless on any other frame. */
#define PROTO_FRAME_DELTA_REF 0x40u
/* One span of R_TRACE: the op at index of frame seq ran on client stream `stream` from t0 to
 * t1 on the device (the server's clock, ns). 32 bytes, little-endian. */
typedef struct proto_trace_span {
    uint32_t seq, index, stream;
    uint16_t op, pad_;
    uint64_t t0, t1;
} proto_trace_span;
_Static_assert(sizeof(proto_trace_span) == 32, "proto_trace_span is 32 bytes");
#define PROTO_DELTA_TEMPLATE_MAX ((size_t)8 << 20)
/* R_ERROR index of a BATCH_DELTA whose template the executor does not have */
#define PROTO_INDEX_DELTA 0xfffffffeu

typedef struct proto_frame {
    uint16_t kind;
    uint32_t flags;
    uint32_t seq;
    const uint8_t *payload; /* borrowed from the parsed buffer */
    uint64_t length;
} proto_frame;

typedef struct proto_rec {
    uint16_t op;
    uint16_t flags;
    uint32_t len;
    const uint8_t *body; /* borrowed */
} proto_rec;

/* Starts a frame in b (which is reset): writes a header to be completed by proto_frame_end. */
int proto_frame_begin(genie_buf *b, uint16_t kind, uint32_t seq);
/* Fills in length and crc32c. */
void proto_frame_end(genie_buf *b);
/* Header fields of a frame being built in b (begun with proto_frame_begin): the only way
 * code outside frame.c writes or reads them, never by offset. */
void proto_frame_set_flags(genie_buf *b, uint32_t flags);
void proto_frame_set_seq(genie_buf *b, uint32_t seq);
/* The seq of a frame's header at p (at least PROTO_HDR_SIZE bytes; not validated). */
uint32_t proto_frame_peek_seq(const void *p);
/* The header's flags (of a frame being built, or any buffer of PROTO_HDR_SIZE bytes). */
uint32_t proto_frame_peek_flags(const void *p);

/* Validates a whole frame: GENIE_ETRUNC (shorter than header or than its length),
 * GENIE_ETOOBIG (length over max), GENIE_EPROTO (bad magic or kind, trailing bytes),
 * GENIE_EVERSION, GENIE_ECRC. On success fills f (pointing into buf). */
int proto_frame_parse(const void *buf, size_t n, uint64_t max, proto_frame *f);

/* Appends a record header and reserves body_len bytes (plus alignment padding, zeroed);
 * returns the body pointer or NULL on allocation failure. */
uint8_t *proto_rec_add(genie_buf *b, uint16_t op, size_t body_len);

/* ---- frames in pieces (scatter-gather) ----
 * A large record body can stay in the caller's memory: the frame is then the bytes of b
 * with external segments spliced in at given offsets of b, and travels as a gather list
 * (b's bytes before the segment, the segment, the rest), so a bulk payload is never copied
 * into the batch. The wire sees one ordinary frame. */
typedef struct proto_ext {
    size_t at;     /* offset in b where the segment's bytes belong (ascending, <= b->len) */
    const void *p; /* borrowed: must stay unchanged until the frame is sent */
    size_t n;
} proto_ext;

/* Makes the body of the record starting at rec_off (the last record in b) ext_len bytes
 * longer, those bytes to be spliced in from elsewhere: b keeps the record's header and its
 * fixed fields, *at says where the spliced bytes go, and the record's padding follows.
 * Returns 0, GENIE_EINVAL (no record ends b at rec_off, or the length would pass 32 bits)
 * or GENIE_ENOMEM. */
int proto_rec_splice(genie_buf *b, size_t rec_off, size_t ext_len, size_t *at);

/* proto_frame_end for a frame in pieces: length and crc32c cover b with ext spliced in. */
void proto_frame_end_ext(genie_buf *b, const proto_ext *ext, size_t next);

/* A contiguous piece of a message to send. */
typedef struct proto_iov {
    const void *p; /* borrowed */
    size_t n;
} proto_iov;
/* The gather list of a frame in pieces: at most 2 * next + 1 entries (empty pieces are
 * left out); returns how many were written. */
size_t proto_frame_iov(const genie_buf *b, const proto_ext *ext, size_t next, proto_iov *iov);

/* ---- checksum computed while a frame is received ----
 * A receiver that copies a frame into place anyway (the transport's reassembly) computes
 * its crc32c in the same pass, block by block while the bytes are in cache, instead of
 * leaving proto_frame_parse a second pass over a large frame. proto_frame_crc_update
 * takes the frame's bytes in order (any split) and treats the crc field as zero;
 * proto_frame_crc_note records, for this thread, that the n bytes at buf have that
 * checksum; the next proto_frame_parse of exactly (buf, n) on this thread compares the
 * header's crc field with it instead of recomputing, and any other parse forgets it. The
 * noter must not change the bytes in between (the transport hands the buffer straight
 * to the handler). */
typedef struct proto_crc_acc {
    uint64_t off;
    uint32_t crc;
} proto_crc_acc;
void proto_frame_crc_update(proto_crc_acc *a, const void *p, size_t n);
void proto_frame_crc_note(const void *buf, size_t n, uint32_t crc);
/* 1 with *crc if this thread's note is of exactly (buf, n), else 0; the note stays. For a
 * receiver that hands the frame on to another process of its own (genie-remote's front to
 * its worker, through shared memory), which notes it there. */
int proto_frame_crc_noted(const void *buf, size_t n, uint32_t *crc);

/* For a receiver that would place a big reply's data straight where it belongs: in head, the
 * first head_n bytes of a reply frame of total bytes (nothing of it checked yet), finds the
 * first R_DATA record whose data does not end within head. 1 with its index and the offset
 * and length of its data in the frame, 0 if there is none or head does not look like a
 * reply. Only a hint: the frame is parsed and its checksum checked as usual once whole. */
int proto_frame_find_data(const void *head, size_t head_n, uint64_t total, uint32_t *index,
                          uint64_t *off, uint64_t *len);

/* Iterates records: returns 1 with *r filled, 0 at the end, GENIE_EPROTO / GENIE_ETRUNC
 * on a malformed record (a length running past the payload). */
typedef struct proto_iter {
    const uint8_t *p, *end;
} proto_iter;
void proto_iter_init(proto_iter *it, const proto_frame *f);
int proto_iter_next(proto_iter *it, proto_rec *r);

/* Reads the bound from GENIE_MAX_MESSAGE_BYTES once. */
uint64_t proto_max_message(void);

#endif
