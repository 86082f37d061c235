/* The worker's loop: consumer, producer, HTTP, offsets, back-pressure,
 * dead letters and shutdown. The roles are in planner.c, executor.c and
 * tracker.c. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config_load.h"
#include "err.h"
#include "log.h"
#include "clock.h"
#include "kafka_consumer.h"

#define POLL_BATCH 500

/* ---- offsets per partition ------------------------------------------------- */

static struct partition_offsets *offsets_for(worker *w, topic_id t, int32_t partition,
                                             bool create)
{
    for (size_t i = 0; i < w->n_parts; i++) {
        if (w->parts[i].topic == t && w->parts[i].partition == partition)
            return &w->parts[i];
    }
    if (!create)
        return NULL;
    if (w->n_parts == w->cap_parts) {
        size_t cap = w->cap_parts ? w->cap_parts * 2 : 32;
        struct partition_offsets *p = realloc(w->parts, cap * sizeof *p);
        if (!p)
            return NULL;
        w->parts = p;
        w->cap_parts = cap;
    }
    mdf_offsets *o = mdf_offsets_new();
    if (!o)
        return NULL;
    w->parts[w->n_parts] = (struct partition_offsets){t, partition, 0, o};
    return &w->parts[w->n_parts++];
}

static topic_id topic_of(const worker *w, const char *name)
{
    for (int t = 0; t < T__COUNT; t++) {
        if (strcmp(w->topics[t], name) == 0)
            return (topic_id)t;
    }
    return T__COUNT;
}

