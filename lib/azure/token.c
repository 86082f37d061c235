#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_reader.h"
#include "strconv.h"
#include "vec.h"

#define AUTH_MAX_RESPONSE (64 * 1024)

struct waiter {
    mdf_auth_cb cb;
    void *arg;
};

struct mdf_auth {
    mdf_http *http;
    mdf_auth_cfg cfg;
    char token[MDF_AUTH_MAX_TOKEN];
    int64_t expires_mono; /* when the cached token expires (monotonic ms) */
    int64_t refresh_mono; /* when to fetch the next one */
    bool fetching;
    int attempt;
    mdf_vec waiters; /* struct waiter */
    uint64_t fetches;
    char err[MDF_ERRSZ]; /* the last failure, for the waiters */
};

/* Waiters are pending requests, as the loop's timers are: the same cap. */
static void init_waiters(mdf_vec *v)
{
    mdf_vec_init(v, sizeof(struct waiter), MDF_HTTP_MAX_TIMERS);
}

static void copy_env(char *dst, size_t dstsz, const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        mdf_strlcpy(dst, v, dstsz);
}

int mdf_auth_method_parse(const char *s, mdf_auth_method *out)
{
    if (strcmp(s, "client_secret") == 0)
        *out = MDF_AUTH_CLIENT_SECRET;
    else if (strcmp(s, "workload_identity") == 0)
        *out = MDF_AUTH_WORKLOAD_IDENTITY;
    else if (strcmp(s, "managed_identity") == 0)
        *out = MDF_AUTH_MANAGED_IDENTITY;
    else
        return MDF_ERR;
    return MDF_OK;
}

int mdf_auth_cfg_init(mdf_auth_cfg *cfg, mdf_auth_method method, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    memset(cfg, 0, sizeof *cfg);
    cfg->method = method;
    mdf_strlcpy(cfg->authority_host, "https://login.microsoftonline.com",
                sizeof cfg->authority_host);
    mdf_strlcpy(cfg->imds_endpoint, "http://169.254.169.254", sizeof cfg->imds_endpoint);
    mdf_strlcpy(cfg->resource, MDF_AUDIENCE_ARM, sizeof cfg->resource);
    cfg->retry = (mdf_retry){.max_retries = 4, .base_ms = 1000, .max_ms = 30000};
    /* IMDS guidance: about 0/2/6/14/30 s, i.e. doubling from 2 s, 5 tries */
    cfg->imds_retry = (mdf_retry){.max_retries = 4, .base_ms = 2000, .max_ms = 16000};
    cfg->timeout_ms = 30000;
    copy_env(cfg->tenant_id, sizeof cfg->tenant_id, "AZURE_TENANT_ID");
    copy_env(cfg->client_id, sizeof cfg->client_id, "AZURE_CLIENT_ID");
    copy_env(cfg->client_secret, sizeof cfg->client_secret, "AZURE_CLIENT_SECRET");
    copy_env(cfg->authority_host, sizeof cfg->authority_host, "AZURE_AUTHORITY_HOST");
    copy_env(cfg->federated_token_file, sizeof cfg->federated_token_file,
             "AZURE_FEDERATED_TOKEN_FILE");
    copy_env(cfg->imds_endpoint, sizeof cfg->imds_endpoint, "IMDS_ENDPOINT");
    /* hosts are given with or without a trailing slash */
    size_t n = strlen(cfg->authority_host);
    if (n > 0 && cfg->authority_host[n - 1] == '/')
        cfg->authority_host[n - 1] = '\0';
    n = strlen(cfg->imds_endpoint);
    if (n > 0 && cfg->imds_endpoint[n - 1] == '/')
        cfg->imds_endpoint[n - 1] = '\0';
    return MDF_OK;
}

