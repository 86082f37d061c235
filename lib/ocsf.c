/* The SIEM- and ticket-facing JSON records of one node's report (ocsf.h).
 *
 * Scan results and threats follow OCSF 1.3.0 (Scan Activity 6007,
 * Detection Finding 2004); what OCSF has no attribute for (the ARM ids, the
 * job id) goes under "unmapped", because SIEM parsers that validate OCSF
 * reject unknown top-level fields. Node reports and tickets are our own
 * shapes. Each function appends exactly one object to `out` or, when the
 * buffer's cap is reached, leaves `out` as it was and returns MDF_ERR. */
#include "ocsf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "jsonw.h"
#include "timeutil.h"

/* A ticket summary is one line; this only bounds a pathological name. */
#define SUMMARY_MAX 4096

/* ---- small helpers -------------------------------------------------------- */

/* Event-id parts: a NULL would end the key early (eventid.h), so an absent
 * value in the middle of a key is the empty string. */
static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Epoch ms as decimal text for an event-id part; "" when unknown. */
static const char *ms_text(int64_t ms, char out[24])
{
    if (ms == MDF_TIME_NONE) {
        out[0] = '\0';
        return out;
    }
    snprintf(out, 24, "%" PRId64, ms);
    return out;
}

static bool ieq(const char *a, const char *b)
{
    return a && strcasecmp(a, b) == 0;
}

static bool iprefix(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* strcasestr is a GNU extension; names are short, so the plain loop. */
static bool icontains(const char *s, const char *needle)
{
    if (!s)
        return false;
    size_t n = strlen(needle);
    for (; *s; s++) {
        if (strncasecmp(s, needle, n) == 0)
            return true;
    }
    return false;
}

/* Epoch ms as a number, omitted when unknown (OCSF timestamps). */
static void kms_opt(mdf_jsonw *w, const char *key, int64_t ms)
{
    if (ms != MDF_TIME_NONE)
        mdf_jsonw_kint(w, key, ms);
}

static void kcount_opt(mdf_jsonw *w, const char *key, int64_t n)
{
    if (n != MDF_COUNT_NONE)
        mdf_jsonw_kint(w, key, n);
}

/* RFC 3339 text, or null when unknown or out of range (our own shapes). */
static void krfc(mdf_jsonw *w, const char *key, int64_t ms)
{
    char t[MDF_TIME_STRSZ];
    mdf_jsonw_key(w, key);
    if (ms != MDF_TIME_NONE && mdf_time_format_ms(ms, t) == 0)
        mdf_jsonw_str(w, t);
    else
        mdf_jsonw_null(w);
}

/* OCSF's lists that we fill with one value (types, classifications, ...) */
static void kone_str(mdf_jsonw *w, const char *key, const char *s)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_arr_begin(w);
    mdf_jsonw_str(w, s);
    mdf_jsonw_arr_end(w);
}

static void begin(mdf_jsonw *w, mdf_buf *out, size_t *start)
{
    *start = out->len;
    mdf_jsonw_init(w, out, NULL);
}

/* A record is all or nothing: on failure the partial object is cut off, so
 * the caller can flush what it has and retry with the same buffer. */
static int finish(mdf_jsonw *w, mdf_buf *out, size_t start)
{
    if (mdf_jsonw_finish(w) == 0)
        return MDF_OK;
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return MDF_ERR;
}

static const char *host_of(const mdf_node_ctx *n)
{
    return n->machine_name ? n->machine_name : n->node ? n->node : "unknown host";
}

/* ---- severity and classification ----------------------------------------- */

