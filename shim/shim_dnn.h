/* shim_dnn.h — what the generated cuDNN entry points call besides the shim_impl_* functions. */
#ifndef GENIE_SHIM_SHIM_DNN_H
#define GENIE_SHIM_SHIM_DNN_H

#include <cudnn.h>

/* A DENY row: logs once, at the default level, that cuDNN's call is not supported, with the
 * caller's frames; returns CUDNN_STATUS_NOT_SUPPORTED. */
cudnnStatus_t shim_deny_cudnn(unsigned apix);
/* An OUT argument was NULL. */
cudnnStatus_t shim_bad_dnn_arg(unsigned apix, const char *arg);

#endif
