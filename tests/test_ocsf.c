/* Unit tests of the event ids (eventid.c) and of the SIEM and ticket
 * records (lib/siem): each record is parsed back with the JSON reader and read field by
 * field, as the SIEM and the ticketing connector would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "eventid.h"
#include "json_reader.h"
#include "json_writer.h"
#include "node_report.h"
#include "ocsf.h"
#include "report.h"
#include "siem_common.h"
#include "ticket.h"

#define SAMPLE MDF_TEST_DATA "/sample-report.json"

#define SUBSCRIPTION "00000000-0000-0000-0000-000000000000"
#define CLUSTER                                                                                    \
    "/subscriptions/" SUBSCRIPTION "/resourceGroups/contoso-cluster-rg/"                           \
    "providers/Microsoft.NetworkCloud/clusters/contoso-cluster"
#define NODE_RG                                                                                    \
    "/subscriptions/" SUBSCRIPTION "/resourceGroups/contoso-managed-rg/"                           \
    "providers/Microsoft.NetworkCloud/bareMetalMachines/"
#define JOB1 "5d3c1a80-6f0e-4a55-9d3b-0c1f2e3d4a5b"
#define JOB2 "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
/* the agent as the sample report states it (what the OCSF records read) */
#define APP_VERSION "101.24082.0004"
#define EDR_MACHINE_ID "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"

static const mdf_health agent = {
    .app_version = APP_VERSION,
    .edr_machine_id = EDR_MACHINE_ID,
    .definitions_updated_ms = MDF_TIME_NONE,
    .product_expiration_ms = MDF_TIME_NONE,
};

static mdf_node_ctx ctx(const char *job, const char *node)
{
    static char ids[16][512]; /* a ring: each test uses a few at once */
    static int next;
    char *id = ids[next++ % 16];
    snprintf(id, sizeof ids[0], "%s%s", NODE_RG, node);
    mdf_node_ctx n = {
        .job_id = job,
        .cluster_id = CLUSTER,
        .cluster = "contoso-cluster",
        .subscription = SUBSCRIPTION,
        .region = "eastus",
        .node_id = id,
        .node = node,
        .machine_name = node,
        .rack_id = "rack1",
        .agent = &agent,
        .time_ms = 1727180000000,
    };
    return n;
}

static mdf_report *sample(void)
{
    char err[MDF_ERRSZ] = "";
    mdf_report *r = NULL;
    if (mdf_report_parse_file(SAMPLE, NULL, &r, err, sizeof err) != MDF_OK)
        fail_msg("%s: %s", SAMPLE, err);
    return r;
}

static const mdf_threat *threat_named(const mdf_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_threats; i++) {
        if (r->threats[i].name && strcmp(r->threats[i].name, name) == 0)
            return &r->threats[i];
    }
    fail_msg("no threat %s in the sample", name);
    return NULL;
}

/* The sample report and its two threats, loaded for each test that reads
 * them (cmocka state). */
typedef struct fixture {
    mdf_report *r;
    const mdf_threat *mirai, *eicar;
} fixture;

static int sample_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->r = sample();
    f->mirai = threat_named(f->r, "Backdoor:Linux/Mirai.IJ!MTB");
    f->eicar = threat_named(f->r, "Virus:DOS/EICAR_Test_File");
    *state = f;
    return 0;
}

static int sample_teardown(void **state)
{
    fixture *f = *state;
    mdf_report_free(f->r);
    free(f);
    return 0;
}

/* ---- reading records back ------------------------------------------------------ */

static mdf_jdoc *parse_rec(const mdf_buf *b)
{
    char err[MDF_ERRSZ] = "";
    char *copy = malloc(b->len + 1);
    assert_non_null(copy);
    memcpy(copy, b->data, b->len + 1);
    mdf_jdoc *doc = NULL;
    if (mdf_jdoc_parse(&copy, b->len, 64, &doc, err, sizeof err) != MDF_OK)
        fail_msg("record is not JSON: %s: %s", err, b->data);
    assert_int_equal(doc->root.type, MDF_J_OBJECT);
    return doc;
}

/* Dotted path; a numeric segment indexes an array ("malware.0.name").
 * NULL when any step is missing. */
static const mdf_jval *jpath(const mdf_jval *v, const char *path)
{
    char seg[64];
    while (v && *path) {
        size_t len = strcspn(path, ".");
        assert_true(len < sizeof seg);
        memcpy(seg, path, len);
        seg[len] = '\0';
        path += len + (path[len] == '.');
        if (v->type == MDF_J_ARRAY) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            v = *end == '\0' && i < v->len ? &v->u.items[i] : NULL;
        } else {
            v = mdf_jget(v, seg);
        }
    }
    return v;
}

static void check_str(const mdf_jval *root, const char *path, const char *want)
{
    const mdf_jval *v = jpath(root, path);
    if (!v || v->type != MDF_J_STRING)
        fail_msg("%s: expected string \"%s\", got %s", path, want, mdf_jtype_name(v));
    if (!mdf_jstr_is(v, want))
        fail_msg("%s: expected \"%s\", got \"%.*s\"", path, want, (int)v->len, v->s);
}

static void check_int(const mdf_jval *root, const char *path, int64_t want)
{
    const mdf_jval *v = jpath(root, path);
    if (!v || v->type != MDF_J_INT)
        fail_msg("%s: expected number %lld, got %s", path, (long long)want, mdf_jtype_name(v));
    if (v->u.i != want)
        fail_msg("%s: expected %lld, got %lld", path, (long long)want, (long long)v->u.i);
}

static void check_bool(const mdf_jval *root, const char *path, bool want)
{
    const mdf_jval *v = jpath(root, path);
    if (!v || v->type != MDF_J_BOOL || v->b != want)
        fail_msg("%s: expected %s", path, want ? "true" : "false");
}

static void check_null(const mdf_jval *root, const char *path)
{
    const mdf_jval *v = jpath(root, path);
    if (!v || v->type != MDF_J_NULL)
        fail_msg("%s: expected null, got %s", path, mdf_jtype_name(v));
}

static void check_absent(const mdf_jval *root, const char *path)
{
    if (jpath(root, path))
        fail_msg("%s: expected no such member", path);
}

/* Copies a string member out (for comparing across records). */
static void get_str(const mdf_jval *root, const char *path, char *out, size_t sz)
{
    const mdf_jval *v = jpath(root, path);
    if (!v || v->type != MDF_J_STRING || v->len >= sz)
        fail_msg("%s: expected a string, got %s", path, mdf_jtype_name(v));
    memcpy(out, v->s, v->len);
    out[v->len] = '\0';
}

/* RFC 4122 text form of a version-5 (or -4) UUID, lower case. */
static void check_uuid(const char *s, int version)
{
    assert_int_equal(strlen(s), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(s[i], '-');
            continue;
        }
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            fail_msg("%s: not lower-case hex at %d", s, i);
    }
    assert_int_equal(s[14], '0' + version);
    assert_non_null(strchr("89ab", s[19])); /* variant bits 10xx */
}

/* Runs one record function into a fresh buffer and parses the result. */
typedef struct rec {
    mdf_buf buf;
    mdf_jdoc *doc;
    const mdf_jval *root;
    char id[MDF_UUID_STRSZ];
} rec;

