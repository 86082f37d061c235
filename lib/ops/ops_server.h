/* The operations endpoint: /metrics, /livez and /readyz over HTTP
 * (libmicrohttpd), for Prometheus and Kubernetes probes.
 *
 * Thread model: the server answers on libmicrohttpd's own thread, which
 * never touches the owner's state. The owner (the worker's loop) publishes
 * an immutable rendered snapshot of its metrics (mdf_ops_publish), stamps
 * each turn of its loop (mdf_ops_alive) and sets readiness conditions
 * (mdf_ops_ready); the server reads only those: the stamp and the
 * conditions are C11 atomics, and the snapshot pointer is swapped and
 * taken under a mutex held for nothing else.
 *
 *   /metrics  200, the latest snapshot (text format 0.0.4)
 *   /livez    200 while the last stamp is younger than stall_ms, else 503
 *   /readyz   200 once every condition of MDF_OPS_READY_ALL is set, else
 *             503 with one line naming what is missing
 * Anything else is 404; methods other than GET and HEAD are 405. */
#ifndef MDF_OPS_SERVER_H
#define MDF_OPS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Readiness conditions. */
#define MDF_OPS_READY_ASSIGNED 1u /* joined the group, at least one partition assigned */
#define MDF_OPS_READY_TOKEN 2u    /* a first Resource Manager token obtained */
#define MDF_OPS_READY_ALL (MDF_OPS_READY_ASSIGNED | MDF_OPS_READY_TOKEN)

typedef struct mdf_ops_server mdf_ops_server;

/* Listens on listen ("HOST:PORT" or ":PORT" for every address; port 0: a
 * free one) and starts the server's thread. The stamp starts at now. */
int mdf_ops_server_start(mdf_ops_server **out, const char *listen, int64_t stall_ms, char *err,
                         size_t errsz);
/* Stops the thread and frees everything (NULL: nothing). */
void mdf_ops_server_stop(mdf_ops_server *s);
/* The port bound, and the base URL (http://HOST:PORT, wildcards shown as
 * they were given: 0.0.0.0 for ":PORT"). */
unsigned mdf_ops_server_port(const mdf_ops_server *s);
const char *mdf_ops_server_url(const mdf_ops_server *s);

/* Copies text as the snapshot /metrics serves from now on. MDF_ERR when
 * out of memory (the previous snapshot stays). */
int mdf_ops_publish(mdf_ops_server *s, const char *text, size_t len);
/* The owner's loop turned at mono_ms (mdf_mono_ms's clock). */
void mdf_ops_alive(mdf_ops_server *s, int64_t mono_ms);
/* Sets (on) or clears conditions of MDF_OPS_READY_*. */
void mdf_ops_ready(mdf_ops_server *s, unsigned conditions, bool on);

/* The probes' answers as the server gives them (for the tests and the
 * server itself): the HTTP status, and a one-line body into body. */
int mdf_ops_livez(const mdf_ops_server *s, int64_t now_ms, char *body, size_t bodysz);
int mdf_ops_readyz(const mdf_ops_server *s, char *body, size_t bodysz);

#endif
