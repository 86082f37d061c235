/* The findings lifecycle (lifecycle.h) and the state it keeps
 * (finding_state.h): what a SOC sees over successive jobs on one node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "err.h"
#include "finding_state.h"
#include "json_reader.h"
#include "lifecycle.h"
#include "siem_common.h"
#include "ticket.h"

#define NODE_ID                                                                                    \
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/contoso-managed-rg/"       \
    "providers/Microsoft.NetworkCloud/bareMetalMachines/rack1compute02"
#define CLUSTER_ID                                                                                 \
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/contoso-cluster-rg/"       \
    "providers/Microsoft.NetworkCloud/clusters/contoso-cluster"
#define T0 1727175803457 /* the first scan */

/* ---- a recording sink ------------------------------------------------------------ */

#define MAX_OUT 64

typedef struct out_rec {
    mdf_result_kind kind;
    char key[600];
    char id[MDF_UUID_STRSZ];
    mdf_jdoc *doc;
} out_rec;

typedef struct outs {
    out_rec r[MAX_OUT];
    size_t n;
} outs;

static void record(void *arg, mdf_result_kind kind, const char *key, const mdf_buf *rec,
                   const char *event_id)
{
    outs *o = arg;
    char err[MDF_ERRSZ];
    assert_true(o->n < MAX_OUT);
    out_rec *r = &o->r[o->n++];
    r->kind = kind;
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->id, sizeof r->id, "%s", event_id);
    char *copy = malloc(rec->len + 1);
    assert_non_null(copy);
    memcpy(copy, rec->data, rec->len + 1);
    if (mdf_jdoc_parse(&copy, rec->len, 64, &r->doc, err, sizeof err) != MDF_OK)
        fail_msg("record is not JSON: %s", err);
}

static void outs_free(outs *o)
{
    for (size_t i = 0; i < o->n; i++)
        mdf_jdoc_free(o->r[i].doc);
    o->n = 0;
}

static const char *str_at(const out_rec *r, const char *a, const char *b)
{
    static char buf[4][512];
    static int next;
    const mdf_jval *v = mdf_jget(&r->doc->root, a);
    if (b)
        v = mdf_jget(v, b);
    if (!v || v->type != MDF_J_STRING)
        return NULL;
    char *s = buf[next++ % 4];
    snprintf(s, sizeof buf[0], "%.*s", (int)v->len, v->s);
    return s;
}

static int64_t int_at(const out_rec *r, const char *a, const char *b)
{
    const mdf_jval *v = mdf_jget(&r->doc->root, a);
    if (b)
        v = mdf_jget(v, b);
    if (!v || v->type != MDF_J_INT)
        fail_msg("%s%s%s is not an integer", a, b ? "." : "", b ? b : "");
    return v->u.i;
}

/* ---- one node over time -------------------------------------------------------- */

static mdf_node_ctx ctx(const char *job, int64_t now)
{
    return (mdf_node_ctx){.job_id = job,
                          .cluster_id = CLUSTER_ID,
                          .cluster = "contoso-cluster",
                          .subscription = "00000000-0000-0000-0000-000000000000",
                          .region = "eastus",
                          .node_id = NODE_ID,
                          .node = "rack1compute02",
                          .machine_name = "rack1compute02",
                          .rack_id = "rack1",
                          .time_ms = now};
}

static mdf_scan scan_at(int64_t start)
{
    return (mdf_scan){.type = "quick",
                      .state = "succeeded",
                      .start_ms = start,
                      .end_ms = start + 59000,
                      .files_scanned = 1750,
                      .threat_count = 0};
}

static mdf_threat threat(const char *tracking_id, const char *name, const char *category,
                         const char *status, int64_t status_key, int64_t detection)
{
    return (mdf_threat){.tracking_id = tracking_id,
                        .name = name,
                        .category = category,
                        .status = status,
                        .status_key = status_key,
                        .detection_ms = detection};
}

static mdf_report report(mdf_scan *scans, size_t n_scans, mdf_threat *threats, size_t n_threats)
{
    mdf_report r;
    memset(&r, 0, sizeof r);
    r.scans = scans;
    r.n_scans = n_scans;
    r.threats = threats;
    r.n_threats = n_threats;
    return r;
}

