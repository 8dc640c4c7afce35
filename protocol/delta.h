/* delta.h — the BATCH_DELTA patch format: one encoder and one decoder for both sides.
 *
 * A patch list rewrites a template payload into the next one: npatches runs, each
 *
 *   u32 offset | u32 len | len bytes        (packed, little-endian, no padding)
 *
 * in ascending order of offset, none empty, none overlapping another, each inside the
 * template. The shim encodes a batch against its template (proto_delta_encode); the executor
 * applies the list to its copy of the same template (proto_delta_apply), which refuses any
 * list that breaks those rules before it writes a byte. */
#ifndef GENIE_PROTO_DELTA_H
#define GENIE_PROTO_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "common/genie.h"

/* Bytes of a run's header (offset, len). */
#define PROTO_DELTA_RUN_HDR 8
/* Differing bytes closer than this merge into one run: a run header costs 8 bytes. */
#define PROTO_DELTA_GAP 16

/* Encodes cur against old (both n bytes, n < 4 GiB) as a patch list in out (reset first).
 * Returns 0 with *npatches set, GENIE_ETOOBIG when the list would pass budget bytes (out then
 * holds a partial list: do not send it), GENIE_EINVAL when n does not fit 32 bits, or
 * GENIE_ENOMEM. Equal inputs give an empty list. */
int proto_delta_encode(const uint8_t *cur, const uint8_t *old, size_t n, size_t budget,
                       genie_buf *out, uint32_t *npatches);

/* Applies a patch list (npatches runs in patches[0, len)) to buf[0, n) in place. The whole
 * list is checked first: on a refusal buf is unchanged and the answer says why (a static
 * string); NULL means applied. */
const char *proto_delta_apply(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                              uint32_t npatches);

#endif
