/* Azure Resource Manager for Microsoft.NetworkCloud: the front door every
 * /subscriptions/... request passes (bearer token, api-version,
 * subscription, throttling), then the cluster, bare-metal machine and
 * operation-status routes. The whole request runs under the state lock. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armjson.h"
#include "clock.h"
#include "err.h"
#include "http_loop.h"
#include "json_reader.h"
#include "names.h"
#include "simhttp.h"
#include "strconv.h"

#define PATH_MAX_BYTES 4096 /* ARM serves URLs of at least 4 KB */
#define MAX_SEGS 12
#define MAX_TOP 1000
#define POLL_SIM_SECONDS 10.0 /* Retry-After of a running operation, before scaling */

typedef struct arm_path {
    sim_route route; /* SIM_R_UNKNOWN when nothing matched */
    bool bad_method; /* the path matched, the method did not */
    const char *sub, *rg, *name, *loc, *op;
} arm_path;

/* Splits copy on '/' (empty segments dropped); returns the count. */
static int split(char *copy, char **segs)
{
    int n = 0;
    for (char *p = copy; *p;) {
        while (*p == '/')
            *p++ = '\0';
        if (!*p)
            break;
        if (n == MAX_SEGS)
            return MAX_SEGS + 1;
        segs[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return n;
}

static void want(arm_path *p, const char *method, const char *need, sim_route route)
{
    if (strcmp(method, need) == 0)
        p->route = route;
    else
        p->bad_method = true;
}

/* Matches the routes (literal segments case-insensitively, as ARM does). */
static void parse_path(const char *method, char *copy, arm_path *p)
{
    char *s[MAX_SEGS];
    int n = split(copy, s);
    memset(p, 0, sizeof *p);
    p->route = SIM_R_UNKNOWN;
    if (n < 2 || n > MAX_SEGS || !sim_ieq(s[0], "subscriptions"))
        return;
    p->sub = s[1];
    if (n == 8 && sim_ieq(s[2], "providers") && sim_ieq(s[3], MDF_RP_NAMESPACE) &&
        sim_ieq(s[4], "locations") && sim_ieq(s[6], "operationStatuses")) {
        p->loc = s[5];
        p->op = s[7];
        want(p, method, "GET", SIM_R_OPERATION_GET);
        return;
    }
    if (n < 7 || !sim_ieq(s[2], "resourceGroups") || !sim_ieq(s[4], "providers") ||
        !sim_ieq(s[5], MDF_RP_NAMESPACE))
        return;
    p->rg = s[3];
    p->name = n > 7 ? s[7] : NULL;
    if (sim_ieq(s[6], MDF_RT_CLUSTERS)) {
        if (n == 8 && strcmp(method, "PATCH") == 0)
            p->route = SIM_R_CLUSTER_PATCH;
        else if (n == 8)
            want(p, method, "GET", SIM_R_CLUSTER_GET);
        else if (n == 9 && sim_ieq(s[8], MDF_ACTION_SCAN_RUNTIME))
            want(p, method, "POST", SIM_R_CLUSTER_SCAN);
    } else if (sim_ieq(s[6], MDF_RT_BMMS)) {
        if (n == 7)
            want(p, method, "GET", SIM_R_BMM_LIST);
        else if (n == 8)
            want(p, method, "GET", SIM_R_BMM_GET);
        else if (n == 9 && sim_ieq(s[8], MDF_ACTION_RUN_DATA_EXTRACTS))
            want(p, method, "POST", SIM_R_BMM_EXTRACT);
        else if (n == 9 && sim_ieq(s[8], MDF_ACTION_RUN_DATA_EXTRACTS_RESTRICTED))
            want(p, method, "POST", SIM_R_BMM_EXTRACT_RESTRICTED);
    }
}

sim_route sim_arm_route(const char *method, const char *path)
{
    char copy[PATH_MAX_BYTES];
    arm_path p;
    if (mdf_strlcpy(copy, path, sizeof copy) != 0)
        return SIM_R_UNKNOWN;
    parse_path(method, copy, &p);
    return p.route;
}

/* ---- front door ------------------------------------------------------------ */

static enum MHD_Result unauthorized(sim_req *r, const char *code, const char *fmt, ...)
    MDF_PRINTF(3, 4);
static enum MHD_Result unauthorized(sim_req *r, const char *code, const char *fmt, ...)
{
    char msg[512], hdr[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct MHD_Response *resp = sim_resp_arm_error(code, "%s", msg);
    snprintf(hdr, sizeof hdr,
             "Bearer authorization_uri=\"%s/%s\", error=\"invalid_token\", "
             "error_description=\"%s\"",
             r->base_url, r->srv->state->sc->tenant, msg);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, hdr);
    return sim_send(r, 401, resp);
}

/* Answers and returns false unless a valid Resource Manager token came. */
static bool authorized(sim_req *r, sim_state *st, int64_t now, enum MHD_Result *ret)
{
    const char *h = sim_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        *ret = unauthorized(r, "InvalidAuthenticationToken",
                            "The access token is missing. Send 'Authorization: Bearer <token>'.");
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *ret = unauthorized(r, "InvalidAuthenticationToken",
                            "The access token is invalid: the Authorization header is not a "
                            "Bearer token.");
        return false;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    int64_t expiry = 0;
    const char *client_id = NULL;
    char when[MDF_TIME_STRSZ], now_s[MDF_TIME_STRSZ];
    switch (sim_state_token_check(st, tok, SIM_AUD_ARM, now, &expiry, &client_id)) {
    case SIM_TOKEN_OK:
        return true;
    case SIM_TOKEN_EXPIRED:
        mdf_time_format_ms(expiry, when);
        mdf_time_format_ms(sim_state_sim_ms(st, now), now_s);
        *ret = unauthorized(r, "ExpiredAuthenticationToken",
                            "The access token expiry UTC time '%s' is earlier than current UTC "
                            "time '%s'.",
                            when, now_s);
        return false;
    case SIM_TOKEN_WRONG_AUDIENCE:
        sim_stats_mistake(&r->srv->stats, SIM_MISTAKE_WRONG_AUDIENCE);
        *ret = unauthorized(r, "InvalidAuthenticationTokenAudience",
                            "The access token has been obtained for wrong audience or resource. "
                            "It should exactly match with one of the allowed audiences "
                            "'" MDF_AUDIENCE_ARM "'.");
        return false;
    case SIM_TOKEN_UNKNOWN:
    default:
        *ret = unauthorized(r, "InvalidAuthenticationToken", "The access token is invalid.");
        return false;
    }
}

/* The api-version, or NULL after answering 400. */
static const char *api_version(sim_req *r, const sim_scenario *sc, enum MHD_Result *ret)
{
    const char *v = sim_req_query(r, "api-version");
    if (!v || !*v) {
        *ret = sim_send_arm_error(r, 400, "MissingApiVersionParameter",
                                  "The api-version query parameter (?api-version=) is required "
                                  "for all requests.");
        return NULL;
    }
    for (size_t i = 0; i < sc->n_api_versions; i++)
        if (strcmp(v, sc->api_versions[i]) == 0)
            return sc->api_versions[i];
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < sc->n_api_versions && used < sizeof list; i++) {
        int n =
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", sc->api_versions[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    *ret = sim_send_arm_error(r, 400, "InvalidApiVersionParameter",
                              "The api-version '%.40s' is invalid. The supported versions are "
                              "'%s'.",
                              v, list);
    return NULL;
}

/* The request's correlation id when it sent a sane one, else a new one. */
static void correlation_id(sim_req *r)
{
    const char *c = sim_req_header(r, "x-ms-correlation-request-id");
    bool ok = c && *c && strlen(c) < SIM_CORRID_SZ;
    for (const char *p = c; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             *p == '-';
    if (ok)
        mdf_strlcpy(r->correlation_id, c, sizeof r->correlation_id);
    else
        mdf_random_id(r->correlation_id);
}

/* ---- helpers of the routes ------------------------------------------------ */

typedef struct arm_ctx {
    sim_req *r;
    sim_state *st;
    const arm_path *p;
    size_t sub; /* the path's subscription, an index in sc->subscriptions */
    const char *apiv;
    int64_t now; /* real, monotonic */
} arm_ctx;

static enum MHD_Result send_doc(arm_ctx *a, unsigned status, mdf_buf *b, mdf_jsonw *w)
{
    if (mdf_jsonw_finish(w) != 0) {
        mdf_buf_free(b);
        return sim_send_arm_error(a->r, 500, "InternalServerError", "The answer is too large.");
    }
    return sim_send_json(a->r, status, b);
}

/* The cluster of the path, or -1 after answering 404. */
static int find_cluster(arm_ctx *a, enum MHD_Result *ret)
{
    int ci = sim_state_cluster(a->st, a->sub, a->p->rg, a->p->name);
    if (ci >= 0)
        return ci;
    if (!sim_state_rg_exists(a->st, a->sub, a->p->rg))
        *ret = sim_send_arm_error(a->r, 404, "ResourceGroupNotFound",
                                  "Resource group '%.90s' could not be found.", a->p->rg);
    else
        *ret = sim_send_arm_error(a->r, 404, "ResourceNotFound",
                                  "The Resource '" MDF_RP_NAMESPACE "/" MDF_RT_CLUSTERS
                                  "/%.80s' under resource group '%.90s' was not found. For more "
                                  "details please go to https://aka.ms/ARMResourceNotFoundFix",
                                  a->p->name, a->p->rg);
    return -1;
}

/* The machine of the path: sets *ci and returns its node index, or -1
 * after answering 404. */
static int find_bmm(arm_ctx *a, int *ci, enum MHD_Result *ret)
{
    *ci = sim_state_cluster_by_managed_rg(a->st, a->sub, a->p->rg);
    int ni = *ci >= 0 ? sim_state_node(a->st, (size_t)*ci, a->p->name) : -1;
    if (ni >= 0)
        return ni;
    if (!sim_state_rg_exists(a->st, a->sub, a->p->rg))
        *ret = sim_send_arm_error(a->r, 404, "ResourceGroupNotFound",
                                  "Resource group '%.90s' could not be found.", a->p->rg);
    else
        *ret = sim_send_arm_error(a->r, 404, "ResourceNotFound",
                                  "The Resource '" MDF_RP_NAMESPACE "/" MDF_RT_BMMS "/%.80s' "
                                  "under resource group '%.90s' was not found. For more details "
                                  "please go to https://aka.ms/ARMResourceNotFoundFix",
                                  a->p->name, a->p->rg);
    return -1;
}

/* Parses the JSON body: MDF_OK with *doc (NULL for an empty body when
 * optional), or MDF_ERR after answering 400/415. */
static int read_body(arm_ctx *a, bool optional, mdf_jdoc **doc, enum MHD_Result *ret)
{
    sim_req *r = a->r;
    char jerr[MDF_ERRSZ];
    *doc = NULL;
    if (r->body_len == 0) {
        if (optional)
            return MDF_OK;
        *ret = sim_send_arm_error(r, 400, "InvalidRequestContent",
                                  "The request content was invalid and could not be "
                                  "deserialized: the request body is required.");
        return MDF_ERR;
    }
    const char *ct = sim_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        *ret = sim_send_arm_error(r, 415, "UnsupportedMediaType",
                                  "The content media type '%.80s' is not supported. Only "
                                  "'application/json' is supported.",
                                  ct ? ct : "");
        return MDF_ERR;
    }
    char *copy = malloc(r->body_len + 1);
    if (!copy) {
        *ret = MHD_NO;
        return MDF_ERR;
    }
    memcpy(copy, r->body, r->body_len);
    copy[r->body_len] = '\0';
    if (mdf_jdoc_parse(&copy, r->body_len, 32, doc, jerr, sizeof jerr) != MDF_OK) {
        *ret = sim_send_arm_error(r, 400, "InvalidRequestContent",
                                  "The request content was invalid and could not be "
                                  "deserialized: '%s'.",
                                  jerr);
        return MDF_ERR;
    }
    if ((*doc)->root.type != MDF_J_OBJECT) {
        *ret = sim_send_arm_error(r, 400, "InvalidRequestContent",
                                  "The request content was invalid and could not be "
                                  "deserialized: expected an object, got %s.",
                                  mdf_jtype_name(&(*doc)->root));
        mdf_jdoc_free(*doc);
        *doc = NULL;
        return MDF_ERR;
    }
    return MDF_OK;
}

/* A member that must be of `type` when present: NULL (absent, *ok true) or
 * the value; *ok false after answering 400. */
static const mdf_jval *typed(arm_ctx *a, const mdf_jval *obj, const char *key, const char *path,
                             mdf_jtype type, bool *ok, enum MHD_Result *ret)
{
    const mdf_jval *v = mdf_jget(obj, key);
    *ok = true;
    if (!v || v->type == MDF_J_NULL)
        return NULL;
    if (v->type != type) {
        mdf_jval w = {.type = (uint8_t)type};
        *ok = false;
        *ret = sim_send_arm_error(a->r, 400, "InvalidRequestContent",
                                  "The request content was invalid and could not be "
                                  "deserialized: '%s' must be %s%s, got %s.",
                                  path, type == MDF_J_INT ? "an " : "",
                                  type == MDF_J_INT ? "integer" : mdf_jtype_name(&w),
                                  mdf_jtype_name(v));
        return NULL;
    }
    return v;
}

/* The operationStatuses URL of op, for Location and Azure-AsyncOperation. */
static void op_url(arm_ctx *a, const sim_op *op, char *out, size_t outsz)
{
    char path[MDF_RID_MAX];
    sim_op_path(a->st, op, path);
    snprintf(out, outsz, "%s%s?api-version=%s", a->r->base_url, path, a->apiv);
}

/* How long to wait before the next poll: POLL_SIM_SECONDS scaled, or less
 * when the operation ends sooner. */
static int64_t op_wait_ms(arm_ctx *a, const sim_op *op)
{
    int64_t poll = sim_state_real_ms(a->st, POLL_SIM_SECONDS);
    int64_t left = op->real_end_ms - a->now;
    int64_t w = left < poll ? left : poll;
    return w < 1 ? 1 : w;
}

/* 202 Accepted for a new operation: Location (and Azure-AsyncOperation). */
static enum MHD_Result accepted(arm_ctx *a, const sim_op *op, bool async_header)
{
    char url[MDF_RID_MAX + 400];
    op_url(a, op, url, sizeof url);
    struct MHD_Response *resp = sim_resp_str("", NULL);
    if (resp) {
        if (async_header)
            MHD_add_response_header(resp, MDF_H_AZURE_ASYNC, url);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, url);
        sim_resp_retry_after(resp, op_wait_ms(a, op));
    }
    return sim_send(a->r, 202, resp);
}

