/* The results of one node's task, as changes since what was last reported
 * about it (finding_state.h):
 *
 *   scans    a Scan Activity once per scan (one not reported before);
 *   threats  a Detection Finding: Create when a threat first appears,
 *            Update when its status changes, Close when it is remediated
 *            or gone from the report;
 *   tickets  one opens when a threat is first seen not remediated or the
 *            node cannot be scanned, and resolves when the threat is
 *            remediated or gone, or when the node scans successfully again.
 *
 * A node that could not be scanned changes nothing about its findings (a
 * failed extract is no evidence that a threat is gone). In snapshot mode
 * every scan and threat of the report is published, and open tickets
 * again, as well as the changes.
 *
 * Event ids are functions of the change (its status and time, or the job
 * for what has no time of its own), never of when it was computed: a task
 * redone from the same state publishes the same records with the same ids,
 * and a lost state publishes copies, never less. Pure: no I/O. */
#ifndef MDF_LIFECYCLE_H
#define MDF_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "finding_state.h"
#include "report.h"
#include "siem.h"

typedef enum { MDF_RESULTS_DELTA, MDF_RESULTS_SNAPSHOT } mdf_results_mode;

/* "delta" or "snapshot"; MDF_ERR for anything else. */
int mdf_results_mode_parse(const char *s, mdf_results_mode *out);

typedef enum { MDF_RESULT_SCAN, MDF_RESULT_THREAT, MDF_RESULT_TICKET } mdf_result_kind;

/* Where the records go: one call per record, in order. key is the
 * record's Kafka key (the node's resource id, or a ticket's dedupe key). */
typedef struct mdf_results_sink {
    void (*emit)(void *arg, mdf_result_kind kind, const char *key, const mdf_buf *record,
                 const char *event_id);
    void *arg;
} mdf_results_sink;

/* What was published, for the node's report and the logs. */
typedef struct mdf_results_counts {
    int64_t scans;                    /* Scan Activities */
    int64_t created, updated, closed; /* Detection Findings by activity */
    int64_t tickets_opened, tickets_updated, tickets_resolved;
    int64_t unwritten; /* records that did not fit their cap (never silent) */
    /* new threats past MDF_RESULTS_MAX_NEW_THREATS: no finding, no ticket
     * and no state for them this time (they are new again next time); the
     * node's report says how many */
    int64_t threats_over_cap;
} mdf_results_counts;

/* New threats one node's task publishes (a Detection Finding and a ticket
 * each): a report listing 1,000,000 must not become 2,000,000 records. As
 * many as a state keeps (more would be new again next time anyway); those
 * already known are not counted against it (the state caps them too). */
#define MDF_RESULTS_MAX_NEW_THREATS MDF_FSTATE_MAX_THREATS

/* The warning for c->threats_over_cap (empty when 0), in the node's report
 * and the worker's log alike; out holds MDF_RESULTS_WARNING_SZ bytes. */
#define MDF_RESULTS_WARNING_SZ 192
void mdf_results_over_cap_warning(const mdf_results_counts *c, char *out, size_t outsz);

/* Computes the changes of a node's task from prev and sends their records
 * to sink; *next (initialized, empty) becomes the node's new state. rep is
 * the report (NULL when the node could not be read), o how the task ended.
 * Returns MDF_ERR (and err) only when out of memory; next is then
 * unusable. */
int mdf_results_apply(const mdf_node_ctx *n, const mdf_report *rep, const mdf_outcome *o,
                      mdf_results_mode mode, const mdf_fstate *prev, mdf_fstate *next,
                      const mdf_results_sink *sink, mdf_results_counts *counts, char *err,
                      size_t errsz);

#endif
