#include "kafka_producer.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "kafka_log.h"

/* How long a send waits for room in a full local queue before it gives up.
 * The queue drains as the broker acknowledges (or message.timeout.ms
 * expires records), so a longer wait only hides a broker that is gone. */
#define QUEUE_FULL_WAIT_MS 30000
#define QUEUE_FULL_POLL_MS 100
/* After a close that timed out, how long purged records may take to report
 * back (they fail at once; this only bounds a misbehaving library). */
#define PURGE_DRAIN_MS 5000

struct mdf_producer {
    rd_kafka_t *rk;
    /* Records queued and not yet reported. Atomic because the caller may
     * serve delivery reports on another thread than the one sending. */
    atomic_int outstanding;
    /* Set by the error callback on a fatal error (an idempotence guarantee
     * broken): nothing sent afterwards could be trusted. */
    atomic_bool fatal;
    mdf_delivery_observer observer; /* set before any record is sent */
    void *observer_ctx;
};

/* One per queued record, handed to librdkafka as the message opaque and
 * freed by the delivery report callback. */
typedef struct pending {
    mdf_delivery_cb cb;
    void *opaque;
} pending;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *conf_opaque)
{
    (void)rk;
    mdf_producer *p = conf_opaque;
    pending *pd = m->_private;
    atomic_fetch_sub(&p->outstanding, 1);
    if (p->observer)
        p->observer(p->observer_ctx, rd_kafka_topic_name(m->rkt), m->err);
    if (pd) {
        if (pd->cb)
            pd->cb(pd->opaque, m->err);
        free(pd);
    }
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *conf_opaque)
{
    (void)rk;
    (void)reason;
    mdf_producer *p = conf_opaque;
    /* Transient errors (a broker down, a connection refused) are retried by
     * librdkafka until message.timeout.ms and then surface as failed
     * delivery reports: nothing to do here. A fatal error is different:
     * the producer cannot go on, so later sends must fail, not queue. */
    if (code == RD_KAFKA_RESP_ERR__FATAL)
        atomic_store(&p->fatal, true);
}

