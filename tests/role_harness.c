#include "role_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "records.h"
#include "resource_id.h"
#include "state_store.h"

/* ---- the recording port --------------------------------------------------- */

static int h_send(void *ctx, mdf_request *r, mdf_topic t, int32_t partition, const char *key,
                  size_t key_len, const void *value, size_t value_len, const mdf_header *headers,
                  size_t n_headers, char *err, size_t errsz)
{
    harness *h = ctx;
    if (h->n_records == H_MAX_RECORDS)
        return mdf_seterr(err, errsz, "harness: too many records");
    h_record *rec = &h->records[h->n_records++];
    memset(rec, 0, sizeof *rec);
    rec->topic = t;
    rec->partition = partition;
    snprintf(rec->key, sizeof rec->key, "%.*s", (int)key_len, key);
    rec->value = malloc(value_len + 1);
    assert_non_null(rec->value);
    memcpy(rec->value, value, value_len);
    rec->value[value_len] = '\0';
    rec->value_len = value_len;
    rec->req = r;
    for (size_t i = 0; i < n_headers; i++) {
        char *dst = !strcmp(headers[i].name, MDF_HDR_CONTENT_TYPE) ? rec->content_type
                    : !strcmp(headers[i].name, MDF_HDR_EVENT_ID)   ? rec->event_id
                                                                   : rec->correlation;
        snprintf(dst, sizeof rec->event_id, "%s", headers[i].value);
    }
    if (h->auto_ack) {
        rec->delivered = true;
        mdf_req_delivered(r, true);
    }
    return MDF_OK;
}

static void h_complete(void *ctx, mdf_request *r, bool store)
{
    harness *h = ctx;
    h->completed++;
    h->stored += store;
    /* records keep pointing at r for identity only */
    mdf_req_free(r);
}

static void h_stop(void *ctx, const char *why)
{
    harness *h = ctx;
    (void)why;
    h->stops++;
}

static void h_commit(void *ctx, mdf_request *r)
{
    harness *h = ctx;
    h->commits++;
    if (h->auto_commit) {
        mdf_req_committed(r, true);
        return;
    }
    assert_true(h->n_uncommitted < H_MAX_COMMITS);
    h->uncommitted[h->n_uncommitted++] = r;
}

void h_commit_all(harness *h, bool ok)
{
    size_t n = h->n_uncommitted;
    h->n_uncommitted = 0;
    for (size_t i = 0; i < n; i++)
        mdf_req_committed(h->uncommitted[i], ok);
}

void h_ack_all(harness *h)
{
    /* only what is outstanding now: a delivery may let a role send more
     * (a barrier, mdf_req_when_delivered), which waits for the next call */
    size_t n = h->n_records;
    for (size_t i = 0; i < n; i++) {
        if (!h->records[i].delivered) {
            h->records[i].delivered = true;
            mdf_req_delivered(h->records[i].req, true);
        }
    }
}

/* ---- the scripted Azure -------------------------------------------------------- */

static h_call *new_call(harness *h, h_call_kind k, const char *sub, const char *rg,
                        const char *name, void *cb_arg)
{
    assert_true(h->n_calls < H_MAX_CALLS);
    h_call *c = &h->calls[h->n_calls++];
    memset(c, 0, sizeof *c);
    c->kind = k;
    snprintf(c->sub, sizeof c->sub, "%s", sub ? sub : "");
    snprintf(c->rg, sizeof c->rg, "%s", rg ? rg : "");
    snprintf(c->name, sizeof c->name, "%s", name ? name : "");
    c->cb_arg = cb_arg;
    return c;
}

static int az_get_cluster(void *ctx, const char *sub, const char *rg, const char *cluster,
                          mdf_arm_cluster_cb cb, void *arg, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    new_call(ctx, AZ_GET_CLUSTER, sub, rg, cluster, arg)->cb.cluster = cb;
    return MDF_OK;
}

static int az_set_enforcement(void *ctx, const char *sub, const char *rg, const char *cluster,
                              const char *level, mdf_arm_cluster_cb cb, void *arg, char *err,
                              size_t errsz)
{
    (void)err, (void)errsz;
    h_call *c = new_call(ctx, AZ_SET_ENFORCEMENT, sub, rg, cluster, arg);
    c->cb.cluster = cb;
    snprintf(c->arg, sizeof c->arg, "%s", level);
    return MDF_OK;
}

