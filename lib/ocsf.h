/* The SIEM- and ticket-facing records of one node's report, as JSON:
 *   scan.results  OCSF Scan Activity (class_uid 6007), one per scan;
 *   threats       OCSF Detection Finding (class_uid 2004), one per threat;
 *   node.reports  agent health, definitions, counts and outcome of the node;
 *   tickets       one per threat not remediated and per node that could not
 *                 be scanned, with a dedupe key stable across scans.
 * Each function appends one record (a JSON object, no newline) to out and
 * fills its deterministic event id (eventid.h). */
#ifndef MDF_OCSF_H
#define MDF_OCSF_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "eventid.h"
#include "report.h"

#define OCSF_VERSION "1.3.0"

/* Where a report came from. Strings are borrowed. */
typedef struct mdf_node_ctx {
    const char *job_id;       /* the correlation id */
    const char *cluster_id;   /* ARM resource id of the cluster */
    const char *node_id;      /* ARM resource id of the bare-metal machine */
    const char *node;         /* its resource name */
    const char *machine_name; /* its host name (device.hostname) */
    const char *rack_id;      /* may be NULL */
    int64_t time_ms;          /* when the report was read */
} mdf_node_ctx;

/* How the node's task ended. failure is a NodeFailure symbol of
 * schemas/JobStatus.avsc (AgentNotRunning, TimeLimit, OperationFailed,
 * DownloadRefused, DownloadExpired, UnreadableReport, Throttled, Other) or
 * NULL on success; reason is one readable line. */
typedef struct mdf_outcome {
    bool succeeded;
    const char *failure;
    const char *reason;
} mdf_outcome;

int mdf_ocsf_scan(const mdf_node_ctx *n, const mdf_scan *s, mdf_buf *out,
                  char event_id[MDF_UUID_STRSZ]);
/* finding_info.uid is stable for the same threat on the same node across
 * scans (cluster, node, tracking id; name and detection time without one). */
int mdf_ocsf_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                    char event_id[MDF_UUID_STRSZ]);
/* r is NULL when the node could not be read. */
int mdf_node_report(const mdf_node_ctx *n, const mdf_report *r, const mdf_outcome *o,
                    mdf_buf *out, char event_id[MDF_UUID_STRSZ]);
/* For a threat whose latest status is not remediated. */
int mdf_ticket_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                      char event_id[MDF_UUID_STRSZ]);
/* For a node that could not be scanned (o->succeeded false). */
int mdf_ticket_node_failure(const mdf_node_ctx *n, const mdf_outcome *o, mdf_buf *out,
                            char event_id[MDF_UUID_STRSZ]);

#endif
