/* Bounded download of an extract's result archive (the resultUrl, a SAS
 * URL). Only from allowed hosts (default *.blob.core.windows.net) over
 * https (plain http only to loopback, when configured); capped in size; a
 * broken transfer resumes with a range request pinned to the ETag; an
 * expired SAS is its own, non-retryable error. The URL's query string (the
 * SAS signature) never appears in a message. */
#ifndef MDF_BLOB_H
#define MDF_BLOB_H

#include <stddef.h>

#include "buf.h"
#include "http_loop.h"
#include "retry.h"

#define MDF_BLOB_MAX_HOSTS 16

typedef enum {
    MDF_BLOB_OK = 0,
    MDF_BLOB_E_REFUSED,   /* host or scheme not allowed, or not a URL */
    MDF_BLOB_E_TOO_BIG,   /* over max_bytes */
    MDF_BLOB_E_EXPIRED,   /* 403 AuthenticationFailed: run the extract again */
    MDF_BLOB_E_FORBIDDEN, /* other 403 (e.g. a storage firewall) */
    MDF_BLOB_E_NOT_FOUND, /* 404 */
    MDF_BLOB_E_CHANGED,   /* the blob changed while resuming (412) */
    MDF_BLOB_E_HTTP,      /* another answer we cannot use */
    MDF_BLOB_E_TRANSPORT, /* no answer, after retries and resumes */
} mdf_blob_errcode;

const char *mdf_blob_errcode_name(mdf_blob_errcode c);

typedef struct mdf_blob_cfg {
    char allowed_hosts[MDF_BLOB_MAX_HOSTS][256]; /* exact, or "*.suffix" */
    size_t n_allowed;
    mdf_http_policy http;
    size_t max_bytes;
    int max_resumes;
    mdf_retry retry;
    long timeout_ms;            /* one transfer */
    long low_speed_bytes_per_s; /* slower than this ... */
    long low_speed_time_s;      /* ... for this long: the transfer is dropped */
} mdf_blob_cfg;

/* *.blob.core.windows.net, https only, 64 MiB, 3 resumes. */
void mdf_blob_cfg_default(mdf_blob_cfg *cfg);
/* Replaces the allowed hosts with a comma-separated list. */
int mdf_blob_cfg_set_hosts(mdf_blob_cfg *cfg, const char *list, char *err, size_t errsz);

typedef struct mdf_blob_result {
    mdf_blob_errcode code;
    long http_status;
    int resumes;       /* range requests it took */
    char message[512]; /* one line, URL without its query */
    mdf_buf *data;     /* the bytes; take them with mdf_buf_take */
} mdf_blob_result;

typedef void (*mdf_blob_cb)(void *arg, mdf_blob_result *r);

/* Starts the download; cb runs from mdf_http_run (also for a refused URL).
 * cfg is copied. MDF_ERR only when out of memory. */
int mdf_blob_get(mdf_http *h, const mdf_blob_cfg *cfg, const char *url, mdf_blob_cb cb, void *arg,
                 char *err, size_t errsz);

#endif
