/* graph.c — the dependency graph of a batch's IR: stream order, data hazards, events, barriers. */
#include "semantics/sem.h"

#include <stdlib.h>
#include <string.h>

#include "common/genie.h"

/* A range as an interval [lo, hi); unknown extents widened by the extent function, or to
 * everything. */
typedef struct iv {
    uint64_t lo, hi;
    uint32_t mode;
} iv;

static iv interval(const sem_range *r, sem_extent_fn extent, void *ud)
{
    iv v = {r->ptr, r->ptr + r->size, r->mode};
    if (r->size != SEM_SIZE_UNKNOWN && v.hi > v.lo)
        return v;
    uint64_t start, size;
    if (extent && extent(ud, r->ptr, &start, &size) && size && r->ptr >= start &&
        r->ptr - start < size) {
        /* a kernel may index backwards from an interior pointer: the whole allocation */
        v.lo = start;
        v.hi = start + size;
        return v;
    }
    v.lo = 0;
    v.hi = UINT64_MAX;
    return v;
}

static int is_barrier(unsigned kind)
{
    switch (kind) {
    case SEM_OP_SYNC:
    case SEM_OP_MEM:
    case SEM_OP_GRAPH:
    case SEM_OP_HANDLE: /* later ops may use the stream, event or handle it makes or changes */
    case SEM_OP_OTHER:
        return 1;
    default:
        return 0;
    }
}

static int is_legacy(uint32_t stream) { return stream < 3; }

/* Whether two ops' range sets conflict (overlap with at least one write). */
static int conflict(const iv *a, uint32_t na, const iv *b, uint32_t nb)
{
    for (uint32_t i = 0; i < na; i++)
        for (uint32_t j = 0; j < nb; j++)
            if (((a[i].mode | b[j].mode) & SEM_W) && a[i].lo < b[j].hi && b[j].lo < a[i].hi)
                return 1;
    return 0;
}

typedef struct edges {
    uint32_t *to, *from;
    uint8_t *why;
    uint32_t n, cap;
} edges;

static int add(edges *e, uint32_t from, uint32_t to, uint8_t why)
{
    if (e->n && e->to[e->n - 1] == to && e->from[e->n - 1] == from) {
        e->why[e->n - 1] |= why;
        return 0;
    }
    if (e->n == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 256;
        uint32_t *t = realloc(e->to, cap * sizeof *t);
        if (!t)
            return GENIE_ENOMEM;
        e->to = t;
        uint32_t *f = realloc(e->from, cap * sizeof *f);
        if (!f)
            return GENIE_ENOMEM;
        e->from = f;
        uint8_t *w = realloc(e->why, cap);
        if (!w)
            return GENIE_ENOMEM;
        e->why = w;
        e->cap = cap;
    }
    e->to[e->n] = to;
    e->from[e->n] = from;
    e->why[e->n] = why;
    e->n++;
    return 0;
}

/* The last op of each stream seen so far (few streams per batch: a list). */
typedef struct last_on {
    uint32_t stream, op;
} last_on;