static int az_scan_runtime(void *ctx, const char *sub, const char *rg, const char *cluster,
                           mdf_arm_op_cb cb, void *arg, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    new_call(ctx, AZ_SCAN_RUNTIME, sub, rg, cluster, arg)->cb.op = cb;
    return MDF_OK;
}

static int az_list_bmms(void *ctx, const char *sub, const char *managed_rg, mdf_arm_bmms_cb cb,
                        void *arg, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    new_call(ctx, AZ_LIST_BMMS, sub, managed_rg, NULL, arg)->cb.bmms = cb;
    return MDF_OK;
}

static int az_run_data_extract(void *ctx, const char *sub, const char *managed_rg, const char *bmm,
                               int limit, bool restricted, mdf_arm_op_cb cb, void *arg, char *err,
                               size_t errsz)
{
    (void)err, (void)errsz;
    h_call *c = new_call(ctx, AZ_RUN_DATA_EXTRACT, sub, managed_rg, bmm, arg);
    c->cb.op = cb;
    c->limit = limit;
    c->restricted = restricted;
    return MDF_OK;
}

static int az_download(void *ctx, const char *url, mdf_blob_cb cb, void *arg, char *err,
                       size_t errsz)
{
    (void)err, (void)errsz;
    h_call *c = new_call(ctx, AZ_DOWNLOAD, NULL, NULL, NULL, arg);
    c->cb.blob = cb;
    snprintf(c->arg, sizeof c->arg, "%s", url);
    return MDF_OK;
}

h_call *h_next_call(harness *h)
{
    for (size_t i = 0; i < h->n_calls; i++) {
        if (!h->calls[i].answered)
            return &h->calls[i];
    }
    return NULL;
}

h_call *h_expect(harness *h, h_call_kind k)
{
    h_call *c = h_next_call(h);
    assert_non_null(c);
    assert_int_equal(c->kind, k);
    return c;
}

size_t h_calls_of(const harness *h, h_call_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_calls; i++)
        n += h->calls[i].kind == k;
    return n;
}

void h_answer_cluster(harness *h, h_call *c, const char *level, const char *managed_rg)
{
    (void)h;
    mdf_arm_error ok = {0};
    mdf_cluster cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.enforcement_level, sizeof cl.enforcement_level, "%s", level);
    snprintf(cl.managed_resource_group, sizeof cl.managed_resource_group, "%s", managed_rg);
    snprintf(cl.name, sizeof cl.name, "%.63s", c->name);
    c->answered = true;
    c->cb.cluster(c->cb_arg, &ok, &cl);
}

void h_answer_cluster_with(harness *h, h_call *c, const mdf_cluster *cl)
{
    (void)h;
    mdf_arm_error ok = {0};
    c->answered = true;
    c->cb.cluster(c->cb_arg, &ok, cl);
}

void h_answer_bmms(harness *h, h_call *c, const char *const *names, size_t n)
{
    (void)h;
    mdf_arm_error ok = {0};
    mdf_bmm *b = calloc(n ? n : 1, sizeof *b);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        snprintf(b[i].name, sizeof b[i].name, "%s", names[i]);
        snprintf(b[i].machine_name, sizeof b[i].machine_name, "%s-host", names[i]);
        mdf_rid_bmm(b[i].id, sizeof b[i].id, c->sub, c->rg, names[i]);
    }
    c->answered = true;
    c->cb.bmms(c->cb_arg, &ok, b, n);
    free(b);
}

void h_answer_op(harness *h, h_call *c, const mdf_arm_error *e, const mdf_opstatus *st)
{
    (void)h;
    c->answered = true;
    c->cb.op(c->cb_arg, e, st);
}

void h_answer_error(harness *h, h_call *c, mdf_arm_errcode code, const char *message)
{
    (void)h;
    mdf_arm_error e = {.code = code};
    snprintf(e.message, sizeof e.message, "%s", message);
    c->answered = true;
    switch (c->kind) {
    case AZ_GET_CLUSTER:
    case AZ_SET_ENFORCEMENT:
        c->cb.cluster(c->cb_arg, &e, NULL);
        break;
    case AZ_LIST_BMMS:
        c->cb.bmms(c->cb_arg, &e, NULL, 0);
        break;
    case AZ_SCAN_RUNTIME:
    case AZ_RUN_DATA_EXTRACT:
        c->cb.op(c->cb_arg, &e, NULL);
        break;
    case AZ_DOWNLOAD:
        fail_msg("h_answer_error on a download: use h_answer_download");
    }
}

