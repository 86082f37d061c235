/* An event loop over libcurl's multi interface: many HTTP transfers and
 * timers in flight from one thread, so a caller keeps hundreds of
 * long-running Azure operations going without a thread per operation.
 *
 * Callbacks run from mdf_http_run(), never from inside mdf_http_start() or
 * mdf_http_after(). */
#ifndef MDF_HTTP_LOOP_H
#define MDF_HTTP_LOOP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "url.h"

typedef struct mdf_http mdf_http;

/* The response headers of Azure the loop reads into mdf_http_resp (names
 * compare case-insensitively; the simulator writes them). */
#define MDF_H_AZURE_ASYNC "Azure-AsyncOperation"
#define MDF_H_RETRY_AFTER_MS "retry-after-ms"
#define MDF_H_MS_RETRY_AFTER_MS "x-ms-retry-after-ms"
#define MDF_H_ERROR_CODE "x-ms-error-code"
#define MDF_H_REQUEST_ID "x-ms-request-id"
#define MDF_H_RATELIMIT_READS "x-ms-ratelimit-remaining-subscription-reads"
#define MDF_H_RATELIMIT_WRITES "x-ms-ratelimit-remaining-subscription-writes"

/* The most timers one loop holds: its users arm about one per pending
 * operation, and a million is far beyond any fleet's. */
#define MDF_HTTP_MAX_TIMERS (1u << 20)

typedef struct mdf_http_req {
    const char *method; /* GET (default), POST, PATCH, ... */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *body;           /* sent as is */
    size_t body_len;
    size_t max_response;        /* cap on the body; over it the transfer fails */
    long timeout_ms;            /* whole transfer; 0: 60 s */
    long connect_timeout_ms;    /* 0: 10 s */
    long low_speed_bytes_per_s; /* with low_speed_time_s: abort a stalled transfer */
    long low_speed_time_s;
    mdf_http_policy http; /* where plain http may go (https always may) */
    int64_t range_from;   /* > 0: "Range: bytes=N-" */
} mdf_http_req;

typedef struct mdf_http_resp {
    long status; /* 0 when no HTTP answer came */
    CURLcode curl_code;
    char curl_error[CURL_ERROR_SIZE];
    bool too_big;           /* the body passed max_response */
    mdf_buf body;           /* take it with mdf_buf_take to keep it */
    int64_t retry_after_ms; /* retry-after-ms, x-ms-retry-after-ms or Retry-After; -1: none */
    /* URLs from headers, sized to fit (a waiting transfer holds no 8 KB of
     * empty buffers); NULL when absent or longer than MDF_URL_MAX, since a
     * cut URL would point elsewhere. Owned by the loop. */
    char *location;
    char *azure_async; /* Azure-AsyncOperation */
    char etag[256];
    char error_code[128]; /* x-ms-error-code */
    char content_range[128];
    char request_id[128];        /* x-ms-request-id, for support cases */
    int64_t ratelimit_remaining; /* x-ms-ratelimit-remaining-subscription-reads|writes; -1 */
} mdf_http_resp;

typedef void (*mdf_http_cb)(void *arg, mdf_http_resp *resp);
typedef void (*mdf_timer_cb)(void *arg);

int mdf_http_new(mdf_http **out, char *err, size_t errsz);
/* Drops every pending transfer and timer without calling them back. */
void mdf_http_destroy(mdf_http *h);

/* Starts a transfer; cb gets the response (valid during the call). The URL's
 * scheme is checked against req->http. */
int mdf_http_start(mdf_http *h, const mdf_http_req *req, mdf_http_cb cb, void *arg, char *err,
                   size_t errsz);
/* Calls cb once after delay_ms. Returns MDF_OK or MDF_ERR (out of memory). */
int mdf_http_after(mdf_http *h, int64_t delay_ms, mdf_timer_cb cb, void *arg);

/* Work too long for the loop's thread (inflating and parsing a report):
 * work(arg) runs on the loop's one worker thread, in order, and then
 * done(arg, false) on the loop's thread from mdf_http_run. Work must touch
 * only what arg owns. mdf_http_destroy waits for the work under way and
 * calls done(arg, true) for every job not done: only arg may be freed then
 * (what the caller's loop owned is gone). MDF_ERR: past MDF_HTTP_MAX_OFFLOAD
 * jobs waiting, or no thread. */
#define MDF_HTTP_MAX_OFFLOAD 4096
typedef void (*mdf_work_fn)(void *arg);
typedef void (*mdf_work_done_fn)(void *arg, bool cancelled);
int mdf_http_offload(mdf_http *h, mdf_work_fn work, mdf_work_done_fn done, void *arg);

/* Waits up to timeout_ms for activity (socket, timer, or a readable
 * extra_fd), then runs what is due. Returns the number of transfers and
 * timers still pending. `extra_fds` lets a caller wait on other event
 * sources (a Kafka queue) in the same poll. */
int mdf_http_run(mdf_http *h, int timeout_ms, struct curl_waitfd *extra_fds, unsigned n_extra);
/* Transfers, timers and offloaded jobs pending. */
int mdf_http_pending(const mdf_http *h);
/* Wakes a waiting mdf_http_run from another thread or a signal handler. */
void mdf_http_wakeup(mdf_http *h);

#endif
