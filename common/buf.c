/* buf.c — the growable byte buffer used for frames and replies. */
#include "common/genie.h"

#include <stdlib.h>
#include <string.h>

int genie_buf_reserve(genie_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return GENIE_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = b->borrowed ? malloc(cap) : realloc(b->data, cap);
    if (!p)
        return GENIE_ENOMEM;
    if (b->borrowed && b->len)
        memcpy(p, b->data, b->len);
    b->borrowed = 0;
    b->data = p;
    b->cap = cap;
    return 0;
}

void *genie_buf_grow(genie_buf *b, size_t n)
{
    /* An empty buffer gets memory even for 0 bytes: NULL means "no memory" to every caller,
     * and NULL + 0 is undefined (fuzz_batch found a 0-byte template appended to one). */
    if (genie_buf_reserve(b, n ? n : !b->data))
        return NULL;
    void *p = b->data + b->len;
    b->len += n;
    return p;
}

int genie_buf_append(genie_buf *b, const void *p, size_t n)
{
    void *dst = genie_buf_grow(b, n);
    if (!dst)
        return GENIE_ENOMEM;
    if (n)
        memcpy(dst, p, n);
    return 0;
}

void genie_buf_reset(genie_buf *b) { b->len = 0; }

void genie_buf_free(genie_buf *b)
{
    if (!b->borrowed)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->borrowed = 0;
}
