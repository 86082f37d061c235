#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "json_reader.h"
#include "names.h"
#include "routes.h"
#include "strconv.h"
#include "util.h"

/* A scenario for 10,000 nodes with reports is a few MB; this is a sanity cap. */
#define SCENARIO_MAX_BYTES (64u * 1024 * 1024)
#define SCENARIO_MAX_DEPTH 32
#define WHERESZ 160

static const char *const LEVEL_NAMES[SIM_LEVEL_COUNT] = {"Audit", "Disabled", "OnDemand", "Passive",
                                                         "RealTime"};

const char *sim_level_name(sim_level l)
{
    return (unsigned)l < SIM_LEVEL_COUNT ? LEVEL_NAMES[l] : "Disabled";
}

int sim_level_parse(const char *s)
{
    for (int i = 0; i < SIM_LEVEL_COUNT; i++)
        if (strcmp(s, LEVEL_NAMES[i]) == 0)
            return i;
    return -1;
}

/* "2025-09-01" or "2025-07-01-preview" */
static bool is_api_version(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    size_t n = strlen(s);
    if (n != 10 && !(n == 18 && strcmp(s + 10, "-preview") == 0))
        return false;
    for (size_t i = 0; i < 10; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-')
            return false;
    return true;
}

static bool is_lower_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

static bool is_location(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* ---- the strict walker ------------------------------------------------------ */

typedef struct ld {
    sim_scenario *sc;
    const char *file;
    char *err;
    size_t errsz;
} ld;

static int fail(ld *l, const char *where, const char *key, const char *fmt, ...) MDF_PRINTF(4, 5);
static int fail(ld *l, const char *where, const char *key, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *dot = where[0] && key && key[0] ? "." : "";
    return mdf_seterr(l->err, l->errsz, "%s: %s%s%s: %s", l->file, where, dot, key ? key : "", msg);
}

/* where.key[idx]: a path for messages; a path too long for them is cut. */
static void sub(char out[WHERESZ], const char *where, const char *key, size_t idx)
{
    const char *dot = where[0] ? "." : "";
    int n = idx == (size_t)-1 ? snprintf(out, WHERESZ, "%s%s%s", where, dot, key)
                              : snprintf(out, WHERESZ, "%s%s%s[%zu]", where, dot, key, idx);
    if (n < 0 || n >= WHERESZ)
        memcpy(out + WHERESZ - 4, "...", 4);
}

/* Refuses keys outside `allowed` (naming all of them) and repeated keys. */
static int check_keys(ld *l, const mdf_jval *obj, const char *where, const char *const *allowed)
{
    char unknown[200] = "";
    size_t used = 0;
    int n_unknown = 0;
    for (uint32_t i = 0; i < obj->len; i++) {
        const mdf_jmember *m = &obj->u.members[i];
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strlen(*a) == m->klen && memcmp(*a, m->key, m->klen) == 0;
        for (uint32_t j = 0; j < i; j++) {
            const mdf_jmember *o = &obj->u.members[j];
            if (o->klen == m->klen && memcmp(o->key, m->key, m->klen) == 0)
                return fail(l, where, NULL, "key \"%.*s\" appears twice", (int)m->klen, m->key);
        }
        if (known)
            continue;
        n_unknown++;
        if (used < sizeof unknown) {
            int w = snprintf(unknown + used, sizeof unknown - used, "%s\"%.*s\"", used ? ", " : "",
                             (int)(m->klen > 40 ? 40 : m->klen), m->key);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    if (n_unknown == 0)
        return MDF_OK;
    return fail(l, where[0] ? where : "(top level)", NULL, "unknown key%s %s",
                n_unknown > 1 ? "s" : "", unknown);
}

/* Looks up key; *v is NULL when absent (or null and null_ok). Fails when it
 * is required and absent, or not of type `want`. */
static int member(ld *l, const mdf_jval *obj, const char *where, const char *key, mdf_jtype want,
                  bool required, bool null_ok, const mdf_jval **v)
{
    *v = mdf_jget(obj, key);
    if (!*v) {
        if (required)
            return fail(l, where, key, "missing");
        return MDF_OK;
    }
    if ((*v)->type == MDF_J_NULL && null_ok) {
        *v = NULL;
        return MDF_OK;
    }
    bool ok = (*v)->type == want || (want == MDF_J_DOUBLE && (*v)->type == MDF_J_INT);
    if (!ok) {
        mdf_jval w = {.type = (uint8_t)want};
        const char *wname = want == MDF_J_INT ? "an integer" : mdf_jtype_name(&w);
        return fail(l, where, key, "expected %s, got %s%s", wname, mdf_jtype_name(*v),
                    want == MDF_J_INT && (*v)->type == MDF_J_DOUBLE ? " with a fraction" : "");
    }
    return MDF_OK;
}

static int dup_str(ld *l, const mdf_jval *v, const char *where, const char *key, const char **out)
{
    if (memchr(v->s, '\0', v->len))
        return fail(l, where, key, "contains a NUL character");
    char *s = mdf_arena_strndup(&l->sc->arena, v->s, v->len);
    if (!s)
        return fail(l, where, key, "out of memory");
    *out = s;
    return MDF_OK;
}

static int get_str(ld *l, const mdf_jval *obj, const char *where, const char *key, bool required,
                   const char *dflt, const char **out)
{
    const mdf_jval *v;
    if (member(l, obj, where, key, MDF_J_STRING, required, false, &v) != MDF_OK)
        return MDF_ERR;
    if (!v) {
        *out = dflt;
        return MDF_OK;
    }
    return dup_str(l, v, where, key, out);
}

/* A string from `set`, or dflt when absent. */
static int get_enum(ld *l, const mdf_jval *obj, const char *where, const char *key,
                    const char *const *set, const char *dflt, const char **out)
{
    if (get_str(l, obj, where, key, dflt == NULL, dflt, out) != MDF_OK)
        return MDF_ERR;
    if (one_of(*out, set))
        return MDF_OK;
    char list[160] = "";
    size_t used = 0;
    for (const char *const *s = set; *s && used < sizeof list; s++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? "|" : "", *s);
        used += w > 0 ? (size_t)w : 0;
    }
    return fail(l, where, key, "\"%.40s\" is not one of %s", *out, list);
}

static int get_int(ld *l, const mdf_jval *obj, const char *where, const char *key, bool required,
                   int64_t dflt, int64_t min, int64_t max, int64_t *out)
{
    const mdf_jval *v;
    if (member(l, obj, where, key, MDF_J_INT, required, false, &v) != MDF_OK)
        return MDF_ERR;
    *out = v ? v->u.i : dflt;
    if (*out < min || *out > max)
        return fail(l, where, key, "%lld is outside %lld..%lld", (long long)*out, (long long)min,
                    (long long)max);
    return MDF_OK;
}

static int get_time(ld *l, const mdf_jval *obj, const char *where, const char *key, bool required,
                    int64_t dflt, int64_t *out)
{
    if (get_int(l, obj, where, key, required, dflt, INT64_MIN, INT64_MAX, out) != MDF_OK)
        return MDF_ERR;
    if (!mdf_time_valid_ms(*out))
        return fail(l, where, key, "%lld ms is not a time in years 1..9999", (long long)*out);
    return MDF_OK;
}

/* A number in (min_excl?min:[min), max]; absent (or null when null_ok) gives dflt. */
static int get_num(ld *l, const mdf_jval *obj, const char *where, const char *key, double dflt,
                   double min, bool min_excl, double max, bool null_ok, double *out)
{
    const mdf_jval *v;
    if (member(l, obj, where, key, MDF_J_DOUBLE, false, null_ok, &v) != MDF_OK)
        return MDF_ERR;
    if (!v) {
        *out = dflt;
        return MDF_OK;
    }
    *out = v->type == MDF_J_INT ? (double)v->u.i : v->u.d;
    if (*out < min || (min_excl && *out == min) || *out > max)
        return fail(l, where, key, "%g is outside %s%g..%g]", *out, min_excl ? "(" : "[", min, max);
    return MDF_OK;
}

static int get_bool(ld *l, const mdf_jval *obj, const char *where, const char *key, bool dflt,
                    bool *out)
{
    const mdf_jval *v;
    if (member(l, obj, where, key, MDF_J_BOOL, false, false, &v) != MDF_OK)
        return MDF_ERR;
    *out = v ? v->b : dflt;
    return MDF_OK;
}

/* An array of strings; when absent, *out is dflt (n_dflt items). */
static int get_strs(ld *l, const mdf_jval *obj, const char *where, const char *key, bool nonempty,
                    const char *const *dflt, size_t n_dflt, const char ***out, size_t *n)
{
    const mdf_jval *v;
    if (member(l, obj, where, key, MDF_J_ARRAY, false, false, &v) != MDF_OK)
        return MDF_ERR;
    if (!v) {
        *out = (const char **)dflt;
        *n = n_dflt;
        return MDF_OK;
    }
    if (nonempty && v->len == 0)
        return fail(l, where, key, "must not be empty");
    *n = v->len;
    *out = v->len ? mdf_arena_alloc(&l->sc->arena, v->len * sizeof **out) : NULL;
    if (v->len && !*out)
        return fail(l, where, key, "out of memory");
    for (uint32_t i = 0; i < v->len; i++) {
        char w[WHERESZ];
        sub(w, where, key, i);
        const mdf_jval *item = &v->u.items[i];
        if (item->type != MDF_J_STRING)
            return fail(l, w, NULL, "expected a string, got %s", mdf_jtype_name(item));
        if (dup_str(l, item, w, NULL, &(*out)[i]) != MDF_OK)
            return MDF_ERR;
    }
    return MDF_OK;
}

/* An array of objects, each given to `each`. */
typedef int (*item_fn)(ld *l, const mdf_jval *item, const char *where, void *dst);

static int get_objs(ld *l, const mdf_jval *obj, const char *where, const char *key, bool required,
                    size_t itemsz, item_fn each, void **out, size_t *n)
{
    const mdf_jval *v;
    *out = NULL;
    *n = 0;
    if (member(l, obj, where, key, MDF_J_ARRAY, required, false, &v) != MDF_OK)
        return MDF_ERR;
    if (!v || v->len == 0)
        return MDF_OK;
    char *items = mdf_arena_alloc(&l->sc->arena, v->len * itemsz);
    if (!items)
        return fail(l, where, key, "out of memory");
    memset(items, 0, v->len * itemsz);
    for (uint32_t i = 0; i < v->len; i++) {
        char w[WHERESZ];
        sub(w, where, key, i);
        if (v->u.items[i].type != MDF_J_OBJECT)
            return fail(l, w, NULL, "expected an object, got %s", mdf_jtype_name(&v->u.items[i]));
        if (each(l, &v->u.items[i], w, items + i * itemsz) != MDF_OK)
            return MDF_ERR;
    }
    *out = items;
    *n = v->len;
    return MDF_OK;
}

/* An optional object member: *v NULL when absent; unknown keys refused. */
static int get_obj(ld *l, const mdf_jval *obj, const char *where, const char *key,
                   const char *const *allowed, bool required, const mdf_jval **v, char w[WHERESZ])
{
    if (member(l, obj, where, key, MDF_J_OBJECT, required, false, v) != MDF_OK)
        return MDF_ERR;
    sub(w, where, key, (size_t)-1);
    if (!*v)
        return MDF_OK;
    return check_keys(l, *v, w, allowed);
}

/* ---- sections ------------------------------------------------------------- */

static int load_scan(ld *l, const mdf_jval *o, const char *w, void *dst)
{
    static const char *const keys[] = {"type", "start", "duration_ms", "files", "state", NULL};
    static const char *const types[] = {"quick", "full", "custom", NULL};
    static const char *const states[] = {"succeeded", "failed", "cancelled", NULL};
    sim_scan *s = dst;
    if (check_keys(l, o, w, keys) != MDF_OK ||
        get_enum(l, o, w, "type", types, "quick", &s->type) ||
        get_time(l, o, w, "start", true, 0, &s->start_ms) ||
        get_int(l, o, w, "duration_ms", true, 0, 0, INT64_C(31536000000), &s->duration_ms) ||
        get_int(l, o, w, "files", false, 0, 0, INT64_MAX, &s->files) ||
        get_enum(l, o, w, "state", states, "succeeded", &s->state))
        return MDF_ERR;
    if (!mdf_time_valid_ms(s->start_ms + s->duration_ms))
        return fail(l, w, "duration_ms", "ends after year 9999");
    return MDF_OK;
}

static int load_threat(ld *l, const mdf_jval *o, const char *w, void *dst)
{
    static const char *const keys[] = {"name", "type", "detected", "status", NULL};
    static const char *const dflt_status[] = {"detected"};
    sim_threat *t = dst;
    if (check_keys(l, o, w, keys) != MDF_OK || get_str(l, o, w, "name", true, NULL, &t->name) ||
        get_str(l, o, w, "type", false, "virus", &t->type) ||
        get_time(l, o, w, "detected", true, 0, &t->detected_ms) ||
        get_strs(l, o, w, "status", true, dflt_status, 1, &t->status, &t->n_status))
        return MDF_ERR;
    if (!t->name[0])
        return fail(l, w, "name", "must not be empty");
    for (size_t i = 0; i < t->n_status; i++)
        if (!is_lower_word(t->status[i]))
            return fail(l, w, "status", "\"%.40s\" is not a lowercase word like \"quarantined\"",
                        t->status[i]);
    return MDF_OK;
}

static int load_health(ld *l, const mdf_jval *report, const char *where, sim_health *h)
{
    static const char *const keys[] = {"healthy",
                                       "licensed",
                                       "app_version",
                                       "engine_version",
                                       "definitions_version",
                                       "definitions_updated",
                                       "real_time_protection",
                                       "passive_mode",
                                       "issues",
                                       NULL};
    const mdf_jval *o;
    char w[WHERESZ];
    if (get_obj(l, report, where, "health", keys, false, &o, w) != MDF_OK)
        return MDF_ERR;
    static const mdf_jval empty = {.type = MDF_J_OBJECT};
    if (!o)
        o = &empty;
    /* Defaults: a healthy, licensed agent in real-time mode (the values of
     * the reference health example). */
    return get_bool(l, o, w, "healthy", true, &h->healthy) ||
                   get_bool(l, o, w, "licensed", true, &h->licensed) ||
                   get_str(l, o, w, "app_version", false, "101.24082.0004", &h->app_version) ||
                   get_str(l, o, w, "engine_version", false, "1.1.24080.4", &h->engine_version) ||
                   get_str(l, o, w, "definitions_version", false, "1.417.472.0",
                           &h->definitions_version) ||
                   get_time(l, o, w, "definitions_updated", false, INT64_C(1727161200000),
                            &h->definitions_updated_ms) ||
                   get_bool(l, o, w, "real_time_protection", true, &h->real_time_protection) ||
                   get_bool(l, o, w, "passive_mode", false, &h->passive_mode) ||
                   get_strs(l, o, w, "issues", false, NULL, 0, &h->issues, &h->n_issues)
               ? MDF_ERR
               : MDF_OK;
}

static int load_faults(ld *l, const mdf_jval *node, const char *where, sim_faults *f)
{
    static const char *const keys[] = {"agent_not_running",
                                       "exit_code",
                                       "operation_failed",
                                       "http_5xx",
                                       "slow_download_bytes_per_second",
                                       "broken_download_after_bytes",
                                       "corrupt_archive",
                                       "archive_bomb_mib",
                                       "expired_sas",
                                       "extract_seconds",
                                       "blob_401",
                                       "blob_404",
                                       "blob_5xx",
                                       "blob_no_role",
                                       "blob_blocked",
                                       NULL};
    const mdf_jval *o, *v;
    char w[WHERESZ];
    f->exit_code = -1;
    f->extract_seconds = -1;
    if (get_obj(l, node, where, "faults", keys, false, &o, w) != MDF_OK)
        return MDF_ERR;
    if (!o)
        return MDF_OK;
    if (get_bool(l, o, w, "agent_not_running", false, &f->agent_not_running) ||
        get_int(l, o, w, "http_5xx", false, 0, 0, 1000000, &f->http_5xx) ||
        get_int(l, o, w, "slow_download_bytes_per_second", false, 0, 0, INT64_MAX,
                &f->slow_download_bps) ||
        get_int(l, o, w, "broken_download_after_bytes", false, 0, 0, INT64_MAX,
                &f->broken_download_after) ||
        get_bool(l, o, w, "corrupt_archive", false, &f->corrupt_archive) ||
        get_int(l, o, w, "archive_bomb_mib", false, 0, 0, 65536, &f->archive_bomb_mib) ||
        get_bool(l, o, w, "expired_sas", false, &f->expired_sas) ||
        get_num(l, o, w, "extract_seconds", -1, 0, false, 1e7, true, &f->extract_seconds) ||
        get_int(l, o, w, "blob_401", false, 0, 0, 1000000, &f->blob_401) ||
        get_int(l, o, w, "blob_404", false, 0, 0, 1000000, &f->blob_404) ||
        get_int(l, o, w, "blob_5xx", false, 0, 0, 1000000, &f->blob_5xx) ||
        get_bool(l, o, w, "blob_no_role", false, &f->blob_no_role) ||
        get_bool(l, o, w, "blob_blocked", false, &f->blob_blocked))
        return MDF_ERR;
    /* exit_code is a string, as exitCode is on the wire */
    if (member(l, o, w, "exit_code", MDF_J_STRING, false, true, &v) != MDF_OK)
        return MDF_ERR;
    if (v) {
        int64_t code;
        if (mdf_parse_int64(v->s, v->len, &code) != 0 || code < 0 || code > 255 || v->s[0] == '-')
            return fail(l, w, "exit_code", "\"%.*s\" is not an exit code 0..255",
                        (int)(v->len > 20 ? 20 : v->len), v->s);
        f->exit_code = (int)code;
    }
    if (member(l, o, w, "operation_failed", MDF_J_STRING, false, true, &v) != MDF_OK)
        return MDF_ERR;
    if (v && v->len == 0)
        return fail(l, w, "operation_failed", "must not be empty");
    if (v && dup_str(l, v, w, "operation_failed", &f->operation_failed) != MDF_OK)
        return MDF_ERR;
    return MDF_OK;
}

/* A node's `report` in `parent`, or its `next.report` when `base` is given:
 * then the sections it gives replace base's whole (their absent fields take
 * the defaults) and the others stay base's. */
static int load_report(ld *l, const mdf_jval *parent, const char *where, const sim_report *base,
                       sim_report *r)
{
    static const char *const keys[] = {"scans", "threats", "health", NULL};
    static const mdf_jval empty = {.type = MDF_J_OBJECT};
    const mdf_jval *rep;
    char rw[WHERESZ];
    if (get_obj(l, parent, where, "report", keys, false, &rep, rw) != MDF_OK)
        return MDF_ERR;
    if (!rep)
        rep = &empty;
    if (base)
        *r = *base;
    if ((!base || mdf_jget(rep, "scans")) && get_objs(l, rep, rw, "scans", false, sizeof(sim_scan),
                                                      load_scan, (void **)&r->scans, &r->n_scans))
        return MDF_ERR;
    if ((!base || mdf_jget(rep, "threats")) &&
        get_objs(l, rep, rw, "threats", false, sizeof(sim_threat), load_threat,
                 (void **)&r->threats, &r->n_threats))
        return MDF_ERR;
    if ((!base || mdf_jget(rep, "health")) && load_health(l, rep, rw, &r->health) != MDF_OK)
        return MDF_ERR;
    /* threatInformation lists threats under the scan that found them */
    if (r->n_threats > 0 && r->n_scans == 0) {
        if (!base)
            return fail(l, rw, "threats", "need at least one scan in report.scans to belong to");
        return fail(l, rw, mdf_jget(rep, "threats") ? "threats" : "scans",
                    "the threats of the next phase need at least one scan to belong to");
    }
    return MDF_OK;
}

/* `next`: one further phase of the node (POST /_admin/next-phase). */
static int load_next(ld *l, const mdf_jval *node, const char *where, sim_node *n)
{
    static const char *const keys[] = {"report", "faults", NULL};
    const mdf_jval *o;
    char w[WHERESZ];
    if (get_obj(l, node, where, "next", keys, false, &o, w) != MDF_OK)
        return MDF_ERR;
    if (!o)
        return MDF_OK;
    if (o->len == 0)
        return fail(l, w, NULL, "give report or faults (or leave next out)");
    n->has_next = true;
    n->next_sets_faults = mdf_jget(o, "faults") != NULL;
    n->next_faults = n->faults;
    if (load_report(l, o, w, &n->report, &n->next_report) != MDF_OK)
        return MDF_ERR;
    return n->next_sets_faults ? load_faults(l, o, w, &n->next_faults) : MDF_OK;
}

static int load_node(ld *l, const mdf_jval *o, const char *w, void *dst)
{
    static const char *const keys[] = {
        "name",          "rack",   "roles",  "power_state", "ready_state", "detailed_status",
        "cordon_status", "report", "faults", "next",        NULL};
    static const char *const power[] = {"On", "Off", NULL};
    static const char *const ready[] = {"True", "False", NULL};
    static const char *const detailed[] = {
        "Preparing", "Error", "Available", "Provisioning", "Provisioned", "Deprovisioning", NULL};
    static const char *const cordon[] = {"Cordoned", "Uncordoned", NULL};
    sim_node *n = dst;
    if (check_keys(l, o, w, keys) != MDF_OK || get_str(l, o, w, "name", true, NULL, &n->name) ||
        get_str(l, o, w, "rack", true, NULL, &n->rack) ||
        get_strs(l, o, w, "roles", false, NULL, 0, &n->roles, &n->n_roles) ||
        get_enum(l, o, w, "power_state", power, "On", &n->power_state) ||
        get_enum(l, o, w, "ready_state", ready, "True", &n->ready_state) ||
        get_enum(l, o, w, "detailed_status", detailed, "Provisioned", &n->detailed_status) ||
        get_enum(l, o, w, "cordon_status", cordon, "Uncordoned", &n->cordon_status))
        return MDF_ERR;
    if (!mdf_valid_bmm_name(n->name))
        return fail(l, w, "name",
                    "\"%.70s\" does not match ^([a-zA-Z0-9][a-zA-Z0-9]{0,62}[a-zA-Z0-9])$",
                    n->name);
    /* Rack names follow the cluster pattern (racks are NetworkCloud resources
     * too); the specification's exact rack pattern was not checked. */
    if (!mdf_valid_cluster_name(n->rack))
        return fail(l, w, "rack",
                    "\"%.70s\" does not match ^([a-zA-Z0-9][a-zA-Z0-9-_]{0,28}[a-zA-Z0-9])$",
                    n->rack);
    if (load_report(l, o, w, NULL, &n->report) || load_faults(l, o, w, &n->faults) ||
        load_next(l, o, w, n))
        return MDF_ERR;
    return MDF_OK;
}

/* Storage's rule for account names: 3-24 lowercase letters and digits. */
static bool is_account_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 24)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Storage's rule for container names: 3-63 lowercase letters, digits and
 * '-', beginning and ending with a letter or digit, no "--". */
static bool is_container_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (!alnum && (s[i] != '-' || s[i + 1] == '-'))
            return false;
    }
    return true;
}