static void rec_done(rec *r)
{
    mdf_jdoc_free(r->doc);
    mdf_buf_free(&r->buf);
}

static void rec_parse(rec *r, int rc)
{
    assert_int_equal(rc, MDF_OK);
    r->doc = parse_rec(&r->buf);
    r->root = &r->doc->root;
    check_uuid(r->id, 5);
}

/* With MDF_OCSF_DUMP=<path>, every OCSF record the tests make is appended
 * to path, one a line, for the schema check (ocsf_records.sh). */
static void dump_ocsf(const mdf_buf *b)
{
    const char *path = getenv("MDF_OCSF_DUMP");
    if (!path || !*path)
        return;
    FILE *fp = fopen(path, "a");
    if (!fp)
        fail_msg("MDF_OCSF_DUMP %s: cannot open", path);
    bool ok = fwrite(b->data, 1, b->len, fp) == b->len && fputc('\n', fp) != EOF;
    if (fclose(fp) != 0 || !ok)
        fail_msg("MDF_OCSF_DUMP %s: cannot write", path);
}

static void scan_rec(rec *r, const mdf_node_ctx *n, const mdf_scan *s)
{
    mdf_buf_init(&r->buf, 1 << 20);
    rec_parse(r, mdf_ocsf_scan(n, s, &r->buf, r->id));
    dump_ocsf(&r->buf);
}

/* A change as the lifecycle would make it: at the report's time, first
 * and last seen unknown. */
static mdf_finding_change change(mdf_finding_activity a, bool open, const char *key)
{
    mdf_finding_change c = {.activity = a, .open = open, .change_key = key};
    c.time_ms = c.first_seen_ms = c.last_seen_ms = MDF_TIME_NONE;
    return c;
}

/* The first sight of t: Create, open unless remediated. */
static mdf_finding_change created(const mdf_threat *t)
{
    return change(MDF_FINDING_CREATE, !mdf_threat_remediated(t), "create");
}

static void threat_rec(rec *r, const mdf_node_ctx *n, const mdf_threat *t,
                       const mdf_finding_change *c)
{
    mdf_buf_init(&r->buf, 1 << 20);
    rec_parse(r, mdf_ocsf_threat(n, t, c, &r->buf, r->id));
    dump_ocsf(&r->buf);
}

static void node_rec(rec *r, const mdf_node_ctx *n, const mdf_report *rep, const mdf_outcome *o)
{
    mdf_buf_init(&r->buf, 1 << 20);
    rec_parse(r, mdf_node_report(n, rep, o, NULL, &r->buf, r->id));
}

static void ticket_threat_rec(rec *r, const mdf_node_ctx *n, const mdf_threat *t,
                              const mdf_ticket_life *life)
{
    char uid[MDF_UUID_STRSZ];
    siem_finding_uid(n, t, uid);
    mdf_buf_init(&r->buf, 1 << 20);
    rec_parse(r, mdf_ticket_threat(n, t, uid, life, &r->buf, r->id));
}

static void ticket_node_rec(rec *r, const mdf_node_ctx *n, const char *failure, const char *reason,
                            const mdf_ticket_life *life)
{
    mdf_buf_init(&r->buf, 1 << 20);
    rec_parse(r, mdf_ticket_node_failure(n, failure, reason, life, &r->buf, r->id));
}

/* ---- event ids ------------------------------------------------------------------- */

