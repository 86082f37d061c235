#include "arm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "clock.h"
#include "err.h"
#include "json_reader.h"
#include "names.h"
#include "resource_id.h"
#include "token_bucket.h"
#include "vec.h"

#define USER_AGENT "User-Agent: mdefleet/0.1"
/* time an extract may take beyond its own limit before we stop waiting */
#define EXTRACT_MARGIN_MS (15 * 60 * 1000)

typedef enum { K_GET_CLUSTER, K_SET_ENFORCEMENT, K_SCAN_RUNTIME, K_LIST_BMMS, K_RUN_EXTRACT } kind;
typedef enum { P_REQUEST, P_POLL, P_CONFIRM, P_PAGE } phase;

struct bucket {
    mdf_token_bucket tb;
    double burst, rate; /* as configured; burst 0: no client-side budget */
    /* after a 429: one request at a time at the rate the server's
     * Retry-After implies, until adapt_until */
    double adapt_rate;
    int64_t adapt_until;
};

typedef struct op op;
LIST_HEAD(op_list, op);

struct mdf_arm {
    mdf_http *http;
    mdf_auth *auth;
    mdf_arm_cfg cfg;
    mdf_url_parts origin;
    struct bucket reads, writes;
    mdf_arm_stats stats;
    struct op_list ops; /* pending, for destroy */
};

struct op {
    mdf_arm *arm;
    kind kind;
    phase phase;
    const char *method;
    char url[MDF_URL_MAX];         /* of the current request */
    char confirm_url[MDF_URL_MAX]; /* the resource, for a GET after an operation */
    char *body;                    /* owned: the first request's body */
    int attempt;
    bool auth_retried;
    char *token; /* owned copy of the token in use */
    int64_t deadline;
    int64_t deadline_ms; /* the budget it was given, for the message */
    mdf_arm_error e;
    mdf_cluster cluster;
    mdf_opstatus st;
    mdf_vec bmms; /* mdf_bmm, at most cfg.max_machines */
    union {
        mdf_arm_cluster_cb cluster;
        mdf_arm_bmms_cb bmms;
        mdf_arm_op_cb op;
    } cb;
    void *arg;
    bool listed; /* on arm->ops */
    LIST_ENTRY(op) link;
};