/* The default readers: every client of auth.clients, and the managed
 * identity when IMDS hands out tokens. */
static int default_readers(ld *l, const char *w, sim_output *out)
{
    const sim_scenario *sc = l->sc;
    size_t n = sc->n_clients + (sc->managed_identity ? 1 : 0);
    out->n_readers = n;
    out->readers = n ? mdf_arena_alloc(&l->sc->arena, n * sizeof *out->readers) : NULL;
    if (n && !out->readers)
        return fail(l, w, "readers", "out of memory");
    for (size_t i = 0; i < sc->n_clients; i++)
        out->readers[i] = sc->clients[i].client_id;
    if (sc->managed_identity) {
        char id[MDF_UUID_STRSZ];
        sim_imds_client_id(id);
        out->readers[n - 1] = mdf_arena_strndup(&l->sc->arena, id, strlen(id));
        if (!out->readers[n - 1])
            return fail(l, w, "readers", "out of memory");
    }
    return MDF_OK;
}

/* command_output: {"mode":"cluster_manager"} (the default) or a customer
 * container. */
static int load_output(ld *l, const mdf_jval *cluster, const char *where, sim_output *out)
{
    static const char *const keys[] = {"mode",     "account",  "container", "readers",
                                       "firewall", "identity", NULL};
    static const char *const modes[] = {"cluster_manager", "customer", NULL};
    static const char *const identities[] = {"SystemAssignedIdentity", "UserAssignedIdentity",
                                             NULL};
    const mdf_jval *o;
    const char *mode, *identity;
    char w[WHERESZ];
    memset(out, 0, sizeof *out);
    if (get_obj(l, cluster, where, "command_output", keys, false, &o, w) != MDF_OK)
        return MDF_ERR;
    if (!o)
        return MDF_OK;
    if (get_enum(l, o, w, "mode", modes, "cluster_manager", &mode) != MDF_OK)
        return MDF_ERR;
    out->customer = strcmp(mode, "customer") == 0;
    if (!out->customer) {
        for (const char *const *k = keys + 1; *k; k++)
            if (mdf_jget(o, *k))
                return fail(l, w, *k, "only with mode \"customer\"");
        return MDF_OK;
    }
    if (get_str(l, o, w, "account", true, NULL, &out->account) ||
        get_str(l, o, w, "container", true, NULL, &out->container) ||
        get_bool(l, o, w, "firewall", false, &out->firewall) ||
        get_enum(l, o, w, "identity", identities, "SystemAssignedIdentity", &identity))
        return MDF_ERR;
    out->user_assigned = strcmp(identity, "UserAssignedIdentity") == 0;
    if (!is_account_name(out->account))
        return fail(l, w, "account",
                    "\"%.40s\" is not a storage account name (3-24 lowercase letters and digits)",
                    out->account);
    /* path style puts the account first in the path, where the other routes
     * have their first segment */
    static const char *const reserved[] = {SIM_SEG_ARM, SIM_SEG_IMDS, SIM_SEG_SAS_CONTAINER,
                                           SIM_SEG_ADMIN, NULL};
    for (const char *const *r = reserved; *r; r++)
        if (sim_ieq(out->account, *r))
            return fail(l, w, "account", "\"%s\" is the first path segment of another route",
                        out->account);
    if (sim_ieq(out->account, l->sc->tenant))
        return fail(l, w, "account", "\"%s\" is the tenant (the token route's first segment)",
                    out->account);
    if (!is_container_name(out->container))
        return fail(l, w, "container",
                    "\"%.70s\" is not a container name (3-63 lowercase letters, digits and '-', "
                    "beginning and ending with a letter or digit, no \"--\")",
                    out->container);
    if (!mdf_jget(o, "readers"))
        return default_readers(l, w, out);
    if (get_strs(l, o, w, "readers", false, NULL, 0, &out->readers, &out->n_readers) != MDF_OK)
        return MDF_ERR;
    for (size_t i = 0; i < out->n_readers; i++)
        if (!out->readers[i][0] || strlen(out->readers[i]) > 200)
            return fail(l, w, "readers", "entry %zu must be 1..200 bytes", i);
    return MDF_OK;
}

