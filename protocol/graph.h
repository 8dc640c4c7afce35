/* graph.h — what a captured CUDA graph may hold: shared by the shim's capture and the executor's
 * GRAPH_DEFINE check, so the two agree on one list. */
#ifndef GENIE_PROTOCOL_GRAPH_H
#define GENIE_PROTOCOL_GRAPH_H

#include <stdint.h>

#include "protocol/gen/api.h"
#include "protocol/gen/ops.h"

/* Record kinds a graph may hold: stream-ordered work. Event records, waits and D2H copies
 * are refused at capture (see docs/architecture.md); a graph never holds another graph op. */
static inline int proto_graph_op_ok(uint16_t op)
{
    switch (op) {
    case PROTO_OP_LAUNCH:
    case PROTO_OP_MEMCPY_D2D:
    case PROTO_OP_MEMSET:
    case PROTO_OP_GRAPH_H2D:
    case PROTO_OP_LIB_CALL:
    case PROTO_OP_LT_MATMUL:
        return 1;
    default:
        return 0;
    }
}

/* cuBLAS calls that change a handle's state instead of enqueueing work: during a capture
 * they still run at once (as in the runtime, where they are not stream operations) and a
 * graph never holds them. */
static inline int proto_graph_lib_state(uint32_t api)
{
    switch (api) {
    case GENIE_API_cublasCreate_v2:
    case GENIE_API_cublasDestroy_v2:
    case GENIE_API_cublasSetWorkspace_v2:
    case GENIE_API_cublasSetStream_v2:
    case GENIE_API_cublasSetPointerMode_v2:
    case GENIE_API_cublasSetAtomicsMode:
    case GENIE_API_cublasSetMathMode:
        return 1;
    default:
        return 0;
    }
}

/* Largest record area of one graph and largest sum of its GRAPH_H2D copies (the bytes each
 * GRAPH_LAUNCH carries): record lengths are 32 bits. */
#define PROTO_GRAPH_MAX_BYTES ((uint64_t)1 << 30)
#define PROTO_GRAPH_MAX_H2D ((uint64_t)64 << 20)

#endif
