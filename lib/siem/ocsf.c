/* OCSF records of one node's report (ocsf.h).
 *
 * Scan results and threats follow OCSF 1.3.0 (Scan Activity 6007,
 * Detection Finding 2004); what OCSF has no attribute for (the ARM ids, the
 * job id) goes under "unmapped", because SIEM parsers that validate OCSF
 * reject unknown top-level fields. Each function appends exactly one object
 * to `out` or, when the buffer's cap is reached, leaves `out` as it was and
 * returns MDF_ERR. */
#include "ocsf.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "siem_common.h"

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
        if (siem_ieq(category, caro_classes[i].caro)) {
            *caption = caro_classes[i].caption;
            return caro_classes[i].id;
        }
    }
    if (siem_iprefix(category, "Trojan")) {
        *caption = "Trojan";
        return MAL_TROJAN;
    }
    *caption = category;
    return MAL_OTHER;
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
        siem_kone_str(w, "profiles", profile);
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
    mdf_jsonw_kstr(w, "severity", siem_sev_caption[sev]);
}

/* ---- scan.results: Scan Activity ------------------------------------------ */

int mdf_ocsf_scan(const mdf_node_ctx *n, const mdf_scan *s, mdf_buf *out,
                  char event_id[MDF_UUID_STRSZ])
{
    int activity = 99;
    const char *activity_name = "Other";
    int status = 0;
    const char *status_name = "Unknown";
    if (siem_ieq(s->state, "succeeded")) {
        activity = 2, activity_name = "Completed";
        status = 1, status_name = "Success";
    } else if (siem_ieq(s->state, "cancelled") || siem_ieq(s->state, "canceled")) {
        activity = 3, activity_name = "Cancelled";
    } else if (siem_ieq(s->state, "failed")) {
        activity = 6, activity_name = "Error";
        status = 2, status_name = "Failure";
    }

    char start[24], end[24];
    mdf_event_id_of(event_id, siem_nz(n->cluster_id), siem_nz(n->node_id), "scan", siem_nz(s->type),
                    siem_ms_text(s->start_ms, start), siem_ms_text(s->end_ms, end));

    int64_t time = s->end_ms != MDF_TIME_NONE     ? s->end_ms
                   : s->start_ms != MDF_TIME_NONE ? s->start_ms
                                                  : n->time_ms;
    bool detections = s->threat_count != MDF_COUNT_NONE && s->threat_count > 0;

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    write_class(&w, 6007, "Scan Activity", 6, "Application Activity", activity, activity_name);
    mdf_jsonw_kint(&w, "time", time);
    siem_kms_opt(&w, "start_time", s->start_ms);
    siem_kms_opt(&w, "end_time", s->end_ms);
    if (s->start_ms != MDF_TIME_NONE && s->end_ms != MDF_TIME_NONE && s->end_ms >= s->start_ms)
        mdf_jsonw_kint(&w, "duration", s->end_ms - s->start_ms);
    siem_kcount_opt(&w, "num_files", s->files_scanned);
    siem_kcount_opt(&w, "num_detections", s->threat_count);

    /* Type 1 (Manual): every scan mdefleet reads was started on demand by
     * scanRuntime or by hand, never by Defender's own schedule that we
     * could tell apart in the report. */
    char scan_name[128];
    snprintf(scan_name, sizeof scan_name, "%s%sscan", s->type ? s->type : "", s->type ? " " : "");
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
    return siem_finish(&w, out, mark);
}

/* ---- threats: Detection Finding -------------------------------------------- */

int mdf_ocsf_threat(const mdf_node_ctx *n, const mdf_threat *t, mdf_buf *out,
                    char event_id[MDF_UUID_STRSZ])
{
    char uid[MDF_UUID_STRSZ];
    siem_finding_uid(n, t, uid);
    /* The status is part of the key: quarantining a threat is a new fact
     * about the same finding, and must not be dropped as a copy. */
    mdf_event_id_of(event_id, siem_nz(n->cluster_id), siem_nz(n->node_id), "threat", uid,
                    siem_nz(t->status), NULL);

    bool remediated = mdf_threat_remediated(t);
    const char *class_caption;
    int class_id = malware_class(t->category, &class_caption);

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    write_class(&w, 2004, "Detection Finding", 2, "Findings", 1, "Create");
    mdf_jsonw_kint(&w, "time", t->detection_ms != MDF_TIME_NONE ? t->detection_ms : n->time_ms);

    mdf_jsonw_key(&w, "finding_info");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "uid", uid);
    /* title is required through OCSF 1.3 */
    mdf_jsonw_kstr(&w, "title", t->name ? t->name : "Unknown threat");
    if (t->category)
        siem_kone_str(&w, "types", t->category);
    siem_kms_opt(&w, "first_seen_time", t->detection_ms);
    mdf_jsonw_obj_end(&w);

    mdf_jsonw_key(&w, "malware");
    mdf_jsonw_arr_begin(&w);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "name", t->name);
    mdf_jsonw_key(&w, "classification_ids");
    mdf_jsonw_arr_begin(&w);
    mdf_jsonw_int(&w, class_id);
    mdf_jsonw_arr_end(&w);
    siem_kone_str(&w, "classifications", class_caption);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_arr_end(&w);

    mdf_jsonw_kint(&w, "status_id", remediated ? 4 : 1);
    mdf_jsonw_kstr(&w, "status", remediated ? "Resolved" : "New");
    mdf_jsonw_kstr(&w, "status_detail", t->status);
    write_severity(&w, siem_threat_severity(t));
    mdf_jsonw_kbool(&w, "is_alert", !remediated);
    if (!remediated) {
        mdf_buf desc;
        mdf_buf_init(&desc, SIEM_LINE_MAX);
        if (mdf_buf_appendf(&desc, "Quarantine or remove the file on %s; run a full scan.",
                            siem_host_of(n)) != 0)
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
    return siem_finish(&w, out, mark);
}
