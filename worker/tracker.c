/* The tracker: node outcomes by job -> exactly one terminal status per
 * job. A job's status messages stay unfinished (their offsets unstored)
 * until its terminal status has come back through the topic, so a tracker
 * that dies mid-job is replaced by one that replays the job's statuses and
 * reaches the same terminal status (with the same event id).
 *
 * The topic itself says which jobs have ended. The planner's statuses
 * (Accepted, Planned) come first in a job's partition: its node tasks are
 * sent only once they are delivered and the scan request is committed
 * (planner.c). They stay unstored until the job's
 * terminal status comes back, so every tracker that takes the partition
 * over reads them again. A status of a job not opened by them is thus of
 * a job that has ended (a task redone after the terminal): it is finished
 * and opens nothing, after any restart or reassignment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "records.h"
#include "resource_id.h"
#include "role.h"
#include "strmap.h"
#include "vec.h"

#define MAX_OPEN_JOBS 100000
#define MAX_JOB_STATUSES (1 << 20) /* a job's messages held; far above 2 per node */
#define ENDED_JOBS 4096            /* ended here, for a planner's rerun of a job (see job_ended) */

typedef struct job {
    char id[64];
    char kind[16]; /* Scan | Enforcement */
    char cluster_id[MDF_RID_MAX];
    int node_count;        /* -1 until Planned */
    int64_t accepted_at;   /* epoch ms: the time of its first status (Accepted) */
    json_object *outcomes; /* array of NodeOutcome, one per node */
    mdf_strmap nodes;      /* node -> outcome; keys are the outcomes' strings */
    bool terminal_sent;    /* by this tracker, waiting to see it come back */
    int64_t deadline;      /* epoch ms: accepted_at + job.timeout_seconds */
    int32_t partition;     /* of all its statuses (keyed by job id) */
    mdf_vec reqs;          /* mdf_request *: its status messages, unfinished */
} job;

typedef struct tracker {
    const mdf_role_env *env;
    int64_t timeout_ms; /* job.timeout_seconds */
    mdf_strmap index;   /* job id -> slot in jobs; keys live in the jobs */
    mdf_vec jobs;       /* job *; NULL where a job ended (compacted now and then) */
    size_t live;
    /* a ring of the ids of jobs ended here: a planner that ran a job again
     * (it stopped after Planned, before the request's offset was committed,
     * so no task had gone) sends Accepted and Planned again; when the job
     * has timed out here meanwhile, they must not open it a second time */
    char ended[ENDED_JOBS][64];
    size_t n_ended;
    mdf_metric *jobs_finished; /* by terminal status */
} tracker;

static job *job_at(const tracker *t, size_t i)
{
    return MDF_VEC_AT(&t->jobs, job *, i);
}

static bool job_ended(const tracker *t, const char *id)
{
    size_t n = t->n_ended < ENDED_JOBS ? t->n_ended : ENDED_JOBS;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t->ended[i], id) == 0)
            return true;
    }
    return false;
}

static void job_free(job *j)
{
    json_object_put(j->outcomes);
    mdf_strmap_free(&j->nodes);
    mdf_vec_free(&j->reqs);
    free(j);
}

static job *job_find(const tracker *t, const char *id)
{
    size_t slot;
    return mdf_strmap_get(&t->index, id, strlen(id), &slot) ? job_at(t, slot) : NULL;
}

/* Opens the job's record at a planner's status s; NULL past MAX_OPEN_JOBS
 * or out of memory. */
static job *job_open(tracker *t, const char *id, int32_t partition, json_object *s)
{
    if (t->live >= MAX_OPEN_JOBS)
        return NULL;
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    mdf_strlcpy(j->id, id, sizeof j->id);
    j->node_count = -1;
    j->partition = partition;
    /* from its acceptance, however many trackers it has been through; a
     * time ahead of this clock (skew) counts from now */
    int64_t now = t->env->now_ms();
    j->accepted_at = json_object_get_int64(json_object_object_get(s, "time"));
    if (j->accepted_at <= 0 || j->accepted_at > now)
        j->accepted_at = now;
    j->deadline = j->accepted_at + t->timeout_ms;
    j->outcomes = json_object_new_array();
    mdf_strmap_init(&j->nodes);
    mdf_vec_init(&j->reqs, sizeof(mdf_request *), MAX_JOB_STATUSES);
    job **jp = mdf_vec_add(&t->jobs);
    /* the key lives in the job: the slot is emptied, not reused, at the end */
    if (!j->outcomes || !jp || mdf_strmap_put(&t->index, j->id, strlen(j->id), t->jobs.len - 1)) {
        if (jp)
            t->jobs.len--;
        job_free(j);
        return NULL;
    }
    *jp = j;
    t->live++;
    return j;
}

