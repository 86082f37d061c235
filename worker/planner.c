/* The planner: a scan job becomes per-node tasks (GET the cluster, check
 * its enforcement level, scanRuntime, list the machines); an enforcement
 * change becomes a PATCH followed and confirmed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "names.h"
#include "records.h"
#include "resource_id.h"
#include "role.h"
#include "strmap.h" /* mdf_hash_bytes */

/* Job ids this worker has taken, remembered so that the same job published
 * twice is taken once. */
/* the structured fields of a job's log lines (log.h) */
#define PLAN_FIELDS(pl) MDF_FIELDS("job_id", (pl)->job_id, "cluster", (pl)->cluster)
#define SEEN_JOBS 4096

typedef struct seen_job {
    char id[64];         /* a job id (the codec checks it is a UUID) */
    uint64_t value_hash; /* of the request's bytes */
} seen_job;

typedef struct planner {
    const mdf_role_env *env;
    int limit_time_seconds; /* extract.limit_time_seconds, for jobs without one */
    mdf_metric *jobs_finished;
    seen_job seen[SEEN_JOBS]; /* a ring: the oldest is forgotten first */
    size_t n_seen;
} planner;

typedef struct plan {
    planner *p;
    json_object *rec; /* the decoded request */
    char job_id[64], sub[64], rg[128], cluster[64], mrg[128];
    char location[64];        /* the cluster's Azure region, once read */
    json_object *output;      /* the Planned status's "output" (owned), once the cluster is read */
    json_object *scan_action; /* its "scan_action" (owned), when the cluster reports one */
    char cluster_id[MDF_RID_MAX];
    char previous_level[16];
    bool enforce;
    /* sent once Planned is delivered (see on_machines): the node tasks with
     * their keys (machine resource ids), and the outcomes of nodes the
     * cluster does not have */
    json_object *tasks, *task_keys, *missing;
    size_t count;
} plan;

static void plan_free(void *state)
{
    plan *pl = state;
    json_object_put(pl->rec);
    json_object_put(pl->output);
    json_object_put(pl->scan_action);
    json_object_put(pl->tasks);
    json_object_put(pl->task_keys);
    json_object_put(pl->missing);
    free(pl);
}

/* ---- the same job twice ------------------------------------------------------ */

/* Whether job_id was taken here before: 0 no (it is remembered now), 1 the
 * same request again, -1 another request under the same id. Jobs are few:
 * a scan of the ring costs less than keeping an index in step with it. */
static int seen_before(planner *p, const char *job_id, const mdf_msg *m)
{
    uint64_t h = mdf_hash_bytes(m->value, m->value_len);
    size_t n = p->n_seen < SEEN_JOBS ? p->n_seen : SEEN_JOBS;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->seen[i].id, job_id) == 0)
            return p->seen[i].value_hash == h ? 1 : -1;
    }
    seen_job *s = &p->seen[p->n_seen++ % SEEN_JOBS];
    mdf_strlcpy(s->id, job_id, sizeof s->id);
    s->value_hash = h;
    return 0;
}

/* ---- shared steps ---------------------------------------------------------------- */

static const char *job_kind(const plan *pl);

static void emit_status(mdf_request *r, json_object *s, const char *event_id)
{
    plan *pl = mdf_req_state(r);
    const char *kind = mdf_jstr(s, "kind");
    if (strcmp(kind, "Terminal") == 0 || strcmp(kind, "EnforcementResult") == 0)
        mdf_metric_inc(pl->p->jobs_finished, (const char *[]){job_kind(pl), mdf_jstr(s, "status")},
                       1);
    mdf_req_emit_avro(r, MDF_TOPIC_JOB_STATUS, MDF_REC_JOB_STATUS, s, pl->job_id, event_id);
    json_object_put(s);
}

static const char *job_kind(const plan *pl)
{
    return pl->enforce ? "Enforcement" : "Scan";
}

/* The job cannot go on: one terminal status with the reason, and the
 * request to the DLQ when it can never succeed as written. */
