/* rawsock.h — a minimal raw-socket echo (length-prefixed, blocking) for transport benchmarks. */
#ifndef GENIE_BENCH_RAWSOCK_H
#define GENIE_BENCH_RAWSOCK_H

#include <stddef.h>
#include <stdint.h>

/* Targets: "unix:/path" or "host:port" (port 0 picks a free port for the server).
 * Wire: each message is a little-endian u64 length followed by that many bytes; the server
 * echoes every message back unchanged. One thread per client connection on the server. */

typedef struct rawsock_server rawsock_server;
typedef struct rawsock_conn rawsock_conn;

/* Starts the echo server on its own thread. Returns NULL (and a reason in err) on failure. */
rawsock_server *rawsock_server_start(const char *target, char *err, size_t errlen);
/* Same, but each reply carries only the first reply_max bytes of the request (the length
 * header says so): an upload answered by a short acknowledgement. */
rawsock_server *rawsock_server_start_opts(const char *target, uint64_t reply_max, char *err,
                                          size_t errlen);
/* The bound TCP port (0 for unix sockets). */
int rawsock_server_port(const rawsock_server *s);
/* Stops accepting, closes every connection, joins the threads, frees the server. */
void rawsock_server_stop(rawsock_server *s);

/* Connects (blocking). Returns NULL (and a reason in err) on failure. */
rawsock_conn *rawsock_connect(const char *target, char *err, size_t errlen);
/* Sends req and waits for the echo. *reply is malloc'd (caller frees; non-NULL even for 0
 * bytes). Returns 0 or -1 (connection broken). */
int rawsock_call(rawsock_conn *c, const void *req, size_t n, void **reply, size_t *reply_n);
void rawsock_close(rawsock_conn *c);

#endif
