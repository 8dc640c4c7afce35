/* graph.h — what a captured CUDA graph may hold: shared by the shim's capture and the executor's
 * GRAPH_DEFINE check, so the two agree; both rules come from flags in the tables. */
#ifndef GENIE_PROTOCOL_GRAPH_H
#define GENIE_PROTOCOL_GRAPH_H

#include <stdint.h>

#include "protocol/gen/api.h"
#include "protocol/gen/ops.h"
#include "protocol/gen/roles.h"

/* Record kinds a graph may hold: the ops flagged GRAPH in protocol/api/ops.def. */
static inline int proto_graph_op_ok(uint16_t op)
{
    const proto_op_info *i = proto_op_lookup(op);
    return i && (i->flags & PROTO_F_GRAPH);
}

/* cuBLAS calls that change a handle's state instead of enqueueing work (rows flagged STATE
 * in protocol/api/cublas.def): during a capture they still run at once (as in the runtime,
 * where they are not stream operations) and a graph never holds them. */
static inline int proto_graph_lib_state(uint32_t api) { return proto_api_is_state(api); }

/* Largest record area of one graph and largest sum of its GRAPH_H2D copies (the bytes each
 * GRAPH_LAUNCH carries): record lengths are 32 bits. */
#define PROTO_GRAPH_MAX_BYTES ((uint64_t)1 << 30)
#define PROTO_GRAPH_MAX_H2D ((uint64_t)64 << 20)

#endif
