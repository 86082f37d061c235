#include "arm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "budget.h"
#include "clock.h"
#include "err.h"
#include "json_reader.h"
#include "names.h"
#include "resource_id.h"
#include "strmap.h"
#include "vec.h"

#define USER_AGENT "User-Agent: mdefleet/0.1"
/* time an extract may take beyond its own limit before we stop waiting */
#define EXTRACT_MARGIN_MS (15 * 60 * 1000)
/* caps on what the client learns per subscription and per cluster; past
 * them, subscriptions share one budget and clusters are not learned */
#define MAX_SUBSCRIPTIONS 1024
#define MAX_CLUSTERS 4096
/* extracts polling at Retry-After while no extract has completed to learn
 * from; the others wait for the first sample */
#define SCOUTS 2
#define SAMPLES 15           /* the running median's window */
#define AIM_SLACK (1.0 / 50) /* first poll this much after the median */

typedef enum { K_GET_CLUSTER, K_SET_ENFORCEMENT, K_SCAN_RUNTIME, K_LIST_BMMS, K_RUN_EXTRACT } kind;
typedef enum { P_REQUEST, P_POLL, P_CONFIRM, P_PAGE } phase;

typedef struct op op;
TAILQ_HEAD(op_queue, op);
LIST_HEAD(op_list, op);

/* Requests waiting for a budget, by priority: 0 everything but polls, 1
 * polls that are due (a first poll at the expected end, or later ones),
 * 2 polls far from their expected end; FIFO within one. */
enum { PRIOS = 3 };

/* One budget (budget.h) and the requests that wait for it, served by one
 * timer at a time rather than each re-timing itself. */
struct bucket {
    mdf_budget ctl;
    mdf_arm *arm;
    struct op_queue q[PRIOS];
    int timers;      /* pending */
    int64_t next_at; /* when the earliest pending timer fires; INT64_MAX: none */
    /* no queued operation's deadline is before this (INT64_MAX: none
     * known); lowered as operations queue, found again when it passes */
    int64_t min_deadline;
};

/* A subscription's reads and writes (ARM meters them per subscription). */
typedef struct sub_budget {
    char *sub; /* owned; the map's key */
    struct bucket reads, writes;
} sub_budget;

/* How long extracts take: of one cluster (keyed by subscription and
 * managed resource group), or of all (the default for a cluster not yet
 * learned). */
typedef struct cluster_est {
    char *key; /* owned; the map's key (NULL for all clusters) */
    int64_t samples[SAMPLES];
    int n, next;
} cluster_est;

struct mdf_arm {
    mdf_http *http;
    mdf_auth *auth;
    mdf_arm_cfg cfg;
    mdf_url_parts origin;
    mdf_strmap subs, clusters;      /* values: sub_budget*, cluster_est* */
    mdf_vec sub_list, cluster_list; /* of those pointers, for destroy */
    cluster_est all;                /* every cluster's extracts */
    int scouts;                     /* extracts polling before any sample */
    struct op_queue parked;         /* extracts waiting for the first sample */
    sub_budget *overflow;           /* for subscriptions past the cap */
    mdf_arm_stats stats;
    mdf_arm_observer obs;
    struct op_list ops; /* pending, for destroy */
};