static sim_op *new_op(arm_ctx *a, sim_op_kind kind, size_t ci, size_t ni, double sim_seconds,
                      int64_t limit_s, enum MHD_Result *ret)
{
    char err[MDF_ERRSZ];
    sim_op *op =
        sim_state_op_new(a->st, kind, ci, ni, sim_seconds, limit_s, a->now, err, sizeof err);
    if (!op)
        *ret = sim_send_arm_error_retry(a->r, 503, 1000, "ServiceUnavailable",
                                        "mdefleet-sim cannot start the operation: %s.", err);
    else
        mdf_strlcpy(op->correlation_id, a->r->correlation_id, sizeof op->correlation_id);
    return op;
}

/* ---- routes ------------------------------------------------------------------ */

static enum MHD_Result cluster_get(arm_ctx *a)
{
    enum MHD_Result ret = MHD_NO;
    int ci = find_cluster(a, &ret);
    if (ci < 0)
        return ret;
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 1024 * 1024);
    mdf_jsonw_init(&w, &b, NULL);
    sim_json_cluster(&w, a->st, (size_t)ci, a->apiv, a->r->base_url, a->now);
    return send_doc(a, 200, &b, &w);
}

static enum MHD_Result cluster_patch(arm_ctx *a)
{
    enum MHD_Result ret = MHD_NO;
    mdf_jdoc *doc = NULL;
    bool ok = true;
    int ci = find_cluster(a, &ret);
    if (ci < 0 || read_body(a, true, &doc, &ret) != MDF_OK)
        goto cleanup;
    const mdf_jval *root = doc ? &doc->root : NULL;
    const mdf_jval *props = typed(a, root, "properties", "properties", MDF_J_OBJECT, &ok, &ret);
    const mdf_jval *rpc =
        ok ? typed(a, props, "runtimeProtectionConfiguration",
                   "properties.runtimeProtectionConfiguration", MDF_J_OBJECT, &ok, &ret)
           : NULL;
    const mdf_jval *lv = ok ? typed(a, rpc, "enforcementLevel",
                                    "properties.runtimeProtectionConfiguration.enforcementLevel",
                                    MDF_J_STRING, &ok, &ret)
                            : NULL;
    const mdf_jval *mode = ok ? typed(a, rpc, "definitionUpdateMode",
                                      "properties.runtimeProtectionConfiguration."
                                      "definitionUpdateMode",
                                      MDF_J_STRING, &ok, &ret)
                              : NULL;
    if (!ok)
        goto cleanup;
    int level = -1, update = -1;
    if (lv) {
        char s[32] = "";
        if (lv->len < sizeof s)
            memcpy(s, lv->s, lv->len);
        level = sim_level_parse(s);
        if (level < 0) {
            ret =
                sim_send_arm_error(a->r, 400, "ValidationError",
                                   "The value '%.40s' of properties.runtimeProtectionConfiguration"
                                   ".enforcementLevel is not one of Audit, Disabled, OnDemand, "
                                   "Passive, RealTime.",
                                   s);
            goto cleanup;
        }
    }
    if (mode) {
        update = mdf_jstr_is(mode, "Automatic") ? 1 : mdf_jstr_is(mode, "None") ? 0 : -2;
        if (update == -2) {
            ret = sim_send_arm_error(a->r, 400, "ValidationError",
                                     "The value of properties.runtimeProtectionConfiguration."
                                     "definitionUpdateMode is not one of Automatic, None.");
            goto cleanup;
        }
    }
    sim_state_settle(a->st, a->now);
    if (a->st->sc->clusters[ci].patch_sync) {
        sim_cluster_rt *rt = &a->st->clusters[ci];
        if (level >= 0)
            rt->level = (sim_level)level;
        if (update >= 0)
            rt->update_automatic = update == 1;
        rt->modified_sim_ms = sim_state_sim_ms(a->st, a->now);
        ret = cluster_get(a);
        goto cleanup;
    }
    sim_op *op = new_op(a, SIM_OP_PATCH, (size_t)ci, 0, a->st->sc->patch_s, 0, &ret);
    if (!op)
        goto cleanup;
    op->new_level = level;
    op->new_update_mode = update;
    if (sim_state_patch_pending(a->st, op) != MDF_OK) {
        op->real_end_ms = a->now; /* cannot track it: let it end at once, unapplied */
        ret = sim_send_arm_error(a->r, 500, "InternalServerError", "Out of memory.");
        goto cleanup;
    }
    ret = accepted(a, op, true);
cleanup:
    mdf_jdoc_free(doc);
    return ret;
}

