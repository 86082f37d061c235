/* The findings.state record of one node (finding_state.h). */
#include "finding_state.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_reader.h"
#include "json_writer.h"

#define STATE_MAX_DEPTH 8

void mdf_fstate_init(mdf_fstate *s)
{
    memset(s, 0, sizeof *s);
    mdf_vec_init(&s->scans, MDF_UUID_STRSZ, MDF_FSTATE_MAX_SCANS);
    mdf_vec_init(&s->threats, sizeof(mdf_fstate_threat), MDF_FSTATE_MAX_THREATS);
}

void mdf_fstate_free(mdf_fstate *s)
{
    mdf_vec_free(&s->scans);
    mdf_vec_free(&s->threats);
}

int mdf_fstate_copy(mdf_fstate *dst, const mdf_fstate *src, char *err, size_t errsz)
{
    if (mdf_vec_reserve(&dst->scans, src->scans.len) != 0 ||
        mdf_vec_reserve(&dst->threats, src->threats.len) != 0)
        return mdf_seterr(err, errsz, "out of memory");
    /* an empty vector has no storage: memcpy must not see its NULL */
    if (src->scans.len)
        memcpy(dst->scans.data, src->scans.data, src->scans.len * MDF_UUID_STRSZ);
    dst->scans.len = src->scans.len;
    if (src->threats.len)
        memcpy(dst->threats.data, src->threats.data, src->threats.len * sizeof(mdf_fstate_threat));
    dst->threats.len = src->threats.len;
    dst->failure = src->failure;
    dst->dropped = src->dropped;
    return MDF_OK;
}

const mdf_fstate_threat *mdf_fstate_find_threat(const mdf_fstate *s, const char *uid)
{
    for (size_t i = 0; i < s->threats.len; i++) {
        const mdf_fstate_threat *t = &MDF_VEC_AT(&s->threats, mdf_fstate_threat, i);
        if (strcmp(t->uid, uid) == 0)
            return t;
    }
    return NULL;
}

bool mdf_fstate_has_scan(const mdf_fstate *s, const char *event_id)
{
    for (size_t i = 0; i < s->scans.len; i++) {
        if (strcmp((const char *)s->scans.data + i * MDF_UUID_STRSZ, event_id) == 0)
            return true;
    }
    return false;
}

/* ---- reading ------------------------------------------------------------------ */

/* A string member into dst, cut to its size; "" when absent or not a string. */
static void get_str(const mdf_jval *o, const char *key, char *dst, size_t dstsz)
{
    const mdf_jval *v = mdf_jget(o, key);
    dst[0] = '\0';
    if (!v || v->type != MDF_J_STRING)
        return;
    mdf_strlcpy_utf8(dst, v->s, v->len, dstsz);
}

static int64_t get_int(const mdf_jval *o, const char *key, int64_t dflt)
{
    const mdf_jval *v = mdf_jget(o, key);
    return v && v->type == MDF_J_INT ? v->u.i : dflt;
}

static int read_threat(const mdf_jval *o, mdf_fstate *s, char *err, size_t errsz)
{
    if (o->type != MDF_J_OBJECT)
        return mdf_seterr(err, errsz, "a threat that is not an object");
    mdf_fstate_threat *t = mdf_vec_add(&s->threats);
    if (!t)
        return mdf_seterr(err, errsz, "more than %d threats", MDF_FSTATE_MAX_THREATS);
    memset(t, 0, sizeof *t);
    get_str(o, "uid", t->uid, sizeof t->uid);
    if (strlen(t->uid) != MDF_UUID_STRSZ - 1)
        return mdf_seterr(err, errsz, "a threat without its uid");
    get_str(o, "tracking_id", t->tracking_id, sizeof t->tracking_id);
    get_str(o, "name", t->name, sizeof t->name);
    get_str(o, "category", t->category, sizeof t->category);
    get_str(o, "status", t->status, sizeof t->status);
    t->status_key = get_int(o, "status_key", MDF_TIME_NONE);
    t->detection_ms = get_int(o, "detection", MDF_TIME_NONE);
    t->first_seen_ms = get_int(o, "first_seen", MDF_TIME_NONE);
    t->last_seen_ms = get_int(o, "last_seen", MDF_TIME_NONE);
    t->occurrences = get_int(o, "occurrences", 0);
    const mdf_jval *open = mdf_jget(o, "open");
    t->open = open && open->type == MDF_J_BOOL && open->b;
    return MDF_OK;
}

