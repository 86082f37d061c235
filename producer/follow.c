#include "follow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "arm.h"
#include "clock.h"
#include "err.h"
#include "eventid.h"
#include "kafka_consumer.h"
#include "kafka_log.h"
#include "kafka_producer.h"
#include "strmap.h"
#include "vec.h"

#define SETUP_TIMEOUT_MS 15000 /* metadata and watermarks, all partitions */
#define POLL_MS 200            /* how often SIGINT and the deadline are looked at */
#define MAX_SEEN (1 << 20)     /* event ids remembered for de-duplication */
#define BAR_MAX 40             /* one bar character per node up to this many */

typedef enum { ST_RUNNING, ST_SUCCEEDED, ST_PARTLY, ST_FAILED, ST_TIMED_OUT } job_state;

typedef struct job {
    char id[MDF_UUID_STRSZ];
    bool scan;
    bool accepted;
    job_state state;
    int64_t node_count; /* -1 until Planned */
    int nodes_done, nodes_failed;
    /* nodes with an outcome: a node reported twice (a task redone after a
     * worker died) counts once. Keys are owned by node_names. */
    mdf_strmap nodes;
    mdf_vec node_names; /* char *, one cluster's machines: MDF_ARM_MAX_MACHINES */
} job;

struct follow {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *queue;
    char topic[256];
    int32_t partitions;
    bool started;     /* some partition was consume_start()ed: stop them all */
    mdf_vec jobs;     /* job; all of it allocated at once, so that it never moves */
    mdf_strmap by_id; /* job id -> index in jobs (keys are the jobs' ids) */
    mdf_strmap seen;  /* event ids already shown (keys owned by seen_ids) */
    mdf_vec seen_ids; /* char *, at most MAX_SEEN */
    size_t statuses;  /* of our jobs, for the timeout message */
    char last_error[256];
    /* output */
    bool tty;
    const job *progress; /* whose line is on the terminal; NULL: none */
};

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)rk;
    (void)code;
    follow *f = opaque;
    /* kept for the timeout message: "no status ... (last Kafka error: ...)" */
    mdf_strlcpy(f->last_error, reason, sizeof f->last_error);
}

/* Partition count of f->topic; a missing topic is an error now rather than
 * a silent wait later. */
static int read_partitions(follow *f, char *err, size_t errsz)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(f->rk, 0, f->rkt, &md, SETUP_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return mdf_seterr(err, errsz, "cannot read the partitions of %s: %s%s%s", f->topic,
                          rd_kafka_err2str(e), f->last_error[0] ? ": " : "", f->last_error);
    int rc = MDF_OK;
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topics[0].partition_cnt <= 0)
        rc = mdf_seterr(err, errsz, "topic %s is not on the broker: %s", f->topic,
                        md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
    else
        f->partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Every partition from its current end: statuses written from now on, and
 * none from before (other people's jobs). One ListOffsets request per
 * leader for "the offset at time -1" (the end) instead of a watermark query
 * per partition: the latter waits about 500 ms for each new broker
 * connection in librdkafka 2.0. */
static int start_at_end(follow *f, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(f->partitions);
    for (int32_t p = 0; p < f->partitions; p++)
        rd_kafka_topic_partition_list_add(l, f->topic, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(f->rk, l, SETUP_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        mdf_seterr(err, errsz, "cannot read the end of %s: %s", f->topic, rd_kafka_err2str(e));
        goto cleanup;
    }
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0) {
            mdf_seterr(err, errsz, "cannot read the end of %s [%d]: %s", f->topic,
                       (int)tp->partition, tp->err ? rd_kafka_err2str(tp->err) : "no offset");
            goto cleanup;
        }
        if (rd_kafka_consume_start_queue(f->rkt, tp->partition, tp->offset, f->queue) != 0) {
            mdf_seterr(err, errsz, "cannot read %s [%d]: %s", f->topic, (int)tp->partition,
                       rd_kafka_err2str(rd_kafka_last_error()));
            goto cleanup;
        }
        f->started = true;
    }
    rc = MDF_OK;
cleanup:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int follow_new(follow **out, const mdf_config *c, size_t max_jobs, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    char why[512];
    rd_kafka_conf_t *conf = NULL;
    follow *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    mdf_strmap_init(&f->by_id);
    mdf_strmap_init(&f->seen);
    mdf_vec_init(&f->seen_ids, sizeof(char *), MAX_SEEN);
    mdf_vec_init(&f->jobs, sizeof(job), max_jobs);
    /* by_id borrows the ids inside jobs: they must not move */
    if (mdf_vec_reserve(&f->jobs, max_jobs) != 0) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    const char *topic = mdf_config_topic_id(c, MDF_TOPIC_JOB_STATUS);
    if (!topic || mdf_strlcpy(f->topic, topic, sizeof f->topic) != 0) {
        mdf_seterr(err, errsz, "no usable job.status topic name");
        goto cleanup;
    }
    conf = rd_kafka_conf_new();
    if (mdf_config_apply_kafka(c, conf, err, errsz) != MDF_OK)
        goto cleanup;
    /* librdkafka 2.0 refuses rd_kafka_assign() without a group.id, and a
     * group would only cost a coordinator and offsets nobody needs: this
     * reader uses the group-less (legacy) consumer API and stores nothing. */
    if (mdf_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) != MDF_OK ||
        mdf_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errsz) != MDF_OK ||
        mdf_kafka_conf_set(conf, "enable.partition.eof", "false", err, errsz) != MDF_OK)
        goto cleanup;
    /* built from the producer's kafka.* settings: the warnings about each
     * producer-only property are expected here and only noise */
    mdf_kafka_set_log(conf, true);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, f);
    f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!f->rk) {
        mdf_seterr(err, errsz, "kafka consumer: %s", why);
        goto cleanup;
    }
    conf = NULL; /* owned by f->rk */
    f->rkt = rd_kafka_topic_new(f->rk, f->topic, NULL);
    f->queue = rd_kafka_queue_new(f->rk);
    if (!f->rkt || !f->queue) {
        mdf_seterr(err, errsz, "kafka: cannot open %s", f->topic);
        goto cleanup;
    }
    if (read_partitions(f, err, errsz) != MDF_OK || start_at_end(f, err, errsz) != MDF_OK)
        goto cleanup;
    *out = f;
    f = NULL;
    rc = MDF_OK;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    follow_free(f);
    return rc;
}

