/* The ARM client, token provider and blob download against mdefleet-sim
 * (a real HTTP server on 127.0.0.1): every operation, each fault, paging,
 * throttling, token refresh and the blob rules. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "arm.h"
#include "blob.h"
#include "clock.h"
#include "err.h"
#include "http_loop.h"
#include "json_reader.h"
#include "report.h"
#include "simproc.h"
#include "token.h"

#define SUB "00000000-0000-0000-0000-000000000000"
#define SUB2 "22222222-2222-2222-2222-222222222222" /* the second one of polls.json */
#define TENANT "11111111-1111-1111-1111-111111111111"
#define SECRET "test-secret-do-not-log"
#define WAIT_MS 20000

typedef struct env {
    simproc sim;
    char base[256];
    mdf_http *http;
    mdf_auth *auth;
    mdf_arm *arm;
    mdf_auth_cfg auth_cfg;
    mdf_arm_cfg arm_cfg;
    mdf_blob_cfg blob_cfg;
} env;

/* ---- results captured by callbacks -------------------------------------- */

typedef struct result {
    int done;
    mdf_arm_error e;
    mdf_cluster cluster;
    mdf_opstatus st;
    bool has_st;
    mdf_bmm bmms[32];
    size_t n_bmms;
    mdf_blob_result blob;
    char *data;
    size_t len;
} result;

static void on_cluster(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    result *r = arg;
    r->e = *e;
    if (c)
        r->cluster = *c;
    r->done++;
}

static void on_op(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    result *r = arg;
    r->e = *e;
    r->has_st = st != NULL;
    if (st)
        r->st = *st;
    r->done++;
}

static void on_bmms(void *arg, const mdf_arm_error *e, const mdf_bmm *b, size_t n)
{
    result *r = arg;
    r->e = *e;
    for (size_t i = 0; i < n && i < 32; i++)
        r->bmms[i] = b[i];
    r->n_bmms = n;
    r->done++;
}

static void on_blob(void *arg, mdf_blob_result *b)
{
    result *r = arg;
    r->blob = *b;
    r->blob.data = NULL;
    r->data = mdf_buf_take(b->data, &r->len);
    r->done++;
}

static void wait_done(env *v, const int *done, int want)
{
    int64_t deadline = mdf_mono_ms() + WAIT_MS;
    while (*done < want) {
        if (mdf_mono_ms() > deadline)
            fail_msg("no result within %d ms", WAIT_MS);
        mdf_http_run(v->http, 100, NULL, 0);
    }
}

/* ---- the simulator ---------------------------------------------------------- */

/* The running simulator, stopped by the teardown even when an assertion
 * ends a test early. */
static simproc *running;

static int teardown(void **state)
{
    (void)state;
    if (running && running->pid > 0)
        simproc_stop(running, 5000);
    running = NULL;
    return 0;
}

static void env_start(env *v, const char *scenario)
{
    char path[1024], sim_bin[1024], err[MDF_ERRSZ];
    memset(v, 0, sizeof *v);
    snprintf(path, sizeof path, "%s/sim/%s", MDF_TEST_DATA, scenario);
    snprintf(sim_bin, sizeof sim_bin, "%s", MDF_SIM_BIN);
    char *argv[] = {sim_bin, "--scenario", path, "--port", "0", "--bind", "127.0.0.1", NULL};
    if (simproc_start(&v->sim, argv, 10000) != 0)
        fail_msg("mdefleet-sim did not start");
    running = &v->sim;
    mdf_strlcpy(v->base, v->sim.line, sizeof v->base);
    assert_int_equal(strncmp(v->base, "http://127.0.0.1:", 17), 0);
    assert_int_equal(mdf_http_new(&v->http, err, sizeof err), MDF_OK);

    /* credentials through the standard variables, as in production */
    setenv("AZURE_TENANT_ID", TENANT, 1);
    setenv("AZURE_CLIENT_ID", "test-client", 1);
    setenv("AZURE_CLIENT_SECRET", SECRET, 1);
    setenv("AZURE_AUTHORITY_HOST", v->base, 1);
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    assert_int_equal(mdf_auth_cfg_init(&v->auth_cfg, MDF_AUTH_CLIENT_SECRET, err, sizeof err),
                     MDF_OK);
    v->auth_cfg.http = MDF_HTTP_LOOPBACK;
    mdf_strlcpy(v->auth_cfg.imds_endpoint, v->base, sizeof v->auth_cfg.imds_endpoint);

    mdf_arm_cfg_default(&v->arm_cfg);
    mdf_strlcpy(v->arm_cfg.endpoint, v->base, sizeof v->arm_cfg.endpoint);
    mdf_strlcpy(v->arm_cfg.api_version, "2026-07-01", sizeof v->arm_cfg.api_version);
    v->arm_cfg.http = MDF_HTTP_LOOPBACK;
    v->arm_cfg.retry.base_ms = 50;
    v->arm_cfg.retry.max_ms = 2000;
    v->arm_cfg.poll_min_ms = 20;

    mdf_blob_cfg_default(&v->blob_cfg);
    assert_int_equal(mdf_blob_cfg_set_hosts(&v->blob_cfg, "127.0.0.1", err, sizeof err), MDF_OK);
    v->blob_cfg.http = MDF_HTTP_LOOPBACK;
    v->blob_cfg.retry.base_ms = 50;
}