/* Ended jobs leave holes; when mostly holes, squeeze them out. */
static void compact(tracker *t)
{
    if (t->jobs.len <= 64 || t->live >= t->jobs.len / 4)
        return;
    mdf_strmap_free(&t->index);
    mdf_strmap_init(&t->index);
    size_t n = 0;
    for (size_t i = 0; i < t->jobs.len; i++) {
        job *j = job_at(t, i);
        if (!j)
            continue;
        MDF_VEC_AT(&t->jobs, job *, n) = j;
        mdf_strmap_put(&t->index, j->id, strlen(j->id), n);
        n++;
    }
    t->jobs.len = n;
}

/* The job is done here: finish its messages (their offsets can be stored)
 * or, when `drop` (the job went to another tracker), drop them. */
static void job_close(tracker *t, job *j, bool drop)
{
    size_t slot;
    if (mdf_strmap_get(&t->index, j->id, strlen(j->id), &slot))
        MDF_VEC_AT(&t->jobs, job *, slot) = NULL;
    /* the key is j's: a stale one would be read after j is freed, and a
     * job of that id opened again would be found twice, or not at all */
    mdf_strmap_del(&t->index, j->id, strlen(j->id));
    t->live--;
    if (!drop)
        mdf_strlcpy(t->ended[t->n_ended++ % ENDED_JOBS], j->id, sizeof t->ended[0]);
    for (size_t i = 0; i < j->reqs.len; i++) {
        mdf_request *r = MDF_VEC_AT(&j->reqs, mdf_request *, i);
        if (drop)
            mdf_req_drop(r);
        else
            mdf_req_finish(r);
    }
    job_free(j);
    compact(t);
}

/* Keeps a job's first outcome per node; later copies (a task redone) are
 * the same node. */
static void add_outcome(job *j, json_object *o)
{
    const char *node = mdf_jstr(o, "node");
    size_t at;
    if (mdf_strmap_get(&j->nodes, node, strlen(node), &at))
        return;
    json_object_array_add(j->outcomes, json_object_get(o));
    /* the key is the copy the array holds, which lives as long as the job */
    mdf_strmap_put(&j->nodes, node, strlen(node), json_object_array_length(j->outcomes) - 1);
}

#define SHORT_REASON 256 /* a node's reason in a terminal status that is too long */

/* The outcomes again, with each reason cut to SHORT_REASON bytes (at a
 * UTF-8 boundary); NULL out of memory. */
static json_object *short_outcomes(json_object *outcomes)
{
    json_object *a = json_object_new_array();
    size_t n = json_object_array_length(outcomes);
    for (size_t i = 0; a && i < n; i++) {
        json_object *o = NULL;
        if (json_object_deep_copy(json_object_array_get_idx(outcomes, i), &o, NULL) != 0) {
            json_object_put(a);
            return NULL;
        }
        const char *why = mdf_jstr(o, "reason");
        size_t len = strlen(why);
        if (len > SHORT_REASON) {
            len = SHORT_REASON;
            while (len > 0 && ((unsigned char)why[len] & 0xC0) == 0x80)
                len--;
            json_object_object_add(o, "reason", json_object_new_string_len(why, (int)len));
        }
        json_object_array_add(a, o);
    }
    return a;
}

/* Sends the terminal status, carried by request r. Its size plan: all the
 * outcomes as they are; if that is over the record cap, their reasons cut
 * short; if still over, none (each node's NodeOutcome status has it all).
 * The plan is said in the terminal's reason. Past that, nothing goes:
 * logged, and the worker stops (mdf_req_emit_avro). */
