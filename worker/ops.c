/* The worker's observability (ops.h). */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "kafka_health.h"
#include "log.h"
#include "ops_server.h"
#include "version.h"

#define PUBLISH_MS 1000          /* a new snapshot at most this often */
#define TOKEN_RETRY_MS 5000      /* asking again for a first token */
#define MAX_EXPOSITION (4 << 20) /* bytes of one snapshot */
#define MAX_LAG_SERIES 256       /* partitions with a lag series */

enum {
    M_BUILD,
    M_PRODUCED,
    M_DELIVERY_ERR,
    M_DLQ,
    M_LAG,
    M_ARM_REQ,
    M_ARM_429,
    M_ARM_TOKENS,
    M_ARM_QUOTA,
    M_ARM_RATE,
    M_POLL_DELAY,
    M_REQ_INFLIGHT,
    M_READY,
    M__COUNT
};

struct mdf_wops {
    mdf_metrics *reg;
    mdf_arm *arm;
    mdf_auth *arm_auth;
    mdf_metric *m[M__COUNT];
    mdf_ops_server *server; /* NULL: metrics.listen is empty */
    unsigned ready;         /* MDF_OPS_READY_* as last published */
    int64_t next_publish, next_token;
    bool rendering_failed;
};

static const double poll_buckets[] = {0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300};

static const mdf_metric_def defs[M__COUNT] = {
    [M_BUILD] = {.type = MDF_GAUGE,
                 .name = "mdefleet_build_info",
                 .help = "The worker's version (value 1)",
                 .labels = {"version"},
                 .n_labels = 1,
                 .max_series = 2},
    [M_PRODUCED] = {.type = MDF_COUNTER,
                    .name = "mdefleet_records_produced_total",
                    .help = "Records acknowledged by the broker, by topic",
                    .labels = {"topic"},
                    .n_labels = 1,
                    .max_series = 32},
    [M_DELIVERY_ERR] = {.type = MDF_COUNTER,
                        .name = "mdefleet_delivery_errors_total",
                        .help = "Records the broker did not acknowledge, by topic",
                        .labels = {"topic"},
                        .n_labels = 1,
                        .max_series = 32},
    [M_DLQ] = {.type = MDF_COUNTER,
               .name = "mdefleet_dlq_records_total",
               .help = "Messages dead-lettered (acknowledged on the DLQ topic)"},
    [M_LAG] = {.type = MDF_GAUGE,
               .name = "mdefleet_consumer_lag",
               .help = "Messages behind the end of each assigned partition (librdkafka statistics)",
               .labels = {"topic", "partition"},
               .n_labels = 2,
               .max_series = MAX_LAG_SERIES},
    [M_ARM_REQ] = {.type = MDF_COUNTER,
                   .name = "mdefleet_arm_requests_total",
                   .help = "Resource Manager answers by budget class and HTTP status (0: none)",
                   .labels = {"class", "code"},
                   .n_labels = 2,
                   .max_series = 64},
    [M_ARM_429] = {.type = MDF_COUNTER,
                   .name = "mdefleet_arm_throttled_total",
                   .help = "Resource Manager 429 answers"},
    [M_ARM_TOKENS] = {.type = MDF_GAUGE,
                      .name = "mdefleet_arm_budget_tokens",
                      .help = "Tokens left in the client-side budget",
                      .labels = {"subscription", "class"},
                      .n_labels = 2,
                      .max_series = 64},
    [M_ARM_QUOTA] = {.type = MDF_GAUGE,
                     .name = "mdefleet_arm_quota_remaining",
                     .help = "Resource Manager's last x-ms-ratelimit-remaining figure",
                     .labels = {"subscription", "class"},
                     .n_labels = 2,
                     .max_series = 64},
    [M_ARM_RATE] = {.type = MDF_GAUGE,
                    .name = "mdefleet_arm_budget_rate",
                    .help = "The client-side budget's pace now, requests per second",
                    .labels = {"subscription", "class"},
                    .n_labels = 2,
                    .max_series = 64},
    [M_POLL_DELAY] = {.type = MDF_HISTOGRAM,
                      .name = "mdefleet_arm_poll_delay_seconds",
                      .help = "Waits before polling a long-running operation",
                      .buckets = poll_buckets,
                      .n_buckets = sizeof poll_buckets / sizeof *poll_buckets},
    [M_REQ_INFLIGHT] = {.type = MDF_GAUGE,
                        .name = "mdefleet_requests_in_flight",
                        .help = "Consumed messages holding a slot of worker.max_inflight"},
    [M_READY] = {.type = MDF_GAUGE, .name = "mdefleet_ready", .help = "1 when /readyz answers 200"},
};

