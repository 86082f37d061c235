/* OCSF records for the SIEM (siem.h): Scan Activity (6007) on
 * scan.results, Detection Finding (2004) on threats. */
#ifndef MDF_OCSF_H
#define MDF_OCSF_H

#include "buf.h"
#include "eventid.h"
#include "report.h"
#include "siem.h"

#define OCSF_VERSION "1.3.0"

int mdf_ocsf_scan(const mdf_node_ctx *n, const mdf_scan *s, mdf_buf *out,
                  char event_id[MDF_UUID_STRSZ]);
/* finding_info.uid is stable for the same threat on the same node across
 * scans (cluster, node, tracking id; name and detection time without one). */
int mdf_ocsf_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                    char event_id[MDF_UUID_STRSZ]);

#endif