static int read_doc(const mdf_jval *root, mdf_fstate *s, char *err, size_t errsz)
{
    if (root->type != MDF_J_OBJECT)
        return mdf_seterr(err, errsz, "not a JSON object");
    if (get_int(root, "v", -1) != MDF_FSTATE_VERSION)
        return mdf_seterr(err, errsz, "not a version %d state", MDF_FSTATE_VERSION);
    const mdf_jval *scans = mdf_jget(root, "scans");
    for (uint32_t i = 0; scans && scans->type == MDF_J_ARRAY && i < scans->len; i++) {
        const mdf_jval *v = &scans->u.items[i];
        if (v->type != MDF_J_STRING || v->len != MDF_UUID_STRSZ - 1)
            return mdf_seterr(err, errsz, "a scan that is not an event id");
        char *e = mdf_vec_add(&s->scans);
        if (!e)
            return mdf_seterr(err, errsz, "more than %d scans", MDF_FSTATE_MAX_SCANS);
        memcpy(e, v->s, v->len);
        e[v->len] = '\0';
    }
    const mdf_jval *threats = mdf_jget(root, "threats");
    for (uint32_t i = 0; threats && threats->type == MDF_J_ARRAY && i < threats->len; i++) {
        if (read_threat(&threats->u.items[i], s, err, errsz) != MDF_OK)
            return MDF_ERR;
    }
    const mdf_jval *f = mdf_jget(root, "failure");
    if (f && f->type == MDF_J_OBJECT) {
        s->failure.active = true;
        get_str(f, "kind", s->failure.kind, sizeof s->failure.kind);
        get_str(f, "reason", s->failure.reason, sizeof s->failure.reason);
        s->failure.first_seen_ms = get_int(f, "first_seen", MDF_TIME_NONE);
        s->failure.last_seen_ms = get_int(f, "last_seen", MDF_TIME_NONE);
        s->failure.occurrences = get_int(f, "occurrences", 0);
    }
    s->dropped = get_int(root, "dropped", 0);
    return MDF_OK;
}

int mdf_fstate_parse(const void *data, size_t len, mdf_fstate *s, char *err, size_t errsz)
{
    if (len > MDF_FSTATE_MAX_BYTES)
        return mdf_seterr(err, errsz, "state record of %zu bytes, over the %d-byte cap", len,
                          MDF_FSTATE_MAX_BYTES);
    char *copy = malloc(len + 1);
    if (!copy)
        return mdf_seterr(err, errsz, "out of memory");
    memcpy(copy, data, len);
    copy[len] = '\0';
    mdf_jdoc *doc = NULL;
    int rc = mdf_jdoc_parse(&copy, len, STATE_MAX_DEPTH, &doc, err, errsz);
    if (rc == MDF_OK)
        rc = read_doc(&doc->root, s, err, errsz);
    mdf_jdoc_free(doc);
    if (rc != MDF_OK) {
        s->scans.len = s->threats.len = 0;
        memset(&s->failure, 0, sizeof s->failure);
    }
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

static void kms(mdf_jsonw *w, const char *key, int64_t ms)
{
    if (ms == MDF_TIME_NONE)
        mdf_jsonw_knull(w, key);
    else
        mdf_jsonw_kint(w, key, ms);
}

static void write_threat(mdf_jsonw *w, const mdf_fstate_threat *t)
{
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "uid", t->uid);
    mdf_jsonw_kstr(w, "tracking_id", t->tracking_id);
    mdf_jsonw_kstr(w, "name", t->name);
    mdf_jsonw_kstr(w, "category", t->category);
    mdf_jsonw_kstr(w, "status", t->status);
    kms(w, "status_key", t->status_key);
    kms(w, "detection", t->detection_ms);
    kms(w, "first_seen", t->first_seen_ms);
    kms(w, "last_seen", t->last_seen_ms);
    mdf_jsonw_kint(w, "occurrences", t->occurrences);
    mdf_jsonw_kbool(w, "open", t->open);
    mdf_jsonw_obj_end(w);
}

