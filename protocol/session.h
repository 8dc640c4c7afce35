/* session.h — what a session agrees on at HELLO: the device description and the VA range.
 *
 * A request frame is a batch of op records (protocol/gen/ops.h); the executor runs them in
 * order and answers with one reply frame holding, in order, the result records the ops
 * asked for (R_DATA for each MEMCPY_D2H, R_VALUE for queries, R_MODULE, R_FUNC, R_HELLO)
 * and one R_ERROR for each op that failed, in order. A failed op does not cancel the ops
 * after it (as a failed call does not in the runtime); after 16 failures the executor
 * abandons the rest of the batch. The client reports the first failure at its sync.
 * The reply's seq echoes the request's. */
#ifndef GENIE_PROTO_SESSION_H
#define GENIE_PROTO_SESSION_H

#include <stdint.h>

/* 2: BATCH_DELTA runs carry varint headers and may reuse the template delta's runs
 * (protocol/delta.h); 3: a BATCH_DELTA's patches may be compressed (PROTO_FRAME_DELTA_Z);
 * 4: a BATCH_DELTA's list may patch the template's back-reference prediction
 * (PROTO_FRAME_DELTA_REF); 5: HELLO's flags may ask for the cost model's parameters
 * (PROTO_HELLO_COST, R_COST) */
#define PROTO_SESSION_VERSION 5

/* HELLO.flags */
#define PROTO_HELLO_COST 0x1u /* answer R_COST after R_HELLO (measured once per genie-remote) */
#define PROTO_MAX_ATTRS 192 /* > CU_DEVICE_ATTRIBUTE_MAX of CUDA 13.0 (148) */
#define PROTO_MAX_DEVICES 8

/* One device as the executor sees it; attrs[i] is cuDeviceGetAttribute(i) (0 where the
 * driver rejected i). cudaDeviceAttr values equal CUdevice_attribute values, so the client
 * answers cudaDeviceGetAttribute and fills cudaDeviceProp from this without a round trip. */
typedef struct proto_devinfo {
    char name[256];
    uint64_t total_mem;
    uint8_t uuid[16];
    int32_t driver_version;
    uint32_t nattrs;
    int32_t attrs[PROTO_MAX_ATTRS];
} proto_devinfo;

/* R_HELLO.devinfo carries ndevices of these back to back. */

/* Stream IDs: 0 is the legacy default stream; client-created streams start here. */
#define PROTO_STREAM_FIRST 16

#endif
