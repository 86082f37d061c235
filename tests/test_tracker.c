/* The tracker role: exactly one terminal status per job, whatever order
 * and duplication its statuses arrive in, and the timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "records.h"
#include "resource_id.h"
#include "role_harness.h"

#define SUB "00000000-0000-0000-0000-000000000000"
#define JOB "6f1c0c1e-8d1c-4b5e-9f3a-0c1d2e3f4a5b"
#define N_NODES 3

static char cluster_id[MDF_RID_MAX];

/* The statuses of a scan of N_NODES nodes, in the planner's order:
 * Accepted, Planned, then one outcome per node (node 1 fails). */
typedef struct status_msg {
    json_object *rec;
} status_msg;

static void make_statuses(status_msg *out, size_t *n)
{
    char id[MDF_UUID_STRSZ];
    mdf_rid_cluster(cluster_id, sizeof cluster_id, SUB, "rg1", "cluster1");
    *n = 0;
    out[(*n)++].rec = mdf_rec_job_status(JOB, "Scan", cluster_id, "Accepted", "", id);
    json_object *p = mdf_rec_job_status(JOB, "Scan", cluster_id, "Planned", "", id);
    json_object_object_add(p, "node_count", json_object_new_int(N_NODES));
    out[(*n)++].rec = p;
    for (int i = 0; i < N_NODES; i++) {
        char node[32];
        snprintf(node, sizeof node, "rack1compute%02d", i);
        mdf_node_result res = {.node = node,
                               .succeeded = i != 1,
                               .failure = i == 1 ? "TimeLimit" : NULL,
                               .reason = i == 1 ? "exit code 252" : NULL};
        out[(*n)++].rec = mdf_rec_node_outcome(JOB, cluster_id, &res, id);
    }
}

static void free_statuses(status_msg *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_object_put(s[i].rec);
}

/* Feeds the tracker's own Terminal records back, as the topic would. */
static size_t feed_back_terminals(harness *h, size_t from, int64_t *offset)
{
    size_t fed = 0;
    size_t n = h->n_records;
    for (size_t i = from; i < n; i++) {
        const h_record *r = &h->records[i];
        if (r->topic != MDF_TOPIC_JOB_STATUS)
            continue;
        h_deliver_raw(h, MDF_TOPIC_JOB_STATUS, 0, (*offset)++, r->value, r->value_len);
        fed++;
    }
    return fed;
}

/* The planner's statuses first (it sends the tasks only once they are
 * delivered), then the outcomes in every order, some with copies (a task
 * redone, a planner rerun): one terminal, PartiallySucceeded, all three
 * outcomes; once it comes back every status is finished and stored, and
 * later copies do not open the job again. */
static void one_terminal_whatever_the_order(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    int perm[3] = {2, 3, 4}; /* the outcomes */
    int runs = 0;
    for (;;) {
        for (int dup = 0; dup < 2; dup++) {
            harness h;
            h_init(&h, &mdf_role_tracker, NULL);
            int64_t off = 0;
            for (int k = 0; k < 2 + dup; k++) /* Accepted, Planned (, Planned again) */
                h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[k % 2].rec);
            for (int k = 0; k < 3; k++) {
                json_object *rec = s[perm[k]].rec;
                h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, rec);
                if (dup && k != 1)
                    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, rec);
            }
            size_t sent = (size_t)off;
            assert_int_equal(h_status_count(&h, "Terminal"), 1);
            json_object *t = h_last_status(&h, "Terminal");
            assert_string_equal(mdf_jstr(t, "status"), "PartiallySucceeded");
            assert_int_equal(json_object_get_int(json_object_object_get(t, "node_count")), N_NODES);
            assert_int_equal(json_object_array_length(json_object_object_get(t, "outcomes")),
                             N_NODES);
            json_object_put(t);
            /* nothing is stored until the terminal status came back */
            assert_int_equal(h.completed, 0);
            assert_int_equal(feed_back_terminals(&h, 0, &off), 1);
            assert_int_equal(h.completed, sent + 1);
            assert_int_equal(h.stored, sent + 1);
            /* a late copy of an outcome: finished at once, no new terminal */
            h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[3].rec);
            assert_int_equal(h.completed, sent + 2);
            assert_int_equal(h_status_count(&h, "Terminal"), 1);
            assert_true(h_metric(&h, "mdefleet_jobs_finished_total{kind=\"Scan\","
                                     "status=\"PartiallySucceeded\"}") == 1);
            h_fini(&h);
            runs++;
        }
        /* next permutation (lexicographic) */
        int i = 1;
        while (i >= 0 && perm[i] > perm[i + 1])
            i--;
        if (i < 0)
            break;
        int j = 2;
        while (perm[j] < perm[i])
            j--;
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        for (int a = i + 1, b = 2; a < b; a++, b--) {
            tmp = perm[a];
            perm[a] = perm[b];
            perm[b] = tmp;
        }
    }
    assert_int_equal(runs, 12);
    free_statuses(s, n);
}

