#include "blob.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "strconv.h"
#include "url.h"

struct dl {
    mdf_http *http;
    const mdf_blob_cfg *cfg; /* borrowed */
    char *url;               /* owned; may hold a SAS: never printed */
    char *shown;             /* owned: the URL without its query, for messages */
    mdf_buf data;
    char etag[256];
    int attempt, resumes, missing;
    bool bearer;       /* read with a storage token, not a SAS */
    bool auth_retried; /* a 401 got its one fresh token */
    char *token;       /* owned copy of the token in use; wiped when dropped */
    mdf_blob_cb cb;
    void *arg;
    mdf_blob_result res;
};

const char *mdf_blob_errcode_name(mdf_blob_errcode c)
{
    static const char *const names[] = {"ok",           "refused", "too big", "expired",
                                        "unauthorized", "no role", "blocked", "forbidden",
                                        "not found",    "changed", "http",    "transport"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "?";
}

int mdf_blob_auth_parse(const char *s, mdf_blob_auth *out)
{
    if (strcmp(s, "auto") == 0)
        *out = MDF_BLOB_AUTH_AUTO;
    else if (strcmp(s, "sas") == 0)
        *out = MDF_BLOB_AUTH_SAS;
    else if (strcmp(s, "entra") == 0)
        *out = MDF_BLOB_AUTH_ENTRA;
    else
        return MDF_ERR;
    return MDF_OK;
}

void mdf_blob_cfg_default(mdf_blob_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    mdf_strlcpy(cfg->allowed_hosts[0], "*.blob.core.windows.net", sizeof cfg->allowed_hosts[0]);
    cfg->n_allowed = 1;
    cfg->auth = MDF_BLOB_AUTH_AUTO;
    cfg->max_bytes = 64u << 20;
    cfg->max_resumes = 3;
    cfg->retry = (mdf_retry){.max_retries = 4, .base_ms = 1000, .max_ms = 30000};
    cfg->missing = (mdf_retry){.max_retries = 3, .base_ms = 1000, .max_ms = 4000};
    cfg->timeout_ms = 10 * 60 * 1000;
    cfg->low_speed_bytes_per_s = 1024;
    cfg->low_speed_time_s = 60;
}

int mdf_blob_cfg_set_hosts(mdf_blob_cfg *cfg, const char *list, char *err, size_t errsz)
{
    size_t n = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0) {
            if (n == MDF_BLOB_MAX_HOSTS)
                return mdf_seterr(err, errsz, "more than %d allowed hosts", MDF_BLOB_MAX_HOSTS);
            if (len >= sizeof cfg->allowed_hosts[0] || (p[0] == '*' && (len < 3 || p[1] != '.')))
                return mdf_seterr(err, errsz, "bad allowed host \"%.*s\"",
                                  (int)(len > 60 ? 60 : len), p);
            memcpy(cfg->allowed_hosts[n], p, len);
            cfg->allowed_hosts[n][len] = '\0';
            n++;
        }
        p += len;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
    }
    if (n == 0)
        return mdf_seterr(err, errsz, "no allowed blob host");
    cfg->n_allowed = n;
    return MDF_OK;
}

/* The n-th path segment (0-based) into out; "" when there is none. */
static void path_segment(const char *path, int n, char *out, size_t outsz)
{
    const char *p = path;
    out[0] = '\0';
    for (int i = 0;; i++) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (len == 0)
            return;
        if (i == n) {
            snprintf(out, outsz, "%.*s", (int)len, p);
            return;
        }
        p += len;
    }
}

void mdf_blob_location(const mdf_url_parts *u, char *account, size_t accountsz, char *container,
                       size_t containersz)
{
    if (mdf_host_is_address(u->host)) {
        path_segment(u->path, 0, account, accountsz);
        path_segment(u->path, 1, container, containersz);
        return;
    }
    snprintf(account, accountsz, "%.*s", (int)strcspn(u->host, "."), u->host);
    path_segment(u->path, 0, container, containersz);
}

static void token_drop(struct dl *d)
{
    if (d->token) {
        explicit_bzero(d->token, strlen(d->token));
        free(d->token);
        d->token = NULL;
    }
}

static void dl_finish(struct dl *d)
{
    d->res.resumes = d->resumes;
    d->res.bearer = d->bearer;
    d->res.data = &d->data;
    d->cb(d->arg, &d->res);
    mdf_buf_free(&d->data);
    token_drop(d);
    free(d->url);
    free(d->shown);
    free(d);
}

static void dl_fail(struct dl *d, mdf_blob_errcode code, long status, const char *fmt, ...)
    MDF_PRINTF(4, 5);

