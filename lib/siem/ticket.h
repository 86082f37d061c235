/* Tickets for the ticketing system (siem.h). A ticket is keyed by its
 * dedupe_key (also the Kafka key), stable for the same problem on the same
 * node, so that a connector upserts: a threat's key follows the finding, a
 * node failure's key is one per node (the failure kind is a field, so a
 * node that fails one way and then another keeps one ticket). A ticket
 * opens and resolves (lifecycle.h decides when). */
#ifndef MDF_TICKET_H
#define MDF_TICKET_H

#include <stdint.h>

#include "buf.h"
#include "eventid.h"
#include "report.h"
#include "siem.h"

typedef enum { MDF_TICKET_OPEN, MDF_TICKET_RESOLVED } mdf_ticket_state;

/* Where the ticket is in its life. */
typedef struct mdf_ticket_life {
    mdf_ticket_state state;
    int64_t first_seen_ms, last_seen_ms; /* MDF_TIME_NONE when unknown */
    int64_t occurrences;                 /* jobs that saw the problem */
    const char *resolution;              /* why it resolved; NULL while open */
    /* What makes this record's event id, with the dedupe key: the same
     * change always has the same key (lifecycle.h). */
    const char *change_key;
} mdf_ticket_life;

/* The dedupe keys. */
void mdf_ticket_threat_key(const mdf_node_ctx *n, const char *finding_uid,
                           char out[MDF_UUID_STRSZ]);
void mdf_ticket_node_key(const mdf_node_ctx *n, char out[MDF_UUID_STRSZ]);

/* A threat's ticket; finding_uid is its finding_info.uid. */
int mdf_ticket_threat(const mdf_node_ctx *n, const mdf_threat *t, const char *finding_uid,
                      const mdf_ticket_life *life, mdf_buf *out, char event_id[MDF_UUID_STRSZ]);
/* The ticket of a node that could not be scanned: failure is its
 * NodeFailure symbol, reason one readable line (may be NULL). */
int mdf_ticket_node_failure(const mdf_node_ctx *n, const char *failure, const char *reason,
                            const mdf_ticket_life *life, mdf_buf *out,
                            char event_id[MDF_UUID_STRSZ]);

#endif
