/* The metrics registry and its exposition (escaping, histogram buckets,
 * the series cap), the consumer-lag parser of librdkafka's statistics,
 * and the operations endpoint's probes over real HTTP on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "kafka_health.h"
#include "metrics.h"
#include "ops_server.h"

static char *render(mdf_metrics *m)
{
    char err[MDF_ERRSZ];
    mdf_buf b;
    mdf_buf_init(&b, 1 << 20);
    assert_int_equal(mdf_metrics_render(m, &b, err, sizeof err), MDF_OK);
    size_t len;
    char *s = mdf_buf_take(&b, &len);
    return s ? s : strdup("");
}

static mdf_metric *add(mdf_metrics *m, mdf_metric_def d)
{
    char err[MDF_ERRSZ];
    mdf_metric *x = NULL;
    assert_int_equal(mdf_metrics_add(m, &d, &x, err, sizeof err), MDF_OK);
    assert_non_null(x);
    return x;
}

static void test_exposition(void **state)
{
    (void)state;
    mdf_metrics *m;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_metrics_new(&m, err, sizeof err), MDF_OK);
    mdf_metric *c = add(m, (mdf_metric_def){MDF_COUNTER,
                                            "t_requests_total",
                                            "Requests with a \\ in",
                                            {"class", "code"},
                                            2,
                                            8,
                                            NULL,
                                            0});
    mdf_metric *g =
        add(m, (mdf_metric_def){MDF_GAUGE, "t_in_flight", "In flight", {0}, 0, 1, NULL, 0});
    mdf_metric_inc(c, (const char *[]){"read", "200"}, 1);
    mdf_metric_inc(c, (const char *[]){"read", "200"}, 2);
    mdf_metric_inc(c, (const char *[]){"a\"b\\c\nd", "429"}, 1);
    mdf_metric_inc(c, (const char *[]){"read", "200"}, -5); /* a counter never goes down */
    mdf_metric_set(g, NULL, 2.5);
    mdf_metric_inc(g, NULL, -1);
    char *s = render(m);
    const char *want = "# HELP t_requests_total Requests with a \\\\ in\n"
                       "# TYPE t_requests_total counter\n"
                       "t_requests_total{class=\"read\",code=\"200\"} 3\n"
                       "t_requests_total{class=\"a\\\"b\\\\c\\nd\",code=\"429\"} 1\n"
                       "# HELP t_in_flight In flight\n"
                       "# TYPE t_in_flight gauge\n"
                       "t_in_flight 1.5\n";
    assert_string_equal(s, want);
    free(s);
    mdf_metrics_free(m);
}

static void test_histogram(void **state)
{
    (void)state;
    mdf_metrics *m;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_metrics_new(&m, err, sizeof err), MDF_OK);
    static const double b[] = {0.005, 1, 2.5};
    mdf_metric *h =
        add(m, (mdf_metric_def){MDF_HISTOGRAM, "t_wait_seconds", "Waits", {"outcome"}, 1, 4, b, 3});
    const char *ok[] = {"ok"};
    mdf_metric_observe(h, ok, 0.005); /* a bound is inclusive */
    mdf_metric_observe(h, ok, 1.5);
    mdf_metric_observe(h, ok, 3);
    mdf_metric_observe(h, ok, 0.5);
    char *s = render(m);
    const char *want = "# HELP t_wait_seconds Waits\n"
                       "# TYPE t_wait_seconds histogram\n"
                       "t_wait_seconds_bucket{outcome=\"ok\",le=\"0.005\"} 1\n"
                       "t_wait_seconds_bucket{outcome=\"ok\",le=\"1\"} 2\n"
                       "t_wait_seconds_bucket{outcome=\"ok\",le=\"2.5\"} 3\n"
                       "t_wait_seconds_bucket{outcome=\"ok\",le=\"+Inf\"} 4\n"
                       "t_wait_seconds_sum{outcome=\"ok\"} 5.005\n"
                       "t_wait_seconds_count{outcome=\"ok\"} 4\n";
    assert_string_equal(s, want);
    free(s);
    mdf_metrics_free(m);
}

