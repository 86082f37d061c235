/* The tracker: node outcomes by job -> exactly one terminal status per
 * job. A job's status messages stay unfinished (their offsets unstored)
 * until its terminal status has come back through the topic, so a tracker
 * that dies mid-job is replaced by one that replays the job's statuses and
 * reaches the same terminal status (with the same event id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "strmap.h"
#include "clock.h"
#include "worker.h"

#define MAX_OPEN_JOBS 100000
#define ENDED_JOBS 4096 /* recently ended jobs remembered, for late copies */

typedef struct job {
    char id[64];
    char kind[16];          /* Scan | Enforcement */
    char cluster_id[512];
    int node_count;         /* -1 until Planned */
    json_object *outcomes;  /* array of NodeOutcome, one per node */
    bool terminal_sent;     /* by this tracker, waiting to see it come back */
    int64_t deadline;       /* monotonic ms; 0: not known yet */
    request **reqs;         /* its status messages, unfinished */
    size_t n_reqs, cap_reqs;
} job;

struct tracker {
    mdf_strmap index; /* job id -> slot in jobs */
    job **jobs;
    size_t n_jobs, cap_jobs;
    /* a ring of ended job ids: a status that arrives after its job ended
     * (a task redone at least once) must not open the job again */
    char ended[ENDED_JOBS][40];
    size_t n_ended;
};

static bool job_ended(const struct tracker *t, const char *id)
{
    size_t n = t->n_ended < ENDED_JOBS ? t->n_ended : ENDED_JOBS;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t->ended[i], id) == 0)
            return true;
    }
    return false;
}

int tracker_new(worker *w)
{
    w->trk = calloc(1, sizeof *w->trk);
    if (!w->trk)
        return MDF_ERR;
    mdf_strmap_init(&w->trk->index);
    return MDF_OK;
}

static void job_free(job *j)
{
    json_object_put(j->outcomes);
    free(j->reqs);
    free(j);
}

void tracker_free(worker *w)
{
    struct tracker *t = w->trk;
    if (!t)
        return;
    for (size_t i = 0; i < t->n_jobs; i++) {
        if (t->jobs[i])
            job_free(t->jobs[i]);
    }
    free(t->jobs);
    mdf_strmap_free(&t->index);
    free(t);
    w->trk = NULL;
}

static job *job_get(struct tracker *t, const char *id)
{
    size_t slot;
    if (mdf_strmap_get(&t->index, id, strlen(id), &slot) && t->jobs[slot])
        return t->jobs[slot];
    if (t->n_jobs >= MAX_OPEN_JOBS)
        return NULL;
    if (t->n_jobs == t->cap_jobs) {
        size_t cap = t->cap_jobs ? t->cap_jobs * 2 : 64;
        job **p = realloc(t->jobs, cap * sizeof *p);
        if (!p)
            return NULL;
        t->jobs = p;
        t->cap_jobs = cap;
    }
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    mdf_strlcpy(j->id, id, sizeof j->id);
    j->node_count = -1;
    j->outcomes = json_object_new_array();
    /* the key lives in the job: the slot is emptied, not reused, at the end */
    if (mdf_strmap_put(&t->index, j->id, strlen(j->id), t->n_jobs) != MDF_OK) {
        job_free(j);
        return NULL;
    }
    t->jobs[t->n_jobs++] = j;
    return j;
}

/* The job is done here: finish its messages (their offsets can be stored
 * unless `drop`, for a job that went to another tracker). */
static void job_close(struct tracker *t, job *j, bool drop)
{
    size_t slot;
    if (mdf_strmap_get(&t->index, j->id, strlen(j->id), &slot))
        t->jobs[slot] = NULL;
    if (!drop)
        mdf_strlcpy(t->ended[t->n_ended++ % ENDED_JOBS], j->id, sizeof t->ended[0]);
    for (size_t i = 0; i < j->n_reqs; i++) {
        if (drop)
            j->reqs[i]->lost = true;
        req_finish(j->reqs[i]);
    }
    job_free(j);
    /* compact when mostly empty: ended jobs leave holes */
    size_t live = 0;
    for (size_t i = 0; i < t->n_jobs; i++)
        live += t->jobs[i] != NULL;
    if (t->n_jobs > 64 && live < t->n_jobs / 4) {
        mdf_strmap_free(&t->index);
        mdf_strmap_init(&t->index);
        size_t n = 0;
        for (size_t i = 0; i < t->n_jobs; i++) {
            if (!t->jobs[i])
                continue;
            t->jobs[n] = t->jobs[i];
            mdf_strmap_put(&t->index, t->jobs[n]->id, strlen(t->jobs[n]->id), n);
            n++;
        }
        t->n_jobs = n;
    }
}

static bool has_outcome(job *j, const char *node)
{
    size_t n = json_object_array_length(j->outcomes);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(jstr(json_object_array_get_idx(j->outcomes, i), "node"), node) == 0)
            return true;
    }
    return false;
}

