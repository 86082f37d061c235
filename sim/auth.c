/* The two ways to get a bearer token: Microsoft Entra ID's client
 * credentials endpoint (secret or federated assertion) and the instance
 * metadata service (managed identity). Neither is throttled. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "simhttp.h"

#define FORM_VALUE_MAX 8192 /* a federated assertion (a JWT) fits */
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* Entra ID's error body: error, an AADSTS description with trace and
 * correlation ids, error_codes, timestamp. */
static enum MHD_Result aad_error(sim_req *r, unsigned status, const char *error, int code,
                                 const char *fmt, ...) MDF_PRINTF(5, 6);
static enum MHD_Result aad_error(sim_req *r, unsigned status, const char *error, int code,
                                 const char *fmt, ...)
{
    char msg[768], desc[1200], ts[MDF_TIME_STRSZ], corr[MDF_UUID_STRSZ], uri[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mdf_random_id(corr);
    mdf_time_format_ms(mdf_time_now_ms(), ts);
    snprintf(desc, sizeof desc,
             "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", code, msg,
             r->request_id, corr, ts);
    snprintf(uri, sizeof uri, "%s/error?code=%d", r->base_url, code);
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 16384);
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "error", error);
    mdf_jsonw_kstr(&w, "error_description", desc);
    mdf_jsonw_key(&w, "error_codes");
    mdf_jsonw_arr_begin(&w);
    mdf_jsonw_int(&w, code);
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_kstr(&w, "timestamp", ts);
    mdf_jsonw_kstr(&w, "trace_id", r->request_id);
    mdf_jsonw_kstr(&w, "correlation_id", corr);
    mdf_jsonw_kstr(&w, "error_uri", uri);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_finish(&w);
    return sim_send_json(r, status, &b);
}

/* Reads a form field; -1 answered (malformed), 0 absent, 1 present. */
static int form_field(sim_req *r, const char *key, char *out, size_t outsz, enum MHD_Result *ret)
{
    int got = r->body ? sim_form_get(r->body, r->body_len, key, out, outsz) : 0;
    if (got < 0)
        *ret = aad_error(r, 400, "invalid_request", 900144,
                         "The request body has a malformed or oversized '%s' parameter.", key);
    return got;
}

/* The client named client_id, or NULL after answering that it is unknown. */
static const sim_client *find_client(sim_req *r, const sim_scenario *sc, const char *client_id,
                                     enum MHD_Result *ret)
{
    for (size_t i = 0; i < sc->n_clients; i++)
        if (strcmp(sc->clients[i].client_id, client_id) == 0)
            return &sc->clients[i];
    *ret = aad_error(r, 400, "unauthorized_client", 700016,
                     "Application with identifier '%.200s' was not found in the directory '%s'. "
                     "This can happen if the application has not been installed by the "
                     "administrator of the tenant.",
                     client_id, sc->tenant);
    return NULL;
}

enum MHD_Result sim_auth_token(sim_req *r, const char *tenant)
{
    enum MHD_Result ret = MHD_NO;
    sim_state *st = r->srv->state;
    const sim_scenario *sc = st->sc; /* read-only after load: no lock needed */
    char grant[64], client_id[256], scope[512], secret[FORM_VALUE_MAX], assertion[FORM_VALUE_MAX],
        atype[256];
    int g, c, s, sec, as, at;