/* The cluster's `subscription` (default: the top-level one), added to the
 * served set when new. */
static int load_cluster_subscription(ld *l, const mdf_jval *o, const char *w, sim_cluster *c)
{
    sim_scenario *sc = l->sc;
    const char *id;
    if (get_str(l, o, w, "subscription", false, sc->subscription, &id) != MDF_OK)
        return MDF_ERR;
    if (!mdf_valid_subscription(id))
        return fail(l, w, "subscription", "\"%.60s\" is not a GUID", id);
    int i = sim_scenario_subscription(sc, id);
    if (i < 0) {
        if (sc->n_subscriptions == SIM_MAX_SUBSCRIPTIONS)
            return fail(l, w, "subscription",
                        "\"%s\" would be subscription %d; at most %d are served", id,
                        SIM_MAX_SUBSCRIPTIONS + 1, SIM_MAX_SUBSCRIPTIONS);
        i = (int)sc->n_subscriptions++;
        sc->subscriptions[i] = id;
    }
    c->sub = (size_t)i;
    c->subscription = sc->subscriptions[i];
    return MDF_OK;
}

static int load_cluster(ld *l, const mdf_jval *o, const char *w, void *dst)
{
    static const char *const keys[] = {"subscription",
                                       "resource_group",
                                       "name",
                                       "enforcement_level",
                                       "managed_resource_group",
                                       "patch_response",
                                       "command_output",
                                       "scan_action_failed",
                                       "nodes",
                                       NULL};
    static const char *const levels[] = {"Audit",   "Disabled", "OnDemand",
                                         "Passive", "RealTime", NULL};
    static const char *const patch[] = {"async", "sync", NULL};
    sim_cluster *c = dst;
    const char *level, *pr;
    const mdf_jval *v;
    if (check_keys(l, o, w, keys) != MDF_OK || load_cluster_subscription(l, o, w, c) ||
        get_str(l, o, w, "resource_group", true, NULL, &c->resource_group) ||
        get_str(l, o, w, "name", true, NULL, &c->name) ||
        get_enum(l, o, w, "enforcement_level", levels, "Disabled", &level) ||
        get_str(l, o, w, "managed_resource_group", true, NULL, &c->managed_resource_group) ||
        get_enum(l, o, w, "patch_response", patch, "async", &pr) ||
        load_output(l, o, w, &c->output) ||
        member(l, o, w, "scan_action_failed", MDF_J_STRING, false, true, &v))
        return MDF_ERR;
    if (v && v->len == 0)
        return fail(l, w, "scan_action_failed", "must not be empty");
    if (v && dup_str(l, v, w, "scan_action_failed", &c->scan_action_failed) != MDF_OK)
        return MDF_ERR;
    c->enforcement_level = (sim_level)sim_level_parse(level);
    c->patch_sync = strcmp(pr, "sync") == 0;
    if (!mdf_valid_resource_group(c->resource_group))
        return fail(l, w, "resource_group", "\"%.90s\" is not a resource group name",
                    c->resource_group);
    if (!mdf_valid_resource_group(c->managed_resource_group))
        return fail(l, w, "managed_resource_group", "\"%.90s\" is not a resource group name",
                    c->managed_resource_group);
    if (sim_ieq(c->resource_group, c->managed_resource_group))
        return fail(l, w, "managed_resource_group", "must differ from resource_group");
    if (!mdf_valid_cluster_name(c->name))
        return fail(l, w, "name",
                    "\"%.70s\" does not match ^([a-zA-Z0-9][a-zA-Z0-9-_]{0,28}[a-zA-Z0-9])$",
                    c->name);
    if (get_objs(l, o, w, "nodes", false, sizeof(sim_node), load_node, (void **)&c->nodes,
                 &c->n_nodes))
        return MDF_ERR;
    for (size_t i = 0; i < c->n_nodes; i++)
        for (size_t j = 0; j < i; j++)
            if (sim_ieq(c->nodes[i].name, c->nodes[j].name)) {
                char nw[WHERESZ];
                sub(nw, w, "nodes", i);
                return fail(l, nw, "name", "\"%s\" is already nodes[%zu]", c->nodes[i].name, j);
            }
    return MDF_OK;
}