int sem_graph_build(sem_graph *g, const sem_ir *ir, sem_extent_fn extent, void *ud)
{
    memset(g, 0, sizeof *g);
    if (ir->lost)
        return GENIE_EINVAL;
    uint32_t n = ir->n;
    if (n > SEM_GRAPH_MAX_OPS)
        return GENIE_ETOOBIG;
    int rc = GENIE_ENOMEM;
    edges e = {0};
    iv *ivs = malloc(((size_t)ir->nranges + 1) * sizeof *ivs);
    uint8_t *row = calloc((size_t)n + 1, 1);          /* why, per earlier op, for this row */
    last_on *last = malloc(((size_t)n + 1) * sizeof *last); /* at most one per op */
    uint32_t nlast = 0, legacy_last = UINT32_MAX;
    g->first = calloc((size_t)n + 1, sizeof *g->first);
    if (!ivs || !row || !last || !g->first)
        goto out;
    for (uint32_t i = 0; i < ir->nranges; i++)
        ivs[i] = interval(&ir->ranges[i], extent, ud);
    g->nops = n;
    for (uint32_t j = 0; j < n; j++) {
        const sem_op *b = &ir->ops[j];
        uint32_t lo = j; /* the earliest op this row touched */
        /* program order: the last op of the same stream; the legacy stream also orders
         * against every other stream (as against blocking streams: conservative) */
        for (uint32_t s = 0; s < nlast; s++)
            if (last[s].stream == b->stream || is_legacy(b->stream)) {
                row[last[s].op] |= SEM_DEP_STREAM;
                lo = last[s].op < lo ? last[s].op : lo;
            }
        if (legacy_last != UINT32_MAX && !is_legacy(b->stream)) {
            row[legacy_last] |= SEM_DEP_STREAM;
            lo = legacy_last < lo ? legacy_last : lo;
        }
        /* data, events and barriers: back to the nearest barrier, which orders the rest */
        int bj = is_barrier(b->kind), event_seen = 0;
        for (uint32_t i = j; i-- > 0;) {
            const sem_op *a = &ir->ops[i];
            uint8_t why = 0;
            if (bj || is_barrier(a->kind))
                why |= SEM_DEP_BARRIER;
            if (!event_seen && b->kind == SEM_OP_STREAM_WAIT &&
                a->kind == SEM_OP_EVENT_RECORD && a->event == b->event) {
                why |= SEM_DEP_EVENT; /* the latest record of the event only */
                event_seen = 1;
            }
            if (conflict(ivs + a->first_range, a->nranges, ivs + b->first_range, b->nranges))
                why |= SEM_DEP_DATA;
            if (why) {
                row[i] |= why;
                lo = i < lo ? i : lo;
            }
            if (is_barrier(a->kind))
                break;
        }
        for (uint32_t i = j; i-- > lo;) /* nearest first */
            if (row[i]) {
                if (add(&e, i, j, row[i]))
                    goto out;
                row[i] = 0;
            }
        if (lo < j && row[lo]) {
            if (add(&e, lo, j, row[lo]))
                goto out;
            row[lo] = 0;
        }
        g->first[j + 1] = e.n;
        uint32_t s = 0;
        while (s < nlast && last[s].stream != b->stream)
            s++;
        if (s == nlast)
            nlast++;
        last[s] = (last_on){b->stream, j};
        if (is_legacy(b->stream))
            legacy_last = j;
    }
    g->preds = e.from;
    g->why = e.why;
    g->nedges = e.n;
    e.from = NULL;
    e.why = NULL;
    rc = 0;
out:
    free(ivs);
    free(row);
    free(last);
    free(e.to);
    free(e.from);
    free(e.why);
    if (rc)
        sem_graph_free(g);
    return rc;
}

void sem_graph_free(sem_graph *g)
{
    free(g->first);
    free(g->preds);
    free(g->why);
    memset(g, 0, sizeof *g);
}

int sem_graph_depends(const sem_graph *g, uint32_t to, uint32_t from, unsigned why)
{
    if (to >= g->nops)
        return 0;
    for (uint32_t k = g->first[to]; k < g->first[to + 1]; k++)
        if (g->preds[k] == from && (g->why[k] & why))
            return 1;
    return 0;
}

static uint32_t find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

uint32_t sem_graph_branches(const sem_graph *g, uint32_t *label)
{
    uint32_t n = g->nops;
    for (uint32_t i = 0; i < n; i++)
        label[i] = i; /* union-find in label; the smaller index becomes the root */
    for (uint32_t j = 0; j < n; j++)
        for (uint32_t k = g->first[j]; k < g->first[j + 1]; k++)
            if (g->why[k] & (SEM_DEP_DATA | SEM_DEP_EVENT | SEM_DEP_BARRIER)) {
                uint32_t a = find(label, j), b = find(label, g->preds[k]);
                if (a != b)
                    label[a > b ? a : b] = a < b ? a : b;
            }
    /* Roots are their own smallest member: after full compression a forward walk meets each
     * root before its members and numbers branches in order of first appearance. */
    for (uint32_t i = 0; i < n; i++)
        label[i] = find(label, i);
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++)
        label[i] = label[i] == i ? count++ : label[label[i]];
    return count;
}
