/* mdefleet-worker: one event loop serving the Kafka consumer and libcurl's
 * multi interface. Roles (all on by default):
 *   planner   scan.jobs, enforcement.requests -> job.status, node.tasks
 *   executor  node.tasks -> scan.results, threats, node.reports, tickets,
 *             job.status (node outcomes)
 *   tracker   job.status -> job.status (one terminal status per job)
 * A consumed message is a request; its offset is stored only once its work
 * is done and every record it caused is acknowledged, in order per
 * partition (offsets.h). */
#ifndef MDF_WORKER_H
#define MDF_WORKER_H

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "arm.h"
#include "token.h"
#include "blob.h"
#include "avro_codec.h"
#include "config.h"
#include "eventid.h"
#include "http_loop.h"
#include "kafka_producer.h"
#include "offsets.h"
#include "resource_id.h"

typedef enum { T_ENFORCE, T_SCAN_JOBS, T_NODE_TASKS, T_JOB_STATUS, T_SCAN_RESULTS, T_THREATS,
               T_NODE_REPORTS, T_TICKETS, T_DLQ, T__COUNT } topic_id;

typedef struct worker worker;
typedef struct request request;

struct request {
    worker *w;
    topic_id topic;
    int32_t partition;
    int64_t offset;
    char *key;      /* owned copies of the message */
    size_t key_len;
    char *value;
    size_t value_len;
    char correlation[64]; /* correlation-id header, when any */
    int pending;    /* records sent, not yet acknowledged */
    bool work_done; /* the role has sent everything it will */
    bool lost;      /* a record could not be delivered: never store */
    bool counted;   /* holds a slot of worker.max_inflight */
    void *state;    /* the role's, freed with free_state */
    void (*free_state)(void *state);
    uint64_t epoch; /* of its partition's assignment when consumed */
    request *next, *prev;
};

struct partition_offsets {
    topic_id topic;
    int32_t partition;
    uint64_t epoch; /* bumped at each (re)assignment */
    mdf_offsets *offsets;
};

struct tracker;

struct worker {
    mdf_config *cfg;
    mdf_codec *codec;
    mdf_codec_opts codec_opts;
    mdf_producer *producer;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue;
    int wake_fd[2];            /* librdkafka writes here when the queue fills */
    mdf_http *http;
    mdf_auth *auth;
    mdf_arm *arm;
    mdf_blob_cfg blob;
    const char *topics[T__COUNT];
    bool planner, executor, tracker_on;
    int max_inflight, inflight;
    bool paused;
    int limit_time_seconds;
    bool restricted;
    int64_t job_timeout_ms;
    request *requests;          /* in flight */
    request *backlog, *backlog_tail; /* consumed while full, not started */
    struct partition_offsets *parts;
    size_t n_parts, cap_parts;
    struct tracker *trk;
    volatile sig_atomic_t *stop;
    bool draining;
    bool closing; /* teardown: delivery reports only count down */
};

/* ---- worker.c: the loop and what every role uses --------------------------- */

int worker_run(mdf_config *cfg, volatile sig_atomic_t *stop, char *err, size_t errsz);

/* Sends a record caused by r; r's offset waits for its acknowledgement. */
void req_emit(request *r, topic_id t, const char *key, size_t key_len, const void *value,
              size_t value_len, const char *content_type, const char *event_id);
/* Encodes rec (a record of type rt, json-c) with the configured framing
 * and sends it. rec is not consumed. */
void req_emit_avro(request *r, topic_id t, mdf_rec_type rt, json_object *rec, const char *key,
                   const char *event_id);
/* The role is done with r (its offset is stored once all is delivered). */
void req_finish(request *r);
/* r cannot be processed: its bytes and the reason go to the DLQ, then
 * r finishes. */
void req_dead_letter(request *r, const char *reason);

/* A string field of a decoded record; "" when absent or null. */
const char *jstr(json_object *o, const char *key);

/* A JobStatus with the common fields filled (event id from the parts). */
json_object *job_status_new(const char *job_id, const char *job_kind, const char *cluster_id,
                            const char *kind, char event_id[MDF_UUID_STRSZ],
                            const char *id_part);

/* ---- roles ------------------------------------------------------------------- */

void planner_scan_job(request *r);
void planner_enforcement(request *r);
void executor_node_task(request *r);
int tracker_new(worker *w);
void tracker_free(worker *w);
/* A job.status partition was revoked: its open jobs are another tracker's
 * now; their messages are dropped unstored. */
void tracker_revoke(worker *w, int32_t partition);
void tracker_status(request *r);
/* Times jobs out; called from the loop about once a second. */
void tracker_tick(worker *w);

#endif
