/* func_query.c — function queries answered by the executor: attributes, settable attributes, occupancy. */
#include "shim/modules.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ function queries ---- */

/* One round trip for several FUNC_ATTR/OCCUPANCY queries. */
typedef struct query {
    shim_func *f;
    int n;
    uint64_t values[16];
    int got;
    int32_t cu_err; /* the executor's CUresult for a failed query */
} query;

static int query_cb(void *ud, const proto_rec *r)
{
    query *q = ud;
    if (r->op == PROTO_OP_R_VALUE) {
        proto_R_VALUE v;
        if (proto_get_R_VALUE(r, &v) || v.index >= 16)
            return GENIE_EPROTO;
        q->values[v.index] = v.value;
        q->got++;
    } else if (r->op == PROTO_OP_R_ERROR) {
        proto_R_ERROR e;
        if (q->got >= 0 && !proto_get_R_ERROR(r, &e))
            q->cu_err = e.cu_result;
        q->got = -1;
    }
    return 0;
}

static cudaError_t prepared(const void *func, shim_func **out)
{
    shim_func *f = shim_func_lookup_locked(func);
    *out = f; /* on every path: GCC at -O3 cannot see that shim_set_error never returns 0 */
    if (!f)
        return shim_set_error(cudaErrorInvalidDeviceFunction);
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess && !f->ready)
        e = shim_func_prepare(f);
    return e;
}

static cudaError_t run_query(genie_buf *b, query *q)
{
    cudaError_t e = shim_call_frame(b, SHIM_RT_QUERY, query_cb, q);
    genie_buf_free(b);
    if (e == cudaSuccess && q->got != q->n)
        e = shim_set_error(cudaErrorInvalidDeviceFunction);
    return e;
}

cudaError_t shim_impl_cudaFuncGetAttributes(struct cudaFuncAttributes *attr_,
                                            const void *func)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        genie_buf b = {0};
        query q = {f, 10, {0}, 0, 0};
        proto_frame_begin(&b, PROTO_KIND_REQUEST, 0);
        for (int a = 0; a < q.n; a++)
            if (!proto_put_FUNC_ATTR(&b, f->id, a))
                q.n = -1;
        e = q.n < 0 ? (genie_buf_free(&b), shim_set_error(cudaErrorMemoryAllocation))
                    : run_query(&b, &q);
        if (e == cudaSuccess) {
            memset(attr_, 0, sizeof *attr_);
            attr_->maxThreadsPerBlock = (int)q.values[CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK];
            attr_->sharedSizeBytes = q.values[CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES];
            attr_->constSizeBytes = q.values[CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES];
            attr_->localSizeBytes = q.values[CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES];
            attr_->numRegs = (int)q.values[CU_FUNC_ATTRIBUTE_NUM_REGS];
            attr_->ptxVersion = (int)q.values[CU_FUNC_ATTRIBUTE_PTX_VERSION];
            attr_->binaryVersion = (int)q.values[CU_FUNC_ATTRIBUTE_BINARY_VERSION];
            attr_->cacheModeCA = (int)q.values[CU_FUNC_ATTRIBUTE_CACHE_MODE_CA];
            attr_->maxDynamicSharedSizeBytes =
                (int)q.values[CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES];
            attr_->preferredShmemCarveout =
                (int)q.values[CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT];
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_func_attribute(shim_func *f, int attr_, int *value, int32_t *cu_err)
{
    *cu_err = 0;
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess && !f->ready)
        e = shim_func_prepare(f);
    if (e == cudaSuccess) {
        genie_buf b = {0};
        query q = {f, 1, {0}, 0, 0};
        if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) ||
            !proto_put_FUNC_ATTR(&b, f->id, attr_)) {
            genie_buf_free(&b);
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else if ((e = run_query(&b, &q)) == cudaSuccess) {
            *value = (int)(int64_t)q.values[0];
        } else {
            *cu_err = q.cu_err;
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr_,
                                           int value)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        /* cudaFuncAttribute values equal CUfunction_attribute values for the settable ones */
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, FUNC_SET_ATTR, f->id, (int32_t)attr_, value)) {
            e = shim_batch_fail(&r);
        } else {
            shim_sem_op(SEM_OP_HANDLE, PROTO_OP_FUNC_SET_ATTR, 0)->func = f->id;
            e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
        }
    }
    shim_unlock();
    return e;
}

static cudaError_t occupancy(int *numBlocks, const void *func, int blockSize, size_t smem,
                             unsigned flags)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        if (blockSize <= 0) {
            e = shim_set_error(cudaErrorInvalidValue);
        } else {
            genie_buf b = {0};
            query q = {f, 1, {0}, 0, 0};
            proto_frame_begin(&b, PROTO_KIND_REQUEST, 0);
            if (!proto_put_OCCUPANCY(&b, smem, f->id, (uint32_t)blockSize, flags)) {
                genie_buf_free(&b);
                e = shim_set_error(cudaErrorMemoryAllocation);
            } else if ((e = run_query(&b, &q)) == cudaSuccess) {
                *numBlocks = (int)q.values[0];
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks,
                                                                    const void *func,
                                                                    int blockSize,
                                                                    size_t dynamicSMemSize)
{
    return occupancy(numBlocks, func, blockSize, dynamicSMemSize, 0);
}

cudaError_t shim_impl_cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    int *numBlocks, const void *func, int blockSize, size_t dynamicSMemSize, unsigned int flags)
{
    return occupancy(numBlocks, func, blockSize, dynamicSMemSize, flags);
}

/* ---------------------------------------------------- answered on the client ---- */

/* The kernel's name as registered (its mangled name, as the runtime returns it). */
cudaError_t shim_impl_cudaFuncGetName(const char **name, const void *func)
{
    shim_lock();
    shim_func *f = shim_func_lookup_locked(func);
    cudaError_t e = cudaSuccess;
    if (!f)
        e = shim_set_error(cudaErrorInvalidDeviceFunction);
    else
        *name = f->device_name;
    shim_unlock();
    return e;
}

/* From the layout the executor sent with the function (cuFuncGetParamInfo there): one round
 * trip if the kernel was never launched or queried, none after. */
cudaError_t shim_impl_cudaFuncGetParamInfo(const void *func, size_t paramIndex,
                                           size_t *paramOffset, size_t *paramSize)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        if (paramIndex >= f->nparams) {
            e = shim_set_error(cudaErrorInvalidValue);
        } else {
            if (paramOffset)
                *paramOffset = f->offsets[paramIndex];
            if (paramSize)
                *paramSize = f->sizes[paramIndex];
        }
    }
    shim_unlock();
    return e;
}

/* A preference the runtime may ignore ("only a preference"; fixed on devices whose L1 and
 * shared memory split is fixed): checked and accepted, as launch hints are. */
cudaError_t shim_impl_cudaFuncSetCacheConfig(const void *func, enum cudaFuncCache cacheConfig)
{
    shim_lock();
    cudaError_t e = cudaSuccess;
    if (!shim_func_lookup_locked(func))
        e = shim_set_error(cudaErrorInvalidDeviceFunction);
    else if ((unsigned)cacheConfig > cudaFuncCachePreferEqual)
        e = shim_set_error(cudaErrorInvalidValue);
    shim_unlock();
    return e;
}