static void test_eventid_known_answers(void **state)
{
    (void)state;
    char id[MDF_UUID_STRSZ];
    /* Expected values from an independent implementation, python3's uuid:
     *   ns = uuid.uuid5(uuid.NAMESPACE_DNS, "mdefleet.events")
     *   uuid.uuid5(ns, "\x1f".join(parts)) */
    mdf_event_id_of(id, "a", "bc", NULL, NULL, NULL, NULL);
    assert_string_equal(id, "66744f2a-278c-564d-86ed-18cb6331d875");
    mdf_event_id_of(id, "ab", "c", NULL, NULL, NULL, NULL);
    assert_string_equal(id, "df98c213-9eb0-5677-9d9a-66590bdbd696");
    mdf_event_id_of(id, "job-1", "/subscriptions/x/node1", "node-report", NULL, NULL, NULL);
    assert_string_equal(id, "fe1e18af-10d1-5b29-aa18-945c944dffde");
    /* uuid.uuid5(ns, ""): the empty key */
    mdf_event_id_of(id, NULL, NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(id, "f40454f9-c32d-557f-83f5-3e19bd5cbd17");

    /* the array form is the same function */
    const char *parts[] = {"a", "bc", NULL};
    mdf_event_id(parts, id);
    assert_string_equal(id, "66744f2a-278c-564d-86ed-18cb6331d875");

    /* a key longer than the on-stack name buffer */
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    char id2[MDF_UUID_STRSZ];
    mdf_event_id_of(id, big, "y", NULL, NULL, NULL, NULL);
    mdf_event_id_of(id2, big, "y", NULL, NULL, NULL, NULL);
    assert_string_equal(id, id2);
    check_uuid(id, 5);
    mdf_event_id_of(id2, big, "z", NULL, NULL, NULL, NULL);
    assert_string_not_equal(id, id2);
}

static void test_random_id(void **state)
{
    (void)state;
    char a[MDF_UUID_STRSZ], b[MDF_UUID_STRSZ];
    mdf_random_id(a);
    mdf_random_id(b);
    check_uuid(a, 4);
    check_uuid(b, 4);
    assert_string_not_equal(a, b);
}

/* ---- scan.results ---------------------------------------------------------------- */

/* A string member when want is known, none otherwise. */
static void check_str_opt(const mdf_jval *root, const char *path, const char *want)
{
    if (want)
        check_str(root, path, want);
    else
        check_absent(root, path);
}

/* metadata.profiles is exactly want (NULL-terminated), in that order. */
static void check_profiles(const mdf_jval *root, const char *const *want)
{
    char path[64];
    size_t i = 0;
    for (; want[i]; i++) {
        snprintf(path, sizeof path, "metadata.profiles.%zu", i);
        check_str(root, path, want[i]);
    }
    snprintf(path, sizeof path, "metadata.profiles.%zu", i);
    check_absent(root, path);
}

/* What every OCSF record says of where it came from, as a SOC reads it. */
static void check_common(const mdf_jval *root, const mdf_node_ctx *n, const char *event_id,
                         const char *log_name)
{
    const char *version = n->agent ? n->agent->app_version : NULL;
    const char *machine = n->agent ? n->agent->edr_machine_id : NULL;
    check_str(root, "metadata.version", "1.8.0");
    check_str(root, "metadata.uid", event_id);
    check_str(root, "metadata.correlation_uid", n->job_id);
    check_str(root, "metadata.product.name", "Microsoft Defender for Endpoint");
    check_str(root, "metadata.product.vendor_name", "Microsoft");
    check_str_opt(root, "metadata.product.version", version);
    check_str(root, "metadata.product.feature.name", "mdefleet");
    check_str(root, "metadata.log_name", log_name);
    check_int(root, "timezone_offset", 0);

    check_str(root, "device.hostname", n->machine_name);
    check_str(root, "device.name", n->node);
    check_str(root, "device.uid", n->node_id);
    check_int(root, "device.type_id", 1);
    check_str(root, "device.type", "Server");
    check_str_opt(root, "device.region", n->region);
    check_absent(root, "device.rack"); /* not OCSF: unmapped.rack_id */
    if (version || machine) {
        check_str(root, "device.agent_list.0.name", "Microsoft Defender for Endpoint");
        check_str(root, "device.agent_list.0.vendor_name", "Microsoft");
        check_int(root, "device.agent_list.0.type_id", 1);
        check_str(root, "device.agent_list.0.type", "Endpoint Detection and Response");
        check_str_opt(root, "device.agent_list.0.uid", machine);
        check_str_opt(root, "device.agent_list.0.version", version);
        check_absent(root, "device.agent_list.1");
    } else {
        check_absent(root, "device.agent_list");
    }

    check_str(root, "cloud.provider", "Azure");
    check_str_opt(root, "cloud.region", n->region);
    if (n->subscription) {
        check_str(root, "cloud.account.uid", n->subscription);
        check_int(root, "cloud.account.type_id", 13);
        check_str(root, "cloud.account.type", "Azure Subscription");
    } else {
        check_absent(root, "cloud.account");
    }

    check_str(root, "observables.0.name", "device.hostname");
    check_int(root, "observables.0.type_id", 1);
    check_str(root, "observables.0.type", "Hostname");
    check_str(root, "observables.0.value", n->machine_name);
    check_str(root, "observables.1.name", "device.uid");
    check_int(root, "observables.1.type_id", 10);
    check_str(root, "observables.1.type", "Resource UID");
    check_str(root, "observables.1.value", n->node_id);
    check_absent(root, "observables.2");

    check_str(root, "unmapped.cluster_resource_id", n->cluster_id);
    check_str_opt(root, "unmapped.cluster", n->cluster);
    check_str(root, "unmapped.node_resource_id", n->node_id);
    check_str_opt(root, "unmapped.rack_id", n->rack_id);
    check_str(root, "unmapped.job_id", n->job_id);
    /* ids live under unmapped, never as top-level OCSF fields */
    check_absent(root, "job_id");
    check_absent(root, "cluster_id");
    check_absent(root, "rack_id");
}

static const char *const scan_profiles[] = {"host", "cloud", NULL};
static const char *const finding_profiles[] = {"cloud", "security_control", NULL};

static void test_scan_activity(void **state)
{
    const fixture *f = *state;
    assert_int_equal(f->r->n_scans, 2);
    const mdf_scan *s = &f->r->scans[0];
    assert_int_equal(s->threat_count, 1); /* the EICAR detection */
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");

    rec a, b;
    scan_rec(&a, &n, s);
    const mdf_jval *v = a.root;
    check_int(v, "class_uid", 6007);
    check_str(v, "class_name", "Scan Activity");
    check_int(v, "category_uid", 6);
    check_str(v, "category_name", "Application Activity");
    check_int(v, "activity_id", 2);
    check_str(v, "activity_name", "Completed");
    check_int(v, "type_uid", 600702);
    check_int(v, "time", 1727161500000);
    check_int(v, "start_time", 1727161441000);
    check_int(v, "end_time", 1727161500000);
    check_int(v, "duration", 59000);
    check_int(v, "num_files", 1751);
    check_int(v, "num_detections", 1);
    /* OCSF's type is how the scan started; MDE's own type names it */
    check_int(v, "scan.type_id", 1);
    check_str(v, "scan.type", "Manual");
    check_str(v, "scan.name", "quick scan");
    check_str(v, "unmapped.scan_type", "quick");
    check_int(v, "status_id", 1);
    check_str(v, "status", "Success");
    check_str(v, "status_detail", "succeeded");
    check_int(v, "severity_id", 2); /* it found something */
    check_str(v, "severity", "Low");
    check_profiles(v, scan_profiles);
    check_common(v, &n, a.id, "scan.results");
    /* security_control is not declared, so none of its attributes */
    check_absent(v, "is_alert");
    check_absent(v, "disposition_id");

    /* deterministic: the same scan again, even from another job, is the
     * same event; another scan is not */
    mdf_node_ctx n2 = ctx(JOB2, "rack1compute02");
    scan_rec(&b, &n2, s);
    assert_string_equal(a.id, b.id);
    rec_done(&b);
    scan_rec(&b, &n, &f->r->scans[1]);
    assert_string_not_equal(a.id, b.id);
    check_int(b.root, "num_detections", 1);
    rec_done(&b);
    mdf_node_ctx other = ctx(JOB1, "rack1compute03");
    scan_rec(&b, &other, s);
    assert_string_not_equal(a.id, b.id);
    rec_done(&b);

    rec_done(&a);
}

static void test_scan_states(void **state)
{
    (void)state;
    /* an unknown word is Other, and activity_name carries it; no word at
     * all is Unknown */
    static const struct {
        const char *state;
        int activity, status;
        const char *activity_name, *type_name, *status_name;
    } cases[] = {
        {"failed", 6, 2, "Error", "Scan Activity: Error", "Failure"},
        {"cancelled", 3, 0, "Cancelled", "Scan Activity: Cancelled", "Unknown"},
        {"canceled", 3, 0, "Cancelled", "Scan Activity: Cancelled", "Unknown"},
        {"running", 99, 0, "running", "Scan Activity: Other", "Unknown"},
        {NULL, 0, 0, "Unknown", "Scan Activity: Unknown", "Unknown"},
    };
    /* what is not known is left out, not guessed */
    mdf_node_ctx n = ctx(JOB1, "rack1compute01");
    n.rack_id = NULL;
    n.region = NULL;
    n.cluster = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mdf_scan s = {.type = "full",
                      .state = cases[i].state,
                      .start_ms = 1727161441000,
                      .end_ms = MDF_TIME_NONE,
                      .files_scanned = MDF_COUNT_NONE,
                      .threat_count = 0};
        rec a;
        scan_rec(&a, &n, &s);
        check_int(a.root, "activity_id", cases[i].activity);
        check_str(a.root, "activity_name", cases[i].activity_name);
        check_int(a.root, "type_uid", 600700 + cases[i].activity);
        check_str(a.root, "type_name", cases[i].type_name);
        check_int(a.root, "status_id", cases[i].status);
        check_str(a.root, "status", cases[i].status_name);
        check_str_opt(a.root, "status_detail", cases[i].state);
        check_int(a.root, "time", 1727161441000); /* start: no end */
        check_absent(a.root, "end_time");
        check_absent(a.root, "duration");
        check_absent(a.root, "num_files");
        check_int(a.root, "num_detections", 0);
        check_int(a.root, "severity_id", 1);
        check_str(a.root, "scan.name", "full scan");
        check_str(a.root, "unmapped.scan_type", "full");
        check_common(a.root, &n, a.id, "scan.results");
        rec_done(&a);
    }

    /* nothing known: the time is when the report was read */
    mdf_scan s = {.start_ms = MDF_TIME_NONE,
                  .end_ms = MDF_TIME_NONE,
                  .files_scanned = MDF_COUNT_NONE,
                  .threat_count = MDF_COUNT_NONE};
    rec a;
    scan_rec(&a, &n, &s);
    check_int(a.root, "time", n.time_ms);
    check_absent(a.root, "start_time");
    check_absent(a.root, "num_detections");
    check_str(a.root, "scan.type", "Manual");
    check_str(a.root, "scan.name", "scan");
    check_absent(a.root, "unmapped.scan_type");
    check_absent(a.root, "status_detail");
    rec_done(&a);
}

