/* The simulated Azure: clusters with their current enforcement level,
 * bearer tokens, long-running operations and their result blobs, the
 * throttling buckets. One mutex guards all of it; every function here except
 * sim_state_new/free expects the caller to hold it.
 *
 * Nothing runs in the background: an operation is a start and an end time,
 * and its status, percentComplete and effects (a PATCH's new level, the
 * scans a scanRuntime adds to the nodes' reports) are worked out from those
 * timestamps whenever someone looks.
 *
 * Two clocks. Real time (monotonic ms) is what a client waits: every
 * simulated duration is multiplied by time_scale. Simulated time (epoch ms)
 * is what answers show: it starts at the wall clock when the simulator
 * starts and runs 1/time_scale times faster, so an operation that lasts
 * 20 s in the scenario shows startTime and endTime 20 s apart while it takes
 * 20 * time_scale real seconds. */
#ifndef SIM_STATE_H
#define SIM_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentinfo.h"
#include "buf.h"
#include "scenario.h"
#include "strmap.h"
#include "token.h"
#include "token_bucket.h"
#include "util.h"
#include "vec.h"

#define SIM_MAX_OPS 100000  /* operations kept; more are refused with 503 */
#define SIM_MAX_TOKENS 4096 /* live bearer tokens; the oldest is forgotten first */
#define SIM_TOKEN_LEN 64
#define SIM_SIG_LEN 44   /* base64 of 32 bytes */
#define SIM_KEEP_SCANS 7 /* simulated scans kept per cluster: mdatp lists 7 */
#define SIM_CORRID_SZ 72

typedef enum { SIM_OP_PATCH, SIM_OP_SCAN, SIM_OP_EXTRACT } sim_op_kind;
typedef enum { SIM_OPST_RUNNING, SIM_OPST_SUCCEEDED, SIM_OPST_FAILED } sim_opst;
/* Whom a token is for: the resource it was asked for. */
typedef enum { SIM_AUD_ARM, SIM_AUD_STORAGE, SIM_AUD_OTHER } sim_audience;

/* The audience of a resource (or scope without "/.default"): Resource
 * Manager's and Storage's URIs, with or without trailing slashes (and
 * management.core.windows.net, ARM's older name), else other. */
sim_audience sim_audience_of(const char *resource);

typedef enum {
    SIM_TOKEN_OK,
    SIM_TOKEN_EXPIRED,
    SIM_TOKEN_UNKNOWN,
    SIM_TOKEN_WRONG_AUDIENCE
} sim_token_check;

typedef struct sim_op {
    char id[MDF_UUID_STRSZ];
    sim_op_kind kind;
    size_t cluster, node; /* scenario indices; node only for extracts */
    int64_t real_start_ms, real_end_ms;
    int64_t sim_start_ms, sim_end_ms;
    char correlation_id[SIM_CORRID_SZ];
    /* the outcome, decided when the operation is created */
    bool fails;
    char error_code[48];
    char error_message[256];
    /* PATCH; -1: unchanged */
    int new_level;       /* a sim_level */
    int new_update_mode; /* 0: None, 1: Automatic */
    bool applied;
    /* SCAN: scanActivity "Skip" runs no scan */
    bool skip_scan;
    /* EXTRACT */
    const sim_faults *faults; /* the node's when the op was created: they shape it and its blob */
    bool restricted;
    int64_t limit_s;
    int exit_code;
    bool agent_down, timed_out;
    bool has_result; /* a resultUrl and a blob */
    char blob_id[MDF_UUID_STRSZ];
    char sig[SIM_SIG_LEN + 1];
    int64_t sas_start_ms, sas_expiry_ms; /* simulated */
    unsigned downloads;                  /* bodies served so far */
    int64_t blob_gets;                   /* customer storage: GETs that reached the blob faults */
    bool archive_ready;
    mdf_buf archive; /* immutable once ready; lives until sim_state_free */
    char etag[24];
} sim_op;

typedef struct sim_cluster_rt {
    sim_level level;
    bool update_automatic; /* definitionUpdateMode */
    int64_t modified_sim_ms;
    sim_op *last_scan;             /* shown in actionStates */
    sim_op *scans[SIM_KEEP_SCANS]; /* the latest scanRuntime ops that scan, oldest first */
    size_t n_scans;
    int64_t *fivexx_left; /* per node: 503s still to answer (faults.http_5xx) */
} sim_cluster_rt;

typedef struct sim_token {
    char value[SIM_TOKEN_LEN + 1];
    int64_t real_expiry_ms;
    int64_t sim_expiry_ms;
    sim_audience audience;
    const char *client_id; /* the scenario's, or sim_state.imds_client_id */
} sim_token;