/* Runs one job: prev -> *next (which becomes the caller's), records in o. */
static mdf_results_counts run(const mdf_node_ctx *n, const mdf_report *rep, const mdf_outcome *o,
                              mdf_results_mode mode, const mdf_fstate *prev, mdf_fstate *next,
                              outs *out)
{
    char err[MDF_ERRSZ];
    mdf_results_sink sink = {record, out};
    mdf_results_counts c;
    mdf_fstate_init(next);
    if (mdf_results_apply(n, rep, o, mode, prev, next, &sink, &c, err, sizeof err) != MDF_OK)
        fail_msg("apply: %s", err);
    assert_int_equal(c.unwritten, 0);
    return c;
}

/* The state as the worker carries it: written and read back. */
static void roundtrip(mdf_fstate *s, const char *job, int64_t now)
{
    char err[MDF_ERRSZ];
    mdf_buf b;
    int64_t dropped = -1;
    mdf_buf_init(&b, MDF_FSTATE_MAX_BYTES);
    if (mdf_fstate_write(s, NODE_ID, job, now, &b, &dropped, err, sizeof err) != MDF_OK)
        fail_msg("write: %s", err);
    assert_int_equal(dropped, 0);
    mdf_fstate_free(s);
    mdf_fstate_init(s);
    if (mdf_fstate_parse(b.data, b.len, s, err, sizeof err) != MDF_OK)
        fail_msg("parse: %s: %s", err, b.data);
    mdf_buf_free(&b);
}

static const mdf_outcome ok = {.succeeded = true};

static void expect(const out_rec *r, mdf_result_kind kind, const char *what)
{
    if (r->kind != kind)
        fail_msg("%s: record of kind %d, want %d", what, (int)r->kind, (int)kind);
}

static void expect_finding(const out_rec *r, int activity, int status_id, const char *name)
{
    expect(r, MDF_RESULT_THREAT, name);
    assert_int_equal(int_at(r, "activity_id", NULL), activity);
    assert_int_equal(int_at(r, "status_id", NULL), status_id);
    const char *got = str_at(r, "finding_info", "title");
    assert_non_null(got);
    assert_string_equal(got, name);
    assert_string_equal(r->key, NODE_ID);
}

static void expect_ticket(const out_rec *r, const char *kind, const char *state)
{
    expect(r, MDF_RESULT_TICKET, kind);
    assert_string_equal(str_at(r, "kind", NULL), kind);
    assert_string_equal(str_at(r, "state", NULL), state);
    /* keyed by its dedupe key, so a keyed sink upserts one ticket */
    assert_string_equal(r->key, str_at(r, "dedupe_key", NULL));
}

#define MIRAI "Backdoor:Linux/Mirai.IJ!MTB"
#define EICAR "Virus:DOS/EICAR_Test_File"
#define XOR "Trojan:Linux/Xorddos.A!xp"

