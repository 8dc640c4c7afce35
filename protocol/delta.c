/* delta.c — the BATCH_DELTA patch format (see delta.h): encode a payload against a template,
 * check and apply a patch list. */
#include "protocol/delta.h"

#include <string.h>

int proto_delta_encode(const uint8_t *cur, const uint8_t *old, size_t n, size_t budget,
                       genie_buf *out, uint32_t *npatches)
{
    genie_buf_reset(out);
    *npatches = 0;
    if (n > UINT32_MAX)
        return GENIE_EINVAL;
    uint32_t np = 0;
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n && !memcmp(cur + i, old + i, 8)) /* skip equal words */
            i += 8;
        while (i < n && cur[i] == old[i])
            i++;
        if (i >= n)
            break;
        size_t last = i, j = i + 1;
        for (; j < n && j - last <= PROTO_DELTA_GAP; j++)
            if (cur[j] != old[j])
                last = j;
        size_t len = last + 1 - i;
        if (out->len + PROTO_DELTA_RUN_HDR + len > budget)
            return GENIE_ETOOBIG;
        uint32_t h[2] = {(uint32_t)i, (uint32_t)len};
        if (genie_buf_append(out, h, sizeof h) || genie_buf_append(out, cur + i, len))
            return GENIE_ENOMEM;
        np++;
        i = last + 1;
    }
    *npatches = np;
    return 0;
}

/* Walks the list; with buf NULL it only checks. */
static const char *walk(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                        uint32_t npatches)
{
    const uint8_t *p = patches, *end = patches + len;
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < npatches; i++) {
        uint32_t off, rl;
        if (end - p < PROTO_DELTA_RUN_HDR)
            return "patch list truncated";
        memcpy(&off, p, 4);
        memcpy(&rl, p + 4, 4);
        p += PROTO_DELTA_RUN_HDR;
        if ((size_t)(end - p) < rl)
            return "patch bytes truncated";
        if (rl == 0)
            return "empty patch";
        if ((uint64_t)off + rl > n)
            return "patch outside the template";
        if (i && off < prev_end)
            return "patches overlap or are out of order";
        if (buf)
            memcpy(buf + off, p, rl);
        prev_end = (uint64_t)off + rl;
        p += rl;
    }
    if (p != end)
        return "bytes after the last patch";
    return NULL;
}

const char *proto_delta_apply(uint8_t *buf, size_t n, const uint8_t *patches, size_t len,
                              uint32_t npatches)
{
    const char *why = walk(NULL, n, patches, len, npatches);
    if (why)
        return why;
    walk(buf, n, patches, len, npatches);
    return NULL;
}
