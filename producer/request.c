#include "request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arm_decode.h"
#include "clock.h"
#include "err.h"
#include "names.h"
#include "resource_id.h"

#define SHOWN_MAX 64 /* how much of a bad value an error repeats */

/* Field names as the user wrote them: options or JSON keys. */
static const char *const field_names[][2] = {
    {"subscription", "--subscription"},
    {"resource_group", "--resource-group"},
    {"cluster", "--cluster"},
    {"level", "--level"},
    {"managed_resource_group", "--managed-resource-group"},
    {"nodes", "--node"},
    {"limit_time_seconds", "--limit-time-seconds"},
    {"requested_by", "--requested-by"},
};

static const char *fname(req_names names, const char *snake)
{
    for (size_t i = 0; i < sizeof field_names / sizeof *field_names; i++)
        if (strcmp(field_names[i][0], snake) == 0)
            return field_names[i][names == REQ_NAMES_CLI ? 1 : 0];
    return snake;
}

/* A user's value made safe for a one-line message: control characters
 * become '?', and it is cut after SHOWN_MAX bytes. */
static const char *shown(const char *s, char buf[SHOWN_MAX + 4])
{
    size_t i = 0;
    for (; s[i] && i < SHOWN_MAX; i++)
        buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* A required name, checked with valid(); what a good one looks like goes
 * into the message, so the user can fix it without the API docs. */
static int check_name(const char *v, bool required, bool (*valid)(const char *), const char *field,
                      const char *what, req_names names, char *err, size_t errsz)
{
    char sb[SHOWN_MAX + 4];
    if (!v) {
        if (!required)
            return MDF_OK;
        return mdf_seterr(err, errsz, "missing %s", fname(names, field));
    }
    if (!valid(v))
        return mdf_seterr(err, errsz, "%s \"%s\" is not %s", fname(names, field), shown(v, sb),
                          what);
    return MDF_OK;
}

static int check_input(const req_input *in, req_names names, char *err, size_t errsz)
{
    char sb[SHOWN_MAX + 4];
    if (check_name(in->subscription, true, mdf_valid_subscription, "subscription",
                   MDF_RULE_SUBSCRIPTION, names, err, errsz) != MDF_OK ||
        check_name(in->resource_group, true, mdf_valid_resource_group, "resource_group",
                   MDF_RULE_RESOURCE_GROUP, names, err, errsz) != MDF_OK ||
        check_name(in->cluster, true, mdf_valid_cluster_name, "cluster", MDF_RULE_CLUSTER, names,
                   err, errsz) != MDF_OK)
        return MDF_ERR;
    if (in->scan) {
        if (in->level)
            return mdf_seterr(err, errsz, "%s does not apply to a scan", fname(names, "level"));
        if (check_name(in->managed_resource_group, false, mdf_valid_resource_group,
                       "managed_resource_group", MDF_RULE_RESOURCE_GROUP, names, err,
                       errsz) != MDF_OK)
            return MDF_ERR;
        if (in->n_nodes > MDF_MAX_NODES_PER_JOB)
            return mdf_seterr(err, errsz, "more than %d nodes", MDF_MAX_NODES_PER_JOB);
        for (size_t i = 0; i < in->n_nodes; i++)
            if (check_name(in->nodes[i], true, mdf_valid_bmm_name, "nodes", MDF_RULE_BMM, names,
                           err, errsz) != MDF_OK)
                return MDF_ERR;
        if (in->has_limit && (in->limit_time_seconds < MDF_EXTRACT_LIMIT_MIN ||
                              in->limit_time_seconds > MDF_EXTRACT_LIMIT_MAX))
            return mdf_seterr(err, errsz, "%s %lld is out of range (%d..%d)",
                              fname(names, "limit_time_seconds"), (long long)in->limit_time_seconds,
                              MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX);
    } else {
        if (!in->level)
            return mdf_seterr(err, errsz, "missing %s", fname(names, "level"));
        if (!mdf_valid_enforcement_level(in->level))
            return mdf_seterr(err, errsz, "%s \"%s\" is not an enforcement level: " MDF_RULE_LEVEL,
                              fname(names, "level"), shown(in->level, sb));
        const char *not_here = in->managed_resource_group ? "managed_resource_group"
                               : in->n_nodes > 0          ? "nodes"
                               : in->has_limit            ? "limit_time_seconds"
                                                          : NULL;
        if (not_here)
            return mdf_seterr(err, errsz, "%s does not apply to an enforcement change",
                              fname(names, not_here));
    }
    if (in->requested_by &&
        (!in->requested_by[0] || strlen(in->requested_by) > REQ_MAX_REQUESTED_BY))
        return mdf_seterr(err, errsz, "%s must be 1 to %d bytes", fname(names, "requested_by"),
                          REQ_MAX_REQUESTED_BY);
    return MDF_OK;
}

/* Adds a string member; json-c copies it. */
static int add_str(json_object *o, const char *k, const char *v)
{
    json_object *s = v ? json_object_new_string(v) : NULL;
    if (v && !s)
        return MDF_ERR;
    return json_object_object_add(o, k, s) == 0 ? MDF_OK : MDF_ERR;
}

static int build_record(const req_input *in, const char *job_id, const char *by, json_object **out)
{
    int rc = MDF_ERR;
    json_object *o = json_object_new_object();
    json_object *nodes = NULL;
    if (!o)
        goto cleanup;
    if (add_str(o, in->scan ? "job_id" : "request_id", job_id) != MDF_OK ||
        json_object_object_add(o, "requested_at", json_object_new_int64(mdf_time_now_ms())) ||
        add_str(o, "subscription_id", in->subscription) != MDF_OK ||
        add_str(o, "resource_group", in->resource_group) != MDF_OK ||
        add_str(o, "cluster", in->cluster) != MDF_OK || add_str(o, "requested_by", by) != MDF_OK)
        goto cleanup;
    if (!in->scan) {
        if (add_str(o, "level", in->level) != MDF_OK)
            goto cleanup;
        *out = o;
        o = NULL;
        rc = MDF_OK;
        goto cleanup;
    }
    if (add_str(o, "managed_resource_group", in->managed_resource_group) != MDF_OK)
        goto cleanup;
    /* Left out, the schema's default (600) applies: one source of truth. */
    if (in->has_limit && json_object_object_add(o, "limit_time_seconds",
                                                json_object_new_int64(in->limit_time_seconds)))
        goto cleanup;
    nodes = json_object_new_array();
    if (!nodes)
        goto cleanup;
    for (size_t i = 0; i < in->n_nodes; i++) {
        /* A node named twice would be scanned twice: keep the first. */
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(in->nodes[i], in->nodes[j]) == 0;
        if (!dup && json_object_array_add(nodes, json_object_new_string(in->nodes[i])))
            goto cleanup;
    }
    if (json_object_object_add(o, "nodes", nodes))
        goto cleanup;
    nodes = NULL; /* owned by o */
    *out = o;
    o = NULL;
    rc = MDF_OK;
cleanup:
    json_object_put(nodes);
    json_object_put(o);
    return rc;
}

/* Names are checked before: they fit (GUID 36, group 90, cluster 30). */
static void lower(char *dst, size_t dstsz, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < dstsz; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

int req_build(request *out, const req_input *in, req_names names, req_codec *rc, char *err,
              size_t errsz)
{
    int ret = MDF_ERR;
    json_object *rec = NULL;
    memset(out, 0, sizeof *out);
    mdf_buf_init(&out->value, MDF_CODEC_MAX_RECORD);
    if (check_input(in, names, err, errsz) != MDF_OK)
        goto cleanup;
    const char *by = in->requested_by;
    if (!by) {
        by = getenv("USER");
        if (!by || !*by || strlen(by) > REQ_MAX_REQUESTED_BY)
            by = "unknown";
    }
    out->rec = in->scan ? MDF_REC_SCAN_JOB : MDF_REC_ENFORCEMENT_CHANGE;
    mdf_random_id(out->job_id);
    /* The key keeps one cluster's requests in one partition, in order.
     * ARM names are case-insensitive, so "RG" and "rg" must not split: the
     * names go in lower case, the fixed parts as ARM writes them. */
    char sub[40], rg[96], cl[40];
    lower(sub, sizeof sub, in->subscription);
    lower(rg, sizeof rg, in->resource_group);
    lower(cl, sizeof cl, in->cluster);
    mdf_rid_cluster(out->key, sizeof out->key, sub, rg, cl);
    if (build_record(in, out->job_id, by, &rec) != MDF_OK) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    if (mdf_codec_write(rc->codec, &rc->opts, out->rec, rec, &out->value, err, errsz) != MDF_OK)
        goto cleanup;
    ret = MDF_OK;
cleanup:
    json_object_put(rec);
    if (ret != MDF_OK)
        req_free(out);
    return ret;
}

void req_free(request *r)
{
    mdf_buf_free(&r->value);
}

/* The JSON value of a string field: NULL for null, else it must be a
 * string. */
static int json_str(json_object *v, const char *k, const char **out, char *err, size_t errsz)
{
    if (!v) {
        *out = NULL;
        return MDF_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return mdf_seterr(err, errsz, "%s must be a string", k);
    *out = json_object_get_string(v);
    return MDF_OK;
}

int req_from_json_line(request *out, const char *line, size_t len, req_codec *rc, char *err,
                       size_t errsz)
{
    int ret = MDF_ERR;
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;
    const char *nodes[MDF_MAX_NODES_PER_JOB];
    req_input in;
    memset(&in, 0, sizeof in);
    memset(out, 0, sizeof *out);
    mdf_buf_init(&out->value, 0);
    if (!tok) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    /* Strict: a request file is written by programs; a trailing comma or a
     * single-quoted string is a mistake worth pointing out. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (!o) {
        mdf_seterr(err, errsz, "not JSON: %s at byte %zu",
                   je == json_tokener_continue ? "unexpected end of line"
                                               : json_tokener_error_desc(je),
                   json_tokener_get_parse_end(tok) + 1);
        goto cleanup;
    }
    size_t end = json_tokener_get_parse_end(tok);
    while (end < len && isspace((unsigned char)line[end]))
        end++;
    if (end < len) {
        mdf_seterr(err, errsz, "not JSON: something after the object at byte %zu", end + 1);
        goto cleanup;
    }
    if (!json_object_is_type(o, json_type_object)) {
        mdf_seterr(err, errsz, "not a JSON object");
        goto cleanup;
    }
    const char *type = NULL;
    json_object_object_foreach(o, k, v) {
        const char **slot = strcmp(k, "type") == 0                     ? &type
                            : strcmp(k, "subscription") == 0           ? &in.subscription
                            : strcmp(k, "resource_group") == 0         ? &in.resource_group
                            : strcmp(k, "cluster") == 0                ? &in.cluster
                            : strcmp(k, "level") == 0                  ? &in.level
                            : strcmp(k, "managed_resource_group") == 0 ? &in.managed_resource_group
                            : strcmp(k, "requested_by") == 0           ? &in.requested_by
                                                                       : NULL;
        if (slot) {
            if (json_str(v, k, slot, err, errsz) != MDF_OK)
                goto cleanup;
        } else if (strcmp(k, "nodes") == 0) {
            if (v && !json_object_is_type(v, json_type_array)) {
                mdf_seterr(err, errsz, "nodes must be an array of strings");
                goto cleanup;
            }
            size_t n = v ? json_object_array_length(v) : 0;
            if (n > MDF_MAX_NODES_PER_JOB) {
                mdf_seterr(err, errsz, "more than %d nodes", MDF_MAX_NODES_PER_JOB);
                goto cleanup;
            }
            for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string)) {
                    mdf_seterr(err, errsz, "nodes[%zu] must be a string", i);
                    goto cleanup;
                }
                nodes[i] = json_object_get_string(e);
            }
            in.nodes = nodes;
            in.n_nodes = n;
        } else if (strcmp(k, "limit_time_seconds") == 0) {
            if (v && !json_object_is_type(v, json_type_int)) {
                mdf_seterr(err, errsz, "limit_time_seconds must be a whole number");
                goto cleanup;
            }
            in.has_limit = v != NULL;
            in.limit_time_seconds = json_object_get_int64(v);
        } else {
            char sb[SHOWN_MAX + 4];
            mdf_seterr(err, errsz, "unknown field \"%s\"", shown(k, sb));
            goto cleanup;
        }
    }
    if (!type) {
        mdf_seterr(err, errsz, "missing type (\"enforce\" or \"scan\")");
        goto cleanup;
    }
    if (strcmp(type, "scan") != 0 && strcmp(type, "enforce") != 0) {
        char sb[SHOWN_MAX + 4];
        mdf_seterr(err, errsz, "type \"%s\" is neither \"enforce\" nor \"scan\"", shown(type, sb));
        goto cleanup;
    }
    in.scan = strcmp(type, "scan") == 0;
    /* strings of o stay valid until it is put, after the build copied them */
    ret = req_build(out, &in, REQ_NAMES_FILE, rc, err, errsz);
cleanup:
    json_object_put(o);
    if (tok)
        json_tokener_free(tok);
    return ret;
}
