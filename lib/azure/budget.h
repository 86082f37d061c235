/* One client's pace against one of Resource Manager's token buckets (one
 * subscription and operation class: reads or writes). ARM meters each
 * subscription x principal x class; workers that share an identity share
 * the bucket without knowing of each other, so each adapts to what the
 * server says (docs/architecture.md, "The ARM budget"):
 *
 *   - it starts at share x the published burst and rate;
 *   - a 429, or a remaining quota (x-ms-ratelimit-remaining-subscription-*)
 *     under half the floor, cuts the rate multiplicatively, at most once per
 *     MDF_BUDGET_CUT_MS (one overshoot brings many such answers at once);
 *   - a remaining quota at or above the floor raises it additively, up to
 *     share x the published rate; between the two it holds;
 *   - a request needs a token of the budget as configured (burst, pace)
 *     and one of a window that the server's newest figure sets after each
 *     answer: half of (remaining - the requests we sent after that one -
 *     floor), refilled at the pace. The burst is used at once without
 *     spending below the floor, clients spending the same surplus at once
 *     overshoot it less, and the configured budget stays a cap;
 *   - until the first answer, one request at a time;
 *   - a 429 also holds everything until its Retry-After (capped).
 *
 * Pure and clock-free (the caller passes monotonic ms) so that a test can
 * drive it through scripted answers. */
#ifndef MDF_BUDGET_H
#define MDF_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "token_bucket.h"

#define MDF_BUDGET_CUT_MS 1000    /* at most one cut per this long */
#define MDF_BUDGET_CUT 0.85       /* rate x this when the quota runs low */
#define MDF_BUDGET_CUT_429 0.5    /* rate x this on a 429 */
#define MDF_BUDGET_RAISE 0.05     /* of the top rate, per second, when quota is left */
#define MDF_BUDGET_FLOOR 0.02     /* of the published burst kept in reserve */
#define MDF_BUDGET_MIN_RATE 0.01  /* of the top rate: never slower */
#define MDF_BUDGET_HOLD_MAX 60000 /* cap on a 429's Retry-After */
#define MDF_BUDGET_HOLD_NONE 1000 /* a 429 without Retry-After */
#define MDF_BUDGET_PROBE_MS 10    /* wait while the first request is out */

typedef struct mdf_budget {
    double top_rate, top_burst; /* share x published; top_rate 0: no client-side budget */
    double rate;                /* the pace now */
    double floor;               /* server quota we leave unspent */
    mdf_token_bucket tb;        /* the budget as configured: burst, pace */
    mdf_token_bucket window;    /* what the server's figures allow, refilled at the pace */
    int64_t hold_until;         /* after a 429: nothing before */
    int64_t remaining;          /* the server's last figure; -1: none yet */
    int64_t last_cut, last_raise;
    int64_t outstanding; /* sent, not yet answered */
    uint64_t sent;       /* tickets handed out */
    uint64_t newest;     /* ticket of the newest figure used */
    uint64_t throttled, cuts;
} mdf_budget;

/* share in (0, 1]: the part of the published budget this client may use;
 * the rest (burst x (1 - share)) is added to the floor for other users. */
void mdf_budget_init(mdf_budget *b, double burst, double per_second, double share, int64_t now_ms);

/* 0 when a request may go now, else the ms until one may (at least 1). */
int64_t mdf_budget_wait(mdf_budget *b, int64_t now_ms);

/* Spends one token (after mdf_budget_wait said 0): the request is sent.
 * Returns its ticket, for mdf_budget_answer. */
uint64_t mdf_budget_spend(mdf_budget *b, int64_t now_ms);

/* The answer to the request of ticket: throttled (429, with retry_after_ms
 * or -1) or not; remaining is the server's figure or -1 when it sent none
 * (also when no answer came at all). Every spent request gets one. */
void mdf_budget_answer(mdf_budget *b, int64_t now_ms, uint64_t ticket, bool throttled,
                       int64_t remaining, int64_t retry_after_ms);

#endif