const char *mdf_arm_errcode_name(mdf_arm_errcode c)
{
    static const char *const names[] = {
        "ok",           "auth",        "throttled",        "not found",
        "conflict",     "bad request", "operation failed", "timed out",
        "bad response", "transport"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "?";
}

void mdf_arm_cfg_default(mdf_arm_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    mdf_strlcpy(cfg->endpoint, MDF_ARM_ENDPOINT, sizeof cfg->endpoint);
    mdf_strlcpy(cfg->api_version, "2026-07-01", sizeof cfg->api_version);
    cfg->retry = (mdf_retry){.max_retries = 6, .base_ms = 1000, .max_ms = 60000};
    cfg->reads = (mdf_bucket_cfg){250, 25};
    cfg->writes = (mdf_bucket_cfg){200, 10};
    cfg->request_timeout_ms = 60000;
    cfg->poll_min_ms = 100;
    cfg->poll_default_ms = 5000;
    cfg->poll_max_ms = 60000;
    cfg->operation_deadline_ms = 60 * 60 * 1000;
    cfg->max_response = 4u << 20;
    cfg->max_machines = MDF_ARM_MAX_MACHINES;
}

static void bucket_init(struct bucket *b, const mdf_bucket_cfg *c)
{
    memset(b, 0, sizeof *b);
    b->burst = c->burst;
    b->rate = c->per_second;
    mdf_tb_init(&b->tb, c->burst, c->per_second, mdf_mono_ms());
}

/* Takes a token: 0, or how many ms to wait first. */
static int64_t bucket_take(struct bucket *b, int64_t now)
{
    double burst = b->burst, rate = b->rate;
    if (now < b->adapt_until) {
        burst = 1;
        if (rate <= 0 || b->adapt_rate < rate)
            rate = b->adapt_rate;
    }
    if (burst <= 0 || rate <= 0)
        return 0; /* no client-side budget */
    b->tb.burst = burst;
    b->tb.per_second = rate;
    return mdf_tb_take(&b->tb, now);
}

/* A 429: nothing until Retry-After, then the pace it implies (it is the
 * time until the server's next token), for a while. Without this, every
 * waiting request would retry at the same instant and most would be
 * throttled again. */
static void bucket_throttled(struct bucket *b, int64_t now, int64_t retry_after_ms)
{
    int64_t r = retry_after_ms > 0 ? retry_after_ms : 1000;
    int64_t window = 4 * r > 10000 ? 4 * r : 10000;
    mdf_tb_hold(&b->tb, now, r);
    b->adapt_rate = 1000.0 / (double)r;
    if (now + window > b->adapt_until)
        b->adapt_until = now + window;
}

int mdf_arm_new(mdf_arm **out, mdf_http *http, mdf_auth *auth, const mdf_arm_cfg *cfg, char *err,
                size_t errsz)
{
    mdf_url_parts u;
    size_t n = strlen(cfg->endpoint);
    if (n == 0 || cfg->endpoint[n - 1] == '/')
        return mdf_seterr(err, errsz, "arm.endpoint must be a URL without a trailing slash");
    if (mdf_url_parse(cfg->endpoint, &u, err, errsz) != MDF_OK)
        return MDF_ERR;
    if (!mdf_url_scheme_ok(&u, cfg->http))
        return mdf_seterr(err, errsz,
                          "arm.endpoint must be https (http only to loopback, "
                          "when allowed)");
    if (!cfg->api_version[0])
        return mdf_seterr(err, errsz, "arm.api_version is empty");
    mdf_arm *a = calloc(1, sizeof *a);
    if (!a)
        return mdf_seterr(err, errsz, "out of memory");
    a->http = http;
    a->auth = auth;
    a->cfg = *cfg;
    a->origin = u;
    bucket_init(&a->reads, &cfg->reads);
    bucket_init(&a->writes, &cfg->writes);
    LIST_INIT(&a->ops);
    *out = a;
    return MDF_OK;
}

static void op_unlink(op *o)
{
    if (o->listed)
        LIST_REMOVE(o, link);
    o->listed = false;
}

static void op_free(op *o)
{
    op_unlink(o);
    free(o->body);
    free(o->token);
    mdf_vec_free(&o->bmms);
    free(o);
}

void mdf_arm_destroy(mdf_arm *a)
{
    if (!a)
        return;
    while (!LIST_EMPTY(&a->ops))
        op_free(LIST_FIRST(&a->ops));
    free(a);
}

const mdf_arm_stats *mdf_arm_get_stats(const mdf_arm *a)
{
    return &a->stats;
}

/* ---- completion ------------------------------------------------------------- */

static void op_done(op *o)
{
    bool ok = o->e.code == MDF_ARM_OK;
    /* off the pending list first: the callback may destroy the client */
    op_unlink(o);
    switch (o->kind) {
    case K_GET_CLUSTER:
    case K_SET_ENFORCEMENT:
        o->cb.cluster(o->arg, &o->e, ok ? &o->cluster : NULL);
        break;
    case K_LIST_BMMS:
        o->cb.bmms(o->arg, &o->e, ok ? o->bmms.data : NULL, ok ? o->bmms.len : 0);
        break;
    case K_SCAN_RUNTIME:
    case K_RUN_EXTRACT:
        o->cb.op(o->arg, &o->e, ok || o->e.code == MDF_ARM_E_OPERATION_FAILED ? &o->st : NULL);
        break;
    }
    op_free(o);
}

static void op_fail(op *o, mdf_arm_errcode code, long status, const char *fmt, ...)
    MDF_PRINTF(4, 5);

static void op_fail(op *o, mdf_arm_errcode code, long status, const char *fmt, ...)
{
    va_list ap;
    o->e.code = code;
    o->e.http_status = status;
    va_start(ap, fmt);
    vsnprintf(o->e.message, sizeof o->e.message, fmt, ap);
    va_end(ap);
    op_done(o);
}

/* ---- sending ------------------------------------------------------------------- */

static void op_send(void *arg);
static void op_on_resp(void *arg, mdf_http_resp *r);

static void op_later(op *o, int64_t delay_ms)
{
    if (mdf_http_after(o->arm->http, delay_ms, op_send, o) != MDF_OK)
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
}

static bool is_write(const op *o)
{
    return strcmp(o->method, "GET") != 0;
}

static void op_on_token(void *arg, const char *token, const char *why)
{
    op *o = arg;
    mdf_arm *a = o->arm;
    char err[MDF_ERRSZ];
    if (!token) {
        op_fail(o, MDF_ARM_E_AUTH, 0, "%s", why);
        return;
    }
    /* the budget is spent right before sending, not before a token fetch
     * that could release many requests at once */
    bool write = o->phase == P_REQUEST && is_write(o);
    int64_t wait = bucket_take(write ? &a->writes : &a->reads, mdf_mono_ms());
    if (wait > 0) {
        op_later(o, wait);
        return;
    }
    free(o->token);
    size_t tl = strlen(token);
    o->token = malloc(tl + 1);
    char *auth_hdr = malloc(tl + 32);
    if (!o->token || !auth_hdr) {
        free(auth_hdr);
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
        return;
    }
    memcpy(o->token, token, tl + 1);
    snprintf(auth_hdr, tl + 32, "Authorization: Bearer %s", token);
    bool with_body = o->body && o->phase == P_REQUEST;
    const char *headers[] = {auth_hdr, "Accept: application/json", USER_AGENT,
                             with_body ? "Content-Type: application/json" : NULL, NULL};
    mdf_http_req req = {
        .method = o->phase == P_REQUEST ? o->method : "GET",
        .url = o->url,
        .headers = headers,
        .body = with_body ? o->body : NULL,
        .body_len = with_body ? strlen(o->body) : 0,
        .max_response = a->cfg.max_response,
        .timeout_ms = (long)a->cfg.request_timeout_ms,
        .http = a->cfg.http,
    };
    a->stats.requests++;
    if (o->phase == P_POLL)
        a->stats.polls++;
    int rc = mdf_http_start(a->http, &req, op_on_resp, o, err, sizeof err);
    /* the header held the token: do not leave it in freed memory */
    explicit_bzero(auth_hdr, tl + 32);
    free(auth_hdr);
    if (rc != MDF_OK)
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "%s", err);
}

