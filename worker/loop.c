/* The worker's loop (loop.h): consumer, producer, HTTP, offsets,
 * back-pressure and shutdown. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "clock.h"
#include "config_load.h"
#include "err.h"
#include "kafka_consumer.h"
#include "kafka_health.h"
#include "kafka_log.h"
#include "kafka_producer.h"
#include "log.h"
#include "offsets.h"
#include "ops.h"
#include "state_store.h"
#include "vec.h"

#define POLL_BATCH 500
#define MAX_PARTITIONS 100000 /* partitions one worker may be assigned, all topics */
#define TICK_MS 1000
#define CLOSE_FLUSH_MS 10000
#define METADATA_TIMEOUT_MS 10000
#define STATISTICS_INTERVAL "5000" /* ms: consumer lag for /metrics */

/* The loop's own data on a request. */
typedef struct slot {
    TAILQ_ENTRY(slot) link;
    mdf_request *req;
    const mdf_loop_role *role;
    uint64_t epoch; /* of its partition's assignment when consumed */
    bool counted;   /* holds a slot of worker.max_inflight */
    bool awaiting;  /* at its commit point (port_commit), not yet answered */
} slot;

TAILQ_HEAD(slot_list, slot);

typedef struct partition_offsets {
    mdf_topic topic;
    int32_t partition;
    uint64_t epoch; /* bumped at each (re)assignment */
    mdf_offsets *offsets;
} partition_offsets;

typedef struct loop {
    const mdf_config *cfg;
    mdf_http *http;
    mdf_worker_env *wenv;
    mdf_wops *ops; /* metrics and probes */
    const mdf_loop_role *roles;
    size_t n_roles;
    const mdf_loop_role *by_topic[MDF_TOPIC__COUNT]; /* NULL: not consumed here */
    mdf_req_port port;
    mdf_req_env env;
    mdf_producer *producer;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue;
    int wake_fd[2]; /* librdkafka writes here when the queue fills */
    int max_inflight, inflight;
    int awaiting;      /* slots waiting for their commit */
    int peak_inflight; /* for the stop line: sizing worker.max_inflight */
    bool paused;
    struct slot_list running; /* in flight */
    struct slot_list backlog; /* consumed while full, not started */
    mdf_vec parts;            /* partition_offsets */
    /* The findings state: the role that keeps it (NULL: none here), the
     * store, and the consumer that reads findings.state into it. */
    const mdf_loop_role *state_role;
    mdf_state_store *store;
    rd_kafka_t *restorer;
    int32_t n_state_parts; /* of findings.state, = those of node.tasks */
    int64_t restore_timeout_ms;
    volatile sig_atomic_t *stop;
    char stop_reason[MDF_ERRSZ]; /* the first internal error that stopped it; "": none */
    bool draining;
    bool closing; /* teardown: delivery reports are ignored */
} loop;

/* Stops the loop for an internal error: the worker then exits non-zero
 * with the first reason, so that a supervisor does not take it for a clean
 * stop. */
static void internal_stop(loop *l, const char *fmt, ...) MDF_PRINTF(2, 3);
static void internal_stop(loop *l, const char *fmt, ...)
{
    if (!l->stop_reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->stop_reason, sizeof l->stop_reason, fmt, ap);
        va_end(ap);
    }
    *l->stop = 1;
}

/* ---- offsets per partition ------------------------------------------------- */

static partition_offsets *offsets_for(loop *l, mdf_topic t, int32_t partition, bool create)
{
    for (size_t i = 0; i < l->parts.len; i++) {
        partition_offsets *po = &MDF_VEC_AT(&l->parts, partition_offsets, i);
        if (po->topic == t && po->partition == partition)
            return po;
    }
    if (!create)
        return NULL;
    mdf_offsets *o = mdf_offsets_new();
    partition_offsets *po = o ? mdf_vec_add(&l->parts) : NULL;
    if (!po) {
        mdf_offsets_free(o);
        return NULL;
    }
    *po = (partition_offsets){t, partition, 0, o};
    return po;
}

static mdf_topic topic_of(const loop *l, const char *name)
{
    for (int t = 0; t < MDF_TOPIC__COUNT; t++) {
        if (strcmp(l->env.topics[t], name) == 0)
            return (mdf_topic)t;
    }
    return MDF_TOPIC__COUNT;
}

