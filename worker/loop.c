/* The worker's loop (loop.h): consumer, producer, HTTP, offsets,
 * back-pressure and shutdown. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "clock.h"
#include "config_load.h"
#include "err.h"
#include "kafka_consumer.h"
#include "kafka_producer.h"
#include "log.h"
#include "offsets.h"
#include "vec.h"

#define POLL_BATCH 500
#define MAX_PARTITIONS 100000 /* partitions one worker may be assigned, all topics */
#define TICK_MS 1000
#define CLOSE_FLUSH_MS 10000

/* The loop's own data on a request. */
typedef struct slot {
    TAILQ_ENTRY(slot) link;
    mdf_request *req;
    const mdf_loop_role *role;
    uint64_t epoch; /* of its partition's assignment when consumed */
    bool counted;   /* holds a slot of worker.max_inflight */
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
    bool paused;
    struct slot_list running; /* in flight */
    struct slot_list backlog; /* consumed while full, not started */
    mdf_vec parts;            /* partition_offsets */
    volatile sig_atomic_t *stop;
    bool draining;
    bool closing; /* teardown: delivery reports are ignored */
} loop;

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
        mdf_debug("offset store %s[%d]@%lld: %s", l->env.topics[m->topic], (int)m->partition,
                  (long long)next, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(tl);
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
        mdf_error("record of %s[%d]@%lld not delivered: %s; stopping", l->env.topics[m->topic],
                  (int)m->partition, (long long)m->offset, rd_kafka_err2str(err));
        *l->stop = 1;
    }
    mdf_req_delivered(r, err == RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int port_send(void *ctx, mdf_request *r, mdf_topic t, const char *key, size_t key_len,
                     const void *value, size_t value_len, const mdf_header *headers,
                     size_t n_headers, char *err, size_t errsz)
{
    loop *l = ctx;
    return mdf_producer_send(l->producer, l->env.topics[t], key, key_len, value, value_len, headers,
                             n_headers, on_delivery, r, err, errsz);
}

static void slot_free(loop *l, slot *s)
{
    TAILQ_REMOVE(&l->running, s, link);
    if (s->counted)
        l->inflight--;
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
    (void)why; /* the request has logged it */
    *l->stop = 1;
}

/* ---- consuming -------------------------------------------------------------------- */

/* Makes s an in-flight request and hands it to its role. */
static void launch(loop *l, slot *s)
{
    TAILQ_INSERT_HEAD(&l->running, s, link);
    if (s->role->role->holds_slot) {
        s->counted = true;
        l->inflight++;
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

static void out_of_memory(loop *l, const rd_kafka_message_t *m)
{
    /* skipping it would let later offsets be stored past it */
    mdf_error("out of memory at %s[%d]@%lld; stopping", rd_kafka_topic_name(m->rkt),
              (int)m->partition, (long long)m->offset);
    *l->stop = 1;
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
        mdf_warn("message on %s ignored", rd_kafka_topic_name(m->rkt));
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
        if (mdf_offsets_begin(po->offsets, m->offset) == MDF_OK)
            old->epoch = po->epoch;
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
        drop_backlog_not_in(l, parts);
        rd_kafka_assign(rk, parts);
        /* a partition paused before a revoke stays paused in librdkafka: a
         * new assignment starts running (the loop pauses again if full) */
        rd_kafka_resume_partitions(rk, parts);
        l->paused = false;
    } else {
        mdf_info("revoked %d partitions", parts->cnt);
        for (int i = 0; i < parts->cnt; i++) {
            mdf_topic t = topic_of(l, parts->elems[i].topic);
            const mdf_loop_role *role = t < MDF_TOPIC__COUNT ? l->by_topic[t] : NULL;
            if (role && role->role->on_revoke)
                role->role->on_revoke(role->self, t, parts->elems[i].partition);
        }
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- setup ---------------------------------------------------------------------- */

static int consumer_new(loop *l, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    /* defaults first: the configuration's kafka.* keys may override them */
    if (mdf_kafka_conf_set(conf, "group.id", "mdefleet-worker", err, errsz) ||
        mdf_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, errsz) ||
        mdf_kafka_conf_set(conf, "enable.auto.commit", "true", err, errsz) ||
        mdf_kafka_conf_set(conf, "auto.commit.interval.ms", "1000", err, errsz) ||
        mdf_config_apply_kafka(l->cfg, conf, err, errsz) != MDF_OK ||
        /* at least once: offsets are stored by hand, after the work */
        mdf_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return MDF_ERR;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
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

static int loop_setup(loop *l, mdf_codec *codec, char *err, size_t errsz)
{
    const mdf_config *c = l->cfg;
    TAILQ_INIT(&l->running);
    TAILQ_INIT(&l->backlog);
    mdf_vec_init(&l->parts, sizeof(partition_offsets), MAX_PARTITIONS);
    l->wake_fd[0] = l->wake_fd[1] = -1;
    l->port = (mdf_req_port){port_send, port_complete, port_stop, l};
    l->env.port = &l->port;
    l->env.codec = codec;
    mdf_config_codec_opts(c, &l->env.codec_opts);
    for (int t = 0; t < MDF_TOPIC__COUNT; t++)
        l->env.topics[t] = mdf_config_topic_id(c, (mdf_topic)t);
    for (size_t i = 0; i < l->n_roles; i++) {
        for (size_t k = 0; k < l->roles[i].role->n_topics; k++)
            l->by_topic[l->roles[i].role->topics[k]] = &l->roles[i];
    }
    l->max_inflight = (int)mdf_config_get_int(c, "worker.max_inflight");
    if (mdf_producer_new(&l->producer, c, err, errsz) != MDF_OK ||
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
    free_list(&l->running);
    free_list(&l->backlog);
    for (size_t i = 0; i < l->parts.len; i++)
        mdf_offsets_free(MDF_VEC_AT(&l->parts, partition_offsets, i).offsets);
    mdf_vec_free(&l->parts);
    if (l->wake_fd[0] >= 0) {
        close(l->wake_fd[0]);
        close(l->wake_fd[1]);
    }
}

/* ---- the loop ------------------------------------------------------------------------ */

static void tick(loop *l)
{
    for (size_t i = 0; i < l->n_roles; i++) {
        if (l->roles[i].role->on_tick)
            l->roles[i].role->on_tick(l->roles[i].self);
    }
}

int mdf_loop_run(const mdf_config *cfg, mdf_http *http, mdf_codec *codec,
                 const mdf_loop_role *roles, size_t n_roles, volatile sig_atomic_t *stop, char *err,
                 size_t errsz)
{
    loop l = {.cfg = cfg, .http = http, .roles = roles, .n_roles = n_roles, .stop = stop};
    int rc = MDF_ERR;
    if (loop_setup(&l, codec, err, errsz) != MDF_OK)
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
        if (now >= next_tick) {
            tick(&l);
            next_tick = now + TICK_MS;
        }
        if (!l.draining && rd_kafka_fatal_error(mdf_producer_handle(l.producer), NULL, 0)) {
            mdf_error("fatal producer error: stopping");
            *stop = 1;
        }
        if (l.draining && ((l.inflight == 0 && mdf_producer_outstanding(l.producer) == 0) ||
                           now >= drain_until)) {
            if (l.inflight)
                mdf_warn("grace period over: %d tasks abandoned (redone elsewhere)", l.inflight);
            break;
        }
    }
    rc = MDF_OK;
cleanup:
    loop_teardown(&l);
    return rc;
}
