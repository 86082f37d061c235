/* The planner role against the recording port and the scripted Azure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"
#include "records.h"
#include "role_harness.h"

#define SUB "00000000-0000-0000-0000-000000000000"
#define JOB "6f1c0c1e-8d1c-4b5e-9f3a-0c1d2e3f4a5b"

static json_object *scan_job(const char *job_id, const char *const *nodes, size_t n)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "job_id", json_object_new_string(job_id));
    json_object_object_add(j, "requested_at", json_object_new_int64(1700000000000));
    json_object_object_add(j, "subscription_id", json_object_new_string(SUB));
    json_object_object_add(j, "resource_group", json_object_new_string("rg1"));
    json_object_object_add(j, "cluster", json_object_new_string("cluster1"));
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(nodes[i]));
    json_object_object_add(j, "nodes", a);
    return j;
}

/* A cluster whose runtime protection is Disabled refuses a scan: one
 * terminal Failed status that says what to do, no scanRuntime, no tasks. */
static void disabled_is_refused(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    json_object *j = scan_job(JOB, NULL, 0);
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 0, 7, MDF_REC_SCAN_JOB, j);
    h_call *c = h_expect(&h, AZ_GET_CLUSTER);
    assert_string_equal(c->sub, SUB);
    assert_string_equal(c->rg, "rg1");
    assert_string_equal(c->name, "cluster1");
    h_answer_cluster(&h, c, "Disabled", "rg1-managed");

    assert_null(h_next_call(&h));
    assert_int_equal(h_calls_of(&h, AZ_SCAN_RUNTIME), 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 0);
    assert_int_equal(h_status_count(&h, "Accepted"), 1);
    json_object *t = h_last_status(&h, "Terminal");
    assert_non_null(t);
    assert_string_equal(mdf_jstr(t, "status"), "Failed");
    assert_non_null(strstr(mdf_jstr(t, "reason"), "Disabled: set an enforcement level first"));
    assert_string_equal(mdf_jstr(t, "job_id"), JOB);
    assert_true(h_metric(&h, "mdefleet_jobs_finished_total{kind=\"Scan\",status=\"Failed\"}") == 1);
    /* every status is keyed and correlated by the job */
    const h_record *r = h_nth(&h, MDF_TOPIC_JOB_STATUS, 0);
    assert_string_equal(r->key, JOB);
    assert_string_equal(r->correlation, JOB);
    assert_int_equal(h.completed, 1);
    assert_int_equal(h.stored, 1);
    json_object_put(t);
    json_object_put(j);
    h_fini(&h);
}

/* Delivers scan job j (not consumed) and answers its Azure calls up to the
 * listing of the machines: the cluster (RealTime), the scan, and the read
 * again after the scan, for its action state (none here). */
static void scan_until_listing(harness *h, json_object *j)
{
    h_deliver(h, MDF_TOPIC_SCAN_JOBS, 0, 1, MDF_REC_SCAN_JOB, j);
    h_answer_cluster(h, h_expect(h, AZ_GET_CLUSTER), "RealTime", "rg1-managed");
    mdf_arm_error ok = {0};
    mdf_opstatus st = {.status = "Succeeded"};
    h_answer_op(h, h_expect(h, AZ_SCAN_RUNTIME), &ok, &st);
    h_answer_cluster(h, h_expect(h, AZ_GET_CLUSTER), "RealTime", "rg1-managed");
}

/* Only the nodes asked for get a task (a node named twice once); a node
 * the cluster does not have fails at once with a reason. */
