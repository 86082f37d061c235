#include "server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "clock.h"
#include "err.h"
#include "routes.h"
#include "strconv.h"

#define ARM_PREFIX "/" SIM_SEG_ARM "/"
#define BLOB_PREFIX "/" SIM_SEG_SAS_CONTAINER "/"
#define ADMIN_PREFIX "/" SIM_SEG_ADMIN "/"
#define TENANT_MAX 128

/* The body of one request as it arrives; freed when MHD completes it. */
typedef struct conn_ctx {
    mdf_buf body;
    bool too_large;
} conn_ctx;

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_arm(const char *path)
{
    return strncasecmp(path, ARM_PREFIX, strlen(ARM_PREFIX)) == 0;
}

/* Whether the path's first segment is the storage account of a customer
 * cluster (path style: /{account}/{container}/{blob}). */
static bool is_customer_account(const sim_scenario *sc, const char *path)
{
    if (path[0] != '/')
        return false;
    size_t n = strcspn(path + 1, "/");
    for (size_t i = 0; i < sc->n_clusters; i++) {
        const sim_output *o = &sc->clusters[i].output;
        if (o->customer && strlen(o->account) == n && memcmp(o->account, path + 1, n) == 0)
            return true;
    }
    return false;
}

/* Which route a request is for; *tenant gets the token endpoint's tenant.
 * The scenario is read-only: no lock needed. */
static sim_route classify(const sim_scenario *sc, const char *method, const char *path,
                          char tenant[TENANT_MAX])
{
    if (is_arm(path))
        return sim_arm_route(method, path);
    if (strcmp(path, SIM_PATH_IMDS) == 0)
        return SIM_R_IMDS;
    if (has_prefix(path, BLOB_PREFIX))
        return SIM_R_BLOB_GET;
    if (has_prefix(path, ADMIN_PREFIX))
        return SIM_R_ADMIN;
    /* the loader keeps account names off the other routes' first segments */
    if (is_customer_account(sc, path))
        return SIM_R_BLOB_CUSTOMER;
    const char *slash = strchr(path + 1, '/');
    size_t tlen = slash ? (size_t)(slash - path - 1) : 0;
    if (path[0] == '/' && tlen > 0 && tlen < TENANT_MAX &&
        strcmp(slash, SIM_PATH_TOKEN_SUFFIX) == 0) {
        memcpy(tenant, path + 1, tlen);
        tenant[tlen] = '\0';
        return SIM_R_TOKEN;
    }
    return SIM_R_UNKNOWN;
}

static enum MHD_Result admin(sim_req *r)
{
    sim_state *st = r->srv->state;
    mdf_buf b;
    mdf_buf_init(&b, 1024 * 1024);
    if (strcmp(r->path, "/_admin/stats") == 0 && sim_req_is(r, "GET")) {
        sim_state_lock(st);
        int64_t phase = st->phase;
        sim_state_unlock(st);
        sim_stats_json(&r->srv->stats, phase, st->sc, &b);
        return sim_send_json(r, 200, &b);
    }
    if (strcmp(r->path, "/_admin/next-phase") == 0 && sim_req_is(r, "POST")) {
        sim_state_lock(st);
        size_t changed = sim_state_next_phase(st, mdf_mono_ms());
        int64_t phase = st->phase;
        sim_state_unlock(st);
        if (mdf_buf_appendf(&b, "{\"phase\":%" PRId64 ",\"nodes_changed\":%zu}", phase, changed) !=
            0) {
            mdf_buf_free(&b);
            return sim_send_arm_error(r, 500, "InternalServerError", "Out of memory.");
        }
        return sim_send_json(r, 200, &b);
    }
    if (strcmp(r->path, "/_admin/reset-stats") == 0 && sim_req_is(r, "POST")) {
        mdf_buf_appendf(&b, "{}");
        /* counted first, then zeroed with the rest: a reset leaves nothing */
        enum MHD_Result ret = sim_send_json(r, 200, &b);
        sim_stats_reset(&r->srv->stats);
        return ret;
    }
    mdf_buf_free(&b);
    return sim_send_arm_error(r, 404, "NotFound",
                              "Admin routes: GET /_admin/stats, POST /_admin/reset-stats, "
                              "POST /_admin/next-phase.");
}