/* Frees the strings of a list of char *, and the list. */
static void free_strs(mdf_vec *v)
{
    for (size_t i = 0; i < v->len; i++)
        free(MDF_VEC_AT(v, char *, i));
    mdf_vec_free(v);
}

static void job_free(job *j)
{
    free_strs(&j->node_names);
    mdf_strmap_free(&j->nodes);
}

void follow_free(follow *f)
{
    if (!f)
        return;
    for (int32_t p = 0; f->started && p < f->partitions; p++)
        rd_kafka_consume_stop(f->rkt, p);
    if (f->queue)
        rd_kafka_queue_destroy(f->queue);
    if (f->rkt)
        rd_kafka_topic_destroy(f->rkt);
    if (f->rk)
        rd_kafka_destroy(f->rk);
    for (size_t i = 0; i < f->jobs.len; i++)
        job_free(&MDF_VEC_AT(&f->jobs, job, i));
    mdf_vec_free(&f->jobs);
    free_strs(&f->seen_ids);
    mdf_strmap_free(&f->by_id);
    mdf_strmap_free(&f->seen);
    free(f);
}

int follow_add_job(follow *f, const char *job_id, bool scan, char *err, size_t errsz)
{
    size_t at = f->jobs.len;
    job *j = mdf_vec_add(&f->jobs); /* within the room reserved: it does not move */
    if (!j)
        return mdf_seterr(err, errsz, "more than the %zu jobs announced", f->jobs.max);
    memset(j, 0, sizeof *j);
    mdf_strlcpy(j->id, job_id, sizeof j->id);
    j->scan = scan;
    j->node_count = -1;
    mdf_strmap_init(&j->nodes);
    mdf_vec_init(&j->node_names, sizeof(char *), MDF_ARM_MAX_MACHINES);
    if (mdf_strmap_put(&f->by_id, j->id, strlen(j->id), at) != 0)
        return mdf_seterr(err, errsz, "out of memory");
    return MDF_OK;
}

/* ---- output ---- */