/* Issue 12, case 1: a job ends; the worker restarts (a new tracker, whose
 * partition starts past the job's statuses); a late copy of an outcome
 * arrives. It is finished and stored at once, and no second terminal
 * (TimedOut, "1 of -1 nodes") follows, however long the wait. The same
 * for every status of a job never opened here. */
static void late_outcome_after_restart(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    harness h;
    h_init(&h, &mdf_role_tracker, (const char *const[]){"job.timeout_seconds=60", NULL});
    int64_t off = 0;
    for (size_t k = 0; k < n; k++)
        h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[k].rec);
    assert_int_equal(feed_back_terminals(&h, 0, &off), 1);
    h_fini(&h);

    h_init(&h, &mdf_role_tracker, (const char *const[]){"job.timeout_seconds=60", NULL});
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[3].rec);
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[4].rec);
    assert_int_equal(h.completed, 2);
    assert_int_equal(h.stored, 2);
    for (int i = 0; i < 10; i++) {
        h.now += 61 * 1000;
        mdf_role_tracker.on_tick(h.self);
    }
    assert_int_equal(h_status_count(&h, "Terminal"), 0);
    /* no series (-1) or 0 */
    assert_true(h_metric(&h, "mdefleet_jobs_finished_total{kind=\"Scan\",status=\"TimedOut\"}") <
                1);
    h_fini(&h);
    free_statuses(s, n);
}

/* Issue 12, case 8: the timeout counts from the job's acceptance (the time
 * of its Accepted status), not from when this tracker first saw it: a
 * tracker that takes the partition over 59 s into a 60 s job times it out
 * 1 s later, not 60 s later. A job never planned says so. */
static void timeout_counts_from_accepted(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    json_object_object_add(s[0].rec, "time", json_object_new_int64(mdf_time_now_ms() - 59 * 1000));
    harness h;
    h_init(&h, &mdf_role_tracker, (const char *const[]){"job.timeout_seconds=60", NULL});
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, 0, MDF_REC_JOB_STATUS, s[0].rec);
    mdf_role_tracker.on_tick(h.self);
    assert_int_equal(h_status_count(&h, "Terminal"), 0);
    h.now += 2 * 1000;
    mdf_role_tracker.on_tick(h.self);
    assert_int_equal(h_status_count(&h, "Terminal"), 1);
    json_object *t = h_last_status(&h, "Terminal");
    assert_string_equal(mdf_jstr(t, "status"), "TimedOut");
    assert_string_equal(mdf_jstr(t, "reason"), "not planned within job.timeout_seconds");
    json_object_put(t);
    int64_t off = 1;
    assert_int_equal(feed_back_terminals(&h, 0, &off), 1); /* the job ends: nothing left open */
    assert_int_equal(h.completed, 2);
    h_fini(&h);
    free_statuses(s, n);
}

/* A job whose nodes do not all report within job.timeout_seconds ends
 * TimedOut, once, saying how many did. */
static void timeout(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    harness h;
    h_init(&h, &mdf_role_tracker, (const char *const[]){"job.timeout_seconds=60", NULL});
    int64_t off = 0;
    for (size_t k = 0; k < 3; k++) /* Accepted, Planned, one outcome */
        h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[k].rec);
    h.now += 59 * 1000;
    mdf_role_tracker.on_tick(h.self);
    assert_int_equal(h_status_count(&h, "Terminal"), 0);
    h.now += 2 * 1000;
    mdf_role_tracker.on_tick(h.self);
    mdf_role_tracker.on_tick(h.self);
    assert_int_equal(h_status_count(&h, "Terminal"), 1);
    json_object *t = h_last_status(&h, "Terminal");
    assert_string_equal(mdf_jstr(t, "status"), "TimedOut");
    assert_non_null(strstr(mdf_jstr(t, "reason"), "1 of 3 nodes reported"));
    json_object_put(t);
    assert_true(h_metric(&h, "mdefleet_jobs_finished_total{kind=\"Scan\",status=\"TimedOut\"}") ==
                1);
    /* an outcome after the timeout does not make a second terminal */
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[3].rec);
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, s[4].rec);
    assert_int_equal(h_status_count(&h, "Terminal"), 1);
    assert_int_equal(feed_back_terminals(&h, 0, &off), 1);
    assert_int_equal(h.stored, (size_t)off);
    h_fini(&h);
    free_statuses(s, n);
}

/* Issue 12, case 5: the terminal status of a job whose outcomes are over
 * the record cap (1024 nodes, each a 1,200-byte reason) is not dropped:
 * it goes with the reasons cut short, and says so. */
