/* What mdefleet last reported about one node: the record of topic
 * findings.state (compacted, keyed by the node like its node.tasks), from
 * which the lifecycle (lifecycle.h) tells what changed since.
 *
 * The record is JSON (docs/topics.md):
 *   {"v":1,"node_id":..,"job_id":..,"time":ms,
 *    "scans":[event id, ...],                 the scans already published
 *    "threats":[{"uid","tracking_id","name","category","status",
 *                "status_key","detection","first_seen","last_seen",
 *                "occurrences","open"}, ...],
 *    "failure":{"kind","reason","first_seen","last_seen","occurrences"}|null,
 *    "dropped":n}                             threats left out for the cap
 * Its size is capped (MDF_FSTATE_MAX_BYTES): what does not fit is left out,
 * open threats last, and reported again next time (a copy with the same
 * event id, never a loss). */
#ifndef MDF_FINDING_STATE_H
#define MDF_FINDING_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "eventid.h"
#include "vec.h"

#define MDF_FSTATE_VERSION 1
#define MDF_FSTATE_MAX_BYTES (256 * 1024) /* one state record */
#define MDF_FSTATE_MAX_SCANS 256          /* mdatp lists its last 7 */
#define MDF_FSTATE_MAX_THREATS 4096       /* entries parsed or kept */

/* A threat as last reported. Strings are cut to their arrays. */
typedef struct mdf_fstate_threat {
    char uid[MDF_UUID_STRSZ]; /* finding_info.uid */
    char tracking_id[80];
    char name[256];
    char category[64]; /* the CARO type, for a Close once it is gone */
    char status[40];   /* MDE's latest status word; "" when none */
    int64_t status_key;
    int64_t detection_ms;
    int64_t first_seen_ms, last_seen_ms; /* reports that held it */
    int64_t occurrences;                 /* jobs that saw it not remediated */
    bool open;                           /* not remediated: a ticket is open */
} mdf_fstate_threat;

/* The node's open node-failure ticket. */
typedef struct mdf_fstate_failure {
    bool active;
    char kind[40]; /* a NodeFailure symbol */
    char reason[512];
    int64_t first_seen_ms, last_seen_ms;
    int64_t occurrences;
} mdf_fstate_failure;

typedef struct mdf_fstate {
    mdf_vec scans;   /* char[MDF_UUID_STRSZ]: event ids of published scans */
    mdf_vec threats; /* mdf_fstate_threat */
    mdf_fstate_failure failure;
    int64_t dropped; /* threats left out of the last record for the cap */
} mdf_fstate;

void mdf_fstate_init(mdf_fstate *s);
void mdf_fstate_free(mdf_fstate *s);
/* A deep copy of src into dst (initialized). Returns MDF_OK or MDF_ERR. */
int mdf_fstate_copy(mdf_fstate *dst, const mdf_fstate *src, char *err, size_t errsz);

/* Reads a state record into s (initialized and empty). A record of
 * another version, or not this shape, is MDF_ERR (and err): the caller
 * then starts from an empty state. */
int mdf_fstate_parse(const void *data, size_t len, mdf_fstate *s, char *err, size_t errsz);

/* The record of s for node_id after job job_id at time_ms, within
 * MDF_FSTATE_MAX_BYTES: when s does not fit, closed threats are left
 * out first, then the oldest open ones, and *dropped says how many (also
 * in the record). out must be empty. */
int mdf_fstate_write(const mdf_fstate *s, const char *node_id, const char *job_id, int64_t time_ms,
                     mdf_buf *out, int64_t *dropped, char *err, size_t errsz);

/* Lookups; NULL / false when absent. */
const mdf_fstate_threat *mdf_fstate_find_threat(const mdf_fstate *s, const char *uid);
bool mdf_fstate_has_scan(const mdf_fstate *s, const char *event_id);

#endif