/* ---- threats ----------------------------------------------------------------------- */

/* The Detection Finding facts every threat record has. */
static void check_finding(const mdf_jval *v, const mdf_node_ctx *n, const char *event_id)
{
    check_int(v, "class_uid", 2004);
    check_str(v, "class_name", "Detection Finding");
    check_int(v, "category_uid", 2);
    check_str(v, "category_name", "Findings");
    check_str(v, "malware.0.provider", "Microsoft Defender for Endpoint");
    check_profiles(v, finding_profiles);
    check_common(v, n, event_id, "threats");
}

static void check_activity(const mdf_jval *v, int id, const char *name)
{
    char type_name[64];
    snprintf(type_name, sizeof type_name, "Detection Finding: %s", name);
    check_int(v, "activity_id", id);
    check_str(v, "activity_name", name);
    check_int(v, "type_uid", 200400 + id);
    check_str(v, "type_name", type_name);
}

static void check_status(const mdf_jval *v, int id, const char *name, bool alert)
{
    check_int(v, "status_id", id);
    check_str(v, "status", name);
    check_bool(v, "is_alert", alert);
    if (alert)
        assert_non_null(jpath(v, "remediation.desc"));
    else
        check_absent(v, "remediation");
}

/* What MDE did, as OCSF's disposition and action: ids and captions. */
typedef struct outcome_want {
    int disposition;
    const char *dname;
    int action;
    const char *aname;
} outcome_want;

static void check_disposition(const mdf_jval *v, outcome_want want)
{
    check_int(v, "disposition_id", want.disposition);
    check_str(v, "disposition", want.dname);
    check_int(v, "action_id", want.action);
    check_str(v, "action", want.aname);
}

/* One Detection Finding of t, with what every one has and its activity
 * checked; the record's root. */
static const mdf_jval *finding_rec(rec *r, const mdf_node_ctx *n, const mdf_threat *t,
                                   const mdf_finding_change *c, int activity_id,
                                   const char *activity_name)
{
    threat_rec(r, n, t, c);
    check_finding(r->root, n, r->id);
    check_activity(r->root, activity_id, activity_name);
    return r->root;
}

/* Create, open: the first sight of a threat that is not remediated. */
static void test_detection_finding(void **state)
{
    const fixture *f = *state;
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");
    mdf_finding_change c = created(f->mirai);
    c.first_seen_ms = 1727175821000;
    c.last_seen_ms = 1727180000000;

    rec a;
    const mdf_jval *v = finding_rec(&a, &n, f->mirai, &c, 1, "Create");
    check_int(v, "time", 1727175821000); /* no change time: the detection's */
    check_str(v, "finding_info.title", "Backdoor:Linux/Mirai.IJ!MTB");
    check_str(v, "finding_info.types.0", "Backdoor");
    check_int(v, "finding_info.created_time", 1727175821000);
    check_absent(v, "finding_info.modified_time");
    check_int(v, "finding_info.first_seen_time", 1727175821000);
    check_int(v, "finding_info.last_seen_time", 1727180000000);
    check_str(v, "malware.0.name", "Backdoor:Linux/Mirai.IJ!MTB");
    check_int(v, "malware.0.classification_ids.0", 2); /* OCSF Backdoor */
    check_str(v, "malware.0.classifications.0", "Backdoor");
    check_int(v, "malware.0.severity_id", 4);
    check_str(v, "malware.0.severity", "High");
    check_disposition(v, (outcome_want){15, "Detected", 3, "Observed"});
    check_status(v, 1, "New", true);
    check_str(v, "status_detail", "detected");
    check_int(v, "severity_id", 4);
    check_str(v, "severity", "High");
    check_str(v, "remediation.desc",
              "Quarantine or remove the file on rack1compute02; run a full scan.");
    check_str(v, "unmapped.tracking_id", "9b1d7e52-0c3a-4f6e-8d21-5a7c3e9f1b04");
    char uid[MDF_UUID_STRSZ];
    get_str(v, "finding_info.uid", uid, sizeof uid);
    /* the key's composition, pinned with python3's uuid (see
     * test_eventid_known_answers): uuid5(ns, "\x1f".join([CLUSTER,
     * node_id, "finding", tracking_id])) */
    assert_string_equal(uid, "dfb4e572-1903-5f8e-954e-a4d29883eb27");
    /* and the event's: the finding's uid and the change key */
    char want[MDF_UUID_STRSZ];
    mdf_event_id_of(want, CLUSTER, n.node_id, "threat", uid, "create", NULL);
    assert_string_equal(a.id, want);

    /* finding_info.uid: stable across calls and jobs, per node */
    rec b;
    threat_rec(&b, &n, f->mirai, &c);
    check_str(b.root, "finding_info.uid", uid);
    assert_string_equal(a.id, b.id);
    rec_done(&b);
    mdf_node_ctx n2 = ctx(JOB2, "rack1compute02");
    threat_rec(&b, &n2, f->mirai, &c);
    check_str(b.root, "finding_info.uid", uid);
    assert_string_equal(a.id, b.id); /* the same change: a copy */
    rec_done(&b);
    mdf_node_ctx other = ctx(JOB1, "rack1compute03");
    threat_rec(&b, &other, f->mirai, &c);
    char uid2[MDF_UUID_STRSZ];
    get_str(b.root, "finding_info.uid", uid2, sizeof uid2);
    assert_string_not_equal(uid, uid2);
    assert_string_not_equal(a.id, b.id);
    rec_done(&b);

    /* another change of the same finding: same uid, a new event */
    mdf_finding_change next = c;
    next.change_key = "update-1";
    threat_rec(&b, &n, f->mirai, &next);
    check_str(b.root, "finding_info.uid", uid);
    assert_string_not_equal(a.id, b.id);
    rec_done(&b);

    rec_done(&a);
}

/* Create, already remediated: a finding born resolved, never an alert. */
static void test_finding_create_remediated(void **state)
{
    const fixture *f = *state;
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");
    mdf_finding_change c = created(f->eicar);
    assert_false(c.open);
    c.time_ms = 1727180000000;

    rec a;
    const mdf_jval *v = finding_rec(&a, &n, f->eicar, &c, 1, "Create");
    check_int(v, "time", 1727180000000); /* the change's own time */
    check_int(v, "finding_info.created_time", 1727180000000);
    check_absent(v, "finding_info.first_seen_time");
    check_absent(v, "finding_info.last_seen_time");
    check_status(v, 4, "Resolved", false);
    check_disposition(v, (outcome_want){3, "Quarantined", 2, "Denied"});
    check_str(v, "status_detail", "quarantined");
    /* the EICAR test file: informational */
    check_int(v, "severity_id", 1);
    check_str(v, "severity", "Informational");
    check_int(v, "malware.0.classification_ids.0", 19); /* OCSF Virus */
    check_str(v, "malware.0.classifications.0", "Virus");
    rec_done(&a);
}

/* Later changes of a finding: Update while open with a new status from
 * MDE, Update after it was remediated, Close when it is remediated. */