static void dl_fail(struct dl *d, mdf_blob_errcode code, long status, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    d->res.code = code;
    d->res.http_status = status;
    mdf_seterr(d->res.message, sizeof d->res.message, "%s: %s", d->shown, what);
    mdf_buf_reset(&d->data);
    dl_finish(d);
}

static void dl_send(void *arg);

static void dl_later(struct dl *d, int64_t delay_ms)
{
    if (mdf_http_after(d->http, delay_ms, dl_send, d) != MDF_OK)
        dl_fail(d, MDF_BLOB_E_TRANSPORT, 0, "out of memory");
}

/* Where a 206 starts: "bytes START-END/TOTAL". */
static int64_t range_start(const char *cr)
{
    int64_t v;
    const char *p = strchr(cr, ' '), *dash = p ? strchr(p, '-') : NULL;
    if (!p || !dash || mdf_parse_int64(p + 1, (size_t)(dash - p - 1), &v) != 0)
        return -1;
    return v;
}

/* Storage's error code: x-ms-error-code first, else the XML body's
 * <Code>; "" when neither says. */
static void storage_code(const mdf_http_resp *r, char *out, size_t outsz)
{
    out[0] = '\0';
    if (r->error_code[0]) {
        mdf_strlcpy(out, r->error_code, outsz);
        return;
    }
    const char *s = r->body.data ? strstr(r->body.data, "<Code>") : NULL;
    if (!s)
        return;
    s += 6;
    size_t n = strcspn(s, "<");
    /* a code is a word; anything else is not one */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return;
    }
    snprintf(out, outsz, "%.*s", (int)n, s);
}

/* The refusals of Storage that retrying cannot mend, each with what to do.
 * Returns true when r was one (d is then finished). */
static bool refused_by_storage(struct dl *d, const mdf_http_resp *r)
{
    const char *code = d->res.error_code, *acct = d->res.account, *cont = d->res.container;
    switch (r->status) {
    case 401:
        dl_fail(d, MDF_BLOB_E_UNAUTHORIZED, 401,
                d->bearer
                    ? "storage refused the worker's token%s%s%s after a fresh one: its tenant "
                      "or audience is not the account's (AZURE_TENANT_ID, blob.audience)"
                    : "storage wants a token%s%s%s: a blob URL without a SAS is read with "
                      "an Entra token (blob.auth=auto or entra)",
                code[0] ? " (" : "", code, code[0] ? ")" : "");
        return true;
    case 403:
        if (strcmp(code, "AuthorizationPermissionMismatch") == 0)
            dl_fail(d, MDF_BLOB_E_NO_ROLE, 403,
                    "the worker's identity has no data role on storage account %s, container %s "
                    "(AuthorizationPermissionMismatch): grant it " MDF_BLOB_READER_ROLE,
                    acct, cont);
        else if (strcmp(code, "AuthorizationFailure") == 0)
            dl_fail(d, MDF_BLOB_E_BLOCKED, 403,
                    "the storage account's firewall or private endpoint refused this worker "
                    "(AuthorizationFailure, account %s): allow the worker's network",
                    acct);
        else if (!d->bearer && (strcmp(code, "AuthenticationFailed") == 0))
            dl_fail(d, MDF_BLOB_E_EXPIRED, 403,
                    "SAS expired or not valid (AuthenticationFailed); run the extract again");
        else if (d->bearer && strcmp(code, "AuthenticationFailed") == 0)
            dl_fail(d, MDF_BLOB_E_UNAUTHORIZED, 403,
                    "storage refused the worker's token (AuthenticationFailed)");
        else
            dl_fail(d, MDF_BLOB_E_FORBIDDEN, 403, "forbidden%s%s", code[0] ? ": " : "", code);
        return true;
    case 409:
        if (strcmp(code, "PublicAccessNotPermitted") != 0)
            return false;
        dl_fail(d, MDF_BLOB_E_UNAUTHORIZED, 409,
                "the storage account refuses anonymous reads (PublicAccessNotPermitted): a blob "
                "URL without a SAS is read with an Entra token (blob.auth=auto or entra)");
        return true;
    case 412:
        dl_fail(d, MDF_BLOB_E_CHANGED, 412, "blob changed while resuming (ETag %s)", d->etag);
        return true;
    default:
        return false;
    }
}

