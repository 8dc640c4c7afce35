/* modules.h — what the shim's module files share: modules, functions, device variables, lazy loading.
 *
 * shim/register.c (nvcc's registration ABI), shim/module_load.c (lazy loading and layouts),
 * shim/module_driver.c (modules the program hands over through the driver API),
 * shim/symbols.c (device variables), shim/launch.c (call configuration and launches) and
 * shim/func_query.c (attributes, occupancy). Lock held for everything here. */
#ifndef GENIE_SHIM_MODULES_H
#define GENIE_SHIM_MODULES_H

#include "shim/shim_int.h"

/* CUDA 12.1+ allows 32764 bytes of kernel parameters; the executor counts up to 32768. */
#define SHIM_MAX_PARAMS (64u << 10)

struct shim_module {
    SHIM_HANDLE_FIELDS /* magic, id, generation: shim_int.h */
    const uint8_t *image; /* borrowed: the program's static fatbin; or owned (below) */
    size_t len;
    genie_hash128 hash;
    int hashed;
    int loaded; /* the executor bound our ID to the module */
    /* driver-API modules only: the image is a private copy (freed once loaded) and the
     * module owns its functions */
    uint8_t *owned;
    shim_func *funcs;
    /* the fatbin registered device variables: the executor loads it for this session alone
     * (MODULE_LOAD_PRIVATE), so that its variables are not shared with other sessions */
    int has_vars;
};

/* A device variable (__device__, __constant__) of a registered fatbin, by its host shadow. */
typedef struct shim_var {
    shim_module *module;
    const char *name; /* borrowed from the program's static data */
    size_t size;
    uint64_t dptr; /* 0 until GLOBAL_GET told us */
} shim_var;

/* What a module load or layout fetch brought back (module_load.c). */
typedef struct prep_reply {
    shim_func *f;
    int module_seen, module_loaded, func_ok;
    cudaError_t err; /* the first failure: a failed load, not the FUNC_GET it dooms */
    int32_t cu_err;
} prep_reply;

/* The function registered for a host stub or a kernel handle (register.c), or NULL. */
shim_func *shim_func_lookup_locked(const void *host_fun_or_kernel);
/* The device variable behind a host shadow (register.c), or NULL. */
shim_var *shim_var_lookup(const void *host_var);
/* Loads m remotely if it is not yet, and fetches f's layout (f may be NULL): one round trip,
 * or two when the executor does not have a shared module by hash (module_load.c). */
cudaError_t shim_module_prepare(shim_module *m, shim_func *f, prep_reply *pr);

#endif
