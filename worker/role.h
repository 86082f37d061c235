/* A role of the worker: what it does with the messages of its topics.
 *
 *   planner   scan.jobs, enforcement.requests -> job.status, node.tasks
 *   executor  node.tasks -> scan.results, threats, node.reports, tickets,
 *             job.status (node outcomes), findings.state (the nodes' state)
 *   tracker   job.status -> job.status (one terminal status per job)
 *
 * A role implements struct mdf_role and sees only its environment
 * (mdf_role_env) and the requests it is handed (request.h); main.c
 * registers the roles with the loop (loop.h). Arrows go loop -> request <-
 * roles: a role never includes the loop, and the loop knows roles only
 * through this interface. */
#ifndef MDF_WORKER_ROLE_H
#define MDF_WORKER_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arm.h"
#include "avro_codec.h"
#include "blob.h"
#include "config.h"
#include "metrics.h"
#include "request.h"

/* Azure as the roles use it: the ARM operations and the download of a
 * result archive. Each call returns MDF_ERR (and err) only when it cannot
 * start; otherwise its callback follows, from the worker's event loop.
 * The worker binds it to the ARM client, the HTTP loop and the blob
 * settings (env.c); the role tests bind it to a scripted fake. */
typedef struct mdf_az {
    int (*get_cluster)(void *ctx, const char *sub, const char *rg, const char *cluster,
                       mdf_arm_cluster_cb cb, void *arg, char *err, size_t errsz);
    int (*set_enforcement)(void *ctx, const char *sub, const char *rg, const char *cluster,
                           const char *level, mdf_arm_cluster_cb cb, void *arg, char *err,
                           size_t errsz);
    int (*scan_runtime)(void *ctx, const char *sub, const char *rg, const char *cluster,
                        mdf_arm_op_cb cb, void *arg, char *err, size_t errsz);
    int (*list_bmms)(void *ctx, const char *sub, const char *managed_rg, mdf_arm_bmms_cb cb,
                     void *arg, char *err, size_t errsz);
    int (*run_data_extract)(void *ctx, const char *sub, const char *managed_rg, const char *bmm,
                            int limit_time_seconds, bool restricted, mdf_arm_op_cb cb, void *arg,
                            char *err, size_t errsz);
    /* The result archive at url (a SAS URL today) into memory. */
    int (*download)(void *ctx, const char *url, mdf_blob_cb cb, void *arg, char *err, size_t errsz);
    void *ctx;
} mdf_az;

/* The findings state of the nodes of a role's partitions, by partition
 * and key, restored before their messages arrive (state_store.h). The
 * worker binds it to its store; the role tests to a map of their own. */
typedef struct mdf_state_port {
    /* key's value in partition p, borrowed until the next put; NULL when
     * none */
    const char *(*get)(void *ctx, int32_t p, const char *key, size_t key_len, size_t *len);
    /* Keeps value as key's (the role also sends it to findings.state). */
    int (*put)(void *ctx, int32_t p, const char *key, size_t key_len, const void *value, size_t len,
               char *err, size_t errsz);
    void *ctx;
} mdf_state_port;

/* What a role is given; it outlives the role. */
typedef struct mdf_role_env {
    const mdf_config *cfg; /* its settings (extract.*, job.*, ...) */
    mdf_codec *codec;      /* to decode its messages (request.h decodes too) */
    const mdf_az *az;
    const mdf_state_port *state; /* for a role that keeps_state */
    int64_t (*mono_ms)(void);    /* the monotonic clock: mdf_mono_ms, or a test's */
    int64_t (*now_ms)(void);     /* the wall clock (epoch ms, as records' times) */
    /* Runs work(arg) off the loop's thread, then done(arg, false) on it:
     * mdf_http_offload's contract (http_loop.h); the role tests run both
     * at once. MDF_ERR: not taken (the role may do the work itself). */
    int (*offload)(void *ctx, mdf_work_fn work, mdf_work_done_fn done, void *arg);
    void *offload_ctx;
    mdf_metrics *metrics; /* where a role registers its metrics (NULL: none) */
} mdf_role_env;

typedef struct mdf_role {
    const char *name; /* as in worker.roles */
    mdf_topic topics[2];
    size_t n_topics;
    /* Its requests wait on Azure and count against worker.max_inflight;
     * when they are all taken, its partitions are paused. A role that
     * does not hold slots (the tracker) keeps consuming. */
    bool holds_slot;
    /* The findings.state partitions matching those of topics[0] are read
     * to their end (env->state) before any of their messages is handed
     * over. */
    bool keeps_state;
    int (*init)(const mdf_role_env *env, void **self, char *err, size_t errsz);
    /* r is the role's until it finishes, drops or dead-letters it. */
    void (*on_message)(void *self, mdf_request *r);
    /* The partition went to another worker (NULL: nothing to do). */
    void (*on_revoke)(void *self, mdf_topic t, int32_t partition);
    /* About once a second (NULL: never). */
    void (*on_tick)(void *self);
    void (*fini)(void *self);
} mdf_role;

extern const mdf_role mdf_role_planner;
extern const mdf_role mdf_role_executor;
extern const mdf_role mdf_role_tracker;

#endif
