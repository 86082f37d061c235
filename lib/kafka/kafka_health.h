/* What a worker learns about its Kafka beyond producing and consuming:
 * whether a broker answers at start, and the consumer lag per partition
 * from librdkafka's statistics (statistics.interval.ms, stats_cb). */
#ifndef MDF_KAFKA_HEALTH_H
#define MDF_KAFKA_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* MDF_OK once a broker of rk's cluster has answered a metadata request;
 * MDF_ERR (and one line naming the bootstrap servers, with the hint the
 * producer gives) when none did within timeout_ms. */
int mdf_kafka_wait_broker(rd_kafka_t *rk, const char *bootstrap, int64_t timeout_ms, char *err,
                          size_t errsz);

/* Calls cb for each partition of each topic in a statistics document
 * (json, len bytes) that has a known consumer lag (topics.*.partitions.*.
 * consumer_lag >= 0), skipping the internal partition -1. MDF_ERR (and
 * err) when json is not a statistics document. */
typedef void (*mdf_lag_cb)(void *ctx, const char *topic, int32_t partition, int64_t lag);
int mdf_kafka_stats_lag(const char *json, size_t len, mdf_lag_cb cb, void *ctx, char *err,
                        size_t errsz);

#endif