static void node_filter(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    const char *nodes[] = {"rack1compute02", "rack9compute99", "rack1compute02"};
    json_object *j = scan_job(JOB, nodes, 3);
    json_object_object_add(j, "limit_time_seconds", json_object_new_int(900));
    scan_until_listing(&h, j);
    h_call *list = h_expect(&h, AZ_LIST_BMMS);
    assert_string_equal(list->rg, "rg1-managed");
    const char *have[] = {"rack1compute01", "rack1compute02", "rack1compute03"};
    h_answer_bmms(&h, list, have, 3);

    json_object *p = h_last_status(&h, "Planned");
    assert_non_null(p);
    assert_int_equal(json_object_get_int(json_object_object_get(p, "node_count")), 2);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 1);
    const h_record *tr = h_nth(&h, MDF_TOPIC_NODE_TASKS, 0);
    assert_non_null(strstr(tr->key, "/bareMetalMachines/rack1compute02"));
    json_object *task = h_decode(&h, tr, MDF_REC_NODE_TASK);
    assert_string_equal(mdf_jstr(task, "node"), "rack1compute02");
    assert_string_equal(mdf_jstr(task, "managed_resource_group"), "rg1-managed");
    assert_int_equal(json_object_get_int(json_object_object_get(task, "limit_time_seconds")), 900);
    json_object *o = h_last_status(&h, "NodeOutcome");
    assert_non_null(o);
    json_object *no = json_object_object_get(o, "node_outcome");
    assert_string_equal(mdf_jstr(no, "node"), "rack9compute99");
    assert_string_equal(mdf_jstr(no, "result"), "Failed");
    assert_non_null(strstr(mdf_jstr(no, "reason"), "no bare-metal machine named rack9compute99"));
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 0);
    assert_int_equal(h.stored, 1);
    json_object_put(o);
    json_object_put(task);
    json_object_put(p);
    json_object_put(j);
    h_fini(&h);
}

/* The same job published twice is taken once; another request under a
 * job id already taken is a dead letter. */
static void duplicate_job_ids(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    json_object *j = scan_job(JOB, NULL, 0);
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 0, 1, MDF_REC_SCAN_JOB, j);
    h_call *c = h_expect(&h, AZ_GET_CLUSTER);
    /* the copy arrives while the first one waits on Azure */
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 0, 2, MDF_REC_SCAN_JOB, j);
    assert_int_equal(h_calls_of(&h, AZ_GET_CLUSTER), 1);
    assert_int_equal(h.completed, 1); /* the copy, at once */
    assert_int_equal(h.stored, 1);
    assert_int_equal(h_status_count(&h, "Accepted"), 1);
    h_answer_cluster(&h, c, "Disabled", "rg1-managed");
    assert_int_equal(h.completed, 2);

    const char *nodes[] = {"rack1compute01"};
    json_object *other = scan_job(JOB, nodes, 1);
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 3, 9, MDF_REC_SCAN_JOB, other);
    assert_int_equal(h_calls_of(&h, AZ_GET_CLUSTER), 1);
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 1);
    json_object *d = h_decode(&h, h_nth(&h, MDF_TOPIC_DLQ, 0), MDF_REC_DEAD_LETTER);
    assert_non_null(strstr(mdf_jstr(d, "reason"), "already names another request"));
    assert_int_equal(json_object_get_int(json_object_object_get(d, "source_partition")), 3);
    assert_int_equal(json_object_get_int64(json_object_object_get(d, "source_offset")), 9);
    assert_int_equal(h.completed, 3);
    json_object_put(d);
    json_object_put(other);
    json_object_put(j);
    h_fini(&h);
}

/* What can never succeed goes to the DLQ: bytes that are not a ScanJob,
 * and a job whose names do not match the API's patterns (with its one
 * terminal status). */
static void bad_input_dead_letters(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    h_deliver_raw(&h, MDF_TOPIC_SCAN_JOBS, 1, 4, "\xc3\x01garbage", 9);
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 1);
    assert_int_equal(h.n_calls, 0);

    json_object *j = scan_job(JOB, NULL, 0);
    json_object_object_add(j, "cluster", json_object_new_string("-bad"));
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 1, 5, MDF_REC_SCAN_JOB, j);
    assert_int_equal(h.n_calls, 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 2);
    json_object *t = h_last_status(&h, "Terminal");
    assert_non_null(t);
    assert_string_equal(mdf_jstr(t, "status"), "Failed");
    assert_non_null(strstr(mdf_jstr(t, "reason"), "invalid cluster"));
    assert_int_equal(h.completed, 2);
    assert_int_equal(h.stored, 2);
    json_object_put(t);
    json_object_put(j);
    h_fini(&h);
}

/* An enforcement change is read back after the PATCH: the result says the
 * level before and after. */