static void test_series_cap(void **state)
{
    (void)state;
    mdf_metrics *m;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_metrics_new(&m, err, sizeof err), MDF_OK);
    mdf_metric *g =
        add(m, (mdf_metric_def){MDF_GAUGE, "t_lag", "Lag", {"topic", "partition"}, 2, 3, NULL, 0});
    char p[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(p, sizeof p, "%d", i);
        mdf_metric_inc(g, (const char *[]){"t", p}, 1);
    }
    /* two real series, then everything in the overflow one */
    assert_int_equal(mdf_metric_series(g), 3);
    char *s = render(m);
    assert_non_null(strstr(s, "t_lag{topic=\"t\",partition=\"0\"} 1\n"));
    assert_non_null(strstr(s, "t_lag{topic=\"t\",partition=\"1\"} 1\n"));
    assert_non_null(strstr(s, "t_lag{topic=\"_overflow\",partition=\"_overflow\"} 998\n"));
    free(s);
    /* a value is cut at its cap, so long values cannot grow memory either */
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mdf_metric_clear(g);
    assert_int_equal(mdf_metric_series(g), 0);
    mdf_metric_set(g, (const char *[]){big, "0"}, 1);
    s = render(m);
    assert_true(strlen(s) < 600);
    free(s);
    mdf_metrics_free(m);
}

static void test_definitions(void **state)
{
    (void)state;
    mdf_metrics *m;
    mdf_metric *x;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_metrics_new(&m, err, sizeof err), MDF_OK);
    static const double b[] = {1, 1};
    const mdf_metric_def bad[] = {
        {MDF_COUNTER, "t_requests", "no _total", {0}, 0, 1, NULL, 0},
        {MDF_GAUGE, "t_things_total", "a gauge", {0}, 0, 1, NULL, 0},
        {MDF_GAUGE, "9lives", "a digit first", {0}, 0, 1, NULL, 0},
        {MDF_GAUGE, "t_x", "bad label", {"a-b"}, 1, 4, NULL, 0},
        {MDF_GAUGE, "t_x", "reserved label", {"__name"}, 1, 4, NULL, 0},
        {MDF_HISTOGRAM, "t_h", "le is the histogram's", {"le"}, 1, 4, b, 1},
        {MDF_HISTOGRAM, "t_h", "buckets not increasing", {0}, 0, 1, b, 2},
        {MDF_HISTOGRAM, "t_h", "no buckets", {0}, 0, 1, NULL, 0},
        {MDF_GAUGE, "t_x", "two\nlines", {0}, 0, 1, NULL, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(mdf_metrics_add(m, &bad[i], &x, err, sizeof err), MDF_ERR);
        assert_null(x);
        assert_true(err[0] != '\0');
    }
    /* the same definition twice is one metric; another with the name is refused */
    mdf_metric_def d = {MDF_COUNTER, "t_jobs_total", "Jobs", {"status"}, 1, 4, NULL, 0};
    mdf_metric *a = add(m, d), *a2 = add(m, d);
    assert_ptr_equal(a, a2);
    d.labels[0] = "kind";
    assert_int_equal(mdf_metrics_add(m, &d, &x, err, sizeof err), MDF_ERR);
    /* no registry, no metric: updates on NULL do nothing */
    assert_int_equal(mdf_metrics_add(NULL, &d, &x, err, sizeof err), MDF_OK);
    assert_null(x);
    mdf_metric_inc(NULL, NULL, 1);
    mdf_metric_set(NULL, NULL, 1);
    mdf_metric_observe(NULL, NULL, 1);
    mdf_metric_clear(NULL);
    /* an exposition past its buffer's cap is an error, not a cut */
    mdf_metric_inc(a, (const char *[]){"Succeeded"}, 1);
    mdf_buf small;
    mdf_buf_init(&small, 16);
    assert_int_equal(mdf_metrics_render(m, &small, err, sizeof err), MDF_ERR);
    mdf_buf_free(&small);
    mdf_metrics_free(m);
}

typedef struct lag_seen {
    char text[1024];
} lag_seen;

static void on_lag(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    lag_seen *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s/%d=%lld;", topic, (int)partition, (long long)lag);
}

static void test_stats_lag(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    lag_seen seen = {""};
    const char *doc =
        "{\"name\":\"c\",\"topics\":{\"mde.node.tasks\":{\"topic\":\"mde.node.tasks\","
        "\"partitions\":{\"0\":{\"partition\":0,\"consumer_lag\":7},"
        "\"1\":{\"partition\":1,\"consumer_lag\":-1},"
        "\"-1\":{\"partition\":-1,\"consumer_lag\":3}}},"
        "\"mde.job.status\":{\"partitions\":{\"4\":{\"consumer_lag\":0}}}}}";
    assert_int_equal(mdf_kafka_stats_lag(doc, strlen(doc), on_lag, &seen, err, sizeof err), MDF_OK);
    assert_string_equal(seen.text, "mde.node.tasks/0=7;mde.job.status/4=0;");
    const char *notdoc = "[1,2]";
    assert_int_equal(mdf_kafka_stats_lag(notdoc, strlen(notdoc), on_lag, &seen, err, sizeof err),
                     MDF_ERR);
}

