/* test_handles.c — shim/handles.c: the registry of live client handles and the handle header. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "shim/shim_int.h"

Test(handles, add_lookup_delete)
{
    shim_stream *s = calloc(1, sizeof *s);
    shim_event *e = calloc(1, sizeof *e);
    cr_assert_eq(shim_handle_add(s, SHIM_STREAM_MAGIC), 0);
    cr_assert_eq(shim_handle_add(e, SHIM_EVENT_MAGIC), 0);
    cr_assert_eq(s->magic, SHIM_STREAM_MAGIC, "the registry sets the kind");
    cr_assert(shim_handle_is(s, SHIM_STREAM_MAGIC));
    cr_assert(shim_handle_is(s, 0), "kind 0: any kind");
    cr_assert_not(shim_handle_is(s, SHIM_EVENT_MAGIC), "a stream is not an event");
    cr_assert_eq(shim_handle_of(e, SHIM_EVENT_MAGIC), e);
    cr_assert_null(shim_handle_of(e, SHIM_STREAM_MAGIC));
    cr_assert_neq(s->generation, e->generation, "each registration has its own generation");
    /* a made-up pointer is never read through */
    cr_assert_not(shim_handle_is((const void *)(uintptr_t)0xdead0000, 0));
    shim_handle_del(s);
    cr_assert_eq(s->magic, 0, "a deleted handle's kind is cleared");
    cr_assert_not(shim_handle_is(s, SHIM_STREAM_MAGIC), "a destroyed handle is invalid");
    /* the same address registered again is a new handle with a new generation */
    uint32_t g = e->generation;
    shim_handle_del(e);
    cr_assert_eq(shim_handle_add(e, SHIM_EVENT_MAGIC), 0);
    cr_assert_gt(e->generation, g);
    shim_handle_del(e);
    free(s);
    free(e);
}
