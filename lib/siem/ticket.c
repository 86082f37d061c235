/* Tickets for the ticketing system (ticket.h). */
#include "ticket.h"

#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "siem_common.h"

/* ---- tickets ---------------------------------------------------------------- */

/* The ticket's common head: dedupe key, kind, hostname, severity and the
 * summary line. The event id is per job (a ticket is re-sent by each job
 * that still sees the problem; the connector upserts on dedupe_key). */
static void ticket_head(mdf_jsonw *w, const mdf_node_ctx *n, const char *dedupe_key,
                        const char *kind, int sev, const mdf_buf *summary)
{
    mdf_jsonw_kstr(w, "dedupe_key", dedupe_key);
    mdf_jsonw_kstr(w, "kind", kind);
    mdf_jsonw_kstr(w, "hostname", n->machine_name);
    mdf_jsonw_kstr(w, "severity", siem_sev_lower[sev]);
    mdf_jsonw_kstr(w, "summary", summary->data ? summary->data : "");
}

static void ticket_where(mdf_jsonw *w, const mdf_node_ctx *n)
{
    mdf_jsonw_kstr(w, "cluster_id", n->cluster_id);
    mdf_jsonw_kstr(w, "node_id", n->node_id);
    mdf_jsonw_kstr(w, "node", n->node);
    mdf_jsonw_kstr(w, "job_id", n->job_id);
}

static void ticket_tail(mdf_jsonw *w, const mdf_node_ctx *n, const char *event_id)
{
    mdf_jsonw_kint(w, "time", n->time_ms);
    mdf_jsonw_kstr(w, "event_id", event_id);
}

int mdf_ticket_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                      char event_id[MDF_UUID_STRSZ])
{
    /* A remediated threat needs nobody: refuse rather than open a ticket. */
    if (mdf_threat_remediated(t))
        return MDF_ERR;

    char uid[MDF_UUID_STRSZ], key[MDF_UUID_STRSZ];
    siem_finding_uid(n, t, uid);
    mdf_event_id_of(key, siem_nz(n->cluster_id), siem_nz(n->node_id), "ticket", uid, NULL, NULL);
    mdf_event_id_of(event_id, siem_nz(n->job_id), key, NULL, NULL, NULL, NULL);

    mdf_buf summary;
    mdf_buf_init(&summary, SIEM_LINE_MAX);
    int rc = mdf_buf_appendf(&summary, "%s detected on %s (not remediated: %s)",
                             t->name ? t->name : "Unknown threat", siem_host_of(n),
                             t->status ? t->status : "no status");

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    if (rc != 0)
        w.failed = true;
    mdf_jsonw_obj_begin(&w);
    ticket_head(&w, n, key, "threat", siem_threat_severity(t), &summary);
    mdf_jsonw_key(&w, "details");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "threat", t->name);
    mdf_jsonw_kstr(&w, "category", t->category);
    mdf_jsonw_kstr(&w, "family", t->family);
    mdf_jsonw_kstr(&w, "status", t->status);
    mdf_jsonw_kstr(&w, "tracking_id", t->tracking_id);
    mdf_jsonw_ktime(&w, "detection_time", t->detection_ms);
    ticket_where(&w, n);
    mdf_jsonw_obj_end(&w);
    ticket_tail(&w, n, event_id);
    mdf_jsonw_obj_end(&w);
    mdf_buf_free(&summary);
    return siem_finish(&w, out, mark);
}

int mdf_ticket_node_failure(const mdf_node_ctx *n, const mdf_outcome *o, mdf_buf *out,
                            char event_id[MDF_UUID_STRSZ])
{
    if (o->succeeded)
        return MDF_ERR;
    const char *failure = siem_failure_of(o);

    /* Keyed by the failure symbol, not the reason: the reason's wording
     * varies between runs while the problem stays the same ticket. */
    char key[MDF_UUID_STRSZ];
    mdf_event_id_of(key, siem_nz(n->cluster_id), siem_nz(n->node_id), "ticket", "node_failure",
                    failure, NULL);
    mdf_event_id_of(event_id, siem_nz(n->job_id), key, NULL, NULL, NULL, NULL);

    mdf_buf summary;
    mdf_buf_init(&summary, SIEM_LINE_MAX);
    int rc = o->reason && *o->reason ? mdf_buf_appendf(&summary, "%s could not be scanned: %s (%s)",
                                                       siem_host_of(n), failure, o->reason)
                                     : mdf_buf_appendf(&summary, "%s could not be scanned: %s",
                                                       siem_host_of(n), failure);

    /* An agent that is not running leaves the node unprotected. */
    int sev = strcmp(failure, "AgentNotRunning") == 0 ? SEV_HIGH : SEV_MEDIUM;

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    if (rc != 0)
        w.failed = true;
    mdf_jsonw_obj_begin(&w);
    ticket_head(&w, n, key, "node_failure", sev, &summary);
    mdf_jsonw_key(&w, "details");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "failure", failure);
    mdf_jsonw_kstr(&w, "reason", o->reason);
    ticket_where(&w, n);
    mdf_jsonw_obj_end(&w);
    ticket_tail(&w, n, event_id);
    mdf_jsonw_obj_end(&w);
    mdf_buf_free(&summary);
    return siem_finish(&w, out, mark);
}