static int load_client(ld *l, const mdf_jval *o, const char *w, void *dst)
{
    static const char *const keys[] = {"client_id", "client_secret", NULL};
    sim_client *c = dst;
    if (check_keys(l, o, w, keys) != MDF_OK ||
        get_str(l, o, w, "client_id", true, NULL, &c->client_id) ||
        get_str(l, o, w, "client_secret", false, NULL, &c->client_secret))
        return MDF_ERR;
    if (!c->client_id[0] || strlen(c->client_id) > 200)
        return fail(l, w, "client_id", "must be 1..200 bytes");
    return MDF_OK;
}

static int load_auth(ld *l, const mdf_jval *root)
{
    static const char *const keys[] = {
        "tenant", "clients", "federated_tokens", "managed_identity", "token_lifetime_seconds",
        NULL};
    sim_scenario *sc = l->sc;
    const mdf_jval *o;
    char w[WHERESZ];
    if (get_obj(l, root, "", "auth", keys, true, &o, w) != MDF_OK ||
        get_str(l, o, w, "tenant", true, NULL, &sc->tenant) ||
        get_objs(l, o, w, "clients", false, sizeof(sim_client), load_client, (void **)&sc->clients,
                 &sc->n_clients) ||
        get_strs(l, o, w, "federated_tokens", false, NULL, 0, &sc->federated_tokens,
                 &sc->n_federated_tokens) ||
        get_bool(l, o, w, "managed_identity", false, &sc->managed_identity) ||
        get_int(l, o, w, "token_lifetime_seconds", false, 3600, 1, 86400 * 30,
                &sc->token_lifetime_s))
        return MDF_ERR;
    /* a tenant id is a GUID, as a subscription id is */
    if (!mdf_valid_subscription(sc->tenant))
        return fail(l, w, "tenant", "\"%.60s\" is not a GUID", sc->tenant);
    if (sc->n_clients == 0 && !sc->managed_identity)
        return fail(l, w, NULL, "no way to get a token: give clients or managed_identity true");
    if (sc->n_federated_tokens > 0 && sc->n_clients == 0)
        return fail(l, w, "federated_tokens", "need a client in clients to present them");
    for (size_t i = 0; i < sc->n_federated_tokens; i++)
        if (!sc->federated_tokens[i][0])
            return fail(l, w, "federated_tokens", "entry %zu is empty", i);
    return MDF_OK;
}

