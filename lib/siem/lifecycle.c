/* The changes of one node's task (lifecycle.h). */
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "ocsf.h"
#include "siem_common.h"
#include "strmap.h"
#include "ticket.h"

#define OUT_MAX (256 * 1024) /* one record */
#define CHANGE_KEY_MAX 160

int mdf_results_mode_parse(const char *s, mdf_results_mode *out)
{
    if (s && strcmp(s, "delta") == 0)
        *out = MDF_RESULTS_DELTA;
    else if (s && strcmp(s, "snapshot") == 0)
        *out = MDF_RESULTS_SNAPSHOT;
    else
        return MDF_ERR;
    return MDF_OK;
}

typedef struct run {
    const mdf_node_ctx *n;
    mdf_results_mode mode;
    const mdf_fstate *prev;
    mdf_fstate *next;
    const mdf_results_sink *sink;
    mdf_results_counts *counts;
    mdf_buf rec;
} run;

static void send(run *x, mdf_result_kind kind, const char *key, int rc, const char *event_id)
{
    if (rc == MDF_OK)
        x->sink->emit(x->sink->arg, kind, key, &x->rec, event_id);
    else
        x->counts->unwritten++;
    mdf_buf_reset(&x->rec);
}

/* Strings kept in the state are cut between characters (UTF-8). */
static void cut_copy(char *dst, const char *src, size_t dstsz)
{
    mdf_strlcpy_utf8(dst, src, strlen(src), dstsz);
}

/* "<what>|<status>|<status key>": a change with a time of its own. */
static const char *status_change(char out[CHANGE_KEY_MAX], const char *what, const char *status,
                                 int64_t key)
{
    char ms[24];
    snprintf(out, CHANGE_KEY_MAX, "%s|%s|%s", what, status, siem_ms_text(key, ms));
    return out;
}

/* "<what>|<job>": a change whose only time is the job that saw it. */
static const char *job_change(char out[CHANGE_KEY_MAX], const char *what, const mdf_node_ctx *n)
{
    snprintf(out, CHANGE_KEY_MAX, "%s|%s", what, siem_nz(n->job_id));
    return out;
}

/* ---- scans --------------------------------------------------------------------- */

static void scans(run *x, const mdf_report *rep)
{
    char id[MDF_UUID_STRSZ];
    for (size_t i = 0; i < rep->n_scans; i++) {
        int rc = mdf_ocsf_scan(x->n, &rep->scans[i], &x->rec, id);
        if (rc != MDF_OK) {
            send(x, MDF_RESULT_SCAN, x->n->node_id, rc, id);
            continue;
        }
        bool known = mdf_fstate_has_scan(x->prev, id);
        if (!mdf_fstate_has_scan(x->next, id)) {
            /* past the state's cap it is not kept: reported again next
             * time, never lost */
            char *e = mdf_vec_add(&x->next->scans);
            if (e)
                memcpy(e, id, MDF_UUID_STRSZ);
        }
        if (known && x->mode == MDF_RESULTS_DELTA) {
            mdf_buf_reset(&x->rec);
            continue;
        }
        x->counts->scans++;
        send(x, MDF_RESULT_SCAN, x->n->node_id, MDF_OK, id);
    }
}

/* ---- threats ------------------------------------------------------------------- */

static void finding(run *x, const mdf_threat *t, const mdf_finding_change *c)
{
    char id[MDF_UUID_STRSZ];
    int rc = mdf_ocsf_threat(x->n, t, c, &x->rec, id);
    if (rc == MDF_OK) {
        x->counts->created += c->activity == MDF_FINDING_CREATE;
        x->counts->updated += c->activity == MDF_FINDING_UPDATE;
        x->counts->closed += c->activity == MDF_FINDING_CLOSE;
    }
    send(x, MDF_RESULT_THREAT, x->n->node_id, rc, id);
}

