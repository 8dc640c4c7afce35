/* dnn_mirror.h — what the executor keeps of a session's cuDNN backend descriptors to check an Execute over whole extents: each tensor's extent, the tensors of each plan's graph, each variant pack's pointers.
 *
 * The library's descriptors are opaque, so the executor mirrors what the client sets and the
 * library accepts (remote/ops_dnn.c calls these after each successful SetAttribute, Finalize
 * and descriptor-filling GetAttribute). A tensor's extent is fixed when it is finalized; an
 * operation copies the extents of the tensors it names when they are set (a finalized tensor
 * cannot change); an operation graph gathers its operations' tensors into a table, shared by
 * reference with the heuristics, engines, engine configs and plans built on it (also those
 * the library filled in), so a plan knows its tensors even after the program destroyed them.
 * Keyed by client descriptor ID; one per session, not thread-safe (a session runs its records
 * on one thread). */
#ifndef GENIE_REMOTE_DNN_MIRROR_H
#define GENIE_REMOTE_DNN_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "remote/exec_int.h"

typedef struct exec_dnnm {
    exec_idmap descs; /* client ID -> dnnm_desc (owned) */
} exec_dnnm;

/* A new descriptor of type (a cudnnBackendDescriptorType_t): 0 or GENIE_ENOMEM. */
int exec_dnnm_create(exec_dnnm *m, uint32_t id, uint32_t type);
void exec_dnnm_destroy(exec_dnnm *m, uint32_t id);
void exec_dnnm_free(exec_dnnm *m);

/* The cudnnBackendDescriptorType_t of descriptor id, UINT32_MAX when unknown. */
uint32_t exec_dnnm_type(const exec_dnnm *m, uint32_t id);

/* Whether descriptor id is finalized (set by the program or filled in by the library): the
 * library takes no more attributes for it, and neither does the mirror. */
int exec_dnnm_finalized(const exec_dnnm *m, uint32_t id);

/* The library accepted attribute attr of descriptor id: count elements of type in their wire
 * form (descriptors as u64 client IDs, pointers as u64 device addresses or by-value tags).
 * 0 or GENIE_ENOMEM. */
int exec_dnnm_set(exec_dnnm *m, uint32_t id, uint32_t attr, uint32_t type, uint32_t count,
                  const uint8_t *wire);

/* The library finalized descriptor id. */
void exec_dnnm_finalize(exec_dnnm *m, uint32_t id);

/* The library filled in the n descriptors whose u64 client IDs are at ids, answering a query
 * of descriptor from: they are finalized, of the graph from was made for (if any). */
void exec_dnnm_fill(exec_dnnm *m, uint32_t from, uint32_t n, const uint8_t *ids);

/* The workspace a finalized plan needs, as the library answered (known 0: it did not). */
void exec_dnnm_workspace(exec_dnnm *m, uint32_t plan, int known, uint64_t bytes);

/* Whether [p, p + n) lies in the session's memory. */
typedef int (*exec_dnnm_range_fn)(void *arg, uint64_t p, uint64_t n);

/* Checks that Execute(plan, pack) touches only memory in_range accepts: every tensor the pack
 * names by UID, over its whole extent from the plan's graph (a by-value one must point at its
 * pack's slot and fit it), and the workspace over the plan's workspace size. 0, or -1 with the
 * reason in why (a UID the plan does not know, a plan whose tensors could not be sized, a
 * range outside the session). */
int exec_dnnm_check(const exec_dnnm *m, uint32_t plan, uint32_t pack, exec_dnnm_range_fn in_range,
                    void *arg, char *why, size_t wn);

/* The bytes a strided tensor spans: (1 + sum over dims of (dim - 1) * stride) elements of
 * elem bytes, times vcount (a vectorized tensor: conservative); 0 when a dimension is not
 * positive, a stride negative or the result overflows. */
uint64_t exec_dnnm_extent(int nd, const int64_t *dims, const int64_t *strides, uint64_t elem,
                          int64_t vcount);

#endif
