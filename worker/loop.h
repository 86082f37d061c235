/* The worker's loop: one thread serving the Kafka consumer and libcurl's
 * multi interface. It owns the consumer and the producer, polling,
 * pausing, assignment and shutdown; it turns each consumed message into a
 * request (request.h) and hands it to the role of its topic (role.h).
 *
 * At least once, nothing lost: a message's offset is stored only once its
 * request is complete (finished, every record acknowledged), in order per
 * partition even when requests finish out of order (offsets.h). Past
 * worker.max_inflight the partitions of slot-holding roles are paused and
 * what was already fetched waits in a backlog. On a revoke, offsets begun
 * before are no longer stored and the roles hear of it; a message
 * redelivered while its request still runs here is adopted by it. Before
 * a role that keeps_state gets messages of a partition, the partition's
 * findings.state is read to its end into the store. On
 * *stop: no new work, in-flight work gets worker.grace_seconds, then the
 * group is left and the producer flushed. */
#ifndef MDF_WORKER_LOOP_H
#define MDF_WORKER_LOOP_H

#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "env.h"
#include "role.h"

/* A role registered with the loop, with its state from init. */
typedef struct mdf_loop_role {
    const mdf_role *role;
    void *self;
} mdf_loop_role;

/* Runs until *stop is set and the work drained. From env: http, the event
 * loop the roles' Azure calls run on; codec, to encode and decode
 * records; store, the findings state the loop restores for a role that
 * keeps_state; the metrics, ARM client and token provider the operations
 * endpoint reports on (ops.h). Returns MDF_OK after a clean stop, MDF_ERR
 * (and err) when it could not start: among others when no Kafka broker
 * answers within kafka.startup_timeout_seconds. */
int mdf_loop_run(const mdf_config *cfg, mdf_worker_env *env, const mdf_loop_role *roles,
                 size_t n_roles, volatile sig_atomic_t *stop, char *err, size_t errsz);

#endif