static void test_two_jobs_and_a_change(void **state)
{
    (void)state;
    mdf_scan scans1[] = {scan_at(T0), scan_at(T0 + 3600000)};
    mdf_threat threats1[] = {
        threat("t-mirai", MIRAI, "Backdoor", "detected", T0 + 18000, T0 + 18000),
        threat("t-eicar", EICAR, "Virus", "quarantined", T0 + 19000, T0 + 19000)};
    mdf_report rep1 = report(scans1, 2, threats1, 2);
    mdf_fstate empty, s1, s2, s3, s4;
    mdf_fstate_init(&empty);
    outs o = {.n = 0};

    /* job 1: everything is new */
    mdf_node_ctx n1 = ctx("job-1", T0 + 7200000);
    mdf_results_counts c = run(&n1, &rep1, &ok, MDF_RESULTS_DELTA, &empty, &s1, &o);
    assert_int_equal(o.n, 5);
    expect(&o.r[0], MDF_RESULT_SCAN, "scan 1");
    expect(&o.r[1], MDF_RESULT_SCAN, "scan 2");
    expect_finding(&o.r[2], 1, 1, MIRAI); /* Create, New */
    expect_ticket(&o.r[3], "threat", "open");
    assert_string_equal(str_at(&o.r[3], "finding_uid", NULL),
                        str_at(&o.r[2], "finding_info", "uid"));
    assert_int_equal(int_at(&o.r[3], "first_seen", NULL), T0 + 18000);
    assert_int_equal(int_at(&o.r[3], "occurrences", NULL), 1);
    expect_finding(&o.r[4], 1, 4, EICAR); /* Create, already Resolved: no ticket */
    assert_int_equal(int_at(&o.r[2], "finding_info", "first_seen_time"), T0 + 18000);
    assert_int_equal(int_at(&o.r[2], "time", NULL), T0 + 18000);
    assert_int_equal(c.scans, 2);
    assert_int_equal(c.created, 2);
    assert_int_equal(c.tickets_opened, 1);
    char mirai_uid[MDF_UUID_STRSZ], mirai_ticket[600];
    snprintf(mirai_uid, sizeof mirai_uid, "%s", str_at(&o.r[2], "finding_info", "uid"));
    snprintf(mirai_ticket, sizeof mirai_ticket, "%s", o.r[3].key);
    outs_free(&o);
    roundtrip(&s1, "job-1", n1.time_ms);

    /* job 2, same report: nothing changed, nothing published */
    mdf_node_ctx n2 = ctx("job-2", T0 + 9000000);
    c = run(&n2, &rep1, &ok, MDF_RESULTS_DELTA, &s1, &s2, &o);
    assert_int_equal(o.n, 0);
    assert_int_equal(c.scans + c.created + c.updated + c.closed + c.tickets_opened, 0);
    roundtrip(&s2, "job-2", n2.time_ms);

    /* the scenario changes: Mirai quarantined, Xorddos appears, a new scan */
    mdf_scan scans3[] = {scan_at(T0), scan_at(T0 + 3600000), scan_at(T0 + 10000000)};
    mdf_threat threats3[] = {
        threat("t-mirai", MIRAI, "Backdoor", "quarantined", T0 + 10020000, T0 + 18000),
        threat("t-eicar", EICAR, "Virus", "quarantined", T0 + 19000, T0 + 19000),
        threat("t-xor", XOR, "Trojan", "detected", T0 + 10030000, T0 + 10030000)};
    mdf_report rep3 = report(scans3, 3, threats3, 3);
    mdf_node_ctx n3 = ctx("job-3", T0 + 11000000);
    c = run(&n3, &rep3, &ok, MDF_RESULTS_DELTA, &s2, &s3, &o);
    assert_int_equal(o.n, 5);
    expect(&o.r[0], MDF_RESULT_SCAN, "the new scan");
    assert_int_equal(int_at(&o.r[0], "start_time", NULL), T0 + 10000000);
    expect_finding(&o.r[1], 3, 4, MIRAI); /* Close, Resolved */
    assert_string_equal(str_at(&o.r[1], "finding_info", "uid"), mirai_uid);
    assert_int_equal(int_at(&o.r[1], "time", NULL), T0 + 10020000); /* the history key */
    assert_int_equal(int_at(&o.r[1], "finding_info", "first_seen_time"), T0 + 18000);
    expect_ticket(&o.r[2], "threat", "resolved");
    assert_string_equal(o.r[2].key, mirai_ticket);
    assert_int_equal(int_at(&o.r[2], "occurrences", NULL), 2);
    expect_finding(&o.r[3], 1, 1, XOR);
    expect_ticket(&o.r[4], "threat", "open");
    assert_int_equal(c.scans, 1);
    assert_int_equal(c.created, 1);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.tickets_opened, 1);
    assert_int_equal(c.tickets_resolved, 1);
    outs_free(&o);
    roundtrip(&s3, "job-3", n3.time_ms);

    /* Xorddos leaves the report without a word: Close (gone), ticket
     * resolved; Mirai and EICAR were closed already and are forgotten */
    mdf_node_ctx n4 = ctx("job-4", T0 + 12000000);
    mdf_report rep4 = report(scans3, 3, NULL, 0);
    c = run(&n4, &rep4, &ok, MDF_RESULTS_DELTA, &s3, &s4, &o);
    assert_int_equal(o.n, 2);
    expect_finding(&o.r[0], 3, 4, XOR);
    assert_int_equal(int_at(&o.r[0], "finding_info", "last_seen_time"), n3.time_ms);
    expect_ticket(&o.r[1], "threat", "resolved");
    assert_string_equal(str_at(&o.r[1], "resolution", NULL), "gone from the report");
    assert_int_equal(s4.threats.len, 0);
    outs_free(&o);

    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
    mdf_fstate_free(&s2);
    mdf_fstate_free(&s3);
    mdf_fstate_free(&s4);
}