static void store_offset(loop *l, const slot *s)
{
    const mdf_msg *m = mdf_req_msg(s->req);
    partition_offsets *po = offsets_for(l, m->topic, m->partition, false);
    /* a request from before a rebalance no longer owns its offset */
    int64_t next = po && po->epoch == s->epoch ? mdf_offsets_done(po->offsets, m->offset) : -1;
    if (next < 0)
        return;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, l->env.topics[m->topic], m->partition)->offset = next;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(l->consumer, tl);
    if (e)
        mdf_debug_f(MDF_FIELDS("topic", l->env.topics[m->topic]), "offset store %s[%d]@%lld: %s",
                    l->env.topics[m->topic], (int)m->partition, (long long)next,
                    rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(tl);
    /* a request at its commit point may be covered now: commit at once
     * rather than at the next auto-commit */
    if (!e && l->awaiting) {
        e = rd_kafka_commit(l->consumer, NULL, 1);
        if (e)
            mdf_debug("commit: %s", rd_kafka_err2str(e));
    }
}

/* ---- commit points (mdf_req_when_committed) ---------------------------------- */

/* s has its answer; s may be gone after. */
static void commit_answer(loop *l, slot *s, bool ok)
{
    s->awaiting = false;
    l->awaiting--;
    mdf_req_committed(s->req, ok);
}

/* The first slot at its commit point on t[partition] below offset. */
static slot *awaiting_below(loop *l, mdf_topic t, int32_t partition, int64_t offset)
{
    slot *s;
    TAILQ_FOREACH(s, &l->running, link) {
        const mdf_msg *m = mdf_req_msg(s->req);
        if (s->awaiting && m->topic == t && m->partition == partition && m->offset < offset)
            return s;
    }
    return NULL;
}

/* The request's offset is stored as if it were complete (the port's
 * complete then stores nothing new), and committed; commit_cb answers. */
static void port_commit(void *ctx, mdf_request *r)
{
    loop *l = ctx;
    slot *s = mdf_req_owner(r);
    s->awaiting = true;
    l->awaiting++;
    store_offset(l, s);
}

/* Every commit's result, the auto-commit's too (served by the consumer's
 * poll on this thread). A failed one is retried by the next. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    loop *l = opaque;
    (void)rk;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        mdf_debug("offset commit: %s", rd_kafka_err2str(err));
    /* teardown: the producer is closed, nothing more is sent */
    if (err || !offsets || !l->awaiting || l->closing)
        return;
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &offsets->elems[i];
        mdf_topic t = topic_of(l, p->topic);
        slot *s;
        while (!p->err && p->offset >= 0 && (s = awaiting_below(l, t, p->partition, p->offset)))
            commit_answer(l, s, true);
    }
}

/* The first slot at its commit point whose partition is not in parts. */
static slot *awaiting_not_in(loop *l, const rd_kafka_topic_partition_list_t *parts)
{
    slot *s;
    TAILQ_FOREACH(s, &l->running, link) {
        const mdf_msg *m = mdf_req_msg(s->req);
        if (s->awaiting &&
            !rd_kafka_topic_partition_list_find(parts, l->env.topics[m->topic], m->partition))
            return s;
    }
    return NULL;
}

/* At exit, the offsets stored past requests still at their commit point
 * go back to them: the auto-commit or the close would commit them, and
 * the message would never run again. */
static void rewind_awaiting(loop *l)
{
    for (size_t i = 0; l->awaiting && i < l->parts.len; i++) {
        partition_offsets *po = &MDF_VEC_AT(&l->parts, partition_offsets, i);
        int64_t lowest = -1;
        slot *s;
        TAILQ_FOREACH(s, &l->running, link) {
            const mdf_msg *m = mdf_req_msg(s->req);
            if (s->awaiting && s->epoch == po->epoch && m->topic == po->topic &&
                m->partition == po->partition && (lowest < 0 || m->offset < lowest))
                lowest = m->offset;
        }
        if (lowest < 0 || mdf_offsets_stored(po->offsets) <= lowest)
            continue;
        rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tl, l->env.topics[po->topic], po->partition)->offset =
            lowest;
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(l->consumer, tl);
        if (e)
            mdf_warn("offset store %s[%d]@%lld at exit: %s", l->env.topics[po->topic],
                     (int)po->partition, (long long)lowest, rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(tl);
    }
}

/* ---- the requests' port ------------------------------------------------------ */