void h_answer_download(harness *h, h_call *c, mdf_blob_errcode code, const void *data, size_t len)
{
    (void)h;
    mdf_buf b;
    mdf_buf_init(&b, 1u << 26);
    if (data)
        assert_int_equal(mdf_buf_append(&b, data, len), 0);
    mdf_blob_result res = {
        .code = code, .http_status = code == MDF_BLOB_OK ? 200 : 403, .data = &b};
    snprintf(res.message, sizeof res.message, "https://acct.blob.core.windows.net/c/x.tar.gz: %s",
             mdf_blob_errcode_name(code));
    c->answered = true;
    c->cb.blob(c->cb_arg, &res);
    mdf_buf_free(&b);
}

/* ---- the clock -------------------------------------------------------------------- */

static harness *clock_owner;

static int64_t h_clock(void)
{
    return clock_owner->now;
}

/* the wall clock moves with the test's clock, from the real time at h_init
 * (the records' times are real) */
static int64_t h_wall(void)
{
    return clock_owner->wall_at_init + (clock_owner->now - H_CLOCK_START);
}

/* the work at once, then its done: the roles' results, without a thread */
static int h_offload(void *ctx, mdf_work_fn work, mdf_work_done_fn done, void *arg)
{
    (void)ctx;
    work(arg);
    done(arg, false);
    return MDF_OK;
}

/* ---- the findings state: the worker's store, every partition ready ------------- */

#define H_PARTITIONS 16

static const char *h_state_get(void *ctx, int32_t p, const char *key, size_t key_len, size_t *len)
{
    return mdf_state_store_get(ctx, p, key, key_len, len);
}

static int h_state_put(void *ctx, int32_t p, const char *key, size_t key_len, const void *value,
                       size_t len, char *err, size_t errsz)
{
    return mdf_state_store_put(ctx, p, key, key_len, value, len, err, errsz);
}

/* ---- setup --------------------------------------------------------------------- */

void h_init(harness *h, const mdf_role *role, const char *const *settings)
{
    char err[MDF_ERRSZ];
    memset(h, 0, sizeof *h);
    h->auto_ack = true;
    h->auto_commit = true;
    h->now = H_CLOCK_START;
    h->wall_at_init = mdf_time_now_ms();
    mdf_log_init("role-test", MDF_LOG_ERROR); /* the roles say a lot at info */
    clock_owner = h;
    assert_int_equal(mdf_config_new(&h->cfg, err, sizeof err), MDF_OK);
    for (size_t i = 0; settings && settings[i]; i++) {
        char kv[256];
        snprintf(kv, sizeof kv, "%s", settings[i]);
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        if (mdf_config_set(h->cfg, kv, eq + 1, "test", err, sizeof err) != MDF_OK)
            fail_msg("%s", err);
    }
    assert_int_equal(mdf_codec_new(&h->codec, err, sizeof err), MDF_OK);
    h->port = (mdf_req_port){h_send, h_complete, h_stop, h_commit, h};
    h->env.port = &h->port;
    h->env.codec = h->codec;
    for (int t = 0; t < MDF_TOPIC__COUNT; t++)
        h->env.topics[t] = mdf_config_topic_id(h->cfg, (mdf_topic)t);
    h->az = (mdf_az){az_get_cluster,
                     az_set_enforcement,
                     az_scan_runtime,
                     az_list_bmms,
                     az_run_data_extract,
                     az_download,
                     h};
    h->store = mdf_state_store_new(64u << 20);
    assert_non_null(h->store);
    for (int32_t p = 0; p < H_PARTITIONS; p++)
        assert_int_equal(mdf_state_store_set_ready(h->store, p), MDF_OK);
    h->state = (mdf_state_port){h_state_get, h_state_put, h->store};
    assert_int_equal(mdf_metrics_new(&h->metrics, err, sizeof err), MDF_OK);
    h->role_env = (mdf_role_env){.cfg = h->cfg,
                                 .codec = h->codec,
                                 .az = &h->az,
                                 .state = &h->state,
                                 .mono_ms = h_clock,
                                 .now_ms = h_wall,
                                 .offload = h_offload,
                                 .metrics = h->metrics};
    h->role = role;
    if (role->init(&h->role_env, &h->self, err, sizeof err) != MDF_OK)
        fail_msg("%s", err);
}