static void test_reopened_and_status_change(void **state)
{
    (void)state;
    mdf_threat a[] = {threat("t-mirai", MIRAI, "Backdoor", "quarantined", T0 + 1, T0)};
    mdf_threat b[] = {threat("t-mirai", MIRAI, "Backdoor", "restored", T0 + 2, T0)};
    mdf_threat c[] = {threat("t-mirai", MIRAI, "Backdoor", "allowed", T0 + 3, T0)};
    mdf_report ra = report(NULL, 0, a, 1), rb = report(NULL, 0, b, 1), rc = report(NULL, 0, c, 1);
    mdf_fstate empty, s1, s2, s3;
    mdf_fstate_init(&empty);
    outs o = {.n = 0};
    mdf_node_ctx n = ctx("job-1", T0 + 100);
    run(&n, &ra, &ok, MDF_RESULTS_DELTA, &empty, &s1, &o);
    assert_int_equal(o.n, 1); /* Create, Resolved, no ticket */
    outs_free(&o);
    /* back from quarantine: Update, open again, and a ticket opens */
    run(&n, &rb, &ok, MDF_RESULTS_DELTA, &s1, &s2, &o);
    assert_int_equal(o.n, 2);
    expect_finding(&o.r[0], 2, 2, MIRAI); /* Update, In Progress */
    expect_ticket(&o.r[1], "threat", "open");
    outs_free(&o);
    /* another status, still not remediated: Update, the ticket updated */
    mdf_results_counts k = run(&n, &rc, &ok, MDF_RESULTS_DELTA, &s2, &s3, &o);
    assert_int_equal(o.n, 2);
    expect_finding(&o.r[0], 2, 2, MIRAI);
    expect_ticket(&o.r[1], "threat", "open");
    assert_int_equal(k.tickets_updated, 1);
    outs_free(&o);
    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
    mdf_fstate_free(&s2);
    mdf_fstate_free(&s3);
}

static void test_node_failure_ticket(void **state)
{
    (void)state;
    mdf_threat t[] = {threat("t-mirai", MIRAI, "Backdoor", "detected", T0, T0)};
    mdf_report rep = report(NULL, 0, t, 1);
    mdf_outcome down = {false, "AgentNotRunning", "MDE agent is not running"};
    mdf_outcome slow = {false, "TimeLimit", "the extract ran out of time"};
    mdf_fstate empty, s1, s2, s3, s4, s5;
    mdf_fstate_init(&empty);
    outs o = {.n = 0};
    mdf_node_ctx n1 = ctx("job-1", T0 + 100), n2 = ctx("job-2", T0 + 200),
                 n3 = ctx("job-3", T0 + 300), n4 = ctx("job-4", T0 + 400),
                 n5 = ctx("job-5", T0 + 500);

    run(&n1, &rep, &ok, MDF_RESULTS_DELTA, &empty, &s1, &o);
    assert_int_equal(o.n, 2);
    outs_free(&o);

    /* the node cannot be scanned: a ticket opens, its findings stay open */
    run(&n2, NULL, &down, MDF_RESULTS_DELTA, &s1, &s2, &o);
    assert_int_equal(o.n, 1);
    expect_ticket(&o.r[0], "node_failure", "open");
    assert_string_equal(str_at(&o.r[0], "failure", NULL), "AgentNotRunning");
    char key[600];
    snprintf(key, sizeof key, "%s", o.r[0].key);
    outs_free(&o);
    assert_int_equal(s2.threats.len, 1);
    roundtrip(&s2, "job-2", n2.time_ms);

    /* failing another way: the same ticket, updated */
    run(&n3, NULL, &slow, MDF_RESULTS_DELTA, &s2, &s3, &o);
    assert_int_equal(o.n, 1);
    expect_ticket(&o.r[0], "node_failure", "open");
    assert_string_equal(o.r[0].key, key);
    assert_string_equal(str_at(&o.r[0], "failure", NULL), "TimeLimit");
    assert_int_equal(int_at(&o.r[0], "occurrences", NULL), 2);
    assert_int_equal(int_at(&o.r[0], "first_seen", NULL), n2.time_ms);
    outs_free(&o);
    roundtrip(&s3, "job-3", n3.time_ms);

    /* the same failure again: nothing new to say */
    run(&n4, NULL, &slow, MDF_RESULTS_DELTA, &s3, &s4, &o);
    assert_int_equal(o.n, 0);
    roundtrip(&s4, "job-4", n4.time_ms);

    /* scanned again: the ticket resolves; Mirai is unchanged, so silent */
    run(&n5, &rep, &ok, MDF_RESULTS_DELTA, &s4, &s5, &o);
    assert_int_equal(o.n, 1);
    expect_ticket(&o.r[0], "node_failure", "resolved");
    assert_string_equal(o.r[0].key, key);
    assert_int_equal(int_at(&o.r[0], "occurrences", NULL), 3);
    assert_false(s5.failure.active);
    outs_free(&o);

    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
    mdf_fstate_free(&s2);
    mdf_fstate_free(&s3);
    mdf_fstate_free(&s4);
    mdf_fstate_free(&s5);
}