static void progress_line(const job *j)
{
    char id8[9];
    memcpy(id8, j->id, 8);
    id8[8] = '\0';
    printf("\r\033[Kjob %s: ", id8);
    if (!j->scan || j->node_count < 0) {
        printf("%s", j->accepted ? "accepted, in progress" : "waiting for a worker");
    } else {
        int64_t width = j->node_count < BAR_MAX ? j->node_count : BAR_MAX;
        int64_t filled = j->node_count > 0 ? j->nodes_done * width / j->node_count : 0;
        putchar('[');
        for (int64_t i = 0; i < width; i++)
            putchar(i < filled ? '#' : '.');
        printf("] %d/%lld nodes, %d failed", j->nodes_done, (long long)j->node_count,
               j->nodes_failed);
    }
    fflush(stdout);
}

/* A line that stays: on a terminal it goes above the progress line. */
static void MDF_PRINTF(2, 3) say(follow *f, const char *fmt, ...)
{
    va_list ap;
    if (f->tty && f->progress)
        fputs("\r\033[K", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (f->tty && f->progress)
        progress_line(f->progress);
    fflush(stdout);
}

static void show_progress(follow *f, const job *j)
{
    if (!f->tty)
        return;
    f->progress = j;
    progress_line(j);
}

static void clear_progress(follow *f)
{
    if (f->tty && f->progress) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
    }
    f->progress = NULL;
}

/* ---- statuses ---- */

