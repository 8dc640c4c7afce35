/* reduce_twin.c — CPU twins of reduce.cu's two-pass sum kernels (int/long long and float). */
#include <stdlib.h>

#include "tests/workloads/wl_twin.h"

#define WL_CUDA_ERROR_ILLEGAL_ADDRESS 700

/* The kernels index with threadIdx.x/blockIdx.x only (1-D launches). Per block, the twin
 * runs each thread's grid-stride sum in thread order, then the same shared-memory tree
 * (s = blockDim/2, /4, ...; thread t < s adds slot t + s). Reads of [s, 2s) and writes
 * of [0, s) do not overlap within a step, so running a step's threads in order is what
 * the barrier-separated step computes: float sums come out bit-exact. */

/* Shared memory is dynamic: a launch with less than blockDim.x * sizeof(Acc) bytes
 * would index past it on a GPU; the twin reports that instead of reading garbage. */
#define WL_REDUCE_CHECK_SHMEM(l, Acc)                                                        \
    do {                                                                                   \
        if ((uint64_t)(l)->shmem < (uint64_t)(l)->block.x * sizeof(Acc))                   \
            return WL_CUDA_ERROR_ILLEGAL_ADDRESS;                                          \
    } while (0)

#define WL_REDUCE_TREE(sh, bd)                                                             \
    do {                                                                                   \
        for (unsigned s_ = (bd) / 2; s_ > 0; s_ >>= 1)                                     \
            for (unsigned t_ = 0; t_ < s_; t_++)                                           \
                (sh)[t_] += (sh)[t_ + s_];                                                 \
    } while (0)

/* template <In, Acc> __global__ void reduce_partial(const In *in, int n, Acc *partial) */
#define WL_REDUCE_PARTIAL(fname, In, Acc)                                                  \
    static int fname(const fg_launch *l, void **args)                                      \
    {                                                                                      \
        const In *in = wl_ptr(args, 0);                                                    \
        int32_t n = wl_i32(args, 1);                                                       \
        Acc *partial = wl_ptr(args, 2);                                                    \
        unsigned bd = l->block.x;                                                          \
        int64_t stride = (int64_t)l->grid.x * bd;                                          \
        WL_REDUCE_CHECK_SHMEM(l, Acc);                                                     \
        if (bd == 0)                                                                       \
            return 0;                                                                      \
        Acc *sh = malloc((size_t)bd * sizeof(Acc)); /* stands for the block's shared mem */ \
        if (!sh)                                                                           \
            return WL_CUDA_ERROR_OUT_OF_MEMORY;                                            \
        for (unsigned b = 0; b < l->grid.x; b++) {                                         \
            for (unsigned t = 0; t < bd; t++) {                                            \
                Acc acc = 0;                                                               \
                for (int64_t i = (int64_t)b * bd + t; i < n; i += stride)                  \
                    acc += (Acc)in[i];                                                     \
                sh[t] = acc;                                                               \
            }                                                                              \
            WL_REDUCE_TREE(sh, bd);                                                        \
            partial[b] = sh[0];                                                            \
        }                                                                                  \
        free(sh);                                                                          \
        return 0;                                                                          \
    }

/* template <Acc> __global__ void reduce_final(const Acc *partial, int m, Acc *out)
 * Every block computes the same value and stores it to out[0]; one block's worth of
 * work is the whole grid's result. */
#define WL_REDUCE_FINAL(fname, Acc)                                                        \
    static int fname(const fg_launch *l, void **args)                                      \
    {                                                                                      \
        const Acc *partial = wl_ptr(args, 0);                                              \
        int32_t m = wl_i32(args, 1);                                                       \
        Acc *out = wl_ptr(args, 2);                                                        \
        unsigned bd = l->block.x;                                                          \
        WL_REDUCE_CHECK_SHMEM(l, Acc);                                                     \
        if (bd == 0 || l->grid.x == 0)                                                     \
            return 0;                                                                      \
        Acc *sh = malloc((size_t)bd * sizeof(Acc));                                        \
        if (!sh)                                                                           \
            return WL_CUDA_ERROR_OUT_OF_MEMORY;                                            \
        for (unsigned t = 0; t < bd; t++) {                                                \
            Acc acc = 0;                                                                   \
            for (int64_t i = t; i < m; i += bd)                                            \
                acc += partial[i];                                                         \
            sh[t] = acc;                                                                   \
        }                                                                                  \
        WL_REDUCE_TREE(sh, bd);                                                            \
        out[0] = sh[0];                                                                    \
        free(sh);                                                                          \
        return 0;                                                                          \
    }

WL_REDUCE_PARTIAL(reduce_partial_ix_twin, int32_t, long long)
WL_REDUCE_PARTIAL(reduce_partial_ff_twin, float, float)
WL_REDUCE_FINAL(reduce_final_x_twin, long long)
WL_REDUCE_FINAL(reduce_final_f_twin, float)

/* Names from the sm_90 cubin's symbol table (readelf -s), i.e. what the host stub passes
 * to __cudaRegisterFunction. Parameters: pointer 8, int 4, pointer 8. */
FG_TWIN(reduce_partial_ix, "_Z14reduce_partialIixEvPKT_iPT0_", reduce_partial_ix_twin, 3, 8, 4, 8)
FG_TWIN(reduce_partial_ff, "_Z14reduce_partialIffEvPKT_iPT0_", reduce_partial_ff_twin, 3, 8, 4, 8)
FG_TWIN(reduce_final_x, "_Z12reduce_finalIxEvPKT_iPS0_", reduce_final_x_twin, 3, 8, 4, 8)
FG_TWIN(reduce_final_f, "_Z12reduce_finalIfEvPKT_iPS0_", reduce_final_f_twin, 3, 8, 4, 8)