static void enforcement_confirmed(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "request_id", json_object_new_string(JOB));
    json_object_object_add(e, "requested_at", json_object_new_int64(1700000000000));
    json_object_object_add(e, "subscription_id", json_object_new_string(SUB));
    json_object_object_add(e, "resource_group", json_object_new_string("rg1"));
    json_object_object_add(e, "cluster", json_object_new_string("cluster1"));
    json_object_object_add(e, "level", json_object_new_string("RealTime"));
    h_deliver(&h, MDF_TOPIC_ENFORCE, 0, 1, MDF_REC_ENFORCEMENT_CHANGE, e);
    h_answer_cluster(&h, h_expect(&h, AZ_GET_CLUSTER), "Audit", "rg1-managed");
    h_call *set = h_expect(&h, AZ_SET_ENFORCEMENT);
    assert_string_equal(set->arg, "RealTime");
    h_answer_cluster(&h, set, "RealTime", "rg1-managed");
    json_object *r = h_last_status(&h, "EnforcementResult");
    assert_non_null(r);
    assert_string_equal(mdf_jstr(r, "status"), "Succeeded");
    json_object *en = json_object_object_get(r, "enforcement");
    assert_string_equal(mdf_jstr(en, "previous_level"), "Audit");
    assert_string_equal(mdf_jstr(en, "confirmed_level"), "RealTime");
    assert_int_equal(h.stored, 1);
    json_object_put(r);
    json_object_put(e);
    h_fini(&h);
}

/* The offset waits for the broker: nothing is stored before every record
 * the job caused is acknowledged. */
static void stored_only_after_acks(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    h.auto_ack = false;
    json_object *j = scan_job(JOB, NULL, 0);
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 0, 1, MDF_REC_SCAN_JOB, j);
    h_answer_cluster(&h, h_expect(&h, AZ_GET_CLUSTER), "Disabled", "rg1-managed");
    assert_int_equal(h_count(&h, MDF_TOPIC_JOB_STATUS), 2);
    assert_int_equal(h.completed, 0);
    h_ack_all(&h);
    assert_int_equal(h.completed, 1);
    assert_int_equal(h.stored, 1);
    json_object_put(j);
    h_fini(&h);
}

/* Issue 12, case 1: the node tasks (and the outcomes of nodes the cluster
 * does not have) go only once Planned is in the topic, so that no outcome
 * of a job comes before its Planned (the tracker counts on it). */
static void tasks_after_planned_is_delivered(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    h.auto_ack = false;
    const char *nodes[] = {"rack1compute01", "rack9compute99"};
    json_object *j = scan_job(JOB, nodes, 2);
    scan_until_listing(&h, j);
    const char *have[] = {"rack1compute01"};
    h_answer_bmms(&h, h_expect(&h, AZ_LIST_BMMS), have, 1);
    assert_int_equal(h_status_count(&h, "Planned"), 1);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 0);
    assert_int_equal(h_status_count(&h, "NodeOutcome"), 0);
    h_ack_all(&h); /* Accepted and Planned */
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 1);
    assert_int_equal(h_status_count(&h, "NodeOutcome"), 1);
    assert_int_equal(h.completed, 0);
    h_ack_all(&h);
    assert_int_equal(h.stored, 1);
    json_object_put(j);
    h_fini(&h);
}

/* Issue 12, case 1: the tasks go once the scan request's offset is
 * committed, so that a planner that crashes after sending them does not
 * plan the job again (its second Accepted could reopen an ended job). */
static void tasks_after_commit(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    h.auto_commit = false;
    const char *nodes[] = {"rack1compute01", "rack1compute02"};
    json_object *j = scan_job(JOB, nodes, 2);
    scan_until_listing(&h, j);
    h_answer_bmms(&h, h_expect(&h, AZ_LIST_BMMS), nodes, 2);
    assert_int_equal(h_status_count(&h, "Planned"), 1);
    assert_int_equal(h.commits, 1);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 0);
    h_commit_all(&h, true);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 2);
    assert_int_equal(h.stored, 1);
    json_object_put(j);
    h_fini(&h);
}

/* A commit that cannot be made (the partition went to another worker,
 * which plans the job again): no task from here, and no offset. */