int mdf_auth_cfg_check(const mdf_auth_cfg *cfg, char *err, size_t errsz)
{
    switch (cfg->method) {
    case MDF_AUTH_CLIENT_SECRET:
        if (!cfg->tenant_id[0] || !cfg->client_id[0] || !cfg->client_secret[0])
            return mdf_seterr(err, errsz,
                              "auth client_secret needs AZURE_TENANT_ID, "
                              "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET");
        break;
    case MDF_AUTH_WORKLOAD_IDENTITY:
        if (!cfg->tenant_id[0] || !cfg->client_id[0] || !cfg->federated_token_file[0])
            return mdf_seterr(err, errsz,
                              "auth workload_identity needs AZURE_TENANT_ID, "
                              "AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE");
        break;
    case MDF_AUTH_MANAGED_IDENTITY:
        break;
    }
    return MDF_OK;
}

int mdf_auth_new(mdf_auth **out, mdf_http *h, const mdf_auth_cfg *cfg, char *err, size_t errsz)
{
    if (mdf_auth_cfg_check(cfg, err, errsz) != MDF_OK)
        return MDF_ERR;
    mdf_auth *a = calloc(1, sizeof *a);
    if (!a)
        return mdf_seterr(err, errsz, "out of memory");
    a->http = h;
    a->cfg = *cfg;
    init_waiters(&a->waiters);
    *out = a;
    return MDF_OK;
}

void mdf_auth_destroy(mdf_auth *a)
{
    if (!a)
        return;
    /* wipe the secret and the token from memory before freeing */
    explicit_bzero(a->cfg.client_secret, sizeof a->cfg.client_secret);
    explicit_bzero(a->token, sizeof a->token);
    mdf_vec_free(&a->waiters);
    free(a);
}

uint64_t mdf_auth_fetches(const mdf_auth *a)
{
    return a->fetches;
}

/* Appends key=value, percent-encoded for application/x-www-form-urlencoded. */
static int form_add(mdf_buf *b, const char *key, const char *val)
{
    if (b->len && mdf_buf_appendc(b, '&') != 0)
        return -1;
    if (mdf_buf_append(b, key, strlen(key)) != 0 || mdf_buf_appendc(b, '=') != 0)
        return -1;
    return mdf_pct_encode(b, val);
}

static void deliver(mdf_auth *a, const char *token, const char *err)
{
    /* callbacks may call mdf_auth_get again: work on a detached list */
    mdf_vec detached = a->waiters;
    init_waiters(&a->waiters);
    const struct waiter *w = detached.data;
    for (size_t i = 0; i < detached.len; i++)
        w[i].cb(w[i].arg, token, err);
    mdf_vec_free(&detached);
}

static void fetch(mdf_auth *a);
static void fetch_cb(void *arg);

static void fail_or_retry(mdf_auth *a, const mdf_http_resp *r, bool transient, const char *why)
{
    const mdf_retry *pol =
        a->cfg.method == MDF_AUTH_MANAGED_IDENTITY ? &a->cfg.imds_retry : &a->cfg.retry;
    if (transient && a->attempt <= pol->max_retries) {
        int64_t d = mdf_retry_delay(pol, a->attempt, r ? r->retry_after_ms : -1);
        if (mdf_http_after(a->http, d, fetch_cb, a) == MDF_OK)
            return;
    }
    a->fetching = false;
    if (a->token[0] && mdf_mono_ms() < a->expires_mono) {
        /* an early refresh failed: the current token is still good */
        a->refresh_mono = a->expires_mono;
        deliver(a, a->token, NULL);
        return;
    }
    mdf_seterr(a->err, sizeof a->err, "token request failed: %s", why);
    deliver(a, NULL, a->err);
}

#define MAX_LIFETIME_S (24 * 3600) /* longer claims are not believed */

/* Reads {"access_token", "expires_in"} (a number from Entra ID, a string
 * from IMDS). */