static void send_terminal(tracker *t, mdf_request *r, job *j, const char *forced_status,
                          const char *reason)
{
    size_t n = json_object_array_length(j->outcomes), ok = 0;
    for (size_t i = 0; i < n; i++)
        ok +=
            strcmp(mdf_jstr(json_object_array_get_idx(j->outcomes, i), "result"), "Succeeded") == 0;
    const char *status = forced_status      ? forced_status
                         : n > 0 && ok == n ? "Succeeded"
                         : ok == 0          ? "Failed"
                                            : "PartiallySucceeded";
    char id[MDF_UUID_STRSZ], err[MDF_ERRSZ], why[400];
    json_object *s = mdf_rec_job_status(j->id, "Scan", j->cluster_id, "Terminal", "", id);
    json_object_object_add(s, "node_count",
                           j->node_count >= 0 ? json_object_new_int(j->node_count) : NULL);
    json_object_object_add(s, "status", json_object_new_string(status));
    json_object_object_add(s, "outcomes", json_object_get(j->outcomes));
    json_object_object_add(s, "reason", reason ? json_object_new_string(reason) : NULL);
    mdf_req_set_correlation(r, j->id);
    int rc = mdf_req_try_emit_avro(r, MDF_TOPIC_JOB_STATUS, MDF_REC_JOB_STATUS, s, j->id, id, err,
                                   sizeof err);
    for (int plan = 1; rc != MDF_OK && plan <= 2; plan++) {
        mdf_warn_f(MDF_FIELDS("job_id", j->id), "job %s: terminal status of %zu outcomes: %s",
                   j->id, n, err);
        json_object *smaller = plan == 1 ? short_outcomes(j->outcomes) : json_object_new_array();
        if (plan == 1)
            snprintf(why, sizeof why, "%s%snode reasons cut to %d bytes to fit the record",
                     reason ? reason : "", reason ? "; " : "", SHORT_REASON);
        else
            snprintf(why, sizeof why,
                     "%s%soutcomes left out to fit the record: see each node's NodeOutcome",
                     reason ? reason : "", reason ? "; " : "");
        json_object_object_add(s, "outcomes", smaller);
        json_object_object_add(s, "reason", json_object_new_string(why));
        if (plan == 2) {
            mdf_req_emit_avro(r, MDF_TOPIC_JOB_STATUS, MDF_REC_JOB_STATUS, s, j->id, id);
            rc = MDF_OK;
        } else {
            rc = mdf_req_try_emit_avro(r, MDF_TOPIC_JOB_STATUS, MDF_REC_JOB_STATUS, s, j->id, id,
                                       err, sizeof err);
        }
    }
    json_object_put(s);
    j->terminal_sent = true;
    mdf_metric_inc(t->jobs_finished, (const char *[]){"Scan", status}, 1);
    mdf_info_f(MDF_FIELDS("job_id", j->id), "job %s %s: %zu of %d nodes succeeded", j->id, status,
               ok, j->node_count);
}

