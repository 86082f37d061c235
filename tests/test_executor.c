/* The executor role against the recording port and the scripted Azure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "records.h"
#include "role_harness.h"

#define SUB "00000000-0000-0000-0000-000000000000"
#define JOB "6f1c0c1e-8d1c-4b5e-9f3a-0c1d2e3f4a5b"
#define SAS "https://acct.blob.core.windows.net/out/x.tar.gz?sv=2019-12-12&sig=abc"

static json_object *node_task(const char *node, int limit)
{
    json_object *t = json_object_new_object();
    json_object_object_add(t, "task_id",
                           json_object_new_string("0b6d3c1e-8d1c-5b5e-9f3a-0c1d2e3f4a5b"));
    json_object_object_add(t, "job_id", json_object_new_string(JOB));
    json_object_object_add(t, "created_at", json_object_new_int64(1700000000000));
    json_object_object_add(t, "subscription_id", json_object_new_string(SUB));
    json_object_object_add(t, "resource_group", json_object_new_string("rg1"));
    json_object_object_add(t, "cluster", json_object_new_string("cluster1"));
    json_object_object_add(t, "managed_resource_group", json_object_new_string("rg1-managed"));
    json_object_object_add(t, "node", json_object_new_string(node));
    json_object_object_add(t, "machine_name", json_object_new_string("host-07"));
    json_object_object_add(t, "limit_time_seconds", json_object_new_int(limit));
    return t;
}

static void start(harness *h, const char *node, int limit)
{
    h_init(h, &mdf_role_executor, NULL);
    json_object *t = node_task(node, limit);
    h_deliver(h, MDF_TOPIC_NODE_TASKS, 2, 11, MDF_REC_NODE_TASK, t);
    json_object_put(t);
}

/* The extract finished with the given exit code and output. */
static void extract_done(harness *h, const char *exit_code, const char *output_head,
                         const char *result_url)
{
    h_call *c = h_expect(h, AZ_RUN_DATA_EXTRACT);
    mdf_arm_error ok = {0};
    mdf_opstatus st;
    memset(&st, 0, sizeof st);
    snprintf(st.status, sizeof st.status, "Succeeded");
    st.has_exit_code = exit_code != NULL;
    snprintf(st.exit_code, sizeof st.exit_code, "%s", exit_code ? exit_code : "");
    snprintf(st.output_head, sizeof st.output_head, "%s", output_head ? output_head : "");
    snprintf(st.result_url, sizeof st.result_url, "%s", result_url ? result_url : "");
    h_answer_op(h, c, &ok, &st);
}

/* The node's outcome: checks there is exactly one and that it says failure
 * (NULL: success), and returns its reason. */
static char *outcome(harness *h, const char *failure)
{
    assert_int_equal(h_status_count(h, "NodeOutcome"), 1);
    json_object *s = h_last_status(h, "NodeOutcome");
    json_object *o = json_object_object_get(s, "node_outcome");
    assert_string_equal(mdf_jstr(o, "node"), "rack1compute07");
    assert_string_equal(mdf_jstr(o, "result"), failure ? "Failed" : "Succeeded");
    assert_string_equal(mdf_jstr(o, "failure"), failure ? failure : "");
    char *reason = strdup(mdf_jstr(o, "reason"));
    json_object_put(s);
    return reason;
}

/* A failed node: one node report that says so, one node-failure ticket,
 * and the request is done. */
static void failed_node_records(harness *h, const char *failure)
{
    assert_int_equal(h_count(h, MDF_TOPIC_NODE_REPORTS), 1);
    json_object *rep = h_parse_json(h_nth(h, MDF_TOPIC_NODE_REPORTS, 0));
    assert_string_equal(mdf_jstr(rep, "outcome"), "failed");
    assert_string_equal(mdf_jstr(rep, "failure"), failure);
    json_object_put(rep);
    assert_int_equal(h_count(h, MDF_TOPIC_TICKETS), 1);
    json_object *tk = h_parse_json(h_nth(h, MDF_TOPIC_TICKETS, 0));
    assert_string_equal(mdf_jstr(tk, "kind"), "node_failure");
    json_object_put(tk);
    assert_int_equal(h_count(h, MDF_TOPIC_SCAN_RESULTS), 0);
    assert_int_equal(h_count(h, MDF_TOPIC_DLQ), 0);
    assert_int_equal(h->completed, 1);
    assert_int_equal(h->stored, 1);
}