/* (Re)creates the token provider and the ARM client from the configs. */
static void env_client(env *v)
{
    char err[MDF_ERRSZ];
    mdf_arm_destroy(v->arm);
    mdf_auth_destroy(v->auth);
    v->arm = NULL;
    v->auth = NULL;
    if (mdf_auth_new(&v->auth, v->http, &v->auth_cfg, err, sizeof err) != MDF_OK)
        fail_msg("auth: %s", err);
    if (mdf_arm_new(&v->arm, v->http, v->auth, &v->arm_cfg, err, sizeof err) != MDF_OK)
        fail_msg("arm: %s", err);
}

static void env_stop(env *v)
{
    /* the loop first: it holds timers pointing into the clients */
    mdf_http_destroy(v->http);
    mdf_arm_destroy(v->arm);
    mdf_auth_destroy(v->auth);
    running = NULL;
    assert_int_equal(simproc_stop(&v->sim, 5000), 0);
}

struct fetched {
    int done;
    char *body;
    size_t len;
};

static void on_fetched(void *arg, mdf_http_resp *r)
{
    struct fetched *got = arg;
    got->body = mdf_buf_take(&r->body, &got->len);
    got->done = 1;
}

/* GET /_admin/stats: the count for a route and status ("*": all statuses). */
static long sim_count(env *v, const char *route, const char *status)
{
    char url[512], err[MDF_ERRSZ];
    struct fetched got = {0};
    snprintf(url, sizeof url, "%s/_admin/stats", v->base);
    mdf_http_req req = {.url = url, .max_response = 1 << 20, .http = MDF_HTTP_LOOPBACK};
    assert_int_equal(mdf_http_start(v->http, &req, on_fetched, &got, err, sizeof err), MDF_OK);
    wait_done(v, &got.done, 1);
    mdf_jdoc *doc = NULL;
    assert_int_equal(mdf_jdoc_parse(&got.body, got.len, 16, &doc, err, sizeof err), MDF_OK);
    const mdf_jval *r = mdf_jget(mdf_jget(&doc->root, "requests"), route);
    long n = 0;
    for (uint32_t i = 0; r && r->type == MDF_J_OBJECT && i < r->len; i++) {
        const mdf_jmember *m = &r->u.members[i];
        if ((strcmp(status, "*") == 0 ||
             (m->klen == strlen(status) && memcmp(m->key, status, m->klen) == 0)) &&
            m->val.type == MDF_J_INT)
            n += (long)m->val.u.i;
    }
    mdf_jdoc_free(doc);
    return n;
}

/* GET /_admin/stats: a top-level counter (wrong_audience, authorization_on_sas). */
static long sim_counter(env *v, const char *name)
{
    char url[512], err[MDF_ERRSZ];
    struct fetched got = {0};
    snprintf(url, sizeof url, "%s/_admin/stats", v->base);
    mdf_http_req req = {.url = url, .max_response = 1 << 20, .http = MDF_HTTP_LOOPBACK};
    assert_int_equal(mdf_http_start(v->http, &req, on_fetched, &got, err, sizeof err), MDF_OK);
    wait_done(v, &got.done, 1);
    mdf_jdoc *doc = NULL;
    assert_int_equal(mdf_jdoc_parse(&got.body, got.len, 16, &doc, err, sizeof err), MDF_OK);
    const mdf_jval *n = mdf_jget(&doc->root, name);
    if (!n || n->type != MDF_J_INT)
        fail_msg("/_admin/stats has no counter %s", name);
    long count = (long)n->u.i;
    mdf_jdoc_free(doc);
    return count;
}

/* ---- operations ----------------------------------------------------------------- */

static void get_cluster(env *v, const char *name, result *r)
{
    char err[MDF_ERRSZ];
    memset(r, 0, sizeof *r);
    assert_int_equal(
        mdf_arm_get_cluster(v->arm, SUB, "test-rg", name, on_cluster, r, err, sizeof err), MDF_OK);
    wait_done(v, &r->done, 1);
}

static void extract(env *v, const char *node, bool restricted, result *r)
{
    char err[MDF_ERRSZ];
    memset(r, 0, sizeof *r);
    assert_int_equal(mdf_arm_run_data_extract(v->arm, SUB, "test-managed-rg", node, 600, restricted,
                                              on_op, r, err, sizeof err),
                     MDF_OK);
    wait_done(v, &r->done, 1);
}

/* An extract on a machine of the customer-storage cluster. */
static void extract_customer(env *v, const char *node, result *r)
{
    char err[MDF_ERRSZ];
    memset(r, 0, sizeof *r);
    assert_int_equal(mdf_arm_run_data_extract(v->arm, SUB, "cust-managed-rg", node, 600, false,
                                              on_op, r, err, sizeof err),
                     MDF_OK);
    wait_done(v, &r->done, 1);
    assert_int_equal(r->e.code, MDF_ARM_OK);
}

/* A token provider for another audience, from the same credentials. */
static mdf_auth *auth_for(env *v, const char *audience)
{
    char err[MDF_ERRSZ];
    mdf_auth_cfg c = v->auth_cfg;
    mdf_auth *a = NULL;
    mdf_strlcpy(c.resource, audience, sizeof c.resource);
    if (mdf_auth_new(&a, v->http, &c, err, sizeof err) != MDF_OK)
        fail_msg("auth: %s", err);
    return a;
}

static void download(env *v, const char *url, result *r)
{
    char err[MDF_ERRSZ];
    memset(r, 0, sizeof *r);
    assert_int_equal(mdf_blob_get(v->http, &v->blob_cfg, url, on_blob, r, err, sizeof err), MDF_OK);
    wait_done(v, &r->done, 1);
}