/* A task redone from the same state (a crash before the state was
 * written) sends the same records under the same ids, in the same order. */
static void test_redo_same_ids(void **state)
{
    (void)state;
    mdf_scan scans[] = {scan_at(T0)};
    mdf_threat t[] = {threat("t-mirai", MIRAI, "Backdoor", "detected", T0, T0),
                      threat("t-eicar", EICAR, "Virus", "quarantined", T0 + 5, T0 + 5)};
    mdf_report rep = report(scans, 1, t, 2);
    mdf_outcome down = {false, "AgentNotRunning", "x"};
    mdf_fstate empty, a, b, c, d;
    mdf_fstate_init(&empty);
    outs o1 = {.n = 0}, o2 = {.n = 0};
    /* the redo reads the report later, with a later clock */
    mdf_node_ctx n = ctx("job-1", T0 + 100), later = ctx("job-1", T0 + 900);
    run(&n, &rep, &ok, MDF_RESULTS_DELTA, &empty, &a, &o1);
    run(&later, &rep, &ok, MDF_RESULTS_DELTA, &empty, &b, &o2);
    assert_int_equal(o1.n, o2.n);
    for (size_t i = 0; i < o1.n; i++) {
        assert_string_equal(o1.r[i].id, o2.r[i].id);
        assert_string_equal(o1.r[i].key, o2.r[i].key);
    }
    outs_free(&o1);
    outs_free(&o2);
    mdf_node_ctx f = ctx("job-2", T0 + 1000), flater = ctx("job-2", T0 + 5000);
    run(&f, NULL, &down, MDF_RESULTS_DELTA, &a, &c, &o1);
    run(&flater, NULL, &down, MDF_RESULTS_DELTA, &a, &d, &o2);
    assert_int_equal(o1.n, 1);
    assert_string_equal(o1.r[0].id, o2.r[0].id);
    outs_free(&o1);
    outs_free(&o2);
    mdf_fstate_free(&empty);
    mdf_fstate_free(&a);
    mdf_fstate_free(&b);
    mdf_fstate_free(&c);
    mdf_fstate_free(&d);
}

static void test_snapshot_mode(void **state)
{
    (void)state;
    mdf_scan scans[] = {scan_at(T0), scan_at(T0 + 1000000)};
    mdf_threat t[] = {threat("t-mirai", MIRAI, "Backdoor", "detected", T0, T0),
                      threat("t-eicar", EICAR, "Virus", "quarantined", T0 + 5, T0 + 5)};
    mdf_report rep = report(scans, 2, t, 2);
    mdf_fstate empty, s1, s2;
    mdf_fstate_init(&empty);
    outs o = {.n = 0};
    mdf_node_ctx n1 = ctx("job-1", T0 + 2000000), n2 = ctx("job-2", T0 + 3000000);
    run(&n1, &rep, &ok, MDF_RESULTS_SNAPSHOT, &empty, &s1, &o);
    assert_int_equal(o.n, 5); /* as in delta: all of it is new */
    outs_free(&o);
    /* nothing changed, and everything is published again */
    mdf_results_counts c = run(&n2, &rep, &ok, MDF_RESULTS_SNAPSHOT, &s1, &s2, &o);
    assert_int_equal(o.n, 5);
    assert_int_equal(c.scans, 2);
    assert_int_equal(c.updated, 2);
    expect_finding(&o.r[2], 2, 2, MIRAI);
    expect_ticket(&o.r[3], "threat", "open");
    expect_finding(&o.r[4], 2, 4, EICAR);
    outs_free(&o);
    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
    mdf_fstate_free(&s2);
}

/* ---- the state record --------------------------------------------------------- */