struct op {
    mdf_arm *arm;
    kind kind;
    phase phase;
    const char *method;
    char *url;         /* owned: of the current request */
    char *confirm_url; /* owned: the resource, for a GET after an operation */
    char *body;        /* owned: the first request's body */
    int attempt;
    bool auth_retried;
    char *token; /* owned copy of the token of the request in flight */
    int64_t deadline;
    int64_t deadline_ms;  /* the budget it was given, for the message */
    long http_status;     /* of the last answer; 0 before one */
    mdf_cluster *cluster; /* owned, once decoded */
    mdf_opstatus *st;     /* owned, once the operation's status is final */
    mdf_vec bmms;         /* mdf_bmm, at most cfg.max_machines */
    mdf_vec pages;        /* uint64_t: hashes of the nextLinks followed, MDF_ARM_MAX_PAGES */
    union {
        mdf_arm_cluster_cb cluster;
        mdf_arm_bmms_cb bmms;
        mdf_arm_op_cb op;
    } cb;
    void *arg;
    sub_budget *sb;         /* borrowed from the client */
    struct bucket *charged; /* whose token the request in flight spent */
    uint64_t ticket;
    struct bucket *queued; /* waiting on it, in queued->q[prio] */
    int prio;
    cluster_est *est; /* extracts: the cluster's, or NULL past the cap */
    bool learns;      /* an extract: counted in arm->all */
    bool scout, parked, aimed, late;
    int64_t accepted_at; /* when the extract was accepted */
    int64_t aim_ms;      /* first poll this long after acceptance */
    bool listed;         /* on arm->ops */
    LIST_ENTRY(op) link;
    TAILQ_ENTRY(op) qlink; /* in a bucket's queue, or parked */
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
    cfg->budget_share = 1.0;
    cfg->request_timeout_ms = 60000;
    cfg->poll_min_ms = 100;
    cfg->poll_default_ms = 5000;
    cfg->poll_max_ms = 60000;
    cfg->operation_deadline_ms = 60 * 60 * 1000;
    cfg->max_response = 4u << 20;
    cfg->max_machines = MDF_ARM_MAX_MACHINES;
}

/* ---- budgets and what is learned per cluster ---------------------------------- */

static void bucket_init(mdf_arm *a, struct bucket *b, const mdf_bucket_cfg *c)
{
    memset(b, 0, sizeof *b);
    b->arm = a;
    for (int i = 0; i < PRIOS; i++)
        TAILQ_INIT(&b->q[i]);
    b->next_at = INT64_MAX;
    b->min_deadline = INT64_MAX;
    mdf_budget_init(&b->ctl, c->burst, c->per_second, a->cfg.budget_share, mdf_mono_ms());
}

static sub_budget *sub_budget_new(mdf_arm *a, const char *sub)
{
    sub_budget *sb = calloc(1, sizeof *sb);
    if (!sb || !(sb->sub = strdup(sub)) || mdf_vec_push(&a->sub_list, &sb) != 0) {
        if (sb)
            free(sb->sub);
        free(sb);
        return NULL;
    }
    bucket_init(a, &sb->reads, &a->cfg.reads);
    bucket_init(a, &sb->writes, &a->cfg.writes);
    return sb;
}

/* The subscription's budget, made on first use; NULL when out of memory. */
static sub_budget *sub_budget_of(mdf_arm *a, const char *sub)
{
    size_t v;
    if (mdf_strmap_get(&a->subs, sub, strlen(sub), &v))
        return (sub_budget *)v;
    if (a->subs.count >= MAX_SUBSCRIPTIONS) {
        if (!a->overflow)
            a->overflow = sub_budget_new(a, "*");
        return a->overflow;
    }
    sub_budget *sb = sub_budget_new(a, sub);
    if (sb && mdf_strmap_put(&a->subs, sb->sub, strlen(sb->sub), (size_t)sb) != 0)
        return NULL; /* freed with sub_list */
    return sb;
}

/* The cluster's estimator, made on first use; NULL past the cap. */
static cluster_est *cluster_est_of(mdf_arm *a, const char *sub, const char *managed_rg)
{
    char key[256];
    size_t v;
    int n = snprintf(key, sizeof key, "%s/%s", sub, managed_rg);
    if (n < 0 || (size_t)n >= sizeof key)
        return NULL;
    if (mdf_strmap_get(&a->clusters, key, (size_t)n, &v))
        return (cluster_est *)v;
    if (a->clusters.count >= MAX_CLUSTERS)
        return NULL;
    cluster_est *c = calloc(1, sizeof *c);
    if (!c || !(c->key = strdup(key)) || mdf_vec_push(&a->cluster_list, &c) != 0) {
        if (c)
            free(c->key);
        free(c);
        return NULL;
    }
    if (mdf_strmap_put(&a->clusters, c->key, (size_t)n, (size_t)c) != 0)
        return NULL; /* freed with cluster_list */
    return c;
}