enum { SEV_UNKNOWN, SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

static const char *const sev_caption[] = {"Unknown", "Informational", "Low",
                                          "Medium",  "High",          "Critical"};
static const char *const sev_lower[] = {"unknown", "informational", "low",
                                        "medium",  "high",          "critical"};

static bool is_eicar(const mdf_threat *t)
{
    return ieq(t->family, "EICAR_Test_File") || icontains(t->name, "EICAR");
}

/* From the CARO type (the part of the name before ':'). The EICAR test
 * file is named as a virus but is harmless by design: operators use it to
 * check that detection works, so it must not page anyone. */
static int threat_severity(const mdf_threat *t)
{
    static const char *const high[] = {"Backdoor", "Virus", "Worm", "Exploit", "DDoS"};
    static const char *const low[] = {"HackTool", "Adware"};
    const char *c = t->category;
    if (is_eicar(t))
        return SEV_INFO;
    if (ieq(c, "Ransom"))
        return SEV_CRITICAL;
    if (iprefix(c, "Trojan"))
        return SEV_HIGH;
    for (size_t i = 0; i < sizeof high / sizeof *high; i++) {
        if (ieq(c, high[i]))
            return SEV_HIGH;
    }
    if (iprefix(c, "PUA"))
        return SEV_LOW;
    for (size_t i = 0; i < sizeof low / sizeof *low; i++) {
        if (ieq(c, low[i]))
            return SEV_LOW;
    }
    return SEV_MEDIUM;
}

/* OCSF malware.classification_ids as of schema 1.3.0
 * (ocsf-schema objects/malware.json at tag 1.3.0; 0 and 99 come from
 * dictionary.json). There is no 12, and Trojan, Virus and Worm are 18, 19
 * and 22, not the 17/18/19 an older draft list suggests. */
enum {
    MAL_UNKNOWN = 0,
    MAL_ADWARE = 1,
    MAL_BACKDOOR = 2,
    MAL_DDOS = 5,
    MAL_DOWNLOADER = 6,
    MAL_DROPPER = 7,
    MAL_RANSOMWARE = 10,
    MAL_ROGUE = 14,
    MAL_SPYWARE = 17,
    MAL_TROJAN = 18,
    MAL_VIRUS = 19,
    MAL_WORM = 22,
    MAL_OTHER = 99,
};

typedef struct caro_class {
    const char *caro; /* Microsoft's CARO type */
    int id;
    const char *caption; /* OCSF's caption for id */
} caro_class;

/* Exact CARO types first; any other Trojan* (TrojanSpy, TrojanProxy, ...)
 * is a Trojan. HackTool, Exploit (an exploit, not an exploit kit), PUA and
 * the rest have no OCSF class and are Other. */
static const caro_class caro_classes[] = {
    {"Adware", MAL_ADWARE, "Adware"},
    {"Backdoor", MAL_BACKDOOR, "Backdoor"},
    {"DDoS", MAL_DDOS, "DDOS"},
    {"TrojanDownloader", MAL_DOWNLOADER, "Downloader"},
    {"TrojanDropper", MAL_DROPPER, "Dropper"},
    {"Ransom", MAL_RANSOMWARE, "Ransomware"},
    {"Rogue", MAL_ROGUE, "Rogue-Security-Software"},
    {"Spyware", MAL_SPYWARE, "Spyware"},
    {"Trojan", MAL_TROJAN, "Trojan"},
    {"Virus", MAL_VIRUS, "Virus"},
    {"Worm", MAL_WORM, "Worm"},
};

/* Returns the id and sets *caption. For Other, the caption is the CARO
 * type itself: OCSF's classifications[] then carries the source's value. */
static int malware_class(const char *category, const char **caption)
{
    if (!category || !*category) {
        *caption = "Unknown";
        return MAL_UNKNOWN;
    }
    for (size_t i = 0; i < sizeof caro_classes / sizeof *caro_classes; i++) {
        if (ieq(category, caro_classes[i].caro)) {
            *caption = caro_classes[i].caption;
            return caro_classes[i].id;
        }
    }
    if (iprefix(category, "Trojan")) {
        *caption = "Trojan";
        return MAL_TROJAN;
    }
    *caption = category;
    return MAL_OTHER;
}

/* Stable across scans and jobs: a tracking id is Defender's own, stable
 * identity of a threat on a machine; without one, the name and the
 * detection time are. The two forms have a different number of parts, so
 * they cannot collide. */
static void finding_uid(const mdf_node_ctx *n, const mdf_threat *t, char out[MDF_UUID_STRSZ])
{
    if (t->tracking_id && *t->tracking_id) {
        mdf_event_id_of(out, nz(n->cluster_id), nz(n->node_id), "finding", t->tracking_id, NULL,
                        NULL);
    } else {
        char ms[24];
        mdf_event_id_of(out, nz(n->cluster_id), nz(n->node_id), "finding", nz(t->name),
                        ms_text(t->detection_ms, ms), NULL);
    }
}

/* ---- the OCSF parts every record shares ----------------------------------- */

static void write_metadata(mdf_jsonw *w, const mdf_node_ctx *n, const char *event_id,
                           const char *log_name, const char *profile)
{
    mdf_jsonw_key(w, "metadata");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "version", OCSF_VERSION);
    mdf_jsonw_kstr(w, "uid", event_id);
    mdf_jsonw_kstr(w, "correlation_uid", n->job_id);
    mdf_jsonw_key(w, "product");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", "Microsoft Defender for Endpoint");
    mdf_jsonw_kstr(w, "vendor_name", "Microsoft");
    mdf_jsonw_key(w, "feature");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", "mdefleet");
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_kstr(w, "log_name", log_name);
    /* OCSF asks a record to name the profiles whose attributes it uses. */
    if (profile)
        kone_str(w, "profiles", profile);
    mdf_jsonw_obj_end(w);
}