static void no_tasks_without_commit(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    h.auto_commit = false;
    const char *nodes[] = {"rack1compute01"};
    json_object *j = scan_job(JOB, nodes, 1);
    scan_until_listing(&h, j);
    h_answer_bmms(&h, h_expect(&h, AZ_LIST_BMMS), nodes, 1);
    h_commit_all(&h, false);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 0);
    assert_int_equal(h.completed, 1);
    assert_int_equal(h.stored, 0);
    json_object_put(j);
    h_fini(&h);
}

/* Issue 12, case 5: a job naming more nodes than a job may have is a dead
 * letter and a Failed terminal that says why, before any Azure call. */
static void node_cap(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    static char names[MDF_MAX_NODES_PER_JOB + 1][16];
    const char *nodes[MDF_MAX_NODES_PER_JOB + 1];
    for (int i = 0; i <= MDF_MAX_NODES_PER_JOB; i++) {
        snprintf(names[i], sizeof names[i], "node%05d", i);
        nodes[i] = names[i];
    }
    json_object *j = scan_job(JOB, nodes, MDF_MAX_NODES_PER_JOB + 1);
    h_deliver(&h, MDF_TOPIC_SCAN_JOBS, 0, 1, MDF_REC_SCAN_JOB, j);
    assert_int_equal(h.n_calls, 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_DLQ), 1);
    json_object *t = h_last_status(&h, "Terminal");
    assert_non_null(t);
    assert_string_equal(mdf_jstr(t, "status"), "Failed");
    assert_non_null(strstr(mdf_jstr(t, "reason"), "the job names 1025 nodes, more than 1024"));
    json_object_put(t);
    json_object_put(j);
    h_fini(&h);
}

/* Runs a scan job up to the read after the scan, answering the first read
 * with `first` and the second with `after` (the planner reads the cluster
 * before the scan and again after it, for the scan's action state). */
static void scan_until_after_read(harness *h, const mdf_cluster *first, const mdf_cluster *after)
{
    json_object *j = scan_job(JOB, NULL, 0);
    h_deliver(h, MDF_TOPIC_SCAN_JOBS, 0, 1, MDF_REC_SCAN_JOB, j);
    json_object_put(j);
    h_answer_cluster_with(h, h_expect(h, AZ_GET_CLUSTER), first);
    mdf_arm_error ok = {0};
    mdf_opstatus st = {.status = "Succeeded"};
    h_answer_op(h, h_expect(h, AZ_SCAN_RUNTIME), &ok, &st);
    h_answer_cluster_with(h, h_expect(h, AZ_GET_CLUSTER), after);
}

static void cluster_init(mdf_cluster *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "cluster1");
    snprintf(c->enforcement_level, sizeof c->enforcement_level, "RealTime");
    snprintf(c->managed_resource_group, sizeof c->managed_resource_group, "rg1-managed");
}

static void add_action(mdf_cluster *c, const char *type, const char *status, const char *start,
                       const char *msg)
{
    mdf_action_state *a = &c->actions[c->n_actions++];
    snprintf(a->action_type, sizeof a->action_type, "%s", type);
    snprintf(a->status, sizeof a->status, "%s", status);
    snprintf(a->start_time, sizeof a->start_time, "%s", start);
    snprintf(a->end_time, sizeof a->end_time, "2026-01-01T10:05:00Z");
    snprintf(a->message, sizeof a->message, "%s", msg);
    snprintf(a->correlation_id, sizeof a->correlation_id, "corr-%s", start);
}

/* The Planned status says where the results are (the data extracts'
 * container, never the URL's query) and what the cluster says of the
 * scan (its latest scanRuntime action, case-insensitive). */