/* The running median of the cluster's extract durations; 0 with none. */
static int64_t cluster_median(const cluster_est *c)
{
    int64_t v[SAMPLES];
    int n = c->n;
    memcpy(v, c->samples, (size_t)n * sizeof *v);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : 0;
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
    if (!(cfg->budget_share > 0 && cfg->budget_share <= 1))
        return mdf_seterr(err, errsz, "arm.budget_share must be in (0, 1]");
    mdf_arm *a = calloc(1, sizeof *a);
    if (!a)
        return mdf_seterr(err, errsz, "out of memory");
    a->http = http;
    a->auth = auth;
    a->cfg = *cfg;
    a->origin = u;
    mdf_strmap_init(&a->subs);
    mdf_strmap_init(&a->clusters);
    mdf_vec_init(&a->sub_list, sizeof(sub_budget *), MAX_SUBSCRIPTIONS + 1);
    mdf_vec_init(&a->cluster_list, sizeof(cluster_est *), MAX_CLUSTERS);
    TAILQ_INIT(&a->parked);
    LIST_INIT(&a->ops);
    *out = a;
    return MDF_OK;
}

static void op_unqueue(op *o)
{
    if (o->queued)
        TAILQ_REMOVE(&o->queued->q[o->prio], o, qlink);
    o->queued = NULL;
}

static void op_next(op *o, phase p, const char *url, int64_t delay_ms);

/* The extract leaves the estimators (done, or dropped). A scout that
 * leaves before any sample hands its part to a parked extract. */
static void est_leave(op *o, bool promote)
{
    mdf_arm *a = o->arm;
    if (!o->learns)
        return;
    if (o->parked)
        TAILQ_REMOVE(&a->parked, o, qlink);
    if (o->scout)
        a->scouts--;
    o->parked = o->scout = o->learns = false;
    o->est = NULL;
    op *p;
    if (promote && a->all.n == 0 && a->scouts < SCOUTS && (p = TAILQ_FIRST(&a->parked))) {
        TAILQ_REMOVE(&a->parked, p, qlink);
        p->parked = false;
        p->scout = true;
        a->scouts++;
        op_next(p, P_POLL, p->url, 0);
    }
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
    op_unqueue(o);
    est_leave(o, false);
    free(o->url);
    free(o->confirm_url);
    free(o->body);
    free(o->token);
    free(o->cluster);
    free(o->st);
    mdf_vec_free(&o->bmms);
    mdf_vec_free(&o->pages);
    free(o);
}

void mdf_arm_destroy(mdf_arm *a)
{
    if (!a)
        return;
    while (!LIST_EMPTY(&a->ops))
        op_free(LIST_FIRST(&a->ops));
    for (size_t i = 0; i < a->sub_list.len; i++) {
        sub_budget *sb = MDF_VEC_AT(&a->sub_list, sub_budget *, i);
        free(sb->sub);
        free(sb);
    }
    for (size_t i = 0; i < a->cluster_list.len; i++) {
        cluster_est *c = MDF_VEC_AT(&a->cluster_list, cluster_est *, i);
        free(c->key);
        free(c);
    }
    mdf_vec_free(&a->sub_list);
    mdf_vec_free(&a->cluster_list);
    mdf_strmap_free(&a->subs);
    mdf_strmap_free(&a->clusters);
    free(a);
}

void mdf_arm_set_observer(mdf_arm *a, const mdf_arm_observer *obs)
{
    if (obs)
        a->obs = *obs;
    else
        memset(&a->obs, 0, sizeof a->obs);
}

void mdf_arm_foreach_budget(mdf_arm *a, void (*cb)(void *ctx, const mdf_arm_budget_info *b),
                            void *ctx)
{
    int64_t now = mdf_mono_ms();
    for (size_t i = 0; i < a->sub_list.len; i++) {
        sub_budget *sb = MDF_VEC_AT(&a->sub_list, sub_budget *, i);
        struct bucket *b[2] = {&sb->reads, &sb->writes};
        for (int k = 0; k < 2; k++) {
            mdf_arm_budget_info info = {.subscription = sb->sub,
                                        .write = k == 1,
                                        .tokens = (double)mdf_tb_remaining(&b[k]->ctl.tb, now),
                                        .remaining = b[k]->ctl.remaining,
                                        .rate = b[k]->ctl.rate};
            cb(ctx, &info);
        }
    }
}

const mdf_arm_stats *mdf_arm_get_stats(const mdf_arm *a)
{
    return &a->stats;
}