static void write_device_cloud(mdf_jsonw *w, const mdf_node_ctx *n)
{
    mdf_jsonw_key(w, "device");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "hostname", n->machine_name);
    mdf_jsonw_kstr(w, "name", n->node);
    mdf_jsonw_kstr(w, "uid", n->node_id);
    mdf_jsonw_kint(w, "type_id", 1);
    mdf_jsonw_kstr(w, "type", "Server");
    if (n->rack_id)
        mdf_jsonw_kstr(w, "rack", n->rack_id);
    mdf_jsonw_obj_end(w);

    mdf_jsonw_key(w, "cloud");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "provider", "Azure");
    mdf_jsonw_obj_end(w);
}

/* Opens "unmapped" with the ids OCSF has no place for; the caller may add
 * members and closes it. */
static void begin_unmapped(mdf_jsonw *w, const mdf_node_ctx *n)
{
    mdf_jsonw_key(w, "unmapped");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "cluster_resource_id", n->cluster_id);
    mdf_jsonw_kstr(w, "node_resource_id", n->node_id);
    mdf_jsonw_kstr(w, "job_id", n->job_id);
}

static void write_class(mdf_jsonw *w, int class_uid, const char *class_name, int category_uid,
                        const char *category_name, int activity_id, const char *activity_name)
{
    char type_name[96];
    snprintf(type_name, sizeof type_name, "%s: %s", class_name, activity_name);
    mdf_jsonw_kint(w, "class_uid", class_uid);
    mdf_jsonw_kstr(w, "class_name", class_name);
    mdf_jsonw_kint(w, "category_uid", category_uid);
    mdf_jsonw_kstr(w, "category_name", category_name);
    mdf_jsonw_kint(w, "activity_id", activity_id);
    mdf_jsonw_kstr(w, "activity_name", activity_name);
    mdf_jsonw_kint(w, "type_uid", (int64_t)class_uid * 100 + activity_id);
    mdf_jsonw_kstr(w, "type_name", type_name);
}

static void write_severity(mdf_jsonw *w, int sev)
{
    mdf_jsonw_kint(w, "severity_id", sev);
    mdf_jsonw_kstr(w, "severity", sev_caption[sev]);
}

/* ---- scan.results: Scan Activity ------------------------------------------ */