static void dl_on_resp(void *arg, mdf_http_resp *r)
{
    struct dl *d = arg;
    size_t offset = d->data.len;
    d->attempt++;
    storage_code(r, d->res.error_code, sizeof d->res.error_code);
    if (r->status == 401 && d->bearer && !d->auth_retried) {
        /* the token may have expired early: one fresh token, at once */
        d->auth_retried = true;
        mdf_auth_invalidate(d->cfg->tokens, d->token);
        token_drop(d);
        dl_later(d, 0);
        return;
    }
    if (refused_by_storage(d, r))
        return;
    if (r->status == 404) {
        /* the blob may not be visible yet right after the extract ended */
        if (d->missing < d->cfg->missing.max_retries) {
            d->missing++;
            dl_later(d, mdf_retry_delay(&d->cfg->missing, d->missing, -1));
            return;
        }
        dl_fail(d, MDF_BLOB_E_NOT_FOUND, 404, "no such blob in storage account %s, container %s%s",
                d->res.account, d->res.container, d->missing ? " (still, after retries)" : "");
        return;
    }
    if (r->too_big || offset + r->body.len > d->cfg->max_bytes) {
        dl_fail(d, MDF_BLOB_E_TOO_BIG, r->status, "larger than the %zu-byte cap",
                d->cfg->max_bytes);
        return;
    }
    bool got_body = r->status == 200 || r->status == 206;
    if (r->status == 206 && range_start(r->content_range) != (int64_t)offset) {
        dl_fail(d, MDF_BLOB_E_HTTP, 206, "range answer starts elsewhere (%s)", r->content_range);
        return;
    }
    if (r->curl_code == CURLE_RANGE_ERROR || (r->status == 200 && offset > 0)) {
        /* the server ignored the range: start over */
        mdf_buf_reset(&d->data);
        d->etag[0] = '\0';
        if (r->curl_code == CURLE_RANGE_ERROR && d->resumes++ < d->cfg->max_resumes) {
            dl_later(d, 0);
            return;
        }
    }
    if (got_body) {
        if (r->etag[0] && !d->etag[0])
            mdf_strlcpy(d->etag, r->etag, sizeof d->etag);
        if (mdf_buf_append(&d->data, r->body.data ? r->body.data : "", r->body.len) != 0) {
            dl_fail(d, MDF_BLOB_E_TOO_BIG, r->status, "larger than the %zu-byte cap",
                    d->cfg->max_bytes);
            return;
        }
        if (r->curl_code == CURLE_OK) {
            d->res.code = MDF_BLOB_OK;
            d->res.http_status = r->status;
            dl_finish(d);
            return;
        }
        /* broken mid-body: resume from what we have, pinned to the ETag */
        if (d->etag[0] && d->data.len > 0 && d->resumes < d->cfg->max_resumes) {
            d->resumes++;
            d->attempt = 0;
            dl_later(d, 0);
            return;
        }
        /* no ETag to pin a range to: start over, as a retry */
        if (!d->etag[0] && d->attempt <= d->cfg->retry.max_retries) {
            mdf_buf_reset(&d->data);
            dl_later(d, mdf_retry_delay(&d->cfg->retry, d->attempt, -1));
            return;
        }
    }
    if (mdf_retry_transient(r) && d->attempt <= d->cfg->retry.max_retries) {
        dl_later(d, mdf_retry_delay(&d->cfg->retry, d->attempt, r->retry_after_ms));
        return;
    }
    if (r->status == 0 || got_body)
        dl_fail(d, MDF_BLOB_E_TRANSPORT, r->status, "%s",
                r->curl_error[0] ? r->curl_error : "transfer failed");
    else
        dl_fail(d, MDF_BLOB_E_HTTP, r->status, "HTTP %ld%s%s", r->status,
                d->res.error_code[0] ? " " : "", d->res.error_code);
}

/* One request, with the token when reading by Entra ID. */
static void dl_request(struct dl *d)
{
    char err[MDF_ERRSZ], if_match[300];
    char *auth_hdr = NULL;
    const char *headers[4] = {"x-ms-version: " MDF_BLOB_VERSION, NULL, NULL, NULL};
    size_t n = 1;
    if (d->data.len > 0 && d->etag[0]) {
        snprintf(if_match, sizeof if_match, "If-Match: %s", d->etag);
        headers[n++] = if_match;
    }
    size_t hl = d->token ? strlen(d->token) + 32 : 0;
    if (d->token) {
        auth_hdr = malloc(hl);
        if (!auth_hdr) {
            dl_fail(d, MDF_BLOB_E_TRANSPORT, 0, "out of memory");
            return;
        }
        snprintf(auth_hdr, hl, "Authorization: Bearer %s", d->token);
        headers[n++] = auth_hdr;
    }
    mdf_http_req req = {
        .url = d->url,
        .headers = headers,
        .max_response = d->cfg->max_bytes - d->data.len,
        .timeout_ms = d->cfg->timeout_ms,
        .low_speed_bytes_per_s = d->cfg->low_speed_bytes_per_s,
        .low_speed_time_s = d->cfg->low_speed_time_s,
        .http = d->cfg->http,
        .range_from = (int64_t)d->data.len,
    };
    int rc = mdf_http_start(d->http, &req, dl_on_resp, d, err, sizeof err);
    if (auth_hdr) {
        /* the header held the token: do not leave it in freed memory */
        explicit_bzero(auth_hdr, hl);
        free(auth_hdr);
    }
    if (rc != MDF_OK)
        dl_fail(d, MDF_BLOB_E_REFUSED, 0, "%s", err);
}

