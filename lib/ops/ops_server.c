/* The operations endpoint (ops_server.h). */
#include "ops_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "clock.h"
#include "err.h"
#include "strconv.h"

#define MAX_CONNECTIONS 16 /* a scraper and a kubelet or two */
#define CONNECTION_TIMEOUT_S 10
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* An immutable rendered snapshot, shared by the server and the requests
 * copying it: freed by the last release. */
typedef struct snapshot {
    atomic_int refs;
    size_t len;
    char data[];
} snapshot;

struct mdf_ops_server {
    struct MHD_Daemon *daemon;
    unsigned port;
    char url[300];
    int64_t stall_ms;
    atomic_llong stamp_ms; /* the last turn of the owner's loop */
    atomic_uint ready;     /* MDF_OPS_READY_* set */
    pthread_mutex_t lock;  /* only to swap or take `current` */
    snapshot *current;
};

static void snapshot_release(snapshot *sn)
{
    if (sn && atomic_fetch_sub(&sn->refs, 1) == 1)
        free(sn);
}

int mdf_ops_publish(mdf_ops_server *s, const char *text, size_t len)
{
    snapshot *sn = malloc(sizeof *sn + len + 1);
    if (!sn)
        return MDF_ERR;
    atomic_init(&sn->refs, 1);
    sn->len = len;
    memcpy(sn->data, text, len);
    sn->data[len] = '\0';
    pthread_mutex_lock(&s->lock);
    snapshot *old = s->current;
    s->current = sn;
    pthread_mutex_unlock(&s->lock);
    snapshot_release(old);
    return MDF_OK;
}

static snapshot *snapshot_take(mdf_ops_server *s)
{
    pthread_mutex_lock(&s->lock);
    snapshot *sn = s->current;
    if (sn)
        atomic_fetch_add(&sn->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return sn;
}

void mdf_ops_alive(mdf_ops_server *s, int64_t mono_ms)
{
    atomic_store(&s->stamp_ms, (long long)mono_ms);
}

void mdf_ops_ready(mdf_ops_server *s, unsigned conditions, bool on)
{
    if (on)
        atomic_fetch_or(&s->ready, conditions);
    else
        atomic_fetch_and(&s->ready, ~conditions);
}

int mdf_ops_livez(const mdf_ops_server *s, int64_t now_ms, char *body, size_t bodysz)
{
    /* atomic_load wants a non-const object in C11 */
    long long stamp = atomic_load((atomic_llong *)&s->stamp_ms);
    long long age = now_ms - stamp;
    if (age > s->stall_ms) {
        snprintf(body, bodysz, "stalled: the loop last turned %lld ms ago (limit %lld ms)\n", age,
                 (long long)s->stall_ms);
        return 503;
    }
    snprintf(body, bodysz, "ok\n");
    return 200;
}

int mdf_ops_readyz(const mdf_ops_server *s, char *body, size_t bodysz)
{
    unsigned r = atomic_load((atomic_uint *)&s->ready);
    if ((r & MDF_OPS_READY_ALL) == MDF_OPS_READY_ALL) {
        snprintf(body, bodysz, "ok\n");
        return 200;
    }
    bool group = !(r & MDF_OPS_READY_ASSIGNED), token = !(r & MDF_OPS_READY_TOKEN);
    snprintf(body, bodysz, "not ready: waiting for %s%s%s\n",
             group ? "a partition assignment from the consumer group" : "",
             group && token ? " and " : "", token ? "a first Resource Manager token" : "");
    return 503;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    mdf_ops_server *s = cls;
    char body[256];
    (void)version;
    (void)upload;
    if (*upload_size) {
        *upload_size = 0; /* a body is ignored */
        return MHD_YES;
    }
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        snprintf(body, sizeof body, "only GET and HEAD\n");
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", body, strlen(body));
    }
    if (strcmp(url, "/livez") == 0) {
        int st = mdf_ops_livez(s, mdf_mono_ms(), body, sizeof body);
        return reply(c, (unsigned)st, "text/plain", body, strlen(body));
    }
    if (strcmp(url, "/readyz") == 0) {
        int st = mdf_ops_readyz(s, body, sizeof body);
        return reply(c, (unsigned)st, "text/plain", body, strlen(body));
    }
    if (strcmp(url, "/metrics") == 0) {
        snapshot *sn = snapshot_take(s);
        enum MHD_Result ret;
        if (sn) {
            ret = reply(c, MHD_HTTP_OK, CONTENT_TYPE, sn->data, sn->len);
        } else {
            snprintf(body, sizeof body, "no metrics yet\n");
            ret = reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body, strlen(body));
        }
        snapshot_release(sn);
        return ret;
    }
    snprintf(body, sizeof body, "not found: /metrics, /livez, /readyz\n");
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", body, strlen(body));
}

