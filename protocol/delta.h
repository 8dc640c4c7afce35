/* delta.h — the BATCH_DELTA patch format: one encoder and one decoder for both sides.
 *
 * A patch list rewrites a template payload into the next one: npatches runs, each
 *
 *   varint gap | varint len | len bytes       (unsigned LEB128, at most 5 bytes each)
 *
 * where gap is the run's offset minus the end of the run before it (the first run's offset),
 * so runs are in ascending order and never overlap by construction; none is empty and each
 * lies inside the template. A decode step changes a few bytes in each of a few dozen records
 * (positions, lengths): a run costs its bytes plus 2 bytes of header. The shim encodes a batch
 * against its template (proto_delta_encode); the executor applies the list to its copy of the
 * same template (proto_delta_apply), which refuses any list that breaks those rules before it
 * writes a byte. */
#ifndef GENIE_PROTO_DELTA_H
#define GENIE_PROTO_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "common/genie.h"

/* The most bytes of a run's header (two 32-bit varints). */
#define PROTO_DELTA_RUN_HDR_MAX 10
/* Differing bytes at most this far apart merge into one run: a new run's header costs 2 bytes
 * or more, the equal bytes between them as many as they are. */
#define PROTO_DELTA_GAP 2

/* The runs (offset, length) of a patch list: what a later delta may reuse. A decode step
 * changes the same bytes every time, so a BATCH_DELTA whose npatches is
 * PROTO_DELTA_SAME_LAYOUT carries only the new bytes of the runs of the delta that made its
 * template (both sides keep that layout with the template), concatenated in order. */
#define PROTO_DELTA_SAME_LAYOUT UINT32_MAX
typedef struct proto_delta_layout {
    uint32_t *run; /* n pairs: offset, length */
    uint32_t n, cap;
    uint64_t bytes; /* sum of the lengths */
} proto_delta_layout;
void proto_delta_layout_free(proto_delta_layout *l);
/* The layout of a list proto_delta_apply accepted; 0 or GENIE_ENOMEM (l then empty). */
int proto_delta_layout_of(proto_delta_layout *l, const uint8_t *patches, size_t len,
                          uint32_t npatches);
int proto_delta_layout_copy(proto_delta_layout *dst, const proto_delta_layout *src);
/* 1 when every byte where cur and old differ lies inside one of l's runs (then the bytes of
 * those runs say everything). */
int proto_delta_covers(const proto_delta_layout *l, const uint8_t *cur, const uint8_t *old,
                       size_t n);
/* The bytes of cur at l's runs, into out (reset first); 0 or GENIE_ENOMEM. */
int proto_delta_encode_same(const proto_delta_layout *l, const uint8_t *cur, size_t n,
                            genie_buf *out);
/* Writes bytes (len of them, l->bytes expected) into buf[0, n) at l's runs; NULL or why not
 * (buf unchanged then). */
const char *proto_delta_apply_same(uint8_t *buf, size_t n, const proto_delta_layout *l,
                                   const uint8_t *bytes, size_t len);

/* Writes a run header (gap, len) at out (PROTO_DELTA_RUN_HDR_MAX bytes of room); returns its
 * length. For tests and tools that build lists by hand. */
size_t proto_delta_put_run(uint8_t *out, uint32_t gap, uint32_t len);

/* Encodes cur against old (both n bytes, n < 4 GiB) as a patch list in out (reset first).
 * Returns 0 with *npatches set, GENIE_ETOOBIG when the list would pass budget bytes (out then
 * holds a partial list: do not send it), GENIE_EINVAL when n does not fit 32 bits, or
 * GENIE_ENOMEM. Equal inputs give an empty list. */
int proto_delta_encode(const uint8_t *cur, const uint8_t *old, size_t n, size_t budget,
                       genie_buf *out, uint32_t *npatches);