    if (!sim_ieq(tenant, sc->tenant))
        return aad_error(r, 400, "invalid_request", 90002,
                         "Tenant '%.100s' not found. Check to make sure you have the correct "
                         "tenant ID and are signing into the correct cloud.",
                         tenant);
    if (!sim_req_is(r, "POST"))
        return aad_error(r, 400, "invalid_request", 900561,
                         "The endpoint only accepts POST requests. Received a %.10s request.",
                         r->method);
    if ((g = form_field(r, "grant_type", grant, sizeof grant, &ret)) < 0 ||
        (c = form_field(r, "client_id", client_id, sizeof client_id, &ret)) < 0 ||
        (s = form_field(r, "scope", scope, sizeof scope, &ret)) < 0 ||
        (sec = form_field(r, "client_secret", secret, sizeof secret, &ret)) < 0 ||
        (as = form_field(r, "client_assertion", assertion, sizeof assertion, &ret)) < 0 ||
        (at = form_field(r, "client_assertion_type", atype, sizeof atype, &ret)) < 0)
        return ret;
    if (!g)
        return aad_error(r, 400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'grant_type'.");
    if (strcmp(grant, "client_credentials") != 0)
        return aad_error(r, 400, "unsupported_grant_type", 70003,
                         "The app requested an unsupported grant type '%s'.", grant);
    if (!c)
        return aad_error(r, 400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'client_id'.");
    if (!s)
        return aad_error(r, 400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'scope'.");
    size_t slen = strlen(scope);
    if (slen < 9 || strcmp(scope + slen - 9, "/.default") != 0)
        return aad_error(r, 400, "invalid_scope", 1002012,
                         "The provided value for scope %.200s is not valid. Client credential "
                         "flows must have a scope value with /.default suffixed to the resource "
                         "identifier (application ID URI).",
                         scope);
    const sim_client *client = find_client(r, sc, client_id, &ret);
    if (!client)
        return ret;
    if (sec) {
        if (!client->client_secret || strcmp(secret, client->client_secret) != 0)
            return aad_error(r, 401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in "
                             "the request is the client secret value, not the client secret "
                             "ID, for a secret added to app '%.200s'.",
                             client_id);
    } else if (as) {
        if (!at || strcmp(atype, JWT_BEARER) != 0)
            return aad_error(r, 400, "invalid_request", 90014,
                             "The required field 'client_assertion_type' is missing or is not "
                             "'" JWT_BEARER "'.");
        bool known = false;
        for (size_t i = 0; i < sc->n_federated_tokens && !known; i++)
            known = strcmp(assertion, sc->federated_tokens[i]) == 0;
        if (!known)
            return aad_error(r, 401, "invalid_client", 700213,
                             "No matching federated identity record found for presented "
                             "assertion subject. Check your federated identity credential "
                             "configuration for app '%.200s'.",
                             client_id);
    } else {
        return aad_error(r, 401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: "
                         "'client_assertion' or 'client_secret'.");
    }

    /* The scope names the resource, the token's audience: Resource Manager
     * and Storage each take only their own. */
    char resource[512];
    mdf_strlcpy(resource, scope, sizeof resource);
    resource[slen - 8] = '\0'; /* keep the '/' before ".default" */
    char tok[SIM_TOKEN_LEN + 1];
    int64_t sim_expiry;
    sim_state_lock(st);
    int rc = sim_state_token_issue(st, sim_audience_of(resource), client->client_id, mdf_mono_ms(),
                                   tok, &sim_expiry);
    sim_state_unlock(st);
    if (rc != MDF_OK)
        return aad_error(r, 500, "temporarily_unavailable", 50000,
                         "There was an error issuing a token (no random bytes).");

    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 4096);
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "token_type", "Bearer");
    mdf_jsonw_kint(&w, "expires_in", sc->token_lifetime_s);
    mdf_jsonw_kint(&w, "ext_expires_in", sc->token_lifetime_s);
    mdf_jsonw_kstr(&w, "access_token", tok);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_finish(&w);
    struct MHD_Response *resp = sim_resp_buf(&b, SIM_JSON_CT);
    if (resp) {
        MHD_add_response_header(resp, "Cache-Control", "no-store, no-cache");
        MHD_add_response_header(resp, "Pragma", "no-cache");
    }
    return sim_send(r, 200, resp);
}

/* IMDS answers {"error","error_description"} without AADSTS codes. */
static enum MHD_Result imds_error(sim_req *r, unsigned status, const char *desc)
{
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 4096);
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "error", "invalid_request");
    mdf_jsonw_kstr(&w, "error_description", desc);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_finish(&w);
    return sim_send_json(r, status, &b);
}

static void kstr_i64(mdf_jsonw *w, const char *key, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    mdf_jsonw_kstr(w, key, s);
}

enum MHD_Result sim_auth_imds(sim_req *r)
{
    sim_state *st = r->srv->state;
    const sim_scenario *sc = st->sc;
    if (!sim_req_is(r, "GET"))
        return imds_error(r, 405, "Only GET is supported");
    const char *md = sim_req_header(r, "Metadata");
    if (!md || !sim_ieq(md, "true"))
        return imds_error(r, 400, "Required metadata header not specified");
    const char *apiv = sim_req_query(r, "api-version");
    if (!apiv || !*apiv)
        return imds_error(r, 400, "Required query variable 'api-version' is missing");
    const char *resource = sim_req_query(r, "resource");
    if (!resource || !*resource)
        return imds_error(r, 400, "Required query variable 'resource' is missing");
    if (!sc->managed_identity)
        return imds_error(r, 400, "Identity not found");

    char tok[SIM_TOKEN_LEN + 1];
    int64_t sim_expiry, real_now = mdf_mono_ms();
    sim_state_lock(st);
    int64_t sim_now = sim_state_sim_ms(st, real_now);
    /* issued to the managed identity, for the resource asked for */
    int rc = sim_state_token_issue(st, sim_audience_of(resource), st->imds_client_id, real_now, tok,
                                   &sim_expiry);
    sim_state_unlock(st);
    if (rc != MDF_OK)
        return imds_error(r, 500, "Failed to issue a token");

    /* every value a string, as IMDS writes them */
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 4096);
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "access_token", tok);
    mdf_jsonw_kstr(&w, "client_id", st->imds_client_id);
    kstr_i64(&w, "expires_in", sc->token_lifetime_s);
    kstr_i64(&w, "expires_on", sim_expiry / 1000);
    kstr_i64(&w, "ext_expires_in", sc->token_lifetime_s);
    kstr_i64(&w, "not_before", sim_now / 1000);
    mdf_jsonw_kstr(&w, "resource", resource);
    mdf_jsonw_kstr(&w, "token_type", "Bearer");
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_finish(&w);
    return sim_send_json(r, 200, &b);
}
