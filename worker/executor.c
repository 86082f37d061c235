/* The executor: one node task = runDataExtracts (mde-agent-information),
 * follow it, download the archive, parse the report, and send what the
 * SIEM and the ticketing system read (what changed since the node's last
 * state, lifecycle.h), the node's report and its outcome; once they are
 * all acknowledged, the node's new state, and only then is the task done.
 * A crash before the state is written redoes the task from the old state:
 * the same records with the same event ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "extract_status.h"
#include "finding_state.h"
#include "lifecycle.h"
#include "log.h"
#include "names.h"
#include "node_report.h"
#include "records.h"
#include "report.h"
#include "resource_id.h"
#include "role.h"

#define OUT_MAX (256 * 1024) /* one output record */
/* the structured fields of a task's log lines (log.h) */
#define TASK_FIELDS(t) MDF_FIELDS("job_id", (t)->job_id, "cluster", (t)->cluster, "node", (t)->node)

/* The executor's metrics (role.h: NULL handles without a registry). */
enum { X_STARTED, X_FINISHED, X_INFLIGHT, X_EXTRACT, X_BYTES, X__COUNT };

static const double extract_buckets[] = {1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};

static const mdf_metric_def x_defs[X__COUNT] = {
    [X_STARTED] = {.type = MDF_COUNTER,
                   .name = "mdefleet_node_tasks_started_total",
                   .help = "Node tasks started"},
    [X_FINISHED] = {.type = MDF_COUNTER,
                    .name = "mdefleet_node_tasks_finished_total",
                    .help = "Node tasks finished, by outcome and NodeFailure reason",
                    .labels = {"outcome", "reason"},
                    .n_labels = 2,
                    .max_series = 64},
    [X_INFLIGHT] = {.type = MDF_GAUGE,
                    .name = "mdefleet_node_tasks_in_flight",
                    .help = "Node tasks running here"},
    [X_EXTRACT] = {.type = MDF_HISTOGRAM,
                   .name = "mdefleet_extract_duration_seconds",
                   .help = "From running the data extract to its result, by outcome",
                   .labels = {"outcome"},
                   .n_labels = 1,
                   .max_series = 4,
                   .buckets = extract_buckets,
                   .n_buckets = sizeof extract_buckets / sizeof *extract_buckets},
    [X_BYTES] = {.type = MDF_COUNTER,
                 .name = "mdefleet_download_bytes_total",
                 .help = "Bytes of result archives downloaded"},
};

typedef struct executor {
    const mdf_role_env *env;
    bool restricted;       /* extract.restricted */
    mdf_results_mode mode; /* results.mode */
    mdf_metric *m[X__COUNT];
} executor;

typedef struct task {
    executor *x;
    char job_id[64], sub[64], rg[128], cluster[64], mrg[128], node[80];
    char machine_name[80], location[64];
    /* owned, sized to fit: a task may wait long, thousands at a time */
    char *rack_id, *cluster_id, *node_id;
    int limit;
    int reruns; /* extracts run again because the SAS expired */
    int scans, threats;
    int64_t extract_at; /* monotonic ms the extract was asked for */
    mdf_buf state;      /* the node's new state, sent once the rest is acknowledged */
} task;

static void task_free(void *state)
{
    task *t = state;
    /* however it ends (finished, dropped, dead-lettered), it is no longer here */
    mdf_metric_inc(t->x->m[X_INFLIGHT], NULL, -1);
    free(t->rack_id);
    free(t->cluster_id);
    free(t->node_id);
    mdf_buf_free(&t->state);
    free(t);
}

static mdf_node_ctx ctx_of(const task *t, const mdf_report *rep)
{
    return (mdf_node_ctx){.job_id = t->job_id,
                          .cluster_id = t->cluster_id,
                          .cluster = t->cluster,
                          .subscription = t->sub,
                          .region = t->location[0] ? t->location : NULL,
                          .node_id = t->node_id,
                          .node = t->node,
                          .machine_name = t->machine_name[0] ? t->machine_name : t->node,
                          .rack_id = t->rack_id[0] ? t->rack_id : NULL,
                          .agent = rep ? &rep->health : NULL,
                          .time_ms = mdf_time_now_ms()};
}

/* The node's state is keyed like its task (node.tasks is keyed by node),
 * in the same partition: the worker that owns a node's tasks owns its
 * state. A task without a key is keyed by the node's resource id. */