static int load_budget(ld *l, const mdf_jval *o, const char *where, const char *key, double burst,
                       double rate, sim_budget *b)
{
    static const char *const keys[] = {"burst", "per_second", "retry_after_seconds", NULL};
    const mdf_jval *v;
    char w[WHERESZ];
    int64_t ib;
    b->burst = burst;
    b->per_second = rate;
    if (get_obj(l, o, where, key, keys, false, &v, w) != MDF_OK)
        return MDF_ERR;
    if (!v)
        return MDF_OK;
    if (get_int(l, v, w, "burst", false, (int64_t)burst, 1, 1000000, &ib) ||
        get_num(l, v, w, "per_second", rate, 0, true, 1e6, false, &b->per_second) ||
        get_int(l, v, w, "retry_after_seconds", false, 0, 0, 100000000, &b->retry_after_s))
        return MDF_ERR;
    b->burst = (double)ib;
    return MDF_OK;
}

static int load_paging_fault(ld *l, const mdf_jval *root)
{
    const char *f;
    if (get_str(l, root, "", "paging_fault", false, "none", &f) != MDF_OK)
        return MDF_ERR;
    l->sc->paging_fault = strcmp(f, "loop") == 0      ? SIM_PAGING_LOOP
                          : strcmp(f, "endless") == 0 ? SIM_PAGING_ENDLESS
                                                      : SIM_PAGING_OK;
    if (l->sc->paging_fault == SIM_PAGING_OK && strcmp(f, "none") != 0)
        return fail(l, "", "paging_fault", "\"%.40s\" is not none, loop or endless", f);
    return MDF_OK;
}