/* The record with the first `keep` threats of order[]. */
static int write_with(const mdf_fstate *s, const size_t *order, size_t keep, const char *node_id,
                      const char *job_id, int64_t time_ms, mdf_buf *out)
{
    mdf_jsonw w;
    mdf_buf_reset(out);
    mdf_jsonw_init(&w, out, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kint(&w, "v", MDF_FSTATE_VERSION);
    mdf_jsonw_kstr(&w, "node_id", node_id);
    mdf_jsonw_kstr(&w, "job_id", job_id);
    mdf_jsonw_kint(&w, "time", time_ms);
    mdf_jsonw_key(&w, "scans");
    mdf_jsonw_arr_begin(&w);
    for (size_t i = 0; i < s->scans.len; i++)
        mdf_jsonw_str(&w, (const char *)s->scans.data + i * MDF_UUID_STRSZ);
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_key(&w, "threats");
    mdf_jsonw_arr_begin(&w);
    for (size_t i = 0; i < keep; i++)
        write_threat(&w, &MDF_VEC_AT(&s->threats, mdf_fstate_threat, order[i]));
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_key(&w, "failure");
    if (s->failure.active) {
        mdf_jsonw_obj_begin(&w);
        mdf_jsonw_kstr(&w, "kind", s->failure.kind);
        mdf_jsonw_kstr(&w, "reason", s->failure.reason);
        kms(&w, "first_seen", s->failure.first_seen_ms);
        kms(&w, "last_seen", s->failure.last_seen_ms);
        mdf_jsonw_kint(&w, "occurrences", s->failure.occurrences);
        mdf_jsonw_obj_end(&w);
    } else {
        mdf_jsonw_null(&w);
    }
    mdf_jsonw_kint(&w, "dropped", (int64_t)(s->threats.len - keep));
    mdf_jsonw_obj_end(&w);
    return mdf_jsonw_finish(&w) == 0 ? MDF_OK : MDF_ERR;
}

/* Open threats before closed ones, newest first within each: what the cap
 * leaves out is what costs least to report again. */
static int keep_order(const void *a, const void *b, void *arg)
{
    const mdf_fstate_threat *t = arg;
    const mdf_fstate_threat *x = &t[*(const size_t *)a], *y = &t[*(const size_t *)b];
    if (x->open != y->open)
        return x->open ? -1 : 1;
    if (x->first_seen_ms != y->first_seen_ms)
        return x->first_seen_ms > y->first_seen_ms ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* qsort has no argument: a small insertion sort, n is capped. */
static void sort_order(size_t *order, size_t n, const mdf_fstate_threat *t)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0 && keep_order(&v, &order[j - 1], (void *)t) < 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

int mdf_fstate_write(const mdf_fstate *s, const char *node_id, const char *job_id, int64_t time_ms,
                     mdf_buf *out, int64_t *dropped, char *err, size_t errsz)
{
    size_t n = s->threats.len;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return mdf_seterr(err, errsz, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    size_t max = out->max;
    if (out->max > MDF_FSTATE_MAX_BYTES)
        out->max = MDF_FSTATE_MAX_BYTES;
    int rc = MDF_OK;
    *dropped = 0;
    if (write_with(s, order, n, node_id, job_id, time_ms, out) != MDF_OK) {
        /* the most threats that fit: a binary search over the kept prefix */
        sort_order(order, n, s->threats.data);
        size_t lo = 0, hi = n; /* lo fits (or nothing does), hi does not */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (write_with(s, order, mid, node_id, job_id, time_ms, out) == MDF_OK)
                lo = mid;
            else
                hi = mid;
        }
        if (write_with(s, order, lo, node_id, job_id, time_ms, out) == MDF_OK)
            *dropped = (int64_t)(n - lo);
        else
            rc = mdf_seterr(err, errsz, "state of %s does not fit %d bytes", node_id,
                            MDF_FSTATE_MAX_BYTES);
    }
    out->max = max;
    free(order);
    return rc;
}