static void test_finding_later_changes(void **state)
{
    const fixture *f = *state;
    static const struct {
        const char *word; /* MDE's */
        bool open;
        /* the activity's id is mdf_finding_activity's (ocsf.h) */
        struct {
            int id;
            const char *name;
        } activity, status;
        outcome_want outcome;
    } cases[] = {
        {"allowed", true, {2, "Update"}, {2, "In Progress"}, {1, "Allowed", 1, "Allowed"}},
        /* back from quarantine */
        {"restored", true, {2, "Update"}, {2, "In Progress"}, {9, "Restored", 3, "Observed"}},
        /* quarantined, then removed: resolved before and after */
        {"removed", false, {2, "Update"}, {4, "Resolved"}, {5, "Deleted", 2, "Denied"}},
        {"removed", false, {3, "Close"}, {4, "Resolved"}, {5, "Deleted", 2, "Denied"}},
        {"cleaned", false, {3, "Close"}, {4, "Resolved"}, {11, "Corrected", 2, "Denied"}},
    };
    mdf_node_ctx n = ctx(JOB2, "rack1compute02");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mdf_threat t = *f->mirai;
        t.status = cases[i].word;
        mdf_finding_change c =
            change((mdf_finding_activity)cases[i].activity.id, cases[i].open, cases[i].word);
        c.time_ms = 1727183600000;
        c.first_seen_ms = 1727175821000;
        c.last_seen_ms = 1727183600000;

        rec a;
        const mdf_jval *v =
            finding_rec(&a, &n, &t, &c, cases[i].activity.id, cases[i].activity.name);
        check_int(v, "time", 1727183600000); /* the change's own time */
        check_int(v, "finding_info.modified_time", 1727183600000);
        check_absent(v, "finding_info.created_time");
        check_int(v, "finding_info.first_seen_time", 1727175821000);
        check_int(v, "finding_info.last_seen_time", 1727183600000);
        check_status(v, cases[i].status.id, cases[i].status.name, cases[i].open);
        check_disposition(v, cases[i].outcome);
        check_str(v, "status_detail", cases[i].word);
        check_str(v, "finding_info.uid", "dfb4e572-1903-5f8e-954e-a4d29883eb27");
        check_int(v, "severity_id", 4); /* what it was, not what is left */
        rec_done(&a);

        /* without a change time, a later change is at the report's time,
         * not the detection's */
        c.time_ms = MDF_TIME_NONE;
        threat_rec(&a, &n, &t, &c);
        check_int(a.root, "time", n.time_ms);
        check_int(a.root, "finding_info.modified_time", n.time_ms);
        rec_done(&a);
    }
}

/* Close, gone: the threat left the report while MDE still said detected.
 * It is closed all the same, and keeps what was last known of it. */
static void test_finding_close_gone(void **state)
{
    const fixture *f = *state;
    mdf_node_ctx n = ctx(JOB2, "rack1compute02");
    mdf_finding_change c = change(MDF_FINDING_CLOSE, true, "gone");
    c.gone = true;
    c.first_seen_ms = 1727175821000;
    c.last_seen_ms = 1727180000000;

    rec a;
    const mdf_jval *v = finding_rec(&a, &n, f->mirai, &c, 3, "Close");
    check_int(v, "time", n.time_ms);
    check_status(v, 4, "Resolved", false);
    check_disposition(v, (outcome_want){15, "Detected", 3, "Observed"});
    check_str(v, "status_detail", "gone from the report");
    check_int(v, "finding_info.last_seen_time", 1727180000000);
    check_str(v, "unmapped.tracking_id", "9b1d7e52-0c3a-4f6e-8d21-5a7c3e9f1b04");
    rec_done(&a);
}

/* MDE's status word onto OCSF's disposition and action. */
static void test_dispositions(void **state)
{
    (void)state;
    static const struct {
        const char *status;
        outcome_want outcome;
    } cases[] = {
        {"detected", {15, "Detected", 3, "Observed"}},
        {"quarantined", {3, "Quarantined", 2, "Denied"}},
        {"removed", {5, "Deleted", 2, "Denied"}},
        {"cleaned", {11, "Corrected", 2, "Denied"}},
        {"remediated", {11, "Corrected", 2, "Denied"}},
        {"allowed", {1, "Allowed", 1, "Allowed"}},
        {"restored", {9, "Restored", 3, "Observed"}},
        {NULL, {15, "Detected", 3, "Observed"}},
        /* a word OCSF has no value for is Other, carrying the word */
        {"blocked", {99, "blocked", 3, "Observed"}},
    };
    mdf_node_ctx n = ctx(JOB1, "rack1compute04");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mdf_threat t = {.tracking_id = "5e0c1b7a-2f43-4c2e-9a11-7d6b3c8e0f12",
                        .name = "Trojan:Linux/Xorddos.A",
                        .category = "Trojan",
                        .status = cases[i].status,
                        .detection_ms = 1727175821000};
        mdf_finding_change c = created(&t);
        rec a;
        threat_rec(&a, &n, &t, &c);
        check_disposition(a.root, cases[i].outcome);
        check_str_opt(a.root, "status_detail", cases[i].status);
        rec_done(&a);
    }
}

/* No agent in the report (or one that names neither its id nor its
 * version), no region, no subscription: those parts are left out. */
static void test_agent_unknown(void **state)
{
    const fixture *f = *state;
    const mdf_threat *mirai = f->mirai;
    mdf_finding_change c = created(mirai);
    const mdf_health nameless = {.definitions_updated_ms = MDF_TIME_NONE,
                                 .product_expiration_ms = MDF_TIME_NONE};
    const mdf_health id_only = {.edr_machine_id = EDR_MACHINE_ID,
                                .definitions_updated_ms = MDF_TIME_NONE,
                                .product_expiration_ms = MDF_TIME_NONE};
    const mdf_health *agents[] = {NULL, &nameless, &id_only};
    for (size_t i = 0; i < sizeof agents / sizeof *agents; i++) {
        mdf_node_ctx n = ctx(JOB1, "rack1compute02");
        n.agent = agents[i];
        n.region = NULL;
        n.subscription = i == 0 ? NULL : SUBSCRIPTION;
        rec a;
        scan_rec(&a, &n, &f->r->scans[0]);
        check_common(a.root, &n, a.id, "scan.results");
        rec_done(&a);
        threat_rec(&a, &n, mirai, &c);
        check_common(a.root, &n, a.id, "threats");
        rec_done(&a);
    }
}

