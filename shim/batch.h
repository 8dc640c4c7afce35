/* batch.h — the one seam through which every recorded op enters the batch: begin, put, commit, roll back.
 *
 * The batch is the request frame being built: the records of the ops recorded since the last
 * flush, the reply slots of those that need an answer, and the bulk segments spliced in from
 * the caller's memory. Only shim/batch.c touches its length, its op count and its slots; a
 * recorder does
 *
 *     shim_rec r;
 *     shim_batch_begin(&r);
 *     if (!SHIM_PUT(&r, MEMSET, dst, n, value, sid))   // the record's bytes (may fail: ENOMEM)
 *         return shim_batch_fail(&r);                  // rolls back, sets the last error
 *     shim_sem_op(SEM_OP_MEMSET, PROTO_OP_MEMSET, sid); // its IR descriptor (shim_int.h)
 *     return shim_batch_commit(&r, sid, 0);            // slot, IR, count; or all rolled back
 *
 * An op is in the batch only once committed. A failure at any step (the record's bytes, a
 * spliced segment, the reply slot) rolls the op back whole, its staged IR descriptor too: no
 * record ever goes out without its reply slot, nor a slot without its record, and the
 * session stays usable. Lock held throughout. */
#ifndef GENIE_SHIM_BATCH_H
#define GENIE_SHIM_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "common/genie.h"
#include "protocol/gen/ops.h"

/* The answer to an op that needs one (R_DATA lands in dst, R_VALUE in value/status). */
typedef struct shim_slot {
    uint32_t index; /* op index in the batch */
    void *dst;      /* R_DATA lands here (size bytes) */
    uint64_t size;
    uint64_t value; /* R_VALUE */
    int32_t status;
    int filled;
    int landed;     /* the transport wrote the R_DATA's bytes into dst itself */
} shim_slot;

/* One op being recorded: where it began, what its commit must add. Lives on the stack. */
typedef struct shim_rec {
    size_t mark;         /* batch length at begin: the rollback point */
    uint32_t next0;      /* spliced segments at begin */
    uint64_t ext_bytes0;
    int reply;           /* the commit adds a reply slot for (reply_dst, reply_size) */
    void *reply_dst;
    uint64_t reply_size;
    uint32_t slot;       /* after a commit with a reply: the slot, for shim_batch_result */
    int committed;       /* the op went into the batch (not into a capture, not rolled back) */
    int captured;        /* the op went into a stream capture instead */
} shim_rec;

/* The batch's own state. Its fields belong to shim/batch.c: the inline functions below are
 * the only code elsewhere that reads them (they run on every recorded op), and nothing but
 * batch.c writes them. */
typedef struct shim_batch_state {
    genie_buf buf;    /* the current request frame */
    uint32_t ops;     /* ops committed to it */
    uint32_t nslots, cap_slots;
    shim_slot *slots; /* the committed ops' reply slots, in op order */
    /* Bulk H2D bytes the batch sends from the caller's memory (spliced in at flush); the
     * caller does not return before they are sent. */
    proto_ext *ext;
    uint32_t next, cap_ext;
    uint64_t ext_bytes;
    uint64_t reply_bytes; /* D2H bytes the batch's reply will carry */
} shim_batch_state;
extern shim_batch_state shim_batch_g;

/* Test hook: when set, called at each step of the seam that may fail (the SHIM_STEP_*);
 * nonzero makes that step fail as an allocation failure would. NULL in production. */
enum { SHIM_STEP_RECORD, SHIM_STEP_SPLICE, SHIM_STEP_SLOT, SHIM_STEP__COUNT };
extern int (*shim_batch_fault)(int step);
static inline int shim_batch_step_fails(int step)
{
    return __builtin_expect(shim_batch_fault != NULL, 0) && shim_batch_fault(step);
}

/* Starts an op at the end of the batch. */
static inline void shim_batch_begin(shim_rec *r)
{
    *r = (shim_rec){.mark = shim_batch_g.buf.len,
                    .next0 = shim_batch_g.next,
                    .ext_bytes0 = shim_batch_g.ext_bytes,
                    .slot = UINT32_MAX};
}

/* The arena the record's bytes go into, or NULL when the step fails (an injected failure;
 * the put itself returns NULL when out of memory). Use through SHIM_PUT with the op name of
 * protocol/gen/ops.h. */
static inline genie_buf *shim_batch_arena(shim_rec *r)
{
    (void)r;
    return shim_batch_step_fails(SHIM_STEP_RECORD) ? NULL : &shim_batch_g.buf;
}
#define SHIM_PUT(r, OP, ...)                                                                   \
    (shim_batch_arena(r) ? proto_put_##OP(&shim_batch_g.buf, __VA_ARGS__) : NULL)

/* Makes the op's record (the last one, its body up to the fixed fields) carry n more bytes
 * sent from p at flush: p must stay unchanged until the next shim_flush, which the caller
 * runs before returning. cudaErrorMemoryAllocation (or InvalidValue) on failure; the op is
 * then still open, to be rolled back. */
cudaError_t shim_batch_splice(shim_rec *r, const void *p, size_t n);

/* Asks the commit to add a reply slot for the op: R_DATA lands in dst (size bytes), or an
 * R_VALUE (dst NULL, size 0) is kept in the slot. */
void shim_batch_want_reply(shim_rec *r, void *dst, uint64_t size);

/* Commit flags. */
#define SHIM_COMMIT_HOLD 0x1u /* no flush past the size threshold: the caller flushes next,
                                 or records more ops whose slots must share one frame */
/* The op's stream for SHIM_NO_STREAM: work that no capture takes (creates, destroys, maps). */
#define SHIM_NO_STREAM UINT32_MAX

/* Commits the op: while a capture runs, stream work on sid goes into the capture instead (or
 * fails, as on the legacy stream; shim/graph.c decides); otherwise the op's reply slot is
 * added, its descriptor appended to the semantics IR and it is counted, then the batch is
 * flushed when the flush pass says so (GENIE_BATCH_BYTES) unless SHIM_COMMIT_HOLD. If a step fails, everything of
 * the op is rolled back and cudaErrorMemoryAllocation returned. An error from the flush is
 * an earlier op's (or the session's): the op itself was committed (r->committed). */
cudaError_t shim_batch_commit(shim_rec *r, uint32_t sid, unsigned flags);

/* Drops everything of the op since begin. */
void shim_batch_rollback(shim_rec *r);
/* Rolls back and returns cudaErrorMemoryAllocation as the last error: the usual end of a
 * failed SHIM_PUT. */
cudaError_t shim_batch_fail(shim_rec *r);

/* The slot of a committed op, valid until the next commit that adds a slot (a flush keeps
 * it: the reply lands there). */
const shim_slot *shim_batch_result(uint32_t slot);

/* 1 when no op is in the batch. */
int shim_batch_empty(void);
/* Bytes the frame would have on the wire now, spliced segments included. */
uint64_t shim_batch_wire_bytes(void);
/* D2H bytes the reply to the batch will carry; an op that adds D2H data notes it. */
uint64_t shim_batch_reply_bytes(void);
void shim_batch_note_reply_bytes(uint64_t n);
/* 1 when a committed op's R_DATA will land inside [p, p+n) (memory about to be freed), in
 * this batch or in one still in flight; shim_flush then lands them all. */
int shim_batch_writes_into(const void *p, size_t n);

/* Sets up the batch for a new session (lock held): 0 or GENIE_ENOMEM. */
int shim_batch_init(void);

#endif