static void fail_job(mdf_request *r, const char *reason, bool dead_letter)
{
    plan *pl = mdf_req_state(r);
    char id[MDF_UUID_STRSZ];
    json_object *s;
    mdf_warn_f(PLAN_FIELDS(pl), "job %s failed: %s", pl->job_id, reason);
    if (pl->enforce) {
        s = mdf_rec_job_status(pl->job_id, job_kind(pl), pl->cluster_id, "EnforcementResult", "",
                               id);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "requested_level",
                               json_object_new_string(mdf_jstr(pl->rec, "level")));
        json_object_object_add(e, "confirmed_level", NULL);
        json_object_object_add(e, "previous_level",
                               pl->previous_level[0] ? json_object_new_string(pl->previous_level)
                                                     : NULL);
        json_object_object_add(s, "enforcement", e);
    } else {
        s = mdf_rec_job_status(pl->job_id, job_kind(pl), pl->cluster_id, "Terminal", "", id);
    }
    json_object_object_add(s, "status", json_object_new_string("Failed"));
    json_object_object_add(s, "reason", json_object_new_string(reason));
    emit_status(r, s, id);
    if (dead_letter)
        mdf_req_dead_letter(r, reason);
    else
        mdf_req_finish(r);
}

/* A request naming what Azure does not have, or refusing us, cannot succeed. */
static bool permanent(const mdf_arm_error *e)
{
    return e->code == MDF_ARM_E_NOT_FOUND || e->code == MDF_ARM_E_BAD_REQUEST ||
           e->code == MDF_ARM_E_AUTH;
}

static void fail_arm(mdf_request *r, const char *what, const mdf_arm_error *e)
{
    char reason[1200];
    snprintf(reason, sizeof reason, "%s: %s: %s", what, mdf_arm_errcode_name(e->code), e->message);
    fail_job(r, reason, permanent(e));
}

static bool names_ok(mdf_request *r)
{
    plan *pl = mdf_req_state(r);
    char reason[300];
    const char *bad = !mdf_valid_subscription(pl->sub)                   ? "subscription_id"
                      : !mdf_valid_resource_group(pl->rg)                ? "resource_group"
                      : !mdf_valid_cluster_name(pl->cluster)             ? "cluster"
                      : pl->mrg[0] && !mdf_valid_resource_group(pl->mrg) ? "managed_resource_group"
                                                                         : NULL;
    if (!bad)
        return true;
    snprintf(reason, sizeof reason, "invalid %s (does not match the API's pattern)", bad);
    fail_job(r, reason, true);
    return false;
}

/* Decodes r as record type rt and sets up its plan; false when r was
 * already answered (dead-lettered, or a duplicate). */
static bool plan_start(planner *p, mdf_request *r, mdf_rec_type rt)
{
    json_object *rec = mdf_req_decode(r, rt);
    if (!rec)
        return false;
    plan *pl = calloc(1, sizeof *pl);
    if (!pl) {
        json_object_put(rec);
        mdf_req_dead_letter(r, "out of memory");
        return false;
    }
    pl->p = p;
    pl->rec = rec;
    pl->enforce = rt == MDF_REC_ENFORCEMENT_CHANGE;
    mdf_req_set_state(r, pl, plan_free);
    mdf_strlcpy(pl->job_id, mdf_jstr(rec, pl->enforce ? "request_id" : "job_id"),
                sizeof pl->job_id);
    mdf_strlcpy(pl->sub, mdf_jstr(rec, "subscription_id"), sizeof pl->sub);
    mdf_strlcpy(pl->rg, mdf_jstr(rec, "resource_group"), sizeof pl->rg);
    mdf_strlcpy(pl->cluster, mdf_jstr(rec, "cluster"), sizeof pl->cluster);
    mdf_strlcpy(pl->mrg, mdf_jstr(rec, "managed_resource_group"), sizeof pl->mrg);
    mdf_req_set_correlation(r, pl->job_id);
    mdf_rid_cluster(pl->cluster_id, sizeof pl->cluster_id, pl->sub, pl->rg, pl->cluster);
    const mdf_msg *m = mdf_req_msg(r);
    switch (seen_before(p, pl->job_id, m)) {
    case 1:
        /* a producer's retry or a republished file: one job, one run */
        mdf_warn_f(PLAN_FIELDS(pl), "job %s: the same request again (%s[%d]@%lld) ignored",
                   pl->job_id, mdf_req_env_of(r)->topics[m->topic], (int)m->partition,
                   (long long)m->offset);
        mdf_req_finish(r);
        return false;
    case -1: {
        char reason[200];
        snprintf(reason, sizeof reason,
                 "job id %.64s already names another request: a job id is used once", pl->job_id);
        mdf_req_dead_letter(r, reason);
        return false;
    }
    default:
        break;
    }
    char id[MDF_UUID_STRSZ];
    emit_status(r, mdf_rec_job_status(pl->job_id, job_kind(pl), pl->cluster_id, "Accepted", "", id),
                id);
    return names_ok(r);
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
    json_object_object_add(t, "location",
                           pl->location[0] ? json_object_new_string(pl->location) : NULL);
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

/* A node named twice is one node (else the job would wait for an outcome
 * that never comes). */
static void drop_repeated_nodes(json_object *wanted)
{
    size_t n = wanted ? json_object_array_length(wanted) : 0;
    for (size_t i = 1; i < n;) {
        const char *name = json_object_get_string(json_object_array_get_idx(wanted, i));
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(json_object_get_string(json_object_array_get_idx(wanted, k)), name) == 0;
        if (seen) {
            json_object_array_del_idx(wanted, i, 1);
            n--;
        } else {
            i++;
        }
    }
}

/* Planned is in the topic and the request's offset is committed: the
 * tasks can go. The tracker relies on the first (tracker.c): no outcome of
 * a job comes before its Planned. The commit makes the tasks at most
 * once: a planner that crashed after sending them would plan the job
 * again, and its second Accepted could come after the job had ended and
 * open it anew. A crash between the commit and the tasks leaves the job
 * to time out instead, still with one terminal status. */
static void send_tasks(mdf_request *r)
{
    plan *pl = mdf_req_state(r);
    size_t n = json_object_array_length(pl->tasks);
    for (size_t i = 0; i < n; i++)
        mdf_req_emit_avro(r, MDF_TOPIC_NODE_TASKS, MDF_REC_NODE_TASK,
                          json_object_array_get_idx(pl->tasks, i),
                          json_object_get_string(json_object_array_get_idx(pl->task_keys, i)),
                          mdf_jstr(json_object_array_get_idx(pl->tasks, i), "task_id"));
    n = json_object_array_length(pl->missing);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_get(json_object_array_get_idx(pl->missing, i));
        char id[MDF_UUID_STRSZ];
        mdf_strlcpy(id, mdf_jstr(o, "event_id"), sizeof id);
        emit_status(r, o, id);
    }
    mdf_info_f(PLAN_FIELDS(pl), "job %s planned: %zu nodes", pl->job_id, pl->count);
    mdf_req_finish(r);
}