static void op_send(void *arg)
{
    op *o = arg;
    mdf_arm *a = o->arm;
    int64_t now = mdf_mono_ms();
    if (now >= o->deadline) {
        op_fail(o, MDF_ARM_E_TIMED_OUT, o->e.http_status, "no result within %lld s",
                (long long)(o->deadline_ms / 1000));
        return;
    }
    if (mdf_auth_get(a->auth, op_on_token, o) != MDF_OK)
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
}

/* Starts the next request of this operation (a poll, a page, a GET). */
static void op_next(op *o, phase p, const char *url, int64_t delay_ms)
{
    o->phase = p;
    o->attempt = 0;
    o->auth_retried = false;
    if (url != o->url)
        mdf_strlcpy(o->url, url, sizeof o->url);
    op_later(o, delay_ms);
}

/* ---- answers --------------------------------------------------------------------- */

/* The body as JSON: MDF_OK with *doc NULL for an empty body, MDF_ERR (and
 * err) for one that is not JSON. */
static int parse_body(mdf_http_resp *r, mdf_jdoc **doc, char *err, size_t errsz)
{
    size_t len;
    char *text = mdf_buf_take(&r->body, &len);
    *doc = NULL;
    if (len == 0) {
        free(text);
        return MDF_OK;
    }
    return mdf_jdoc_parse(&text, len, 64, doc, err, errsz);
}