static enum MHD_Result cluster_scan(arm_ctx *a)
{
    enum MHD_Result ret = MHD_NO;
    mdf_jdoc *doc = NULL;
    bool ok = true, skip = false;
    int ci = find_cluster(a, &ret);
    if (ci < 0 || read_body(a, true, &doc, &ret) != MDF_OK)
        goto cleanup;
    const mdf_jval *act =
        typed(a, doc ? &doc->root : NULL, "scanActivity", "scanActivity", MDF_J_STRING, &ok, &ret);
    if (!ok)
        goto cleanup;
    if (act && !mdf_jstr_is(act, "Scan") && !mdf_jstr_is(act, "Skip")) {
        ret = sim_send_arm_error(a->r, 400, "ValidationError",
                                 "The value of scanActivity is not one of Scan, Skip.");
        goto cleanup;
    }
    skip = act && mdf_jstr_is(act, "Skip");
    sim_state_settle(a->st, a->now);
    sim_op *op = new_op(a, SIM_OP_SCAN, (size_t)ci, 0, a->st->sc->scan_runtime_s, 0, &ret);
    if (!op)
        goto cleanup;
    op->skip_scan = skip;
    if (a->st->clusters[ci].level == SIM_LEVEL_DISABLED) {
        op->fails = true;
        mdf_strlcpy(op->error_code, "RuntimeProtectionDisabled", sizeof op->error_code);
        snprintf(op->error_message, sizeof op->error_message,
                 "Runtime protection is disabled on cluster '%s': set "
                 "runtimeProtectionConfiguration.enforcementLevel to another level to scan.",
                 a->st->sc->clusters[ci].name);
    }
    sim_state_scan_started(a->st, op);
    ret = accepted(a, op, false);
cleanup:
    mdf_jdoc_free(doc);
    return ret;
}