static void test_state_roundtrip_and_bad_input(void **state)
{
    (void)state;
    mdf_scan scans[] = {scan_at(T0)};
    mdf_threat t[] = {threat("t-mirai", MIRAI, "Backdoor", "detected", T0, T0)};
    mdf_report rep = report(scans, 1, t, 1);
    mdf_outcome down = {false, "TimeLimit", "slow \"node\""};
    mdf_fstate empty, s1, s2, back;
    mdf_fstate_init(&empty);
    outs o = {.n = 0};
    mdf_node_ctx n = ctx("job-1", T0 + 100);
    run(&n, &rep, &ok, MDF_RESULTS_DELTA, &empty, &s1, &o);
    outs_free(&o);
    run(&n, NULL, &down, MDF_RESULTS_DELTA, &s1, &s2, &o);
    outs_free(&o);

    char err[MDF_ERRSZ];
    mdf_buf b;
    int64_t dropped;
    mdf_buf_init(&b, MDF_FSTATE_MAX_BYTES);
    assert_int_equal(
        mdf_fstate_write(&s2, NODE_ID, "job-1", n.time_ms, &b, &dropped, err, sizeof err), MDF_OK);
    mdf_fstate_init(&back);
    assert_int_equal(mdf_fstate_parse(b.data, b.len, &back, err, sizeof err), MDF_OK);
    assert_int_equal(back.scans.len, 1);
    assert_int_equal(back.threats.len, 1);
    const mdf_fstate_threat *m = &MDF_VEC_AT(&back.threats, mdf_fstate_threat, 0);
    assert_string_equal(m->name, MIRAI);
    assert_string_equal(m->status, "detected");
    assert_true(m->open);
    assert_int_equal(m->first_seen_ms, T0);
    assert_true(back.failure.active);
    assert_string_equal(back.failure.kind, "TimeLimit");
    assert_string_equal(back.failure.reason, "slow \"node\"");
    mdf_fstate_free(&back);
    mdf_buf_free(&b);

    /* what is not a state of this version is refused, and leaves it empty */
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"v\":2,\"scans\":[]}",
        "{\"scans\":[]}",
        "{\"v\":1,\"scans\":[\"short\"]}",
        "{\"v\":1,\"threats\":[{\"name\":\"no uid\"}]}",
        "{\"v\":1,\"threats\":[7]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mdf_fstate_init(&back);
        if (mdf_fstate_parse(bad[i], strlen(bad[i]), &back, err, sizeof err) != MDF_ERR)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(back.threats.len + back.scans.len, 0);
        mdf_fstate_free(&back);
    }
    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
    mdf_fstate_free(&s2);
}

static void count(void *arg, mdf_result_kind kind, const char *key, const mdf_buf *rec,
                  const char *event_id)
{
    (void)key;
    (void)rec;
    (void)event_id;
    ((int64_t *)arg)[kind]++;
}

/* Past the record's cap, closed threats go first, then the oldest open
 * ones; what is left out is reported again later, never lost. */
