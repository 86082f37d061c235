/* Bounded download of an extract's result archive, in both of Operator
 * Nexus's modes:
 *   - a SAS URL (the Cluster Manager's storage account, deprecated): the
 *     signature in the query is the credential, no token is sent;
 *   - a blob URL without a SAS (the customer's storage account, today's
 *     norm): read with `Authorization: Bearer` and a storage-audience Entra
 *     token, which needs Storage Blob Data Reader on the container.
 * Only from allowed hosts (default *.blob.core.windows.net) over https
 * (plain http only to loopback, when configured), so a storage token never
 * goes elsewhere; capped in size; a broken transfer resumes with a range
 * request pinned to the ETag; each refusal of Storage is its own error that
 * says what to fix. The URL's query string (a SAS signature) never appears
 * in a message, nor does a token. */
#ifndef MDF_BLOB_H
#define MDF_BLOB_H

#include <stddef.h>

#include "buf.h"
#include "http_loop.h"
#include "retry.h"
#include "token.h"

#define MDF_BLOB_MAX_HOSTS 16
/* x-ms-version: Bearer authorization needs 2017-11-09 or later */
#define MDF_BLOB_VERSION "2021-08-06"
#define MDF_BLOB_READER_ROLE "Storage Blob Data Reader"

typedef enum {
    MDF_BLOB_OK = 0,
    MDF_BLOB_E_REFUSED,      /* host or scheme not allowed, or not a URL */
    MDF_BLOB_E_TOO_BIG,      /* over max_bytes */
    MDF_BLOB_E_EXPIRED,      /* 403 AuthenticationFailed on a SAS: run the extract again */
    MDF_BLOB_E_UNAUTHORIZED, /* 401 (after one fresh token), or no token to be had */
    MDF_BLOB_E_NO_ROLE,      /* 403 AuthorizationPermissionMismatch: no data role */
    MDF_BLOB_E_BLOCKED,      /* 403 AuthorizationFailure: firewall or private endpoint */
    MDF_BLOB_E_FORBIDDEN,    /* another 403 */
    MDF_BLOB_E_NOT_FOUND,    /* 404, still after the retries */
    MDF_BLOB_E_CHANGED,      /* the blob changed while resuming (412) */
    MDF_BLOB_E_HTTP,         /* another answer we cannot use */
    MDF_BLOB_E_TRANSPORT,    /* no answer, after retries and resumes */
} mdf_blob_errcode;

const char *mdf_blob_errcode_name(mdf_blob_errcode c);

/* How to authorize: by the URL (a SAS has "sig="), always the SAS (no
 * token), always an Entra token. */
typedef enum { MDF_BLOB_AUTH_AUTO, MDF_BLOB_AUTH_SAS, MDF_BLOB_AUTH_ENTRA } mdf_blob_auth;

/* auto | sas | entra */
int mdf_blob_auth_parse(const char *s, mdf_blob_auth *out);

typedef struct mdf_blob_cfg {
    char allowed_hosts[MDF_BLOB_MAX_HOSTS][256]; /* exact, or "*.suffix" */
    size_t n_allowed;
    mdf_http_policy http;
    mdf_blob_auth auth;
    mdf_auth *tokens; /* storage-audience tokens (borrowed); NULL: SAS only */
    size_t max_bytes;
    int max_resumes;
    mdf_retry retry;            /* 5xx and transport */
    mdf_retry missing;          /* 404 right after the extract: Storage may lag */
    long timeout_ms;            /* one transfer */
    long low_speed_bytes_per_s; /* slower than this ... */
    long low_speed_time_s;      /* ... for this long: the transfer is dropped */
} mdf_blob_cfg;

/* *.blob.core.windows.net, https only, auto, 64 MiB, 3 resumes, 404
 * retried 3 times over about 7 s. */
void mdf_blob_cfg_default(mdf_blob_cfg *cfg);
/* Replaces the allowed hosts with a comma-separated list. */
int mdf_blob_cfg_set_hosts(mdf_blob_cfg *cfg, const char *list, char *err, size_t errsz);

typedef struct mdf_blob_result {
    mdf_blob_errcode code;
    long http_status;
    char error_code[64]; /* Storage's code (x-ms-error-code, else the XML's <Code>) */
    bool bearer;         /* it was read with a token (else with the URL's SAS) */
    int resumes;         /* range requests it took */
    char account[64];    /* the storage account and container, for messages */
    char container[64];
    char message[512]; /* one line, URL without its query */
    mdf_buf *data;     /* the bytes; take them with mdf_buf_take */
} mdf_blob_result;

typedef void (*mdf_blob_cb)(void *arg, mdf_blob_result *r);

/* Starts the download; cb runs from mdf_http_run (also for a refused URL).
 * cfg is borrowed and must outlive the download (thousands may run on one
 * configuration). MDF_ERR only when out of memory. */
int mdf_blob_get(mdf_http *h, const mdf_blob_cfg *cfg, const char *url, mdf_blob_cb cb, void *arg,
                 char *err, size_t errsz);

/* The storage account and container of a blob URL: from the host
 * (account.blob.core.windows.net/container/...) or, for an address host
 * (the storage emulators' path style, 127.0.0.1:port/account/container/...),
 * from the path. "" for what it cannot tell. */
void mdf_blob_location(const mdf_url_parts *u, char *account, size_t accountsz, char *container,
                       size_t containersz);

#endif