static void on_delivery(void *opaque, rd_kafka_resp_err_t err)
{
    mdf_request *r = opaque;
    loop *l = mdf_req_env_of(r)->port->ctx;
    if (l->closing)
        return; /* teardown: the request is being dropped unstored anyway */
    if (err) {
        /* its offset can never be stored, which would stall the partition:
         * stop, so that the request is redone (here after a restart, or by
         * another worker) */
        const mdf_msg *m = mdf_req_msg(r);
        mdf_error_f(MDF_FIELDS("topic", l->env.topics[m->topic]),
                    "record of %s[%d]@%lld not delivered: %s; stopping", l->env.topics[m->topic],
                    (int)m->partition, (long long)m->offset, rd_kafka_err2str(err));
        internal_stop(l, "a record of %s[%d]@%lld not delivered: %s", l->env.topics[m->topic],
                      (int)m->partition, (long long)m->offset, rd_kafka_err2str(err));
    }
    mdf_req_delivered(r, err == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Every delivery report, for the records and DLQ counters. */
static void on_record_delivered(void *ctx, const char *topic, rd_kafka_resp_err_t err)
{
    loop *l = ctx;
    mdf_wops_delivered(l->ops, topic, l->env.topics[MDF_TOPIC_DLQ], err);
}

static int port_send(void *ctx, mdf_request *r, mdf_topic t, int32_t partition, const char *key,
                     size_t key_len, const void *value, size_t value_len, const mdf_header *headers,
                     size_t n_headers, char *err, size_t errsz)
{
    loop *l = ctx;
    return mdf_producer_send_to(l->producer, l->env.topics[t],
                                partition < 0 ? RD_KAFKA_PARTITION_UA : partition, key, key_len,
                                value, value_len, headers, n_headers, on_delivery, r, err, errsz);
}

static void slot_free(loop *l, slot *s)
{
    TAILQ_REMOVE(&l->running, s, link);
    if (s->counted)
        l->inflight--;
    if (s->awaiting)
        l->awaiting--;
    mdf_req_free(s->req);
    free(s);
}

static void port_complete(void *ctx, mdf_request *r, bool store)
{
    loop *l = ctx;
    slot *s = mdf_req_owner(r);
    if (store)
        store_offset(l, s);
    slot_free(l, s);
}

static void port_stop(void *ctx, const char *why)
{
    loop *l = ctx;
    internal_stop(l, "%s", why); /* the request has logged it */
}

/* ---- consuming -------------------------------------------------------------------- */

/* Makes s an in-flight request and hands it to its role. */
static void launch(loop *l, slot *s)
{
    TAILQ_INSERT_HEAD(&l->running, s, link);
    if (s->role->role->holds_slot) {
        s->counted = true;
        if (++l->inflight > l->peak_inflight)
            l->peak_inflight = l->inflight;
    }
    /* s may be complete and gone when this returns */
    s->role->role->on_message(s->role->self, s->req);
}

static void start_backlog(loop *l)
{
    slot *s;
    while ((s = TAILQ_FIRST(&l->backlog)) && l->inflight < l->max_inflight && !l->draining) {
        TAILQ_REMOVE(&l->backlog, s, link);
        launch(l, s);
    }
}

/* The request already working on this message, from before a rebalance
 * that gave the partition back to us. A dropped one is not: it will never
 * store, so the message must run again. */
static slot *find_slot(loop *l, mdf_topic t, int32_t partition, int64_t offset)
{
    struct slot_list *lists[2] = {&l->running, &l->backlog};
    for (int i = 0; i < 2; i++) {
        slot *s;
        TAILQ_FOREACH(s, lists[i], link) {
            const mdf_msg *m = mdf_req_msg(s->req);
            if (m->topic == t && m->partition == partition && m->offset == offset &&
                mdf_req_storable(s->req))
                return s;
        }
    }
    return NULL;
}

static void out_of_memory_stop(loop *l, const char *what)
{
    mdf_error("out of memory (%s); stopping", what);
    internal_stop(l, "out of memory (%s)", what);
}

static void out_of_memory(loop *l, const rd_kafka_message_t *m)
{
    /* skipping it would let later offsets be stored past it */
    mdf_error_f(MDF_FIELDS("topic", rd_kafka_topic_name(m->rkt)),
                "out of memory at %s[%d]@%lld; stopping", rd_kafka_topic_name(m->rkt),
                (int)m->partition, (long long)m->offset);
    internal_stop(l, "out of memory at %s[%d]@%lld", rd_kafka_topic_name(m->rkt), (int)m->partition,
                  (long long)m->offset);
}

static void on_message(loop *l, rd_kafka_message_t *m)
{
    char correlation[64];
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            mdf_warn("consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    mdf_topic t = topic_of(l, rd_kafka_topic_name(m->rkt));
    const mdf_loop_role *role = t < MDF_TOPIC__COUNT ? l->by_topic[t] : NULL;
    if (!role) {
        mdf_warn_f(MDF_FIELDS("topic", rd_kafka_topic_name(m->rkt)), "message on %s ignored",
                   rd_kafka_topic_name(m->rkt));
        return;
    }
    partition_offsets *po = offsets_for(l, t, m->partition, true);
    if (!po) {
        out_of_memory(l, m);
        return;
    }
    slot *old = find_slot(l, t, m->partition, m->offset);
    if (old && old->epoch != po->epoch) {
        /* redelivered to us after a rebalance while still in progress here:
         * the running request owns the new assignment's offset, no second run */
        if (mdf_offsets_begin(po->offsets, m->offset) == MDF_OK) {
            old->epoch = po->epoch;
            /* past its commit point: store it again, in this assignment */
            if (old->awaiting)
                store_offset(l, old);
        }
        return;
    }
    mdf_msg msg = {.topic = t,
                   .partition = m->partition,
                   .offset = m->offset,
                   .key = m->key,
                   .key_len = m->key_len,
                   .value = m->payload,
                   .value_len = m->len,
                   .correlation = mdf_message_header(m, MDF_HDR_CORRELATION_ID, correlation,
                                                     sizeof correlation)};
    slot *s = calloc(1, sizeof *s);
    if (s)
        s->req = mdf_req_new(&l->env, &msg, s);
    if (!s || !s->req || mdf_offsets_begin(po->offsets, m->offset) != MDF_OK) {
        if (s)
            mdf_req_free(s->req);
        free(s);
        out_of_memory(l, m);
        return;
    }
    s->role = role;
    s->epoch = po->epoch;
    /* past max_inflight, work that holds a slot waits in the backlog
     * (partitions are paused, but what was already fetched still arrives) */
    if (role->role->holds_slot && l->inflight >= l->max_inflight) {
        TAILQ_INSERT_TAIL(&l->backlog, s, link);
        return;
    }
    launch(l, s);
}

static bool pausable(const loop *l, const char *topic_name)
{
    mdf_topic t = topic_of(l, topic_name);
    return t < MDF_TOPIC__COUNT && l->by_topic[t] && l->by_topic[t]->role->holds_slot;
}

static void set_paused(loop *l, bool pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (l->paused == pause || rd_kafka_assignment(l->consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    /* roles that hold no slot keep consuming: the tracker must see outcomes
     * to end jobs */
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(a->cnt);
    for (int i = 0; i < a->cnt; i++) {
        if (pausable(l, a->elems[i].topic))
            rd_kafka_topic_partition_list_add(tl, a->elems[i].topic, a->elems[i].partition);
    }
    if (pause)
        rd_kafka_pause_partitions(l->consumer, tl);
    else
        rd_kafka_resume_partitions(l->consumer, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    rd_kafka_topic_partition_list_destroy(a);
    l->paused = pause;
    mdf_debug("%s consumption (%d in flight)", pause ? "paused" : "resumed", l->inflight);
}

/* Waiting work from partitions that went to another worker is theirs now
 * (parts NULL: all of it). */
static void drop_backlog_not_in(loop *l, const rd_kafka_topic_partition_list_t *parts)
{
    slot *s, *next;
    for (s = TAILQ_FIRST(&l->backlog); s; s = next) {
        next = TAILQ_NEXT(s, link);
        const mdf_msg *m = mdf_req_msg(s->req);
        if (parts &&
            rd_kafka_topic_partition_list_find(parts, l->env.topics[m->topic], m->partition))
            continue;
        TAILQ_REMOVE(&l->backlog, s, link);
        mdf_req_free(s->req);
        free(s);
    }
}

/* ---- the findings state ------------------------------------------------------ */

/* The findings.state partitions of the state role's partitions in parts
 * that the store does not hold yet, read to their end (bounded by
 * state.restore_timeout_seconds). What is not read in time is missing:
 * those nodes' findings are new again, copies rather than losses. */
static void restore_state(loop *l, const rd_kafka_topic_partition_list_t *parts)
{
    const char *tasks = l->env.topics[l->state_role->role->topics[0]];
    const char *topic = l->env.topics[MDF_TOPIC_FINDINGS_STATE];
    rd_kafka_topic_partition_list_t *rl = rd_kafka_topic_partition_list_new(parts->cnt);
    char err[MDF_ERRSZ];
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (strcmp(parts->elems[i].topic, tasks) != 0 || mdf_state_store_ready(l->store, p))
            continue;
        if (mdf_state_store_set_ready(l->store, p) != MDF_OK) {
            out_of_memory_stop(l, "state store");
            break;
        }
        rd_kafka_topic_partition_list_add(rl, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    int left = rl->cnt, records = 0, refused = 0;
    int64_t start = mdf_mono_ms(), deadline = start + l->restore_timeout_ms;
    /* where each partition ends now: an empty one is read already, and the
     * others are read once their last record is (compaction leaves gaps,
     * so the end-of-partition event ends them too) */
    int64_t *end = calloc((size_t)(rl->cnt ? rl->cnt : 1), sizeof *end);
    for (int i = 0; end && i < rl->cnt; i++) {
        int64_t lo = 0, hi = -1;
        int ms = (int)(deadline - mdf_mono_ms());
        if (ms > 0 && rd_kafka_query_watermark_offsets(l->restorer, topic, rl->elems[i].partition,
                                                       &lo, &hi, ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hi = -1; /* unknown: read to the end-of-partition event */
        end[i] = hi;
        if (hi >= 0 && hi <= lo) {
            rl->elems[i].offset = RD_KAFKA_OFFSET_END; /* marks it read */
            left--;
        }
    }
    if (!end) {
        out_of_memory_stop(l, "state restore");
        left = 0;
    }
    if (left && rd_kafka_assign(l->restorer, rl) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        mdf_warn_f(MDF_FIELDS("topic", topic), "cannot read %s: its nodes' findings are new again",
                   topic);
        left = 0;
    }
    while (left > 0 && mdf_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->restorer, 100);
        /* bounded and progressing: not a stalled loop for /livez */
        mdf_wops_alive(l->ops, mdf_mono_ms());
        if (!m)
            continue;
        int idx = -1;
        for (int i = 0; i < rl->cnt; i++) {
            if (rl->elems[i].partition == m->partition)
                idx = i;
        }
        rd_kafka_topic_partition_t *tp = idx >= 0 ? &rl->elems[idx] : NULL;
        bool last = false;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            last = true;
        } else if (m->err) {
            mdf_warn_f(MDF_FIELDS("topic", topic), "reading %s: %s", topic,
                       rd_kafka_message_errstr(m));
        } else if (mdf_state_store_put(l->store, m->partition, m->key, m->key_len, m->payload,
                                       m->len, err, sizeof err) != MDF_OK) {
            if (refused++ == 0)
                mdf_warn_f(MDF_FIELDS("topic", topic), "%s[%d]: %s", topic, (int)m->partition, err);
        } else {
            records++;
        }
        if (!m->err && tp && end[idx] >= 0 && m->offset >= end[idx] - 1)
            last = true;
        if (last && tp && tp->offset != RD_KAFKA_OFFSET_END) {
            tp->offset = RD_KAFKA_OFFSET_END;
            left--;
        }
        rd_kafka_message_destroy(m);
    }
    free(end);
    for (int i = 0; i < rl->cnt; i++) {
        if (rl->elems[i].offset != RD_KAFKA_OFFSET_END)
            mdf_warn_f(MDF_FIELDS("topic", topic),
                       "%s[%d] not read to its end in %llds: its nodes' findings are new again",
                       topic, (int)rl->elems[i].partition,
                       (long long)(l->restore_timeout_ms / 1000));
    }
    if (rl->cnt) {
        rd_kafka_assign(l->restorer, NULL);
        mdf_info("findings state of %d partitions restored: %d records in %lld ms (%zu nodes, "
                 "%zu bytes held)",
                 rl->cnt, records, (long long)(mdf_mono_ms() - start),
                 mdf_state_store_count(l->store), mdf_state_store_bytes(l->store));
    }
    rd_kafka_topic_partition_list_destroy(rl);
}

/* The store keeps only the state role's partitions in parts (NULL: none). */
static void drop_state_not_in(loop *l, const rd_kafka_topic_partition_list_t *parts)
{
    const char *tasks = l->env.topics[l->state_role->role->topics[0]];
    for (int32_t p = 0; p < l->n_state_parts; p++) {
        if (!parts || !rd_kafka_topic_partition_list_find(parts, tasks, p))
            mdf_state_store_drop(l->store, p);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    loop *l = opaque;
    for (int i = 0; i < parts->cnt; i++) {
        mdf_topic t = topic_of(l, parts->elems[i].topic);
        partition_offsets *po =
            t < MDF_TOPIC__COUNT ? offsets_for(l, t, parts->elems[i].partition, false) : NULL;
        /* offsets begun before are no longer ours to store */
        if (po) {
            mdf_offsets_reset(po->offsets);
            po->epoch++;
        }
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        mdf_info("assigned %d partitions", parts->cnt);
        mdf_wops_assigned(l->ops, parts->cnt);
        drop_backlog_not_in(l, parts);
        /* their commit did not land before the rebalance: the partition's
         * new owner runs them again */
        slot *s;
        while ((s = awaiting_not_in(l, parts)))
            commit_answer(l, s, false);
        if (l->state_role) {
            /* a state held through the revoke before is still ours: no
             * one else owned those partitions in between */
            drop_state_not_in(l, parts);
            restore_state(l, parts);
        }
        rd_kafka_assign(rk, parts);
        /* a partition paused before a revoke stays paused in librdkafka: a
         * new assignment starts running (the loop pauses again if full) */
        rd_kafka_resume_partitions(rk, parts);
        l->paused = false;
    } else {
        mdf_info("revoked %d partitions", parts->cnt);
        mdf_wops_assigned(l->ops, 0);
        for (int i = 0; i < parts->cnt; i++) {
            mdf_topic t = topic_of(l, parts->elems[i].topic);
            const mdf_loop_role *role = t < MDF_TOPIC__COUNT ? l->by_topic[t] : NULL;
            if (role && role->role->on_revoke)
                role->role->on_revoke(role->self, t, parts->elems[i].partition);
        }
        /* lost (not handed over): another worker may have written since */
        if (l->state_role && rd_kafka_assignment_lost(rk))
            drop_state_not_in(l, NULL);
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- setup ---------------------------------------------------------------------- */

/* librdkafka's statistics, served by the consumer's poll on this thread. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    loop *l = opaque;
    (void)rk;
    mdf_wops_consumer_stats(l->ops, json, len);
    return 0; /* librdkafka frees json */
}

static int consumer_new(loop *l, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    /* defaults first: the configuration's kafka.* keys may override them */
    if ((mdf_wops_serving(l->ops) &&
         mdf_kafka_conf_set(conf, "statistics.interval.ms", STATISTICS_INTERVAL, err, errsz)) ||
        mdf_kafka_conf_set(conf, "group.id", "mdefleet-worker", err, errsz) ||
        mdf_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, errsz) ||
        mdf_kafka_conf_set(conf, "enable.auto.commit", "true", err, errsz) ||
        mdf_kafka_conf_set(conf, "auto.commit.interval.ms", "1000", err, errsz) ||
        mdf_config_apply_kafka(l->cfg, conf, err, errsz) != MDF_OK ||
        /* at least once: offsets are stored by hand, after the work */
        mdf_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return MDF_ERR;
    }
    mdf_kafka_set_log(conf, false);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    rd_kafka_conf_set_opaque(conf, l);
    l->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!l->consumer) {
        rd_kafka_conf_destroy(conf);
        return mdf_seterr(err, errsz, "kafka consumer: %s", e);
    }
    conf = NULL; /* owned by the handle now */
    rd_kafka_poll_set_consumer(l->consumer);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(4);
    for (int t = 0; t < MDF_TOPIC__COUNT; t++) {
        if (l->by_topic[t])
            rd_kafka_topic_partition_list_add(subs, l->env.topics[t], RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t re = rd_kafka_subscribe(l->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (re)
        return mdf_seterr(err, errsz, "kafka subscribe: %s", rd_kafka_err2str(re));
    /* wake the loop's poll when messages arrive */
    if (pipe(l->wake_fd) != 0)
        return mdf_seterr(err, errsz, "pipe: %s", strerror(errno));
    fcntl(l->wake_fd[0], F_SETFL, O_NONBLOCK);
    fcntl(l->wake_fd[1], F_SETFL, O_NONBLOCK);
    l->queue = rd_kafka_queue_get_consumer(l->consumer);
    rd_kafka_queue_io_event_enable(l->queue, l->wake_fd[1], "1", 1);
    return MDF_OK;
}

/* The partitions of topic, from the broker. */
static int partitions_of(rd_kafka_t *rk, const char *topic, int32_t *n, char *err, size_t errsz)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int rc = MDF_ERR;
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS) : RD_KAFKA_RESP_ERR__FAIL;
    if (e)
        mdf_seterr(err, errsz, "topic %s: %s", topic, rd_kafka_err2str(e));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        mdf_seterr(err, errsz, "topic %s: %s", topic,
                   rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
                                                  : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    else {
        *n = md->topics[0].partition_cnt;
        rc = MDF_OK;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rc;
}

/* The findings state is co-partitioned with its role's topic: the same
 * key in the same partition number, so a worker owns exactly the state of
 * the nodes it scans. A topic that breaks that stops the worker here,
 * with what to fix. */
static int state_setup(loop *l, char *err, size_t errsz)
{
    const char *tasks = l->env.topics[l->state_role->role->topics[0]];
    const char *topic = l->env.topics[MDF_TOPIC_FINDINGS_STATE];
    rd_kafka_t *p = mdf_producer_handle(l->producer);
    int32_t n_tasks = 0;
    char e[512];
    if (partitions_of(p, tasks, &n_tasks, e, sizeof e) != MDF_OK ||
        partitions_of(p, topic, &l->n_state_parts, e, sizeof e) != MDF_OK)
        return mdf_seterr(err, errsz,
                          "%s; create %s compacted, with as many partitions as %s (config/topics)",
                          e, topic, tasks);
    if (l->n_state_parts != n_tasks)
        return mdf_seterr(err, errsz,
                          "topic %s has %d partitions and %s %d: they must be equal "
                          "(config/topics)",
                          topic, (int)l->n_state_parts, tasks, (int)n_tasks);
    l->restore_timeout_ms = mdf_config_get_int(l->cfg, "state.restore_timeout_seconds") * 1000;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* assign() needs a group id; this one never joins nor commits */
    if (mdf_config_apply_kafka(l->cfg, conf, err, errsz) != MDF_OK ||
        mdf_kafka_conf_set(conf, "group.id", "mdefleet-state-restore", err, errsz) ||
        mdf_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) ||
        mdf_kafka_conf_set(conf, "enable.partition.eof", "true", err, errsz) ||
        /* a restore waits on the end of a partition, not on more records */
        mdf_kafka_conf_set(conf, "fetch.wait.max.ms", "50", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return MDF_ERR;
    }
    mdf_kafka_set_log(conf, false);
    l->restorer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!l->restorer) {
        rd_kafka_conf_destroy(conf);
        return mdf_seterr(err, errsz, "kafka consumer for %s: %s", topic, e);
    }
    rd_kafka_poll_set_consumer(l->restorer);
    return MDF_OK;
}

static int loop_setup(loop *l, mdf_codec *codec, char *err, size_t errsz)
{
    const mdf_config *c = l->cfg;
    TAILQ_INIT(&l->running);
    TAILQ_INIT(&l->backlog);
    mdf_vec_init(&l->parts, sizeof(partition_offsets), MAX_PARTITIONS);
    l->wake_fd[0] = l->wake_fd[1] = -1;
    l->port = (mdf_req_port){port_send, port_complete, port_stop, port_commit, l};
    l->env.port = &l->port;
    l->env.codec = codec;
    mdf_config_codec_opts(c, &l->env.codec_opts);
    for (int t = 0; t < MDF_TOPIC__COUNT; t++)
        l->env.topics[t] = mdf_config_topic_id(c, (mdf_topic)t);
    for (size_t i = 0; i < l->n_roles; i++) {
        for (size_t k = 0; k < l->roles[i].role->n_topics; k++)
            l->by_topic[l->roles[i].role->topics[k]] = &l->roles[i];
        if (l->roles[i].role->keeps_state)
            l->state_role = &l->roles[i];
    }
    l->max_inflight = (int)mdf_config_get_int(c, "worker.max_inflight");
    /* the endpoint first: /livez and /readyz answer while Kafka is awaited */
    if (mdf_wops_new(&l->ops, c, l->wenv->metrics, l->wenv->arm, l->wenv->arm_auth, err, errsz) !=
            MDF_OK ||
        mdf_producer_new(&l->producer, c, err, errsz) != MDF_OK)
        return MDF_ERR;
    mdf_producer_set_observer(l->producer, on_record_delivered, l);
    /* fail fast: without a broker the worker would wait forever */
    if (mdf_kafka_wait_broker(
            mdf_producer_handle(l->producer), mdf_config_get(c, "kafka.bootstrap.servers"),
            mdf_config_get_int(c, "kafka.startup_timeout_seconds") * 1000, err, errsz) != MDF_OK ||
        (l->state_role && state_setup(l, err, errsz) != MDF_OK) ||
        consumer_new(l, err, errsz) != MDF_OK)
        return MDF_ERR;
    return MDF_OK;
}

static void free_list(struct slot_list *list)
{
    slot *s;
    while ((s = TAILQ_FIRST(list))) {
        TAILQ_REMOVE(list, s, link);
        mdf_req_free(s->req); /* abandoned: not stored */
        free(s);
    }
}

static void loop_teardown(loop *l)
{
    /* the producer first: its last delivery reports must not reach requests
     * or a consumer that are gone */
    l->closing = true;
    if (l->consumer)
        rewind_awaiting(l);
    if (l->producer) {
        int left = mdf_producer_close(l->producer, CLOSE_FLUSH_MS);
        if (left)
            mdf_error("%d records not delivered at exit", left);
    }
    if (l->consumer) {
        /* commits what was stored and leaves the group */
        rd_kafka_consumer_close(l->consumer);
        if (l->queue)
            rd_kafka_queue_destroy(l->queue);
        rd_kafka_destroy(l->consumer);
    }
    if (l->restorer) {
        rd_kafka_consumer_close(l->restorer);
        rd_kafka_destroy(l->restorer);
    }
    free_list(&l->running);
    free_list(&l->backlog);
    for (size_t i = 0; i < l->parts.len; i++)
        mdf_offsets_free(MDF_VEC_AT(&l->parts, partition_offsets, i).offsets);
    mdf_vec_free(&l->parts);
    if (l->wake_fd[0] >= 0) {
        close(l->wake_fd[0]);
        close(l->wake_fd[1]);
    }
    /* last: the producer's final delivery reports count */
    mdf_wops_free(l->ops);
}

/* ---- the loop ------------------------------------------------------------------------ */

static void tick(loop *l)
{
    for (size_t i = 0; i < l->n_roles; i++) {
        if (l->roles[i].role->on_tick)
            l->roles[i].role->on_tick(l->roles[i].self);
    }
}

int mdf_loop_run(const mdf_config *cfg, mdf_worker_env *env, const mdf_loop_role *roles,
                 size_t n_roles, volatile sig_atomic_t *stop, char *err, size_t errsz)
{
    loop l = {.cfg = cfg,
              .http = env->http,
              .wenv = env,
              .store = env->store,
              .roles = roles,
              .n_roles = n_roles,
              .stop = stop};
    int rc = MDF_ERR;
    if (loop_setup(&l, env->codec, err, errsz) != MDF_OK)
        goto cleanup;
    mdf_info("started: roles %s, max_inflight %d", mdf_config_get(cfg, "worker.roles"),
             l.max_inflight);
    int64_t next_tick = 0, drain_until = 0;
    for (;;) {
        struct curl_waitfd wfd = {.fd = l.wake_fd[0], .events = CURL_WAIT_POLLIN};
        mdf_http_run(l.http, 100, &wfd, 1);
        char drain[64];
        while (read(l.wake_fd[0], drain, sizeof drain) > 0) {
        }
        if (*stop && !l.draining) {
            /* stop taking work; finish what is in flight within the grace */
            l.draining = true;
            drain_until = mdf_mono_ms() + mdf_config_get_int(cfg, "worker.grace_seconds") * 1000;
            mdf_info("stopping: %d tasks in flight", l.inflight);
        }
        for (int i = 0; i < POLL_BATCH; i++) {
            if (!l.draining && l.inflight >= l.max_inflight)
                set_paused(&l, true);
            rd_kafka_message_t *m = rd_kafka_consumer_poll(l.consumer, 0);
            if (!m)
                break;
            /* draining: not started, its offset is not stored, another worker takes it */
            if (!l.draining)
                on_message(&l, m);
            rd_kafka_message_destroy(m);
        }
        start_backlog(&l);
        if (!l.draining && l.paused && TAILQ_EMPTY(&l.backlog) && l.inflight < l.max_inflight)
            set_paused(&l, false);
        mdf_producer_poll(l.producer, 0);
        int64_t now = mdf_mono_ms();
        mdf_wops_turn(l.ops, now, l.inflight);
        if (now >= next_tick) {
            tick(&l);
            next_tick = now + TICK_MS;
        }
        if (!l.draining && rd_kafka_fatal_error(mdf_producer_handle(l.producer), NULL, 0)) {
            char why[512];
            rd_kafka_fatal_error(mdf_producer_handle(l.producer), why, sizeof why);
            mdf_error("fatal producer error: %s; stopping", why);
            internal_stop(&l, "fatal producer error: %s", why);
        }
        if (l.draining && ((l.inflight == 0 && mdf_producer_outstanding(l.producer) == 0) ||
                           now >= drain_until)) {
            if (l.inflight)
                mdf_warn("grace period over: %d tasks abandoned (redone elsewhere)", l.inflight);
            break;
        }
    }
    mdf_info("stopped: peak %d tasks in flight", l.peak_inflight);
    if (l.stop_reason[0]) {
        mdf_seterr(err, errsz, "stopped on an error: %s", l.stop_reason);
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    loop_teardown(&l);
    return rc;
}