typedef struct sim_state {
    pthread_mutex_t mu;
    sim_scenario *sc; /* owned */
    int64_t real0_ms, sim0_ms;
    sim_cluster_rt *clusters;
    sim_token *tokens;                   /* ring of SIM_MAX_TOKENS */
    char imds_client_id[MDF_UUID_STRSZ]; /* the managed identity's */
    size_t next_token;
    mdf_vec ops; /* sim_op *, at most SIM_MAX_OPS; each op malloc'd so index keys stay put */
    mdf_strmap op_index, blob_index;
    mdf_vec pending_patches; /* sim_op * of ops (so at most SIM_MAX_OPS): PATCHes to apply */
    /* Resource Manager's request budgets, a pair per served subscription
     * (indexed as sc->subscriptions), each configured by budgets.reads and
     * budgets.writes. They refill in real time, never scaled by
     * time_scale, so that throttling tests behave like Azure. */
    struct {
        mdf_token_bucket reads, writes;
    } budgets[SIM_MAX_SUBSCRIPTIONS];
    /* POST /_admin/next-phase: the phases applied so far (0 or 1, as a node
     * has at most one `next`) and, once applied, the real monotonic ms it
     * was applied at. Everything the nodes do is worked out against it, as
     * against the operations' times. */
    int64_t phase;
    int64_t phase_real_ms;
} sim_state;

/* Takes ownership of sc (also on failure). */
int sim_state_new(sim_scenario *sc, sim_state **out, char *err, size_t errsz);
void sim_state_free(sim_state *st);
void sim_state_lock(sim_state *st);
void sim_state_unlock(sim_state *st);

/* Simulated epoch ms at real monotonic time real_ms. */
int64_t sim_state_sim_ms(const sim_state *st, int64_t real_ms);
/* Simulated seconds as real milliseconds (at least 0). */
int64_t sim_state_real_ms(const sim_state *st, double sim_seconds);

/* The node's report and faults at real time real_ms: its `next` once the
 * phase that real_ms falls in has it, else the scenario's report and faults. */
const sim_report *sim_state_report(const sim_state *st, size_t cluster, size_t node,
                                   int64_t real_ms);
const sim_faults *sim_state_faults(const sim_state *st, size_t cluster, size_t node,
                                   int64_t real_ms);
/* Moves to the next phase at real_ms: every node with a `next` takes it.
 * Returns how many nodes changed; 0, and st->phase unchanged, when there is
 * no further phase (it was applied already, or no node has a `next`). */
size_t sim_state_next_phase(sim_state *st, int64_t real_ms);

/* Applies the effects of operations that ended by real_ms (a PATCH's level). */
void sim_state_settle(sim_state *st, int64_t real_ms);

/* Lookups (case-insensitive, like ARM): index or -1. sub is an index in
 * sc->subscriptions: a cluster and its groups exist only in their own. */
int sim_state_cluster(const sim_state *st, size_t sub, const char *rg, const char *name);
int sim_state_cluster_by_managed_rg(const sim_state *st, size_t sub, const char *managed_rg);
int sim_state_node(const sim_state *st, size_t cluster, const char *name);
bool sim_state_rg_exists(const sim_state *st, size_t sub, const char *rg);

/* Issues a bearer token for audience to client_id (which must outlive the
 * state); *sim_expiry_ms is its expiry on the simulated clock. */
int sim_state_token_issue(sim_state *st, sim_audience audience, const char *client_id,
                          int64_t real_ms, char out[SIM_TOKEN_LEN + 1], int64_t *sim_expiry_ms);
/* Checks a token presented to the service of audience `want`: a known
 * token of another audience is WRONG_AUDIENCE whether it expired or not.
 * For a known token, *sim_expiry_ms is when it expires(d) on the simulated
 * clock and *client_id whom it was issued to. */
sim_token_check sim_state_token_check(const sim_state *st, const char *value, sim_audience want,
                                      int64_t real_ms, int64_t *sim_expiry_ms,
                                      const char **client_id);

/* A new running operation lasting sim_seconds (an extract's duration and
 * outcome come from the node's faults and limit_s instead); NULL with err
 * when the table is full or memory ran out. */
sim_op *sim_state_op_new(sim_state *st, sim_op_kind kind, size_t cluster, size_t node,
                         double sim_seconds, int64_t limit_s, int64_t real_ms, char *err,
                         size_t errsz);
/* A PATCH takes effect when it ends: queues it for sim_state_settle. */
int sim_state_patch_pending(sim_state *st, sim_op *op);
/* Records a scanRuntime op on its cluster (actionStates, scans for reports). */
void sim_state_scan_started(sim_state *st, sim_op *op);
sim_op *sim_state_op_find(const sim_state *st, const char *id);
sim_op *sim_state_blob_find(const sim_state *st, const char *blob_id);
sim_opst sim_op_status(const sim_op *op, int64_t real_ms);

/* The simulated scans that a report of this node taken at sim_ms shows:
 * up to SIM_KEEP_SCANS of its cluster's, oldest first, leaving out those
 * that started while the node's agent was not running; returns how many. */
size_t sim_state_extra_scans(const sim_state *st, size_t cluster, size_t node, int64_t sim_ms,
                             sim_extra_scan out[SIM_KEEP_SCANS]);

/* Builds the result archive of a finished extract once (then reuses it). */
int sim_state_op_archive(sim_state *st, sim_op *op, char *err, size_t errsz);

#endif
