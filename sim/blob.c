/* Blob storage for the extract results, both ways Operator Nexus delivers
 * them: the Cluster Manager's container read through a SAS URL (no bearer
 * token; the SAS is checked the way Storage does, signature, then the time
 * window), and a customer's storage account read with a storage-audience
 * bearer token by a client holding a data role on the container. Errors are
 * Storage's XML, and the body honours Range and If-Match so that a client
 * can resume a broken download. Download faults (slow, broken, corrupt, and
 * the customer blob's refusals) come from the node's scenario. Not
 * throttled. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "armjson.h"
#include "blob.h"
#include "clock.h"
#include "err.h"
#include "http_loop.h"
#include "simhttp.h"
#include "strconv.h"

#define PACE_SLICE_MS 100 /* a paced reader sleeps at most this long at a time */
/* Storage takes a bearer token from this x-ms-version on */
#define BEARER_MIN_VERSION "2017-11-09"

/* Storage's XML error, with x-ms-error-code; x-ms-version says `version`. */
static struct MHD_Response *storage_error_resp(sim_req *r, const char *version, const char *code,
                                               const char *message, const char *detail)
{
    char ts[MDF_TIME_STRSZ];
    mdf_time_format_ms(mdf_time_now_ms(), ts);
    ts[23] = '\0'; /* Storage writes 7 fraction digits: ".732" + "0000Z" */
    mdf_buf b;
    mdf_buf_init(&b, 8192);
    mdf_buf_appendf(&b,
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>%s\n"
                    "RequestId:%s\nTime:%s0000Z</Message>",
                    code, message, r->request_id, ts);
    if (detail)
        mdf_buf_appendf(&b, "<AuthenticationErrorDetail>%s</AuthenticationErrorDetail>", detail);
    mdf_buf_appendf(&b, "</Error>");
    struct MHD_Response *resp = sim_resp_buf(&b, "application/xml");
    if (resp) {
        MHD_add_response_header(resp, MDF_H_ERROR_CODE, code);
        MHD_add_response_header(resp, "x-ms-version", version);
    }
    return resp;
}

static enum MHD_Result storage_error(sim_req *r, unsigned status, const char *version,
                                     const char *code, const char *message, const char *detail)
{
    return sim_send(r, status, storage_error_resp(r, version, code, message, detail));
}

static enum MHD_Result auth_failed(sim_req *r, const char *detail)
{
    return storage_error(r, 403, SIM_SAS_VERSION, "AuthenticationFailed",
                         "Server failed to authenticate the request. Make sure the value of "
                         "Authorization header is formed correctly including the signature.",
                         detail);
}

static enum MHD_Result not_found(sim_req *r, const char *version)
{
    return storage_error(r, 404, version, "BlobNotFound", "The specified blob does not exist.",
                         NULL);
}

/* The SAS parameters must be the ones issued: they are what the signature
 * covers. Returns true, or false after answering 403. */
static bool sas_valid(sim_req *r, const sim_state *st, const sim_op *op, enum MHD_Result *ret)
{
    const char *sig = sim_req_query(r, "sig"), *se = sim_req_query(r, "se"),
               *sts = sim_req_query(r, "st"), *sp = sim_req_query(r, "sp"),
               *sr = sim_req_query(r, "sr"), *sv = sim_req_query(r, "sv");
    char want_se[SIM_ISO_S_STRSZ], want_st[SIM_ISO_S_STRSZ];
    sim_format_iso_s(op->sas_expiry_ms, want_se);
    sim_format_iso_s(op->sas_start_ms, want_st);
    if (!sig || !se || !sp || !sr || !sv) {
        *ret = auth_failed(r, "Signature fields not well formed.");
        return false;
    }
    if (strcmp(sig, op->sig) != 0 || strcmp(se, want_se) != 0 || !sts ||
        strcmp(sts, want_st) != 0 || strcmp(sp, "r") != 0 || strcmp(sr, "b") != 0 ||
        strcmp(sv, SIM_SAS_VERSION) != 0) {
        *ret = auth_failed(r, "Signature did not match. String to sign used was r");
        return false;
    }
    int64_t now = sim_state_sim_ms(st, mdf_mono_ms());
    if (now < op->sas_start_ms || now > op->sas_expiry_ms) {
        char a[SIM_HTTPDATE_STRSZ], b[SIM_HTTPDATE_STRSZ], c[SIM_HTTPDATE_STRSZ], d[200];
        sim_format_http_date(op->sas_start_ms, a);
        sim_format_http_date(op->sas_expiry_ms, b);
        sim_format_http_date(now, c);
        snprintf(d, sizeof d,
                 "Signature not valid in the specified time frame: Start [%s] - Expiry [%s] - "
                 "Current [%s]",
                 a, b, c);
        *ret = auth_failed(r, d);
        return false;
    }
    return true;
}