int mdf_ocsf_scan(const mdf_node_ctx *n, const mdf_scan *s, mdf_buf *out,
                  char event_id[MDF_UUID_STRSZ])
{
    int activity = 99;
    const char *activity_name = "Other";
    int status = 0;
    const char *status_name = "Unknown";
    if (ieq(s->state, "succeeded")) {
        activity = 2, activity_name = "Completed";
        status = 1, status_name = "Success";
    } else if (ieq(s->state, "cancelled") || ieq(s->state, "canceled")) {
        activity = 3, activity_name = "Cancelled";
    } else if (ieq(s->state, "failed")) {
        activity = 6, activity_name = "Error";
        status = 2, status_name = "Failure";
    }

    char start[24], end[24];
    mdf_event_id_of(event_id, nz(n->cluster_id), nz(n->node_id), "scan", nz(s->type),
                    ms_text(s->start_ms, start), ms_text(s->end_ms, end));

    int64_t time = s->end_ms != MDF_TIME_NONE     ? s->end_ms
                   : s->start_ms != MDF_TIME_NONE ? s->start_ms
                                                  : n->time_ms;
    bool detections = s->threat_count != MDF_COUNT_NONE && s->threat_count > 0;

    mdf_jsonw w;
    size_t mark;
    begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    write_class(&w, 6007, "Scan Activity", 6, "Application Activity", activity, activity_name);
    mdf_jsonw_kint(&w, "time", time);
    kms_opt(&w, "start_time", s->start_ms);
    kms_opt(&w, "end_time", s->end_ms);
    if (s->start_ms != MDF_TIME_NONE && s->end_ms != MDF_TIME_NONE && s->end_ms >= s->start_ms)
        mdf_jsonw_kint(&w, "duration", s->end_ms - s->start_ms);
    kcount_opt(&w, "num_files", s->files_scanned);
    kcount_opt(&w, "num_detections", s->threat_count);

    /* Type 1 (Manual): every scan mdefleet reads was started on demand by
     * scanRuntime or by hand, never by Defender's own schedule that we
     * could tell apart in the report. */
    char scan_name[128];
    snprintf(scan_name, sizeof scan_name, "%s%sscan", s->type ? s->type : "",
             s->type ? " " : "");
    mdf_jsonw_key(&w, "scan");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kint(&w, "type_id", 1);
    if (s->type)
        mdf_jsonw_kstr(&w, "type", s->type);
    mdf_jsonw_kstr(&w, "name", scan_name);
    mdf_jsonw_obj_end(&w);

    mdf_jsonw_kint(&w, "status_id", status);
    mdf_jsonw_kstr(&w, "status", status_name);
    mdf_jsonw_kstr(&w, "status_detail", s->state);
    write_severity(&w, detections ? SEV_LOW : SEV_INFO);
    write_metadata(&w, n, event_id, "scan.results", NULL);
    write_device_cloud(&w, n);
    begin_unmapped(&w, n);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_obj_end(&w);
    return finish(&w, out, mark);
}

/* ---- threats: Detection Finding -------------------------------------------- */

int mdf_ocsf_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                    char event_id[MDF_UUID_STRSZ])
{
    char uid[MDF_UUID_STRSZ];
    finding_uid(n, t, uid);
    /* The status is part of the key: quarantining a threat is a new fact
     * about the same finding, and must not be dropped as a copy. */
    mdf_event_id_of(event_id, nz(n->cluster_id), nz(n->node_id), "threat", uid, nz(t->status),
                    NULL);

    bool remediated = mdf_threat_remediated(t);
    const char *class_caption;
    int class_id = malware_class(t->category, &class_caption);

    mdf_jsonw w;
    size_t mark;
    begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    write_class(&w, 2004, "Detection Finding", 2, "Findings", 1, "Create");
    mdf_jsonw_kint(&w, "time", t->detection_ms != MDF_TIME_NONE ? t->detection_ms : n->time_ms);

    mdf_jsonw_key(&w, "finding_info");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "uid", uid);
    /* title is required through OCSF 1.3 */
    mdf_jsonw_kstr(&w, "title", t->name ? t->name : "Unknown threat");
    if (t->category)
        kone_str(&w, "types", t->category);
    kms_opt(&w, "first_seen_time", t->detection_ms);
    mdf_jsonw_obj_end(&w);

    mdf_jsonw_key(&w, "malware");
    mdf_jsonw_arr_begin(&w);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "name", t->name);
    mdf_jsonw_key(&w, "classification_ids");
    mdf_jsonw_arr_begin(&w);
    mdf_jsonw_int(&w, class_id);
    mdf_jsonw_arr_end(&w);
    kone_str(&w, "classifications", class_caption);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_arr_end(&w);

    mdf_jsonw_kint(&w, "status_id", remediated ? 4 : 1);
    mdf_jsonw_kstr(&w, "status", remediated ? "Resolved" : "New");
    mdf_jsonw_kstr(&w, "status_detail", t->status);
    write_severity(&w, threat_severity(t));
    mdf_jsonw_kbool(&w, "is_alert", !remediated);
    if (!remediated) {
        mdf_buf desc;
        mdf_buf_init(&desc, SUMMARY_MAX);
        if (mdf_buf_appendf(&desc, "Quarantine or remove the file on %s; run a full scan.",
                            host_of(n)) != 0)
            w.failed = true;
        mdf_jsonw_key(&w, "remediation");
        mdf_jsonw_obj_begin(&w);
        mdf_jsonw_kstr(&w, "desc", desc.data ? desc.data : "");
        mdf_jsonw_obj_end(&w);
        mdf_buf_free(&desc);
    }
    /* malware is an attribute of the security_control profile in 1.3.0 */
    write_metadata(&w, n, event_id, "threats", "security_control");
    write_device_cloud(&w, n);
    begin_unmapped(&w, n);
    mdf_jsonw_kstr(&w, "tracking_id", t->tracking_id);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_obj_end(&w);
    return finish(&w, out, mark);
}