/* ---- completion ------------------------------------------------------------- */

/* e: the outcome (on the stack of the caller: an operation carries no
 * error record while it waits). */
static void op_done(op *o, const mdf_arm_error *e)
{
    bool ok = e->code == MDF_ARM_OK;
    /* off the pending list first: the callback may destroy the client */
    op_unlink(o);
    est_leave(o, true);
    switch (o->kind) {
    case K_GET_CLUSTER:
    case K_SET_ENFORCEMENT:
        o->cb.cluster(o->arg, e, ok ? o->cluster : NULL);
        break;
    case K_LIST_BMMS:
        o->cb.bmms(o->arg, e, ok ? o->bmms.data : NULL, ok ? o->bmms.len : 0);
        break;
    case K_SCAN_RUNTIME:
    case K_RUN_EXTRACT:
        o->cb.op(o->arg, e, ok || e->code == MDF_ARM_E_OPERATION_FAILED ? o->st : NULL);
        break;
    }
    op_free(o);
}

static void op_succeed(op *o)
{
    mdf_arm_error e = {.code = MDF_ARM_OK, .http_status = o->http_status};
    op_done(o, &e);
}

/* arm_code: ARM's error.code, or NULL */
static void op_fail_arm(op *o, mdf_arm_errcode code, long status, const char *arm_code,
                        const char *fmt, ...) MDF_PRINTF(5, 6);