static int load_top(ld *l, const mdf_jval *root)
{
    static const char *const keys[] = {
        "time_scale", "subscription", "location",        "api_versions", "auth",     "budgets",
        "page_size",  "paging_fault", "sas_ttl_seconds", "durations",    "clusters", NULL};
    static const char *const budget_keys[] = {"reads", "writes", NULL};
    static const char *const duration_keys[] = {"patch_seconds", "scan_runtime_seconds",
                                                "extract_seconds", NULL};
    static const char *const dflt_versions[] = {"2025-09-01", "2026-07-01", "2025-07-01-preview",
                                                "2026-01-01-preview"};
    sim_scenario *sc = l->sc;
    const mdf_jval *o;
    char w[WHERESZ];
    if (root->type != MDF_J_OBJECT)
        return fail(l, "(top level)", NULL, "expected an object, got %s", mdf_jtype_name(root));
    if (check_keys(l, root, "", keys) != MDF_OK ||
        get_num(l, root, "", "time_scale", 1, 0, true, 1000, false, &sc->time_scale) ||
        get_str(l, root, "", "subscription", true, NULL, &sc->subscription) ||
        get_str(l, root, "", "location", false, "eastus", &sc->location) ||
        get_strs(l, root, "", "api_versions", true, dflt_versions, 4, &sc->api_versions,
                 &sc->n_api_versions) ||
        load_auth(l, root) || get_obj(l, root, "", "budgets", budget_keys, false, &o, w))
        return MDF_ERR;
    static const mdf_jval empty = {.type = MDF_J_OBJECT};
    /* Azure Resource Manager's published per-principal buckets */
    if (load_budget(l, o ? o : &empty, w, "reads", 250, 25, &sc->reads) ||
        load_budget(l, o ? o : &empty, w, "writes", 200, 10, &sc->writes) ||
        get_int(l, root, "", "page_size", false, 100, 1, 1000, &sc->page_size) ||
        load_paging_fault(l, root) ||
        get_int(l, root, "", "sas_ttl_seconds", false, 14400, 1, 86400 * 365, &sc->sas_ttl_s) ||
        get_obj(l, root, "", "durations", duration_keys, false, &o, w))
        return MDF_ERR;
    if (!o)
        o = &empty;
    if (get_num(l, o, w, "patch_seconds", 20, 0, false, 1e7, false, &sc->patch_s) ||
        get_num(l, o, w, "scan_runtime_seconds", 60, 0, false, 1e7, false, &sc->scan_runtime_s) ||
        get_num(l, o, w, "extract_seconds", 90, 0, false, 1e7, false, &sc->extract_s))
        return MDF_ERR;
    if (!mdf_valid_subscription(sc->subscription))
        return fail(l, "", "subscription", "\"%.60s\" is not a GUID", sc->subscription);
    sc->subscriptions[0] = sc->subscription;
    sc->n_subscriptions = 1;
    if (!is_location(sc->location))
        return fail(l, "", "location", "\"%.60s\" is not a location name like \"eastus\"",
                    sc->location);
    for (size_t i = 0; i < sc->n_api_versions; i++)
        if (!is_api_version(sc->api_versions[i]))
            return fail(l, "", "api_versions",
                        "\"%.40s\" is not an api-version like 2025-09-01 or 2026-01-01-preview",
                        sc->api_versions[i]);
    if (get_objs(l, root, "", "clusters", true, sizeof(sim_cluster), load_cluster,
                 (void **)&sc->clusters, &sc->n_clusters))
        return MDF_ERR;
    if (sc->n_clusters == 0)
        return fail(l, "", "clusters", "must not be empty");
    /* Resource groups tell the clusters apart: a cluster is found by its
     * group and name, machines by their cluster's managed group. A group
     * name belongs to one subscription (the simplest rule that keeps every
     * lookup unambiguous), though clusters of one subscription may share
     * a group. */
    for (size_t i = 0; i < sc->n_clusters; i++) {
        const sim_cluster *c = &sc->clusters[i];
        for (size_t j = 0; j < sc->n_clusters; j++) {
            const sim_cluster *d = &sc->clusters[j];
            char cw[WHERESZ];
            sub(cw, "", "clusters", i);
            if (j < i && c->sub != d->sub && sim_ieq(c->resource_group, d->resource_group))
                return fail(l, cw, "resource_group",
                            "\"%s\" is already clusters[%zu]'s in subscription %s (resource "
                            "group names are unique across the scenario)",
                            c->resource_group, j, d->subscription);
            if (j < i && sim_ieq(c->resource_group, d->resource_group) && sim_ieq(c->name, d->name))
                return fail(l, cw, "name", "\"%s\" is already clusters[%zu] in that group", c->name,
                            j);
            if (j < i && sim_ieq(c->managed_resource_group, d->managed_resource_group))
                return fail(l, cw, "managed_resource_group", "\"%s\" is already clusters[%zu]'s",
                            c->managed_resource_group, j);
            if (sim_ieq(c->managed_resource_group, d->resource_group))
                return fail(l, cw, "managed_resource_group",
                            "\"%s\" is clusters[%zu]'s resource_group", c->managed_resource_group,
                            j);
            /* the firewall belongs to the account, which clusters may share */
            if (j < i && c->output.customer && d->output.customer &&
                strcmp(c->output.account, d->output.account) == 0 &&
                c->output.firewall != d->output.firewall) {
                char ow[WHERESZ];
                sub(ow, cw, "command_output", (size_t)-1);
                return fail(l, ow, "firewall", "differs from clusters[%zu]'s on account \"%s\"", j,
                            c->output.account);
            }
        }
    }
    return MDF_OK;
}