static void terminal_size_plan(void **state)
{
    (void)state;
    enum { NODES = 1024 };
    char id[MDF_UUID_STRSZ], reason[1201];
    mdf_rid_cluster(cluster_id, sizeof cluster_id, SUB, "rg1", "cluster1");
    memset(reason, 'x', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    harness h;
    h_init(&h, &mdf_role_tracker, NULL);
    int64_t off = 0;
    json_object *a = mdf_rec_job_status(JOB, "Scan", cluster_id, "Accepted", "", id);
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, a);
    json_object *p = mdf_rec_job_status(JOB, "Scan", cluster_id, "Planned", "", id);
    json_object_object_add(p, "node_count", json_object_new_int(NODES));
    h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, p);
    for (int i = 0; i < NODES; i++) {
        char node[32];
        snprintf(node, sizeof node, "rack%02dcompute%02d", i / 16, i % 16);
        mdf_node_result res = {.node = node, .failure = "Other", .reason = reason};
        json_object *o = mdf_rec_node_outcome(JOB, cluster_id, &res, id);
        h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, o);
        json_object_put(o);
    }
    assert_int_equal(h.stops, 0);
    assert_int_equal(h_status_count(&h, "Terminal"), 1);
    json_object *t = h_last_status(&h, "Terminal");
    assert_string_equal(mdf_jstr(t, "status"), "Failed");
    assert_non_null(strstr(mdf_jstr(t, "reason"), "node reasons cut to 256 bytes"));
    json_object *outs = json_object_object_get(t, "outcomes");
    assert_int_equal(json_object_array_length(outs), NODES);
    assert_int_equal(strlen(mdf_jstr(json_object_array_get_idx(outs, 7), "reason")), 256);
    json_object_put(t);
    assert_int_equal(feed_back_terminals(&h, 0, &off), 1); /* the job ends: nothing left open */
    assert_int_equal(h.completed, (size_t)off);
    json_object_put(a);
    json_object_put(p);
    h_fini(&h);
}

/* A job.status partition that went to another worker: its open jobs are
 * that tracker's now; their messages are dropped unstored, no terminal. */
static void revoke_drops_open_jobs(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    harness h;
    h_init(&h, &mdf_role_tracker, NULL);
    for (size_t k = 0; k < 3; k++)
        h_deliver(&h, MDF_TOPIC_JOB_STATUS, 4, (int64_t)k, MDF_REC_JOB_STATUS, s[k].rec);
    mdf_role_tracker.on_revoke(h.self, MDF_TOPIC_JOB_STATUS, 5); /* not its partition */
    assert_int_equal(h.completed, 0);
    mdf_role_tracker.on_revoke(h.self, MDF_TOPIC_JOB_STATUS, 4);
    assert_int_equal(h.completed, 3);
    assert_int_equal(h.stored, 0);
    h.now += 10 * 24 * 3600 * 1000LL;
    mdf_role_tracker.on_tick(h.self);
    assert_int_equal(h_status_count(&h, "Terminal"), 0);
    h_fini(&h);
    free_statuses(s, n);
}

/* A job whose partition is revoked and assigned back (a worker joined):
 * its statuses are read again and the job ends once. Its first record was
 * freed at the revoke: the job index must not keep its key (a stale key
 * opened the job twice, and the copy that saw only Accepted ended
 * TimedOut, "0 of -1 nodes", after the real terminal). */
static void revoked_and_read_again(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    harness h;
    h_init(&h, &mdf_role_tracker, (const char *const[]){"job.timeout_seconds=60", NULL});
    int64_t off = 0;
    for (size_t k = 0; k < 3; k++)
        h_deliver(&h, MDF_TOPIC_JOB_STATUS, 4, off++, MDF_REC_JOB_STATUS, s[k].rec);
    mdf_role_tracker.on_revoke(h.self, MDF_TOPIC_JOB_STATUS, 4);
    off = 0; /* from the committed offset again */
    for (size_t k = 0; k < n; k++)
        h_deliver(&h, MDF_TOPIC_JOB_STATUS, 4, off++, MDF_REC_JOB_STATUS, s[k].rec);
    assert_int_equal(h_status_count(&h, "Terminal"), 1);
    assert_int_equal(feed_back_terminals(&h, 0, &off), 1);
    h.now += 120 * 1000;
    mdf_role_tracker.on_tick(h.self);
    assert_int_equal(h_status_count(&h, "Terminal"), 1);
    h_fini(&h);
    free_statuses(s, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_terminal_whatever_the_order),
        cmocka_unit_test(timeout),
        cmocka_unit_test(late_outcome_after_restart),
        cmocka_unit_test(timeout_counts_from_accepted),
        cmocka_unit_test(terminal_size_plan),
        cmocka_unit_test(revoke_drops_open_jobs),
        cmocka_unit_test(revoked_and_read_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