static void state_key(const mdf_request *r, const task *t, const char **key, size_t *len)
{
    const mdf_msg *m = mdf_req_msg(r);
    *key = m->key ? m->key : t->node_id;
    *len = m->key ? m->key_len : strlen(t->node_id);
}

/* One JSON record, keyed by the node. */
static void emit_json(mdf_request *r, mdf_topic topic, const mdf_buf *b, const char *event_id)
{
    task *t = mdf_req_state(r);
    mdf_req_emit_json(r, topic, t->node_id, b, event_id);
}

static void emit_outcome(mdf_request *r, const mdf_outcome *o)
{
    task *t = mdf_req_state(r);
    char id[MDF_UUID_STRSZ];
    mdf_node_result res = {.node = t->node,
                           .machine_name = t->machine_name,
                           .succeeded = o->succeeded,
                           .failure = o->failure,
                           .reason = o->reason,
                           .scans = t->scans,
                           .threats = t->threats};
    json_object *s = mdf_rec_node_outcome(t->job_id, t->cluster_id, &res, id);
    mdf_req_emit_avro(r, MDF_TOPIC_JOB_STATUS, MDF_REC_JOB_STATUS, s, t->job_id, id);
    json_object_put(s);
    /* the reason label is the NodeFailure symbol: a small, fixed set */
    mdf_metric_inc(
        t->x->m[X_FINISHED],
        (const char *[]){o->succeeded ? "succeeded" : "failed", o->succeeded ? "" : o->failure}, 1);
}

/* The node's last state; empty when it has none, or one this worker
 * cannot read (its findings are then new again: copies, never losses). */
static void load_state(mdf_request *r, const task *t, mdf_fstate *prev)
{
    const mdf_state_port *sp = t->x->env->state;
    const char *key;
    size_t key_len, len = 0;
    char err[MDF_ERRSZ];
    state_key(r, t, &key, &key_len);
    const char *v = sp->get(sp->ctx, mdf_req_msg(r)->partition, key, key_len, &len);
    if (v && mdf_fstate_parse(v, len, prev, err, sizeof err) != MDF_OK)
        mdf_warn_f(TASK_FIELDS(t),
                   "job %s node %s: its findings state is unreadable (%s): starting afresh",
                   t->job_id, t->node, err);
}

typedef struct sink_ctx {
    mdf_request *r;
} sink_ctx;

static void sink_emit(void *arg, mdf_result_kind kind, const char *key, const mdf_buf *rec,
                      const char *event_id)
{
    static const mdf_topic topic[] = {[MDF_RESULT_SCAN] = MDF_TOPIC_SCAN_RESULTS,
                                      [MDF_RESULT_THREAT] = MDF_TOPIC_THREATS,
                                      [MDF_RESULT_TICKET] = MDF_TOPIC_TICKETS};
    sink_ctx *c = arg;
    mdf_req_emit_json(c->r, topic[kind], key, rec, event_id);
}

/* Once every record of the task is acknowledged: the node's new state,
 * then the task is done (its offset is stored after the state's ack). */
static void write_state(mdf_request *r)
{
    task *t = mdf_req_state(r);
    const char *key;
    size_t key_len;
    char id[MDF_UUID_STRSZ];
    state_key(r, t, &key, &key_len);
    mdf_event_id_of(id, t->node_id, "state", t->job_id, NULL, NULL, NULL);
    mdf_req_emit_at(r, MDF_TOPIC_FINDINGS_STATE, mdf_req_msg(r)->partition, key, key_len,
                    t->state.data, t->state.len, MDF_CONTENT_JSON, id);
    mdf_req_finish(r);
}

/* The node's changes, report and outcome from its report (NULL when it
 * could not be read), and its new state once they are acknowledged. */