/* Whether an If-Match list ("*" or quoted ETags, comma-separated) matches. */
static bool etag_matches(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if ((n == 1 && *p == '*') || (n == elen && memcmp(p, etag, n) == 0) ||
            (n == elen - 2 && memcmp(p, etag + 1, n) == 0)) /* unquoted */
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* Parses "bytes=N-", "bytes=N-M" or "bytes=-N" against size. Returns 1 with
 * [*from, *to] (inclusive), 0 when there is no usable range (serve it all),
 * -1 when it starts past the end (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *spec = h + 6, *dash = strchr(spec, '-');
    if (!dash)
        return 0;
    int64_t a = -1, b = -1;
    if (dash > spec && mdf_parse_int64(spec, (size_t)(dash - spec), &a) != 0)
        return 0;
    if (dash[1] && mdf_parse_int64(dash + 1, strlen(dash + 1), &b) != 0)
        return 0;
    if (a < 0 && b < 0)
        return 0;
    if (a < 0) { /* suffix: the last b bytes */
        if (b == 0)
            return -1;
        *from = (uint64_t)b >= size ? 0 : size - (uint64_t)b;
        *to = size - 1;
        return size ? 1 : -1;
    }
    if (b >= 0 && b < a)
        return 0;
    if ((uint64_t)a >= size)
        return -1;
    *from = (uint64_t)a;
    *to = b < 0 || (uint64_t)b >= size ? size - 1 : (uint64_t)b;
    return 1;
}

typedef struct blob_reader {
    const char *data; /* the range's first byte; borrowed from the op's archive */
    uint64_t len;
    int64_t rate;         /* bytes per second; 0: as fast as possible */
    uint64_t break_after; /* 0: never; else the connection drops after this many */
    int64_t start_ms;
    atomic_bool *stopping;
} blob_reader;

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* MHD's content reader. With a rate it paces the body by sleeping (each
 * connection has its own thread, so only this download waits). */
static ssize_t blob_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    blob_reader *b = cls;
    if (atomic_load(b->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (b->break_after && pos >= b->break_after)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* the broken_download fault */
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    uint64_t n = b->len - pos;
    if (n > max)
        n = max;
    if (b->break_after && n > b->break_after - pos)
        n = b->break_after - pos;
    if (b->rate > 0) {
        uint64_t chunk = (uint64_t)(b->rate / 10 > 0 ? b->rate / 10 : 1);
        if (n > chunk)
            n = chunk;
        int64_t due = b->start_ms + (int64_t)((pos + n) * 1000 / (uint64_t)b->rate);
        for (int64_t now = mdf_mono_ms(); now < due; now = mdf_mono_ms()) {
            if (atomic_load(b->stopping))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            sleep_ms(due - now < PACE_SLICE_MS ? due - now : PACE_SLICE_MS);
        }
    }
    memcpy(buf, b->data + pos, (size_t)n);
    return (ssize_t)n;
}

/* Answers from the archive (x-ms-version says `version`); called with the
 * state locked. */
static enum MHD_Result serve(sim_req *r, sim_state *st, sim_op *op, const char *version)
{
    const sim_faults *f = op->faults;
    uint64_t size = op->archive.len, from = 0, to = size ? size - 1 : 0;
    const char *im = sim_req_header(r, "If-Match");
    if (im && !etag_matches(im, op->etag))
        return storage_error(r, 412, version, "ConditionNotMet",
                             "The condition specified using HTTP conditional header(s) is not "
                             "met.",
                             NULL);
    const char *inm = sim_req_header(r, "If-None-Match");
    if (inm && etag_matches(inm, op->etag)) {
        struct MHD_Response *resp = sim_resp_str("", NULL);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, op->etag);
        return sim_send(r, 304, resp);
    }
    const char *rh = sim_req_header(r, "x-ms-range");
    int ranged = parse_range(rh ? rh : sim_req_header(r, MHD_HTTP_HEADER_RANGE), size, &from, &to);
    if (ranged < 0) {
        char cr[48];
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        struct MHD_Response *resp = storage_error_resp(
            r, version, "InvalidRange",
            "The range specified is invalid for the current size of the resource.", NULL);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return sim_send(r, 416, resp);
    }
    blob_reader *br = calloc(1, sizeof *br);
    if (!br)
        return MHD_NO;
    br->data = op->archive.data + from;
    br->len = size ? to - from + 1 : 0;
    br->rate = f->slow_download_bps;
    br->start_ms = mdf_mono_ms();
    br->stopping = &r->srv->stopping;
    bool is_get = sim_req_is(r, "GET");
    /* broken_download_after_bytes hits the first body only: a retry works */
    if (is_get && op->downloads++ == 0 && f->broken_download_after > 0)
        br->break_after = (uint64_t)f->broken_download_after;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(br->len, 64 * 1024, blob_read, br, free);
    if (!resp) {
        free(br);
        return MHD_NO;
    }
    char v[96], lm[SIM_HTTPDATE_STRSZ];
    sim_format_http_date(op->sim_end_ms, lm);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-gzip");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, op->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
    MHD_add_response_header(resp, "x-ms-blob-type", "BlockBlob");
    MHD_add_response_header(resp, "x-ms-version", version);
    if (ranged > 0) {
        snprintf(v, sizeof v, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, v);
    }
    return sim_send(r, ranged > 0 ? 206 : 200, resp);
}