static void tracker_on_message(void *self, mdf_request *r)
{
    tracker *t = self;
    json_object *s = mdf_req_decode(r, MDF_REC_JOB_STATUS);
    if (!s)
        return;
    const char *job_id = mdf_jstr(s, "job_id");
    if (job_ended(t, job_id)) {
        json_object_put(s);
        mdf_req_finish(r); /* a late copy of a status of a job that has ended */
        return;
    }
    const char *kind = mdf_jstr(s, "kind");
    job *j = job_find(t, job_id);
    if (!j && strcmp(kind, "Accepted") != 0 && strcmp(kind, "Planned") != 0) {
        mdf_debug_f(MDF_FIELDS("job_id", job_id), "job %s: a late %s of a job that has ended",
                    job_id, kind);
        json_object_put(s);
        mdf_req_finish(r);
        return;
    }
    if (!j)
        j = job_open(t, job_id, mdf_req_msg(r)->partition, s);
    if (!j || mdf_vec_push(&j->reqs, &r) != 0) {
        json_object_put(s);
        mdf_req_dead_letter(r, j ? "too many statuses for one job" : "too many open jobs");
        return;
    }
    mdf_strlcpy(j->kind, mdf_jstr(s, "job_kind"), sizeof j->kind);
    mdf_strlcpy(j->cluster_id, mdf_jstr(s, "cluster_id"), sizeof j->cluster_id);
    if (strcmp(kind, "Planned") == 0) {
        j->node_count = json_object_get_int(json_object_object_get(s, "node_count"));
    } else if (strcmp(kind, "NodeOutcome") == 0) {
        json_object *o = json_object_object_get(s, "node_outcome");
        if (o)
            add_outcome(j, o);
    } else if (strcmp(kind, "Terminal") == 0 || strcmp(kind, "EnforcementResult") == 0) {
        json_object_put(s);
        job_close(t, j, false);
        return;
    }
    json_object_put(s);
    if (!j->terminal_sent && strcmp(j->kind, "Scan") == 0 && j->node_count >= 0 &&
        (int)json_object_array_length(j->outcomes) >= j->node_count)
        send_terminal(t, r, j, NULL, NULL);
}

static void tracker_on_revoke(void *self, mdf_topic topic, int32_t partition)
{
    tracker *t = self;
    if (topic != MDF_TOPIC_JOB_STATUS)
        return;
    /* closing may compact the table: start over after each one */
    for (size_t i = 0; i < t->jobs.len;) {
        job *j = job_at(t, i);
        if (j && j->partition == partition) {
            job_close(t, j, true);
            i = 0;
        } else {
            i++;
        }
    }
}

/* Times jobs out. */
static void tracker_on_tick(void *self)
{
    tracker *t = self;
    int64_t now = t->env->now_ms();
    for (size_t i = 0; i < t->jobs.len; i++) {
        job *j = job_at(t, i);
        if (!j || j->terminal_sent || now < j->deadline || j->reqs.len == 0 ||
            strcmp(j->kind, "Scan") != 0)
            continue;
        char reason[200];
        if (j->node_count < 0)
            snprintf(reason, sizeof reason, "not planned within job.timeout_seconds");
        else
            snprintf(reason, sizeof reason, "%zu of %d nodes reported within job.timeout_seconds",
                     json_object_array_length(j->outcomes), j->node_count);
        send_terminal(t, MDF_VEC_AT(&j->reqs, mdf_request *, j->reqs.len - 1), j, "TimedOut",
                      reason);
    }
}

static void tracker_fini(void *self);

static int tracker_init(const mdf_role_env *env, void **self, char *err, size_t errsz)
{
    tracker *t = calloc(1, sizeof *t);
    if (!t)
        return mdf_seterr(err, errsz, "out of memory");
    t->env = env;
    t->timeout_ms = mdf_config_get_int(env->cfg, "job.timeout_seconds") * 1000;
    mdf_strmap_init(&t->index);
    /* room for the holes that ended jobs leave until compact() runs */
    mdf_vec_init(&t->jobs, sizeof(job *), 4 * (size_t)MAX_OPEN_JOBS);
    if (mdf_metrics_add(env->metrics, &mdf_jobs_finished_def, &t->jobs_finished, err, errsz) !=
        MDF_OK) {
        tracker_fini(t);
        return MDF_ERR;
    }
    *self = t;
    return MDF_OK;
}

/* Open jobs' requests belong to the loop, which frees them. */
static void tracker_fini(void *self)
{
    tracker *t = self;
    if (!t)
        return;
    for (size_t i = 0; i < t->jobs.len; i++) {
        if (job_at(t, i))
            job_free(job_at(t, i));
    }
    mdf_vec_free(&t->jobs);
    mdf_strmap_free(&t->index);
    free(t);
}

const mdf_role mdf_role_tracker = {
    .name = "tracker",
    .topics = {MDF_TOPIC_JOB_STATUS},
    .n_topics = 1,
    .holds_slot = false,
    .init = tracker_init,
    .on_message = tracker_on_message,
    .on_revoke = tracker_on_revoke,
    .on_tick = tracker_on_tick,
    .fini = tracker_fini,
};
