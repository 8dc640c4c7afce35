/* client_plugin.c — libgenie_grpc.so: the gRPC client as a table the shim dlopens when it first connects (transport.h). */
#include "protocol/transport.h"

__attribute__((visibility("default"))) const proto_client_ops *genie_grpc_client_ops(void);

const proto_client_ops *genie_grpc_client_ops(void) { return &proto_grpc_client; }