static json_object *field(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str_field(json_object *o, const char *k)
{
    json_object *v = field(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Keeps a copy of s in list (char *) and as a key of set; nothing past
 * the list's cap or when out of memory (s is then not recognised later). */
static void keep_str(mdf_vec *list, const char *s, mdf_strmap *set)
{
    char *copy = strdup(s);
    if (!copy || mdf_vec_push(list, &copy) != 0) {
        free(copy);
        return;
    }
    mdf_strmap_put(set, copy, strlen(copy), 0);
}

/* True the first time an event id is seen. */
static bool first_sight(follow *f, const char *event_id)
{
    size_t len = strlen(event_id), ignored;
    if (mdf_strmap_get(&f->seen, event_id, len, &ignored))
        return false;
    /* past the cap only node de-duplication is left */
    keep_str(&f->seen_ids, event_id, &f->seen);
    return true;
}

/* Counts one node outcome; false when the node was counted before. */
static bool count_node(follow *f, job *j, json_object *outcome)
{
    const char *node = str_field(outcome, "node");
    const char *result = str_field(outcome, "result");
    size_t ignored;
    if (!node || !result || mdf_strmap_get(&j->nodes, node, strlen(node), &ignored))
        return false;
    /* past the cap (or out of memory) it is counted without being kept */
    keep_str(&j->node_names, node, &j->nodes);
    j->nodes_done++;
    bool failed = strcmp(result, "Failed") == 0;
    if (failed)
        j->nodes_failed++;
    const char *why = str_field(outcome, "reason");
    if (!why)
        why = str_field(outcome, "failure");
    if (failed)
        say(f, "job %s node %s failed: %s", j->id, node, why ? why : "no reason given");
    else if (!f->tty)
        say(f, "job %s node %s succeeded", j->id, node);
    return true;
}

static job_state state_of(const char *status)
{
    if (!status)
        return ST_FAILED; /* a terminal status without a result is no success */
    if (strcmp(status, "Succeeded") == 0)
        return ST_SUCCEEDED;
    if (strcmp(status, "PartiallySucceeded") == 0)
        return ST_PARTLY;
    if (strcmp(status, "TimedOut") == 0)
        return ST_TIMED_OUT;
    return ST_FAILED;
}

static void finish(follow *f, job *j, json_object *st)
{
    static const char *const words[] = {"running", "succeeded", "partly succeeded", "failed",
                                        "timed out"};
    json_object *outcomes = field(st, "outcomes");
    size_t n =
        json_object_is_type(outcomes, json_type_array) ? json_object_array_length(outcomes) : 0;
    /* outcomes the node statuses did not bring (produced elsewhere first) */
    for (size_t i = 0; i < n; i++)
        count_node(f, j, json_object_array_get_idx(outcomes, i));
    j->state = state_of(str_field(st, "status"));
    const char *reason = str_field(st, "reason");
    if (f->progress == j)
        clear_progress(f);
    say(f, "job %s %s%s%s", j->id, words[j->state], reason ? ": " : "", reason ? reason : "");
}

static void handle(follow *f, mdf_codec *codec, const rd_kafka_message_t *m)
{
    char err[MDF_ERRSZ], hdr[64];
    json_object *st = NULL;
    size_t idx;
    /* not ours to judge: the tracker dead-letters what it cannot read */
    if (mdf_codec_decode(codec, MDF_REC_JOB_STATUS, m->payload, m->len, &st, NULL, err,
                         sizeof err) != MDF_OK)
        return;
    const char *job_id = str_field(st, "job_id");
    if (!job_id || !mdf_strmap_get(&f->by_id, job_id, strlen(job_id), &idx))
        goto cleanup;
    job *j = &MDF_VEC_AT(&f->jobs, job, idx);
    const char *event_id = mdf_message_header(m, MDF_HDR_EVENT_ID, hdr, sizeof hdr);
    if (!event_id)
        event_id = str_field(st, "event_id");
    if (j->state != ST_RUNNING || (event_id && !first_sight(f, event_id)))
        goto cleanup;
    f->statuses++;
    const char *kind = str_field(st, "kind");
    if (!kind)
        goto cleanup;
    if (strcmp(kind, "Accepted") == 0) {
        j->accepted = true;
        if (!f->tty)
            say(f, "job %s accepted", j->id);
    } else if (strcmp(kind, "Planned") == 0) {
        json_object *nc = field(st, "node_count");
        j->accepted = true;
        j->node_count = nc ? json_object_get_int64(nc) : 0;
        if (!f->tty)
            say(f, "job %s planned %lld nodes", j->id, (long long)j->node_count);
    } else if (strcmp(kind, "NodeOutcome") == 0) {
        count_node(f, j, field(st, "node_outcome"));
    } else if (strcmp(kind, "Terminal") == 0 || strcmp(kind, "EnforcementResult") == 0) {
        /* Either ends a job: a scan ends with Terminal, an enforcement
         * change with EnforcementResult; a worker that sent the other one
         * still means the job is over. */
        finish(f, j, st);
        /* the line shows a job still running, if any */
        const job *jobs = f->jobs.data;
        for (size_t i = 0; i < f->jobs.len; i++)
            if (jobs[i].state == ST_RUNNING) {
                show_progress(f, &jobs[i]);
                break;
            }
        goto cleanup;
    }
    show_progress(f, j);
cleanup:
    json_object_put(st);
}

int follow_run(follow *f, mdf_codec *codec, int64_t timeout_ms, bool tty,
               volatile sig_atomic_t *stop)
{
    const job *jobs = f->jobs.data;
    f->tty = tty;
    int64_t start = mdf_time_now_ms();
    size_t open_jobs = f->jobs.len;
    if (f->jobs.len > 0)
        show_progress(f, &jobs[0]);
    while (open_jobs > 0 && !*stop) {
        int64_t left = start + timeout_ms - mdf_time_now_ms();
        if (left <= 0)
            break;
        rd_kafka_poll(f->rk, 0); /* logs and errors */
        rd_kafka_message_t *m =
            rd_kafka_consume_queue(f->queue, left < POLL_MS ? (int)left : POLL_MS);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            handle(f, codec, m);
        else
            mdf_strlcpy(f->last_error, rd_kafka_message_errstr(m), sizeof f->last_error);
        rd_kafka_message_destroy(m);
        open_jobs = 0;
        for (size_t i = 0; i < f->jobs.len; i++)
            open_jobs += jobs[i].state == ST_RUNNING;
    }
    clear_progress(f);
    if (open_jobs > 0) {
        char hint[320] = "";
        if (f->statuses == 0)
            snprintf(hint, sizeof hint, " (no status at all: is a worker running?%s%s)",
                     f->last_error[0] ? " last Kafka error: " : "", f->last_error);
        if (*stop) {
            fprintf(stderr,
                    "mdefleet-producer: interrupted: %zu of %zu jobs not finished (they go on "
                    "without this command)\n",
                    open_jobs, f->jobs.len);
            return FOLLOW_INTERRUPTED;
        }
        fprintf(stderr,
                "mdefleet-producer: timed out after %lld s: %zu of %zu jobs not finished%s\n",
                (long long)(timeout_ms / 1000), open_jobs, f->jobs.len, hint);
        return FOLLOW_FAILED;
    }
    int rc = FOLLOW_OK;
    for (size_t i = 0; i < f->jobs.len; i++) {
        if (jobs[i].state == ST_FAILED || jobs[i].state == ST_TIMED_OUT)
            return FOLLOW_FAILED;
        if (jobs[i].state == ST_PARTLY)
            rc = FOLLOW_PARTLY;
    }
    return rc;
}