/* Parses a non-negative decimal query value; -1 when malformed. */
static int64_t query_count(const char *v)
{
    int64_t n;
    if (!v || mdf_parse_int64(v, strlen(v), &n) != 0 || n < 0)
        return -1;
    return n;
}

static enum MHD_Result bmm_list(arm_ctx *a)
{
    const sim_scenario *sc = a->st->sc;
    int ci = sim_state_cluster_by_managed_rg(a->st, a->sub, a->p->rg);
    if (ci < 0 && !sim_state_rg_exists(a->st, a->sub, a->p->rg))
        return sim_send_arm_error(a->r, 404, "ResourceGroupNotFound",
                                  "Resource group '%.90s' could not be found.", a->p->rg);
    const char *tq = sim_req_query(a->r, "$top"), *kq = sim_req_query(a->r, "$skipToken");
    int64_t top = tq ? query_count(tq) : sc->page_size;
    int64_t skip = kq ? query_count(kq) : 0;
    if (top < 1 || top > MAX_TOP)
        return sim_send_arm_error(a->r, 400, "InvalidParameter",
                                  "The value of $top must be an integer from 1 to %d.", MAX_TOP);
    if (skip < 0)
        return sim_send_arm_error(a->r, 400, "InvalidParameter",
                                  "The $skipToken '%.40s' is not valid.", kq);
    size_t total = ci >= 0 ? sc->clusters[ci].n_nodes : 0;
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 64 * 1024 * 1024);
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    size_t end = (size_t)skip < total ? (size_t)skip : total;
    end = total - end > (size_t)top ? end + (size_t)top : total;
    /* past the end, a hostile list links to itself or to ever new pages */
    size_t next = end < total                              ? end
                  : sc->paging_fault == SIM_PAGING_LOOP    ? total
                  : sc->paging_fault == SIM_PAGING_ENDLESS ? (size_t)skip + 1
                                                           : 0;
    if (ci >= 0 && (end < total || sc->paging_fault != SIM_PAGING_OK)) {
        char coll[MDF_RID_MAX], link[MDF_RID_MAX + 600];
        mdf_rid_bmm(coll, sizeof coll, sc->clusters[ci].subscription,
                    sc->clusters[ci].managed_resource_group, NULL);
        snprintf(link, sizeof link, "%s%s?api-version=%s&$top=%" PRId64 "&$skipToken=%zu",
                 a->r->base_url, coll, a->apiv, top, next);
        mdf_jsonw_kstr(&w, "nextLink", link);
    }
    mdf_jsonw_key(&w, "value");
    mdf_jsonw_arr_begin(&w);
    for (size_t i = (size_t)skip; i < end; i++)
        sim_json_bmm(&w, a->st, (size_t)ci, i, a->apiv, a->now);
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_obj_end(&w);
    return send_doc(a, 200, &b, &w);
}