static void test_cluster_and_enforcement(void **state)
{
    (void)state;
    env v;
    result r;
    char err[MDF_ERRSZ];
    env_start(&v, "azure.json");
    env_client(&v);

    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_string_equal(r.cluster.name, "test-cluster");
    assert_string_equal(r.cluster.enforcement_level, "Disabled");
    assert_string_equal(r.cluster.managed_resource_group, "test-managed-rg");

    /* scanRuntime fails while MDE is disabled */
    memset(&r, 0, sizeof r);
    assert_int_equal(
        mdf_arm_scan_runtime(v.arm, SUB, "test-rg", "test-cluster", on_op, &r, err, sizeof err),
        MDF_OK);
    wait_done(&v, &r.done, 1);
    assert_int_equal(r.e.code, MDF_ARM_E_OPERATION_FAILED);
    assert_true(r.has_st);
    assert_string_equal(r.st.status, "Failed");

    /* async PATCH (202 + Azure-AsyncOperation), followed, then confirmed */
    memset(&r, 0, sizeof r);
    assert_int_equal(mdf_arm_set_enforcement(v.arm, SUB, "test-rg", "test-cluster", "RealTime",
                                             on_cluster, &r, err, sizeof err),
                     MDF_OK);
    wait_done(&v, &r.done, 1);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_string_equal(r.cluster.enforcement_level, "RealTime");
    assert_true(sim_count(&v, "operation.get", "200") >= 1);
    assert_int_equal(sim_count(&v, "cluster.patch", "202"), 1);

    /* now the scan runs, and the cluster's actionStates shows it */
    memset(&r, 0, sizeof r);
    assert_int_equal(
        mdf_arm_scan_runtime(v.arm, SUB, "test-rg", "test-cluster", on_op, &r, err, sizeof err),
        MDF_OK);
    wait_done(&v, &r.done, 1);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_string_equal(r.st.status, "Succeeded");
    get_cluster(&v, "test-cluster", &r);
    bool seen = false;
    for (size_t i = 0; i < r.cluster.n_actions; i++) {
        if (strcasecmp(r.cluster.actions[i].action_type,
                       "Microsoft.NetworkCloud/clusters/scanRuntime/action") == 0) {
            assert_string_equal(r.cluster.actions[i].status, "Completed");
            seen = true;
        }
    }
    assert_true(seen);

    /* the synchronous PATCH form (200 with the cluster) */
    memset(&r, 0, sizeof r);
    assert_int_equal(mdf_arm_set_enforcement(v.arm, SUB, "test-rg", "sync-cluster", "Passive",
                                             on_cluster, &r, err, sizeof err),
                     MDF_OK);
    wait_done(&v, &r.done, 1);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_string_equal(r.cluster.enforcement_level, "Passive");

    /* not found, and names refused before anything is sent */
    get_cluster(&v, "no-such-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_E_NOT_FOUND);
    assert_int_equal(r.e.http_status, 404);
    long before = sim_count(&v, "cluster.get", "*");
    assert_int_equal(
        mdf_arm_get_cluster(v.arm, SUB, "test-rg", "bad/../name", on_cluster, &r, err, sizeof err),
        MDF_ERR);
    assert_non_null(strstr(err, "invalid cluster name"));
    assert_int_equal(mdf_arm_set_enforcement(v.arm, SUB, "test-rg", "test-cluster", "Enabled",
                                             on_cluster, &r, err, sizeof err),
                     MDF_ERR);
    assert_int_equal(mdf_arm_run_data_extract(v.arm, SUB, "test-managed-rg", "clean01", 59, false,
                                              on_op, &r, err, sizeof err),
                     MDF_ERR);
    assert_non_null(strstr(err, "60..14400"));
    assert_int_equal(sim_count(&v, "cluster.get", "*"), before);
    env_stop(&v);
}

static void test_list_pages(void **state)
{
    (void)state;
    env v;
    result r = {0};
    char err[MDF_ERRSZ];
    env_start(&v, "azure.json");
    env_client(&v);
    assert_int_equal(mdf_arm_list_bmms(v.arm, SUB, "test-managed-rg", on_bmms, &r, err, sizeof err),
                     MDF_OK);
    wait_done(&v, &r.done, 1);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_int_equal(r.n_bmms, 11);
    /* 11 machines, 4 a page: 3 pages, every page through nextLink */
    assert_int_equal(sim_count(&v, "bmm.list", "200"), 3);
    bool seen_last = false;
    for (size_t i = 0; i < r.n_bmms; i++) {
        assert_string_equal(r.bmms[i].ready_state, "True");
        seen_last |= strcmp(r.bmms[i].name, "slowdl01") == 0;
    }
    assert_true(seen_last);
    env_stop(&v);
}

/* Issue 12, case 4: a machine list whose nextLink loops (an empty page
 * linking to itself) fails at the repeat; one that pages for ever fails at
 * MDF_ARM_MAX_PAGES pages, not after an hour of reads. */
static void test_list_page_faults(void **state)
{
    (void)state;
    static const struct {
        const char *scenario, *says;
        long pages;
    } cases[] = {{"paging_loop.json", "a nextLink seen before", 3},
                 {"paging_endless.json", "more than 256 pages", MDF_ARM_MAX_PAGES}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        env v;
        result r = {0};
        char err[MDF_ERRSZ];
        env_start(&v, cases[i].scenario);
        v.arm_cfg.reads = (mdf_bucket_cfg){0, 0}; /* the test is not about the budget */
        env_client(&v);
        assert_int_equal(
            mdf_arm_list_bmms(v.arm, SUB, "test-managed-rg", on_bmms, &r, err, sizeof err), MDF_OK);
        wait_done(&v, &r.done, 1);
        assert_int_equal(r.e.code, MDF_ARM_E_BAD_RESPONSE);
        if (!strstr(r.e.message, cases[i].says))
            fail_msg("%s: %s", cases[i].scenario, r.e.message);
        assert_int_equal(sim_count(&v, "bmm.list", "200"), cases[i].pages);
        env_stop(&v);
    }
}

/* ---- offloaded work (issue 12, case 3: the loop keeps turning) ---------------- */

struct work_probe {
    pthread_t worked_on, done_on;
    int64_t worked_ms;
    int done, cancelled, order;
    int *seq;
};

static void probe_work(void *arg)
{
    struct work_probe *w = arg;
    w->worked_on = pthread_self();
    usleep(300 * 1000); /* a long parse */
    w->worked_ms = mdf_mono_ms();
}

static void probe_done(void *arg, bool cancelled)
{
    struct work_probe *w = arg;
    w->done_on = pthread_self();
    w->done++;
    w->cancelled += cancelled;
    w->order = ++*w->seq;
}

static void on_tick(void *arg)
{
    *(int64_t *)arg = mdf_mono_ms();
}

/* Work runs off the loop's thread, in order; the loop serves a timer
 * meanwhile; done comes on the loop's thread. Destroying the loop waits for
 * the work under way and cancels the rest. */
static void test_offload(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_http *h = NULL;
    assert_int_equal(mdf_http_new(&h, err, sizeof err), MDF_OK);
    int seq = 0;
    struct work_probe a = {.seq = &seq}, b = {.seq = &seq};
    int64_t ticked = 0;
    assert_int_equal(mdf_http_offload(h, probe_work, probe_done, &a), MDF_OK);
    assert_int_equal(mdf_http_offload(h, probe_work, probe_done, &b), MDF_OK);
    assert_int_equal(mdf_http_after(h, 50, on_tick, &ticked), MDF_OK);
    int64_t deadline = mdf_mono_ms() + 10000;
    while ((a.done == 0 || b.done == 0) && mdf_mono_ms() < deadline)
        mdf_http_run(h, 100, NULL, 0);
    assert_int_equal(a.done + b.done, 2);
    assert_int_equal(a.cancelled + b.cancelled, 0);
    assert_true(ticked > 0 && ticked < a.worked_ms); /* the loop turned while a worked */
    assert_false(pthread_equal(a.worked_on, pthread_self()));
    assert_true(pthread_equal(a.done_on, pthread_self()));
    assert_true(pthread_equal(b.done_on, pthread_self()));
    assert_int_equal(a.order, 1);
    assert_int_equal(b.order, 2);
    assert_int_equal(mdf_http_pending(h), 0);

    struct work_probe c = {.seq = &seq}, d = {.seq = &seq};
    assert_int_equal(mdf_http_offload(h, probe_work, probe_done, &c), MDF_OK);
    assert_int_equal(mdf_http_offload(h, probe_work, probe_done, &d), MDF_OK);
    usleep(50 * 1000); /* c under way */
    mdf_http_destroy(h);
    assert_int_equal(c.done + d.done, 2);
    assert_int_equal(c.cancelled + d.cancelled, 2);
}

/* The happy path end to end: extract, download, parse. */
static void test_extract_download_parse(void **state)
{
    (void)state;
    env v;
    result r, d;
    env_start(&v, "azure.json");
    env_client(&v);
    extract(&v, "threat01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_true(r.st.has_exit_code);
    assert_string_equal(r.st.exit_code, "0");
    assert_non_null(strstr(r.st.output_head, "MDE agent is running"));
    /* outputHead repeats the result URL: its SAS must not come along */
    assert_non_null(strstr(r.st.output_head, "?<redacted>"));
    assert_null(strstr(r.st.output_head, "sig="));
    assert_true(strncmp(r.st.result_url, v.base, strlen(v.base)) == 0);
    assert_non_null(strstr(r.st.result_url, "sig="));

    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    assert_null(strstr(d.blob.message, "sig="));
    mdf_report *rep = NULL;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_report_parse_mem(d.data, d.len, NULL, &rep, err, sizeof err), MDF_OK);
    assert_int_equal(rep->n_warnings, 0);
    assert_int_equal(rep->n_threats, 2);
    int open = 0;
    for (size_t i = 0; i < rep->n_threats; i++)
        open += !mdf_threat_remediated(&rep->threats[i]);
    assert_int_equal(open, 1);
    mdf_report_free(rep);
    free(d.data);

    /* the restricted variant is its own route */
    extract(&v, "clean01", true, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_int_equal(sim_count(&v, "bmm.runDataExtractsRestricted", "202"), 1);
    env_stop(&v);
}

static void test_extract_faults(void **state)
{
    (void)state;
    env v;
    result r;
    env_start(&v, "azure.json");
    env_client(&v);

    extract(&v, "noagent01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_string_equal(r.st.exit_code, "1");
    assert_non_null(strstr(r.st.output_head, "MDE agent is not running"));
    assert_string_equal(r.st.result_url, "");

    extract(&v, "limit01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_string_equal(r.st.exit_code, "252");

    extract(&v, "opfail01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_E_OPERATION_FAILED);
    assert_true(r.has_st);
    assert_non_null(strstr(r.e.message, "The machine did not answer"));

    /* two 503s, then accepted: retried, not failed */
    uint64_t retries = mdf_arm_get_stats(v.arm)->retries;
    extract(&v, "flaky01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_int_equal(sim_count(&v, "bmm.runDataExtracts", "503"), 2);
    assert_true(mdf_arm_get_stats(v.arm)->retries >= retries + 2);

    /* an operation past its deadline */
    v.arm_cfg.operation_deadline_ms = 300;
    env_client(&v);
    memset(&r, 0, sizeof r);
    char err[MDF_ERRSZ];
    assert_int_equal(
        mdf_arm_scan_runtime(v.arm, SUB, "test-rg", "test-cluster", on_op, &r, err, sizeof err),
        MDF_OK);
    wait_done(&v, &r.done, 1);
    /* (the cluster is Disabled: the scan would fail, but only after 0.6 s) */
    assert_int_equal(r.e.code, MDF_ARM_E_TIMED_OUT);
    env_stop(&v);
}

static void test_blob_rules(void **state)
{
    (void)state;
    env v;
    result r, d;
    char url[MDF_URL_MAX];
    env_start(&v, "azure.json");
    env_client(&v);
    extract(&v, "clean01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    mdf_strlcpy(url, r.st.result_url, sizeof url);

    /* not an allowed host: refused, nothing sent */
    mdf_blob_cfg saved = v.blob_cfg;
    mdf_blob_cfg_default(&v.blob_cfg);
    v.blob_cfg.http = MDF_HTTP_LOOPBACK;
    download(&v, url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_REFUSED);
    assert_non_null(strstr(d.blob.message, "not an allowed blob host"));
    assert_null(strstr(d.blob.message, "sig="));
    free(d.data);
    /* plain http without the loopback allowance: refused too */
    v.blob_cfg = saved;
    v.blob_cfg.http = MDF_HTTPS_ONLY;
    download(&v, url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_REFUSED);
    free(d.data);
    assert_int_equal(sim_count(&v, "blob.get", "*"), 0);

    /* over the cap */
    v.blob_cfg = saved;
    v.blob_cfg.max_bytes = 100;
    download(&v, url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_TOO_BIG);
    assert_int_equal(d.len, 0);
    free(d.data);
    v.blob_cfg = saved;

    /* an expired SAS is its own error, and not retried */
    extract(&v, "expired01", false, &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_EXPIRED);
    assert_int_equal(d.blob.http_status, 403);
    assert_null(strstr(d.blob.message, "sig="));
    free(d.data);
    assert_int_equal(sim_count(&v, "blob.get", "403"), 1);

    /* a transfer broken after 300 bytes resumes with Range + If-Match */
    extract(&v, "broken01", false, &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    assert_int_equal(d.blob.resumes, 1);
    assert_int_equal(sim_count(&v, "blob.get", "206"), 1);
    mdf_report *rep = NULL;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_report_parse_mem(d.data, d.len, NULL, &rep, err, sizeof err), MDF_OK);
    mdf_report_free(rep);
    free(d.data);

    /* a stalled transfer (100 B/s, under a 1 KiB/s floor) is dropped */
    extract(&v, "slowdl01", false, &r);
    v.blob_cfg.low_speed_bytes_per_s = 1024;
    v.blob_cfg.low_speed_time_s = 1;
    v.blob_cfg.retry.max_retries = 0;
    v.blob_cfg.max_resumes = 0;
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_TRANSPORT);
    assert_null(strstr(d.blob.message, "sig="));
    free(d.data);
    v.blob_cfg = saved;

    /* a corrupt archive downloads, and the parser says so */
    extract(&v, "corrupt01", false, &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    assert_int_equal(mdf_report_parse_mem(d.data, d.len, NULL, &rep, err, sizeof err), MDF_ERR);
    free(d.data);
    env_stop(&v);
}

/* n cluster GETs at once; every one must succeed. */
static void burst_of_gets(env *v, result *r, int n)
{
    char err[MDF_ERRSZ];
    for (int i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof r[i]);
        assert_int_equal(mdf_arm_get_cluster(v->arm, SUB, "test-rg", "test-cluster", on_cluster,
                                             &r[i], err, sizeof err),
                         MDF_OK);
    }
    for (int i = 0; i < n; i++) {
        wait_done(v, &r[i].done, 1);
        assert_int_equal(r[i].e.code, MDF_ARM_OK);
    }
}

/* Budgets: past the simulator's bucket, 429s are absorbed by retries; with
 * the same budget on the client side, none is sent at all. */
static void test_throttling(void **state)
{
    (void)state;
    env v;
    enum { N = 40 };
    static result r[N];
    env_start(&v, "throttle.json");
    v.arm_cfg.reads = (mdf_bucket_cfg){0, 0}; /* no client-side budget */
    env_client(&v);
    burst_of_gets(&v, r, N);
    assert_true(sim_count(&v, "cluster.get", "429") > 0);
    assert_int_equal(sim_count(&v, "cluster.get", "200"), N);
    assert_true(mdf_arm_get_stats(v.arm)->throttled > 0);
    env_stop(&v);

    /* the same burst with the client spending the published budget */
    env_start(&v, "throttle.json");
    v.arm_cfg.reads = (mdf_bucket_cfg){9, 15}; /* a little under the sim's 10 + 20/s */
    env_client(&v);
    burst_of_gets(&v, r, N);
    assert_int_equal(sim_count(&v, "cluster.get", "429"), 0);
    env_stop(&v);
}

/* Issue 12, case 2: a 429 with Retry-After: 999999 (and x-ms-retry-after-ms
 * to match) on a write. The wait is capped, and bounded by the operation's
 * deadline: the write fails TimedOut at its 3 s deadline, not after the
 * server's 11 days nor the 60 s cap; reads of the same subscription go on
 * meanwhile. */
static void test_hostile_retry_after(void **state)
{
    (void)state;
    env v;
    result w1, w2, rd;
    char err[MDF_ERRSZ];
    env_start(&v, "hostile_retry.json");
    v.arm_cfg.writes = (mdf_bucket_cfg){0, 0}; /* no client-side budget: the 429 comes */
    v.arm_cfg.operation_deadline_ms = 3000;
    env_client(&v);
    memset(&w1, 0, sizeof w1);
    memset(&w2, 0, sizeof w2);
    /* the first takes the sim's only write token; the second gets the 429 */
    assert_int_equal(mdf_arm_set_enforcement(v.arm, SUB, "test-rg", "test-cluster", "Audit",
                                             on_cluster, &w1, err, sizeof err),
                     MDF_OK);
    wait_done(&v, &w1.done, 1);
    int64_t start = mdf_mono_ms();
    assert_int_equal(mdf_arm_set_enforcement(v.arm, SUB, "test-rg", "test-cluster", "RealTime",
                                             on_cluster, &w2, err, sizeof err),
                     MDF_OK);
    while (sim_count(&v, "cluster.patch", "429") == 0 && mdf_mono_ms() - start < 2000)
        mdf_http_run(v.http, 20, NULL, 0);
    assert_true(sim_count(&v, "cluster.patch", "429") >= 1);
    get_cluster(&v, "test-cluster", &rd);
    assert_int_equal(rd.e.code, MDF_ARM_OK);
    assert_int_equal(w2.done, 0);
    wait_done(&v, &w2.done, 1);
    int64_t took = mdf_mono_ms() - start;
    assert_int_equal(w2.e.code, MDF_ARM_E_TIMED_OUT);
    assert_true(took >= 2500 && took < 6000);
    env_stop(&v);
}

/* Extracts of one cluster: before any has completed, two scouts poll at
 * Retry-After and the others wait without polling; once one has, every
 * first poll is aimed at the expected end and finds the extract done. */
static void test_polls_aimed(void **state)
{
    (void)state;
    env v;
    enum { N = 12 };
    static result r[N];
    char err[MDF_ERRSZ], node[16];
    env_start(&v, "polls.json");
    env_client(&v);
    for (int round = 0; round < 2; round++) {
        long inprogress0 = sim_count(&v, "operation.get", "202");
        long done0 = sim_count(&v, "operation.get", "200");
        for (int i = 0; i < N; i++) {
            memset(&r[i], 0, sizeof r[i]);
            snprintf(node, sizeof node, "node%02d", i + 1);
            assert_int_equal(mdf_arm_run_data_extract(v.arm, SUB, "poll-managed-rg", node, 600,
                                                      false, on_op, &r[i], err, sizeof err),
                             MDF_OK);
        }
        for (int i = 0; i < N; i++) {
            wait_done(&v, &r[i].done, 1);
            assert_int_equal(r[i].e.code, MDF_ARM_OK);
        }
        long inprogress = sim_count(&v, "operation.get", "202") - inprogress0;
        long done = sim_count(&v, "operation.get", "200") - done0;
        print_message("round %d: %d extracts, %ld polls said running, %ld said done\n", round + 1,
                      N, inprogress, done);
        assert_int_equal(done, N);
        if (round == 0)
            /* 2 scouts x (0.9 s / 0.1 s Retry-After); all polling: about N x 9 */
            assert_true(inprogress <= 24);
        else
            assert_int_equal(inprogress, 0);
    }
    env_stop(&v);
}

/* Budgets are per subscription: the writes of one do not wait for
 * another's budget (the simulator's: 2 + 0.5/s for each). */
static void test_budget_per_subscription(void **state)
{
    (void)state;
    env v;
    static result a[3], b;
    char err[MDF_ERRSZ], node[16];
    env_start(&v, "budgets.json");
    v.arm_cfg.writes = (mdf_bucket_cfg){2, 0.5}; /* the third write waits 2 s */
    env_client(&v);
    for (int i = 0; i < 3; i++) {
        memset(&a[i], 0, sizeof a[i]);
        snprintf(node, sizeof node, "node%02d", i + 1);
        assert_int_equal(mdf_arm_run_data_extract(v.arm, SUB, "poll-managed-rg", node, 600, false,
                                                  on_op, &a[i], err, sizeof err),
                         MDF_OK);
    }
    memset(&b, 0, sizeof b);
    assert_int_equal(mdf_arm_run_data_extract(v.arm, SUB2, "other-managed-rg", "other01", 600,
                                              false, on_op, &b, err, sizeof err),
                     MDF_OK);
    wait_done(&v, &b.done, 1);
    assert_int_equal(b.e.code, MDF_ARM_OK);
    /* with one budget for both, the other subscription's write would have
     * waited behind the third */
    assert_int_equal(a[2].done, 0);
    for (int i = 0; i < 3; i++) {
        wait_done(&v, &a[i].done, 1);
        assert_int_equal(a[i].e.code, MDF_ARM_OK);
    }
    env_stop(&v);
}

static void test_tokens(void **state)
{
    (void)state;
    env v;
    result r;
    char err[MDF_ERRSZ];
    env_start(&v, "azure.json");

    /* a wrong secret: an auth error that does not repeat the secret */
    mdf_strlcpy(v.auth_cfg.client_secret, "wrong-secret-do-not-log",
                sizeof v.auth_cfg.client_secret);
    env_client(&v);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_E_AUTH);
    assert_non_null(strstr(r.e.message, "invalid_client"));
    assert_null(strstr(r.e.message, "do-not-log"));

    /* workload identity: the federated token file is read at each fetch */
    char path[] = "/tmp/mdf-fed-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "federated-token-one\n", 20), 20);
    close(fd);
    assert_int_equal(mdf_auth_cfg_init(&v.auth_cfg, MDF_AUTH_WORKLOAD_IDENTITY, err, sizeof err),
                     MDF_OK);
    v.auth_cfg.http = MDF_HTTP_LOOPBACK;
    mdf_strlcpy(v.auth_cfg.federated_token_file, path, sizeof v.auth_cfg.federated_token_file);
    env_client(&v);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("rotated-but-unknown", fp);
    fclose(fp);
    env_client(&v);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_E_AUTH);
    unlink(path);

    /* managed identity through an IMDS-style endpoint */
    assert_int_equal(mdf_auth_cfg_init(&v.auth_cfg, MDF_AUTH_MANAGED_IDENTITY, err, sizeof err),
                     MDF_OK);
    mdf_strlcpy(v.auth_cfg.imds_endpoint, v.base, sizeof v.auth_cfg.imds_endpoint);
    env_client(&v);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_int_equal(sim_count(&v, "imds", "200"), 1);
    env_stop(&v);

    /* a 2-second token is refreshed before it expires (at half-life) */
    env_start(&v, "shorttoken.json");
    env_client(&v);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(mdf_auth_fetches(v.auth), 1); /* cached */
    usleep(1200 * 1000);
    get_cluster(&v, "test-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_int_equal(mdf_auth_fetches(v.auth), 2);
    assert_int_equal(sim_count(&v, "cluster.get", "401"), 0);
    env_stop(&v);
}

/* Customer storage: the cluster says where its output goes, the result is
 * a blob URL without a SAS, and it is read with a storage token (never an
 * Authorization header on a SAS URL, never a token of the wrong audience). */
static void test_customer_storage(void **state)
{
    (void)state;
    env v;
    result r, d;
    char err[MDF_ERRSZ];
    env_start(&v, "azure.json");
    env_client(&v);
    get_cluster(&v, "cust-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    assert_true(r.cluster.output.set);
    assert_non_null(strstr(r.cluster.output.container_url, "/contosoout/bmm-output"));
    get_cluster(&v, "test-cluster", &r);
    assert_false(r.cluster.output.set);

    mdf_auth *storage = auth_for(&v, "https://storage.azure.com/");
    v.blob_cfg.tokens = storage;
    extract_customer(&v, "cust01", &r);
    assert_null(strchr(r.st.result_url, '?'));
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    assert_true(d.blob.bearer);
    assert_string_equal(d.blob.account, "contosoout");
    assert_string_equal(d.blob.container, "bmm-output");
    mdf_report *rep = NULL;
    assert_int_equal(mdf_report_parse_mem(d.data, d.len, NULL, &rep, err, sizeof err), MDF_OK);
    mdf_report_free(rep);
    free(d.data);
    assert_int_equal(sim_count(&v, "blob.customer", "200"), 1);
    assert_int_equal(mdf_auth_fetches(storage), 1);

    /* a SAS URL with storage tokens at hand: still read by its SAS alone */
    extract(&v, "clean01", false, &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    assert_false(d.blob.bearer);
    free(d.data);
    assert_int_equal(sim_counter(&v, "authorization_on_sas"), 0);
    assert_int_equal(sim_counter(&v, "wrong_audience"), 0);

    /* blob.auth=sas on a URL without a SAS: storage wants a token */
    extract_customer(&v, "cust01", &r);
    v.blob_cfg.auth = MDF_BLOB_AUTH_SAS;
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_UNAUTHORIZED);
    assert_int_equal(d.blob.http_status, 409);
    assert_non_null(strstr(d.blob.message, "PublicAccessNotPermitted"));
    free(d.data);
    v.blob_cfg.auth = MDF_BLOB_AUTH_AUTO;

    /* no token provider: refused before anything is sent */
    v.blob_cfg.tokens = NULL;
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_REFUSED);
    free(d.data);
    v.blob_cfg.tokens = storage;
    env_stop(&v);
    mdf_auth_destroy(storage);
}

/* One provider per audience: an ARM token is refused by storage and a
 * storage token by ARM, and the simulator counts each presentation. */
static void test_tokens_per_audience(void **state)
{
    (void)state;
    env v;
    result r, d;
    char err[MDF_ERRSZ];
    env_start(&v, "azure.json");
    env_client(&v);
    extract_customer(&v, "cust01", &r);

    /* the ARM provider's tokens on the blob: one fresh token, then refused */
    v.blob_cfg.tokens = v.auth;
    uint64_t before = mdf_auth_fetches(v.auth);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_UNAUTHORIZED);
    assert_int_equal(d.blob.http_status, 401);
    assert_non_null(strstr(d.blob.message, "InvalidAuthenticationInfo"));
    assert_non_null(strstr(d.blob.message, "audience"));
    free(d.data);
    assert_int_equal(mdf_auth_fetches(v.auth) - before, 1); /* the fresh one */
    assert_int_equal(sim_counter(&v, "wrong_audience"), 2);

    /* a storage provider's tokens on ARM: refused */
    mdf_auth *storage = auth_for(&v, "https://storage.azure.com/");
    mdf_arm *arm = NULL;
    assert_int_equal(mdf_arm_new(&arm, v.http, storage, &v.arm_cfg, err, sizeof err), MDF_OK);
    memset(&r, 0, sizeof r);
    assert_int_equal(
        mdf_arm_get_cluster(arm, SUB, "test-rg", "test-cluster", on_cluster, &r, err, sizeof err),
        MDF_OK);
    wait_done(&v, &r.done, 1);
    assert_int_equal(r.e.code, MDF_ARM_E_AUTH);
    assert_int_equal(r.e.http_status, 401);
    assert_string_equal(r.e.arm_code, "InvalidAuthenticationTokenAudience");
    assert_int_equal(sim_counter(&v, "wrong_audience"), 4); /* and its fresh one */

    /* each with its own: both work, and nothing more is counted */
    get_cluster(&v, "cust-cluster", &r);
    assert_int_equal(r.e.code, MDF_ARM_OK);
    v.blob_cfg.tokens = storage;
    extract_customer(&v, "cust01", &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    free(d.data);
    assert_int_equal(sim_counter(&v, "wrong_audience"), 4);
    env_stop(&v);
    mdf_arm_destroy(arm);
    mdf_auth_destroy(storage);
}

/* Each refusal of Storage is its own error, and says what to fix; what
 * retrying can mend (one 401, a blob that appears late, 503) is mended. */
static void test_storage_errors(void **state)
{
    (void)state;
    env v;
    result r, d;
    env_start(&v, "azure.json");
    env_client(&v);
    mdf_auth *storage = auth_for(&v, "https://storage.azure.com/");
    v.blob_cfg.tokens = storage;
    v.blob_cfg.missing.base_ms = 50; /* the 404 retries, quicker */
    static const struct {
        const char *node;
        mdf_blob_errcode code;
        long status;
        const char *says;
    } cases[] = {
        {"cust01", MDF_BLOB_OK, 200, NULL}, /* first: the provider has its token after it */
        {"custtok01", MDF_BLOB_OK, 200, NULL},
        {"custtok02", MDF_BLOB_E_UNAUTHORIZED, 401, "after a fresh one"},
        {"custrole01", MDF_BLOB_E_NO_ROLE, 403,
         "no data role on storage account contosoout, container bmm-output "
         "(AuthorizationPermissionMismatch): grant it Storage Blob Data Reader"},
        {"custfw01", MDF_BLOB_E_BLOCKED, 403, "firewall or private endpoint refused this worker"},
        {"custlag01", MDF_BLOB_OK, 200, NULL},
        {"custgone01", MDF_BLOB_E_NOT_FOUND, 404,
         "no such blob in storage account contosoout, container bmm-output"},
        {"custbusy01", MDF_BLOB_OK, 200, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        extract_customer(&v, cases[i].node, &r);
        uint64_t fetches = mdf_auth_fetches(storage);
        download(&v, r.st.result_url, &d);
        if (d.blob.code != cases[i].code)
            fail_msg("%s: %s, not %s (%s)", cases[i].node, mdf_blob_errcode_name(d.blob.code),
                     mdf_blob_errcode_name(cases[i].code), d.blob.message);
        assert_int_equal(d.blob.http_status, cases[i].status);
        if (cases[i].says && !strstr(d.blob.message, cases[i].says))
            fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].node, d.blob.message,
                     cases[i].says);
        /* a 401 gets exactly one fresh token */
        if (strncmp(cases[i].node, "custtok", 7) == 0)
            assert_int_equal(mdf_auth_fetches(storage) - fetches, 1);
        free(d.data);
    }
    /* with a token too: a broken transfer resumes with Range + If-Match on
     * the ETag, the cap holds, a stalled transfer is dropped */
    extract_customer(&v, "custbroken01", &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_OK);
    assert_true(d.blob.bearer);
    assert_int_equal(d.blob.resumes, 1);
    assert_int_equal(sim_count(&v, "blob.customer", "206"), 1);
    free(d.data);
    mdf_blob_cfg saved = v.blob_cfg;
    v.blob_cfg.max_bytes = 100;
    extract_customer(&v, "cust01", &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_TOO_BIG);
    free(d.data);
    v.blob_cfg = saved;
    v.blob_cfg.low_speed_bytes_per_s = 1024;
    v.blob_cfg.low_speed_time_s = 1;
    v.blob_cfg.retry.max_retries = 0;
    v.blob_cfg.max_resumes = 0;
    extract_customer(&v, "custslow01", &r);
    download(&v, r.st.result_url, &d);
    assert_int_equal(d.blob.code, MDF_BLOB_E_TRANSPORT);
    free(d.data);
    v.blob_cfg = saved;
    /* custlag01 answered 404 twice, then the blob; custgone01 four times */
    assert_int_equal(sim_count(&v, "blob.customer", "404"), 2 + 4);
    assert_int_equal(sim_count(&v, "blob.customer", "503"), 2);
    assert_int_equal(sim_counter(&v, "wrong_audience"), 0);
    env_stop(&v);
    mdf_auth_destroy(storage);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offload),
        cmocka_unit_test_teardown(test_cluster_and_enforcement, teardown),
        cmocka_unit_test_teardown(test_list_pages, teardown),
        cmocka_unit_test_teardown(test_extract_download_parse, teardown),
        cmocka_unit_test_teardown(test_extract_faults, teardown),
        cmocka_unit_test_teardown(test_blob_rules, teardown),
        cmocka_unit_test_teardown(test_throttling, teardown),
        cmocka_unit_test_teardown(test_hostile_retry_after, teardown),
        cmocka_unit_test_teardown(test_list_page_faults, teardown),
        cmocka_unit_test_teardown(test_polls_aimed, teardown),
        cmocka_unit_test_teardown(test_budget_per_subscription, teardown),
        cmocka_unit_test_teardown(test_tokens, teardown),
        cmocka_unit_test_teardown(test_customer_storage, teardown),
        cmocka_unit_test_teardown(test_tokens_per_audience, teardown),
        cmocka_unit_test_teardown(test_storage_errors, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