static void test_finding_without_tracking_id(void **state)
{
    (void)state;
    mdf_node_ctx n = ctx(JOB1, "rack2compute01");
    /* the older name form: no CARO parts */
    mdf_threat t = {.name = "EICAR-Test-File (not a virus)",
                    .detection_ms = 1727161460121,
                    .status_key = MDF_TIME_NONE};
    mdf_finding_change c = created(&t);
    rec a, b;
    threat_rec(&a, &n, &t, &c);
    check_int(a.root, "severity_id", 1); /* EICAR by name */
    check_int(a.root, "malware.0.classification_ids.0", 0);
    check_str(a.root, "malware.0.classifications.0", "Unknown");
    check_absent(a.root, "finding_info.types");
    check_absent(a.root, "status_detail");
    check_status(a.root, 1, "New", true);
    check_absent(a.root, "unmapped.tracking_id");
    char uid[MDF_UUID_STRSZ];
    get_str(a.root, "finding_info.uid", uid, sizeof uid);

    mdf_node_ctx n2 = ctx(JOB2, "rack2compute01");
    threat_rec(&b, &n2, &t, &c);
    check_str(b.root, "finding_info.uid", uid);
    rec_done(&b);
    t.detection_ms++; /* another detection of the same name */
    threat_rec(&b, &n, &t, &c);
    char uid2[MDF_UUID_STRSZ];
    get_str(b.root, "finding_info.uid", uid2, sizeof uid2);
    assert_string_not_equal(uid, uid2);
    rec_done(&b);
    rec_done(&a);

    /* no name at all: the record still names the malware */
    mdf_threat nameless = {.detection_ms = MDF_TIME_NONE, .status_key = MDF_TIME_NONE};
    c = created(&nameless);
    threat_rec(&a, &n, &nameless, &c);
    check_str(a.root, "finding_info.title", "Unknown threat");
    check_str(a.root, "malware.0.name", "Unknown threat");
    check_int(a.root, "time", n.time_ms); /* no detection time either */
    rec_done(&a);
}

static void test_classification_and_severity(void **state)
{
    (void)state;
    /* ids and captions of OCSF 1.8.0's malware.classification_ids */
    static const struct {
        const char *name, *category;
        int class_id;
        const char *class_text;
        int severity;
    } cases[] = {
        {"Ransom:Linux/Babuk.A", "Ransom", 10, "Ransomware", 5},
        {"Backdoor:Linux/Mirai.IJ!MTB", "Backdoor", 2, "Backdoor", 4},
        {"Trojan:Linux/Xorddos.A", "Trojan", 18, "Trojan", 4},
        {"TrojanDownloader:Linux/Tsunami.B", "TrojanDownloader", 6, "Downloader", 4},
        {"TrojanDropper:Linux/Gafgyt", "TrojanDropper", 7, "Dropper", 4},
        {"TrojanSpy:Linux/Keylog", "TrojanSpy", 18, "Trojan", 4},
        {"Virus:Linux/Rst.A", "Virus", 19, "Virus", 4},
        {"Worm:Linux/Mozi.A", "Worm", 22, "Worm", 4},
        {"DDoS:Linux/Xorddos", "DDoS", 5, "DDOS", 4},
        {"Spyware:Linux/Snoop", "Spyware", 17, "Spyware", 3},
        {"Rogue:Linux/FakeAV", "Rogue", 14, "Rogue-Security-Software", 3},
        {"Exploit:Linux/CVE-2021-4034", "Exploit", 99, "Exploit", 4},
        {"HackTool:Linux/Mimipenguin", "HackTool", 99, "HackTool", 2},
        {"PUA:Linux/CoinMiner", "PUA", 99, "PUA", 2},
        {"Adware:Linux/Ad", "Adware", 1, "Adware", 2},
        {"Misleading:Linux/X", "Misleading", 99, "Misleading", 3},
        {"Something odd", NULL, 0, "Unknown", 3},
    };
    mdf_node_ctx n = ctx(JOB1, "rack1compute04");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mdf_threat t = {.tracking_id = cases[i].name,
                        .name = cases[i].name,
                        .category = cases[i].category,
                        .status = "detected",
                        .detection_ms = 1727175821000};
        mdf_finding_change c = created(&t);
        rec a;
        threat_rec(&a, &n, &t, &c);
        check_int(a.root, "malware.0.classification_ids.0", cases[i].class_id);
        check_str(a.root, "malware.0.classifications.0", cases[i].class_text);
        check_int(a.root, "severity_id", cases[i].severity);
        check_int(a.root, "malware.0.severity_id", cases[i].severity);
        rec_done(&a);
    }
}

/* ---- node.reports ------------------------------------------------------------------- */

static void test_node_report(void **state)
{
    (void)state;
    mdf_report *r = sample();
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");
    mdf_outcome ok = {.succeeded = true};

    rec a, b;
    node_rec(&a, &n, r, &ok);
    const mdf_jval *v = a.root;
    check_str(v, "event_id", a.id);
    check_int(v, "time", n.time_ms);
    check_str(v, "job_id", JOB1);
    check_str(v, "cluster_id", CLUSTER);
    check_str(v, "node", "rack1compute02");
    check_str(v, "node_id", n.node_id);
    check_str(v, "hostname", "rack1compute02");
    check_str(v, "rack_id", "rack1");
    check_str(v, "outcome", "succeeded");
    check_null(v, "failure");
    check_null(v, "reason");
    check_bool(v, "health.healthy", true);
    check_bool(v, "health.licensed", true);
    check_str(v, "health.app_version", "101.24082.0004");
    check_str(v, "health.definitions_version", "1.417.472.0");
    check_str(v, "health.definitions_status", "upToDate");
    /* times as on every Kafka record: epoch ms, as OCSF has them */
    check_int(v, "health.definitions_updated", 1727161200000); /* 2024-09-24T07:00:00Z */
    check_bool(v, "health.real_time_protection_enabled", true);
    check_bool(v, "health.passive_mode_enabled", false);
    check_str(v, "health.tamper_protection", "audit");
    check_int(v, "health.real_time_protection_files_scanned", 7323);
    assert_int_equal(jpath(v, "health.issues")->type, MDF_J_ARRAY);
    check_int(v, "counts.scans", 2);
    check_int(v, "counts.threats", 2);
    check_int(v, "counts.threats_not_remediated", 1);
    check_int(v, "counts.quarantine", 1);
    check_str(v, "last_scan.type", "quick");
    check_int(v, "last_scan.start_time", 1727175803457); /* 2024-09-24T11:03:23.457Z */
    check_int(v, "last_scan.end_time", 1727175862904);
    check_null(v, "published");
    assert_int_equal(jpath(v, "warnings")->type, MDF_J_ARRAY);
    assert_int_equal(jpath(v, "warnings")->len, 0);

    /* one per job and node */
    node_rec(&b, &n, r, &ok);
    assert_string_equal(a.id, b.id);
    rec_done(&b);
    mdf_node_ctx n2 = ctx(JOB2, "rack1compute02");
    node_rec(&b, &n2, r, &ok);
    assert_string_not_equal(a.id, b.id);
    rec_done(&b);

    /* what the job published about the node */
    mdf_results_counts c = {.scans = 1,
                            .created = 2,
                            .updated = 3,
                            .closed = 4,
                            .tickets_opened = 5,
                            .tickets_updated = 6,
                            .tickets_resolved = 7};
    mdf_buf_init(&b.buf, 1 << 20);
    rec_parse(&b, mdf_node_report(&n, r, &ok, &c, &b.buf, b.id));
    check_int(b.root, "published.scans", 1);
    check_int(b.root, "published.findings_created", 2);
    check_int(b.root, "published.findings_updated", 3);
    check_int(b.root, "published.findings_closed", 4);
    check_int(b.root, "published.tickets_opened", 5);
    check_int(b.root, "published.tickets_updated", 6);
    check_int(b.root, "published.tickets_resolved", 7);
    check_int(b.root, "published.threats_over_cap", 0);
    size_t n_warn = jpath(b.root, "warnings")->len;
    assert_int_equal(n_warn, r->n_warnings);
    rec_done(&b);

    /* threats over the per-node cap: counted, and one warning says so */
    c.threats_over_cap = 8;
    mdf_buf_init(&b.buf, 1 << 20);
    rec_parse(&b, mdf_node_report(&n, r, &ok, &c, &b.buf, b.id));
    check_int(b.root, "published.threats_over_cap", 8);
    assert_int_equal(jpath(b.root, "warnings")->len, n_warn + 1);
    char want[64], path[32];
    snprintf(want, sizeof want, "8 new threats over the cap of %d per node",
             MDF_RESULTS_MAX_NEW_THREATS);
    snprintf(path, sizeof path, "warnings.%zu", n_warn);
    const mdf_jval *over = jpath(b.root, path);
    assert_non_null(over);
    assert_true(over->len >= strlen(want) && memcmp(over->s, want, strlen(want)) == 0);
    rec_done(&b);

    /* a node that could not be read */
    mdf_outcome down = {
        .succeeded = false, .failure = "AgentNotRunning", .reason = "MDE agent is not running"};
    n.rack_id = NULL;
    node_rec(&b, &n, NULL, &down);
    check_str(b.root, "outcome", "failed");
    check_str(b.root, "failure", "AgentNotRunning");
    check_str(b.root, "reason", "MDE agent is not running");
    check_null(b.root, "rack_id");
    check_null(b.root, "health");
    check_null(b.root, "counts");
    check_null(b.root, "last_scan");
    assert_int_equal(jpath(b.root, "warnings")->len, 0);
    rec_done(&b);

    rec_done(&a);
    mdf_report_free(r);
}