static void threat_ticket(run *x, const mdf_threat *t, const mdf_fstate_threat *e,
                          const mdf_ticket_life *life, int64_t *counter)
{
    char key[MDF_UUID_STRSZ], id[MDF_UUID_STRSZ];
    mdf_ticket_threat_key(x->n, e->uid, key);
    int rc = mdf_ticket_threat(x->n, t, e->uid, life, &x->rec, id);
    if (rc == MDF_OK)
        (*counter)++;
    send(x, MDF_RESULT_TICKET, key, rc, id);
}

/* The state entry of a threat seen now. */
static void entry_of(mdf_fstate_threat *e, const mdf_threat *t, const char *uid)
{
    memset(e, 0, sizeof *e);
    cut_copy(e->uid, uid, sizeof e->uid);
    cut_copy(e->tracking_id, siem_nz(t->tracking_id), sizeof e->tracking_id);
    cut_copy(e->name, siem_nz(t->name), sizeof e->name);
    cut_copy(e->category, siem_nz(t->category), sizeof e->category);
    e->first_seen_ms = e->last_seen_ms = MDF_TIME_NONE;
}

/* A threat as last known, for a Close once it left the report. */
static mdf_threat threat_of(const mdf_fstate_threat *e)
{
    return (mdf_threat){.tracking_id = e->tracking_id[0] ? e->tracking_id : NULL,
                        .name = e->name[0] ? e->name : NULL,
                        .category = e->category[0] ? e->category : NULL,
                        .status = e->status[0] ? e->status : NULL,
                        .status_key = e->status_key,
                        .detection_ms = e->detection_ms};
}

static void present(run *x, const mdf_threat *t, const mdf_fstate_threat *p, mdf_fstate_threat *e)
{
    const mdf_node_ctx *n = x->n;
    const char *status = siem_nz(t->status);
    bool open = !mdf_threat_remediated(t);
    char ck[CHANGE_KEY_MAX], tk[CHANGE_KEY_MAX];
    mdf_finding_change c = {.open = open, .time_ms = t->status_key};
    mdf_ticket_life life = {.state = MDF_TICKET_OPEN};

    if (p) {
        e->first_seen_ms = p->first_seen_ms;
        e->occurrences = p->occurrences;
    } else {
        e->first_seen_ms = t->detection_ms != MDF_TIME_NONE ? t->detection_ms : n->time_ms;
    }
    e->last_seen_ms = n->time_ms;
    e->occurrences += open;
    cut_copy(e->status, status, sizeof e->status);
    e->status_key = t->status_key;
    e->detection_ms = t->detection_ms;
    e->open = open;
    c.first_seen_ms = life.first_seen_ms = e->first_seen_ms;
    c.last_seen_ms = life.last_seen_ms = e->last_seen_ms;
    life.occurrences = e->occurrences;

    if (!p) {
        c.activity = MDF_FINDING_CREATE;
        c.change_key = status_change(ck, "create", status, t->status_key);
        finding(x, t, &c);
        if (open) {
            life.change_key = status_change(tk, "open", status, t->status_key);
            threat_ticket(x, t, e, &life, &x->counts->tickets_opened);
        }
        return;
    }
    if (strcmp(p->status, status) != 0) {
        if (p->open && !open) {
            c.activity = MDF_FINDING_CLOSE;
            c.change_key = status_change(ck, "close", status, t->status_key);
            finding(x, t, &c);
            char why[80];
            snprintf(why, sizeof why, "remediated (%s)", status);
            life.state = MDF_TICKET_RESOLVED;
            life.resolution = why;
            life.change_key = status_change(tk, "resolved", status, t->status_key);
            threat_ticket(x, t, e, &life, &x->counts->tickets_resolved);
            return;
        }
        c.activity = MDF_FINDING_UPDATE;
        c.change_key = status_change(ck, "update", status, t->status_key);
        finding(x, t, &c);
        if (open) {
            /* reopened (back from quarantine), or still open another way */
            life.change_key = status_change(tk, p->open ? "update" : "open", status, t->status_key);
            threat_ticket(x, t, e, &life,
                          p->open ? &x->counts->tickets_updated : &x->counts->tickets_opened);
        }
        return;
    }
    if (x->mode == MDF_RESULTS_SNAPSHOT) {
        c.activity = MDF_FINDING_UPDATE;
        c.change_key = job_change(ck, "snapshot", n);
        finding(x, t, &c);
        if (open) {
            life.change_key = c.change_key;
            threat_ticket(x, t, e, &life, &x->counts->tickets_updated);
        }
    }
}