static enum MHD_Result bmm_get(arm_ctx *a)
{
    enum MHD_Result ret = MHD_NO;
    int ci;
    int ni = find_bmm(a, &ci, &ret);
    if (ni < 0)
        return ret;
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 1024 * 1024);
    mdf_jsonw_init(&w, &b, NULL);
    sim_json_bmm(&w, a->st, (size_t)ci, (size_t)ni, a->apiv, a->now);
    return send_doc(a, 200, &b, &w);
}

/* Checks the runDataExtracts body; returns limitTimeSeconds, or -1 after
 * answering 400. */
static int64_t extract_params(arm_ctx *a, const mdf_jval *root, enum MHD_Result *ret)
{
    bool ok = true;
    const mdf_jval *cmds = typed(a, root, "commands", "commands", MDF_J_ARRAY, &ok, ret);
    if (!ok)
        return -1;
    if (!cmds || cmds->len == 0) {
        *ret = sim_send_arm_error(a->r, 400, "ValidationError",
                                  "The commands field is required and needs at least one item.");
        return -1;
    }
    for (uint32_t i = 0; i < cmds->len; i++) {
        const mdf_jval *c = &cmds->u.items[i];
        char where[64];
        snprintf(where, sizeof where, "commands[%u]", i);
        if (c->type != MDF_J_OBJECT) {
            *ret = sim_send_arm_error(a->r, 400, "InvalidRequestContent",
                                      "The request content was invalid and could not be "
                                      "deserialized: '%s' must be an object.",
                                      where);
            return -1;
        }
        snprintf(where, sizeof where, "commands[%u].command", i);
        const mdf_jval *name = typed(a, c, "command", where, MDF_J_STRING, &ok, ret);
        if (!ok)
            return -1;
        if (!name || name->len == 0) {
            *ret = sim_send_arm_error(a->r, 400, "ValidationError", "%s is required.", where);
            return -1;
        }
        snprintf(where, sizeof where, "commands[%u].arguments", i);
        const mdf_jval *args = typed(a, c, "arguments", where, MDF_J_ARRAY, &ok, ret);
        if (!ok)
            return -1;
        for (uint32_t j = 0; args && j < args->len; j++)
            if (args->u.items[j].type != MDF_J_STRING) {
                *ret = sim_send_arm_error(a->r, 400, "InvalidRequestContent",
                                          "The request content was invalid and could not be "
                                          "deserialized: '%s[%u]' must be a string.",
                                          where, j);
                return -1;
            }
        if (!mdf_jstr_is(name, MDF_EXTRACT_COMMAND)) {
            *ret = sim_send_arm_error(a->r, 400, "ValidationError",
                                      "The command '%.*s' is not supported by mdefleet-sim, which "
                                      "simulates " MDF_EXTRACT_COMMAND " only.",
                                      (int)(name->len > 60 ? 60 : name->len), name->s);
            return -1;
        }
    }
    const mdf_jval *lim =
        typed(a, root, "limitTimeSeconds", "limitTimeSeconds", MDF_J_INT, &ok, ret);
    if (!ok)
        return -1;
    if (!lim) {
        *ret = sim_send_arm_error(a->r, 400, "ValidationError",
                                  "The limitTimeSeconds field is required (%d..%d).",
                                  MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX);
        return -1;
    }
    if (lim->u.i < MDF_EXTRACT_LIMIT_MIN || lim->u.i > MDF_EXTRACT_LIMIT_MAX) {
        *ret = sim_send_arm_error(a->r, 400, "ValidationError",
                                  "The value %" PRId64 " of limitTimeSeconds is outside the "
                                  "allowed range %d..%d.",
                                  lim->u.i, MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX);
        return -1;
    }
    return lim->u.i;
}