/* The node report's "health" and mdefleet-report's come from the same
 * writer (mdf_report_write_health): both must keep the same keys and
 * values, in the same order, so one SIEM parser reads both (with times as
 * epoch ms, the records' one time style). */
static void test_node_report_health_matches_report(void **state)
{
    (void)state;
    mdf_report *r = sample();
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");
    mdf_outcome ok = {.succeeded = true};
    rec a;
    node_rec(&a, &n, r, &ok);

    mdf_buf buf;
    mdf_buf_init(&buf, 1 << 20);
    mdf_jsonw w;
    mdf_jsonw_init(&w, &buf, NULL);
    w.epoch_ms = true;
    mdf_report_write_json(r, &w);
    assert_int_equal(mdf_jsonw_finish(&w), 0);
    mdf_jdoc *doc = parse_rec(&buf);

    const mdf_jval *want = mdf_jget(&doc->root, "health");
    const mdf_jval *got = mdf_jget(a.root, "health");
    assert_non_null(want);
    assert_non_null(got);
    assert_int_equal(want->type, MDF_J_OBJECT);
    assert_int_equal(got->type, MDF_J_OBJECT);
    assert_int_equal(got->len, want->len);
    for (uint32_t i = 0; i < want->len; i++) {
        const mdf_jmember *wm = &want->u.members[i], *gm = &got->u.members[i];
        if (gm->klen != wm->klen || memcmp(gm->key, wm->key, wm->klen) != 0)
            fail_msg("health member %u: \"%.*s\" where the report has \"%.*s\"", i, (int)gm->klen,
                     gm->key, (int)wm->klen, wm->key);
        assert_int_equal(gm->val.type, wm->val.type);
        if (wm->val.type == MDF_J_STRING || wm->val.type == MDF_J_INT) {
            assert_int_equal(gm->val.len, wm->val.len);
            assert_memory_equal(gm->val.s, wm->val.s, wm->val.len);
        }
        if (wm->val.type == MDF_J_BOOL)
            assert_int_equal(gm->val.b, wm->val.b);
    }
    mdf_jdoc_free(doc);
    mdf_buf_free(&buf);
    rec_done(&a);
    mdf_report_free(r);
}

/* ---- tickets --------------------------------------------------------------------------- */

static void test_tickets(void **state)
{
    (void)state;
    mdf_report *r = sample();
    const mdf_threat *mirai = threat_named(r, "Backdoor:Linux/Mirai.IJ!MTB");
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");
    mdf_ticket_life open = {.state = MDF_TICKET_OPEN,
                            .first_seen_ms = 1727175821000,
                            .last_seen_ms = n.time_ms,
                            .occurrences = 1,
                            .change_key = "open|detected|1727175821000"};

    rec a, b;
    ticket_threat_rec(&a, &n, mirai, &open);
    const mdf_jval *v = a.root;
    char key[MDF_UUID_STRSZ], uid[MDF_UUID_STRSZ];
    get_str(v, "dedupe_key", key, sizeof key);
    check_uuid(key, 5);
    siem_finding_uid(&n, mirai, uid);
    char want_key[MDF_UUID_STRSZ];
    mdf_ticket_threat_key(&n, uid, want_key);
    assert_string_equal(key, want_key);
    check_str(v, "event_id", a.id);
    check_str(v, "kind", "threat");
    check_str(v, "state", "open");
    check_str(v, "finding_uid", uid);
    check_null(v, "failure");
    check_null(v, "resolution");
    check_int(v, "first_seen", 1727175821000);
    check_int(v, "last_seen", n.time_ms);
    check_int(v, "occurrences", 1);
    check_str(v, "hostname", "rack1compute02");
    check_str(v, "severity", "high");
    check_str(v, "summary",
              "Backdoor:Linux/Mirai.IJ!MTB detected on rack1compute02 (not remediated: detected)");
    check_str(v, "details.threat", "Backdoor:Linux/Mirai.IJ!MTB");
    check_str(v, "details.category", "Backdoor");
    check_str(v, "details.family", "Mirai");
    check_str(v, "details.status", "detected");
    check_str(v, "details.tracking_id", "9b1d7e52-0c3a-4f6e-8d21-5a7c3e9f1b04");
    check_int(v, "details.detection_time", 1727175821000);
    check_str(v, "details.cluster_id", CLUSTER);
    check_str(v, "details.node_id", n.node_id);
    check_str(v, "details.node", "rack1compute02");
    check_str(v, "details.rack_id", "rack1");
    check_str(v, "details.job_id", JOB1);
    check_int(v, "time", n.time_ms);

    /* the same change is the same event, whichever job computes it */
    mdf_node_ctx n2 = ctx(JOB2, "rack1compute02");
    ticket_threat_rec(&b, &n2, mirai, &open);
    check_str(b.root, "dedupe_key", key);
    assert_string_equal(a.id, b.id);
    rec_done(&b);

    /* resolving: the same ticket, another event */
    mdf_ticket_life done = open;
    done.state = MDF_TICKET_RESOLVED;
    done.resolution = "remediated (quarantined)";
    done.change_key = "resolved|quarantined|1727180000000";
    ticket_threat_rec(&b, &n2, mirai, &done);
    check_str(b.root, "dedupe_key", key);
    check_str(b.root, "state", "resolved");
    check_str(b.root, "resolution", "remediated (quarantined)");
    check_str(b.root, "summary",
              "Backdoor:Linux/Mirai.IJ!MTB on rack1compute02 resolved: remediated (quarantined)");
    assert_string_not_equal(a.id, b.id);
    rec_done(&b);

    /* node failure: one key per node, the kind is a field */
    mdf_node_ctx n3 = ctx(JOB1, "rack1compute03");
    mdf_ticket_life fopen = {.state = MDF_TICKET_OPEN,
                             .first_seen_ms = n3.time_ms,
                             .last_seen_ms = n3.time_ms,
                             .occurrences = 1,
                             .change_key = "open|" JOB1};
    ticket_node_rec(&b, &n3, "AgentNotRunning", "MDE agent is not running", &fopen);
    check_str(b.root, "kind", "node_failure");
    check_str(b.root, "state", "open");
    check_str(b.root, "failure", "AgentNotRunning");
    check_null(b.root, "finding_uid");
    check_str(b.root, "severity", "high");
    check_str(b.root, "hostname", "rack1compute03");
    check_str(b.root, "summary",
              "rack1compute03 could not be scanned: AgentNotRunning (MDE agent is not running)");
    check_str(b.root, "details.reason", "MDE agent is not running");
    check_str(b.root, "details.node", "rack1compute03");
    check_str(b.root, "details.job_id", JOB1);
    check_str(b.root, "event_id", b.id);
    char fkey[MDF_UUID_STRSZ], want_fkey[MDF_UUID_STRSZ];
    get_str(b.root, "dedupe_key", fkey, sizeof fkey);
    check_uuid(fkey, 5);
    mdf_ticket_node_key(&n3, want_fkey);
    assert_string_equal(fkey, want_fkey);
    assert_string_not_equal(fkey, key);
    char fid[MDF_UUID_STRSZ];
    memcpy(fid, b.id, sizeof fid);
    rec_done(&b);

    /* another kind of failure later: the same ticket */
    mdf_ticket_life fupd = fopen;
    fupd.occurrences = 2;
    fupd.change_key = "update|" JOB2;
    ticket_node_rec(&b, &n3, "TimeLimit", NULL, &fupd);
    check_str(b.root, "dedupe_key", fkey);
    check_str(b.root, "failure", "TimeLimit");
    check_str(b.root, "severity", "medium");
    check_str(b.root, "summary", "rack1compute03 could not be scanned: TimeLimit");
    check_null(b.root, "details.reason");
    check_int(b.root, "occurrences", 2);
    assert_string_not_equal(b.id, fid);
    rec_done(&b);

    mdf_ticket_life fdone = fupd;
    fdone.state = MDF_TICKET_RESOLVED;
    fdone.resolution = "scanned successfully";
    fdone.change_key = "resolved|" JOB2;
    ticket_node_rec(&b, &n3, "TimeLimit", NULL, &fdone);
    check_str(b.root, "dedupe_key", fkey);
    check_str(b.root, "state", "resolved");
    check_str(b.root, "summary",
              "rack1compute03 scanned again after TimeLimit: scanned successfully");
    rec_done(&b);

    rec_done(&a);
    mdf_report_free(r);
}