int mdf_producer_new(mdf_producer **out, const mdf_config *c, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    char errstr[512];
    rd_kafka_conf_t *conf = NULL;
    mdf_producer *p = NULL;
    *out = NULL;

    p = calloc(1, sizeof *p);
    if (!p) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    atomic_init(&p->outstanding, 0);
    atomic_init(&p->fatal, false);
    conf = rd_kafka_conf_new();
    if (mdf_config_apply_kafka(c, conf, err, errsz) != MDF_OK)
        goto cleanup;
    /* Forced after the user's kafka.* settings: "acknowledged" must mean
     * written to every in-sync replica, and retries must not duplicate or
     * reorder (one cluster's requests stay in order). */
    static const char *const forced[][2] = {{"enable.idempotence", "true"}, {"acks", "all"}};
    for (size_t i = 0; i < sizeof forced / sizeof *forced; i++) {
        if (rd_kafka_conf_set(conf, forced[i][0], forced[i][1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            mdf_seterr(err, errsz, "kafka %s: %s", forced[i][0], errstr);
            goto cleanup;
        }
    }
    mdf_kafka_set_log(conf, false);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        mdf_seterr(err, errsz, "kafka producer: %s", errstr);
        goto cleanup;
    }
    conf = NULL; /* owned by p->rk now */
    *out = p;
    p = NULL;
    rc = MDF_OK;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(p);
    return rc;
}

int mdf_producer_close(mdf_producer *p, int timeout_ms)
{
    if (!p)
        return 0;
    rd_kafka_flush(p->rk, timeout_ms);
    int left = atomic_load(&p->outstanding);
    if (left > 0) {
        /* Purging makes librdkafka report every remaining record as failed,
         * so each callback runs exactly once and each pending is freed;
         * rd_kafka_destroy() alone would drop those reports. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t until = mdf_time_now_ms() + PURGE_DRAIN_MS;
        while (atomic_load(&p->outstanding) > 0 && mdf_time_now_ms() < until)
            rd_kafka_poll(p->rk, 50);
    }
    rd_kafka_destroy(p->rk);
    free(p);
    return left;
}

/* The fatal error, if one was raised, as an error line. */
static int fatal_check(mdf_producer *p, char *err, size_t errsz)
{
    char why[512];
    rd_kafka_resp_err_t code = rd_kafka_fatal_error(p->rk, why, sizeof why);
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR && !atomic_load(&p->fatal))
        return MDF_OK;
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
        mdf_strlcpy(why, "unknown", sizeof why);
    return mdf_seterr(err, errsz, "kafka producer failed for good (%s): %s",
                      rd_kafka_err2name(code), why);
}

int mdf_producer_send_to(mdf_producer *p, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t value_len,
                         const mdf_header *headers, size_t n_headers, mdf_delivery_cb cb,
                         void *opaque, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    rd_kafka_headers_t *hdrs = NULL;
    pending *pd = NULL;

    if (fatal_check(p, err, errsz) != MDF_OK)
        goto cleanup;
    pd = malloc(sizeof *pd);
    if (!pd) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    pd->cb = cb;
    pd->opaque = opaque;
    hdrs = rd_kafka_headers_new(n_headers);
    for (size_t i = 0; i < n_headers; i++) {
        rd_kafka_resp_err_t e =
            rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, -1);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            mdf_seterr(err, errsz, "header %s: %s", headers[i].name, rd_kafka_err2str(e));
            goto cleanup;
        }
    }
    int64_t deadline = mdf_time_now_ms() + QUEUE_FULL_WAIT_MS;
    for (;;) {
        /* outstanding goes up first: the delivery report may run (on a
         * polling thread) before producev even returns. */
        atomic_fetch_add(&p->outstanding, 1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(pd), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        atomic_fetch_sub(&p->outstanding, 1);
        /* On failure the headers are still ours (librdkafka takes them only
         * with the message), so a retry reuses them and cleanup frees them. */
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && mdf_time_now_ms() < deadline) {
            /* Serving delivery reports is what makes room. */
            rd_kafka_poll(p->rk, QUEUE_FULL_POLL_MS);
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR__FATAL)
            fatal_check(p, err, errsz);
        else if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            mdf_seterr(err, errsz,
                       "kafka: local queue still full after %d s (%d records unacknowledged): "
                       "is the broker reachable?",
                       QUEUE_FULL_WAIT_MS / 1000, atomic_load(&p->outstanding));
        else
            mdf_seterr(err, errsz, "kafka: cannot queue a record for topic %s: %s", topic,
                       rd_kafka_err2str(e));
        goto cleanup;
    }
    hdrs = NULL; /* owned by the message now */
    pd = NULL;   /* freed by on_delivery */
    rc = MDF_OK;
cleanup:
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    free(pd);
    return rc;
}

int mdf_producer_poll(mdf_producer *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

int mdf_producer_flush(mdf_producer *p, int timeout_ms)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    /* Our own count as well as librdkafka's queue: a report is only
     * "served" once its callback ran. */
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || atomic_load(&p->outstanding) > 0)
        return MDF_ERR;
    return MDF_OK;
}

int mdf_producer_outstanding(const mdf_producer *p)
{
    /* atomic_load wants a non-const object in C11 */
    return atomic_load((atomic_int *)&p->outstanding);
}

void mdf_producer_set_observer(mdf_producer *p, mdf_delivery_observer fn, void *ctx)
{
    p->observer = fn;
    p->observer_ctx = ctx;
}

rd_kafka_t *mdf_producer_handle(mdf_producer *p)
{
    return p->rk;
}

int mdf_producer_send(mdf_producer *p, const char *topic, const void *key, size_t key_len,
                      const void *value, size_t value_len, const mdf_header *headers,
                      size_t n_headers, mdf_delivery_cb cb, void *opaque, char *err, size_t errsz)
{
    return mdf_producer_send_to(p, topic, RD_KAFKA_PARTITION_UA, key, key_len, value, value_len,
                                headers, n_headers, cb, opaque, err, errsz);
}