static void planned_says_output_and_scan(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    mdf_cluster c, after;
    cluster_init(&c);
    c.output.set = c.output.overridden = true;
    snprintf(c.output.container_url, sizeof c.output.container_url,
             "https://contosoout.blob.core.windows.net/bmm-output?restype=container");
    snprintf(c.output.identity_type, sizeof c.output.identity_type, "SystemAssignedIdentity");
    after = c;
    add_action(&after, "microsoft.networkcloud/clusters/scanruntime/action", "Completed",
               "2026-01-01T10:00:00Z", "old scan");
    add_action(&after, "Microsoft.NetworkCloud/clusters/scanRuntime/action", "Completed",
               "2026-01-01T10:01:00Z", "Action completed successfully");
    add_action(&after, "Microsoft.NetworkCloud/clusters/other/action", "Failed",
               "2026-01-01T10:02:00Z", "not the scan");
    scan_until_after_read(&h, &c, &after);
    const char *have[] = {"rack1compute01"};
    h_answer_bmms(&h, h_expect(&h, AZ_LIST_BMMS), have, 1);

    json_object *p = h_last_status(&h, "Planned");
    assert_non_null(p);
    json_object *o = json_object_object_get(p, "output");
    assert_string_equal(mdf_jstr(o, "mode"), "CustomerStorage");
    assert_string_equal(mdf_jstr(o, "account"), "contosoout");
    assert_string_equal(mdf_jstr(o, "container"), "bmm-output");
    assert_string_equal(mdf_jstr(o, "identity"), "SystemAssignedIdentity");
    json_object *a = json_object_object_get(p, "scan_action");
    assert_string_equal(mdf_jstr(a, "status"), "Completed");
    assert_string_equal(mdf_jstr(a, "message"), "Action completed successfully");
    assert_string_equal(mdf_jstr(a, "correlation_id"), "corr-2026-01-01T10:01:00Z");
    assert_int_equal(json_object_get_int64(json_object_object_get(a, "start_time")),
                     1767261660000LL);
    for (size_t i = 0; i < h.n_records; i++)
        assert_null(strstr(h.records[i].value, "restype"));
    json_object_put(p);
    h_fini(&h);
}

/* A cluster without commandOutputSettings: the deprecated Cluster Manager
 * storage, said so in the Planned status. */
static void planned_says_cluster_manager(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    mdf_cluster c;
    cluster_init(&c);
    scan_until_after_read(&h, &c, &c);
    const char *have[] = {"rack1compute01"};
    h_answer_bmms(&h, h_expect(&h, AZ_LIST_BMMS), have, 1);
    json_object *p = h_last_status(&h, "Planned");
    json_object *o = json_object_object_get(p, "output");
    assert_string_equal(mdf_jstr(o, "mode"), "ClusterManager");
    assert_null(json_object_object_get(o, "account"));
    assert_null(json_object_object_get(p, "scan_action"));
    json_object_put(p);
    h_fini(&h);
}

/* The cluster says its scan failed: the job fails with the cluster's
 * message, and no node is planned. */
static void failed_scan_action_fails_job(void **state)
{
    (void)state;
    harness h;
    h_init(&h, &mdf_role_planner, NULL);
    mdf_cluster c, after;
    cluster_init(&c);
    after = c;
    add_action(&after, "Microsoft.NetworkCloud/clusters/scanRuntime/action", "Failed",
               "2026-01-01T10:01:00Z", "MDE is not installed on 2 of 12 machines");
    scan_until_after_read(&h, &c, &after);
    assert_int_equal(h_calls_of(&h, AZ_LIST_BMMS), 0);
    assert_int_equal(h_count(&h, MDF_TOPIC_NODE_TASKS), 0);
    json_object *t = h_last_status(&h, "Terminal");
    assert_non_null(t);
    assert_string_equal(mdf_jstr(t, "status"), "Failed");
    assert_non_null(strstr(mdf_jstr(t, "reason"), "MDE is not installed on 2 of 12 machines"));
    assert_int_equal(h.stored, 1);
    json_object_put(t);
    h_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(disabled_is_refused),
        cmocka_unit_test(node_filter),
        cmocka_unit_test(duplicate_job_ids),
        cmocka_unit_test(bad_input_dead_letters),
        cmocka_unit_test(enforcement_confirmed),
        cmocka_unit_test(stored_only_after_acks),
        cmocka_unit_test(planned_says_output_and_scan),
        cmocka_unit_test(planned_says_cluster_manager),
        cmocka_unit_test(failed_scan_action_fails_job),
        cmocka_unit_test(tasks_after_planned_is_delivered),
        cmocka_unit_test(tasks_after_commit),
        cmocka_unit_test(no_tasks_without_commit),
        cmocka_unit_test(node_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
