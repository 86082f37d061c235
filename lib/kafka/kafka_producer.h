/* Kafka producing with delivery tracking, for every program. A record is
 * sent with its headers (content-type, event-id, correlation-id) and a
 * callback that learns whether the broker acknowledged it; the worker stores
 * a request's offset only after every record it caused is acknowledged. */
#ifndef MDF_KAFKA_PRODUCER_H
#define MDF_KAFKA_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kafka_record.h"

typedef struct mdf_producer mdf_producer;

/* Called once per record, from mdf_producer_poll()/flush(): err is
 * RD_KAFKA_RESP_ERR_NO_ERROR when the broker acknowledged it. */
typedef void (*mdf_delivery_cb)(void *opaque, rd_kafka_resp_err_t err);

/* A producer configured from c's kafka.* keys, with acks=all and
 * idempotence on, so that a record acknowledged is a record kept. */
int mdf_producer_new(mdf_producer **out, const mdf_config *c, char *err, size_t errsz);
/* Flushes up to timeout_ms, then destroys. Returns the records still
 * unacknowledged (0 when everything was delivered). */
int mdf_producer_close(mdf_producer *p, int timeout_ms);

/* Copies key, value and headers. A full local queue makes it serve
 * delivery reports and wait (bounded) rather than fail at once. MDF_ERR
 * (and err) when the record cannot be queued; cb is then not called. */
int mdf_producer_send(mdf_producer *p, const char *topic, const void *key, size_t key_len,
                      const void *value, size_t value_len, const mdf_header *headers,
                      size_t n_headers, mdf_delivery_cb cb, void *opaque, char *err, size_t errsz);
/* The same to one partition (RD_KAFKA_PARTITION_UA: the partitioner's
 * choice by key): a state record goes where the work it records is. */
int mdf_producer_send_to(mdf_producer *p, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t value_len,
                         const mdf_header *headers, size_t n_headers, mdf_delivery_cb cb,
                         void *opaque, char *err, size_t errsz);
/* Serves delivery reports; returns how many were served. */
int mdf_producer_poll(mdf_producer *p, int timeout_ms);
/* Waits until every queued record is acknowledged or failed; MDF_ERR on
 * timeout. */
int mdf_producer_flush(mdf_producer *p, int timeout_ms);
/* Records queued and not yet reported. */
int mdf_producer_outstanding(const mdf_producer *p);
/* Told of every delivery report before its record's callback, with the
 * record's topic (for metrics: records produced and failed by topic). From
 * the thread serving the reports; fn NULL: none. */
typedef void (*mdf_delivery_observer)(void *ctx, const char *topic, rd_kafka_resp_err_t err);
void mdf_producer_set_observer(mdf_producer *p, mdf_delivery_observer fn, void *ctx);
/* The underlying handle (for a fatal-error check or stats). */
rd_kafka_t *mdf_producer_handle(mdf_producer *p);

#endif
