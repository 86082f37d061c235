/* Tickets for the ticketing system (siem.h), with a dedupe key stable
 * across scans so that a connector upserts instead of duplicating. */
#ifndef MDF_TICKET_H
#define MDF_TICKET_H

#include "buf.h"
#include "eventid.h"
#include "report.h"
#include "siem.h"

/* For a threat whose latest status is not remediated. */
int mdf_ticket_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                      char event_id[MDF_UUID_STRSZ]);
/* For a node that could not be scanned (o->succeeded false). */
int mdf_ticket_node_failure(const mdf_node_ctx *n, const mdf_outcome *o, mdf_buf *out,
                            char event_id[MDF_UUID_STRSZ]);

#endif
