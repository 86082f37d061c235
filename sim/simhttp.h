/* The request and response plumbing shared by the route modules (auth, ARM,
 * blob, admin): one sim_req per HTTP request, helpers to answer it, and the
 * per-route request counters that /_admin/stats shows. */
#ifndef SIM_SIMHTTP_H
#define SIM_SIMHTTP_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "state.h"
#include "util.h"

#define SIM_MAX_BODY (1024 * 1024) /* request bodies above this get 413 */
#define SIM_JSON_CT "application/json; charset=utf-8"

typedef enum {
    SIM_R_TOKEN,
    SIM_R_IMDS,
    SIM_R_CLUSTER_GET,
    SIM_R_CLUSTER_PATCH,
    SIM_R_CLUSTER_SCAN,
    SIM_R_BMM_LIST,
    SIM_R_BMM_GET,
    SIM_R_BMM_EXTRACT,
    SIM_R_BMM_EXTRACT_RESTRICTED,
    SIM_R_OPERATION_GET,
    SIM_R_BLOB_GET,
    SIM_R_BLOB_CUSTOMER,
    SIM_R_ADMIN,
    SIM_R_UNKNOWN,
    SIM_R_COUNT
} sim_route;

/* "token", "cluster.get", ... */
const char *sim_route_name(sim_route r);

#define SIM_STATS_SLOTS 24 /* distinct statuses counted per route */

/* Client mistakes counted across routes. */
typedef enum {
    SIM_MISTAKE_WRONG_AUDIENCE,       /* a token shown to ARM or Storage was for another */
    SIM_MISTAKE_AUTHORIZATION_ON_SAS, /* a SAS request carried an Authorization header */
    SIM_MISTAKE_COUNT
} sim_mistake;

/* What the throttling step did with an ARM request of a subscription. */
typedef enum {
    SIM_CHARGE_READ,      /* took a read token */
    SIM_CHARGE_WRITE,     /* took a write token */
    SIM_CHARGE_THROTTLED, /* found its bucket empty: 429 */
    SIM_CHARGE_COUNT
} sim_charge;

typedef struct sim_stats {
    pthread_mutex_t mu; /* its own: counting never waits on the state */
    struct {
        unsigned status;
        uint64_t count;
    } cells[SIM_R_COUNT][SIM_STATS_SLOTS];
    uint64_t mistakes[SIM_MISTAKE_COUNT];
    uint64_t charges[SIM_MAX_SUBSCRIPTIONS][SIM_CHARGE_COUNT]; /* as sc->subscriptions */
} sim_stats;

void sim_stats_init(sim_stats *s);
void sim_stats_destroy(sim_stats *s);
void sim_stats_count(sim_stats *s, sim_route r, unsigned status);
void sim_stats_mistake(sim_stats *s, sim_mistake m);
/* sub: the index of a served subscription in sc->subscriptions */
void sim_stats_charge(sim_stats *s, size_t sub, sim_charge c);
void sim_stats_reset(sim_stats *s);
/* {"requests":{"<route>":{"<status>":count,...},...},"wrong_audience":N,
 * "authorization_on_sas":N,"phase":phase,
 * "subscriptions":{"<id>":{"reads":N,"writes":N,"throttled":N},...}}; the
 * phase is the state's (its lock, not the counters'), so the caller reads
 * it; the subscriptions are the scenario's (read-only). */
void sim_stats_json(sim_stats *s, int64_t phase, const sim_scenario *sc, mdf_buf *out);

typedef struct sim_server {
    struct MHD_Daemon *daemon;
    atomic_bool stopping; /* set before the daemon stops: paced downloads give up */
    sim_state *state;     /* borrowed */
    sim_stats stats;
    char base_url[128]; /* what it printed: http://127.0.0.1:41234 */
} sim_server;

typedef struct sim_req {
    sim_server *srv;
    struct MHD_Connection *conn;
    const char *method, *path; /* borrowed from MHD for this call */
    const char *body;
    size_t body_len;
    sim_route route;
    char request_id[MDF_UUID_STRSZ];
    char base_url[300]; /* scheme + Host of this request, for links */
    /* Set by the ARM front door; sim_send adds them to every ARM answer. */
    bool arm;
    char correlation_id[SIM_CORRID_SZ];
    const char *ratelimit_header;
    int64_t ratelimit_remaining;
} sim_req;

const char *sim_req_header(const sim_req *r, const char *name);
const char *sim_req_query(const sim_req *r, const char *name);
bool sim_req_is(const sim_req *r, const char *method);

/* A response owning body's bytes (the buffer is emptied); NULL when out of memory. */
struct MHD_Response *sim_resp_buf(mdf_buf *body, const char *content_type);
/* A response with a copy of s. */
struct MHD_Response *sim_resp_str(const char *s, const char *content_type);
/* Retry-After (whole seconds, at least 1) and retry-after-ms (exact). */
void sim_resp_retry_after(struct MHD_Response *resp, int64_t wait_ms);

/* Adds the common headers, counts the answer under r->route, queues it and
 * drops the reference. A NULL resp (out of memory) closes the connection. */
enum MHD_Result sim_send(sim_req *r, unsigned status, struct MHD_Response *resp);
/* A response with the ARM error object {"error":{"code","message"}};
 * NULL when out of memory. */
struct MHD_Response *sim_resp_arm_error(const char *code, const char *fmt, ...) MDF_PRINTF(2, 3);
/* The ARM error object {"error":{"code","message"}}. */
enum MHD_Result sim_send_arm_error(sim_req *r, unsigned status, const char *code, const char *fmt,
                                   ...) MDF_PRINTF(4, 5);
/* The same, with Retry-After headers (429, 503). */
enum MHD_Result sim_send_arm_error_retry(sim_req *r, unsigned status, int64_t wait_ms,
                                         const char *code, const char *fmt, ...) MDF_PRINTF(5, 6);
/* A JSON body built in `body` (taken). */
enum MHD_Result sim_send_json(sim_req *r, unsigned status, mdf_buf *body);

/* Route modules. */
enum MHD_Result sim_auth_token(sim_req *r, const char *tenant);
enum MHD_Result sim_auth_imds(sim_req *r);
/* Sets the ARM answer headers' fields (ids, throttling header) of r. */
void sim_arm_prepare(sim_req *r);
enum MHD_Result sim_arm_handle(sim_req *r);
sim_route sim_arm_route(const char *method, const char *path);
/* The Cluster Manager's SAS blob: GET|HEAD /bmm-run-command-output/{name} */
enum MHD_Result sim_blob_get(sim_req *r, const char *blob_name);
/* A customer storage account's blob, path style: GET|HEAD /{account}/{container}/{blob} */
enum MHD_Result sim_blob_customer(sim_req *r);

#endif