/* Sends the terminal status, carried by request r. */
static void send_terminal(request *r, job *j, const char *forced_status, const char *reason)
{
    size_t n = json_object_array_length(j->outcomes), ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += strcmp(jstr(json_object_array_get_idx(j->outcomes, i), "result"), "Succeeded") == 0;
    const char *status = forced_status         ? forced_status
                         : n > 0 && ok == n    ? "Succeeded"
                         : ok == 0             ? "Failed"
                                               : "PartiallySucceeded";
    char id[MDF_UUID_STRSZ];
    json_object *s = job_status_new(j->id, "Scan", j->cluster_id, "Terminal", id, "");
    json_object_object_add(s, "node_count", j->node_count >= 0 ? json_object_new_int(j->node_count)
                                                               : NULL);
    json_object_object_add(s, "status", json_object_new_string(status));
    json_object_object_add(s, "outcomes", json_object_get(j->outcomes));
    json_object_object_add(s, "reason", reason ? json_object_new_string(reason) : NULL);
    mdf_strlcpy(r->correlation, j->id, sizeof r->correlation);
    req_emit_avro(r, T_JOB_STATUS, MDF_REC_JOB_STATUS, s, j->id, id);
    json_object_put(s);
    j->terminal_sent = true;
    mdf_info("job %s %s: %zu of %d nodes succeeded", j->id, status, ok, j->node_count);
}

void tracker_status(request *r)
{
    worker *w = r->w;
    struct tracker *t = w->trk;
    char err[MDF_ERRSZ];
    json_object *s = NULL;
    if (mdf_codec_decode(w->codec, MDF_REC_JOB_STATUS, r->value, r->value_len, &s, NULL, err,
                         sizeof err) != MDF_OK) {
        req_dead_letter(r, err);
        return;
    }
    if (job_ended(t, jstr(s, "job_id"))) {
        json_object_put(s);
        req_finish(r); /* a late copy of a status of a job that has ended */
        return;
    }
    job *j = job_get(t, jstr(s, "job_id"));
    if (j && j->n_reqs == j->cap_reqs) {
        size_t cap = j->cap_reqs ? j->cap_reqs * 2 : 16;
        request **p = realloc(j->reqs, cap * sizeof *p);
        if (p) {
            j->reqs = p;
            j->cap_reqs = cap;
        }
    }
    if (!j || j->n_reqs == j->cap_reqs) {
        json_object_put(s);
        req_dead_letter(r, "too many open jobs");
        return;
    }
    j->reqs[j->n_reqs++] = r;
    mdf_strlcpy(j->kind, jstr(s, "job_kind"), sizeof j->kind);
    mdf_strlcpy(j->cluster_id, jstr(s, "cluster_id"), sizeof j->cluster_id);
    const char *kind = jstr(s, "kind");
    if (strcmp(kind, "Accepted") == 0) {
        if (!j->deadline)
            j->deadline = mdf_mono_ms() + w->job_timeout_ms;
    } else if (strcmp(kind, "Planned") == 0) {
        j->node_count = json_object_get_int(json_object_object_get(s, "node_count"));
    } else if (strcmp(kind, "NodeOutcome") == 0) {
        json_object *o = json_object_object_get(s, "node_outcome");
        if (o && !has_outcome(j, jstr(o, "node")))
            json_object_array_add(j->outcomes, json_object_get(o));
    } else if (strcmp(kind, "Terminal") == 0 || strcmp(kind, "EnforcementResult") == 0) {
        json_object_put(s);
        job_close(t, j, false);
        return;
    }
    json_object_put(s);
    if (!j->deadline)
        j->deadline = mdf_mono_ms() + w->job_timeout_ms;
    if (!j->terminal_sent && strcmp(j->kind, "Scan") == 0 && j->node_count >= 0 &&
        (int)json_object_array_length(j->outcomes) >= j->node_count)
        send_terminal(r, j, NULL, NULL);
}

void tracker_revoke(worker *w, int32_t partition)
{
    struct tracker *t = w->trk;
    /* closing may compact the table: start over after each one */
    for (size_t i = 0; i < t->n_jobs;) {
        job *j = t->jobs[i];
        /* a job's statuses share one partition (keyed by job id) */
        if (j && j->n_reqs > 0 && j->reqs[0]->partition == partition) {
            job_close(t, j, true);
            i = 0;
        } else {
            i++;
        }
    }
}

void tracker_tick(worker *w)
{
    struct tracker *t = w->trk;
    int64_t now = mdf_mono_ms();
    for (size_t i = 0; i < t->n_jobs; i++) {
        job *j = t->jobs[i];
        if (!j || j->terminal_sent || !j->deadline || now < j->deadline || j->n_reqs == 0 ||
            strcmp(j->kind, "Scan") != 0)
            continue;
        char reason[200];
        snprintf(reason, sizeof reason, "%zu of %d nodes reported within job.timeout_seconds",
                 json_object_array_length(j->outcomes), j->node_count);
        send_terminal(j->reqs[j->n_reqs - 1], j, "TimedOut", reason);
    }
}
