/* The worker's observability, for the loop (loop.h): the metrics the
 * loop itself knows (records produced and failed by topic, DLQ records,
 * consumer lag, Resource Manager requests and budgets, requests in
 * flight, the build), the operations endpoint of metrics.listen
 * (ops_server.h) and what its probes report. The roles register their own
 * metrics in the same registry (role.h).
 *
 * Everything here runs on the loop's thread; the endpoint's thread sees
 * only what mdf_wops_turn publishes. */
#ifndef MDF_WORKER_OPS_H
#define MDF_WORKER_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "arm.h"
#include "config.h"
#include "metrics.h"
#include "token.h"

typedef struct mdf_wops mdf_wops;

/* reg, arm and arm_auth are borrowed and outlive it. Starts the endpoint
 * when metrics.listen is set (and logs where), and asks arm_auth for a
 * first token, which readiness waits for. */
int mdf_wops_new(mdf_wops **out, const mdf_config *cfg, mdf_metrics *reg, mdf_arm *arm,
                 mdf_auth *arm_auth, char *err, size_t errsz);
void mdf_wops_free(mdf_wops *o);

/* Every turn of the loop: the liveness stamp; at most once a second, the
 * readiness of the token, the budgets, and a new snapshot. */
void mdf_wops_turn(mdf_wops *o, int64_t now_ms, int requests_in_flight);
/* Only the liveness stamp: for a bounded wait that makes progress inside
 * one turn (reading findings.state on an assignment). */
void mdf_wops_alive(mdf_wops *o, int64_t now_ms);
/* The consumer's assignment now has n partitions (0: revoked). */
void mdf_wops_assigned(mdf_wops *o, int n);
/* A delivery report of a record of topic (dlq_topic: the DLQ's name). */
void mdf_wops_delivered(mdf_wops *o, const char *topic, const char *dlq_topic,
                        rd_kafka_resp_err_t err);
/* A librdkafka statistics document of the consumer. */
void mdf_wops_consumer_stats(mdf_wops *o, const char *json, size_t len);
/* Whether the endpoint runs (statistics are asked for only then). */
bool mdf_wops_serving(const mdf_wops *o);

#endif
