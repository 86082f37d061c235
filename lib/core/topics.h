/* The topics of mdefleet: one list, which the configuration (topic keys
 * and names), the worker, the producer and the records (OCSF log_name)
 * all read. Data only: no Kafka here. config/topics has their partitions
 * and cleanup policies for the broker and the deployments. */
#ifndef MDF_TOPICS_H
#define MDF_TOPICS_H

/* The topics: id, name after topics.prefix (and its key under topics.),
 * and what flows on it. */
#define MDF_TOPIC_LIST(X)                                                                          \
    X(MDF_TOPIC_ENFORCE, "enforcement.requests",                                                   \
      "EnforcementChange requests (producer -> planner)")                                          \
    X(MDF_TOPIC_SCAN_JOBS, "scan.jobs", "ScanJob requests (producer -> planner)")                  \
    X(MDF_TOPIC_NODE_TASKS, "node.tasks", "NodeTask per node (planner -> executor)")               \
    X(MDF_TOPIC_JOB_STATUS, "job.status",                                                          \
      "JobStatus events (every role -> tracker, producer --wait)")                                 \
    X(MDF_TOPIC_SCAN_RESULTS, "scan.results", "Scan results for the SIEM")                         \
    X(MDF_TOPIC_THREATS, "threats", "Threat findings for the SIEM")                                \
    X(MDF_TOPIC_NODE_REPORTS, "node.reports", "Agent health per node for the SIEM")                \
    X(MDF_TOPIC_TICKETS, "tickets", "Actionable items for ticketing")                              \
    X(MDF_TOPIC_DLQ, "dlq", "Dead letters: undecodable or failed-for-good records")                \
    X(MDF_TOPIC_FINDINGS_STATE, "findings.state",                                                  \
      "Last reported state per node, compacted (executor -> executor)")

typedef enum {
#define MDF_TOPIC_ENUM(id, name, desc) id,
    MDF_TOPIC_LIST(MDF_TOPIC_ENUM)
#undef MDF_TOPIC_ENUM
        MDF_TOPIC__COUNT
} mdf_topic;

/* "scan.jobs" for MDF_TOPIC_SCAN_JOBS; NULL out of range. */
const char *mdf_topic_key(mdf_topic t);

#endif