static void on_machines(void *arg, const mdf_arm_error *e, const mdf_bmm *bmms, size_t n)
{
    mdf_request *r = arg;
    plan *pl = mdf_req_state(r);
    char id[MDF_UUID_STRSZ];
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "listing bare-metal machines", e);
        return;
    }
    json_object *wanted = NULL;
    json_object_object_get_ex(pl->rec, "nodes", &wanted);
    drop_repeated_nodes(wanted);
    size_t n_wanted = wanted ? json_object_array_length(wanted) : 0;
    size_t count = n_wanted ? n_wanted : n;
    int limit = (int)json_object_get_int(json_object_object_get(pl->rec, "limit_time_seconds"));
    if (limit < MDF_EXTRACT_LIMIT_MIN || limit > MDF_EXTRACT_LIMIT_MAX)
        limit = pl->p->limit_time_seconds;
    if (count == 0) {
        fail_job(r, "the managed resource group has no bare-metal machines", false);
        return;
    }
    if (count > MDF_MAX_NODES_PER_JOB) {
        char reason[200];
        snprintf(reason, sizeof reason,
                 "the cluster has %zu bare-metal machines, more than %d in one job: name the "
                 "nodes, in several jobs",
                 count, MDF_MAX_NODES_PER_JOB);
        fail_job(r, reason, false);
        return;
    }
    pl->tasks = json_object_new_array_ext((int)count);
    pl->task_keys = json_object_new_array_ext((int)count);
    pl->missing = json_object_new_array();
    if (!pl->tasks || !pl->task_keys || !pl->missing) {
        mdf_req_dead_letter(r, "out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name =
            n_wanted ? json_object_get_string(json_object_array_get_idx(wanted, i)) : bmms[i].name;
        const mdf_bmm *b = n_wanted ? find_machine(bmms, n, name) : &bmms[i];
        if (!b) {
            /* asked for a machine the cluster does not have: that node fails */
            char reason[300];
            snprintf(reason, sizeof reason, "no bare-metal machine named %.80s in %.100s", name,
                     pl->mrg);
            mdf_node_result res = {.node = name, .failure = "Other", .reason = reason};
            json_object_array_add(pl->missing,
                                  mdf_rec_node_outcome(pl->job_id, pl->cluster_id, &res, id));
            continue;
        }
        json_object_array_add(pl->tasks, node_task(pl, b, limit, id));
        json_object_array_add(pl->task_keys, json_object_new_string(b->id));
    }
    pl->count = count;
    json_object *s = mdf_rec_job_status(pl->job_id, "Scan", pl->cluster_id, "Planned", "", id);
    json_object_object_add(s, "node_count", json_object_new_int((int)count));
    json_object_object_add(s, "output", json_object_get(pl->output));
    json_object_object_add(s, "scan_action", json_object_get(pl->scan_action));
    emit_status(r, s, id);
    mdf_req_when_committed(r, send_tasks);
}