static void finish_node(mdf_request *r, const mdf_report *rep, const mdf_outcome *o)
{
    task *t = mdf_req_state(r);
    const mdf_state_port *sp = t->x->env->state;
    mdf_node_ctx n = ctx_of(t, rep);
    mdf_fstate prev, next;
    mdf_results_counts counts;
    sink_ctx sc = {r};
    mdf_results_sink sink = {sink_emit, &sc};
    char err[MDF_ERRSZ], id[MDF_UUID_STRSZ];
    int64_t dropped = 0;
    mdf_buf b;
    mdf_fstate_init(&prev);
    mdf_fstate_init(&next);
    mdf_buf_init(&b, OUT_MAX);
    load_state(r, t, &prev);
    if (mdf_results_apply(&n, rep, o, t->x->mode, &prev, &next, &sink, &counts, err, sizeof err) !=
        MDF_OK) {
        /* nothing is stored: the task runs again after a restart */
        mdf_error_f(TASK_FIELDS(t), "job %s node %s: %s; giving the task up", t->job_id, t->node,
                    err);
        mdf_req_drop(r);
        goto cleanup;
    }
    if (counts.threats_over_cap) {
        char over[MDF_RESULTS_WARNING_SZ];
        mdf_results_over_cap_warning(&counts, over, sizeof over);
        mdf_warn_f(TASK_FIELDS(t), "job %s node %s: %s", t->job_id, t->node, over);
    }
    if (counts.unwritten)
        mdf_warn_f(TASK_FIELDS(t), "job %s node %s: %lld records over their cap were not sent",
                   t->job_id, t->node, (long long)counts.unwritten);
    if (mdf_fstate_write(&next, t->node_id, t->job_id, n.time_ms, &t->state, &dropped, err,
                         sizeof err) != MDF_OK)
        mdf_warn_f(TASK_FIELDS(t), "job %s node %s: %s: its findings will be new again", t->job_id,
                   t->node, err);
    else if (dropped)
        mdf_warn_f(TASK_FIELDS(t),
                   "job %s node %s: %lld threats left out of its state (over %d bytes): they "
                   "will be reported again",
                   t->job_id, t->node, (long long)dropped, MDF_FSTATE_MAX_BYTES);
    if (t->state.len) {
        /* kept now: the node's next task, maybe already here, starts from it */
        const char *key;
        size_t key_len;
        state_key(r, t, &key, &key_len);
        if (sp->put(sp->ctx, mdf_req_msg(r)->partition, key, key_len, t->state.data, t->state.len,
                    err, sizeof err) != MDF_OK)
            mdf_warn_f(TASK_FIELDS(t), "job %s node %s: state not kept: %s", t->job_id, t->node,
                       err);
    }
    if (mdf_node_report(&n, rep, o, &counts, &b, id) == MDF_OK)
        emit_json(r, MDF_TOPIC_NODE_REPORTS, &b, id);
    emit_outcome(r, o);
    if (rep)
        mdf_info_f(TASK_FIELDS(t),
                   "job %s node %s: %zu scans, %zu threats; published %lld scans, %lld/%lld/%lld "
                   "findings created/updated/closed, tickets %lld opened, %lld resolved",
                   t->job_id, t->node, rep->n_scans, rep->n_threats, (long long)counts.scans,
                   (long long)counts.created, (long long)counts.updated, (long long)counts.closed,
                   (long long)counts.tickets_opened, (long long)counts.tickets_resolved);
    if (t->state.len)
        mdf_req_when_delivered(r, write_state);
    else
        mdf_req_finish(r);
cleanup:
    mdf_buf_free(&b);
    mdf_fstate_free(&prev);
    mdf_fstate_free(&next);
}

/* The node could not be scanned: a ticket (once), its report, the
 * outcome, and its state. */
static void fail_node(mdf_request *r, const char *failure, const char *reason)
{
    task *t = mdf_req_state(r);
    mdf_outcome o = {false, failure, reason};
    mdf_warn_f(TASK_FIELDS(t), "job %s node %s failed: %s: %s", t->job_id, t->node, failure,
               reason);
    finish_node(r, NULL, &o);
}

static void report_node(mdf_request *r, const mdf_report *rep)
{
    task *t = mdf_req_state(r);
    mdf_outcome o = {true, NULL, NULL};
    t->scans = (int)rep->n_scans;
    t->threats = (int)rep->n_threats;
    finish_node(r, rep, &o);
}

/* A task that could never have run (its names break the API's patterns):
 * its outcome, and the task to the DLQ. No state: its node id means
 * nothing. */
static void reject_task(mdf_request *r, const char *reason)
{
    task *t = mdf_req_state(r);
    mdf_outcome o = {false, "Other", reason};
    mdf_warn_f(TASK_FIELDS(t), "job %s node %s rejected: %s", t->job_id, t->node, reason);
    emit_outcome(r, &o);
    mdf_req_dead_letter(r, reason);
}