static void exit_252_is_time_limit(void **state)
{
    (void)state;
    harness h;
    start(&h, "rack1compute07", 900);
    h_call *c = h_next_call(&h);
    assert_non_null(c);
    assert_int_equal(c->limit, 900);
    assert_string_equal(c->rg, "rg1-managed");
    assert_string_equal(c->name, "rack1compute07");
    extract_done(&h, "252", "====Action Command Output====\nMDE agent is running\n", NULL);
    char *reason = outcome(&h, "TimeLimit");
    assert_non_null(strstr(reason, "time limit of 900 s"));
    free(reason);
    failed_node_records(&h, "TimeLimit");
    assert_int_equal(h_calls_of(&h, AZ_DOWNLOAD), 0);
    /* counted where it happened: started, failed by its reason, gone */
    assert_true(h_metric(&h, "mdefleet_node_tasks_started_total") == 1);
    assert_true(h_metric(&h, "mdefleet_node_tasks_finished_total{outcome=\"failed\","
                             "reason=\"TimeLimit\"}") == 1);
    assert_true(h_metric(&h, "mdefleet_node_tasks_in_flight") == 0);
    assert_true(h_metric(&h, "mdefleet_extract_duration_seconds_count{outcome=\"failed\"}") == 1);
    assert_true(h_metric(&h, "mdefleet_download_bytes_total") == 0);
    h_fini(&h);
}

static void agent_not_running(void **state)
{
    (void)state;
    harness h;
    start(&h, "rack1compute07", 600);
    extract_done(&h, "1",
                 "====Action Command Output====\nMDE agent is not running, skipping data "
                 "extract\n",
                 NULL);
    char *reason = outcome(&h, "AgentNotRunning");
    assert_non_null(strstr(reason, "MDE agent is not running, skipping data extract"));
    assert_non_null(strstr(reason, "exit code 1"));
    free(reason);
    failed_node_records(&h, "AgentNotRunning");
    h_fini(&h);
}

/* A SAS that expired before the download cannot be renewed: the extract
 * runs once more for a fresh URL, and the node succeeds with that one. */
static void expired_sas_gets_one_fresh_extract(void **state)
{
    (void)state;
    harness h;
    size_t len;
    char *report = h_read_file(MDF_TEST_DATA "/sample-report.json", &len);
    start(&h, "rack1compute07", 600);
    extract_done(&h, "0", "MDE agent is running, proceeding with data extract", SAS);
    h_call *dl = h_expect(&h, AZ_DOWNLOAD);
    assert_string_equal(dl->arg, SAS);
    h_answer_download(&h, dl, MDF_BLOB_E_EXPIRED, NULL, 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_JOB_STATUS), 0); /* not failed */
    extract_done(&h, "0", "MDE agent is running", SAS "2");
    h_call *dl2 = h_expect(&h, AZ_DOWNLOAD);
    assert_string_equal(dl2->arg, SAS "2");
    h_answer_download(&h, dl2, MDF_BLOB_OK, report, len);
    assert_int_equal(h_calls_of(&h, AZ_RUN_DATA_EXTRACT), 2);
    char *reason = outcome(&h, NULL);
    free(reason);
    /* the report of tests/data/sample-report.json: 2 scans, 2 threats, one
     * of them not remediated */
    assert_int_equal(h_count(&h, MDF_TOPIC_SCAN_RESULTS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_THREATS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_TICKETS), 1);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_REPORTS), 1);
    const h_record *sr = h_nth(&h, MDF_TOPIC_SCAN_RESULTS, 0);
    assert_string_equal(sr->content_type, "application/json");
    assert_string_equal(sr->correlation, JOB);
    assert_non_null(strstr(sr->key, "/bareMetalMachines/rack1compute07"));
    assert_int_equal(h.stored, 1);
    free(report);
    h_fini(&h);
}

/* Only one fresh extract: a second expired URL fails the node. */
static void expired_twice_fails(void **state)
{
    (void)state;
    harness h;
    start(&h, "rack1compute07", 600);
    extract_done(&h, "0", "", SAS);
    h_answer_download(&h, h_expect(&h, AZ_DOWNLOAD), MDF_BLOB_E_EXPIRED, NULL, 0);
    extract_done(&h, "0", "", SAS);
    h_answer_download(&h, h_expect(&h, AZ_DOWNLOAD), MDF_BLOB_E_EXPIRED, NULL, 0);
    assert_null(h_next_call(&h));
    free(outcome(&h, "DownloadExpired"));
    failed_node_records(&h, "DownloadExpired");
    h_fini(&h);
}