static enum MHD_Result bad_verb(sim_req *r, const char *version)
{
    return storage_error(r, 405, version, "UnsupportedHttpVerb",
                         "The resource doesn't support specified Http Verb.", NULL);
}

static enum MHD_Result internal_error(sim_req *r, const char *version)
{
    return storage_error(r, 500, version, "InternalError",
                         "Server encountered an internal error. Please try again after some "
                         "time.",
                         NULL);
}

/* The blob id in `name` when it is prefix + a UUID + suffix. */
static bool blob_id_of(const char *name, size_t n, const char *prefix, const char *suffix,
                       char id[MDF_UUID_STRSZ])
{
    size_t plen = strlen(prefix), slen = strlen(suffix);
    if (n != plen + MDF_UUID_STRSZ - 1 + slen || memcmp(name, prefix, plen) != 0 ||
        memcmp(name + n - slen, suffix, slen) != 0)
        return false;
    memcpy(id, name + plen, MDF_UUID_STRSZ - 1);
    id[MDF_UUID_STRSZ - 1] = '\0';
    return true;
}

enum MHD_Result sim_blob_get(sim_req *r, const char *blob_name)
{
    enum MHD_Result ret = MHD_NO;
    sim_state *st = r->srv->state;
    char id[MDF_UUID_STRSZ], err[MDF_ERRSZ];
    /* a SAS is the credential: a client must not also send its token */
    if (sim_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION))
        sim_stats_mistake(&r->srv->stats, SIM_MISTAKE_AUTHORIZATION_ON_SAS);
    if (!sim_req_is(r, "GET") && !sim_req_is(r, "HEAD"))
        return bad_verb(r, SIM_SAS_VERSION);
    if (!blob_id_of(blob_name, strlen(blob_name), "", SIM_SAS_BLOB_SUFFIX, id))
        return not_found(r, SIM_SAS_VERSION);

    sim_state_lock(st);
    sim_op *op = sim_state_blob_find(st, id);
    /* the blob is written when the command finishes, here only for the
     * clusters without customer storage */
    if (!op || st->sc->clusters[op->cluster].output.customer ||
        sim_op_status(op, mdf_mono_ms()) != SIM_OPST_SUCCEEDED) {
        ret = not_found(r, SIM_SAS_VERSION);
        goto cleanup;
    }
    if (!sas_valid(r, st, op, &ret))
        goto cleanup;
    if (sim_state_op_archive(st, op, err, sizeof err) != MDF_OK) {
        ret = internal_error(r, SIM_SAS_VERSION);
        goto cleanup;
    }
    ret = serve(r, st, op, SIM_SAS_VERSION);
cleanup:
    sim_state_unlock(st);
    return ret;
}

/* ---- the customer's storage account ----------------------------------------- */

