/* dnn.h — cuDNN on the wire: attribute element sizes and the legacy tensor descriptor's form.
 *
 * Backend descriptors (cudnnBackend*) exist twice: the client mirrors each one (type, the
 * attributes it set, whether it is finalized) and the executor holds the real one, under the
 * same client ID. DNN_BE_SET carries an attribute's elements as wide as in C, with descriptor
 * and handle elements replaced by their u64 client IDs. Legacy tensor descriptors live on the
 * client only and travel inside the compute call that uses them (proto_dnn_tensor). */
#ifndef GENIE_PROTOCOL_DNN_H
#define GENIE_PROTOCOL_DNN_H

#include <stddef.h>
#include <stdint.h>

#include <cudnn.h>

/* Bytes of one element of attribute type t in C, or 0 for a type Genie does not know (the
 * call is then refused with CUDNN_STATUS_NOT_SUPPORTED on the client). */
static inline size_t proto_dnn_elem_size(int t)
{
    switch (t) {
    case CUDNN_TYPE_HANDLE:
    case CUDNN_TYPE_VOID_PTR:
    case CUDNN_TYPE_BACKEND_DESCRIPTOR:
        return sizeof(void *);
    case CUDNN_TYPE_INT64:
    case CUDNN_TYPE_DOUBLE:
        return 8;
    case CUDNN_TYPE_BOOLEAN:
        return sizeof(_Bool);
    case CUDNN_TYPE_CHAR:
        return 1;
    case CUDNN_TYPE_FRACTION:
        return sizeof(cudnnFraction_t);
    case CUDNN_TYPE_FLOAT:
    case CUDNN_TYPE_INT32:
    case CUDNN_TYPE_DATA_TYPE:
    case CUDNN_TYPE_CONVOLUTION_MODE:
    case CUDNN_TYPE_HEUR_MODE:
    case CUDNN_TYPE_KNOB_TYPE:
    case CUDNN_TYPE_NAN_PROPOGATION:
    case CUDNN_TYPE_NUMERICAL_NOTE:
    case CUDNN_TYPE_LAYOUT_TYPE:
    case CUDNN_TYPE_ATTRIB_NAME:
    case CUDNN_TYPE_POINTWISE_MODE:
    case CUDNN_TYPE_GENSTATS_MODE:
    case CUDNN_TYPE_BN_FINALIZE_STATS_MODE:
    case CUDNN_TYPE_REDUCTION_OPERATOR_TYPE:
    case CUDNN_TYPE_BEHAVIOR_NOTE:
    case CUDNN_TYPE_TENSOR_REORDERING_MODE:
    case CUDNN_TYPE_RESAMPLE_MODE:
    case CUDNN_TYPE_PADDING_MODE:
    case CUDNN_TYPE_SIGNAL_MODE:
    case CUDNN_TYPE_NORM_MODE:
    case CUDNN_TYPE_NORM_FWD_PHASE:
    case CUDNN_TYPE_RNG_DISTRIBUTION:
    case CUDNN_TYPE_MOE_GROUPED_MATMUL_MODE:
        return 4;
    default:
        return 0;
    }
}

/* An attribute's elements travel in one record: at most this many bytes. */
#define PROTO_DNN_ATTR_MAX ((size_t)1 << 16)
/* DNN_BE_GET's reply starts with i64 count | i32 status | u32 0. */
#define PROTO_DNN_GET_HEAD 16u

/* A variant pack's data pointer that is a by-value scalar on the client's host, on the wire:
 * the tag | the element's index (never a device address: those are user-space, below 2^47);
 * see DNN_BE_VALUES in ops.def. Each slot holds at most 8 bytes (the widest by-value type). */
#define PROTO_DNN_BYVALUE_TAG 0xffff000000000000ull
#define PROTO_DNN_BYVALUE_SLOT 8u

/* A legacy tensor descriptor (cudnnSetTensorNdDescriptor): little-endian, packed. */
#define PROTO_DNN_MAX_DIMS 8
typedef struct proto_dnn_tensor {
    int32_t dtype; /* cudnnDataType_t */
    int32_t nd;    /* 0: not set */
    int32_t dims[PROTO_DNN_MAX_DIMS];
    int32_t strides[PROTO_DNN_MAX_DIMS];
} proto_dnn_tensor;

/* DNN_BN_SIZE's which: the size query it stands for, and the tensors it carries. */
enum {
    PROTO_DNN_BN_SIZE_FWD_WS = 1, /* ...ForwardTrainingExWorkspaceSize: x, z, y, bn */
    PROTO_DNN_BN_SIZE_RESERVE,    /* ...TrainingExReserveSpaceSize: x */
    PROTO_DNN_BN_SIZE_BWD_WS,     /* ...BackwardExWorkspaceSize: x, y, dy, dz, dx, dbn */
};

/* Bytes of one element of a cudnnDataType_t, 0 for one Genie does not know. */
static inline size_t proto_dnn_dtype_size(int dt)
{
    switch (dt) {
    case CUDNN_DATA_DOUBLE:
    case CUDNN_DATA_INT64:
        return 8;
    case CUDNN_DATA_FLOAT:
    case CUDNN_DATA_INT32:
        return 4;
    case CUDNN_DATA_HALF:
    case CUDNN_DATA_BFLOAT16:
        return 2;
    case CUDNN_DATA_INT8:
    case CUDNN_DATA_UINT8:
    case CUDNN_DATA_BOOLEAN:
        return 1;
    default:
        return 0;
    }
}

/* The bytes a tensor spans: 1 + sum((dim-1)*stride) elements, 0 when empty or malformed. */
static inline uint64_t proto_dnn_tensor_bytes(const proto_dnn_tensor *t)
{
    size_t es = proto_dnn_dtype_size(t->dtype);
    if (!es || t->nd <= 0 || t->nd > PROTO_DNN_MAX_DIMS)
        return 0;
    uint64_t span = 1;
    for (int i = 0; i < t->nd; i++) {
        if (t->dims[i] <= 0 || t->strides[i] < 0)
            return 0;
        span += (uint64_t)(t->dims[i] - 1) * (uint64_t)t->strides[i];
    }
    return span * es;
}

/* Why Genie refuses a backend attribute whose effect on a tensor's extent it cannot check (the
 * executor sizes each variant-pack tensor from the plan's finalized descriptors before
 * cudnnBackendExecute), or NULL when it is fine: a pointer anywhere but a variant pack's data
 * pointers and workspace; shapes and strides overridden at execution; intermediates; GEMM sizes
 * read from device tensors. The client refuses such a call with CUDNN_STATUS_NOT_SUPPORTED,
 * and the executor refuses the record. */
static inline const char *proto_dnn_attr_unchecked(uint32_t desc_type, uint32_t attr, int type)
{
    switch (attr) {
    case CUDNN_ATTR_VARIANT_PACK_OVERRIDE_UNIQUE_IDS:
    case CUDNN_ATTR_VARIANT_PACK_OVERRIDE_SHAPES:
    case CUDNN_ATTR_VARIANT_PACK_OVERRIDE_STRIDES:
        return "shapes overridden at execution";
    case CUDNN_ATTR_VARIANT_PACK_INTERMEDIATES:
        return "variant-pack intermediates";
    case CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC:
    case CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC:
    case CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC:
        return "GEMM sizes read from device tensors";
    default:
        break;
    }
    if (type == CUDNN_TYPE_VOID_PTR &&
        (desc_type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR ||
         (attr != CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS &&
          attr != CUDNN_ATTR_VARIANT_PACK_WORKSPACE)))
        return "a pointer outside a variant pack's data pointers and workspace";
    return NULL;
}

#endif