/* Compressed patches (PROTO_FRAME_DELTA_Z on a BATCH_DELTA frame): the record's patches are
 * the raw DEFLATE stream (RFC 1951, ISA-L's igzip at level 1) of the list or of the
 * same-layout bytes. A decode step's list repeats itself (the same pointer written into
 * several records, the same few bytes in every layer), so it shrinks about 2.3x.
 * proto_delta_deflate: in[0, n) into out (reset first); scratch holds the compressor's
 * working memory between calls. 0, GENIE_ETOOBIG when the stream would not be smaller than
 * n (out then useless: send the bytes as they are), GENIE_ENOMEM, or GENIE_EPROTO. */
int proto_delta_deflate(const uint8_t *in, size_t n, genie_buf *out, genie_buf *scratch);
/* The inverse, into out (reset first), refusing a stream that is malformed, truncated, or
 * would inflate past max bytes (untrusted input: never more memory than max). NULL or why
 * not (a static string). */
const char *proto_delta_inflate(const uint8_t *in, size_t n, size_t max, genie_buf *out);

/* Back-references (PROTO_FRAME_DELTA_REF on a BATCH_DELTA frame; GENIE_DELTA_REF). A decode
 * step of PyTorch moves its activations: the caching allocator hands out other addresses each
 * step, and each new address is written into every record that uses that tensor, so a plain
 * list carries the same new pointer many times. With this flag the list patches not the
 * template T but its prediction R: R is T, except that each "candidate" of T whose value an
 * earlier candidate of T also holds is predicted to hold what the batch holds at that earlier
 * candidate (the program's dataflow, the same from step to step, says so). Candidates: from
 * offset 0 in steps of 4, an 8-byte little-endian value v with 2^32 <= v < 2^48 (an address's
 * shape) is a candidate and the scan moves past it (8), anything else moves on by 4. The
 * prediction depends on bytes the list itself writes (an earlier candidate's new value), so
 * the decoder applies the list and the prediction in one ascending walk. A same-layout delta
 * (PROTO_DELTA_SAME_LAYOUT) with the flag writes its bytes onto the prediction likewise. Whatever the
 * prediction gets wrong the list corrects: the rebuilt batch is always exactly the batch the
 * shim encoded. */
typedef struct proto_delta_refs {
    uint64_t *key; /* open-addressed table: candidate value -> latest offset + 1 */
    uint32_t *at;
    uint32_t cap;          /* a power of two, 0 before first use */
    uint32_t *pair;        /* npair pairs: offset of a candidate, offset it copies from */
    uint32_t npair, cap_pair;
} proto_delta_refs;
void proto_delta_refs_free(proto_delta_refs *r);
/* R for cur against tmpl (both n bytes) into out (reset first); 0, GENIE_EINVAL (n does not
 * fit 32 bits) or GENIE_ENOMEM. */
int proto_delta_predict(const uint8_t *tmpl, const uint8_t *cur, size_t n, genie_buf *out,
                        proto_delta_refs *r);
/* Rewrites buf[0, n) (the template) into the batch whose list against its prediction is
 * patches (as proto_delta_apply's); the list is checked first: NULL, or why not (buf
 * unchanged then). */
const char *proto_delta_apply_ref(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                                  uint32_t npatches, proto_delta_refs *r);
/* The same for a same-layout delta (PROTO_DELTA_SAME_LAYOUT with PROTO_FRAME_DELTA_REF): the
 * bytes at l's runs patch the prediction, as proto_delta_apply_same's patch the template. */
const char *proto_delta_apply_same_ref(uint8_t *buf, size_t n, const proto_delta_layout *l,
                                       const uint8_t *bytes, size_t len, proto_delta_refs *r);

/* Applies a patch list (npatches runs in patches[0, len)) to buf[0, n) in place. The whole
 * list is checked first: on a refusal buf is unchanged and the answer says why (a static
 * string); NULL means applied. */
const char *proto_delta_apply(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                              uint32_t npatches);

#endif
