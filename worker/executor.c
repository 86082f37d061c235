/* The executor: one node task = runDataExtracts (mde-agent-information),
 * follow it, download the archive, parse the report, and send what the
 * SIEM and the ticketing system read, then the node's outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "extract_status.h"
#include "log.h"
#include "names.h"
#include "node_report.h"
#include "ocsf.h"
#include "records.h"
#include "report.h"
#include "resource_id.h"
#include "role.h"
#include "ticket.h"

#define OUT_MAX (256 * 1024) /* one output record */

typedef struct executor {
    const mdf_role_env *env;
    bool restricted; /* extract.restricted */
} executor;

typedef struct task {
    executor *x;
    json_object *rec;
    char job_id[64], sub[64], rg[128], cluster[64], mrg[128], node[80];
    char machine_name[80], rack_id[512];
    char cluster_id[MDF_RID_MAX], node_id[MDF_RID_MAX];
    int limit;
    int reruns; /* extracts run again because the SAS expired */
    int scans, threats;
} task;

static void task_free(void *state)
{
    task *t = state;
    json_object_put(t->rec);
    free(t);
}

static mdf_node_ctx ctx_of(const task *t)
{
    return (mdf_node_ctx){.job_id = t->job_id,
                          .cluster_id = t->cluster_id,
                          .node_id = t->node_id,
                          .node = t->node,
                          .machine_name = t->machine_name[0] ? t->machine_name : t->node,
                          .rack_id = t->rack_id[0] ? t->rack_id : NULL,
                          .time_ms = mdf_time_now_ms()};
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
}

/* The node could not be scanned: its report record, a ticket, the outcome;
 * and the task to the DLQ when it could never have run. */
static void fail_node_dl(mdf_request *r, const char *failure, const char *reason, bool dead_letter)
{
    task *t = mdf_req_state(r);
    mdf_node_ctx n = ctx_of(t);
    mdf_outcome o = {false, failure, reason};
    char id[MDF_UUID_STRSZ];
    mdf_buf b;
    mdf_warn("job %s node %s failed: %s: %s", t->job_id, t->node, failure, reason);
    mdf_buf_init(&b, OUT_MAX);
    if (mdf_node_report(&n, NULL, &o, &b, id) == MDF_OK)
        emit_json(r, MDF_TOPIC_NODE_REPORTS, &b, id);
    mdf_buf_reset(&b);
    if (mdf_ticket_node_failure(&n, &o, &b, id) == MDF_OK)
        emit_json(r, MDF_TOPIC_TICKETS, &b, id);
    mdf_buf_free(&b);
    emit_outcome(r, &o);
    if (dead_letter)
        mdf_req_dead_letter(r, reason);
    else
        mdf_req_finish(r);
}

static void fail_node(mdf_request *r, const char *failure, const char *reason)
{
    fail_node_dl(r, failure, reason, false);
}

static void report_node(mdf_request *r, const mdf_report *rep)
{
    task *t = mdf_req_state(r);
    mdf_node_ctx n = ctx_of(t);
    mdf_outcome o = {true, NULL, NULL};
    char id[MDF_UUID_STRSZ];
    mdf_buf b;
    mdf_buf_init(&b, OUT_MAX);
    for (size_t i = 0; i < rep->n_scans; i++) {
        mdf_buf_reset(&b);
        if (mdf_ocsf_scan(&n, &rep->scans[i], &b, id) == MDF_OK)
            emit_json(r, MDF_TOPIC_SCAN_RESULTS, &b, id);
    }
    for (size_t i = 0; i < rep->n_threats; i++) {
        const mdf_threat *th = &rep->threats[i];
        mdf_buf_reset(&b);
        if (mdf_ocsf_threat(&n, th, &b, id) == MDF_OK)
            emit_json(r, MDF_TOPIC_THREATS, &b, id);
        if (mdf_threat_remediated(th))
            continue;
        mdf_buf_reset(&b);
        if (mdf_ticket_threat(&n, th, &b, id) == MDF_OK)
            emit_json(r, MDF_TOPIC_TICKETS, &b, id);
    }
    t->scans = (int)rep->n_scans;
    t->threats = (int)rep->n_threats;
    mdf_buf_reset(&b);
    if (mdf_node_report(&n, rep, &o, &b, id) == MDF_OK)
        emit_json(r, MDF_TOPIC_NODE_REPORTS, &b, id);
    mdf_buf_free(&b);
    mdf_info("job %s node %s: %zu scans, %zu threats", t->job_id, t->node, rep->n_scans,
             rep->n_threats);
    emit_outcome(r, &o);
    mdf_req_finish(r);
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

static void on_download(void *arg, mdf_blob_result *b)
{
    mdf_request *r = arg;
    task *t = mdf_req_state(r);
    char err[MDF_ERRSZ];
    if (b->code == MDF_BLOB_E_EXPIRED && t->reruns < 1) {
        /* a SAS cannot be renewed: run the extract again for a fresh one */
        t->reruns++;
        mdf_info("job %s node %s: result URL expired, extracting again", t->job_id, t->node);
        run_extract(r);
        return;
    }
    if (b->code != MDF_BLOB_OK) {
        fail_node(r, download_failure(b->code), b->message);
        return;
    }
    mdf_report *rep = NULL;
    if (mdf_report_parse_mem(b->data->data, b->data->len, NULL, &rep, err, sizeof err) != MDF_OK) {
        fail_node(r, "UnreadableReport", err);
        return;
    }
    report_node(r, rep);
    mdf_report_free(rep);
}

static void on_extract(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    mdf_request *r = arg;
    task *t = mdf_req_state(r);
    const mdf_az *az = t->x->env->az;
    char reason[1200], err[MDF_ERRSZ];
    const char *failure = mdf_extract_failure(e, st, t->limit, reason, sizeof reason);
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
    t->rec = rec;
    mdf_req_set_state(r, t, task_free);
    mdf_strlcpy(t->job_id, mdf_jstr(rec, "job_id"), sizeof t->job_id);
    mdf_strlcpy(t->sub, mdf_jstr(rec, "subscription_id"), sizeof t->sub);
    mdf_strlcpy(t->rg, mdf_jstr(rec, "resource_group"), sizeof t->rg);
    mdf_strlcpy(t->cluster, mdf_jstr(rec, "cluster"), sizeof t->cluster);
    mdf_strlcpy(t->mrg, mdf_jstr(rec, "managed_resource_group"), sizeof t->mrg);
    mdf_strlcpy(t->node, mdf_jstr(rec, "node"), sizeof t->node);
    mdf_strlcpy(t->machine_name, mdf_jstr(rec, "machine_name"), sizeof t->machine_name);
    mdf_strlcpy(t->rack_id, mdf_jstr(rec, "rack_id"), sizeof t->rack_id);
    t->limit = json_object_get_int(json_object_object_get(rec, "limit_time_seconds"));
    mdf_req_set_correlation(r, t->job_id);
    mdf_rid_cluster(t->cluster_id, sizeof t->cluster_id, t->sub, t->rg, t->cluster);
    mdf_rid_bmm(t->node_id, sizeof t->node_id, t->sub, t->mrg, t->node);
    if (!mdf_valid_subscription(t->sub) || !mdf_valid_resource_group(t->mrg) ||
        !mdf_valid_bmm_name(t->node) || !mdf_valid_cluster_name(t->cluster)) {
        fail_node_dl(r, "Other", "node task with a name that does not match the API's pattern",
                     true);
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
    .init = executor_init,
    .on_message = executor_on_message,
    .fini = executor_fini,
};
