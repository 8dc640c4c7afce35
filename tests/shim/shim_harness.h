/* shim_harness.h — what the shim's unit tests share: the in-process executor on the fake GPU, counters. */
#ifndef GENIE_TESTS_SHIM_HARNESS_H
#define GENIE_TESTS_SHIM_HARNESS_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "shim/shim_int.h"

/* GENIE_REMOTE=local: the shim's objects talk to the executor linked into the test, which
 * drives the fake GPU (and the fake cuBLAS/cuBLASLt). Read at the first CUDA call. */
static inline void shim_test_env(void)
{
    setenv("GENIE_REMOTE", "local", 1);
    setenv("GENIE_CUDA_LIB", FAKEGPU_LIB, 1);
    setenv("GENIE_CUBLAS_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_CUBLASLT_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_VA_SIZE", "1073741824", 1);
    setenv("GENIE_LOG", "error", 1);
}

/* The shim's counters, read under its lock. */
static inline shim_stats shim_test_stats(void)
{
    shim_lock();
    shim_stats s = shim_g.stats;
    shim_unlock();
    return s;
}

#endif