static json_object *str_or_null(const char *s)
{
    return s && *s ? json_object_new_string(s) : NULL;
}

/* An ARM time as epoch ms for the record, or null. */
static json_object *time_or_null(const char *rfc3339)
{
    int64_t ms;
    return rfc3339[0] && mdf_time_parse_rfc3339(rfc3339, &ms) == 0 ? json_object_new_int64(ms)
                                                                   : NULL;
}

/* Where the job's results will be: the customer's container (account and
 * container only: a URL's query stays out of records and logs) or the
 * deprecated Cluster Manager storage. */
static json_object *output_of(const plan *pl, const mdf_cluster *c)
{
    json_object *o = json_object_new_object();
    const mdf_output_settings *s = &c->output;
    if (!s->set) {
        mdf_warn_f(PLAN_FIELDS(pl),
                   "job %s: cluster %s writes extract results to the Cluster Manager's storage "
                   "account, which is deprecated: point commandOutputSettings at a container of "
                   "your own storage account",
                   pl->job_id, pl->cluster);
        json_object_object_add(o, "mode", json_object_new_string("ClusterManager"));
        return o;
    }
    char err[MDF_ERRSZ], account[64] = "", container[64] = "", identity[600];
    mdf_url_parts u;
    if (mdf_url_parse(s->container_url, &u, err, sizeof err) == MDF_OK)
        mdf_blob_location(&u, account, sizeof account, container, sizeof container);
    snprintf(identity, sizeof identity, "%s%s%s", s->identity_type,
             s->identity_type[0] && s->identity_id[0] ? " " : "", s->identity_id);
    json_object_object_add(o, "mode", json_object_new_string("CustomerStorage"));
    json_object_object_add(o, "account", str_or_null(account));
    json_object_object_add(o, "container", str_or_null(container));
    json_object_object_add(o, "identity", str_or_null(identity));
    mdf_info_f(PLAN_FIELDS(pl), "job %s: results in storage account %s, container %s%s", pl->job_id,
               account, container, s->overridden ? " (the data extracts' override)" : "");
    return o;
}

/* After the scan: what the cluster says of it (actionStates, from API
 * 2025-09-01). A Failed scan fails the job with the cluster's message. */
static void on_scan_state(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    mdf_request *r = arg;
    plan *pl = mdf_req_state(r);
    const mdf_az *az = pl->p->env->az;
    char err[MDF_ERRSZ], reason[700];
    const mdf_action_state *a =
        e->code == MDF_ARM_OK ? mdf_cluster_action(c, MDF_ACTION_TYPE_SCAN_RUNTIME) : NULL;
    if (e->code != MDF_ARM_OK)
        /* the scan itself succeeded: go on without its action state */
        mdf_warn_f(PLAN_FIELDS(pl), "job %s: reading the cluster after the scan: %s: %s",
                   pl->job_id, mdf_arm_errcode_name(e->code), e->message);
    if (a) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "status", json_object_new_string(a->status));
        json_object_object_add(s, "message", str_or_null(a->message));
        json_object_object_add(s, "correlation_id", str_or_null(a->correlation_id));
        json_object_object_add(s, "start_time", time_or_null(a->start_time));
        json_object_object_add(s, "end_time", time_or_null(a->end_time));
        pl->scan_action = s;
        if (strcasecmp(a->status, "Failed") == 0) {
            snprintf(reason, sizeof reason, "the cluster's scan failed: %s",
                     a->message[0] ? a->message : "no message");
            fail_job(r, reason, false);
            return;
        }
    }
    if (az->list_bmms(az->ctx, pl->sub, pl->mrg, on_machines, r, err, sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

static void on_scan(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    mdf_request *r = arg;
    plan *pl = mdf_req_state(r);
    const mdf_az *az = pl->p->env->az;
    char err[MDF_ERRSZ];
    (void)st;
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, MDF_ACTION_SCAN_RUNTIME, e);
        return;
    }
    if (az->get_cluster(az->ctx, pl->sub, pl->rg, pl->cluster, on_scan_state, r, err, sizeof err) !=
        MDF_OK)
        fail_job(r, err, true);
}

static void on_cluster(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    mdf_request *r = arg;
    plan *pl = mdf_req_state(r);
    const mdf_az *az = pl->p->env->az;
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
    mdf_strlcpy(pl->location, c->location, sizeof pl->location);
    pl->output = output_of(pl, c);
    if (az->scan_runtime(az->ctx, pl->sub, pl->rg, pl->cluster, on_scan, r, err, sizeof err) !=
        MDF_OK)
        fail_job(r, err, true);
}

