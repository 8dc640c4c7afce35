/* shim_blas.h — the shim's cuBLAS/cuBLASLt side: client handles and the LIB_CALL recorder.
 *
 * A forwarded call (cublas.def kind FWD/FWDI) is one LIB_CALL record {api, args}; args are
 * the parameters in order, packed without padding:
 *   HANDLE, HNEW, HDEL, STREAM   u32 client ID
 *   VAL                          sizeof(x) bytes, as the value is in memory
 *   DEV                          u64 device address
 *   SCALAR                       u32 kind (0 host value, 1 device pointer), u32 size,
 *                                16 bytes: the value (host) or the u64 address (device)
 *   RESULT                       u32 kind (0 host: the value comes back as R_DATA; 1 device),
 *                                u32 size, u64 device address (0 for host)
 *   HOUT                         RESULT's layout, kind always 0: a host output whatever the
 *                                pointer mode (int *info); it comes back as R_DATA, also
 *                                ahead of the error when the call fails
 * The generated recorder (shim/gen/cublas_api.c) calls these helpers in parameter order. */
#ifndef GENIE_SHIM_BLAS_H
#define GENIE_SHIM_BLAS_H

#include <cublasLt.h>
#include <cublas_v2.h>

#include "protocol/gen/roles.h"
#include "shim/shim_int.h"

#define SHIM_LIB_SCALAR_BYTES 24
#define SHIM_LIB_RESULT_BYTES 16
enum { SHIM_LIB_HOST = 0, SHIM_LIB_DEVICE = 1 };

/* A cuBLAS handle as the client sees it: the mirror of the state the executor's real handle
 * has, so getters need no round trip and a setter asked for the value the handle already has
 * records nothing (PyTorch sets stream, workspace and math mode before every GEMM). It starts
 * from cuBLAS's defaults when the create is recorded. The cublasHandle_t is a pointer to this.
 *
 * One deferral: cublasSetStream resets the workspace to cuBLAS's default pool even when the
 * stream does not change. An elided SetStream on a handle with a user workspace sets
 * workspace_reset_due instead of recording: a SetWorkspace with the same buffer then cancels
 * it (PyTorch's pattern), and any other call on the handle records the SetStream first
 * (shim_lib_begin_on), so the executor's handle never works with a workspace the client
 * believes it has given up. */
typedef struct shim_blas_handle {
    SHIM_HANDLE_FIELDS /* magic, id, generation: shim_int.h */
    cudaStream_t stream;
    uint32_t stream_id; /* stream's client ID when set: a destroyed stream no longer has it */
    cublasPointerMode_t pointer_mode;
    cublasMath_t math_mode;
    cublasAtomicsMode_t atomics_mode;
    int workspace_user;       /* 0: cuBLAS's default pool; 1: workspace/workspace_size */
    int workspace_reset_due;  /* see above */
    void *workspace;          /* borrowed: the program's device memory */
    size_t workspace_size;
} shim_blas_handle;
#define SHIM_BLAS_MAGIC 0x424c4153u

/* NULL when h is not a live handle of ours. */
shim_blas_handle *shim_blas_handle_of(cublasHandle_t h);

typedef struct shim_lib_call {
    uint8_t *p, *end;     /* the args area of the record being written */
    shim_rec rec;         /* the LIB_CALL being recorded: rolled back on error */
    int status;           /* cublasStatus_t to return */
    unsigned api;         /* GENIE_API_ ID of the call */
    shim_blas_handle *h;  /* the call's handle (pointer mode) */
    shim_blas_handle *checked; /* the handle shim_lib_begin_on found live, or NULL */
    shim_blas_handle *created, *destroyed;
    void *result;         /* host RESULT destination */
    size_t result_size;
    sem_op *op;           /* its IR descriptor, staged by shim_lib_begin */
    int64_t vals[24];     /* the VAL arguments of up to 8 bytes, in order (GEMM shapes) */
    uint32_t nvals;       /* how many there were (more than vals holds: the rest unknown) */
} shim_lib_call;

/* Starts the record (the generated wrapper holds the lock); nonzero (with c->status set) when
 * the call cannot be recorded. Every helper below records its argument or sets c->status. */
int shim_lib_begin(shim_lib_call *c, unsigned api, size_t args_len);
/* shim_lib_begin for a call on handle h that may use its workspace: first records what the
 * executor's handle state lacks (a deferred workspace reset). */
int shim_lib_begin_on(shim_lib_call *c, cublasHandle_t h, unsigned api, size_t args_len);
void shim_lib_handle(shim_lib_call *c, cublasHandle_t h);
void shim_lib_hnew(shim_lib_call *c, cublasHandle_t *out);
void shim_lib_hdel(shim_lib_call *c, cublasHandle_t h);
void shim_lib_stream(shim_lib_call *c, cudaStream_t s);
void shim_lib_val(shim_lib_call *c, const void *v, size_t n);
void shim_lib_dev(shim_lib_call *c, const void *p);
/* The call's device buffers with their roles and extents (proto_bufs_<api>, from the table's
 * DEV_IN/DEV_OUT/DEV_INOUT): the ranges of its IR descriptor. After the last argument. */
void shim_lib_bufs(shim_lib_call *c, const proto_buf *b, int n);
void shim_lib_scalar(shim_lib_call *c, const void *p, size_t n);
void shim_lib_result(shim_lib_call *c, void *p, size_t n);
/* HOUT: a host output in either pointer mode (int *info of the batched solvers). A call has
 * one host output at most: the executor has one buffer for it. */
void shim_lib_hout(shim_lib_call *c, void *p, size_t n);
/* Finishes the record (or rolls it back), flushes when a host result is due and returns the
 * cublasStatus_t. */
int shim_lib_end(shim_lib_call *c);

/* Bytes of alpha/beta for a compute type (the scale type follows it). */
size_t shim_blas_scalar_size(cublasComputeType_t t);

/* Generated wrappers' helpers. */
cublasStatus_t shim_deny_blas(unsigned apix);
cublasStatus_t shim_bad_blas_arg(unsigned apix, const char *arg);
/* A cudaError_t from the executor as a cuBLAS status. */
cublasStatus_t shim_blas_status(cudaError_t e);

#endif