/* ---- escaping, appending, the cap ------------------------------------------------------ */

static void test_escaping_and_cap(void **state)
{
    const fixture *f = *state;
    const mdf_report *r = f->r;
    const mdf_threat *mirai = f->mirai;
    mdf_node_ctx n = ctx(JOB1, "rack1compute02");
    n.machine_name = "odd\"host\\\n\x01";

    mdf_finding_change c = created(mirai);

    rec a;
    threat_rec(&a, &n, mirai, &c);
    check_str(a.root, "device.hostname", "odd\"host\\\n\x01");
    check_str(a.root, "observables.0.value", "odd\"host\\\n\x01");
    rec_done(&a);

    /* records append after what the buffer holds */
    mdf_buf buf;
    mdf_buf_init(&buf, 1 << 20);
    char id[MDF_UUID_STRSZ];
    assert_int_equal(mdf_buf_append(&buf, "x\n", 2), 0);
    assert_int_equal(mdf_ocsf_scan(&n, &r->scans[0], &buf, id), MDF_OK);
    assert_int_equal(buf.data[0], 'x');
    assert_int_equal(buf.data[2], '{');
    assert_int_equal(buf.data[buf.len - 1], '}');
    mdf_buf_free(&buf);

    /* the cap: MDF_ERR and nothing half-written, for every record */
    mdf_outcome down = {.succeeded = false, .failure = "Other", .reason = "x"};
    mdf_outcome ok = {.succeeded = true};
    mdf_ticket_life life = {.state = MDF_TICKET_OPEN, .change_key = "open"};
    for (int which = 0; which < 5; which++) {
        mdf_buf_init(&buf, 200);
        assert_int_equal(mdf_buf_append(&buf, "keep", 4), 0);
        int rc = which == 0   ? mdf_ocsf_scan(&n, &r->scans[0], &buf, id)
                 : which == 1 ? mdf_ocsf_threat(&n, mirai, &c, &buf, id)
                 : which == 2 ? mdf_node_report(&n, r, &ok, NULL, &buf, id)
                 : which == 3
                     ? mdf_ticket_threat(&n, mirai, "u", &life, &buf, id)
                     : mdf_ticket_node_failure(&n, down.failure, down.reason, &life, &buf, id);
        assert_int_equal(rc, MDF_ERR);
        assert_int_equal(buf.len, 4);
        assert_string_equal(buf.data, "keep");
        mdf_buf_free(&buf);
    }

    /* and at every size short of the whole OCSF record, not only early */
    for (int which = 0; which < 2; which++) {
        mdf_buf_init(&buf, 1 << 20);
        assert_int_equal(which == 0 ? mdf_ocsf_scan(&n, &r->scans[0], &buf, id)
                                    : mdf_ocsf_threat(&n, mirai, &c, &buf, id),
                         MDF_OK);
        size_t whole = buf.len;
        mdf_buf_free(&buf);
        for (size_t max = 4; max <= whole + 4; max++) {
            mdf_buf_init(&buf, max);
            assert_int_equal(mdf_buf_append(&buf, "keep", 4), 0);
            int rc = which == 0 ? mdf_ocsf_scan(&n, &r->scans[0], &buf, id)
                                : mdf_ocsf_threat(&n, mirai, &c, &buf, id);
            if (max < whole + 4) {
                assert_int_equal(rc, MDF_ERR);
                assert_int_equal(buf.len, 4);
                assert_string_equal(buf.data, "keep");
            } else {
                assert_int_equal(rc, MDF_OK);
                assert_int_equal(buf.len, whole + 4);
            }
            mdf_buf_free(&buf);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eventid_known_answers),
        cmocka_unit_test(test_random_id),
        cmocka_unit_test_setup_teardown(test_scan_activity, sample_setup, sample_teardown),
        cmocka_unit_test(test_scan_states),
        cmocka_unit_test_setup_teardown(test_detection_finding, sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(test_finding_create_remediated, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(test_finding_later_changes, sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(test_finding_close_gone, sample_setup, sample_teardown),
        cmocka_unit_test(test_dispositions),
        cmocka_unit_test_setup_teardown(test_agent_unknown, sample_setup, sample_teardown),
        cmocka_unit_test(test_finding_without_tracking_id),
        cmocka_unit_test(test_classification_and_severity),
        cmocka_unit_test(test_node_report),
        cmocka_unit_test(test_node_report_health_matches_report),
        cmocka_unit_test(test_tickets),
        cmocka_unit_test_setup_teardown(test_escaping_and_cap, sample_setup, sample_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
