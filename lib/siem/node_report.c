/* The node.reports record: agent health, definitions, counts and the
 * outcome of one node (node_report.h). */
#include "node_report.h"

#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "siem_common.h"

static void write_counts(mdf_jsonw *w, const mdf_report *r)
{
    int64_t open = 0;
    for (size_t i = 0; i < r->n_threats; i++)
        open += !mdf_threat_remediated(&r->threats[i]);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kint(w, "scans", (int64_t)r->n_scans);
    mdf_jsonw_kint(w, "threats", (int64_t)r->n_threats);
    mdf_jsonw_kint(w, "threats_not_remediated", open);
    mdf_jsonw_kint(w, "quarantine", (int64_t)r->n_quarantine);
    mdf_jsonw_obj_end(w);
}

static void write_changes(mdf_jsonw *w, const mdf_results_counts *c)
{
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kint(w, "scans", c->scans);
    mdf_jsonw_kint(w, "findings_created", c->created);
    mdf_jsonw_kint(w, "findings_updated", c->updated);
    mdf_jsonw_kint(w, "findings_closed", c->closed);
    mdf_jsonw_kint(w, "tickets_opened", c->tickets_opened);
    mdf_jsonw_kint(w, "tickets_updated", c->tickets_updated);
    mdf_jsonw_kint(w, "tickets_resolved", c->tickets_resolved);
    mdf_jsonw_kint(w, "threats_over_cap", c->threats_over_cap);
    mdf_jsonw_obj_end(w);
}

int mdf_node_report(const mdf_node_ctx *n, const mdf_report *r, const mdf_outcome *o,
                    const mdf_results_counts *changes, mdf_buf *out, char event_id[MDF_UUID_STRSZ])
{
    mdf_event_id_of(event_id, siem_nz(n->job_id), siem_nz(n->node_id), "node-report", NULL, NULL,
                    NULL);

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "event_id", event_id);
    mdf_jsonw_kint(&w, "time", n->time_ms);
    mdf_jsonw_kstr(&w, "job_id", n->job_id);
    mdf_jsonw_kstr(&w, "cluster_id", n->cluster_id);
    mdf_jsonw_kstr(&w, "node", n->node);
    mdf_jsonw_kstr(&w, "node_id", n->node_id);
    mdf_jsonw_kstr(&w, "hostname", n->machine_name);
    mdf_jsonw_kstr(&w, "rack_id", n->rack_id);
    mdf_jsonw_kstr(&w, "outcome", o->succeeded ? "succeeded" : "failed");
    mdf_jsonw_kstr(&w, "failure", siem_failure_of(o));
    mdf_jsonw_kstr(&w, "reason", o->reason);

    mdf_jsonw_key(&w, "health");
    if (r)
        mdf_report_write_health(r, &w);
    else
        mdf_jsonw_null(&w);
    mdf_jsonw_key(&w, "counts");
    if (r)
        write_counts(&w, r);
    else
        mdf_jsonw_null(&w);

    /* scans are sorted by start time: the last one is the latest */
    mdf_jsonw_key(&w, "last_scan");
    if (r && r->n_scans) {
        const mdf_scan *s = &r->scans[r->n_scans - 1];
        mdf_jsonw_obj_begin(&w);
        mdf_jsonw_kstr(&w, "type", s->type);
        mdf_jsonw_ktime(&w, "start_time", s->start_ms);
        mdf_jsonw_ktime(&w, "end_time", s->end_ms);
        mdf_jsonw_obj_end(&w);
    } else {
        mdf_jsonw_null(&w);
    }

    /* what this job published about the node: in delta mode, the changes */
    mdf_jsonw_key(&w, "published");
    if (changes)
        write_changes(&w, changes);
    else
        mdf_jsonw_null(&w);

    mdf_jsonw_key(&w, "warnings");
    mdf_jsonw_arr_begin(&w);
    for (size_t i = 0; r && i < r->n_warnings; i++)
        mdf_jsonw_str(&w, r->warnings[i]);
    /* the summary of what was not published says so where the SIEM reads */
    char over[MDF_RESULTS_WARNING_SZ] = "";
    if (changes)
        mdf_results_over_cap_warning(changes, over, sizeof over);
    if (over[0])
        mdf_jsonw_str(&w, over);
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_obj_end(&w);
    return siem_finish(&w, out, mark);
}
