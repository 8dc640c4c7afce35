/* fg_twin.c — the registry of CPU twins, filled by FG_TWIN constructors, looked up by name. */
#include "fakegpu_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Own lock, statically initialised: registration runs from constructors, possibly before
 * anything else in the library. Entries are never freed, so fg_twin_find's pointer stays
 * valid for the life of the process (a re-registration updates the entry in place). */
static pthread_mutex_t fg_twin_lock = PTHREAD_MUTEX_INITIALIZER;
static fg_twin **fg_twins;
static size_t fg_ntwins, fg_captwins;

static fg_twin *fg_twin_lookup(const char *name)
{
    for (size_t i = 0; i < fg_ntwins; i++)
        if (strcmp(fg_twins[i]->name, name) == 0)
            return fg_twins[i];
    return NULL;
}

void fg_twin_register(const fg_twin *t)
{
    if (!t || !t->name || !t->fn || t->nparams > FG_MAX_PARAMS) {
        fprintf(stderr, "fakegpu: bad twin registration for %s\n",
                t && t->name ? t->name : "(null)");
        return;
    }
    pthread_mutex_lock(&fg_twin_lock);
    fg_twin *e = fg_twin_lookup(t->name);
    if (e) {
        e->fn = t->fn;
        e->nparams = t->nparams;
        memcpy(e->sizes, t->sizes, sizeof e->sizes);
    } else {
        char *name = strdup(t->name);
        e = malloc(sizeof *e);
        if (fg_ntwins == fg_captwins) {
            size_t cap = fg_captwins ? 2 * fg_captwins : 64;
            fg_twin **nt = realloc(fg_twins, cap * sizeof *nt);
            if (nt) {
                fg_twins = nt;
                fg_captwins = cap;
            }
        }
        if (!name || !e || fg_ntwins == fg_captwins) {
            free(name);
            free(e);
            pthread_mutex_unlock(&fg_twin_lock);
            fprintf(stderr, "fakegpu: out of memory registering twin %s\n", t->name);
            return;
        }
        *e = *t;
        e->name = name;
        fg_twins[fg_ntwins++] = e;
    }
    pthread_mutex_unlock(&fg_twin_lock);
}

const fg_twin *fg_twin_find(const char *name)
{
    if (!name)
        return NULL;
    pthread_mutex_lock(&fg_twin_lock);
    const fg_twin *e = fg_twin_lookup(name);
    pthread_mutex_unlock(&fg_twin_lock);
    return e;
}

/* ---- device variables: a registry like the twins' (entries never freed) ---- */
static fg_global **fg_globals;
static size_t fg_nglobals, fg_capglobals;

static fg_global *fg_global_lookup(const char *name)
{
    for (size_t i = 0; i < fg_nglobals; i++)
        if (strcmp(fg_globals[i]->name, name) == 0)
            return fg_globals[i];
    return NULL;
}

void fg_global_register(const fg_global *g)
{
    if (!g || !g->name || !g->size) {
        fprintf(stderr, "fakegpu: bad device variable registration for %s\n",
                g && g->name ? g->name : "(null)");
        return;
    }
    pthread_mutex_lock(&fg_twin_lock);
    fg_global *e = fg_global_lookup(g->name);
    if (e) {
        e->size = g->size;
        pthread_mutex_unlock(&fg_twin_lock);
        return;
    }
    char *name = strdup(g->name);
    e = malloc(sizeof *e);
    if (fg_nglobals == fg_capglobals) {
        size_t cap = fg_capglobals ? 2 * fg_capglobals : 16;
        fg_global **ng = realloc(fg_globals, cap * sizeof *ng);
        if (ng) {
            fg_globals = ng;
            fg_capglobals = cap;
        }
    }
    if (!name || !e || fg_nglobals == fg_capglobals) {
        free(name);
        free(e);
        pthread_mutex_unlock(&fg_twin_lock);
        fprintf(stderr, "fakegpu: out of memory registering device variable %s\n", g->name);
        return;
    }
    e->name = name;
    e->size = g->size;
    fg_globals[fg_nglobals++] = e;
    pthread_mutex_unlock(&fg_twin_lock);
}

const fg_global *fg_global_find(const char *name)
{
    if (!name)
        return NULL;
    pthread_mutex_lock(&fg_twin_lock);
    const fg_global *e = fg_global_lookup(name);
    pthread_mutex_unlock(&fg_twin_lock);
    return e;
}
