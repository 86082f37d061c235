/* The SIEM- and ticket-facing records of one node's report, as JSON:
 *   scan.results  OCSF Scan Activity (class_uid 6007), one per scan (ocsf.h);
 *   threats       OCSF Detection Finding (class_uid 2004), one per threat (ocsf.h);
 *   node.reports  agent health, definitions, counts and outcome of the node
 *                 (node_report.h);
 *   tickets       one per threat not remediated and per node that could not
 *                 be scanned, with a dedupe key stable across scans (ticket.h).
 * Each function appends one record (a JSON object, no newline) to out and
 * fills its deterministic event id (eventid.h). This header has what they
 * share: where a report came from and how the node's task ended. */
#ifndef MDF_SIEM_H
#define MDF_SIEM_H

#include <stdbool.h>
#include <stdint.h>

#include "report.h"

/* Where a report came from. Strings are borrowed; those marked may be
 * NULL when unknown. */
typedef struct mdf_node_ctx {
    const char *job_id;       /* the correlation id */
    const char *cluster_id;   /* ARM resource id of the cluster */
    const char *cluster;      /* its name */
    const char *subscription; /* its subscription (cloud.account.uid) */
    const char *region;       /* its Azure region (cloud.region); may be NULL */
    const char *node_id;      /* ARM resource id of the bare-metal machine */
    const char *node;         /* its resource name */
    const char *machine_name; /* its host name (device.hostname) */
    const char *rack_id;      /* may be NULL */
    /* The agent as the report states it (app version, edr_machine_id);
     * NULL when the node could not be read. */
    const mdf_health *agent;
    int64_t time_ms; /* when the report was read */
} mdf_node_ctx;

/* How the node's task ended. failure is a NodeFailure symbol of
 * schemas/JobStatus.avsc (AgentNotRunning, TimeLimit, OperationFailed,
 * DownloadRefused, DownloadExpired, UnreadableReport, Throttled, Other,
 * DownloadUnauthorized, DownloadForbidden, DownloadBlocked, DownloadMissing) or
 * NULL on success; reason is one readable line. */
typedef struct mdf_outcome {
    bool succeeded;
    const char *failure;
    const char *reason;
} mdf_outcome;

#endif
