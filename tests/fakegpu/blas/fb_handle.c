/* fb_handle.c — the registry of live cuBLAS/cuBLASLt handles and their settings. */
#include "fb_int.h"

#include <pthread.h>
#include <stdlib.h>

#define FB_MAGIC 0x47424c53u /* "GBLS" */

/* The structs behind the public opaque handle types. */
struct fb_handle {
    uint32_t magic;
    enum fb_kind kind;
    struct fb_handle *next;
    struct fb_state st;
};
struct cublasContext {
    struct fb_handle h;
};
struct cublasLtContext {
    struct fb_handle h;
};

static pthread_mutex_t fb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fb_handle *fb_live; /* every live handle; few, so a list does */

/* Caller holds fb_lock. Compares addresses only, so h is never dereferenced unless live. */
static struct fb_handle *find(const void *h, unsigned kinds)
{
    for (struct fb_handle *p = fb_live; p; p = p->next)
        if ((const void *)p == h)
            return p->magic == FB_MAGIC && (p->kind & kinds) ? p : NULL;
    return NULL;
}

cublasStatus_t fb_handle_new(enum fb_kind kind, void **out)
{
    if (!out)
        return CUBLAS_STATUS_INVALID_VALUE;
    struct fb_handle *p = calloc(1, sizeof *p);
    if (!p)
        return CUBLAS_STATUS_ALLOC_FAILED;
    p->magic = FB_MAGIC;
    p->kind = kind;
    p->st.math = CUBLAS_DEFAULT_MATH;
    p->st.pointer_mode = CUBLAS_POINTER_MODE_HOST;
    p->st.atomics = CUBLAS_ATOMICS_NOT_ALLOWED;
    pthread_mutex_lock(&fb_lock);
    p->next = fb_live;
    fb_live = p;
    pthread_mutex_unlock(&fb_lock);
    *out = p;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t fb_handle_free(const void *h, enum fb_kind kind)
{
    pthread_mutex_lock(&fb_lock);
    struct fb_handle **pp = &fb_live;
    while (*pp && (const void *)*pp != h)
        pp = &(*pp)->next;
    struct fb_handle *p = *pp;
    if (!p || p->kind != kind) {
        pthread_mutex_unlock(&fb_lock);
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    *pp = p->next;
    pthread_mutex_unlock(&fb_lock);
    p->magic = 0;
    free(p);
    return CUBLAS_STATUS_SUCCESS;
}

/* Every cuBLAS and cuBLASLt call that takes a handle checks it here once: the place where the
 * fake counts them as API calls (fg_work_count_call). */
cublasStatus_t fb_handle_get(const void *h, unsigned kinds, struct fb_state *st)
{
    fg_work_count_call();
    pthread_mutex_lock(&fb_lock);
    struct fb_handle *p = find(h, kinds);
    if (p && st)
        *st = p->st;
    pthread_mutex_unlock(&fb_lock);
    return p ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t fb_handle_update(const void *h, void (*set)(struct fb_state *, const void *),
                                const void *arg)
{
    pthread_mutex_lock(&fb_lock);
    struct fb_handle *p = find(h, FB_BLAS);
    if (p)
        set(&p->st, arg);
    pthread_mutex_unlock(&fb_lock);
    return p ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t fb_handle_drain(const void *h)
{
    struct fb_state st;
    cublasStatus_t s = fb_handle_get(h, FB_BLAS, &st);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    return fg_work_drain(st.stream) ? CUBLAS_STATUS_EXECUTION_FAILED : CUBLAS_STATUS_SUCCESS;
}