/* ---- the endpoint over HTTP ------------------------------------------------------- */

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
    mdf_buf *b = arg;
    return mdf_buf_append(b, p, sz * n) == 0 ? sz * n : 0;
}

/* GETs (or POSTs) url+path; the status, and the body into body. */
static long http_get(const mdf_ops_server *s, const char *path, bool post, char *body,
                     size_t bodysz)
{
    char url[400];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", mdf_ops_server_port(s), path);
    mdf_buf b;
    mdf_buf_init(&b, 1 << 20);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x");
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("GET %s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    mdf_strlcpy(body, b.data ? b.data : "", bodysz);
    mdf_buf_free(&b);
    return status;
}

static void test_probes_http(void **state)
{
    (void)state;
    char err[MDF_ERRSZ], body[4096];
    mdf_ops_server *s;
    assert_int_equal(mdf_ops_server_start(&s, "127.0.0.1:0", 1000, err, sizeof err), MDF_OK);
    assert_true(mdf_ops_server_port(s) > 0);
    snprintf(body, sizeof body, "http://127.0.0.1:%u", mdf_ops_server_port(s));
    assert_string_equal(mdf_ops_server_url(s), body);

    /* live: the stamp of the start is fresh; older than the stall time, not */
    assert_int_equal(http_get(s, "/livez", false, body, sizeof body), 200);
    mdf_ops_alive(s, mdf_mono_ms() - 5000);
    assert_int_equal(http_get(s, "/livez", false, body, sizeof body), 503);
    assert_non_null(strstr(body, "stalled"));
    mdf_ops_alive(s, mdf_mono_ms());
    assert_int_equal(http_get(s, "/livez", false, body, sizeof body), 200);

    /* ready only once both conditions hold, and saying what is missing */
    assert_int_equal(http_get(s, "/readyz", false, body, sizeof body), 503);
    assert_non_null(strstr(body, "partition assignment"));
    assert_non_null(strstr(body, "token"));
    assert_non_null(strchr(body, '\n'));
    assert_ptr_equal(strchr(body, '\n'), body + strlen(body) - 1); /* one line */
    mdf_ops_ready(s, MDF_OPS_READY_ASSIGNED, true);
    assert_int_equal(http_get(s, "/readyz", false, body, sizeof body), 503);
    assert_null(strstr(body, "partition assignment"));
    assert_non_null(strstr(body, "token"));
    mdf_ops_ready(s, MDF_OPS_READY_TOKEN, true);
    assert_int_equal(http_get(s, "/readyz", false, body, sizeof body), 200);
    mdf_ops_ready(s, MDF_OPS_READY_ASSIGNED, false); /* revoked */
    assert_int_equal(http_get(s, "/readyz", false, body, sizeof body), 503);
    assert_non_null(strstr(body, "partition assignment"));

    /* /metrics serves the latest snapshot, copied */
    assert_int_equal(http_get(s, "/metrics", false, body, sizeof body), 503);
    char snap[64];
    snprintf(snap, sizeof snap, "t_one 1\n");
    assert_int_equal(mdf_ops_publish(s, snap, strlen(snap)), MDF_OK);
    snap[0] = 'X'; /* the server holds its own copy */
    assert_int_equal(http_get(s, "/metrics", false, body, sizeof body), 200);
    assert_string_equal(body, "t_one 1\n");
    assert_int_equal(mdf_ops_publish(s, "t_two 2\n", 8), MDF_OK);
    assert_int_equal(http_get(s, "/metrics", false, body, sizeof body), 200);
    assert_string_equal(body, "t_two 2\n");

    assert_int_equal(http_get(s, "/nope", false, body, sizeof body), 404);
    assert_int_equal(http_get(s, "/metrics", true, body, sizeof body), 405);
    mdf_ops_server_stop(s);

    const char *bad[] = {"9464", "127.0.0.1:x", "127.0.0.1:70000", "no.such.host.invalid:0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(mdf_ops_server_start(&s, bad[i], 1000, err, sizeof err), MDF_ERR);
        assert_null(s);
        assert_true(err[0] != '\0');
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition), cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_series_cap), cmocka_unit_test(test_definitions),
        cmocka_unit_test(test_stats_lag),  cmocka_unit_test(test_probes_http),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