static void scan_job(planner *p, mdf_request *r)
{
    char err[MDF_ERRSZ];
    if (!plan_start(p, r, MDF_REC_SCAN_JOB))
        return;
    plan *pl = mdf_req_state(r);
    json_object *nodes = NULL;
    json_object_object_get_ex(pl->rec, "nodes", &nodes);
    if (nodes && json_object_array_length(nodes) > MDF_MAX_NODES_PER_JOB) {
        char reason[200];
        snprintf(reason, sizeof reason, "the job names %zu nodes, more than %d: split it",
                 json_object_array_length(nodes), MDF_MAX_NODES_PER_JOB);
        fail_job(r, reason, true);
        return;
    }
    mdf_info_f(PLAN_FIELDS(pl), "job %s: scan of %s", pl->job_id, pl->cluster_id);
    if (p->env->az->get_cluster(p->env->az->ctx, pl->sub, pl->rg, pl->cluster, on_cluster, r, err,
                                sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

/* ---- enforcement changes --------------------------------------------------------- */

static void on_enforced(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    mdf_request *r = arg;
    plan *pl = mdf_req_state(r);
    char id[MDF_UUID_STRSZ];
    const char *want = mdf_jstr(pl->rec, "level");
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "updating the enforcement level", e);
        return;
    }
    bool ok = strcmp(c->enforcement_level, want) == 0;
    json_object *s =
        mdf_rec_job_status(pl->job_id, "Enforcement", pl->cluster_id, "EnforcementResult", "", id);
    json_object *en = json_object_new_object();
    json_object_object_add(en, "requested_level", json_object_new_string(want));
    json_object_object_add(en, "confirmed_level",
                           c->enforcement_level[0] ? json_object_new_string(c->enforcement_level)
                                                   : NULL);
    json_object_object_add(en, "previous_level",
                           pl->previous_level[0] ? json_object_new_string(pl->previous_level)
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
    mdf_info_f(PLAN_FIELDS(pl), "job %s: enforcement %s -> %s: %s", pl->job_id, pl->previous_level,
               want, ok ? "confirmed" : "not confirmed");
    mdf_req_finish(r);
}

static void on_before(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    mdf_request *r = arg;
    plan *pl = mdf_req_state(r);
    const mdf_az *az = pl->p->env->az;
    char err[MDF_ERRSZ];
    if (e->code != MDF_ARM_OK) {
        fail_arm(r, "reading the cluster", e);
        return;
    }
    mdf_strlcpy(pl->previous_level, c->enforcement_level, sizeof pl->previous_level);
    if (az->set_enforcement(az->ctx, pl->sub, pl->rg, pl->cluster, mdf_jstr(pl->rec, "level"),
                            on_enforced, r, err, sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

static void enforcement(planner *p, mdf_request *r)
{
    char err[MDF_ERRSZ];
    if (!plan_start(p, r, MDF_REC_ENFORCEMENT_CHANGE))
        return;
    plan *pl = mdf_req_state(r);
    if (p->env->az->get_cluster(p->env->az->ctx, pl->sub, pl->rg, pl->cluster, on_before, r, err,
                                sizeof err) != MDF_OK)
        fail_job(r, err, true);
}

/* ---- the role ---------------------------------------------------------------------- */

static int planner_init(const mdf_role_env *env, void **self, char *err, size_t errsz)
{
    planner *p = calloc(1, sizeof *p);
    if (!p)
        return mdf_seterr(err, errsz, "out of memory");
    p->env = env;
    p->limit_time_seconds = (int)mdf_config_get_int(env->cfg, "extract.limit_time_seconds");
    if (mdf_metrics_add(env->metrics, &mdf_jobs_finished_def, &p->jobs_finished, err, errsz) !=
        MDF_OK) {
        free(p);
        return MDF_ERR;
    }
    *self = p;
    return MDF_OK;
}

static void planner_on_message(void *self, mdf_request *r)
{
    if (mdf_req_msg(r)->topic == MDF_TOPIC_ENFORCE)
        enforcement(self, r);
    else
        scan_job(self, r);
}

static void planner_fini(void *self)
{
    planner *p = self;
    free(p);
}

const mdf_role mdf_role_planner = {
    .name = "planner",
    .topics = {MDF_TOPIC_SCAN_JOBS, MDF_TOPIC_ENFORCE},
    .n_topics = 2,
    .holds_slot = true,
    .init = planner_init,
    .on_message = planner_on_message,
    .fini = planner_fini,
};