static void unreadable_report(void **state)
{
    (void)state;
    harness h;
    start(&h, "rack1compute07", 600);
    extract_done(&h, "0", "", SAS);
    h_answer_download(&h, h_expect(&h, AZ_DOWNLOAD), MDF_BLOB_OK, "{\"scanList\": [", 14);
    char *reason = outcome(&h, "UnreadableReport");
    assert_non_null(strstr(reason, "not JSON"));
    free(reason);
    failed_node_records(&h, "UnreadableReport");
    h_fini(&h);
}

/* A task with a name the API would refuse never runs: a failed node and
 * the task to the DLQ. */
static void bad_name_dead_letters(void **state)
{
    (void)state;
    harness h;
    start(&h, "rack1_compute07", 600);
    assert_int_equal(h.n_calls, 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 1);
    assert_int_equal(h_status_count(&h, "NodeOutcome"), 1);
    assert_int_equal(h.completed, 1);
    h_fini(&h);
}

/* Every refusal of Storage becomes the failure that names it, with the
 * download's message (what to fix) as the reason, and a ticket. */
static void download_errors_name_the_failure(void **state)
{
    (void)state;
    static const struct {
        mdf_blob_errcode code;
        const char *failure;
    } cases[] = {
        {MDF_BLOB_E_UNAUTHORIZED, "DownloadUnauthorized"},
        {MDF_BLOB_E_NO_ROLE, "DownloadForbidden"},
        {MDF_BLOB_E_BLOCKED, "DownloadBlocked"},
        {MDF_BLOB_E_NOT_FOUND, "DownloadMissing"},
        {MDF_BLOB_E_REFUSED, "DownloadRefused"},
        {MDF_BLOB_E_TOO_BIG, "DownloadRefused"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        harness h;
        start(&h, "rack1compute07", 600);
        extract_done(&h, "0", "", "https://contosoout.blob.core.windows.net/out/x.tar.gz");
        h_answer_download(&h, h_expect(&h, AZ_DOWNLOAD), cases[i].code, NULL, 0);
        char *reason = outcome(&h, cases[i].failure);
        assert_non_null(strstr(reason, mdf_blob_errcode_name(cases[i].code)));
        free(reason);
        failed_node_records(&h, cases[i].failure);
        assert_int_equal(h_calls_of(&h, AZ_RUN_DATA_EXTRACT), 1); /* no second extract */
        h_fini(&h);
    }
}

/* An extract that only gives resultRef is read from it. */
static void result_ref_is_used(void **state)
{
    (void)state;
    harness h;
    size_t len;
    char *report = h_read_file(MDF_TEST_DATA "/sample-report.json", &len);
    start(&h, "rack1compute07", 600);
    h_call *c = h_expect(&h, AZ_RUN_DATA_EXTRACT);
    mdf_arm_error ok = {0};
    mdf_opstatus st;
    memset(&st, 0, sizeof st);
    snprintf(st.status, sizeof st.status, "Succeeded");
    st.has_exit_code = true;
    snprintf(st.exit_code, sizeof st.exit_code, "0");
    snprintf(st.result_url, sizeof st.result_url,
             "https://contosoout.blob.core.windows.net/out/ref.tar.gz");
    st.result_from_ref = true;
    h_answer_op(&h, c, &ok, &st);
    h_call *dl = h_expect(&h, AZ_DOWNLOAD);
    assert_string_equal(dl->arg, "https://contosoout.blob.core.windows.net/out/ref.tar.gz");
    h_answer_download(&h, dl, MDF_BLOB_OK, report, len);
    free(outcome(&h, NULL));
    free(report);
    h_fini(&h);
}

/* The report's records, then, once they are all acknowledged, the node's
 * state in the task's partition; the task is done only when that is
 * acknowledged too. */
#define JOB2 "7a2d1d2f-9e2d-4c6f-8a4b-1d2e3f4a5b6c"

static void run_report_task(harness *h, const char *job, int64_t offset, const char *report,
                            size_t len)
{
    json_object *t = node_task("rack1compute07", 600);
    json_object_object_add(t, "job_id", json_object_new_string(job));
    h_deliver(h, MDF_TOPIC_NODE_TASKS, 2, offset, MDF_REC_NODE_TASK, t);
    json_object_put(t);
    extract_done(h, "0", "MDE agent is running", SAS);
    h_answer_download(h, h_expect(h, AZ_DOWNLOAD), MDF_BLOB_OK, report, len);
}

static void state_follows_acknowledged_results(void **state)
{
    (void)state;
    harness h;
    size_t len;
    char *report = h_read_file(MDF_TEST_DATA "/sample-report.json", &len);
    h_init(&h, &mdf_role_executor, NULL);
    h.auto_ack = false;
    run_report_task(&h, JOB, 11, report, len);
    assert_int_equal(h_count(&h, MDF_TOPIC_SCAN_RESULTS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_THREATS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_TICKETS), 1);
    assert_int_equal(h_count(&h, MDF_TOPIC_FINDINGS_STATE), 0); /* not before the acks */
    assert_int_equal(h.completed, 0);

    assert_true(h_metric(&h, "mdefleet_node_tasks_in_flight") == 1); /* until complete */
    h_ack_all(&h);
    assert_int_equal(h_count(&h, MDF_TOPIC_FINDINGS_STATE), 1);
    assert_true(h_metric(&h, "mdefleet_node_tasks_finished_total{outcome=\"succeeded\","
                             "reason=\"\"}") == 1);
    assert_true(h_metric(&h, "mdefleet_download_bytes_total") == (double)len);
    const h_record *st = h_nth(&h, MDF_TOPIC_FINDINGS_STATE, 0);
    assert_int_equal(st->partition, 2); /* the task's own partition */
    assert_string_equal(st->key, "k");  /* the task's key: node.tasks is keyed by node */
    assert_string_equal(st->content_type, "application/json");
    json_object *v = h_parse_json(st);
    assert_int_equal(json_object_get_int(json_object_object_get(v, "v")), 1);
    assert_int_equal(json_object_array_length(json_object_object_get(v, "scans")), 2);
    assert_int_equal(json_object_array_length(json_object_object_get(v, "threats")), 2);
    json_object_put(v);
    assert_int_equal(h.completed, 0); /* the state is not acknowledged yet */

    h_ack_all(&h);
    assert_int_equal(h.completed, 1);
    assert_int_equal(h.stored, 1);
    assert_true(h_metric(&h, "mdefleet_node_tasks_in_flight") == 0);

    /* the next job on the same node, same report: only its report and
     * outcome, and the state again */
    size_t before = h.n_records;
    run_report_task(&h, JOB2, 12, report, len);
    h_ack_all(&h);
    h_ack_all(&h);
    assert_int_equal(h_count(&h, MDF_TOPIC_SCAN_RESULTS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_THREATS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_TICKETS), 1);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_REPORTS), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_FINDINGS_STATE), 2);
    assert_int_equal(h.n_records - before, 3);
    json_object *nr = h_parse_json(h_nth(&h, MDF_TOPIC_NODE_REPORTS, 1));
    json_object *pub = json_object_object_get(nr, "published");
    assert_int_equal(json_object_get_int(json_object_object_get(pub, "scans")), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(pub, "findings_created")), 0);
    json_object_put(nr);
    assert_int_equal(h.stored, 2);
    free(report);
    h_fini(&h);
}