static void on_answer(void *ctx, bool write, long status)
{
    mdf_wops *o = ctx;
    char code[16];
    snprintf(code, sizeof code, "%ld", status);
    mdf_metric_inc(o->m[M_ARM_REQ], (const char *[]){write ? "write" : "read", code}, 1);
    if (status == 429)
        mdf_metric_inc(o->m[M_ARM_429], NULL, 1);
}

static void on_poll_delay(void *ctx, int64_t delay_ms)
{
    mdf_wops *o = ctx;
    mdf_metric_observe(o->m[M_POLL_DELAY], NULL, (double)delay_ms / 1000.0);
}

static void on_token(void *arg, const char *token, const char *why)
{
    /* readiness looks at mdf_auth_fetches: nothing to keep here */
    (void)arg;
    if (!token)
        mdf_warn("no Resource Manager token yet: %s", why ? why : "?");
}

int mdf_wops_new(mdf_wops **out, const mdf_config *cfg, mdf_metrics *reg, mdf_arm *arm,
                 mdf_auth *arm_auth, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_wops *o = calloc(1, sizeof *o);
    *out = NULL;
    if (!o)
        return mdf_seterr(err, errsz, "out of memory");
    o->reg = reg;
    o->arm = arm;
    o->arm_auth = arm_auth;
    for (int i = 0; i < M__COUNT; i++) {
        if (mdf_metrics_add(reg, &defs[i], &o->m[i], err, errsz) != MDF_OK)
            goto cleanup;
    }
    mdf_metric_set(o->m[M_BUILD], (const char *[]){mdf_version()}, 1);
    mdf_metric_inc(o->m[M_DLQ], NULL, 0); /* shown from the start, at 0 */
    mdf_metric_inc(o->m[M_ARM_429], NULL, 0);
    const mdf_arm_observer obs = {on_answer, on_poll_delay, o};
    mdf_arm_set_observer(arm, &obs);
    const char *listen = mdf_config_get(cfg, "metrics.listen");
    if (listen && *listen) {
        int64_t stall_ms = mdf_config_get_int(cfg, "metrics.stall_seconds") * 1000;
        if (mdf_ops_server_start(&o->server, listen, stall_ms, err, errsz) != MDF_OK)
            goto cleanup;
        mdf_info("serving /metrics, /livez, /readyz on %s", mdf_ops_server_url(o->server));
    }
    *out = o;
    o = NULL;
    rc = MDF_OK;
cleanup:
    mdf_wops_free(o);
    return rc;
}

void mdf_wops_free(mdf_wops *o)
{
    if (!o)
        return;
    mdf_ops_server_stop(o->server);
    if (o->arm)
        mdf_arm_set_observer(o->arm, NULL);
    free(o);
}

bool mdf_wops_serving(const mdf_wops *o)
{
    return o->server != NULL;
}

static void set_ready(mdf_wops *o, unsigned cond, bool on)
{
    o->ready = on ? o->ready | cond : o->ready & ~cond;
    if (o->server)
        mdf_ops_ready(o->server, cond, on);
    mdf_metric_set(o->m[M_READY], NULL,
                   (o->ready & MDF_OPS_READY_ALL) == MDF_OPS_READY_ALL ? 1 : 0);
}

