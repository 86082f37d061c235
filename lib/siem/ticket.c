/* Tickets for the ticketing system (ticket.h). */
#include "ticket.h"

#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "siem_common.h"

static const char *const state_name[] = {"open", "resolved"};

void mdf_ticket_threat_key(const mdf_node_ctx *n, const char *finding_uid, char out[MDF_UUID_STRSZ])
{
    mdf_event_id_of(out, siem_nz(n->cluster_id), siem_nz(n->node_id), "ticket", finding_uid, NULL,
                    NULL);
}

void mdf_ticket_node_key(const mdf_node_ctx *n, char out[MDF_UUID_STRSZ])
{
    mdf_event_id_of(out, siem_nz(n->cluster_id), siem_nz(n->node_id), "ticket", "node_failure",
                    NULL, NULL);
}

/* What every ticket starts with. */
static void ticket_head(mdf_jsonw *w, const mdf_node_ctx *n, const char *dedupe_key,
                        const char *kind, const mdf_ticket_life *life, int sev,
                        const mdf_buf *summary)
{
    mdf_jsonw_kstr(w, "dedupe_key", dedupe_key);
    mdf_jsonw_kstr(w, "kind", kind);
    mdf_jsonw_kstr(w, "state", state_name[life->state]);
    mdf_jsonw_kstr(w, "hostname", siem_host_of(n));
    mdf_jsonw_kstr(w, "severity", siem_sev_lower[sev]);
    mdf_jsonw_kstr(w, "summary", summary->data ? summary->data : "");
    mdf_jsonw_ktime(w, "first_seen", life->first_seen_ms);
    mdf_jsonw_ktime(w, "last_seen", life->last_seen_ms);
    mdf_jsonw_kint(w, "occurrences", life->occurrences);
    mdf_jsonw_kstr(w, "resolution", life->state == MDF_TICKET_RESOLVED ? life->resolution : NULL);
}

static void ticket_where(mdf_jsonw *w, const mdf_node_ctx *n)
{
    mdf_jsonw_kstr(w, "cluster_id", n->cluster_id);
    mdf_jsonw_kstr(w, "node_id", n->node_id);
    mdf_jsonw_kstr(w, "node", n->node);
    mdf_jsonw_kstr(w, "rack_id", n->rack_id);
    mdf_jsonw_kstr(w, "job_id", n->job_id);
}

static void ticket_tail(mdf_jsonw *w, const mdf_node_ctx *n, const char *event_id)
{
    mdf_jsonw_kint(w, "time", n->time_ms);
    mdf_jsonw_kstr(w, "event_id", event_id);
}

int mdf_ticket_threat(const mdf_node_ctx *n, const mdf_threat *t, const char *finding_uid,
                      const mdf_ticket_life *life, mdf_buf *out, char event_id[MDF_UUID_STRSZ])
{
    char key[MDF_UUID_STRSZ];
    mdf_ticket_threat_key(n, finding_uid, key);
    mdf_event_id_of(event_id, key, siem_nz(life->change_key), NULL, NULL, NULL, NULL);

    const char *name = t->name ? t->name : "Unknown threat";
    mdf_buf summary;
    mdf_buf_init(&summary, SIEM_LINE_MAX);
    int rc = life->state == MDF_TICKET_OPEN
                 ? mdf_buf_appendf(&summary, "%s detected on %s (not remediated: %s)", name,
                                   siem_host_of(n), t->status ? t->status : "no status")
                 : mdf_buf_appendf(&summary, "%s on %s resolved: %s", name, siem_host_of(n),
                                   siem_nz(life->resolution));

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    if (rc != 0)
        w.failed = true;
    mdf_jsonw_obj_begin(&w);
    ticket_head(&w, n, key, "threat", life, siem_threat_severity(t), &summary);
    mdf_jsonw_kstr(&w, "finding_uid", finding_uid);
    mdf_jsonw_knull(&w, "failure");
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

int mdf_ticket_node_failure(const mdf_node_ctx *n, const char *failure, const char *reason,
                            const mdf_ticket_life *life, mdf_buf *out,
                            char event_id[MDF_UUID_STRSZ])
{
    char key[MDF_UUID_STRSZ];
    mdf_ticket_node_key(n, key);
    mdf_event_id_of(event_id, key, siem_nz(life->change_key), NULL, NULL, NULL, NULL);
    failure = failure && *failure ? failure : "Other";

    mdf_buf summary;
    mdf_buf_init(&summary, SIEM_LINE_MAX);
    int rc;
    if (life->state == MDF_TICKET_RESOLVED)
        rc = mdf_buf_appendf(&summary, "%s scanned again after %s: %s", siem_host_of(n), failure,
                             siem_nz(life->resolution));
    else if (reason && *reason)
        rc = mdf_buf_appendf(&summary, "%s could not be scanned: %s (%s)", siem_host_of(n), failure,
                             reason);
    else
        rc = mdf_buf_appendf(&summary, "%s could not be scanned: %s", siem_host_of(n), failure);

    /* An agent that is not running leaves the node unprotected. */
    int sev = strcmp(failure, "AgentNotRunning") == 0 ? SEV_HIGH : SEV_MEDIUM;

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    if (rc != 0)
        w.failed = true;
    mdf_jsonw_obj_begin(&w);
    ticket_head(&w, n, key, "node_failure", life, sev, &summary);
    mdf_jsonw_knull(&w, "finding_uid");
    mdf_jsonw_kstr(&w, "failure", failure);
    mdf_jsonw_key(&w, "details");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "reason", reason);
    ticket_where(&w, n);
    mdf_jsonw_obj_end(&w);
    ticket_tail(&w, n, event_id);
    mdf_jsonw_obj_end(&w);
    mdf_buf_free(&summary);
    return siem_finish(&w, out, mark);
}