/* A customer blob's path, /{account}/{container}/{blob}, as spans of it. */
typedef struct blob_path {
    const char *account, *container, *blob;
    size_t account_len, container_len, blob_len;
} blob_path;

static void split_path(const char *path, blob_path *p)
{
    const char *s = path + (path[0] == '/');
    p->account = s;
    p->account_len = strcspn(s, "/");
    s += p->account_len;
    s += *s == '/';
    p->container = s;
    p->container_len = strcspn(s, "/");
    s += p->container_len;
    s += *s == '/';
    p->blob = s; /* the rest: a blob name may hold '/' */
    p->blob_len = strlen(s);
}

static bool span_is(const char *span, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(span, s, len) == 0;
}

/* A customer cluster's output lives at the path's account and container. */
static bool output_at(const sim_output *o, const blob_path *p)
{
    return o->customer && span_is(p->account, p->account_len, o->account) &&
           span_is(p->container, p->container_len, o->container);
}

/* Clusters sharing an account agree on its firewall (the loader checks). */
static bool account_firewalled(const sim_scenario *sc, const blob_path *p)
{
    for (size_t i = 0; i < sc->n_clusters; i++) {
        const sim_output *o = &sc->clusters[i].output;
        if (o->customer && span_is(p->account, p->account_len, o->account))
            return o->firewall;
    }
    return false;
}

/* The client has a data role on the container: it is among the readers of
 * a cluster writing there (a container no cluster uses has none). */
static bool is_reader(const sim_scenario *sc, const blob_path *p, const char *client_id)
{
    for (size_t i = 0; i < sc->n_clusters; i++) {
        const sim_output *o = &sc->clusters[i].output;
        if (!output_at(o, p))
            continue;
        for (size_t k = 0; k < o->n_readers; k++)
            if (strcmp(o->readers[k], client_id) == 0)
                return true;
    }
    return false;
}

/* A Storage service version: YYYY-MM-DD. */
static bool is_version(const char *v)
{
    if (strlen(v) != 10)
        return false;
    for (size_t i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? v[i] != '-' : !(v[i] >= '0' && v[i] <= '9'))
            return false;
    return true;
}

/* The x-ms-version to answer with: the client's when it is a version (as
 * Storage echoes it), else the one mdefleet sends. */
static const char *answer_version(const sim_req *r)
{
    const char *v = sim_req_header(r, "x-ms-version");
    return v && is_version(v) ? v : MDF_BLOB_VERSION;
}

/* 401 with Storage's bearer challenge: where to get a token, for what. */
static enum MHD_Result bearer_refused(sim_req *r, const char *version, const char *detail)
{
    char challenge[600];
    struct MHD_Response *resp =
        storage_error_resp(r, version, "InvalidAuthenticationInfo",
                           "Server failed to authenticate the request. Please refer to the "
                           "information in the www-authenticate header.",
                           detail);
    /* resource_id is the storage audience without its trailing '/' */
    snprintf(challenge, sizeof challenge,
             "Bearer authorization_uri=%s/%s/oauth2/authorize resource_id=%.*s", r->base_url,
             r->srv->state->sc->tenant, (int)(sizeof MDF_AUDIENCE_STORAGE - 2),
             MDF_AUDIENCE_STORAGE);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
    return sim_send(r, 401, resp);
}

static enum MHD_Result not_authorized(sim_req *r, const char *version)
{
    return storage_error(r, 403, version, "AuthorizationFailure",
                         "This request is not authorized to perform this operation.", NULL);
}

static enum MHD_Result no_permission(sim_req *r, const char *version)
{
    return storage_error(r, 403, version, "AuthorizationPermissionMismatch",
                         "This request is not authorized to perform this operation using this "
                         "permission.",
                         NULL);
}

