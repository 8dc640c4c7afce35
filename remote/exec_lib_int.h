/* exec_lib_int.h — helpers the generated decoders of forwarded library calls use. */
#ifndef GENIE_REMOTE_EXEC_LIB_INT_H
#define GENIE_REMOTE_EXEC_LIB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/gen/roles.h"
#include "remote/exec_int.h"

/* Reads the args of one LIB_CALL record (layout: shim/shim_blas.h). */
typedef struct exec_lib_rd {
    const uint8_t *p, *end;
    int err;         /* an argument was malformed or invalid: why says which */
    char why[160];
    int has_new, has_del;
    uint32_t new_id, del_id;
    void *new_handle;          /* HNEW: the real handle is written here */
    int result_host;           /* RESULT in host mode: result_buf goes back as R_DATA */
    int result_hout;           /* ... and it is a HOUT: it goes back even if the call fails */
    size_t result_size;
    uint8_t scalars[4][16];    /* host SCALAR values, aligned */
    int nscalars;
    _Alignas(16) uint8_t result_buf[16];
} exec_lib_rd;

void exec_lib_rd_init(exec_lib_rd *r, const uint8_t *args, size_t n);
void *exec_lib_handle(exec_session *s, exec_lib_rd *r);
void *exec_lib_hnew(exec_session *s, exec_lib_rd *r);
void *exec_lib_hdel(exec_session *s, exec_lib_rd *r);
void *exec_lib_stream(exec_session *s, exec_lib_rd *r);
void exec_lib_val(exec_lib_rd *r, void *dst, size_t n);
void *exec_lib_dev(exec_session *s, exec_lib_rd *r);
/* After decoding, before the call: every device buffer of the call (proto_bufs_<api>) must lie
 * in this session's memory over its whole extent; a NULL one passes (cuBLAS reports it, and
 * some are optional). Returns nonzero, with why set, if one does not. */
int exec_lib_ranges(exec_session *s, exec_lib_rd *r, const proto_buf *b, int n);
/* After exec_lib_ranges, for calls with arrays of device pointers (PTRS: cublas?gemmBatched,
 * getrfBatched, ...): drains the handle's stream, reads each array from the session's memory
 * and checks that every pointer in it names memory of this session over the whole extent of
 * its matrix (proto_buf.each). A NULL entry is refused (cuBLAS would dereference it). Returns
 * nonzero, with why naming the array and the entry, if one does not. */
int exec_lib_ptr_arrays(exec_session *s, exec_lib_rd *r, void *handle, const proto_buf *b, int n);
const void *exec_lib_scalar(exec_session *s, exec_lib_rd *r);
void *exec_lib_result(exec_session *s, exec_lib_rd *r);
/* HOUT: a RESULT that must be of the host kind; the callee writes the host buffer that goes
 * back as R_DATA, even when the call fails (cuBLAS sets info = -i for a bad argument i). */
void *exec_lib_hout(exec_session *s, exec_lib_rd *r);
/* After the call: binds/unbinds handles, appends R_DATA for a host result, or R_ERROR for
 * a failed status. */
int exec_lib_done(exec_session *s, uint32_t index, exec_lib_rd *r, int status, const char *name);
int exec_lib_bad(exec_session *s, uint32_t index, exec_lib_rd *r, const char *name);
int exec_lib_missing(exec_session *s, uint32_t index, const char *name);
int exec_lib_unknown(exec_session *s, uint32_t index, uint32_t api);
/* STREAM_DESTROY (remote/ops_stream.c) is about to destroy stream: every cuBLAS handle of the
 * session bound to it goes back to the NULL stream (the shim's mirror does the same). */
void exec_lib_stream_gone(exec_session *s, void *stream);
/* The cudaError_t a cuBLAS status surfaces as at the next sync. */
int exec_blas_cuda_err(int status);

#endif