static void run_extract(mdf_request *r);

/* The NodeFailure of a download that failed; the blob's message says what
 * to fix (the role, the firewall, the token's audience). */
static const char *download_failure(mdf_blob_errcode code)
{
    switch (code) {
    case MDF_BLOB_E_EXPIRED:
        return "DownloadExpired";
    case MDF_BLOB_E_UNAUTHORIZED:
        return "DownloadUnauthorized";
    case MDF_BLOB_E_NO_ROLE:
        return "DownloadForbidden";
    case MDF_BLOB_E_BLOCKED:
        return "DownloadBlocked";
    case MDF_BLOB_E_NOT_FOUND:
        return "DownloadMissing";
    default:
        return "DownloadRefused";
    }
}

/* A result archive being parsed off the loop's thread. The worker thread
 * touches only data, len, rep, rc and err. */
typedef struct parse_job {
    mdf_request *r; /* the task's; not touched if cancelled */
    char *data;     /* owned: the downloaded bytes */
    size_t len;
    mdf_report *rep; /* owned, once parsed */
    int rc;
    char err[MDF_ERRSZ];
} parse_job;

static void parse_work(void *arg)
{
    parse_job *p = arg;
    p->rc =
        mdf_report_parse_mem(p->data ? p->data : "", p->len, NULL, &p->rep, p->err, sizeof p->err);
    free(p->data);
    p->data = NULL;
}

/* Back on the loop's thread; cancelled: the worker is stopping and the
 * request is gone. */
static void parse_done(void *arg, bool cancelled)
{
    parse_job *p = arg;
    if (!cancelled) {
        if (p->rc == MDF_OK)
            report_node(p->r, p->rep);
        else
            fail_node(p->r, "UnreadableReport", p->err);
    }
    mdf_report_free(p->rep);
    free(p->data);
    free(p);
}

static void on_download(void *arg, mdf_blob_result *b)
{
    mdf_request *r = arg;
    task *t = mdf_req_state(r);
    if (b->code == MDF_BLOB_E_EXPIRED && t->reruns < 1) {
        /* a SAS cannot be renewed: run the extract again for a fresh one */
        t->reruns++;
        mdf_info_f(TASK_FIELDS(t), "job %s node %s: result URL expired, extracting again",
                   t->job_id, t->node);
        run_extract(r);
        return;
    }
    if (b->code != MDF_BLOB_OK) {
        fail_node(r, download_failure(b->code), b->message);
        return;
    }
    mdf_metric_inc(t->x->m[X_BYTES], NULL, (double)b->data->len);
    parse_job *p = calloc(1, sizeof *p);
    if (!p) {
        fail_node(r, "Other", "out of memory");
        return;
    }
    p->r = r;
    p->data = mdf_buf_take(b->data, &p->len);
    /* inflating and parsing 64 MiB takes seconds: off the loop's thread,
     * so that every other task and job goes on meanwhile */
    const mdf_role_env *env = t->x->env;
    if (!env->offload || env->offload(env->offload_ctx, parse_work, parse_done, p) != MDF_OK) {
        parse_work(p);
        parse_done(p, false);
    }
}

static void on_extract(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    mdf_request *r = arg;
    task *t = mdf_req_state(r);
    const mdf_az *az = t->x->env->az;
    char reason[1200], err[MDF_ERRSZ];
    const char *failure = mdf_extract_failure(e, st, t->limit, reason, sizeof reason);
    double secs = (double)(t->x->env->mono_ms() - t->extract_at) / 1000.0;
    mdf_metric_observe(t->x->m[X_EXTRACT], (const char *[]){failure ? "failed" : "succeeded"},
                       secs);
    if (failure) {
        fail_node(r, failure, reason);
        return;
    }
    if (az->download(az->ctx, st->result_url, on_download, r, err, sizeof err) != MDF_OK)
        fail_node(r, "DownloadRefused", err);
}

static void run_extract(mdf_request *r)
{
    task *t = mdf_req_state(r);
    const mdf_az *az = t->x->env->az;
    char err[MDF_ERRSZ];
    t->extract_at = t->x->env->mono_ms();
    if (az->run_data_extract(az->ctx, t->sub, t->mrg, t->node, t->limit, t->x->restricted,
                             on_extract, r, err, sizeof err) != MDF_OK)
        fail_node(r, "Other", err);
}