/* HOST and PORT of listen; host empty for ":PORT". Brackets around an
 * IPv6 address are dropped. */
static int split_listen(const char *listen, char *host, size_t hostsz, unsigned *port, char *err,
                        size_t errsz)
{
    const char *colon = strrchr(listen, ':');
    int64_t p = -1;
    if (!colon || mdf_parse_int64(colon + 1, strlen(colon + 1), &p) != MDF_OK || p < 0 || p > 65535)
        return mdf_seterr(err, errsz, "metrics.listen \"%s\": not HOST:PORT or :PORT", listen);
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n >= hostsz)
        return mdf_seterr(err, errsz, "metrics.listen: host longer than %zu bytes", hostsz - 1);
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (unsigned)p;
    return MDF_OK;
}

static void server_free(mdf_ops_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    snapshot_release(s->current);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int mdf_ops_server_start(mdf_ops_server **out, const char *listen, int64_t stall_ms, char *err,
                         size_t errsz)
{
    char host[256];
    unsigned port = 0;
    struct addrinfo *ai = NULL;
    mdf_ops_server *s = NULL;
    int rc = MDF_ERR;
    *out = NULL;
    if (split_listen(listen, host, sizeof host, &port, err, errsz) != MDF_OK)
        goto cleanup;
    s = calloc(1, sizeof *s);
    if (!s) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->stamp_ms, (long long)mdf_mono_ms());
    atomic_init(&s->ready, 0u);
    s->stall_ms = stall_ms;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    struct sockaddr_in any;
    const struct sockaddr *sa;
    if (host[0]) {
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        int e = getaddrinfo(host, NULL, &hints, &ai);
        if (e != 0) {
            mdf_seterr(err, errsz, "metrics.listen: host %s: %s", host, gai_strerror(e));
            goto cleanup;
        }
        /* the port goes into the address: MHD_OPTION_SOCK_ADDR wins over it */
        if (ai->ai_family == AF_INET6) {
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
            flags |= MHD_USE_IPv6;
        } else {
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
        }
        sa = ai->ai_addr;
    } else {
        memset(&any, 0, sizeof any);
        any.sin_family = AF_INET;
        any.sin_port = htons((uint16_t)port);
        any.sin_addr.s_addr = htonl(INADDR_ANY);
        sa = (const struct sockaddr *)&any;
    }
    s->daemon =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_END);
    if (!s->daemon) {
        mdf_seterr(err, errsz,
                   "metrics.listen %s: cannot listen (in use, or not an address of "
                   "this host?)",
                   listen);
        goto cleanup;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    bool v6 = strchr(host, ':') != NULL;
    snprintf(s->url, sizeof s->url, v6 ? "http://[%s]:%u" : "http://%s:%u",
             host[0] ? host : "0.0.0.0", s->port);
    *out = s;
    s = NULL;
    rc = MDF_OK;
cleanup:
    if (ai)
        freeaddrinfo(ai);
    server_free(s);
    return rc;
}

void mdf_ops_server_stop(mdf_ops_server *s)
{
    server_free(s);
}

unsigned mdf_ops_server_port(const mdf_ops_server *s)
{
    return s->port;
}

const char *mdf_ops_server_url(const mdf_ops_server *s)
{
    return s->url;
}