/* ---- node.reports ------------------------------------------------------------ */

/* The failure symbol of an outcome: NULL on success; a failed outcome
 * without one is "Other", so that it is never mistaken for success. */
static const char *failure_of(const mdf_outcome *o)
{
    if (o->succeeded)
        return NULL;
    return o->failure && *o->failure ? o->failure : "Other";
}

static void write_counts(mdf_jsonw *w, const mdf_report *r)
{
    int64_t open = 0;
    for (size_t i = 0; i < r->n_threats; i++)
        open += !mdf_threat_remediated(&r->threats[i]);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kint(w, "scans", (int64_t)r->n_scans);
    mdf_jsonw_kint(w, "threats", (int64_t)r->n_threats);
    mdf_jsonw_kint(w, "threats_not_remediated", open);
    mdf_jsonw_kint(w, "quarantine", (int64_t)r->n_quarantine);
    mdf_jsonw_obj_end(w);
}

int mdf_node_report(const mdf_node_ctx *n, const mdf_report *r, const mdf_outcome *o,
                    mdf_buf *out, char event_id[MDF_UUID_STRSZ])
{
    mdf_event_id_of(event_id, nz(n->job_id), nz(n->node_id), "node-report", NULL, NULL, NULL);

    mdf_jsonw w;
    size_t mark;
    begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "event_id", event_id);
    mdf_jsonw_kint(&w, "time", n->time_ms);
    mdf_jsonw_kstr(&w, "job_id", n->job_id);
    mdf_jsonw_kstr(&w, "cluster_id", n->cluster_id);
    mdf_jsonw_kstr(&w, "node", n->node);
    mdf_jsonw_kstr(&w, "node_id", n->node_id);
    mdf_jsonw_kstr(&w, "hostname", n->machine_name);
    mdf_jsonw_kstr(&w, "rack_id", n->rack_id);
    mdf_jsonw_kstr(&w, "outcome", o->succeeded ? "succeeded" : "failed");
    mdf_jsonw_kstr(&w, "failure", failure_of(o));
    mdf_jsonw_kstr(&w, "reason", o->reason);

    mdf_jsonw_key(&w, "health");
    if (r)
        mdf_report_write_health(r, &w);
    else
        mdf_jsonw_null(&w);
    mdf_jsonw_key(&w, "counts");
    if (r)
        write_counts(&w, r);
    else
        mdf_jsonw_null(&w);

    /* scans are sorted by start time: the last one is the latest */
    mdf_jsonw_key(&w, "last_scan");
    if (r && r->n_scans) {
        const mdf_scan *s = &r->scans[r->n_scans - 1];
        mdf_jsonw_obj_begin(&w);
        mdf_jsonw_kstr(&w, "type", s->type);
        krfc(&w, "start_time", s->start_ms);
        krfc(&w, "end_time", s->end_ms);
        mdf_jsonw_obj_end(&w);
    } else {
        mdf_jsonw_null(&w);
    }

    mdf_jsonw_key(&w, "warnings");
    mdf_jsonw_arr_begin(&w);
    for (size_t i = 0; r && i < r->n_warnings; i++)
        mdf_jsonw_str(&w, r->warnings[i]);
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_obj_end(&w);
    return finish(&w, out, mark);
}

/* ---- tickets ---------------------------------------------------------------- */

/* The ticket's common head: dedupe key, kind, hostname, severity and the
 * summary line. The event id is per job (a ticket is re-sent by each job
 * that still sees the problem; the connector upserts on dedupe_key). */
static void ticket_head(mdf_jsonw *w, const mdf_node_ctx *n, const char *dedupe_key,
                        const char *kind, int sev, const mdf_buf *summary)
{
    mdf_jsonw_kstr(w, "dedupe_key", dedupe_key);
    mdf_jsonw_kstr(w, "kind", kind);
    mdf_jsonw_kstr(w, "hostname", n->machine_name);
    mdf_jsonw_kstr(w, "severity", sev_lower[sev]);
    mdf_jsonw_kstr(w, "summary", summary->data ? summary->data : "");
}

