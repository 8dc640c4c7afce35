/* fakegpu_twin.h — how CPU twins of CUDA kernels register with the fake GPU.
 *
 * The fake GPU (libgenie_fakecuda.so) runs a kernel launched through cuLaunchKernel by
 * calling the twin registered under the kernel's (mangled) device name, the same name
 * the host stub passes to __cudaRegisterFunction. A twin runs the whole grid on the CPU
 * and must produce the results the CUDA kernel would (bit-exact where the kernel's
 * arithmetic order allows it). */
#ifndef GENIE_FAKEGPU_TWIN_H
#define GENIE_FAKEGPU_TWIN_H

#include <stddef.h>

#define FG_MAX_PARAMS 32

typedef struct fg_dim3 {
    unsigned x, y, z;
} fg_dim3;

typedef struct fg_launch {
    fg_dim3 grid, block;
    unsigned shmem;     /* dynamic shared memory bytes */
    const void *module; /* the module of the running kernel: for fg_global_ptr */
} fg_launch;

/* args[i] points to the bytes of parameter i (as cuLaunchKernel's kernelParams).
 * Returns 0, or a nonzero CUresult value to report (e.g. 700 CUDA_ERROR_ILLEGAL_ADDRESS). */
typedef int (*fg_twin_fn)(const fg_launch *l, void **args);

typedef struct fg_twin {
    const char *name; /* device (mangled) name */
    fg_twin_fn fn;
    unsigned nparams;
    unsigned sizes[FG_MAX_PARAMS]; /* bytes of each parameter; offsets use natural alignment */
} fg_twin;

/* Exported from libgenie_fakecuda.so even when the includer builds with
 * -fvisibility=hidden. */
#define FG_TWIN_API __attribute__((visibility("default")))

/* Registers a twin; the table is copied. Safe to call from constructors. Registering a
 * name again replaces that twin (the pointer fg_twin_find returned stays valid). */
FG_TWIN_API void fg_twin_register(const fg_twin *t);
/* NULL when no twin has that name. The entry lives as long as the process. */
FG_TWIN_API const fg_twin *fg_twin_find(const char *name);

/* Device variables (__device__, __constant__) the fake GPU knows by name: every module
 * loaded gets its own zero-filled copy of each, created on first use (cuModuleGetGlobal, or
 * a twin's fg_global_ptr). Register with FG_GLOBAL(ident, "name", size). */
typedef struct fg_global {
    const char *name; /* the name __cudaRegisterVar gives: unmangled at global scope */
    size_t size;
} fg_global;
FG_TWIN_API void fg_global_register(const fg_global *g);
FG_TWIN_API const fg_global *fg_global_find(const char *name);
/* For twins: the running kernel's module's copy of variable name, or NULL (unknown name,
 * out of memory). */
FG_TWIN_API void *fg_global_ptr(const fg_launch *l, const char *name);

#define FG_GLOBAL(ident, name, size)                                                               \
    __attribute__((constructor)) static void fg_global_ctor_##ident(void)                          \
    {                                                                                              \
        fg_global g = {name, size};                                                                \
        fg_global_register(&g);                                                                    \
    }

/* FG_TWIN(ident, "mangled", fn, nparams, size0, size1, ...) registers at load time. */
#define FG_TWIN(ident, mangled, fnp, np, ...)                                                      \
    __attribute__((constructor)) static void fg_twin_ctor_##ident(void)                            \
    {                                                                                              \
        fg_twin t = {mangled, fnp, np, {__VA_ARGS__}};                                             \
        fg_twin_register(&t);                                                                      \
    }

#endif
