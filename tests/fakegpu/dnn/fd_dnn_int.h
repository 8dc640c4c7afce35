/* fd_dnn_int.h — what the fake cuDNN's files share: its backend descriptors' attributes, variant packs, element loads and stores, and the graphs fd_sdpa.c runs.
 *
 * fd_dnn.c owns the descriptors (every attribute set on one is kept); fd_sdpa.c reads them
 * through these functions and never touches the struct. */
#ifndef GENIE_FD_DNN_INT_H
#define GENIE_FD_DNN_INT_H

#include <stdint.h>

#include <cudnn.h>

typedef struct fd_desc fd_desc;

/* The descriptor behind a cudnnBackendDescriptor_t, or NULL when p is none of ours. */
fd_desc *fd_desc_of(void *p);
int fd_desc_type(const fd_desc *d);
/* The elements of attribute name as set (borrowed), their type and count; NULL when unset. */
const void *fd_attr_get(fd_desc *d, int name, int *type, int64_t *n);
/* The single element of a descriptor-valued attribute, or NULL. */
fd_desc *fd_attr_desc(fd_desc *d, int name);
/* The data pointer a variant pack gives for uid, or NULL. */
void *fd_pack_ptr(fd_desc *pack, int64_t uid);
/* Element i of a float type (FLOAT, DOUBLE, HALF, BFLOAT16) as a double, and back. */
double fd_load(const void *base, int64_t i, int dt);
void fd_store(void *base, int64_t i, int dt, double v);

/* fd_sdpa.c: operation graphs of SDPA_FWD, matmul, pointwise and reduction operations (what
 * cudnn-frontend builds for attention). fd_graph_supported: 1 when the double can run graph g
 * (else 0, and *why says what it lacks); fd_graph_execute: queues it on the stream with the
 * pack's pointers; CUDNN_STATUS_NOT_SUPPORTED for a graph it cannot run. */
int fd_graph_supported(fd_desc *g, const char **why);
cudnnStatus_t fd_graph_execute(void *stream, fd_desc *g, fd_desc *pack);

#endif