static void dl_on_token(void *arg, const char *token, const char *why)
{
    struct dl *d = arg;
    if (!token) {
        dl_fail(d, MDF_BLOB_E_UNAUTHORIZED, 0, "no storage token: %s", why);
        return;
    }
    token_drop(d);
    d->token = strdup(token);
    if (!d->token) {
        dl_fail(d, MDF_BLOB_E_TRANSPORT, 0, "out of memory");
        return;
    }
    dl_request(d);
}

static void dl_send(void *arg)
{
    struct dl *d = arg;
    if (!d->bearer) {
        dl_request(d);
        return;
    }
    /* a token per request: the provider caches it, and a 401 dropped ours */
    if (mdf_auth_get(d->cfg->tokens, dl_on_token, d) != MDF_OK)
        dl_fail(d, MDF_BLOB_E_TRANSPORT, 0, "out of memory");
}

static void dl_refuse(void *arg)
{
    struct dl *d = arg;
    dl_fail(d, MDF_BLOB_E_REFUSED, 0, "%s", d->res.message);
}

/* Why url may not be fetched under cfg; "" when it may. */
static void check_url(const mdf_blob_cfg *cfg, const char *url, mdf_url_parts *u, bool bearer,
                      char *why, size_t whysz)
{
    char perr[MDF_ERRSZ];
    bool refused = true;
    why[0] = '\0';
    if (mdf_url_parse(url, u, perr, sizeof perr) != MDF_OK) {
        mdf_strlcpy(why, "not a valid URL", whysz);
        return;
    }
    if (!mdf_url_scheme_ok(u, cfg->http)) {
        mdf_seterr(why, whysz, "scheme %s not allowed (https%s)", u->scheme,
                   cfg->http != MDF_HTTPS_ONLY ? ", or http to loopback" : " only");
        return;
    }
    for (size_t i = 0; i < cfg->n_allowed && refused; i++)
        refused = !mdf_host_matches(u->host, cfg->allowed_hosts[i]);
    if (refused) {
        mdf_seterr(why, whysz, "host %s is not an allowed blob host", u->host);
        return;
    }
    if (bearer && !cfg->tokens)
        mdf_seterr(why, whysz,
                   "a blob URL without a SAS needs a storage token, and none is "
                   "configured");
}

int mdf_blob_get(mdf_http *h, const mdf_blob_cfg *cfg, const char *url, mdf_blob_cb cb, void *arg,
                 char *err, size_t errsz)
{
    mdf_url_parts u;
    struct dl *d = calloc(1, sizeof *d);
    if (!d)
        return mdf_seterr(err, errsz, "out of memory");
    d->http = h;
    d->cfg = cfg;
    d->cb = cb;
    d->arg = arg;
    mdf_buf_init(&d->data, cfg->max_bytes);
    /* the redacted form is at most the URL without its query, plus a mark */
    size_t shownsz = strlen(url) + sizeof "?<redacted>";
    d->shown = malloc(shownsz);
    d->url = strdup(url);
    if (!d->shown || !d->url)
        goto oom;
    mdf_url_redact(url, d->shown, shownsz);
    d->bearer = cfg->auth == MDF_BLOB_AUTH_ENTRA ||
                (cfg->auth == MDF_BLOB_AUTH_AUTO && !mdf_url_has_param(url, "sig"));
    /* refusals are reported like any other outcome, through cb */
    check_url(cfg, url, &u, d->bearer, d->res.message, sizeof d->res.message);
    bool refused = d->res.message[0] != '\0';
    if (!refused)
        mdf_blob_location(&u, d->res.account, sizeof d->res.account, d->res.container,
                          sizeof d->res.container);
    if (mdf_http_after(h, 0, refused ? dl_refuse : dl_send, d) != MDF_OK)
        goto oom;
    return MDF_OK;
oom:
    free(d->shown);
    free(d->url);
    free(d);
    return mdf_seterr(err, errsz, "out of memory");
}