/* The bearer token's client, or NULL after answering 409 or 401. */
static const char *bearer_client(sim_req *r, sim_state *st, const char *version,
                                 enum MHD_Result *ret)
{
    const char *h = sim_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        *ret = storage_error(r, 409, version, "PublicAccessNotPermitted",
                             "Public access is not permitted on this storage account.", NULL);
        return NULL;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *ret = bearer_refused(r, version, "Authentication scheme is not Bearer.");
        return NULL;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    int64_t expiry;
    const char *client = NULL;
    switch (sim_state_token_check(st, tok, SIM_AUD_STORAGE, mdf_mono_ms(), &expiry, &client)) {
    case SIM_TOKEN_OK:
        return client;
    case SIM_TOKEN_EXPIRED:
        *ret = bearer_refused(r, version, "Lifetime validation failed. The token is expired.");
        return NULL;
    case SIM_TOKEN_WRONG_AUDIENCE:
        sim_stats_mistake(&r->srv->stats, SIM_MISTAKE_WRONG_AUDIENCE);
        *ret = bearer_refused(r, version, "Audience validation failed. Audience did not match.");
        return NULL;
    case SIM_TOKEN_UNKNOWN:
    default:
        *ret = bearer_refused(r, version, "Signature validation failed.");
        return NULL;
    }
}

/* Bearer authorization needs x-ms-version BEARER_MIN_VERSION or later. */
static bool version_ok(const sim_req *r)
{
    const char *v = sim_req_header(r, "x-ms-version");
    /* versions are dates: they sort as text */
    return v && is_version(v) && strcmp(v, BEARER_MIN_VERSION) >= 0;
}

/* faults.blob_401/404/5xx: the GET's place in the op's count decides;
 * true after answering. */
static bool counted_fault(sim_req *r, sim_op *op, const sim_faults *f, const char *version,
                          enum MHD_Result *ret)
{
    int64_t n = op->blob_gets++;
    if (n < f->blob_401) {
        *ret = bearer_refused(r, version, "Lifetime validation failed. The token is expired.");
        return true;
    }
    n -= f->blob_401;
    if (n < f->blob_404) {
        *ret = not_found(r, version);
        return true;
    }
    n -= f->blob_404;
    if (n < f->blob_5xx) {
        *ret = storage_error(r, 503, version, "ServerBusy",
                             "The server is currently unable to receive requests. Please retry "
                             "your request.",
                             NULL);
        return true;
    }
    return false;
}

enum MHD_Result sim_blob_customer(sim_req *r)
{
    enum MHD_Result ret = MHD_NO;
    sim_state *st = r->srv->state;
    const sim_scenario *sc = st->sc; /* read-only after load */
    const char *version = answer_version(r);
    char id[MDF_UUID_STRSZ], err[MDF_ERRSZ];
    blob_path p;
    split_path(r->path, &p);
    /* the network rules come before anything else is looked at */
    if (account_firewalled(sc, &p))
        return not_authorized(r, version);
    if (!sim_req_is(r, "GET") && !sim_req_is(r, "HEAD"))
        return bad_verb(r, version);

    sim_state_lock(st);
    const char *client = bearer_client(r, st, version, &ret);
    if (!client)
        goto cleanup;
    if (!version_ok(r)) {
        ret = storage_error(r, 400, version, "InvalidHeaderValue",
                            "The value for one of the HTTP headers is not in the correct format.",
                            NULL);
        goto cleanup;
    }
    if (!is_reader(sc, &p, client)) {
        ret = no_permission(r, version);
        goto cleanup;
    }
    /* the op whose blob this is, when the path is where its cluster writes */
    sim_op *op =
        blob_id_of(p.blob, p.blob_len, SIM_CUSTOMER_BLOB_PREFIX, SIM_CUSTOMER_BLOB_SUFFIX, id)
            ? sim_state_blob_find(st, id)
            : NULL;
    if (op && !output_at(&sc->clusters[op->cluster].output, &p))
        op = NULL;
    /* the faults the extract started with, also after a phase change */
    const sim_faults *f = op ? op->faults : NULL;
    if (f && f->blob_no_role) {
        ret = no_permission(r, version);
        goto cleanup;
    }
    if (f && f->blob_blocked) {
        ret = not_authorized(r, version);
        goto cleanup;
    }
    /* the blob is written when the command finishes */
    if (!op || sim_op_status(op, mdf_mono_ms()) != SIM_OPST_SUCCEEDED) {
        ret = not_found(r, version);
        goto cleanup;
    }
    if (sim_req_is(r, "GET") && counted_fault(r, op, f, version, &ret))
        goto cleanup;
    if (sim_state_op_archive(st, op, err, sizeof err) != MDF_OK) {
        ret = internal_error(r, version);
        goto cleanup;
    }
    ret = serve(r, st, op, version);
cleanup:
    sim_state_unlock(st);
    return ret;
}
