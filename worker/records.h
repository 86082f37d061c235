/* The worker's own Avro records, built as json-c objects for the codec:
 * JobStatus (and its NodeOutcome) and DeadLetter. Pure builders: the
 * caller owns what they return (json_object_put) and emits it. */
#ifndef MDF_WORKER_RECORDS_H
#define MDF_WORKER_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "eventid.h"
#include "metrics.h"

/* Jobs ended, counted where their terminal status is sent: by the planner
 * (a job that fails before its tasks, an enforcement's result) and the
 * tracker (a scan's end). Both register it (metrics.h: one metric). */
extern const mdf_metric_def mdf_jobs_finished_def;

/* A string field of a decoded record; "" when absent or null. */
const char *mdf_jstr(json_object *o, const char *key);

/* A JobStatus with the common fields filled; its event id (written to
 * event_id) is a function of the job, the kind and id_part (a node name,
 * or "" for the job's own steps), so a status produced twice is the same. */
json_object *mdf_rec_job_status(const char *job_id, const char *job_kind, const char *cluster_id,
                                const char *kind, const char *id_part,
                                char event_id[MDF_UUID_STRSZ]);

/* How one node ended, for JobStatus.node_outcome. failure is a NodeFailure
 * symbol or NULL (success); machine_name and reason may be NULL. */
typedef struct mdf_node_result {
    const char *node;
    const char *machine_name;
    bool succeeded;
    const char *failure;
    const char *reason;
    int scans, threats;
} mdf_node_result;

/* A NodeOutcome status of job job_id: the JobStatus with node_outcome set. */
json_object *mdf_rec_node_outcome(const char *job_id, const char *cluster_id,
                                  const mdf_node_result *res, char event_id[MDF_UUID_STRSZ]);

/* The part of a dead letter's original bytes kept: Kafka's default record
 * limit is about 1 MB, and a dead letter that cannot be sent would stall
 * its partition. */
#define MDF_DLQ_PAYLOAD_MAX (256 * 1024)
#define MDF_DLQ_KEY_MAX 1024

/* A DeadLetter of the message at topic[partition]@offset: its bytes (cut
 * to MDF_DLQ_PAYLOAD_MAX, which the reason then says) and the reason. */
json_object *mdf_rec_dead_letter(const char *topic, int32_t partition, int64_t offset,
                                 const char *key, size_t key_len, const char *value,
                                 size_t value_len, const char *correlation, const char *reason,
                                 char event_id[MDF_UUID_STRSZ]);

#endif
