/* The node.reports record (siem.h): one per node per job. */
#ifndef MDF_NODE_REPORT_H
#define MDF_NODE_REPORT_H

#include "buf.h"
#include "eventid.h"
#include "lifecycle.h"
#include "report.h"
#include "siem.h"

/* r is NULL when the node could not be read; changes (may be NULL) is
 * what this job published about the node (lifecycle.h). */
int mdf_node_report(const mdf_node_ctx *n, const mdf_report *r, const mdf_outcome *o,
                    const mdf_results_counts *changes, mdf_buf *out, char event_id[MDF_UUID_STRSZ]);

#endif