/* Maps a final error answer onto the typed set. */
static void op_fail_http(op *o, mdf_http_resp *r)
{
    mdf_arm_errcode code;
    mdf_jdoc *doc = NULL;
    char perr[MDF_ERRSZ];
    if (parse_body(r, &doc, perr, sizeof perr) == MDF_OK && doc)
        mdf_arm_decode_error(&doc->root, o->e.arm_code, sizeof o->e.arm_code, o->e.message,
                             sizeof o->e.message);
    mdf_jdoc_free(doc);
    switch (r->curl_code != CURLE_OK ? 0 : r->status) {
    case 0:
        code = MDF_ARM_E_TRANSPORT;
        break;
    case 401:
    case 403:
        code = MDF_ARM_E_AUTH;
        break;
    case 404:
        code = MDF_ARM_E_NOT_FOUND;
        break;
    case 409:
        code = MDF_ARM_E_CONFLICT;
        break;
    case 429:
        code = MDF_ARM_E_THROTTLED;
        break;
    default:
        code = r->status >= 500 ? MDF_ARM_E_TRANSPORT : MDF_ARM_E_BAD_REQUEST;
    }
    char msg[sizeof o->e.message];
    if (r->status == 0 || r->curl_code != CURLE_OK)
        mdf_seterr(msg, sizeof msg, "%s", r->curl_error);
    else if (o->e.arm_code[0])
        mdf_seterr(msg, sizeof msg, "HTTP %ld %s: %s", r->status, o->e.arm_code, o->e.message);
    else
        mdf_seterr(msg, sizeof msg, "HTTP %ld", r->status);
    op_fail(o, code, r->status, "%s%s", msg, o->attempt > 1 ? " (after retries)" : "");
}

static bool url_ok(op *o, const char *url)
{
    mdf_url_parts u;
    char err[MDF_ERRSZ];
    return mdf_url_parse(url, &u, err, sizeof err) == MDF_OK &&
           mdf_url_same_origin(&u, &o->arm->origin);
}

static int64_t poll_delay(const op *o, const mdf_http_resp *r)
{
    const mdf_arm_cfg *c = &o->arm->cfg;
    int64_t d = r->retry_after_ms >= 0 ? r->retry_after_ms : c->poll_default_ms;
    if (d < c->poll_min_ms)
        d = c->poll_min_ms;
    return d > c->poll_max_ms ? c->poll_max_ms : d;
}

static int add_bmm(void *arg, const mdf_bmm *b)
{
    op *o = arg;
    return mdf_vec_push(&o->bmms, b) == 0 ? MDF_OK : MDF_ERR;
}

/* The operation's final status (an empty body means done) into o->st. */
static bool take_status(op *o, const mdf_jdoc *doc, long status)
{
    char err[MDF_ERRSZ];
    if (!doc) {
        memset(&o->st, 0, sizeof o->st);
        mdf_strlcpy(o->st.status, "Succeeded", sizeof o->st.status);
        return true;
    }
    if (mdf_arm_decode_opstatus(&doc->root, &o->st, err, sizeof err) != MDF_OK) {
        op_fail(o, MDF_ARM_E_BAD_RESPONSE, status, "operation status: %s", err);
        return false;
    }
    return true;
}

/* A 200: the resource, a list page, or a finished operation's status. */
static void op_success(op *o, mdf_http_resp *r)
{
    char err[MDF_ERRSZ];
    mdf_jdoc *doc = NULL;
    if (parse_body(r, &doc, err, sizeof err) != MDF_OK) {
        op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "answer is %s", err);
        return;
    }
    if (o->phase == P_PAGE) {
        char next[MDF_URL_MAX];
        int rc = doc ? mdf_arm_decode_bmm_page(&doc->root, add_bmm, o, next, sizeof next, err,
                                               sizeof err)
                     : mdf_seterr(err, sizeof err, "no JSON body");
        mdf_jdoc_free(doc);
        if (rc != MDF_OK)
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "machine list: %s", err);
        else if (!next[0])
            op_done(o);
        else if (!url_ok(o, next))
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "nextLink to another origin refused");
        else
            op_next(o, P_PAGE, next, 0);
        return;
    }
    if (o->kind == K_GET_CLUSTER || o->phase == P_CONFIRM) {
        int rc = doc ? mdf_arm_decode_cluster(&doc->root, &o->cluster, err, sizeof err)
                     : mdf_seterr(err, sizeof err, "no JSON body");
        mdf_jdoc_free(doc);
        if (rc != MDF_OK)
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "cluster: %s", err);
        else
            op_done(o);
        return;
    }
    if (o->phase == P_POLL) {
        if (!take_status(o, doc, r->status)) {
            mdf_jdoc_free(doc);
            return;
        }
        mdf_jdoc_free(doc);
        if (!mdf_arm_status_terminal(o->st.status)) {
            op_next(o, P_POLL, o->url, poll_delay(o, r));
            return;
        }
        if (!mdf_arm_status_succeeded(o->st.status)) {
            mdf_strlcpy(o->e.arm_code, o->st.error_code, sizeof o->e.arm_code);
            op_fail(o, MDF_ARM_E_OPERATION_FAILED, r->status, "operation %s%s%s", o->st.status,
                    o->st.error_message[0] ? ": " : "", o->st.error_message);
            return;
        }
    } else {
        /* a 200 to the request itself: the resource, not an operation */
        mdf_jdoc_free(doc);
        memset(&o->st, 0, sizeof o->st);
        mdf_strlcpy(o->st.status, "Succeeded", sizeof o->st.status);
    }
    if (o->kind == K_SET_ENFORCEMENT)
        op_next(o, P_CONFIRM, o->confirm_url, 0); /* read the cluster back */
    else
        op_done(o);
}