static enum MHD_Result bmm_extract(arm_ctx *a)
{
    enum MHD_Result ret = MHD_NO;
    mdf_jdoc *doc = NULL;
    int ci;
    int ni = find_bmm(a, &ci, &ret);
    if (ni < 0)
        goto cleanup;
    /* faults.http_5xx: the service fails before it looks at the request */
    int64_t *left = &a->st->clusters[ci].fivexx_left[ni];
    if (*left > 0) {
        (*left)--;
        ret = sim_send_arm_error_retry(a->r, 503, sim_state_real_ms(a->st, POLL_SIM_SECONDS),
                                       "ServiceUnavailable",
                                       "The service is temporarily unavailable. Please retry "
                                       "the request after the time in the Retry-After header.");
        goto cleanup;
    }
    if (read_body(a, false, &doc, &ret) != MDF_OK)
        goto cleanup;
    int64_t limit = extract_params(a, &doc->root, &ret);
    if (limit < 0)
        goto cleanup;
    sim_state_settle(a->st, a->now);
    /* the duration is decided by sim_state_op_new from the node's faults */
    sim_op *op = new_op(a, SIM_OP_EXTRACT, (size_t)ci, (size_t)ni, 0, limit, &ret);
    if (!op)
        goto cleanup;
    op->restricted = a->p->route == SIM_R_BMM_EXTRACT_RESTRICTED;
    ret = accepted(a, op, false);
cleanup:
    mdf_jdoc_free(doc);
    return ret;
}

