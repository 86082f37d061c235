/* The Azure Resource Manager client for Microsoft.NetworkCloud: every call
 * is asynchronous on an mdf_http loop, so one thread keeps many operations
 * in flight. It gets tokens (azauth.h), spends a client-side budget of
 * ARM reads and writes (token buckets, paused on 429), retries 429, 5xx
 * and lost connections with jittered exponential backoff, follows
 * long-running operations (Azure-AsyncOperation first, else Location,
 * Retry-After honoured) to a terminal state or a deadline, and follows
 * list pages through nextLink. Tokens are only ever sent to the configured
 * endpoint's origin. Results arrive through callbacks from mdf_http_run. */
#ifndef MDF_ARM_H
#define MDF_ARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arm_decode.h"
#include "http_loop.h"
#include "retry.h"
#include "token.h"

typedef enum {
    MDF_ARM_OK = 0,
    MDF_ARM_E_AUTH,             /* no token, 401 after a fresh token, 403 */
    MDF_ARM_E_THROTTLED,        /* 429 past the retry budget */
    MDF_ARM_E_NOT_FOUND,        /* 404 */
    MDF_ARM_E_CONFLICT,         /* 409 */
    MDF_ARM_E_BAD_REQUEST,      /* other 4xx, or a name refused before sending */
    MDF_ARM_E_OPERATION_FAILED, /* the long-running operation ended Failed/Canceled */
    MDF_ARM_E_TIMED_OUT,        /* the operation's deadline passed */
    MDF_ARM_E_BAD_RESPONSE,     /* an answer we cannot use */
    MDF_ARM_E_TRANSPORT,        /* no answer, or 5xx past the retry budget */
} mdf_arm_errcode;

typedef struct mdf_arm_error {
    mdf_arm_errcode code;
    long http_status;   /* of the last answer; 0 when none */
    char arm_code[128]; /* ARM's error.code when it sent one */
    char message[1024]; /* one readable line */
} mdf_arm_error;

const char *mdf_arm_errcode_name(mdf_arm_errcode c); /* "throttled", ... */

typedef struct mdf_bucket_cfg {
    double burst; /* 0: no client-side budget */
    double per_second;
} mdf_bucket_cfg;

typedef struct mdf_arm_cfg {
    char endpoint[512];           /* https://management.azure.com */
    char api_version[32];         /* e.g. 2026-07-01 */
    mdf_http_policy http;         /* MDF_HTTP_LOOPBACK for the simulator */
    mdf_retry retry;              /* per request */
    mdf_bucket_cfg reads, writes; /* ARM's published budget per subscription */
    double budget_share;          /* (0, 1]: the part of it this client may use */
    int64_t request_timeout_ms;
    int64_t poll_min_ms;           /* floor under a server's Retry-After */
    int64_t poll_default_ms;       /* when the server sends none */
    int64_t poll_max_ms;           /* cap on one wait between polls */
    int64_t operation_deadline_ms; /* default for operations without their own */
    size_t max_response;
    size_t max_machines; /* cap on a machine list (MDF_ARM_MAX_MACHINES) */
} mdf_arm_cfg;

/* The default cap on a machine list: more than any cluster has. */
#define MDF_ARM_MAX_MACHINES 10000
/* pages of one machine list: a nextLink loop (or a server that pages
 * for ever) ends here, as does a nextLink seen before */
#define MDF_ARM_MAX_PAGES 256

/* Production defaults: management.azure.com, api-version 2026-07-01, ARM's
 * published budgets (reads 250 burst 25/s, writes 200 burst 10/s). */
void mdf_arm_cfg_default(mdf_arm_cfg *cfg);

typedef struct mdf_arm mdf_arm;

typedef struct mdf_arm_stats {
    uint64_t requests, retries, throttled, polls, auth_refreshes;
} mdf_arm_stats;