/* Whether to try again. A 2xx cut short counts (its body is not whole). A
 * POST action (scanRuntime, runDataExtracts) is only repeated when it was
 * surely not carried out: refused (429, 503) or never sent. */
static bool op_transient(const op *o, const mdf_http_resp *r)
{
    if (r->status >= 200 && r->status < 300 && r->curl_code != CURLE_OK)
        return o->phase != P_REQUEST || strcmp(o->method, "POST") != 0;
    if (!mdf_retry_transient(r))
        return false;
    if (o->phase != P_REQUEST || strcmp(o->method, "POST") != 0)
        return true;
    return r->status == 429 || r->status == 503 ||
           (r->status == 0 &&
            (r->curl_code == CURLE_COULDNT_CONNECT || r->curl_code == CURLE_COULDNT_RESOLVE_HOST));
}

static void op_on_resp(void *arg, mdf_http_resp *r)
{
    op *o = arg;
    mdf_arm *a = o->arm;
    o->attempt++;
    o->e.http_status = r->status;
    if (r->status == 401 && !o->auth_retried) {
        /* the token may have expired early: one fresh token, at once */
        o->auth_retried = true;
        mdf_auth_invalidate(a->auth, o->token);
        a->stats.auth_refreshes++;
        op_later(o, 0);
        return;
    }
    if (r->too_big) {
        op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "answer larger than %zu bytes",
                a->cfg.max_response);
        return;
    }
    if (op_transient(o, r)) {
        if (r->status == 429) {
            a->stats.throttled++;
            bucket_throttled(o->phase == P_REQUEST && is_write(o) ? &a->writes : &a->reads,
                             mdf_mono_ms(), r->retry_after_ms);
        }
        if (o->attempt <= a->cfg.retry.max_retries) {
            a->stats.retries++;
            /* after a 429 the bucket paces the retry; no extra wait */
            op_later(o, r->status == 429
                            ? 0
                            : mdf_retry_delay(&a->cfg.retry, o->attempt, r->retry_after_ms));
            return;
        }
        op_fail_http(o, r);
        return;
    }
    if (r->status < 200 || r->status >= 300 || r->curl_code != CURLE_OK) {
        op_fail_http(o, r);
        return;
    }
    if (o->phase == P_POLL && r->status == 202) {
        /* still running; Location may move, on the same origin */
        if (r->location[0] && url_ok(o, r->location))
            mdf_strlcpy(o->url, r->location, sizeof o->url);
        op_next(o, P_POLL, o->url, poll_delay(o, r));
        return;
    }
    if (o->phase == P_REQUEST && (r->status == 201 || r->status == 202) &&
        o->kind != K_GET_CLUSTER) {
        /* a long-running operation: Azure-AsyncOperation first, else Location */
        const char *next = r->azure_async[0] ? r->azure_async : r->location;
        if (!next[0]) {
            if (r->status == 201) {
                op_success(o, r);
                return;
            }
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status,
                    "202 without Azure-AsyncOperation or Location");
            return;
        }
        if (!url_ok(o, next)) {
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status,
                    "operation URL on another origin refused");
            return;
        }
        mdf_strlcpy(o->url, next, sizeof o->url);
        op_next(o, P_POLL, o->url, poll_delay(o, r));
        return;
    }
    op_success(o, r);
}

/* ---- operations ------------------------------------------------------------------ */