void h_fini(harness *h)
{
    h->role->fini(h->self);
    for (size_t i = 0; i < h->n_records; i++)
        free(h->records[i].value);
    mdf_codec_destroy(h->codec);
    mdf_config_free(h->cfg);
    mdf_state_store_free(h->store);
    mdf_metrics_free(h->metrics);
}

double h_metric(harness *h, const char *sample)
{
    char err[MDF_ERRSZ];
    mdf_buf b;
    mdf_buf_init(&b, 1 << 20);
    assert_int_equal(mdf_metrics_render(h->metrics, &b, err, sizeof err), MDF_OK);
    double v = -1;
    size_t n = strlen(sample);
    for (const char *line = b.data; line && *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, sample, n) == 0 && line[n] == ' ') {
            char *stop = NULL;
            v = strtod(line + n + 1, &stop);
            break;
        }
        line = end ? end + 1 : NULL;
    }
    mdf_buf_free(&b);
    return v;
}

/* ---- messages and records ---------------------------------------------------------- */

mdf_request *h_deliver_raw(harness *h, mdf_topic t, int32_t partition, int64_t offset,
                           const void *value, size_t len)
{
    mdf_msg m = {.topic = t,
                 .partition = partition,
                 .offset = offset,
                 .key = "k",
                 .key_len = 1,
                 .value = value,
                 .value_len = len,
                 .correlation = ""};
    mdf_request *r = mdf_req_new(&h->env, &m, NULL);
    assert_non_null(r);
    h->role->on_message(h->self, r);
    return r;
}

mdf_request *h_deliver(harness *h, mdf_topic t, int32_t partition, int64_t offset, mdf_rec_type rt,
                       json_object *rec)
{
    char err[MDF_ERRSZ];
    mdf_buf b;
    mdf_buf_init(&b, MDF_CODEC_MAX_RECORD);
    if (mdf_codec_encode(h->codec, rt, rec, MDF_FRAMING_SINGLE_OBJECT, 0, &b, err, sizeof err) !=
        MDF_OK)
        fail_msg("test record does not encode: %s", err);
    mdf_request *r = h_deliver_raw(h, t, partition, offset, b.data, b.len);
    mdf_buf_free(&b);
    return r;
}

size_t h_count(const harness *h, mdf_topic t)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_records; i++)
        n += h->records[i].topic == t;
    return n;
}

const h_record *h_nth(const harness *h, mdf_topic t, size_t i)
{
    for (size_t k = 0; k < h->n_records; k++) {
        if (h->records[k].topic == t && i-- == 0)
            return &h->records[k];
    }
    return NULL;
}

json_object *h_decode(harness *h, const h_record *r, mdf_rec_type rt)
{
    char err[MDF_ERRSZ];
    json_object *o = NULL;
    assert_non_null(r);
    if (mdf_codec_decode(h->codec, rt, r->value, r->value_len, &o, NULL, err, sizeof err) != MDF_OK)
        fail_msg("record does not decode: %s", err);
    return o;
}

json_object *h_parse_json(const h_record *r)
{
    assert_non_null(r);
    json_object *o = json_tokener_parse(r->value);
    assert_non_null(o);
    return o;
}

size_t h_status_count(harness *h, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < h_count(h, MDF_TOPIC_JOB_STATUS); i++) {
        json_object *s = h_decode(h, h_nth(h, MDF_TOPIC_JOB_STATUS, i), MDF_REC_JOB_STATUS);
        n += strcmp(mdf_jstr(s, "kind"), kind) == 0;
        json_object_put(s);
    }
    return n;
}

json_object *h_last_status(harness *h, const char *kind)
{
    json_object *last = NULL;
    for (size_t i = 0; i < h_count(h, MDF_TOPIC_JOB_STATUS); i++) {
        json_object *s = h_decode(h, h_nth(h, MDF_TOPIC_JOB_STATUS, i), MDF_REC_JOB_STATUS);
        if (strcmp(mdf_jstr(s, "kind"), kind) == 0) {
            json_object_put(last);
            last = s;
        } else {
            json_object_put(s);
        }
    }
    return last;
}

char *h_read_file(const char *path, size_t *len)
{
    char err[MDF_ERRSZ];
    mdf_buf b;
    mdf_buf_init(&b, 1u << 26);
    if (mdf_buf_read_file(&b, path, err, sizeof err) != MDF_OK)
        fail_msg("%s", err);
    return mdf_buf_take(&b, len);
}