static void on_token(void *arg, mdf_http_resp *r)
{
    mdf_auth *a = arg;
    char why[MDF_ERRSZ];
    mdf_jdoc *doc = NULL;
    size_t len;
    if (r->status == 0 || r->curl_code != CURLE_OK) {
        fail_or_retry(a, r, r->status == 0 ? mdf_retry_transient(r) : true,
                      r->curl_error[0] ? r->curl_error : "no answer");
        return;
    }
    bool imds = a->cfg.method == MDF_AUTH_MANAGED_IDENTITY;
    bool transient = mdf_retry_transient(r) || (imds && (r->status == 404 || r->status == 410));
    char *text = mdf_buf_take(&r->body, &len);
    if (mdf_jdoc_parse(&text, len, 8, &doc, why, sizeof why) != MDF_OK) {
        mdf_seterr(why, sizeof why, "HTTP %ld, unreadable answer", r->status);
        fail_or_retry(a, r, transient, why);
        return;
    }
    const mdf_jval *tok = mdf_jget(&doc->root, "access_token");
    const mdf_jval *exp = mdf_jget(&doc->root, "expires_in");
    int64_t secs = -1;
    if (exp && exp->type == MDF_J_INT)
        secs = exp->u.i;
    else if (exp && exp->type == MDF_J_STRING && mdf_parse_int64(exp->s, exp->len, &secs) != 0)
        secs = -1;
    if (r->status != 200 || !tok || tok->type != MDF_J_STRING || tok->len == 0 || secs <= 0) {
        /* Entra ID: {"error","error_description"}; keep the first line */
        const mdf_jval *e = mdf_jget(&doc->root, "error");
        const mdf_jval *d = mdf_jget(&doc->root, "error_description");
        int dl = d && d->type == MDF_J_STRING ? (int)d->len : 0;
        const char *nl = dl ? memchr(d->s, '\n', (size_t)dl) : NULL;
        if (nl)
            dl = (int)(nl - d->s);
        mdf_seterr(why, sizeof why, "HTTP %ld %.*s%s%.*s", r->status,
                   e && e->type == MDF_J_STRING ? (int)e->len : 0, e ? e->s : "", dl ? ": " : "",
                   dl > 200 ? 200 : dl, d ? d->s : "");
        fail_or_retry(a, r, transient, why);
        goto cleanup;
    }
    if (tok->len >= sizeof a->token) {
        fail_or_retry(a, r, false, "token longer than the cap");
        goto cleanup;
    }
    memcpy(a->token, tok->s, tok->len);
    a->token[tok->len] = '\0';
    if (secs > MAX_LIFETIME_S)
        secs = MAX_LIFETIME_S;
    int64_t now = mdf_mono_ms(), life = secs * 1000;
    /* refresh 5 minutes early, or at half-life for short-lived tokens */
    int64_t margin = life / 2 < 300000 ? life / 2 : 300000;
    a->expires_mono = now + life;
    a->refresh_mono = now + life - margin;
    a->fetching = false;
    a->fetches++;
    deliver(a, a->token, NULL);
cleanup:
    mdf_jdoc_free(doc);
}