static op *op_new(mdf_arm *a, kind k, const char *method, void *arg, char *err, size_t errsz)
{
    op *o = calloc(1, sizeof *o);
    if (!o) {
        mdf_seterr(err, errsz, "out of memory");
        return NULL;
    }
    o->arm = a;
    o->kind = k;
    o->method = method;
    o->arg = arg;
    o->phase = k == K_LIST_BMMS ? P_PAGE : P_REQUEST;
    o->deadline_ms = a->cfg.operation_deadline_ms;
    o->deadline = mdf_mono_ms() + o->deadline_ms;
    mdf_vec_init(&o->bmms, sizeof(mdf_bmm), a->cfg.max_machines);
    LIST_INSERT_HEAD(&a->ops, o, link);
    o->listed = true;
    return o;
}

/* Schedules the first request: callbacks never run inside a start call. */
static int op_start(op *o, char *err, size_t errsz)
{
    if (mdf_http_after(o->arm->http, 0, op_send, o) != MDF_OK) {
        op_free(o);
        return mdf_seterr(err, errsz, "out of memory");
    }
    return MDF_OK;
}

/* Names are checked against the API's patterns before they go into a URL;
 * NULL ones are not asked for. */
static int check_names(const char *sub, const char *rg, const char *cluster, const char *managed_rg,
                       const char *bmm, char *err, size_t errsz)
{
    if (!mdf_valid_subscription(sub))
        return mdf_seterr(err, errsz, "invalid subscription id \"%.80s\": not %s", sub,
                          MDF_RULE_SUBSCRIPTION);
    if (rg && !mdf_valid_resource_group(rg))
        return mdf_seterr(err, errsz, "invalid resource group \"%.100s\": not %s", rg,
                          MDF_RULE_RESOURCE_GROUP);
    if (cluster && !mdf_valid_cluster_name(cluster))
        return mdf_seterr(err, errsz, "invalid cluster name \"%.80s\": not %s", cluster,
                          MDF_RULE_CLUSTER);
    if (managed_rg && !mdf_valid_resource_group(managed_rg))
        return mdf_seterr(err, errsz, "invalid managed resource group \"%.100s\": not %s",
                          managed_rg, MDF_RULE_RESOURCE_GROUP);
    if (bmm && !mdf_valid_bmm_name(bmm))
        return mdf_seterr(err, errsz, "invalid bare-metal machine name \"%.80s\": not %s", bmm,
                          MDF_RULE_BMM);
    return MDF_OK;
}

/* endpoint + resource id [+ "/" action] + "?api-version=" */
static int resource_url(const mdf_arm *a, char *out, size_t outsz, const char *rid,
                        const char *action, char *err, size_t errsz)
{
    int n = snprintf(out, outsz, "%s%s%s%s?api-version=%s", a->cfg.endpoint, rid, action ? "/" : "",
                     action ? action : "", a->cfg.api_version);
    if (n < 0 || (size_t)n >= outsz)
        return mdf_seterr(err, errsz, "URL longer than %zu bytes", outsz);
    return MDF_OK;
}

/* A new operation on a resource's URL (+ action): the cluster `name` of
 * resource group rg, or in the managed resource group rg the machine
 * `name` (NULL: the list of machines). */
static op *resource_op(mdf_arm *a, kind k, const char *method, const char *sub, const char *rg,
                       const char *type, const char *name, const char *action, void *arg, char *err,
                       size_t errsz)
{
    char rid[MDF_RID_MAX];
    bool cluster = strcmp(type, MDF_RT_CLUSTERS) == 0;
    if ((cluster ? check_names(sub, rg, name, NULL, NULL, err, errsz)
                 : check_names(sub, NULL, NULL, rg, name, err, errsz)) != MDF_OK)
        return NULL;
    if (mdf_rid(rid, sizeof rid, sub, rg, type, name) != MDF_OK) {
        mdf_seterr(err, errsz, "resource id too long");
        return NULL;
    }
    op *o = op_new(a, k, method, arg, err, errsz);
    if (o && resource_url(a, o->url, sizeof o->url, rid, action, err, errsz) != MDF_OK) {
        op_free(o);
        return NULL;
    }
    return o;
}

/* Takes a copy of body for the first request, then starts o. */
static int op_start_with(op *o, const char *body, char *err, size_t errsz)
{
    o->body = strdup(body);
    if (!o->body) {
        op_free(o);
        return mdf_seterr(err, errsz, "out of memory");
    }
    return op_start(o, err, errsz);
}