static void op_fail_arm(op *o, mdf_arm_errcode code, long status, const char *arm_code,
                        const char *fmt, ...)
{
    mdf_arm_error e = {.code = code, .http_status = status};
    if (arm_code)
        mdf_strlcpy(e.arm_code, arm_code, sizeof e.arm_code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    op_done(o, &e);
}

#define op_fail(o, code, status, ...) op_fail_arm(o, code, status, NULL, __VA_ARGS__)

/* ---- sending ------------------------------------------------------------------- */

static void op_send(void *arg);
static void op_on_resp(void *arg, mdf_http_resp *r);
static void op_on_token(void *arg, const char *token, const char *why);

/* Sends again after delay_ms, or at the deadline if that comes first (a
 * server-given wait never outlasts it: op_send then fails the operation). */
static void op_later(op *o, int64_t delay_ms)
{
    int64_t left = o->deadline - mdf_mono_ms();
    if (delay_ms > left)
        delay_ms = left > 0 ? left : 0;
    if (mdf_http_after(o->arm->http, delay_ms, op_send, o) != MDF_OK)
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
}

static bool is_write(const op *o)
{
    return strcmp(o->method, "GET") != 0;
}

static struct bucket *bucket_of(const op *o)
{
    return o->phase == P_REQUEST && is_write(o) ? &o->sb->writes : &o->sb->reads;
}

static int prio_of(const op *o)
{
    if (o->phase != P_POLL)
        return 0;
    if (o->kind != K_RUN_EXTRACT || o->aimed)
        return 1;
    return 2; /* a scout, or an extract of a cluster not learned */
}

static void bucket_timer(void *arg);

/* Makes sure a timer will serve the bucket's queue when its next token is
 * there, or when a waiting operation's deadline comes first (one timer for
 * all who wait): a long hold (Retry-After) never outlasts a deadline. */
static int bucket_arm(struct bucket *b, int64_t now)
{
    int64_t wait = mdf_budget_wait(&b->ctl, now);
    if (b->min_deadline - now < wait)
        wait = b->min_deadline > now ? b->min_deadline - now : 0;
    if (b->timers > 0 && b->next_at <= now + wait)
        return MDF_OK;
    if (mdf_http_after(b->arm->http, wait, bucket_timer, b) != MDF_OK)
        return MDF_ERR;
    b->timers++;
    b->next_at = now + wait;
    return MDF_OK;
}

static op *queue_first(struct bucket *b)
{
    op *o = NULL;
    for (int i = 0; i < PRIOS && !o; i++)
        o = TAILQ_FIRST(&b->q[i]);
    return o;
}

/* The request paid for will not be sent: its token goes back. */
static void op_uncharge(op *o, int64_t now)
{
    mdf_budget_answer(&o->charged->ctl, now, o->ticket, false, -1, -1);
    o->charged = NULL;
}

/* The budget is spent here; the token is fetched after (almost always at
 * once, from the cache), so that the request goes right away. False (and
 * nothing spent) when out of memory. */
static bool op_grant(op *o, struct bucket *b, int64_t now)
{
    o->ticket = mdf_budget_spend(&b->ctl, now);
    o->charged = b;
    if (mdf_auth_get(o->arm->auth, op_on_token, o) == MDF_OK)
        return true;
    op_uncharge(o, now);
    return false;
}

/* A queued operation whose deadline has passed, taken out of the queue
 * (NULL: none); b->min_deadline is found again on the way. */
static op *bucket_expired(struct bucket *b, int64_t now)
{
    op *found = NULL, *o;
    b->min_deadline = INT64_MAX;
    for (int i = 0; i < PRIOS; i++) {
        TAILQ_FOREACH(o, &b->q[i], qlink) {
            if (!found && o->deadline <= now)
                found = o;
            else if (o->deadline < b->min_deadline)
                b->min_deadline = o->deadline;
        }
    }
    if (found)
        op_unqueue(found);
    return found;
}

/* Fails operations whose deadline passed while they waited, one per turn,
 * then serves the queue while tokens last, then waits for the next one.
 * After an op_fail nothing is touched: its callback may destroy the
 * client. */
static void bucket_timer(void *arg)
{
    struct bucket *b = arg;
    int64_t now = mdf_mono_ms();
    op *o;
    b->timers--;
    b->next_at = INT64_MAX;
    if (now >= b->min_deadline && (o = bucket_expired(b, now))) {
        if (queue_first(b))
            (void)bucket_arm(b, now); /* when out of memory, the pending timer serves them */
        op_fail(o, MDF_ARM_E_TIMED_OUT, o->http_status,
                "no result within %lld s (waiting for the ARM budget)",
                (long long)(o->deadline_ms / 1000));
        return;
    }
    while ((o = queue_first(b)) && mdf_budget_wait(&b->ctl, now) == 0) {
        op_unqueue(o);
        if (!op_grant(o, b, now)) {
            if (queue_first(b))
                (void)bucket_arm(b, now);
            op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
            return;
        }
    }
    if (o && bucket_arm(b, now) != MDF_OK) {
        op_unqueue(o);
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
    }
}

/* The request goes now if its budget allows and nobody waits before it;
 * else it waits in the bucket's queue (front: it was refused by a 429 and
 * has waited longest). */
static void op_acquire(op *o, bool front)
{
    struct bucket *b = bucket_of(o);
    int64_t now = mdf_mono_ms();
    if (!queue_first(b) && mdf_budget_wait(&b->ctl, now) == 0) {
        if (!op_grant(o, b, now))
            op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
        return;
    }
    o->prio = prio_of(o);
    o->queued = b;
    if (o->deadline < b->min_deadline)
        b->min_deadline = o->deadline;
    if (front)
        TAILQ_INSERT_HEAD(&b->q[o->prio], o, qlink);
    else
        TAILQ_INSERT_TAIL(&b->q[o->prio], o, qlink);
    if (bucket_arm(b, now) != MDF_OK) {
        op_unqueue(o);
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
    }
}

/* The answer to the request in flight goes to the budget that paid it. */
static void op_answered(op *o, const mdf_http_resp *r)
{
    struct bucket *b = o->charged;
    if (!b)
        return;
    o->charged = NULL;
    int64_t now = mdf_mono_ms();
    bool answered = r->status != 0 && r->curl_code == CURLE_OK;
    mdf_budget_answer(&b->ctl, now, o->ticket, r->status == 429,
                      answered ? r->ratelimit_remaining : -1, r->retry_after_ms);
    /* a figure may have freed tokens for those waiting */
    if (queue_first(b))
        (void)bucket_arm(b, now); /* when out of memory, the pending timer serves them */
}

static void op_on_token(void *arg, const char *token, const char *why)
{
    op *o = arg;
    mdf_arm *a = o->arm;
    char err[MDF_ERRSZ];
    int64_t now = mdf_mono_ms();
    if (!token || now >= o->deadline) {
        op_uncharge(o, now);
        if (!token)
            op_fail(o, MDF_ARM_E_AUTH, 0, "%s", why);
        else
            op_fail(o, MDF_ARM_E_TIMED_OUT, o->http_status, "no result within %lld s",
                    (long long)(o->deadline_ms / 1000));
        return;
    }
    free(o->token);
    size_t tl = strlen(token);
    o->token = malloc(tl + 1);
    char *auth_hdr = malloc(tl + 32);
    if (!o->token || !auth_hdr) {
        free(auth_hdr);
        op_uncharge(o, now);
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
    if (rc != MDF_OK) {
        op_uncharge(o, now);
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "%s", err);
    }
}

static void op_send_as(op *o, bool front)
{
    if (mdf_mono_ms() >= o->deadline) {
        op_fail(o, MDF_ARM_E_TIMED_OUT, o->http_status, "no result within %lld s",
                (long long)(o->deadline_ms / 1000));
        return;
    }
    op_acquire(o, front);
}

static void op_send(void *arg)
{
    op_send_as(arg, false);
}

/* Sets the current request's URL (a copy). */
static int op_set_url(op *o, const char *url)
{
    if (url == o->url)
        return MDF_OK;
    char *u = strdup(url);
    if (!u)
        return MDF_ERR;
    free(o->url);
    o->url = u;
    return MDF_OK;
}

/* Starts the next request of this operation (a poll, a page, a GET). */
static void op_next(op *o, phase p, const char *url, int64_t delay_ms)
{
    o->phase = p;
    o->attempt = 0;
    o->auth_retried = false;
    if (op_set_url(o, url) != MDF_OK) {
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
        return;
    }
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
    mdf_arm_error ae = {0}; /* what the body says */
    if (parse_body(r, &doc, perr, sizeof perr) == MDF_OK && doc)
        mdf_arm_decode_error(&doc->root, ae.arm_code, sizeof ae.arm_code, ae.message,
                             sizeof ae.message);
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
    char msg[sizeof ae.message];
    if (r->status == 0 || r->curl_code != CURLE_OK)
        mdf_seterr(msg, sizeof msg, "%s", r->curl_error);
    else if (ae.arm_code[0])
        mdf_seterr(msg, sizeof msg, "HTTP %ld %s: %s", r->status, ae.arm_code, ae.message);
    else
        mdf_seterr(msg, sizeof msg, "HTTP %ld", r->status);
    op_fail_arm(o, code, r->status, ae.arm_code, "%s%s", msg,
                o->attempt > 1 ? " (after retries)" : "");
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
    if (d > c->poll_max_ms)
        d = c->poll_max_ms;
    if (o->arm->obs.poll_delay)
        o->arm->obs.poll_delay(o->arm->obs.ctx, d);
    return d;
}

static int add_bmm(void *arg, const mdf_bmm *b)
{
    op *o = arg;
    return mdf_vec_push(&o->bmms, b) == 0 ? MDF_OK : MDF_ERR;
}

/* A "Succeeded" status in o->st, made for an answer without one. */
static bool set_succeeded(op *o)
{
    if (!o->st && !(o->st = calloc(1, sizeof *o->st))) {
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
        return false;
    }
    memset(o->st, 0, sizeof *o->st);
    mdf_strlcpy(o->st->status, "Succeeded", sizeof o->st->status);
    return true;
}

/* The operation's status (an empty body means done) into o->st, which is
 * kept only once it is final. */
static bool take_status(op *o, const mdf_jdoc *doc, long status)
{
    char err[MDF_ERRSZ];
    if (!doc)
        return set_succeeded(o);
    if (!o->st && !(o->st = calloc(1, sizeof *o->st))) {
        op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
        return false;
    }
    if (mdf_arm_decode_opstatus(&doc->root, o->st, err, sizeof err) != MDF_OK) {
        op_fail(o, MDF_ARM_E_BAD_RESPONSE, status, "operation status: %s", err);
        return false;
    }
    return true;
}

static void est_add(cluster_est *c, int64_t sample)
{
    c->samples[c->next] = sample;
    c->next = (c->next + 1) % SAMPLES;
    if (c->n < SAMPLES)
        c->n++;
}

static int64_t aim_of(const cluster_est *c)
{
    int64_t m = cluster_median(c);
    return m + (int64_t)((double)m * AIM_SLACK);
}

/* The first poll of an extract: at the end its cluster's extracts are
 * expected to reach (the running median of those completed), or, for a
 * cluster not learned yet, all clusters' extracts. Before any has
 * completed, SCOUTS extracts poll at Retry-After and the others wait for
 * the first sample, costing no reads. */
static void extract_accepted(op *o, const mdf_http_resp *r)
{
    mdf_arm *a = o->arm;
    cluster_est *c = o->est, *all = &a->all;
    o->accepted_at = mdf_mono_ms();
    o->learns = true;
    if ((c && c->n > 0) || all->n > 0) {
        o->aimed = true;
        o->aim_ms = aim_of(c && c->n > 0 ? c : all);
        op_next(o, P_POLL, o->url, o->aim_ms);
        return;
    }
    if (a->scouts < SCOUTS) {
        o->scout = true;
        a->scouts++;
        op_next(o, P_POLL, o->url, poll_delay(o, r));
        return;
    }
    o->phase = P_POLL;
    o->parked = true;
    TAILQ_INSERT_TAIL(&a->parked, o, qlink);
}

/* A completed extract teaches how long extracts take; the first sample
 * releases the parked ones, each aimed from its own start. */
static void extract_learn(op *o)
{
    cluster_est *all = &o->arm->all;
    int64_t now = mdf_mono_ms();
    if (!o->learns)
        return;
    /* a first poll that found it done says only "no later than the aim" */
    int64_t d = o->aimed && !o->late ? o->aim_ms : now - o->accepted_at;
    bool first = all->n == 0;
    if (o->est)
        est_add(o->est, d);
    est_add(all, d);
    if (!first)
        return;
    op *p;
    while ((p = TAILQ_FIRST(&o->arm->parked))) {
        TAILQ_REMOVE(&o->arm->parked, p, qlink);
        p->parked = false;
        p->aimed = true;
        p->aim_ms = aim_of(p->est && p->est->n > 0 ? p->est : all);
        int64_t at = p->accepted_at + p->aim_ms;
        op_next(p, P_POLL, p->url, at > now ? at - now : 0);
    }
}

/* Whether this list has followed next before. */
static bool page_seen(const op *o, const char *next)
{
    uint64_t h = mdf_hash_keyed(next, strlen(next));
    for (size_t i = 0; i < o->pages.len; i++) {
        if (MDF_VEC_AT(&o->pages, uint64_t, i) == h)
            return true;
    }
    return false;
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
            op_succeed(o);
        else if (!url_ok(o, next))
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "nextLink to another origin refused");
        else if (page_seen(o, next))
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status,
                    "machine list: a nextLink seen before (a loop), after %zu pages",
                    o->pages.len + 1);
        else if (mdf_vec_push(&o->pages, &(uint64_t){mdf_hash_keyed(next, strlen(next))}) != 0)
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status,
                    "machine list: more than %d pages, or out of memory", MDF_ARM_MAX_PAGES);
        else
            op_next(o, P_PAGE, next, 0);
        return;
    }
    if (o->kind == K_GET_CLUSTER || o->phase == P_CONFIRM) {
        int rc = MDF_OK;
        if (!o->cluster && !(o->cluster = calloc(1, sizeof *o->cluster)))
            rc = mdf_seterr(err, sizeof err, "out of memory");
        else if (!doc)
            rc = mdf_seterr(err, sizeof err, "no JSON body");
        else
            rc = mdf_arm_decode_cluster(&doc->root, o->cluster, err, sizeof err);
        mdf_jdoc_free(doc);
        if (rc != MDF_OK)
            op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "cluster: %s", err);
        else
            op_succeed(o);
        return;
    }
    if (o->phase == P_POLL) {
        if (!take_status(o, doc, r->status)) {
            mdf_jdoc_free(doc);
            return;
        }
        mdf_jdoc_free(doc);
        if (!mdf_arm_status_terminal(o->st->status)) {
            free(o->st); /* not needed until it is final */
            o->st = NULL;
            o->late = true;
            op_next(o, P_POLL, o->url, poll_delay(o, r));
            return;
        }
        if (!mdf_arm_status_succeeded(o->st->status)) {
            op_fail_arm(o, MDF_ARM_E_OPERATION_FAILED, r->status, o->st->error_code,
                        "operation %s%s%s", o->st->status, o->st->error_message[0] ? ": " : "",
                        o->st->error_message);
            return;
        }
        if (o->kind == K_RUN_EXTRACT)
            extract_learn(o);
    } else {
        /* a 200 to the request itself: the resource, not an operation */
        mdf_jdoc_free(doc);
        if (!set_succeeded(o))
            return;
    }
    if (o->kind == K_SET_ENFORCEMENT)
        op_next(o, P_CONFIRM, o->confirm_url, 0); /* read the cluster back */
    else
        op_succeed(o);
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
    if (a->obs.answer)
        a->obs.answer(a->obs.ctx, bucket_of(o) == &o->sb->writes,
                      r->curl_code == CURLE_OK ? r->status : 0);
    op_answered(o, r);
    o->attempt++;
    o->http_status = r->status;
    if (r->status == 401 && !o->auth_retried) {
        /* the token may have expired early: one fresh token, at once */
        o->auth_retried = true;
        mdf_auth_invalidate(a->auth, o->token);
        a->stats.auth_refreshes++;
        op_later(o, 0);
        return;
    }
    /* kept only to tell a 401 which token failed: not while waiting */
    free(o->token);
    o->token = NULL;
    if (r->too_big) {
        op_fail(o, MDF_ARM_E_BAD_RESPONSE, r->status, "answer larger than %zu bytes",
                a->cfg.max_response);
        return;
    }
    if (op_transient(o, r)) {
        if (r->status == 429) {
            /* the budget now waits for the server (budget.h); a 429 is
             * retried for as long as the operation's deadline allows */
            a->stats.throttled++;
            a->stats.retries++;
            o->attempt--;
            op_send_as(o, true);
            return;
        }
        if (o->attempt <= a->cfg.retry.max_retries) {
            a->stats.retries++;
            op_later(o, mdf_retry_delay(&a->cfg.retry, o->attempt, r->retry_after_ms));
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
        o->late = true;
        if (r->location && url_ok(o, r->location) && op_set_url(o, r->location) != MDF_OK) {
            op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
            return;
        }
        op_next(o, P_POLL, o->url, poll_delay(o, r));
        return;
    }
    if (o->phase == P_REQUEST && (r->status == 201 || r->status == 202) &&
        o->kind != K_GET_CLUSTER) {
        /* a long-running operation: Azure-AsyncOperation first, else Location */
        const char *next = r->azure_async ? r->azure_async : r->location;
        if (!next) {
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
        if (op_set_url(o, next) != MDF_OK) {
            op_fail(o, MDF_ARM_E_TRANSPORT, 0, "out of memory");
            return;
        }
        if (o->kind == K_RUN_EXTRACT)
            extract_accepted(o, r);
        else
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
    mdf_vec_init(&o->pages, sizeof(uint64_t), MDF_ARM_MAX_PAGES - 1);
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
    char url[MDF_URL_MAX];
    if (resource_url(a, url, sizeof url, rid, action, err, errsz) != MDF_OK)
        return NULL;
    op *o = op_new(a, k, method, arg, err, errsz);
    if (!o)
        return NULL;
    if (!(o->sb = sub_budget_of(a, sub)) || op_set_url(o, url) != MDF_OK) {
        op_free(o);
        mdf_seterr(err, errsz, "out of memory");
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
    if (!(o->confirm_url = strdup(o->url))) {
        op_free(o);
        return mdf_seterr(err, errsz, "out of memory");
    }
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
    o->est = cluster_est_of(a, sub, managed_rg);
    o->deadline_ms = (int64_t)limit_time_seconds * 1000 + EXTRACT_MARGIN_MS;
    o->deadline = mdf_mono_ms() + o->deadline_ms;
    snprintf(body, sizeof body,
             "{\"commands\":[{\"command\":\"" MDF_EXTRACT_COMMAND "\"}],\"limitTimeSeconds\":%d}",
             limit_time_seconds);
    return op_start_with(o, body, err, errsz);
}