static void store_offset(worker *w, request *r)
{
    struct partition_offsets *po = offsets_for(w, r->topic, r->partition, false);
    /* a request from before a rebalance no longer owns its offset */
    int64_t next = po && po->epoch == r->epoch ? mdf_offsets_done(po->offsets, r->offset) : -1;
    if (next < 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, w->topics[r->topic], r->partition)->offset = next;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(w->consumer, l);
    if (e)
        mdf_debug("offset store %s[%d]@%lld: %s", w->topics[r->topic], (int)r->partition,
                  (long long)next, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- requests -------------------------------------------------------------------- */

static void req_free(request *r)
{
    worker *w = r->w;
    if (r->prev)
        r->prev->next = r->next;
    else if (w->requests == r)
        w->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (r->counted)
        w->inflight--;
    if (r->free_state)
        r->free_state(r->state);
    free(r->key);
    free(r->value);
    free(r);
}

static void maybe_complete(request *r)
{
    if (!r->work_done || r->pending > 0)
        return;
    if (!r->lost)
        store_offset(r->w, r);
    req_free(r);
}

void req_finish(request *r)
{
    r->work_done = true;
    maybe_complete(r);
}

static void on_delivery(void *opaque, rd_kafka_resp_err_t err)
{
    request *r = opaque;
    r->pending--;
    if (r->w->closing)
        return; /* teardown: the request is being dropped unstored anyway */
    if (err) {
        /* its offset can never be stored, which would stall the partition:
         * stop, so that the request is redone (here after a restart, or by
         * another worker) */
        r->lost = true;
        mdf_error("record of %s[%d]@%lld not delivered: %s; stopping", r->w->topics[r->topic],
                  (int)r->partition, (long long)r->offset, rd_kafka_err2str(err));
        *r->w->stop = 1;
    }
    maybe_complete(r);
}

void req_emit(request *r, topic_id t, const char *key, size_t key_len, const void *value,
              size_t value_len, const char *content_type, const char *event_id)
{
    char err[MDF_ERRSZ];
    mdf_header h[3] = {{MDF_HDR_CONTENT_TYPE, content_type},
                       {MDF_HDR_EVENT_ID, event_id},
                       {MDF_HDR_CORRELATION_ID, r->correlation[0] ? r->correlation : event_id}};
    r->pending++;
    if (mdf_producer_send(r->w->producer, r->w->topics[t], key, key_len, value, value_len, h, 3,
                          on_delivery, r, err, sizeof err) != MDF_OK) {
        r->pending--;
        r->lost = true;
        mdf_error("cannot send to %s: %s; stopping", r->w->topics[t], err);
        *r->w->stop = 1;
    }
}

void req_emit_avro(request *r, topic_id t, mdf_rec_type rt, json_object *rec, const char *key,
                   const char *event_id)
{
    char err[MDF_ERRSZ];
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    if (mdf_codec_write(r->w->codec, &r->w->codec_opts, rt, rec, &out, err, sizeof err) !=
        MDF_OK) {
        /* our own record does not fit our schema: a bug, never silent */
        r->lost = true;
        mdf_error("cannot encode %s: %s", mdf_rec_name(rt), err);
    } else {
        req_emit(r, t, key, strlen(key), out.data, out.len, MDF_CONTENT_AVRO, event_id);
    }
    mdf_buf_free(&out);
}

/* Avro bytes in the codec's JSON form: one code point per byte. */
static json_object *bytes_value(const char *p, size_t n)
{
    mdf_buf b;
    mdf_buf_init(&b, 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            mdf_buf_appendc(&b, (char)c);
        } else {
            mdf_buf_appendc(&b, (char)(0xC0 | c >> 6));
            mdf_buf_appendc(&b, (char)(0x80 | (c & 0x3F)));
        }
    }
    json_object *v = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
    mdf_buf_free(&b);
    return v;
}

/* The most of a dead letter's original bytes kept: Kafka's default record
 * limit is about 1 MB, and a dead letter that cannot be sent would stall
 * its partition. */
#define DLQ_PAYLOAD_MAX (256 * 1024)

void req_dead_letter(request *r, const char *reason)
{
    worker *w = r->w;
    char id[MDF_UUID_STRSZ], part[16], off[24], why[MDF_ERRSZ];
    size_t keep = r->value_len < DLQ_PAYLOAD_MAX ? r->value_len : DLQ_PAYLOAD_MAX;
    if (keep < r->value_len) {
        mdf_seterr(why, sizeof why, "%s (payload cut to %zu of %zu bytes)", reason, keep,
                   r->value_len);
        reason = why;
    }
    snprintf(part, sizeof part, "%d", (int)r->partition);
    snprintf(off, sizeof off, "%lld", (long long)r->offset);
    mdf_event_id_of(id, "dead-letter", w->topics[r->topic], part, off, NULL, NULL);
    mdf_warn("dead letter %s[%s]@%s: %s", w->topics[r->topic], part, off, reason);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "event_id", json_object_new_string(id));
    json_object_object_add(d, "time", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(d, "source_topic", json_object_new_string(w->topics[r->topic]));
    json_object_object_add(d, "source_partition", json_object_new_int(r->partition));
    json_object_object_add(d, "source_offset", json_object_new_int64(r->offset));
    json_object_object_add(d, "reason", json_object_new_string(reason));
    json_object_object_add(d, "payload", bytes_value(r->value, keep));
    json_object_object_add(d, "key", r->key ? bytes_value(r->key, r->key_len < 1024 ? r->key_len
                                                                                     : 1024)
                                            : NULL);
    json_object_object_add(d, "correlation_id",
                           r->correlation[0] ? json_object_new_string(r->correlation) : NULL);
    req_emit_avro(r, T_DLQ, MDF_REC_DEAD_LETTER, d, w->topics[r->topic], id);
    json_object_put(d);
    req_finish(r);
}

const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

json_object *job_status_new(const char *job_id, const char *job_kind, const char *cluster_id,
                            const char *kind, char event_id[MDF_UUID_STRSZ], const char *id_part)
{
    mdf_event_id_of(event_id, job_id, "status", kind, id_part, NULL, NULL);
    json_object *s = json_object_new_object();
    json_object_object_add(s, "event_id", json_object_new_string(event_id));
    json_object_object_add(s, "job_id", json_object_new_string(job_id));
    json_object_object_add(s, "time", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(s, "job_kind", json_object_new_string(job_kind));
    json_object_object_add(s, "cluster_id", json_object_new_string(cluster_id));
    json_object_object_add(s, "kind", json_object_new_string(kind));
    return s;
}

/* ---- consuming -------------------------------------------------------------------- */

static void start_request(request *r)
{
    worker *w = r->w;
    switch (r->topic) {
    case T_SCAN_JOBS:
        planner_scan_job(r);
        break;
    case T_ENFORCE:
        planner_enforcement(r);
        break;
    case T_NODE_TASKS:
        executor_node_task(r);
        break;
    case T_JOB_STATUS:
        tracker_status(r);
        break;
    default:
        mdf_warn("message on %s ignored", w->topics[r->topic]);
        req_finish(r);
    }
}

/* Makes r an in-flight request and starts its role. */
static void launch(worker *w, request *r)
{
    r->next = w->requests;
    r->prev = NULL;
    if (w->requests)
        w->requests->prev = r;
    w->requests = r;
    if (r->topic != T_JOB_STATUS) {
        r->counted = true;
        w->inflight++;
    }
    start_request(r);
}

static void start_backlog(worker *w)
{
    while (w->backlog && w->inflight < w->max_inflight && !w->draining) {
        request *r = w->backlog;
        w->backlog = r->next;
        if (!w->backlog)
            w->backlog_tail = NULL;
        r->next = NULL;
        launch(w, r);
    }
}

/* The request already working on this message, from before a rebalance
 * that gave the partition back to us. A dropped one (lost) is not: it
 * will never store, so the message must run again. */
static request *find_request(worker *w, topic_id t, int32_t partition, int64_t offset)
{
    for (int list = 0; list < 2; list++) {
        for (request *r = list ? w->backlog : w->requests; r; r = r->next) {
            if (r->topic == t && r->partition == partition && r->offset == offset && !r->lost)
                return r;
        }
    }
    return NULL;
}

static void on_message(worker *w, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            mdf_warn("consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    topic_id t = topic_of(w, rd_kafka_topic_name(m->rkt));
    struct partition_offsets *po = t < T__COUNT ? offsets_for(w, t, m->partition, true) : NULL;
    request *old = po ? find_request(w, t, m->partition, m->offset) : NULL;
    if (old && old->epoch != po->epoch) {
        /* redelivered to us after a rebalance while still in progress here:
         * the running request owns the new assignment's offset, no second run */
        if (mdf_offsets_begin(po->offsets, m->offset) == MDF_OK)
            old->epoch = po->epoch;
        return;
    }
    request *r = calloc(1, sizeof *r);
    if (!po || !r || mdf_offsets_begin(po->offsets, m->offset) != MDF_OK) {
        free(r);
        /* skipping it would let later offsets be stored past it */
        mdf_error("out of memory at %s[%d]@%lld; stopping", rd_kafka_topic_name(m->rkt),
                  (int)m->partition, (long long)m->offset);
        *w->stop = 1;
        return;
    }
    r->w = w;
    r->epoch = po->epoch;
    r->topic = t;
    r->partition = m->partition;
    r->offset = m->offset;
    r->value = malloc(m->len + 1);
    r->key = m->key ? malloc(m->key_len + 1) : NULL;
    if (r->value) {
        memcpy(r->value, m->payload ? m->payload : "", m->len);
        r->value[m->len] = '\0';
        r->value_len = m->len;
    }
    if (r->key) {
        memcpy(r->key, m->key, m->key_len);
        r->key[m->key_len] = '\0';
        r->key_len = m->key_len;
    }
    mdf_message_header(m, MDF_HDR_CORRELATION_ID, r->correlation, sizeof r->correlation);
    if (!r->value) {
        mdf_error("out of memory at %s[%d]@%lld; stopping", w->topics[t], (int)m->partition,
                  (long long)m->offset);
        *w->stop = 1;
        free(r->key);
        free(r);
        return;
    }
    /* tasks that wait on Azure hold a slot; tracker statuses do not. Past
     * max_inflight they wait in the backlog (partitions are paused, but
     * what was already fetched still arrives). */
    if (t != T_JOB_STATUS && w->inflight >= w->max_inflight) {
        if (w->backlog_tail)
            w->backlog_tail->next = r;
        else
            w->backlog = r;
        w->backlog_tail = r;
        return;
    }
    launch(w, r);
}

static void set_paused(worker *w, bool pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (w->paused == pause || rd_kafka_assignment(w->consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    /* job.status keeps flowing: the tracker must see outcomes to end jobs */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(a->cnt);
    for (int i = 0; i < a->cnt; i++) {
        if (strcmp(a->elems[i].topic, w->topics[T_JOB_STATUS]) != 0)
            rd_kafka_topic_partition_list_add(l, a->elems[i].topic, a->elems[i].partition);
    }
    if (pause)
        rd_kafka_pause_partitions(w->consumer, l);
    else
        rd_kafka_resume_partitions(w->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_topic_partition_list_destroy(a);
    w->paused = pause;
    mdf_debug("%s consumption (%d in flight)", pause ? "paused" : "resumed", w->inflight);
}

/* Waiting work from partitions that went to another worker is theirs now
 * (parts NULL: all of it). */
static void drop_backlog_not_in(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    request **pp = &w->backlog;
    w->backlog_tail = NULL;
    while (*pp) {
        request *r = *pp;
        if (parts && rd_kafka_topic_partition_list_find(parts, w->topics[r->topic], r->partition)) {
            w->backlog_tail = r;
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        free(r->key);
        free(r->value);
        free(r);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker *w = opaque;
    for (int i = 0; i < parts->cnt; i++) {
        topic_id t = topic_of(w, parts->elems[i].topic);
        struct partition_offsets *po =
            t < T__COUNT ? offsets_for(w, t, parts->elems[i].partition, false) : NULL;
        /* offsets begun before are no longer ours to store */
        if (po) {
            mdf_offsets_reset(po->offsets);
            po->epoch++;
        }
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        mdf_info("assigned %d partitions", parts->cnt);
        drop_backlog_not_in(w, parts);
        rd_kafka_assign(rk, parts);
        /* a partition paused before a revoke stays paused in librdkafka: a
         * new assignment starts running (the loop pauses again if full) */
        rd_kafka_resume_partitions(rk, parts);
        w->paused = false;
    } else {
        mdf_info("revoked %d partitions", parts->cnt);
        for (int i = 0; i < parts->cnt; i++) {
            if (w->tracker_on && strcmp(parts->elems[i].topic, w->topics[T_JOB_STATUS]) == 0)
                tracker_revoke(w, parts->elems[i].partition);
        }
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- setup ---------------------------------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errsz)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
        return mdf_seterr(err, errsz, "kafka %s: %s", k, e);
    return MDF_OK;
}

static int consumer_new(worker *w, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    /* defaults first: the configuration's kafka.* keys may override them */
    if (conf_set(conf, "group.id", "mdefleet-worker", err, errsz) ||
        conf_set(conf, "auto.offset.reset", "earliest", err, errsz) ||
        conf_set(conf, "enable.auto.commit", "true", err, errsz) ||
        conf_set(conf, "auto.commit.interval.ms", "1000", err, errsz) ||
        mdf_config_apply_kafka(w->cfg, conf, err, errsz) != MDF_OK ||
        /* at least once: offsets are stored by hand, after the work */
        conf_set(conf, "enable.auto.offset.store", "false", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return MDF_ERR;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, w);
    w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!w->consumer) {
        rd_kafka_conf_destroy(conf);
        return mdf_seterr(err, errsz, "kafka consumer: %s", e);
    }
    conf = NULL; /* owned by the handle now */
    rd_kafka_poll_set_consumer(w->consumer);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(4);
    if (w->planner) {
        rd_kafka_topic_partition_list_add(subs, w->topics[T_SCAN_JOBS], RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(subs, w->topics[T_ENFORCE], RD_KAFKA_PARTITION_UA);
    }
    if (w->executor)
        rd_kafka_topic_partition_list_add(subs, w->topics[T_NODE_TASKS], RD_KAFKA_PARTITION_UA);
    if (w->tracker_on)
        rd_kafka_topic_partition_list_add(subs, w->topics[T_JOB_STATUS], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t re = rd_kafka_subscribe(w->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (re)
        return mdf_seterr(err, errsz, "kafka subscribe: %s", rd_kafka_err2str(re));
    /* wake the loop's poll when messages arrive */
    if (pipe(w->wake_fd) != 0)
        return mdf_seterr(err, errsz, "pipe: %s", strerror(errno));
    fcntl(w->wake_fd[0], F_SETFL, O_NONBLOCK);
    fcntl(w->wake_fd[1], F_SETFL, O_NONBLOCK);
    w->queue = rd_kafka_queue_get_consumer(w->consumer);
    rd_kafka_queue_io_event_enable(w->queue, w->wake_fd[1], "1", 1);
    return MDF_OK;
}

static int azure_new(worker *w, char *err, size_t errsz)
{
    mdf_auth_method method;
    mdf_auth_cfg acfg;
    mdf_arm_cfg cfg;
    const mdf_config *c = w->cfg;
    bool loopback = mdf_config_get_bool(c, "http.allow_loopback");
    if (mdf_auth_method_parse(mdf_config_get(c, "auth.method"), &method) != MDF_OK)
        return mdf_seterr(err, errsz, "auth.method: unknown method");
    if (mdf_auth_cfg_init(&acfg, method, err, errsz) != MDF_OK)
        return MDF_ERR;
    acfg.http = loopback ? MDF_HTTP_LOOPBACK : MDF_HTTPS_ONLY;
    mdf_arm_cfg_default(&cfg);
    mdf_strlcpy(cfg.endpoint, mdf_config_get(c, "arm.endpoint"), sizeof cfg.endpoint);
    mdf_strlcpy(cfg.api_version, mdf_config_get(c, "arm.api_version"), sizeof cfg.api_version);
    cfg.http = acfg.http;
    cfg.reads.burst = (double)mdf_config_get_int(c, "arm.reads_burst");
    cfg.reads.per_second = mdf_config_get_double(c, "arm.reads_per_second");
    cfg.writes.burst = (double)mdf_config_get_int(c, "arm.writes_burst");
    cfg.writes.per_second = mdf_config_get_double(c, "arm.writes_per_second");
    cfg.retry.max_retries = (int)mdf_config_get_int(c, "arm.max_retries");
    mdf_blob_cfg_default(&w->blob);
    w->blob.http = acfg.http;
    w->blob.max_bytes = (size_t)mdf_config_get_int(c, "blob.max_bytes");
    if (mdf_blob_cfg_set_hosts(&w->blob, mdf_config_get(c, "blob.allowed_hosts"), err, errsz) !=
            MDF_OK ||
        mdf_http_new(&w->http, err, errsz) != MDF_OK ||
        mdf_auth_new(&w->auth, w->http, &acfg, err, errsz) != MDF_OK ||
        mdf_arm_new(&w->arm, w->http, w->auth, &cfg, err, errsz) != MDF_OK)
        return MDF_ERR;
    return MDF_OK;
}

static int worker_setup(worker *w, char *err, size_t errsz)
{
    const mdf_config *c = w->cfg;
    for (int t = 0; t < T__COUNT; t++)
        w->topics[t] = mdf_config_topic_id(c, (mdf_topic)t);
    w->planner = mdf_config_list_has(c, "worker.roles", "planner");
    w->executor = mdf_config_list_has(c, "worker.roles", "executor");
    w->tracker_on = mdf_config_list_has(c, "worker.roles", "tracker");
    w->max_inflight = (int)mdf_config_get_int(c, "worker.max_inflight");
    w->limit_time_seconds = (int)mdf_config_get_int(c, "extract.limit_time_seconds");
    w->restricted = mdf_config_get_bool(c, "extract.restricted");
    w->job_timeout_ms = mdf_config_get_int(c, "job.timeout_seconds") * 1000;
    mdf_config_codec_opts(c, &w->codec_opts);
    if (mdf_codec_new(&w->codec, err, errsz) != MDF_OK ||
        mdf_producer_new(&w->producer, c, err, errsz) != MDF_OK ||
        azure_new(w, err, errsz) != MDF_OK ||
        (w->tracker_on && tracker_new(w) != MDF_OK && mdf_seterr(err, errsz, "out of memory")) ||
        consumer_new(w, err, errsz) != MDF_OK)
        return MDF_ERR;
    return MDF_OK;
}

static void worker_teardown(worker *w)
{
    /* the producer first: its last delivery reports must not reach requests
     * or a consumer that are gone */
    w->closing = true;
    if (w->producer) {
        int left = mdf_producer_close(w->producer, 10000);
        if (left)
            mdf_error("%d records not delivered at exit", left);
    }
    if (w->consumer) {
        /* commits what was stored and leaves the group */
        rd_kafka_consumer_close(w->consumer);
        if (w->queue)
            rd_kafka_queue_destroy(w->queue);
        rd_kafka_destroy(w->consumer);
    }
    /* the loop before the clients: its timers point into them and requests */
    mdf_http_destroy(w->http);
    mdf_arm_destroy(w->arm);
    mdf_auth_destroy(w->auth);
    if (w->tracker_on)
        tracker_free(w);
    while (w->requests) {
        w->requests->pending = 0;
        w->requests->lost = true; /* abandoned: not stored */
        req_free(w->requests);
    }
    drop_backlog_not_in(w, NULL);
    for (size_t i = 0; i < w->n_parts; i++)
        mdf_offsets_free(w->parts[i].offsets);
    free(w->parts);
    mdf_codec_destroy(w->codec);
    if (w->wake_fd[0] > 0) {
        close(w->wake_fd[0]);
        close(w->wake_fd[1]);
    }
}

/* ---- the loop ------------------------------------------------------------------------ */

int worker_run(mdf_config *cfg, volatile sig_atomic_t *stop, char *err, size_t errsz)
{
    worker w = {.cfg = cfg, .stop = stop};
    int rc = MDF_ERR;
    if (worker_setup(&w, err, errsz) != MDF_OK)
        goto cleanup;
    mdf_info("started: roles%s%s%s, max_inflight %d", w.planner ? " planner" : "",
             w.executor ? " executor" : "", w.tracker_on ? " tracker" : "", w.max_inflight);
    int64_t next_tick = 0, drain_until = 0;
    for (;;) {
        struct curl_waitfd wfd = {.fd = w.wake_fd[0], .events = CURL_WAIT_POLLIN};
        mdf_http_run(w.http, 100, &wfd, 1);
        char drain[64];
        while (read(w.wake_fd[0], drain, sizeof drain) > 0) {
        }
        if (*stop && !w.draining) {
            /* stop taking work; finish what is in flight within the grace */
            w.draining = true;
            drain_until = mdf_mono_ms() + mdf_config_get_int(cfg, "worker.grace_seconds") * 1000;
            mdf_info("stopping: %d tasks in flight", w.inflight);
        }
        for (int i = 0; i < POLL_BATCH; i++) {
            if (!w.draining && w.inflight >= w.max_inflight)
                set_paused(&w, true);
            rd_kafka_message_t *m = rd_kafka_consumer_poll(w.consumer, 0);
            if (!m)
                break;
            if (w.draining) {
                /* not started: its offset is not stored, another worker takes it */
                rd_kafka_message_destroy(m);
                continue;
            }
            on_message(&w, m);
            rd_kafka_message_destroy(m);
        }
        start_backlog(&w);
        if (!w.draining && w.paused && !w.backlog && w.inflight < w.max_inflight)
            set_paused(&w, false);
        mdf_producer_poll(w.producer, 0);
        int64_t now = mdf_mono_ms();
        if (w.tracker_on && now >= next_tick) {
            tracker_tick(&w);
            next_tick = now + 1000;
        }
        if (!w.draining && rd_kafka_fatal_error(mdf_producer_handle(w.producer), NULL, 0)) {
            mdf_error("fatal producer error: stopping");
            *stop = 1;
        }
        if (w.draining &&
            ((w.inflight == 0 && mdf_producer_outstanding(w.producer) == 0) || now >= drain_until)) {
            if (w.inflight)
                mdf_warn("grace period over: %d tasks abandoned (redone elsewhere)", w.inflight);
            break;
        }
    }
    rc = MDF_OK;
cleanup:
    worker_teardown(&w);
    return rc;
}
