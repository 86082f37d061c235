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

/* Every order of the five statuses, some with copies (a task redone, a
 * planner rerun): one terminal, PartiallySucceeded, all three outcomes;
 * once it comes back every status is finished and stored, and later
 * copies do not open the job again. */
static void one_terminal_whatever_the_order(void **state)
{
    (void)state;
    status_msg s[8];
    size_t n;
    make_statuses(s, &n);
    /* all 120 permutations of the 5, each run with the 2nd and 4th sent twice */
    int perm[5] = {0, 1, 2, 3, 4};
    int runs = 0;
    for (;;) {
        for (int dup = 0; dup < 2; dup++) {
            harness h;
            h_init(&h, &mdf_role_tracker, NULL);
            int64_t off = 0;
            for (int k = 0; k < 5; k++) {
                json_object *rec = s[perm[k]].rec;
                h_deliver(&h, MDF_TOPIC_JOB_STATUS, 0, off++, MDF_REC_JOB_STATUS, rec);
                if (dup && (k == 1 || k == 3))
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
        int i = 3;
        while (i >= 0 && perm[i] > perm[i + 1])
            i--;
        if (i < 0)
            break;
        int j = 4;
        while (perm[j] < perm[i])
            j--;
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        for (int a = i + 1, b = 4; a < b; a++, b--) {
            tmp = perm[a];
            perm[a] = perm[b];
            perm[b] = tmp;
        }
    }
    assert_int_equal(runs, 240);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_terminal_whatever_the_order),
        cmocka_unit_test(timeout),
        cmocka_unit_test(revoke_drops_open_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
