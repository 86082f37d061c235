#include "blob.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "strconv.h"
#include "url.h"

struct dl {
    mdf_http *http;
    mdf_blob_cfg cfg;
    char *url;               /* owned; holds the SAS: never printed */
    char shown[MDF_URL_MAX]; /* the URL without its query, for messages */
    mdf_buf data;
    char etag[256];
    int attempt, resumes;
    mdf_blob_cb cb;
    void *arg;
    mdf_blob_result res;
};

const char *mdf_blob_errcode_name(mdf_blob_errcode c)
{
    static const char *const names[] = {"ok",        "refused", "too big", "expired",  "forbidden",
                                        "not found", "changed", "http",    "transport"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "?";
}

void mdf_blob_cfg_default(mdf_blob_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    mdf_strlcpy(cfg->allowed_hosts[0], "*.blob.core.windows.net", sizeof cfg->allowed_hosts[0]);
    cfg->n_allowed = 1;
    cfg->max_bytes = 64u << 20;
    cfg->max_resumes = 3;
    cfg->retry = (mdf_retry){.max_retries = 4, .base_ms = 1000, .max_ms = 30000};
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

static void dl_finish(struct dl *d)
{
    d->res.resumes = d->resumes;
    d->res.data = &d->data;
    d->cb(d->arg, &d->res);
    mdf_buf_free(&d->data);
    free(d->url);
    free(d);
}

static void dl_fail(struct dl *d, mdf_blob_errcode code, long status, const char *fmt, ...)
    MDF_PRINTF(4, 5);

static void dl_fail(struct dl *d, mdf_blob_errcode code, long status, const char *fmt, ...)
{
    char what[256];
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

static void dl_on_resp(void *arg, mdf_http_resp *r)
{
    struct dl *d = arg;
    size_t offset = d->data.len;
    d->attempt++;
    if (r->status == 403) {
        /* an expired or revoked SAS: retrying cannot help */
        bool auth = strcmp(r->error_code, "AuthenticationFailed") == 0 ||
                    (r->body.data && strstr(r->body.data, "<Code>AuthenticationFailed</Code>"));
        if (auth)
            dl_fail(d, MDF_BLOB_E_EXPIRED, 403,
                    "SAS expired or not valid "
                    "(AuthenticationFailed); run the extract again");
        else
            dl_fail(d, MDF_BLOB_E_FORBIDDEN, 403, "forbidden%s%s", r->error_code[0] ? ": " : "",
                    r->error_code);
        return;
    }
    if (r->status == 404) {
        dl_fail(d, MDF_BLOB_E_NOT_FOUND, 404, "no such blob");
        return;
    }
    if (r->status == 412) {
        dl_fail(d, MDF_BLOB_E_CHANGED, 412, "blob changed while resuming (ETag %s)", d->etag);
        return;
    }
    if (r->too_big || offset + r->body.len > d->cfg.max_bytes) {
        dl_fail(d, MDF_BLOB_E_TOO_BIG, r->status, "larger than the %zu-byte cap", d->cfg.max_bytes);
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
        if (r->curl_code == CURLE_RANGE_ERROR && d->resumes++ < d->cfg.max_resumes) {
            dl_later(d, 0);
            return;
        }
    }
    if (got_body) {
        if (r->etag[0] && !d->etag[0])
            mdf_strlcpy(d->etag, r->etag, sizeof d->etag);
        if (mdf_buf_append(&d->data, r->body.data ? r->body.data : "", r->body.len) != 0) {
            dl_fail(d, MDF_BLOB_E_TOO_BIG, r->status, "larger than the %zu-byte cap",
                    d->cfg.max_bytes);
            return;
        }
        if (r->curl_code == CURLE_OK) {
            d->res.code = MDF_BLOB_OK;
            d->res.http_status = r->status;
            dl_finish(d);
            return;
        }
        /* broken mid-body: resume from what we have, pinned to the ETag */
        if (d->etag[0] && d->data.len > 0 && d->resumes < d->cfg.max_resumes) {
            d->resumes++;
            d->attempt = 0;
            dl_later(d, 0);
            return;
        }
        /* no ETag to pin a range to: start over, as a retry */
        if (!d->etag[0] && d->attempt <= d->cfg.retry.max_retries) {
            mdf_buf_reset(&d->data);
            dl_later(d, mdf_retry_delay(&d->cfg.retry, d->attempt, -1));
            return;
        }
    }
    if (mdf_retry_transient(r) && d->attempt <= d->cfg.retry.max_retries) {
        dl_later(d, mdf_retry_delay(&d->cfg.retry, d->attempt, r->retry_after_ms));
        return;
    }
    if (r->status == 0 || got_body)
        dl_fail(d, MDF_BLOB_E_TRANSPORT, r->status, "%s",
                r->curl_error[0] ? r->curl_error : "transfer failed");
    else
        dl_fail(d, MDF_BLOB_E_HTTP, r->status, "HTTP %ld%s%s", r->status,
                r->error_code[0] ? " " : "", r->error_code);
}

static void dl_send(void *arg)
{
    struct dl *d = arg;
    char err[MDF_ERRSZ], if_match[300];
    const char *headers[3] = {"x-ms-version: 2019-12-12", NULL, NULL};
    if (d->data.len > 0 && d->etag[0]) {
        snprintf(if_match, sizeof if_match, "If-Match: %s", d->etag);
        headers[1] = if_match;
    }
    mdf_http_req req = {
        .url = d->url,
        .headers = headers,
        .max_response = d->cfg.max_bytes - d->data.len,
        .timeout_ms = d->cfg.timeout_ms,
        .low_speed_bytes_per_s = d->cfg.low_speed_bytes_per_s,
        .low_speed_time_s = d->cfg.low_speed_time_s,
        .http = d->cfg.http,
        .range_from = (int64_t)d->data.len,
    };
    if (mdf_http_start(d->http, &req, dl_on_resp, d, err, sizeof err) != MDF_OK)
        dl_fail(d, MDF_BLOB_E_REFUSED, 0, "%s", err);
}

static void dl_refuse(void *arg)
{
    struct dl *d = arg;
    dl_fail(d, MDF_BLOB_E_REFUSED, 0, "%s", d->res.message);
}

int mdf_blob_get(mdf_http *h, const mdf_blob_cfg *cfg, const char *url, mdf_blob_cb cb, void *arg,
                 char *err, size_t errsz)
{
    mdf_url_parts u;
    char why[MDF_ERRSZ];
    struct dl *d = calloc(1, sizeof *d);
    if (!d)
        return mdf_seterr(err, errsz, "out of memory");
    d->http = h;
    d->cfg = *cfg;
    d->cb = cb;
    d->arg = arg;
    mdf_buf_init(&d->data, cfg->max_bytes);
    mdf_url_redact(url, d->shown, sizeof d->shown);
    d->url = strdup(url);
    if (!d->url) {
        free(d);
        return mdf_seterr(err, errsz, "out of memory");
    }
    /* refusals are reported like any other outcome, through cb */
    bool refused = true;
    if (mdf_url_parse(url, &u, why, sizeof why) != MDF_OK) {
        mdf_strlcpy(d->res.message, "not a valid URL", sizeof d->res.message);
    } else if (!mdf_url_scheme_ok(&u, cfg->http)) {
        mdf_seterr(d->res.message, sizeof d->res.message, "scheme %s not allowed (https%s)",
                   u.scheme, cfg->http != MDF_HTTPS_ONLY ? ", or http to loopback" : " only");
    } else {
        for (size_t i = 0; i < cfg->n_allowed && refused; i++)
            refused = !mdf_host_matches(u.host, cfg->allowed_hosts[i]);
        if (refused)
            mdf_seterr(d->res.message, sizeof d->res.message, "host %s is not an allowed blob host",
                       u.host);
    }
    if (mdf_http_after(h, 0, refused ? dl_refuse : dl_send, d) != MDF_OK) {
        free(d->url);
        free(d);
        return mdf_seterr(err, errsz, "out of memory");
    }
    return MDF_OK;
}