void mdf_wops_assigned(mdf_wops *o, int n)
{
    set_ready(o, MDF_OPS_READY_ASSIGNED, n > 0);
    if (n == 0)
        mdf_metric_clear(o->m[M_LAG]); /* no partition is ours now */
}

void mdf_wops_delivered(mdf_wops *o, const char *topic, const char *dlq_topic,
                        rd_kafka_resp_err_t err)
{
    const char *v[] = {topic};
    if (err) {
        mdf_metric_inc(o->m[M_DELIVERY_ERR], v, 1);
        return;
    }
    mdf_metric_inc(o->m[M_PRODUCED], v, 1);
    if (dlq_topic && strcmp(topic, dlq_topic) == 0)
        mdf_metric_inc(o->m[M_DLQ], NULL, 1);
}

static void on_lag(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    mdf_wops *o = ctx;
    char p[16];
    snprintf(p, sizeof p, "%d", (int)partition);
    mdf_metric_set(o->m[M_LAG], (const char *[]){topic, p}, (double)lag);
}

void mdf_wops_consumer_stats(mdf_wops *o, const char *json, size_t len)
{
    char err[MDF_ERRSZ];
    /* the document lists the partitions of now: those of before go */
    mdf_metric_clear(o->m[M_LAG]);
    if (mdf_kafka_stats_lag(json, len, on_lag, o, err, sizeof err) != MDF_OK)
        mdf_debug("%s", err);
}

static void on_budget(void *ctx, const mdf_arm_budget_info *b)
{
    mdf_wops *o = ctx;
    const char *v[] = {b->subscription, b->write ? "write" : "read"};
    mdf_metric_set(o->m[M_ARM_TOKENS], v, b->tokens);
    mdf_metric_set(o->m[M_ARM_RATE], v, b->rate);
    if (b->remaining >= 0)
        mdf_metric_set(o->m[M_ARM_QUOTA], v, (double)b->remaining);
}

static void publish(mdf_wops *o)
{
    char err[MDF_ERRSZ];
    mdf_buf b;
    mdf_buf_init(&b, MAX_EXPOSITION);
    if (mdf_metrics_render(o->reg, &b, err, sizeof err) != MDF_OK) {
        if (!o->rendering_failed)
            mdf_warn("%s: /metrics keeps the last snapshot", err);
        o->rendering_failed = true;
    } else if (mdf_ops_publish(o->server, b.data ? b.data : "", b.len) != MDF_OK) {
        mdf_warn("out of memory for a metrics snapshot");
    }
    mdf_buf_free(&b);
}

void mdf_wops_alive(mdf_wops *o, int64_t now_ms)
{
    if (o->server)
        mdf_ops_alive(o->server, now_ms);
}

void mdf_wops_turn(mdf_wops *o, int64_t now_ms, int requests_in_flight)
{
    mdf_wops_alive(o, now_ms);
    if (now_ms < o->next_publish)
        return;
    o->next_publish = now_ms + PUBLISH_MS;
    bool token = mdf_auth_fetches(o->arm_auth) > 0;
    if (token != !!(o->ready & MDF_OPS_READY_TOKEN))
        set_ready(o, MDF_OPS_READY_TOKEN, token);
    if (!token && now_ms >= o->next_token) {
        /* readiness needs one: ask early rather than at the first job */
        o->next_token = now_ms + TOKEN_RETRY_MS;
        if (mdf_auth_get(o->arm_auth, on_token, NULL) != MDF_OK)
            mdf_warn("out of memory asking for a token");
    }
    mdf_metric_set(o->m[M_REQ_INFLIGHT], NULL, requests_in_flight);
    mdf_arm_foreach_budget(o->arm, on_budget, o);
    if (o->server)
        publish(o);
}