static void ticket_where(mdf_jsonw *w, const mdf_node_ctx *n)
{
    mdf_jsonw_kstr(w, "cluster_id", n->cluster_id);
    mdf_jsonw_kstr(w, "node_id", n->node_id);
    mdf_jsonw_kstr(w, "node", n->node);
    mdf_jsonw_kstr(w, "job_id", n->job_id);
}

static void ticket_tail(mdf_jsonw *w, const mdf_node_ctx *n, const char *event_id)
{
    mdf_jsonw_kint(w, "time", n->time_ms);
    mdf_jsonw_kstr(w, "event_id", event_id);
}

int mdf_ticket_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                      char event_id[MDF_UUID_STRSZ])
{
    /* A remediated threat needs nobody: refuse rather than open a ticket. */
    if (mdf_threat_remediated(t))
        return MDF_ERR;

    char uid[MDF_UUID_STRSZ], key[MDF_UUID_STRSZ];
    finding_uid(n, t, uid);
    mdf_event_id_of(key, nz(n->cluster_id), nz(n->node_id), "ticket", uid, NULL, NULL);
    mdf_event_id_of(event_id, nz(n->job_id), key, NULL, NULL, NULL, NULL);

    mdf_buf summary;
    mdf_buf_init(&summary, SUMMARY_MAX);
    int rc = mdf_buf_appendf(&summary, "%s detected on %s (not remediated: %s)",
                             t->name ? t->name : "Unknown threat", host_of(n),
                             t->status ? t->status : "no status");

    mdf_jsonw w;
    size_t mark;
    begin(&w, out, &mark);
    if (rc != 0)
        w.failed = true;
    mdf_jsonw_obj_begin(&w);
    ticket_head(&w, n, key, "threat", threat_severity(t), &summary);
    mdf_jsonw_key(&w, "details");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "threat", t->name);
    mdf_jsonw_kstr(&w, "category", t->category);
    mdf_jsonw_kstr(&w, "family", t->family);
    mdf_jsonw_kstr(&w, "status", t->status);
    mdf_jsonw_kstr(&w, "tracking_id", t->tracking_id);
    krfc(&w, "detection_time", t->detection_ms);
    ticket_where(&w, n);
    mdf_jsonw_obj_end(&w);
    ticket_tail(&w, n, event_id);
    mdf_jsonw_obj_end(&w);
    mdf_buf_free(&summary);
    return finish(&w, out, mark);
}

int mdf_ticket_node_failure(const mdf_node_ctx *n, const mdf_outcome *o, mdf_buf *out,
                            char event_id[MDF_UUID_STRSZ])
{
    if (o->succeeded)
        return MDF_ERR;
    const char *failure = failure_of(o);

    /* Keyed by the failure symbol, not the reason: the reason's wording
     * varies between runs while the problem stays the same ticket. */
    char key[MDF_UUID_STRSZ];
    mdf_event_id_of(key, nz(n->cluster_id), nz(n->node_id), "ticket", "node_failure", failure,
                    NULL);
    mdf_event_id_of(event_id, nz(n->job_id), key, NULL, NULL, NULL, NULL);

    mdf_buf summary;
    mdf_buf_init(&summary, SUMMARY_MAX);
    int rc = o->reason && *o->reason
                 ? mdf_buf_appendf(&summary, "%s could not be scanned: %s (%s)", host_of(n),
                                   failure, o->reason)
                 : mdf_buf_appendf(&summary, "%s could not be scanned: %s", host_of(n), failure);

    /* An agent that is not running leaves the node unprotected. */
    int sev = strcmp(failure, "AgentNotRunning") == 0 ? SEV_HIGH : SEV_MEDIUM;

    mdf_jsonw w;
    size_t mark;
    begin(&w, out, &mark);
    if (rc != 0)
        w.failed = true;
    mdf_jsonw_obj_begin(&w);
    ticket_head(&w, n, key, "node_failure", sev, &summary);
    mdf_jsonw_key(&w, "details");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "failure", failure);
    mdf_jsonw_kstr(&w, "reason", o->reason);
    ticket_where(&w, n);
    mdf_jsonw_obj_end(&w);
    ticket_tail(&w, n, event_id);
    mdf_jsonw_obj_end(&w);
    mdf_buf_free(&summary);
    return finish(&w, out, mark);
}
