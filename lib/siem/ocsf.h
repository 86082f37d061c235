/* OCSF 1.8.0 records for the SIEM (siem.h): Scan Activity (6007) on
 * scan.results, Detection Finding (2004) on threats. Each record declares
 * the profiles it uses (metadata.profiles) and puts what OCSF has no
 * attribute for (rack, cluster, job) under "unmapped". */
#ifndef MDF_OCSF_H
#define MDF_OCSF_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "eventid.h"
#include "report.h"
#include "siem.h"

#define OCSF_VERSION "1.8.0"

/* One Scan Activity. Its event id is a function of the node and the scan
 * (type, start, end): the same scan always gives the same id. */
int mdf_ocsf_scan(const mdf_node_ctx *n, const mdf_scan *s, mdf_buf *out,
                  char event_id[MDF_UUID_STRSZ]);

/* A finding's activities (OCSF's activity_id of a finding class). */
typedef enum {
    MDF_FINDING_CREATE = 1,
    MDF_FINDING_UPDATE = 2,
    MDF_FINDING_CLOSE = 3,
} mdf_finding_activity;

/* What happened to a finding, as the lifecycle (lifecycle.h) decided. */
typedef struct mdf_finding_change {
    mdf_finding_activity activity;
    /* Not remediated: status New on Create, In Progress on Update;
     * otherwise Resolved. */
    bool open;
    /* Closed because the threat is no longer in the report (t carries
     * what was last known of it). */
    bool gone;
    int64_t time_ms;                     /* the change's own time; MDF_TIME_NONE: the report's */
    int64_t first_seen_ms, last_seen_ms; /* MDF_TIME_NONE when unknown */
    /* What makes this change's event id: the same change always has the
     * same key (lifecycle.h), so a record produced twice has one id. */
    const char *change_key;
} mdf_finding_change;

/* One Detection Finding of threat t. finding_info.uid is stable for the
 * same threat on the same node across scans and activities
 * (siem_finding_uid). */
int mdf_ocsf_threat(const mdf_node_ctx *n, const mdf_threat *t, const mdf_finding_change *c,
                    mdf_buf *out, char event_id[MDF_UUID_STRSZ]);

#endif