/* Reads the federated token file anew (it is rotated by the platform). */
static int read_assertion(const char *path, mdf_buf *out, char *err, size_t errsz)
{
    FILE *fp = fopen(path, "rb");
    char block[4096];
    size_t n;
    if (!fp)
        return mdf_seterr(err, errsz, "cannot read the federated token file %s", path);
    while ((n = fread(block, 1, sizeof block, fp)) > 0) {
        if (mdf_buf_append(out, block, n) != 0) {
            fclose(fp);
            return mdf_seterr(err, errsz, "federated token file larger than %d bytes",
                              MDF_AUTH_MAX_ASSERTION);
        }
    }
    fclose(fp);
    while (out->len > 0 && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
        out->data[--out->len] = '\0';
    if (out->len == 0)
        return mdf_seterr(err, errsz, "the federated token file %s is empty", path);
    return MDF_OK;
}

static void fetch(mdf_auth *a)
{
    char url[1024], err[MDF_ERRSZ], scope[300];
    mdf_buf form, assertion;
    mdf_http_req req = {
        .max_response = AUTH_MAX_RESPONSE, .timeout_ms = a->cfg.timeout_ms, .http = a->cfg.http};
    static const char *const form_hdr[] = {"Content-Type: application/x-www-form-urlencoded",
                                           "Accept: application/json", NULL};
    static const char *const imds_hdr[] = {"Metadata: true", NULL};
    int rc = MDF_ERR;
    a->attempt++;
    mdf_buf_init(&form, 2 * MDF_AUTH_MAX_ASSERTION);
    mdf_buf_init(&assertion, MDF_AUTH_MAX_ASSERTION);
    if (a->cfg.method == MDF_AUTH_MANAGED_IDENTITY) {
        mdf_buf q;
        mdf_buf_init(&q, 1024);
        int f = form_add(&q, "api-version", "2018-02-01") |
                form_add(&q, "resource", a->cfg.resource) |
                (a->cfg.client_id[0] ? form_add(&q, "client_id", a->cfg.client_id) : 0);
        int n = snprintf(url, sizeof url, "%s/metadata/identity/oauth2/token?%s",
                         a->cfg.imds_endpoint, q.data ? q.data : "");
        mdf_buf_free(&q);
        if (f != 0 || n < 0 || (size_t)n >= sizeof url) {
            mdf_seterr(err, sizeof err, "IMDS URL too long");
            goto cleanup;
        }
        req.url = url;
        req.headers = imds_hdr;
        req.http = MDF_HTTP_IMDS;
    } else {
        snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", a->cfg.authority_host,
                 a->cfg.tenant_id);
        snprintf(scope, sizeof scope, "%s.default", a->cfg.resource);
        int f = form_add(&form, "grant_type", "client_credentials") |
                form_add(&form, "client_id", a->cfg.client_id) | form_add(&form, "scope", scope);
        if (a->cfg.method == MDF_AUTH_CLIENT_SECRET) {
            f |= form_add(&form, "client_secret", a->cfg.client_secret);
        } else {
            if (read_assertion(a->cfg.federated_token_file, &assertion, err, sizeof err) != MDF_OK)
                goto cleanup;
            f |= form_add(&form, "client_assertion_type",
                          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            f |= form_add(&form, "client_assertion", assertion.data);
        }
        if (f != 0) {
            snprintf(err, sizeof err, "token request too large");
            goto cleanup;
        }
        req.method = "POST";
        req.url = url;
        req.headers = form_hdr;
        req.body = form.data;
        req.body_len = form.len;
    }
    rc = mdf_http_start(a->http, &req, on_token, a, err, sizeof err);
cleanup:
    /* the form holds the secret: clear it (libcurl copied it) */
    if (form.data)
        explicit_bzero(form.data, form.len);
    mdf_buf_free(&form);
    mdf_buf_free(&assertion);
    if (rc != MDF_OK) {
        a->fetching = false;
        mdf_seterr(a->err, sizeof a->err, "token request failed: %s", err);
        deliver(a, NULL, a->err);
    }
}

static void fetch_cb(void *arg)
{
    fetch(arg);
}

static void serve_cached(void *arg)
{
    mdf_auth *a = arg;
    int64_t now = mdf_mono_ms();
    if (a->token[0] && now < a->expires_mono && (now < a->refresh_mono || a->fetching)) {
        deliver(a, a->token, NULL);
        return;
    }
    if (!a->fetching) {
        a->fetching = true;
        a->attempt = 0;
        fetch(a);
    }
}

int mdf_auth_get(mdf_auth *a, mdf_auth_cb cb, void *arg)
{
    struct waiter *w = mdf_vec_add(&a->waiters);
    if (!w)
        return MDF_ERR;
    *w = (struct waiter){cb, arg};
    /* answer from the loop, never from inside this call */
    if (a->waiters.len == 1 && !a->fetching &&
        mdf_http_after(a->http, 0, serve_cached, a) != MDF_OK) {
        a->waiters.len--; /* the caller learns of it now, not later */
        return MDF_ERR;
    }
    return MDF_OK;
}

void mdf_auth_invalidate(mdf_auth *a, const char *token)
{
    if (token && strcmp(token, a->token) == 0) {
        explicit_bzero(a->token, sizeof a->token);
        a->expires_mono = a->refresh_mono = 0;
    }
}
