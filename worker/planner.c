/* The planner: a scan job becomes per-node tasks (GET the cluster, check
 * its enforcement level, scanRuntime, list the machines); an enforcement
 * change becomes a PATCH followed and confirmed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm_decode.h"
#include "err.h"
#include "log.h"
#include "clock.h"
#include "worker.h"
#include "names.h"

typedef struct plan {
    json_object *rec; /* the decoded request */
    char job_id[64], sub[64], rg[128], cluster[64], mrg[128];
    char cluster_id[512];
    char previous_level[16];
    bool enforce;
} plan;

static void plan_free(void *p)
{
    plan *pl = p;
    json_object_put(pl->rec);
    free(pl);
}

/* Decodes r as record type rt and checks the names; NULL (r dead-lettered)
 * when that fails. */
static plan *plan_start(request *r, mdf_rec_type rt)
{
    char err[MDF_ERRSZ];
    json_object *rec = NULL;
    plan *pl = calloc(1, sizeof *pl);
    if (!pl) {
        req_dead_letter(r, "out of memory");
        return NULL;
    }
    if (mdf_codec_decode(r->w->codec, rt, r->value, r->value_len, &rec, NULL, err, sizeof err) !=
        MDF_OK) {
        free(pl);
        req_dead_letter(r, err);
        return NULL;
    }
    pl->rec = rec;
    r->state = pl;
    r->free_state = plan_free;
    mdf_strlcpy(pl->job_id, jstr(rec, rt == MDF_REC_SCAN_JOB ? "job_id" : "request_id"),
                sizeof pl->job_id);
    mdf_strlcpy(pl->sub, jstr(rec, "subscription_id"), sizeof pl->sub);
    mdf_strlcpy(pl->rg, jstr(rec, "resource_group"), sizeof pl->rg);
    mdf_strlcpy(pl->cluster, jstr(rec, "cluster"), sizeof pl->cluster);
    mdf_strlcpy(pl->mrg, jstr(rec, "managed_resource_group"), sizeof pl->mrg);
    mdf_strlcpy(r->correlation, pl->job_id, sizeof r->correlation);
    mdf_rid_cluster(pl->cluster_id, sizeof pl->cluster_id, pl->sub, pl->rg, pl->cluster);
    return pl;
}

static void emit_status(request *r, json_object *s, const char *event_id)
{
    plan *pl = r->state;
    req_emit_avro(r, T_JOB_STATUS, MDF_REC_JOB_STATUS, s, pl->job_id, event_id);
    json_object_put(s);
}

static void emit_accepted(request *r)
{
    plan *pl = r->state;
    char id[MDF_UUID_STRSZ];
    emit_status(r, job_status_new(pl->job_id, pl->enforce ? "Enforcement" : "Scan", pl->cluster_id,
                                  "Accepted", id, ""),
                id);
}

/* The job cannot go on: one terminal status with the reason, and the
 * request to the DLQ when it can never succeed as written. */
static void fail_job(request *r, const char *reason, bool dead_letter)
{
    plan *pl = r->state;
    char id[MDF_UUID_STRSZ];
    json_object *s;
    mdf_warn("job %s failed: %s", pl->job_id, reason);
    if (pl->enforce) {
        s = job_status_new(pl->job_id, "Enforcement", pl->cluster_id, "EnforcementResult", id, "");
        json_object *e = json_object_new_object();
        json_object_object_add(e, "requested_level",
                               json_object_new_string(jstr(pl->rec, "level")));
        json_object_object_add(e, "confirmed_level", NULL);
        json_object_object_add(e, "previous_level",
                               pl->previous_level[0] ? json_object_new_string(pl->previous_level)
                                                     : NULL);
        json_object_object_add(s, "enforcement", e);
    } else {
        s = job_status_new(pl->job_id, "Scan", pl->cluster_id, "Terminal", id, "");
    }
    json_object_object_add(s, "status", json_object_new_string("Failed"));
    json_object_object_add(s, "reason", json_object_new_string(reason));
    emit_status(r, s, id);
    if (dead_letter)
        req_dead_letter(r, reason);
    else
        req_finish(r);
}

/* A request naming what Azure does not have, or refusing us, cannot succeed. */
static bool permanent(const mdf_arm_error *e)
{
    return e->code == MDF_ARM_E_NOT_FOUND || e->code == MDF_ARM_E_BAD_REQUEST ||
           e->code == MDF_ARM_E_AUTH;
}

static void fail_arm(request *r, const char *what, const mdf_arm_error *e)
{
    char reason[1200];
    snprintf(reason, sizeof reason, "%s: %s: %s", what, mdf_arm_errcode_name(e->code), e->message);
    fail_job(r, reason, permanent(e));
}