static void executor_on_message(void *self, mdf_request *r)
{
    executor *x = self;
    json_object *rec = mdf_req_decode(r, MDF_REC_NODE_TASK);
    if (!rec)
        return;
    task *t = calloc(1, sizeof *t);
    if (!t) {
        json_object_put(rec);
        mdf_req_dead_letter(r, "out of memory");
        return;
    }
    t->x = x;
    mdf_metric_inc(x->m[X_STARTED], NULL, 1);
    mdf_metric_inc(x->m[X_INFLIGHT], NULL, 1);
    mdf_req_set_state(r, t, task_free);
    char cluster_id[MDF_RID_MAX], node_id[MDF_RID_MAX];
    mdf_strlcpy(t->job_id, mdf_jstr(rec, "job_id"), sizeof t->job_id);
    mdf_strlcpy(t->sub, mdf_jstr(rec, "subscription_id"), sizeof t->sub);
    mdf_strlcpy(t->rg, mdf_jstr(rec, "resource_group"), sizeof t->rg);
    mdf_strlcpy(t->cluster, mdf_jstr(rec, "cluster"), sizeof t->cluster);
    mdf_strlcpy(t->mrg, mdf_jstr(rec, "managed_resource_group"), sizeof t->mrg);
    mdf_strlcpy(t->node, mdf_jstr(rec, "node"), sizeof t->node);
    mdf_strlcpy(t->machine_name, mdf_jstr(rec, "machine_name"), sizeof t->machine_name);
    mdf_strlcpy(t->location, mdf_jstr(rec, "location"), sizeof t->location);
    t->rack_id = strdup(mdf_jstr(rec, "rack_id"));
    t->limit = json_object_get_int(json_object_object_get(rec, "limit_time_seconds"));
    json_object_put(rec); /* all taken */
    mdf_buf_init(&t->state, MDF_FSTATE_MAX_BYTES);
    mdf_req_set_correlation(r, t->job_id);
    mdf_rid_cluster(cluster_id, sizeof cluster_id, t->sub, t->rg, t->cluster);
    mdf_rid_bmm(node_id, sizeof node_id, t->sub, t->mrg, t->node);
    t->cluster_id = strdup(cluster_id);
    t->node_id = strdup(node_id);
    if (!t->rack_id || !t->cluster_id || !t->node_id) {
        mdf_req_dead_letter(r, "out of memory");
        return;
    }
    if (!mdf_valid_subscription(t->sub) || !mdf_valid_resource_group(t->mrg) ||
        !mdf_valid_bmm_name(t->node) || !mdf_valid_cluster_name(t->cluster)) {
        reject_task(r, "node task with a name that does not match the API's pattern");
        return;
    }
    run_extract(r);
}

static int executor_init(const mdf_role_env *env, void **self, char *err, size_t errsz)
{
    executor *x = calloc(1, sizeof *x);
    if (!x)
        return mdf_seterr(err, errsz, "out of memory");
    x->env = env;
    x->restricted = mdf_config_get_bool(env->cfg, "extract.restricted");
    mdf_results_mode_parse(mdf_config_get(env->cfg, "results.mode"), &x->mode); /* an enum */
    for (int i = 0; i < X__COUNT; i++) {
        if (mdf_metrics_add(env->metrics, &x_defs[i], &x->m[i], err, errsz) != MDF_OK) {
            free(x);
            return MDF_ERR;
        }
    }
    /* shown from the start, at 0: a rate needs a first sample */
    mdf_metric_inc(x->m[X_STARTED], NULL, 0);
    mdf_metric_inc(x->m[X_INFLIGHT], NULL, 0);
    mdf_metric_inc(x->m[X_BYTES], NULL, 0);
    *self = x;
    return MDF_OK;
}

static void executor_fini(void *self)
{
    free(self);
}

const mdf_role mdf_role_executor = {
    .name = "executor",
    .topics = {MDF_TOPIC_NODE_TASKS},
    .n_topics = 1,
    .holds_slot = true,
    .keeps_state = true,
    .init = executor_init,
    .on_message = executor_on_message,
    .fini = executor_fini,
};
