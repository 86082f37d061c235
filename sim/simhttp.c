#include "simhttp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http_loop.h"
#include "json_writer.h"

static const char *const ROUTE_NAMES[SIM_R_COUNT] = {
    "token",
    "imds",
    "cluster.get",
    "cluster.patch",
    "cluster.scanRuntime",
    "bmm.list",
    "bmm.get",
    "bmm.runDataExtracts",
    "bmm.runDataExtractsRestricted",
    "operation.get",
    "blob.get",
    "blob.customer",
    "admin",
    "unknown",
};

static const char *const MISTAKE_NAMES[SIM_MISTAKE_COUNT] = {
    "wrong_audience",
    "authorization_on_sas",
};

const char *sim_route_name(sim_route r)
{
    return (unsigned)r < SIM_R_COUNT ? ROUTE_NAMES[r] : "unknown";
}

void sim_stats_init(sim_stats *s)
{
    memset(s->cells, 0, sizeof s->cells);
    memset(s->mistakes, 0, sizeof s->mistakes);
    memset(s->charges, 0, sizeof s->charges);
    pthread_mutex_init(&s->mu, NULL);
}

void sim_stats_destroy(sim_stats *s)
{
    pthread_mutex_destroy(&s->mu);
}

void sim_stats_count(sim_stats *s, sim_route r, unsigned status)
{
    if ((unsigned)r >= SIM_R_COUNT)
        r = SIM_R_UNKNOWN;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < SIM_STATS_SLOTS; i++) {
        if (s->cells[r][i].count == 0)
            s->cells[r][i].status = status;
        if (s->cells[r][i].status == status) {
            s->cells[r][i].count++;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void sim_stats_mistake(sim_stats *s, sim_mistake m)
{
    if ((unsigned)m >= SIM_MISTAKE_COUNT)
        return;
    pthread_mutex_lock(&s->mu);
    s->mistakes[m]++;
    pthread_mutex_unlock(&s->mu);
}

void sim_stats_charge(sim_stats *s, size_t sub, sim_charge c)
{
    if (sub >= SIM_MAX_SUBSCRIPTIONS || (unsigned)c >= SIM_CHARGE_COUNT)
        return;
    pthread_mutex_lock(&s->mu);
    s->charges[sub][c]++;
    pthread_mutex_unlock(&s->mu);
}

void sim_stats_reset(sim_stats *s)
{
    pthread_mutex_lock(&s->mu);
    memset(s->cells, 0, sizeof s->cells);
    memset(s->mistakes, 0, sizeof s->mistakes);
    memset(s->charges, 0, sizeof s->charges);
    pthread_mutex_unlock(&s->mu);
}

void sim_stats_json(sim_stats *s, int64_t phase, const sim_scenario *sc, mdf_buf *out)
{
    mdf_jsonw w;
    mdf_jsonw_init(&w, out, NULL);
    pthread_mutex_lock(&s->mu);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_key(&w, "requests");
    mdf_jsonw_obj_begin(&w);
    for (int r = 0; r < SIM_R_COUNT; r++) {
        if (s->cells[r][0].count == 0)
            continue;
        mdf_jsonw_key(&w, ROUTE_NAMES[r]);
        mdf_jsonw_obj_begin(&w);
        for (size_t i = 0; i < SIM_STATS_SLOTS && s->cells[r][i].count; i++) {
            char st[12];
            snprintf(st, sizeof st, "%u", s->cells[r][i].status);
            mdf_jsonw_kint(&w, st, (int64_t)s->cells[r][i].count);
        }
        mdf_jsonw_obj_end(&w);
    }
    mdf_jsonw_obj_end(&w);
    for (int m = 0; m < SIM_MISTAKE_COUNT; m++)
        mdf_jsonw_kint(&w, MISTAKE_NAMES[m], (int64_t)s->mistakes[m]);
    mdf_jsonw_kint(&w, "phase", phase);
    /* every served subscription, zeros included: a client can tell "none
     * charged here" from "not served" */
    mdf_jsonw_key(&w, "subscriptions");
    mdf_jsonw_obj_begin(&w);
    for (size_t i = 0; i < sc->n_subscriptions && i < SIM_MAX_SUBSCRIPTIONS; i++) {
        mdf_jsonw_key(&w, sc->subscriptions[i]);
        mdf_jsonw_obj_begin(&w);
        mdf_jsonw_kint(&w, "reads", (int64_t)s->charges[i][SIM_CHARGE_READ]);
        mdf_jsonw_kint(&w, "writes", (int64_t)s->charges[i][SIM_CHARGE_WRITE]);
        mdf_jsonw_kint(&w, "throttled", (int64_t)s->charges[i][SIM_CHARGE_THROTTLED]);
        mdf_jsonw_obj_end(&w);
    }
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_obj_end(&w);
    pthread_mutex_unlock(&s->mu);
    mdf_jsonw_finish(&w);
}

const char *sim_req_header(const sim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *sim_req_query(const sim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool sim_req_is(const sim_req *r, const char *method)
{
    return strcmp(r->method, method) == 0;
}

struct MHD_Response *sim_resp_buf(mdf_buf *body, const char *content_type)
{
    size_t len = 0;
    char *data = mdf_buf_take(body, &len);
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        return NULL;
    }
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return resp;
}

struct MHD_Response *sim_resp_str(const char *s, const char *content_type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_MUST_COPY);
    if (resp && content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return resp;
}

void sim_resp_retry_after(struct MHD_Response *resp, int64_t wait_ms)
{
    char v[24];
    if (!resp)
        return;
    if (wait_ms < 1)
        wait_ms = 1;
    snprintf(v, sizeof v, "%" PRId64, (wait_ms + 999) / 1000);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    /* Some Azure services add the exact wait in ms; scaled tests need it. */
    snprintf(v, sizeof v, "%" PRId64, wait_ms);
    MHD_add_response_header(resp, MDF_H_RETRY_AFTER_MS, v);
}

enum MHD_Result sim_send(sim_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp) {
        sim_stats_count(&r->srv->stats, r->route, 0);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MDF_H_REQUEST_ID, r->request_id);
    if (r->arm) {
        char v[24];
        MHD_add_response_header(resp, "x-ms-correlation-request-id", r->correlation_id);
        snprintf(v, sizeof v, "%" PRId64, r->ratelimit_remaining);
        MHD_add_response_header(resp, r->ratelimit_header, v);
    }
    sim_stats_count(&r->srv->stats, r->route, status);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result sim_send_json(sim_req *r, unsigned status, mdf_buf *body)
{
    return sim_send(r, status, sim_resp_buf(body, SIM_JSON_CT));
}

static struct MHD_Response *arm_error(const char *code, const char *fmt, va_list ap)
{
    char msg[1024];
    mdf_buf b;
    mdf_jsonw w;
    vsnprintf(msg, sizeof msg, fmt, ap);
    mdf_buf_init(&b, 8192);
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_key(&w, "error");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "code", code);
    mdf_jsonw_kstr(&w, "message", msg);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_obj_end(&w);
    if (mdf_jsonw_finish(&w) != 0) {
        mdf_buf_free(&b);
        return NULL;
    }
    return sim_resp_buf(&b, SIM_JSON_CT);
}

struct MHD_Response *sim_resp_arm_error(const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = arm_error(code, fmt, ap);
    va_end(ap);
    return resp;
}

enum MHD_Result sim_send_arm_error(sim_req *r, unsigned status, const char *code, const char *fmt,
                                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = arm_error(code, fmt, ap);
    va_end(ap);
    return sim_send(r, status, resp);
}

enum MHD_Result sim_send_arm_error_retry(sim_req *r, unsigned status, int64_t wait_ms,
                                         const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = arm_error(code, fmt, ap);
    va_end(ap);
    sim_resp_retry_after(resp, wait_ms);
    return sim_send(r, status, resp);
}