static enum MHD_Result operation_get(arm_ctx *a)
{
    sim_state_settle(a->st, a->now);
    sim_op *op = sim_state_op_find(a->st, a->p->op);
    /* an operation is found only in the subscription it was started in */
    if (!op || a->st->sc->clusters[op->cluster].sub != a->sub ||
        !sim_ieq(a->p->loc, a->st->sc->location))
        return sim_send_arm_error(a->r, 404, "ResourceNotFound",
                                  "The operation '%.80s' in location '%.40s' was not found.",
                                  a->p->op, a->p->loc);
    bool running = sim_op_status(op, a->now) == SIM_OPST_RUNNING;
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 1024 * 1024);
    mdf_jsonw_init(&w, &b, NULL);
    sim_json_op(&w, a->st, op, a->r->base_url, a->now);
    if (mdf_jsonw_finish(&w) != 0) {
        mdf_buf_free(&b);
        return sim_send_arm_error(a->r, 500, "InternalServerError", "The answer is too large.");
    }
    /* A PATCH is polled through Azure-AsyncOperation: always 200 with the
     * status. Actions are polled through Location: 202 while running. */
    unsigned status = running && op->kind != SIM_OP_PATCH ? 202 : 200;
    struct MHD_Response *resp = sim_resp_buf(&b, SIM_JSON_CT);
    if (resp && running) {
        sim_resp_retry_after(resp, op_wait_ms(a, op));
        if (status == 202) {
            char url[MDF_RID_MAX + 400];
            op_url(a, op, url, sizeof url);
            MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, url);
        }
    }
    return sim_send(a->r, status, resp);
}

static enum MHD_Result route(arm_ctx *a)
{
    switch (a->p->route) {
    case SIM_R_CLUSTER_GET:
        return cluster_get(a);
    case SIM_R_CLUSTER_PATCH:
        return cluster_patch(a);
    case SIM_R_CLUSTER_SCAN:
        return cluster_scan(a);
    case SIM_R_BMM_LIST:
        return bmm_list(a);
    case SIM_R_BMM_GET:
        return bmm_get(a);
    case SIM_R_BMM_EXTRACT:
    case SIM_R_BMM_EXTRACT_RESTRICTED:
        return bmm_extract(a);
    case SIM_R_OPERATION_GET:
        return operation_get(a);
    default:
        break;
    }
    if (a->p->bad_method)
        return sim_send_arm_error(a->r, 405, "MethodNotAllowed",
                                  "The HTTP method '%.10s' is not supported for this resource.",
                                  a->r->method);
    return sim_send_arm_error(a->r, 404, "ResourceNotFound",
                              "The resource path '%.200s' is not served by mdefleet-sim.",
                              a->r->path);
}

static bool is_write(const sim_req *r)
{
    return !sim_req_is(r, "GET") && !sim_req_is(r, "HEAD");
}