int mdf_arm_get_cluster(mdf_arm *a, const char *sub, const char *rg, const char *cluster,
                        mdf_arm_cluster_cb cb, void *arg, char *err, size_t errsz)
{
    op *o = resource_op(a, K_GET_CLUSTER, "GET", sub, rg, MDF_RT_CLUSTERS, cluster, NULL, arg, err,
                        errsz);
    if (!o)
        return MDF_ERR;
    o->cb.cluster = cb;
    return op_start(o, err, errsz);
}

int mdf_arm_set_enforcement(mdf_arm *a, const char *sub, const char *rg, const char *cluster,
                            const char *level, mdf_arm_cluster_cb cb, void *arg, char *err,
                            size_t errsz)
{
    char body[160];
    if (!mdf_valid_enforcement_level(level))
        return mdf_seterr(err, errsz, "invalid enforcement level \"%.40s\": not %s", level,
                          MDF_RULE_LEVEL);
    op *o = resource_op(a, K_SET_ENFORCEMENT, "PATCH", sub, rg, MDF_RT_CLUSTERS, cluster, NULL, arg,
                        err, errsz);
    if (!o)
        return MDF_ERR;
    o->cb.cluster = cb;
    mdf_strlcpy(o->confirm_url, o->url, sizeof o->confirm_url);
    snprintf(body, sizeof body,
             "{\"properties\":{\"runtimeProtectionConfiguration\":{\"enforcementLevel\":\"%s\"}}}",
             level);
    return op_start_with(o, body, err, errsz);
}

int mdf_arm_scan_runtime(mdf_arm *a, const char *sub, const char *rg, const char *cluster,
                         mdf_arm_op_cb cb, void *arg, char *err, size_t errsz)
{
    op *o = resource_op(a, K_SCAN_RUNTIME, "POST", sub, rg, MDF_RT_CLUSTERS, cluster,
                        MDF_ACTION_SCAN_RUNTIME, arg, err, errsz);
    if (!o)
        return MDF_ERR;
    o->cb.op = cb;
    return op_start_with(o, "{\"scanActivity\":\"Scan\"}", err, errsz);
}

int mdf_arm_list_bmms(mdf_arm *a, const char *sub, const char *managed_rg, mdf_arm_bmms_cb cb,
                      void *arg, char *err, size_t errsz)
{
    op *o = resource_op(a, K_LIST_BMMS, "GET", sub, managed_rg, MDF_RT_BMMS, NULL, NULL, arg, err,
                        errsz);
    if (!o)
        return MDF_ERR;
    o->cb.bmms = cb;
    return op_start(o, err, errsz);
}

int mdf_arm_run_data_extract(mdf_arm *a, const char *sub, const char *managed_rg, const char *bmm,
                             int limit_time_seconds, bool restricted, mdf_arm_op_cb cb, void *arg,
                             char *err, size_t errsz)
{
    char body[160];
    if (limit_time_seconds < MDF_EXTRACT_LIMIT_MIN || limit_time_seconds > MDF_EXTRACT_LIMIT_MAX)
        return mdf_seterr(err, errsz, "limit time %d s out of %d..%d", limit_time_seconds,
                          MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX);
    if (!bmm)
        return mdf_seterr(err, errsz, "no bare-metal machine named");
    op *o = resource_op(a, K_RUN_EXTRACT, "POST", sub, managed_rg, MDF_RT_BMMS, bmm,
                        restricted ? MDF_ACTION_RUN_DATA_EXTRACTS_RESTRICTED
                                   : MDF_ACTION_RUN_DATA_EXTRACTS,
                        arg, err, errsz);
    if (!o)
        return MDF_ERR;
    o->cb.op = cb;
    o->deadline_ms = (int64_t)limit_time_seconds * 1000 + EXTRACT_MARGIN_MS;
    o->deadline = mdf_mono_ms() + o->deadline_ms;
    snprintf(body, sizeof body,
             "{\"commands\":[{\"command\":\"" MDF_EXTRACT_COMMAND "\"}],\"limitTimeSeconds\":%d}",
             limit_time_seconds);
    return op_start_with(o, body, err, errsz);
}