static void gone(run *x, const mdf_fstate_threat *p)
{
    if (!p->open)
        return; /* closed before: forgotten with nothing to say */
    mdf_threat t = threat_of(p);
    char ck[CHANGE_KEY_MAX], tk[CHANGE_KEY_MAX];
    mdf_finding_change c = {.activity = MDF_FINDING_CLOSE,
                            .gone = true,
                            .time_ms = MDF_TIME_NONE,
                            .first_seen_ms = p->first_seen_ms,
                            .last_seen_ms = p->last_seen_ms,
                            .change_key = job_change(ck, "gone", x->n)};
    finding(x, &t, &c);
    mdf_ticket_life life = {.state = MDF_TICKET_RESOLVED,
                            .first_seen_ms = p->first_seen_ms,
                            .last_seen_ms = p->last_seen_ms,
                            .occurrences = p->occurrences,
                            .resolution = SIEM_GONE,
                            .change_key = job_change(tk, "resolved-gone", x->n)};
    threat_ticket(x, &t, p, &life, &x->counts->tickets_resolved);
}

/* Finding uids -> index: a report may list many threats, and each is
 * looked up in the old state and among those already seen. */
static int index_prev(const mdf_fstate *prev, mdf_strmap *m)
{
    for (size_t i = 0; i < prev->threats.len; i++) {
        const char *uid = MDF_VEC_AT(&prev->threats, mdf_fstate_threat, i).uid;
        if (mdf_strmap_put(m, uid, strlen(uid), i) != 0)
            return MDF_ERR;
    }
    return MDF_OK;
}

static int threats(run *x, const mdf_report *rep, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_strmap seen, old;
    mdf_strmap_init(&seen);
    mdf_strmap_init(&old);
    size_t n_new = 0; /* threats not in the state before */
    char(*uids)[MDF_UUID_STRSZ] = malloc((rep->n_threats ? rep->n_threats : 1) * sizeof *uids);
    if (!uids || index_prev(x->prev, &old) != MDF_OK)
        goto cleanup;
    for (size_t i = 0; i < rep->n_threats; i++) {
        const mdf_threat *t = &rep->threats[i];
        size_t k;
        siem_finding_uid(x->n, t, uids[i]);
        if (mdf_strmap_get(&seen, uids[i], MDF_UUID_STRSZ - 1, &k))
            continue; /* listed twice: once is the fact */
        if (mdf_strmap_put(&seen, uids[i], MDF_UUID_STRSZ - 1, i) != 0)
            goto cleanup;
        const mdf_fstate_threat *p = mdf_strmap_get(&old, uids[i], MDF_UUID_STRSZ - 1, &k)
                                         ? &MDF_VEC_AT(&x->prev->threats, mdf_fstate_threat, k)
                                         : NULL;
        if (!p && n_new++ >= MDF_RESULTS_MAX_NEW_THREATS) {
            x->counts->threats_over_cap++;
            continue;
        }
        mdf_fstate_threat *e = mdf_vec_add(&x->next->threats), over;
        if (!e) {
            /* past the state's cap: not kept, so new again next time
             * (copies, never losses) */
            x->next->dropped++;
            e = &over;
        }
        entry_of(e, t, uids[i]);
        present(x, t, p, e);
    }
    /* what the report no longer lists (not what the state could not keep) */
    for (size_t i = 0; i < x->prev->threats.len; i++) {
        const mdf_fstate_threat *p = &MDF_VEC_AT(&x->prev->threats, mdf_fstate_threat, i);
        size_t k;
        if (!mdf_strmap_get(&seen, p->uid, strlen(p->uid), &k))
            gone(x, p);
    }
    rc = MDF_OK;
cleanup:
    if (rc != MDF_OK)
        mdf_seterr(err, errsz, "out of memory");
    mdf_strmap_free(&seen);
    mdf_strmap_free(&old);
    free(uids);
    return rc;
}

/* ---- the node's own ticket ---------------------------------------------------------- */