/* http and auth are borrowed and must outlive the client. */
int mdf_arm_new(mdf_arm **out, mdf_http *http, mdf_auth *auth, const mdf_arm_cfg *cfg, char *err,
                size_t errsz);
/* Pending operations are dropped without their callbacks. Timers and
 * transfers of the loop point into the client: destroy (or stop running)
 * the mdf_http loop first. Safe to call from an operation's callback. */
void mdf_arm_destroy(mdf_arm *a);
const mdf_arm_stats *mdf_arm_get_stats(const mdf_arm *a);

/* Told of facts as they happen, for metrics: every answer (or its absence,
 * status 0) with the class of the budget that paid for the request, and
 * every wait before polling an operation. Called from mdf_http_run; a NULL
 * function is skipped. */
typedef struct mdf_arm_observer {
    void (*answer)(void *ctx, bool write, long status);
    void (*poll_delay)(void *ctx, int64_t delay_ms);
    void *ctx;
} mdf_arm_observer;
/* obs is copied (NULL: none). */
void mdf_arm_set_observer(mdf_arm *a, const mdf_arm_observer *obs);

/* One subscription's budget for one class, as it stands. */
typedef struct mdf_arm_budget_info {
    const char *subscription; /* "*" for those past the client's cap */
    bool write;
    double tokens;     /* of the configured budget, now */
    int64_t remaining; /* the server's last x-ms-ratelimit-remaining figure; -1: none yet */
    double rate;       /* the pace now, requests per second */
} mdf_arm_budget_info;
/* Calls cb for the reads and the writes budget of every subscription the
 * client has used. */
void mdf_arm_foreach_budget(mdf_arm *a, void (*cb)(void *ctx, const mdf_arm_budget_info *b),
                            void *ctx);

/* Callbacks: e->code is MDF_ARM_OK on success; the payload is NULL on
 * failure except where said. Pointers are valid during the call only. */
typedef void (*mdf_arm_cluster_cb)(void *arg, const mdf_arm_error *e, const mdf_cluster *c);
typedef void (*mdf_arm_bmms_cb)(void *arg, const mdf_arm_error *e, const mdf_bmm *bmms, size_t n);
/* The operation's final status also comes with MDF_ARM_E_OPERATION_FAILED. */
typedef void (*mdf_arm_op_cb)(void *arg, const mdf_arm_error *e, const mdf_opstatus *st);

/* Each returns MDF_ERR (and err) only when the request cannot even start:
 * a name that does not match the API's pattern, out of memory. */
int mdf_arm_get_cluster(mdf_arm *a, const char *sub, const char *rg, const char *cluster,
                        mdf_arm_cluster_cb cb, void *arg, char *err, size_t errsz);
/* PATCH the enforcement level, follow the operation, GET to confirm. */
int mdf_arm_set_enforcement(mdf_arm *a, const char *sub, const char *rg, const char *cluster,
                            const char *level, mdf_arm_cluster_cb cb, void *arg, char *err,
                            size_t errsz);
/* POST scanRuntime {"scanActivity":"Scan"} and follow the operation. */
int mdf_arm_scan_runtime(mdf_arm *a, const char *sub, const char *rg, const char *cluster,
                         mdf_arm_op_cb cb, void *arg, char *err, size_t errsz);
/* Every machine of the managed resource group, all pages. */
int mdf_arm_list_bmms(mdf_arm *a, const char *sub, const char *managed_rg, mdf_arm_bmms_cb cb,
                      void *arg, char *err, size_t errsz);
/* POST runDataExtracts (or runDataExtractsRestricted) with the
 * mde-agent-information command and follow it to its result. The deadline
 * is limit_time_seconds plus a margin. */
int mdf_arm_run_data_extract(mdf_arm *a, const char *sub, const char *managed_rg, const char *bmm,
                             int limit_time_seconds, bool restricted, mdf_arm_op_cb cb, void *arg,
                             char *err, size_t errsz);

#endif