static bool names_ok(request *r)
{
    plan *pl = r->state;
    char reason[300];
    const char *bad = !mdf_valid_subscription(pl->sub)        ? "subscription_id"
                      : !mdf_valid_resource_group(pl->rg)      ? "resource_group"
                      : !mdf_valid_cluster_name(pl->cluster)   ? "cluster"
                      : pl->mrg[0] && !mdf_valid_resource_group(pl->mrg) ? "managed_resource_group"
                                                               : NULL;
    if (!bad)
        return true;
    snprintf(reason, sizeof reason, "invalid %s (does not match the API's pattern)", bad);
    fail_job(r, reason, true);
    return false;
}

/* ---- scan jobs ------------------------------------------------------------------ */

static json_object *node_task(const plan *pl, const mdf_bmm *b, int limit,
                              char event_id[MDF_UUID_STRSZ])
{
    mdf_event_id_of(event_id, pl->job_id, "task", b->name, NULL, NULL, NULL);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "task_id", json_object_new_string(event_id));
    json_object_object_add(t, "job_id", json_object_new_string(pl->job_id));
    json_object_object_add(t, "created_at", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(t, "subscription_id", json_object_new_string(pl->sub));
    json_object_object_add(t, "resource_group", json_object_new_string(pl->rg));
    json_object_object_add(t, "cluster", json_object_new_string(pl->cluster));
    json_object_object_add(t, "managed_resource_group", json_object_new_string(pl->mrg));
    json_object_object_add(t, "node", json_object_new_string(b->name));
    json_object_object_add(t, "machine_name",
                           b->machine_name[0] ? json_object_new_string(b->machine_name) : NULL);
    json_object_object_add(t, "rack_id", b->rack_id[0] ? json_object_new_string(b->rack_id) : NULL);
    json_object_object_add(t, "limit_time_seconds", json_object_new_int(limit));
    json_object_object_add(t, "attempt", json_object_new_int(0));
    return t;
}

static const mdf_bmm *find_machine(const mdf_bmm *b, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(b[i].name, name) == 0 || strcmp(b[i].machine_name, name) == 0)
            return &b[i];
    }
    return NULL;
}

static void on_machines(void *arg, const mdf_arm_error *e, const mdf_bmm *bmms, size_t n)
{
    request *r = arg;
    plan *pl = r->state;
    char id[MDF_UUID_STRSZ];
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "listing bare-metal machines", e);
        return;
    }
    json_object *wanted = NULL;
    json_object_object_get_ex(pl->rec, "nodes", &wanted);
    size_t n_wanted = wanted ? json_object_array_length(wanted) : 0;
    /* a node named twice is one node (else the job would wait for an
     * outcome that never comes) */
    for (size_t i = 1; i < n_wanted;) {
        const char *name = json_object_get_string(json_object_array_get_idx(wanted, i));
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(json_object_get_string(json_object_array_get_idx(wanted, k)), name) == 0;
        if (seen) {
            json_object_array_del_idx(wanted, i, 1);
            n_wanted--;
        } else {
            i++;
        }
    }
    size_t count = n_wanted ? n_wanted : n;
    int limit = (int)json_object_get_int(json_object_object_get(pl->rec, "limit_time_seconds"));
    if (limit < MDF_EXTRACT_LIMIT_MIN || limit > MDF_EXTRACT_LIMIT_MAX)
        limit = r->w->limit_time_seconds;
    if (count == 0) {
        fail_job(r, "the managed resource group has no bare-metal machines", false);
        return;
    }
    json_object *s = job_status_new(pl->job_id, "Scan", pl->cluster_id, "Planned", id, "");
    json_object_object_add(s, "node_count", json_object_new_int((int)count));
    emit_status(r, s, id);
    for (size_t i = 0; i < count; i++) {
        const char *name = n_wanted ? json_object_get_string(json_object_array_get_idx(wanted, i))
                                    : bmms[i].name;
        const mdf_bmm *b = n_wanted ? find_machine(bmms, n, name) : &bmms[i];
        if (!b) {
            /* asked for a machine the cluster does not have: that node fails */
            char reason[300];
            snprintf(reason, sizeof reason, "no bare-metal machine named %.80s in %.100s", name,
                     pl->mrg);
            s = job_status_new(pl->job_id, "Scan", pl->cluster_id, "NodeOutcome", id, name);
            json_object *o = json_object_new_object();
            json_object_object_add(o, "node", json_object_new_string(name));
            json_object_object_add(o, "machine_name", NULL);
            json_object_object_add(o, "result", json_object_new_string("Failed"));
            json_object_object_add(o, "failure", json_object_new_string("Other"));
            json_object_object_add(o, "reason", json_object_new_string(reason));
            json_object_object_add(o, "finished_at", json_object_new_int64(mdf_time_now_ms()));
            json_object_object_add(s, "node_outcome", o);
            emit_status(r, s, id);
            continue;
        }
        json_object *t = node_task(pl, b, limit, id);
        req_emit_avro(r, T_NODE_TASKS, MDF_REC_NODE_TASK, t, b->id, id);
        json_object_put(t);
    }
    mdf_info("job %s planned: %zu nodes", pl->job_id, count);
    req_finish(r);
}