static enum MHD_Result dispatch(sim_req *r)
{
    char tenant[TENANT_MAX];
    r->route = classify(r->srv->state->sc, r->method, r->path, tenant);
    if (is_arm(r->path))
        return sim_arm_handle(r);
    switch (r->route) {
    case SIM_R_TOKEN:
        return sim_auth_token(r, tenant);
    case SIM_R_IMDS:
        return sim_auth_imds(r);
    case SIM_R_BLOB_GET:
        return sim_blob_get(r, r->path + strlen(BLOB_PREFIX));
    case SIM_R_BLOB_CUSTOMER:
        return sim_blob_customer(r);
    case SIM_R_ADMIN:
        return admin(r);
    default:
        return sim_send_arm_error(r, 404, "NotFound", "Nothing is served at '%.200s'.", r->path);
    }
}

/* Links in answers use the host the client asked for, as Azure's do. */
static void base_url(sim_req *r)
{
    const char *host = sim_req_header(r, MHD_HTTP_HEADER_HOST);
    bool ok = host && *host && strlen(host) < 200;
    for (const char *p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr(".-:[]", *p) != NULL;
    if (ok)
        snprintf(r->base_url, sizeof r->base_url, "http://%s", host);
    else
        mdf_strlcpy(r->base_url, r->srv->base_url, sizeof r->base_url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    sim_server *srv = cls;
    conn_ctx *cc = *con_cls;
    sim_req r = {.srv = srv, .conn = conn, .method = method, .path = url};
    (void)version;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc)
            return MHD_NO;
        mdf_buf_init(&cc->body, SIM_MAX_BODY);
        *con_cls = cc;
        /* a declared oversized body is refused before it is read */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n;
        if (!cl || mdf_parse_int64(cl, strlen(cl), &n) != 0 || n <= SIM_MAX_BODY)
            return MHD_YES;
        cc->too_large = true;
    } else if (*upload_data_size > 0) {
        if (!cc->too_large && mdf_buf_append(&cc->body, upload_data, *upload_data_size) != 0)
            cc->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    mdf_random_id(r.request_id);
    base_url(&r);
    if (cc->too_large) {
        char tenant[TENANT_MAX];
        r.route = classify(srv->state->sc, method, url, tenant);
        if (is_arm(url))
            sim_arm_prepare(&r);
        return sim_send_arm_error(&r, 413, "RequestEntityTooLarge",
                                  "The request body is larger than %d bytes.", SIM_MAX_BODY);
    }
    r.body = cc->body.data;
    r.body_len = cc->body.len;
    return dispatch(&r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_ctx *cc = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (cc) {
        mdf_buf_free(&cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

int sim_server_start(sim_server *srv, sim_state *st, const char *bind_addr, unsigned port,
                     char *err, size_t errsz)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    bool ipv6 = strchr(bind_addr, ':') != NULL;
    memset(srv, 0, sizeof *srv);
    srv->state = st;
    atomic_init(&srv->stopping, false);
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (ipv6) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, bind_addr, &v6.sin6_addr) != 1)
            return mdf_seterr(err, errsz, "--bind %s: not an IPv4 or IPv6 address", bind_addr);
        sa = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, bind_addr, &v4.sin_addr) != 1)
            return mdf_seterr(err, errsz, "--bind %s: not an IPv4 or IPv6 address", bind_addr);
        sa = (struct sockaddr *)&v4;
    }
    sim_stats_init(&srv->stats);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
    if (!srv->daemon) {
        sim_stats_destroy(&srv->stats);
        return mdf_seterr(err, errsz,
                          "cannot listen on %s port %u (in use, or not an address "
                          "of this host?)",
                          bind_addr, port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : port;
    /* a wildcard address is reached through loopback */
    const char *host = strcmp(bind_addr, "0.0.0.0") == 0 ? "127.0.0.1"
                       : strcmp(bind_addr, "::") == 0    ? "::1"
                                                         : bind_addr;
    snprintf(srv->base_url, sizeof srv->base_url, ipv6 ? "http://[%s]:%u" : "http://%s:%u", host,
             bound);
    return MDF_OK;
}

void sim_server_stop(sim_server *srv)
{
    if (!srv->daemon)
        return;
    atomic_store(&srv->stopping, true);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    sim_stats_destroy(&srv->stats);
}