static void test_state_cap(void **state)
{
    (void)state;
    enum { N = 1500 };
    static mdf_threat t[N];
    static char names[N][260], ids[N][40];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "t-%d", i);
        snprintf(names[i], sizeof names[i], "Trojan:Linux/Long.%d!%0230d", i, i);
        /* every third is remediated; detection times grow with i */
        t[i] = threat(ids[i], names[i], "Trojan", i % 3 == 0 ? "quarantined" : "detected", T0 + i,
                      T0 + i);
    }
    mdf_report rep = report(NULL, 0, t, N);
    mdf_node_ctx n = ctx("job-1", T0 + 100000);
    char err[MDF_ERRSZ];
    int64_t counts[3] = {0};
    mdf_results_sink sink = {count, counts};
    mdf_results_counts c;
    mdf_fstate empty, s1, back, s2;
    mdf_fstate_init(&empty);
    mdf_fstate_init(&s1);
    assert_int_equal(mdf_results_apply(&n, &rep, &ok, MDF_RESULTS_DELTA, &empty, &s1, &sink, &c,
                                       err, sizeof err),
                     MDF_OK);
    assert_int_equal(c.created, N);
    assert_int_equal(s1.threats.len, N);

    mdf_buf b;
    int64_t dropped = 0;
    mdf_buf_init(&b, 1 << 24);
    assert_int_equal(
        mdf_fstate_write(&s1, NODE_ID, "job-1", n.time_ms, &b, &dropped, err, sizeof err), MDF_OK);
    assert_true(b.len <= MDF_FSTATE_MAX_BYTES);
    assert_true(dropped > N / 3); /* more than the closed ones go */
    mdf_fstate_init(&back);
    assert_int_equal(mdf_fstate_parse(b.data, b.len, &back, err, sizeof err), MDF_OK);
    assert_int_equal(back.threats.len + (size_t)dropped, N);
    assert_int_equal(back.dropped, dropped);
    /* only open ones were kept, and the newest of them */
    int64_t oldest_kept = INT64_MAX;
    for (size_t i = 0; i < back.threats.len; i++) {
        const mdf_fstate_threat *e = &MDF_VEC_AT(&back.threats, mdf_fstate_threat, i);
        assert_true(e->open);
        if (e->first_seen_ms < oldest_kept)
            oldest_kept = e->first_seen_ms;
    }
    for (int i = 0; i < N; i++) {
        char uid[MDF_UUID_STRSZ];
        siem_finding_uid(&n, &t[i], uid);
        if (i % 3 != 0 && T0 + i > oldest_kept && !mdf_fstate_find_threat(&back, uid))
            fail_msg("open threat %d, newer than one kept, was left out", i);
    }

    /* the next job publishes what the state left out as new, and only that */
    mdf_node_ctx n2 = ctx("job-2", T0 + 200000);
    mdf_fstate_init(&s2);
    assert_int_equal(mdf_results_apply(&n2, &rep, &ok, MDF_RESULTS_DELTA, &back, &s2, &sink, &c,
                                       err, sizeof err),
                     MDF_OK);
    assert_int_equal(c.created, dropped);
    assert_int_equal(c.updated + c.closed, 0);
    mdf_fstate_free(&s2);
    mdf_fstate_free(&back);
    mdf_buf_free(&b);
    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
}

/* More threats than a state keeps: those over the cap get no record and
 * are counted (issue 12: a report of N threats must not become 2N records),
 * are new again next time, and none is taken for gone. */
static void test_threats_over_the_state_cap(void **state)
{
    (void)state;
    enum { N = MDF_FSTATE_MAX_THREATS + 100 };
    static mdf_threat t[N];
    static char ids[N][24];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "t-%d", i);
        t[i] = threat(ids[i], XOR, "Trojan", "detected", T0 + i, T0 + i);
    }
    mdf_report rep = report(NULL, 0, t, N);
    int64_t counts[3] = {0};
    mdf_results_sink sink = {count, counts};
    mdf_results_counts c;
    char err[MDF_ERRSZ];
    mdf_fstate empty, s1, s2;
    mdf_fstate_init(&empty);
    mdf_fstate_init(&s1);
    mdf_fstate_init(&s2);
    mdf_node_ctx n1 = ctx("job-1", T0 + N), n2 = ctx("job-2", T0 + 2 * N);
    assert_int_equal(mdf_results_apply(&n1, &rep, &ok, MDF_RESULTS_DELTA, &empty, &s1, &sink, &c,
                                       err, sizeof err),
                     MDF_OK);
    assert_int_equal(c.created, MDF_RESULTS_MAX_NEW_THREATS);
    assert_int_equal(c.threats_over_cap, 100);
    assert_int_equal(counts[MDF_RESULT_THREAT] + counts[MDF_RESULT_TICKET],
                     2 * MDF_RESULTS_MAX_NEW_THREATS);
    assert_int_equal(s1.threats.len, MDF_FSTATE_MAX_THREATS);
    assert_int_equal(s1.dropped, 0);
    assert_int_equal(
        mdf_results_apply(&n2, &rep, &ok, MDF_RESULTS_DELTA, &s1, &s2, &sink, &c, err, sizeof err),
        MDF_OK);
    assert_int_equal(c.created, 100);
    assert_int_equal(c.closed + c.updated, 0);
    assert_int_equal(c.tickets_resolved, 0);
    mdf_fstate_free(&empty);
    mdf_fstate_free(&s1);
    mdf_fstate_free(&s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_jobs_and_a_change),
        cmocka_unit_test(test_reopened_and_status_change),
        cmocka_unit_test(test_node_failure_ticket),
        cmocka_unit_test(test_redo_same_ids),
        cmocka_unit_test(test_snapshot_mode),
        cmocka_unit_test(test_state_roundtrip_and_bad_input),
        cmocka_unit_test(test_state_cap),
        cmocka_unit_test(test_threats_over_the_state_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
