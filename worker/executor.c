/* The executor: one node task = runDataExtracts (mde-agent-information),
 * follow it, download the archive, parse the report, and send what the
 * SIEM and the ticketing system read, then the node's outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm_decode.h"
#include "err.h"
#include "log.h"
#include "node_report.h"
#include "ocsf.h"
#include "ticket.h"
#include "report.h"
#include "clock.h"
#include "worker.h"
#include "names.h"

#define OUT_MAX (256 * 1024) /* one output record */

typedef struct task {
    json_object *rec;
    char job_id[64], sub[64], rg[128], cluster[64], mrg[128], node[80];
    char machine_name[80], rack_id[512];
    char cluster_id[512], node_id[512];
    int limit;
    int reruns; /* extracts run again because the SAS expired */
    int scans, threats;
} task;

static void task_free(void *p)
{
    task *t = p;
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

/* Sends one JSON record built by fn, keyed by the node. */
static void emit_json(request *r, topic_id topic, const mdf_buf *b, const char *event_id)
{
    task *t = r->state;
    req_emit(r, topic, t->node_id, strlen(t->node_id), b->data, b->len, MDF_CONTENT_JSON,
             event_id);
}

static void emit_outcome(request *r, const mdf_outcome *o)
{
    task *t = r->state;
    char id[MDF_UUID_STRSZ];
    json_object *s = job_status_new(t->job_id, "Scan", t->cluster_id, "NodeOutcome", id, t->node);
    json_object *n = json_object_new_object();
    json_object_object_add(n, "node", json_object_new_string(t->node));
    json_object_object_add(n, "machine_name",
                           t->machine_name[0] ? json_object_new_string(t->machine_name) : NULL);
    json_object_object_add(n, "result", json_object_new_string(o->succeeded ? "Succeeded" : "Failed"));
    json_object_object_add(n, "failure", o->failure ? json_object_new_string(o->failure) : NULL);
    json_object_object_add(n, "reason", o->reason ? json_object_new_string(o->reason) : NULL);
    json_object_object_add(n, "scans", json_object_new_int(t->scans));
    json_object_object_add(n, "threats", json_object_new_int(t->threats));
    json_object_object_add(n, "finished_at", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(s, "node_outcome", n);
    req_emit_avro(r, T_JOB_STATUS, MDF_REC_JOB_STATUS, s, t->job_id, id);
    json_object_put(s);
}

/* The node could not be scanned: its report record, a ticket, the outcome;
 * and the task to the DLQ when it could never have run. */
static void fail_node_dl(request *r, const char *failure, const char *reason, bool dead_letter)
{
    task *t = r->state;
    mdf_node_ctx n = ctx_of(t);
    mdf_outcome o = {false, failure, reason};
    char id[MDF_UUID_STRSZ];
    mdf_buf b;
    mdf_warn("job %s node %s failed: %s: %s", t->job_id, t->node, failure, reason);
    mdf_buf_init(&b, OUT_MAX);
    if (mdf_node_report(&n, NULL, &o, &b, id) == MDF_OK)
        emit_json(r, T_NODE_REPORTS, &b, id);
    mdf_buf_reset(&b);
    if (mdf_ticket_node_failure(&n, &o, &b, id) == MDF_OK)
        emit_json(r, T_TICKETS, &b, id);
    mdf_buf_free(&b);
    emit_outcome(r, &o);
    if (dead_letter)
        req_dead_letter(r, reason);
    else
        req_finish(r);
}

static void fail_node(request *r, const char *failure, const char *reason)
{
    fail_node_dl(r, failure, reason, false);
}

static void report_node(request *r, const mdf_report *rep)
{
    task *t = r->state;
    mdf_node_ctx n = ctx_of(t);
    mdf_outcome o = {true, NULL, NULL};
    char id[MDF_UUID_STRSZ];
    mdf_buf b;
    mdf_buf_init(&b, OUT_MAX);
    for (size_t i = 0; i < rep->n_scans; i++) {
        mdf_buf_reset(&b);
        if (mdf_ocsf_scan(&n, &rep->scans[i], &b, id) == MDF_OK)
            emit_json(r, T_SCAN_RESULTS, &b, id);
    }
    for (size_t i = 0; i < rep->n_threats; i++) {
        const mdf_threat *th = &rep->threats[i];
        mdf_buf_reset(&b);
        if (mdf_ocsf_threat(&n, th, &b, id) == MDF_OK)
            emit_json(r, T_THREATS, &b, id);
        if (mdf_threat_remediated(th))
            continue;
        mdf_buf_reset(&b);
        if (mdf_ticket_threat(&n, th, &b, id) == MDF_OK)
            emit_json(r, T_TICKETS, &b, id);
    }
    t->scans = (int)rep->n_scans;
    t->threats = (int)rep->n_threats;
    mdf_buf_reset(&b);
    if (mdf_node_report(&n, rep, &o, &b, id) == MDF_OK)
        emit_json(r, T_NODE_REPORTS, &b, id);
    mdf_buf_free(&b);
    mdf_info("job %s node %s: %zu scans, %zu threats", t->job_id, t->node, rep->n_scans,
             rep->n_threats);
    emit_outcome(r, &o);
    req_finish(r);
}

static void run_extract(request *r);

static void on_download(void *arg, mdf_blob_result *b)
{
    request *r = arg;
    task *t = r->state;
    char err[MDF_ERRSZ];
    if (b->code == MDF_BLOB_E_EXPIRED && t->reruns < 1) {
        /* a SAS cannot be renewed: run the extract again for a fresh one */
        t->reruns++;
        mdf_info("job %s node %s: result URL expired, extracting again", t->job_id, t->node);
        run_extract(r);
        return;
    }
    if (b->code != MDF_BLOB_OK) {
        fail_node(r, b->code == MDF_BLOB_E_EXPIRED ? "DownloadExpired" : "DownloadRefused",
                  b->message);
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

/* The first line of the command output that mentions the agent. */
static void agent_line(const char *head, char *out, size_t outsz)
{
    const char *p = strstr(head, "MDE agent");
    size_t n = p ? strcspn(p, "\r\n") : 0;
    snprintf(out, outsz, "%.*s", (int)(n > 200 ? 200 : n), p ? p : "");
}

static void on_extract(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    request *r = arg;
    task *t = r->state;
    char reason[1200], err[MDF_ERRSZ];
    if (e->code == MDF_ARM_E_OPERATION_FAILED) {
        snprintf(reason, sizeof reason, "extract operation %s", e->message);
        fail_node(r, "OperationFailed", reason);
        return;
    }
    if (e->code != MDF_ARM_OK) {
        snprintf(reason, sizeof reason, "runDataExtracts: %s: %s", mdf_arm_errcode_name(e->code),
                 e->message);
        fail_node(r, e->code == MDF_ARM_E_THROTTLED ? "Throttled" : "Other", reason);
        return;
    }
    if (st->has_exit_code && strcmp(st->exit_code, "0") != 0) {
        char line[256];
        agent_line(st->output_head, line, sizeof line);
        if (strcmp(st->exit_code, "252") == 0) {
            snprintf(reason, sizeof reason, "the extract hit its time limit of %d s (exit code 252)",
                     t->limit);
            fail_node(r, "TimeLimit", reason);
        } else if (strstr(st->output_head, "not running")) {
            snprintf(reason, sizeof reason, "%s (exit code %s)",
                     line[0] ? line : "MDE agent is not running", st->exit_code);
            fail_node(r, "AgentNotRunning", reason);
        } else {
            snprintf(reason, sizeof reason, "the extract exited with code %s%s%s", st->exit_code,
                     line[0] ? ": " : "", line);
            fail_node(r, "OperationFailed", reason);
        }
        return;
    }
    if (!st->result_url[0]) {
        fail_node(r, "OperationFailed", "the extract succeeded without a result URL");
        return;
    }
    if (mdf_blob_get(r->w->http, &r->w->blob, st->result_url, on_download, r, err, sizeof err) !=
        MDF_OK)
        fail_node(r, "DownloadRefused", err);
}

static void run_extract(request *r)
{
    task *t = r->state;
    char err[MDF_ERRSZ];
    if (mdf_arm_run_data_extract(r->w->arm, t->sub, t->mrg, t->node, t->limit, r->w->restricted,
                                 on_extract, r, err, sizeof err) != MDF_OK)
        fail_node(r, "Other", err);
}

void executor_node_task(request *r)
{
    char err[MDF_ERRSZ];
    json_object *rec = NULL;
    task *t = calloc(1, sizeof *t);
    if (!t) {
        req_dead_letter(r, "out of memory");
        return;
    }
    if (mdf_codec_decode(r->w->codec, MDF_REC_NODE_TASK, r->value, r->value_len, &rec, NULL, err,
                         sizeof err) != MDF_OK) {
        free(t);
        req_dead_letter(r, err);
        return;
    }
    t->rec = rec;
    r->state = t;
    r->free_state = task_free;
    mdf_strlcpy(t->job_id, jstr(rec, "job_id"), sizeof t->job_id);
    mdf_strlcpy(t->sub, jstr(rec, "subscription_id"), sizeof t->sub);
    mdf_strlcpy(t->rg, jstr(rec, "resource_group"), sizeof t->rg);
    mdf_strlcpy(t->cluster, jstr(rec, "cluster"), sizeof t->cluster);
    mdf_strlcpy(t->mrg, jstr(rec, "managed_resource_group"), sizeof t->mrg);
    mdf_strlcpy(t->node, jstr(rec, "node"), sizeof t->node);
    mdf_strlcpy(t->machine_name, jstr(rec, "machine_name"), sizeof t->machine_name);
    mdf_strlcpy(t->rack_id, jstr(rec, "rack_id"), sizeof t->rack_id);
    t->limit = json_object_get_int(json_object_object_get(rec, "limit_time_seconds"));
    mdf_strlcpy(r->correlation, t->job_id, sizeof r->correlation);
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