int sim_scenario_parse(const char *name, const char *json, size_t len, sim_scenario **out,
                       char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_jdoc *doc = NULL;
    sim_scenario *sc = NULL;
    char jerr[MDF_ERRSZ];
    char *copy = malloc(len + 1);
    *out = NULL;
    if (!copy) {
        mdf_seterr(err, errsz, "%s: out of memory", name);
        goto cleanup;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    /* the JSON reader takes `copy` whatever happens */
    if (mdf_jdoc_parse(&copy, len, SCENARIO_MAX_DEPTH, &doc, jerr, sizeof jerr) != MDF_OK) {
        mdf_seterr(err, errsz, "%s: not JSON: %s", name, jerr);
        goto cleanup;
    }
    sc = calloc(1, sizeof *sc);
    if (!sc) {
        mdf_seterr(err, errsz, "%s: out of memory", name);
        goto cleanup;
    }
    mdf_arena_init(&sc->arena);
    ld l = {.sc = sc, .file = name, .err = err, .errsz = errsz};
    if (load_top(&l, &doc->root) != MDF_OK)
        goto cleanup;
    *out = sc;
    sc = NULL;
    rc = MDF_OK;
cleanup:
    sim_scenario_free(sc);
    mdf_jdoc_free(doc);
    return rc;
}

int sim_scenario_load(const char *path, sim_scenario **out, char *err, size_t errsz)
{
    mdf_buf b;
    mdf_buf_init(&b, SCENARIO_MAX_BYTES);
    *out = NULL;
    int rc = mdf_buf_read_file(&b, path, err, errsz);
    if (rc == MDF_OK)
        rc = sim_scenario_parse(path, b.data ? b.data : "", b.len, out, err, errsz);
    mdf_buf_free(&b);
    return rc;
}

void sim_scenario_free(sim_scenario *sc)
{
    if (!sc)
        return;
    mdf_arena_free(&sc->arena);
    free(sc);
}

int sim_scenario_subscription(const sim_scenario *sc, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < sc->n_subscriptions; i++)
        if (sim_ieq(sc->subscriptions[i], id))
            return (int)i;
    return -1;
}