static void failure_ticket(run *x, const mdf_fstate_failure *f, const mdf_ticket_life *life,
                           int64_t *counter)
{
    char key[MDF_UUID_STRSZ], id[MDF_UUID_STRSZ];
    mdf_ticket_node_key(x->n, key);
    int rc =
        mdf_ticket_node_failure(x->n, f->kind, f->reason[0] ? f->reason : NULL, life, &x->rec, id);
    if (rc == MDF_OK)
        (*counter)++;
    send(x, MDF_RESULT_TICKET, key, rc, id);
}

static void node_failed(run *x, const mdf_outcome *o)
{
    const mdf_fstate_failure *p = &x->prev->failure;
    mdf_fstate_failure *f = &x->next->failure;
    const char *kind = siem_failure_of(o);
    char ck[CHANGE_KEY_MAX];
    f->active = true;
    cut_copy(f->kind, kind, sizeof f->kind);
    cut_copy(f->reason, siem_nz(o->reason), sizeof f->reason);
    f->first_seen_ms = p->active ? p->first_seen_ms : x->n->time_ms;
    f->last_seen_ms = x->n->time_ms;
    f->occurrences = (p->active ? p->occurrences : 0) + 1;
    mdf_ticket_life life = {.state = MDF_TICKET_OPEN,
                            .first_seen_ms = f->first_seen_ms,
                            .last_seen_ms = f->last_seen_ms,
                            .occurrences = f->occurrences};
    if (!p->active) {
        life.change_key = job_change(ck, "open", x->n);
        failure_ticket(x, f, &life, &x->counts->tickets_opened);
    } else if (strcmp(p->kind, f->kind) != 0 || x->mode == MDF_RESULTS_SNAPSHOT) {
        /* the same ticket, failing another way now */
        life.change_key = job_change(ck, "update", x->n);
        failure_ticket(x, f, &life, &x->counts->tickets_updated);
    }
}

static void node_recovered(run *x)
{
    const mdf_fstate_failure *p = &x->prev->failure;
    if (!p->active)
        return;
    char ck[CHANGE_KEY_MAX];
    mdf_ticket_life life = {.state = MDF_TICKET_RESOLVED,
                            .first_seen_ms = p->first_seen_ms,
                            .last_seen_ms = p->last_seen_ms,
                            .occurrences = p->occurrences,
                            .resolution = "scanned successfully",
                            .change_key = job_change(ck, "resolved", x->n)};
    failure_ticket(x, p, &life, &x->counts->tickets_resolved);
}

void mdf_results_over_cap_warning(const mdf_results_counts *c, char *out, size_t outsz)
{
    if (!outsz)
        return;
    out[0] = '\0';
    if (c->threats_over_cap > 0)
        snprintf(out, outsz,
                 "%lld new threats over the cap of %d per node and task: no finding or ticket "
                 "for them this time (they are new again next time)",
                 (long long)c->threats_over_cap, MDF_RESULTS_MAX_NEW_THREATS);
}

int mdf_results_apply(const mdf_node_ctx *n, const mdf_report *rep, const mdf_outcome *o,
                      mdf_results_mode mode, const mdf_fstate *prev, mdf_fstate *next,
                      const mdf_results_sink *sink, mdf_results_counts *counts, char *err,
                      size_t errsz)
{
    run x = {.n = n, .mode = mode, .prev = prev, .next = next, .sink = sink, .counts = counts};
    int rc = MDF_OK;
    memset(counts, 0, sizeof *counts);
    mdf_buf_init(&x.rec, OUT_MAX);
    if (!o->succeeded || !rep) {
        /* nothing is known about the findings: they stay as they were */
        rc = mdf_fstate_copy(next, prev, err, errsz);
        memset(&next->failure, 0, sizeof next->failure);
        if (rc == MDF_OK)
            node_failed(&x, o);
        goto cleanup;
    }
    scans(&x, rep);
    rc = threats(&x, rep, err, errsz);
    if (rc == MDF_OK)
        node_recovered(&x);
cleanup:
    mdf_buf_free(&x.rec);
    return rc;
}