static void on_scan(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    request *r = arg;
    plan *pl = r->state;
    char err[MDF_ERRSZ];
    (void)st;
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "scanRuntime", e);
        return;
    }
    if (mdf_arm_list_bmms(r->w->arm, pl->sub, pl->mrg, on_machines, r, err, sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

static void on_cluster(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    request *r = arg;
    plan *pl = r->state;
    char err[MDF_ERRSZ], reason[300];
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "reading the cluster", e);
        return;
    }
    if (!c->enforcement_level[0] || strcmp(c->enforcement_level, "Disabled") == 0) {
        snprintf(reason, sizeof reason,
                 "runtime protection of cluster %s is Disabled: set an enforcement level first",
                 pl->cluster);
        fail_job(r, reason, false);
        return;
    }
    if (!pl->mrg[0])
        mdf_strlcpy(pl->mrg, c->managed_resource_group, sizeof pl->mrg);
    if (!mdf_valid_resource_group(pl->mrg)) {
        fail_job(r, "the cluster names no valid managed resource group", false);
        return;
    }
    if (mdf_arm_scan_runtime(r->w->arm, pl->sub, pl->rg, pl->cluster, on_scan, r, err,
                             sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

void planner_scan_job(request *r)
{
    char err[MDF_ERRSZ];
    plan *pl = plan_start(r, MDF_REC_SCAN_JOB);
    if (!pl)
        return;
    emit_accepted(r);
    if (!names_ok(r))
        return;
    mdf_info("job %s: scan of %s", pl->job_id, pl->cluster_id);
    if (mdf_arm_get_cluster(r->w->arm, pl->sub, pl->rg, pl->cluster, on_cluster, r, err,
                            sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

/* ---- enforcement changes --------------------------------------------------------- */

static void on_enforced(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    request *r = arg;
    plan *pl = r->state;
    char id[MDF_UUID_STRSZ];
    const char *want = jstr(pl->rec, "level");
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "updating the enforcement level", e);
        return;
    }
    bool ok = strcmp(c->enforcement_level, want) == 0;
    json_object *s = job_status_new(pl->job_id, "Enforcement", pl->cluster_id, "EnforcementResult",
                                    id, "");
    json_object *en = json_object_new_object();
    json_object_object_add(en, "requested_level", json_object_new_string(want));
    json_object_object_add(en, "confirmed_level",
                           c->enforcement_level[0] ? json_object_new_string(c->enforcement_level)
                                                   : NULL);
    json_object_object_add(en, "previous_level", pl->previous_level[0]
                                                     ? json_object_new_string(pl->previous_level)
                                                     : NULL);
    json_object_object_add(s, "enforcement", en);
    json_object_object_add(s, "status", json_object_new_string(ok ? "Succeeded" : "Failed"));
    if (!ok) {
        char reason[200];
        snprintf(reason, sizeof reason, "the cluster reports %s after the update",
                 c->enforcement_level[0] ? c->enforcement_level : "no level");
        json_object_object_add(s, "reason", json_object_new_string(reason));
    }
    emit_status(r, s, id);
    mdf_info("job %s: enforcement %s -> %s: %s", pl->job_id, pl->previous_level, want,
             ok ? "confirmed" : "not confirmed");
    req_finish(r);
}

static void on_before(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    request *r = arg;
    plan *pl = r->state;
    char err[MDF_ERRSZ];
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "reading the cluster", e);
        return;
    }
    mdf_strlcpy(pl->previous_level, c->enforcement_level, sizeof pl->previous_level);
    if (mdf_arm_set_enforcement(r->w->arm, pl->sub, pl->rg, pl->cluster, jstr(pl->rec, "level"),
                                on_enforced, r, err, sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

void planner_enforcement(request *r)
{
    char err[MDF_ERRSZ];
    plan *pl = plan_start(r, MDF_REC_ENFORCEMENT_CHANGE);
    if (!pl)
        return;
    pl->enforce = true;
    emit_accepted(r);
    if (!names_ok(r))
        return;
    if (mdf_arm_get_cluster(r->w->arm, pl->sub, pl->rg, pl->cluster, on_before, r, err,
                            sizeof err) != MDF_OK)
        fail_job(r, err, true);
}