/* A result that is not acknowledged stops the task before its state: it
 * is not stored, so it runs again from the state before. */
static void lost_result_writes_no_state(void **state)
{
    (void)state;
    harness h;
    size_t len;
    char *report = h_read_file(MDF_TEST_DATA "/sample-report.json", &len);
    h_init(&h, &mdf_role_executor, NULL);
    h.auto_ack = false;
    run_report_task(&h, JOB, 11, report, len);
    for (size_t i = 0; i < h.n_records; i++) {
        if (!h.records[i].delivered) {
            h.records[i].delivered = true;
            mdf_req_delivered(h.records[i].req, i != 0); /* the first one fails */
        }
    }
    assert_int_equal(h_count(&h, MDF_TOPIC_FINDINGS_STATE), 0);
    assert_int_equal(h.completed, 1);
    assert_int_equal(h.stored, 0);
    free(report);
    h_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_252_is_time_limit),
        cmocka_unit_test(agent_not_running),
        cmocka_unit_test(expired_sas_gets_one_fresh_extract),
        cmocka_unit_test(expired_twice_fails),
        cmocka_unit_test(unreadable_report),
        cmocka_unit_test(bad_name_dead_letters),
        cmocka_unit_test(download_errors_name_the_failure),
        cmocka_unit_test(result_ref_is_used),
        cmocka_unit_test(state_follows_acknowledged_results),
        cmocka_unit_test(lost_result_writes_no_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
