/* rawsock.h — a minimal raw-socket echo (length-prefixed, blocking): the limit the wire is held to.
 *
 * It is meant to be the fastest plain socket program of its kind on the machine, so that no
 * transport over the same kind of socket beats it: large socket buffers (forced past the
 * sysctl caps where the process may, SO_SNDBUFFORCE), TCP_NODELAY, one writev per message
 * (header and body together), whole-message writes and reads of any size (no chunking),
 * small messages read with one recv, and receive buffers that are reused, so a timed transfer
 * never faults in fresh pages. rawsock_describe() prints what the socket really got. */
#ifndef GENIE_BENCH_RAWSOCK_H
#define GENIE_BENCH_RAWSOCK_H

#include <stddef.h>
#include <stdint.h>

/* Targets: "unix:/path" or "host:port" (port 0 picks a free port for the server).
 * Wire: each request is a little-endian u64 length followed by that many bytes; the server
 * answers with a u64 length and the first min(length, reply_max) bytes of the request. A
 * request whose length has bit 63 set carries no bytes and asks for that many bytes (bit 63
 * cleared) back: a download. One thread per client connection on the server. */

typedef struct rawsock_server rawsock_server;
typedef struct rawsock_conn rawsock_conn;

/* Socket buffer size applied to every socket made after this call (client and server side):
 * > 0 forces SO_SNDBUF/SO_RCVBUF to that size (SO_*BUFFORCE when permitted, else the plain
 * option, which the kernel caps at net.core.[rw]mem_max); 0 leaves the kernel's defaults
 * (TCP autotuning). Default 8 MiB. */
void rawsock_set_buffers(int bytes);

/* Largest single send or recv on sockets made after this call (0, the default: a whole
 * message in one call). */
void rawsock_set_chunk(size_t bytes);

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
/* Downloads n bytes from the server into dst (borrowed; a download request as above).
 * Returns 0 or -1. */
int rawsock_fetch(rawsock_conn *c, void *dst, size_t n);
/* One line describing the connection's socket as the kernel set it up: kind, SO_SNDBUF and
 * SO_RCVBUF as read back, TCP_NODELAY, how writes and reads are issued. */
void rawsock_describe(const rawsock_conn *c, char *buf, size_t n);
void rawsock_close(rawsock_conn *c);

#endif