/* The served subscription a /subscriptions/{id}/... path names: its index
 * in sc->subscriptions, or -1. */
static int path_subscription(const sim_scenario *sc, const char *path)
{
    char copy[PATH_MAX_BYTES];
    char *segs[MAX_SEGS];
    if (mdf_strlcpy(copy, path, sizeof copy) != 0)
        return -1;
    int n = split(copy, segs); /* past MAX_SEGS the first ones are still there */
    if (n < 2 || !sim_ieq(segs[0], "subscriptions"))
        return -1;
    return sim_scenario_subscription(sc, segs[1]);
}

/* The bucket a request of subscription sub (-1: not served) draws from:
 * NULL when there is none. */
static mdf_token_bucket *bucket_of(sim_state *st, int sub, bool write)
{
    if (sub < 0)
        return NULL;
    return write ? &st->budgets[sub].writes : &st->budgets[sub].reads;
}

/* x-ms-ratelimit-remaining-*: the bucket's whole tokens. A subscription
 * that is not served has no bucket; it shows a full one rather than
 * another subscription's. */
static int64_t remaining(const sim_state *st, mdf_token_bucket *b, bool write, int64_t now)
{
    if (b)
        return mdf_tb_remaining(b, now);
    return (int64_t)(write ? st->sc->writes.burst : st->sc->reads.burst);
}

void sim_arm_prepare(sim_req *r)
{
    sim_state *st = r->srv->state;
    bool write = is_write(r);
    r->arm = true;
    r->ratelimit_header = write ? MDF_H_RATELIMIT_WRITES : MDF_H_RATELIMIT_READS;
    correlation_id(r);
    int sub = path_subscription(st->sc, r->path); /* the scenario is read-only: no lock */
    sim_state_lock(st);
    r->ratelimit_remaining = remaining(st, bucket_of(st, sub, write), write, mdf_mono_ms());
    sim_state_unlock(st);
}

enum MHD_Result sim_arm_handle(sim_req *r)
{
    enum MHD_Result ret = MHD_NO;
    sim_state *st = r->srv->state;
    char copy[PATH_MAX_BYTES];
    arm_path p;
    bool write = is_write(r);
    sim_arm_prepare(r);
    if (mdf_strlcpy(copy, r->path, sizeof copy) != 0) {
        r->route = SIM_R_UNKNOWN;
        return sim_send_arm_error(r, 414, "RequestUriTooLong", "The request URL is too long.");
    }
    parse_path(r->method, copy, &p);
    r->route = p.route;

    sim_state_lock(st);
    arm_ctx a = {.r = r, .st = st, .p = &p, .now = mdf_mono_ms()};
    int sub = sim_scenario_subscription(st->sc, p.sub);
    mdf_token_bucket *bucket = bucket_of(st, sub, write);
    r->ratelimit_remaining = remaining(st, bucket, write, a.now);
    if (!authorized(r, st, a.now, &ret) || !(a.apiv = api_version(r, st->sc, &ret)))
        goto cleanup;
    if (sub < 0) {
        ret =
            sim_send_arm_error(r, 404, "SubscriptionNotFound",
                               "The subscription '%.60s' could not be found.", p.sub ? p.sub : "");
        goto cleanup;
    }
    a.sub = (size_t)sub;
    /* counted before the answer goes out, so that stats read after it
     * include it */
    int64_t wait_ms = mdf_tb_take(bucket, a.now);
    if (wait_ms > 0) {
        sim_stats_charge(&r->srv->stats, a.sub, SIM_CHARGE_THROTTLED);
        const sim_budget *given = write ? &st->sc->writes : &st->sc->reads;
        if (given->retry_after_s > 0)
            wait_ms = given->retry_after_s * 1000;
        ret = sim_send_arm_error_retry(r, 429, wait_ms, "SubscriptionRequestsThrottled",
                                       "Number of '%s' requests for subscription '%s' exceeded. "
                                       "Please try again after '%" PRId64 "' seconds after "
                                       "additional tokens are available. Refer to "
                                       "https://aka.ms/arm-throttling",
                                       write ? "write" : "read", st->sc->subscriptions[a.sub],
                                       (wait_ms + 999) / 1000);
        goto cleanup;
    }
    sim_stats_charge(&r->srv->stats, a.sub, write ? SIM_CHARGE_WRITE : SIM_CHARGE_READ);
    r->ratelimit_remaining = mdf_tb_remaining(bucket, a.now); /* what the take left */
    ret = route(&a);
cleanup:
    sim_state_unlock(st);
    return ret;
}
