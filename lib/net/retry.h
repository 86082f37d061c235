/* Retry decisions and delays shared by every HTTP client of the project:
 * jittered exponential backoff with caps, the server's Retry-After first. */
#ifndef MDF_RETRY_H
#define MDF_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "http_loop.h"

typedef struct mdf_retry {
    int max_retries; /* after the first attempt */
    int64_t base_ms; /* first backoff */
    int64_t max_ms;  /* cap on one backoff (and on a server's Retry-After) */
} mdf_retry;

/* 429, 500, 502, 503, 504, and transfers that got no answer (connection
 * refused or reset, timeouts). Other 4xx never are. */
bool mdf_retry_transient(const mdf_http_resp *r);

/* The wait before retry number `attempt` (1-based): the server's
 * retry_after_ms when it sent one (capped), else base * 2^(attempt-1)
 * capped, with "equal jitter" (half fixed, half random) so that many
 * clients do not retry in step. */
int64_t mdf_retry_delay(const mdf_retry *p, int attempt, int64_t retry_after_ms);

#endif
