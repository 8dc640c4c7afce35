/* genie.h — the common module's public header: errors, logging, env config, buffers, hashing, an LRU. */
#ifndef GENIE_COMMON_H
#define GENIE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Errors: 0 or a negative GENIE_E* code. One X-macro yields the codes and their messages. */
#define GENIE_ERRNO_MAP(XX)                                                                    \
    XX(NOMEM, "out of memory")                                                                 \
    XX(INVAL, "invalid argument")                                                              \
    XX(PROTO, "malformed or corrupted frame")                                                  \
    XX(VERSION, "protocol version mismatch")                                                   \
    XX(TOOBIG, "message exceeds the size limit")                                               \
    XX(TRUNC, "truncated frame")                                                               \
    XX(CRC, "frame checksum mismatch")                                                         \
    XX(CONNECT, "cannot reach genie-remote")                                                   \
    XX(TIMEOUT, "deadline exceeded waiting for genie-remote")                                  \
    XX(CLOSED, "connection to genie-remote lost")                                              \
    XX(AUTH, "authentication token rejected")                                                  \
    XX(NOTSUP, "not supported by Genie")                                                       \
    XX(RANGE, "address range outside the session's allocations")                               \
    XX(HANDLE, "unknown handle")                                                               \
    XX(DRIVER, "CUDA driver error")                                                            \
    XX(IO, "I/O error")

typedef enum genie_err {
    GENIE_OK = 0,
    GENIE_E__BASE = -1000,
#define GENIE_XX_(code, _) GENIE_E##code,
    GENIE_ERRNO_MAP(GENIE_XX_)
#undef GENIE_XX_
    GENIE_E__END
} genie_err;

const char *genie_strerror(int err);

/* Logging to stderr, prefixed "genie[pid]:". Level from GENIE_LOG (error|warn|info|debug). */
enum { GENIE_LOG_ERROR = 0, GENIE_LOG_WARN, GENIE_LOG_INFO, GENIE_LOG_DEBUG };
extern int genie_log_level;
void genie_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define GENIE_ERROR(...) genie_log(GENIE_LOG_ERROR, __VA_ARGS__)
#define GENIE_WARN(...) genie_log(GENIE_LOG_WARN, __VA_ARGS__)
#define GENIE_INFO(...)                                                                        \
    do {                                                                                       \
        if (genie_log_level >= GENIE_LOG_INFO)                                                 \
            genie_log(GENIE_LOG_INFO, __VA_ARGS__);                                            \
    } while (0)
#define GENIE_DEBUG(...)                                                                       \
    do {                                                                                       \
        if (genie_log_level >= GENIE_LOG_DEBUG)                                                \
            genie_log(GENIE_LOG_DEBUG, __VA_ARGS__);                                           \
    } while (0)
void genie_log_init(void);

/* Call-site traces for error reports (common/trace.c, LLVM libunwind). Frames inside the
 * object that holds Genie are left out. genie_callers: up to max return addresses, innermost
 * first; genie_pc_name: "symbol+0xoff (object)" or "object+0xoff"; genie_callers_str: up to
 * depth of them joined by " <- ", returns how many. genie_warn_once_at logs fmt at warn level,
 * once per *once flag (NULL: every time), followed by "(called from ...)" with
 * GENIE_TRACE_DEPTH frames (3; 0 leaves the trace out). */
int genie_callers(uintptr_t *pcs, int max);
void genie_pc_name(uintptr_t pc, char *buf, size_t n);
int genie_callers_str(char *buf, size_t n, int depth);
void genie_warn_once_at(_Atomic unsigned char *once, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Environment configuration. */
const char *genie_env_str(const char *name, const char *dflt);
long long genie_env_int(const char *name, long long dflt);
int genie_env_bool(const char *name, int dflt);

/* A growable byte buffer. The owner frees data with genie_buf_free. */
typedef struct genie_buf {
    uint8_t *data;
    size_t len, cap;
    /* data is someone else's memory (a shared window): never realloc'd or freed here; the
     * first growth past cap moves the bytes into malloc'd memory (and clears this). */
    int borrowed;
} genie_buf;
int genie_buf_reserve(genie_buf *b, size_t extra);
int genie_buf_append(genie_buf *b, const void *p, size_t n);
/* Returns a pointer to n fresh bytes at the end (uninitialised) or NULL. */
void *genie_buf_grow(genie_buf *b, size_t n);
void genie_buf_reset(genie_buf *b);
void genie_buf_free(genie_buf *b);

/* Hashing: CRC32C (Castagnoli) for frames, XXH3-128 for content addressing. */
uint32_t genie_crc32c(uint32_t crc, const void *p, size_t n);
typedef struct genie_hash128 {
    uint64_t lo, hi;
} genie_hash128;
genie_hash128 genie_hash_content(const void *p, size_t n);

/* An intrusive LRU list with a hash index over (128-bit content key, size): the weight caches
 * of the executor (remote/wcache.c) and of the front (remote/wshare.c). An entry embeds a
 * genie_lru_node (first member, so a node pointer casts back to it) and the caller frees it
 * after genie_lru_remove; the list owns nothing and takes no lock (the caller's). */
#define GENIE_LRU_BUCKETS 1024
typedef struct genie_lru_node {
    struct genie_lru_node *prev, *next; /* LRU order: head most recently used */
    struct genie_lru_node *hnext;       /* bucket chain */
    genie_hash128 key;
    uint64_t size;
} genie_lru_node;
typedef struct genie_lru {
    genie_lru_node *head, *tail;
    genie_lru_node *buckets[GENIE_LRU_BUCKETS];
    size_t n;       /* entries */
    uint64_t bytes; /* sum of their sizes */
} genie_lru;
void genie_lru_init(genie_lru *l);
/* The entry of (key, size), or NULL; its place in the order is unchanged. */
genie_lru_node *genie_lru_find(const genie_lru *l, genie_hash128 key, uint64_t size);
/* Adds e (key and size set, not in the list) as the most recently used. */
void genie_lru_insert(genie_lru *l, genie_lru_node *e);
/* Makes e the most recently used. */
void genie_lru_touch(genie_lru *l, genie_lru_node *e);
/* Takes e out of the order and the index (the caller then frees it). */
void genie_lru_remove(genie_lru *l, genie_lru_node *e);

/* Monotonic clock in nanoseconds. */
uint64_t genie_now_ns(void);

#endif
