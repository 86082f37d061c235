/* OCSF records of one node's report (ocsf.h).
 *
 * Scan results and threats follow OCSF 1.8.0 (Scan Activity 6007,
 * Detection Finding 2004); every enum id and caption below is that
 * release's (the compiled schema's classes and objects). What OCSF has no
 * attribute for (rack, cluster, job, MDE's own words) goes under
 * "unmapped", because SIEM parsers that validate OCSF reject unknown
 * fields. An attribute that a profile adds is valid only when the record
 * names the profile in metadata.profiles, so each class below lists the
 * profiles of exactly the attributes it writes. Each function appends
 * exactly one object to `out` or, when the buffer's cap is reached, leaves
 * `out` as it was and returns MDF_ERR. */
#include "ocsf.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "siem_common.h"
#include "topics.h"

/* The product that reports, as agent, metadata product and malware
 * provider. */
static const char MDE_PRODUCT[] = "Microsoft Defender for Endpoint";
static const char MDE_VENDOR[] = "Microsoft";

/* A value the source states; an empty one states nothing. */
static bool known(const char *s)
{
    return s && *s;
}

/* ---- OCSF enums ------------------------------------------------------------ */

/* An enum value and its caption. For 99 (Other) the caption is the
 * source's own word, as OCSF asks. */
typedef struct ocsf_enum {
    int id;
    const char *caption;
} ocsf_enum;

/* 0 and 99 mean the same in every OCSF enum (the schema's dictionary). */
enum { OCSF_OTHER = 99 };
static const ocsf_enum OCSF_UNKNOWN = {0, "Unknown"};
static const char OCSF_OTHER_CAPTION[] = "Other";

/* scan_activity.activity_id and status_id, scan.type_id */
static const ocsf_enum SCAN_COMPLETED = {2, "Completed"};
static const ocsf_enum SCAN_CANCELLED = {3, "Cancelled"};
static const ocsf_enum SCAN_ERROR = {6, "Error"};
static const ocsf_enum SCAN_SUCCESS = {1, "Success"};
static const ocsf_enum SCAN_FAILURE = {2, "Failure"};
static const ocsf_enum SCAN_MANUAL = {1, "Manual"};

/* detection_finding.activity_id (ids from ocsf.h) and status_id */
static const ocsf_enum FINDING_CREATE = {MDF_FINDING_CREATE, "Create"};
static const ocsf_enum FINDING_UPDATE = {MDF_FINDING_UPDATE, "Update"};
static const ocsf_enum FINDING_CLOSE = {MDF_FINDING_CLOSE, "Close"};
static const ocsf_enum FINDING_NEW = {1, "New"};
static const ocsf_enum FINDING_IN_PROGRESS = {2, "In Progress"};
static const ocsf_enum FINDING_RESOLVED = {4, "Resolved"};

/* disposition_id and action_id (security_control) */
static const ocsf_enum DISP_ALLOWED = {1, "Allowed"};
static const ocsf_enum DISP_QUARANTINED = {3, "Quarantined"};
static const ocsf_enum DISP_DELETED = {5, "Deleted"};
static const ocsf_enum DISP_RESTORED = {9, "Restored"};
static const ocsf_enum DISP_CORRECTED = {11, "Corrected"};
static const ocsf_enum DISP_DETECTED = {15, "Detected"};
static const ocsf_enum ACTION_ALLOWED = {1, "Allowed"};
static const ocsf_enum ACTION_DENIED = {2, "Denied"};
static const ocsf_enum ACTION_OBSERVED = {3, "Observed"};

/* device.type_id, agent.type_id, account.type_id, observable.type_id */
static const ocsf_enum DEVICE_SERVER = {1, "Server"};
static const ocsf_enum AGENT_EDR = {1, "Endpoint Detection and Response"};
static const ocsf_enum ACCOUNT_AZURE_SUBSCRIPTION = {13, "Azure Subscription"};
static const ocsf_enum OBSERVABLE_HOSTNAME = {1, "Hostname"};
static const ocsf_enum OBSERVABLE_RESOURCE_UID = {10, "Resource UID"};

/* malware.classification_ids. There is no 12; Trojan, Virus and Worm are
 * 18, 19 and 22. */
static const ocsf_enum MAL_ADWARE = {1, "Adware"};
static const ocsf_enum MAL_BACKDOOR = {2, "Backdoor"};
static const ocsf_enum MAL_DDOS = {5, "DDOS"};
static const ocsf_enum MAL_DOWNLOADER = {6, "Downloader"};
static const ocsf_enum MAL_DROPPER = {7, "Dropper"};
static const ocsf_enum MAL_RANSOMWARE = {10, "Ransomware"};
static const ocsf_enum MAL_ROGUE = {14, "Rogue-Security-Software"};
static const ocsf_enum MAL_SPYWARE = {17, "Spyware"};
static const ocsf_enum MAL_TROJAN = {18, "Trojan"};
static const ocsf_enum MAL_VIRUS = {19, "Virus"};
static const ocsf_enum MAL_WORM = {22, "Worm"};

/* Exact CARO types first; any other Trojan* (TrojanSpy, TrojanProxy, ...)
 * is a Trojan. HackTool, Exploit (an exploit, not an exploit kit), PUA and
 * the rest have no OCSF class and are Other. */
static const struct {
    const char *caro; /* Microsoft's CARO type */
    const ocsf_enum *ocsf;
} caro_classes[] = {
    {"Adware", &MAL_ADWARE},
    {"Backdoor", &MAL_BACKDOOR},
    {"DDoS", &MAL_DDOS},
    {"TrojanDownloader", &MAL_DOWNLOADER},
    {"TrojanDropper", &MAL_DROPPER},
    {"Ransom", &MAL_RANSOMWARE},
    {"Rogue", &MAL_ROGUE},
    {"Spyware", &MAL_SPYWARE},
    {"Trojan", &MAL_TROJAN},
    {"Virus", &MAL_VIRUS},
    {"Worm", &MAL_WORM},
};

/* For Other, the caption is the CARO type itself: classifications[] then
 * carries the source's value. */
static ocsf_enum malware_class(const char *category)
{
    if (!known(category))
        return OCSF_UNKNOWN;
    for (size_t i = 0; i < sizeof caro_classes / sizeof *caro_classes; i++) {
        if (siem_ieq(category, caro_classes[i].caro))
            return *caro_classes[i].ocsf;
    }
    if (siem_iprefix(category, "Trojan"))
        return MAL_TROJAN;
    return (ocsf_enum){OCSF_OTHER, category};
}

/* MDE's status words (lower case, as mdf_threat_remediated matches them).
 * Without a status the threat was only detected. */
static const struct {
    const char *status;
    const ocsf_enum *disposition;
} dispositions[] = {
    {"detected", &DISP_DETECTED}, {"quarantined", &DISP_QUARANTINED}, {"removed", &DISP_DELETED},
    {"cleaned", &DISP_CORRECTED}, {"remediated", &DISP_CORRECTED},    {"allowed", &DISP_ALLOWED},
    {"restored", &DISP_RESTORED},
};

static ocsf_enum disposition_of(const char *status)
{
    if (!known(status))
        return DISP_DETECTED;
    for (size_t i = 0; i < sizeof dispositions / sizeof *dispositions; i++) {
        if (strcmp(status, dispositions[i].status) == 0)
            return *dispositions[i].disposition;
    }
    return (ocsf_enum){OCSF_OTHER, status};
}

/* What the control did: remediating denies the threat; allowing it is the
 * user's exception; anything else was seen and left alone. */
static ocsf_enum action_of(const mdf_threat *t, const ocsf_enum *disposition)
{
    if (mdf_threat_remediated(t))
        return ACTION_DENIED;
    return disposition->id == DISP_ALLOWED.id ? ACTION_ALLOWED : ACTION_OBSERVED;
}

static ocsf_enum finding_activity(mdf_finding_activity a)
{
    switch (a) {
    case MDF_FINDING_CREATE:
        return FINDING_CREATE;
    case MDF_FINDING_UPDATE:
        return FINDING_UPDATE;
    case MDF_FINDING_CLOSE:
        return FINDING_CLOSE;
    }
    return OCSF_UNKNOWN;
}

/* ---- the OCSF parts every record shares ----------------------------------- */

typedef struct ocsf_class {
    ocsf_enum cls, category;
    mdf_topic topic;             /* its name is the log_name */
    const char *const *profiles; /* NULL-terminated */
} ocsf_class;

/* In Scan Activity, device comes from the host profile and cloud from the
 * cloud profile. */
static const char *const scan_profiles[] = {"host", "cloud", NULL};
static const ocsf_class SCAN_ACTIVITY = {
    {6007, "Scan Activity"}, {6, "Application Activity"}, MDF_TOPIC_SCAN_RESULTS, scan_profiles};

/* In Detection Finding, device, malware and is_alert are the class's own;
 * cloud comes from the cloud profile, disposition and action from
 * security_control. */
static const char *const finding_profiles[] = {"cloud", "security_control", NULL};
static const ocsf_class DETECTION_FINDING = {
    {2004, "Detection Finding"}, {2, "Findings"}, MDF_TOPIC_THREATS, finding_profiles};

/* Unknown values are left out: OCSF treats null as absent anyway. */
static void kstr_opt(mdf_jsonw *w, const char *key, const char *s)
{
    if (known(s))
        mdf_jsonw_kstr(w, key, s);
}

/* String members, each left out when unknown. */
typedef struct ocsf_kstr {
    const char *key, *value;
} ocsf_kstr;

static void kstrs_opt(mdf_jsonw *w, const ocsf_kstr *m, size_t count)
{
    for (size_t i = 0; i < count; i++)
        kstr_opt(w, m[i].key, m[i].value);
}

static void kenum(mdf_jsonw *w, const char *id_key, const char *caption_key, const ocsf_enum *e)
{
    mdf_jsonw_kint(w, id_key, e->id);
    mdf_jsonw_kstr(w, caption_key, e->caption);
}

static void write_class(mdf_jsonw *w, const ocsf_class *c, const ocsf_enum *activity)
{
    char type_name[128];
    snprintf(type_name, sizeof type_name, "%s: %s", c->cls.caption,
             activity->id == OCSF_OTHER ? OCSF_OTHER_CAPTION : activity->caption);
    kenum(w, "class_uid", "class_name", &c->cls);
    kenum(w, "category_uid", "category_name", &c->category);
    kenum(w, "activity_id", "activity_name", activity);
    mdf_jsonw_kint(w, "type_uid", (int64_t)c->cls.id * 100 + activity->id);
    mdf_jsonw_kstr(w, "type_name", type_name);
}

static void write_severity(mdf_jsonw *w, int sev)
{
    mdf_jsonw_kint(w, "severity_id", sev);
    mdf_jsonw_kstr(w, "severity", siem_sev_caption[sev]);
}

static const char *agent_version(const mdf_node_ctx *n)
{
    return n->agent ? n->agent->app_version : NULL;
}

static void write_metadata(mdf_jsonw *w, const ocsf_class *c, const mdf_node_ctx *n,
                           const char *event_id)
{
    mdf_jsonw_key(w, "metadata");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "version", OCSF_VERSION);
    mdf_jsonw_kstr(w, "uid", event_id);
    kstr_opt(w, "correlation_uid", n->job_id);
    mdf_jsonw_key(w, "product");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", MDE_PRODUCT);
    mdf_jsonw_kstr(w, "vendor_name", MDE_VENDOR);
    kstr_opt(w, "version", agent_version(n));
    mdf_jsonw_key(w, "feature");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", "mdefleet");
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_kstr(w, "log_name", mdf_topic_key(c->topic));
    mdf_jsonw_key(w, "profiles");
    mdf_jsonw_arr_begin(w);
    for (const char *const *p = c->profiles; *p; p++)
        mdf_jsonw_str(w, *p);
    mdf_jsonw_arr_end(w);
    mdf_jsonw_obj_end(w);
}

/* The MDE agent on the device, when the report names it. */
static void write_agent(mdf_jsonw *w, const mdf_health *a)
{
    if (!a || (!known(a->edr_machine_id) && !known(a->app_version)))
        return;
    mdf_jsonw_key(w, "agent_list");
    mdf_jsonw_arr_begin(w);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", MDE_PRODUCT);
    mdf_jsonw_kstr(w, "vendor_name", MDE_VENDOR);
    kenum(w, "type_id", "type", &AGENT_EDR);
    kstr_opt(w, "uid", a->edr_machine_id);
    kstr_opt(w, "version", a->app_version);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_arr_end(w);
}

static void write_device_cloud(mdf_jsonw *w, const mdf_node_ctx *n)
{
    const ocsf_kstr ids[] = {{"hostname", n->machine_name}, {"name", n->node}, {"uid", n->node_id}};
    mdf_jsonw_key(w, "device");
    mdf_jsonw_obj_begin(w);
    kstrs_opt(w, ids, sizeof ids / sizeof *ids);
    kenum(w, "type_id", "type", &DEVICE_SERVER);
    kstr_opt(w, "region", n->region);
    write_agent(w, n->agent);
    mdf_jsonw_obj_end(w);

    mdf_jsonw_key(w, "cloud");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "provider", "Azure");
    kstr_opt(w, "region", n->region);
    if (known(n->subscription)) {
        mdf_jsonw_key(w, "account");
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "uid", n->subscription);
        kenum(w, "type_id", "type", &ACCOUNT_AZURE_SUBSCRIPTION);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_obj_end(w);
}

static void write_observable(mdf_jsonw *w, const char *name, const ocsf_enum *type,
                             const char *value)
{
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", name);
    kenum(w, "type_id", "type", type);
    mdf_jsonw_kstr(w, "value", value);
    mdf_jsonw_obj_end(w);
}

/* What a SIEM indexes to find every record of a machine: its host name and
 * its resource id, named by where they stand in the record. */
static void write_observables(mdf_jsonw *w, const mdf_node_ctx *n)
{
    if (!known(n->machine_name) && !known(n->node_id))
        return;
    mdf_jsonw_key(w, "observables");
    mdf_jsonw_arr_begin(w);
    if (known(n->machine_name))
        write_observable(w, "device.hostname", &OBSERVABLE_HOSTNAME, n->machine_name);
    if (known(n->node_id))
        write_observable(w, "device.uid", &OBSERVABLE_RESOURCE_UID, n->node_id);
    mdf_jsonw_arr_end(w);
}

/* Opens "unmapped" with what OCSF has no place for; the caller may add
 * members and closes it. */
static void begin_unmapped(mdf_jsonw *w, const mdf_node_ctx *n)
{
    const ocsf_kstr ids[] = {{"cluster_resource_id", n->cluster_id},
                             {"cluster", n->cluster},
                             {"node_resource_id", n->node_id},
                             {"rack_id", n->rack_id},
                             {"job_id", n->job_id}};
    mdf_jsonw_key(w, "unmapped");
    mdf_jsonw_obj_begin(w);
    kstrs_opt(w, ids, sizeof ids / sizeof *ids);
}

/* timezone_offset 0: every time here is epoch ms, which is UTC. */
static void write_common(mdf_jsonw *w, const ocsf_class *c, const mdf_node_ctx *n,
                         const char *event_id)
{
    mdf_jsonw_kint(w, "timezone_offset", 0);
    write_metadata(w, c, n, event_id);
    write_device_cloud(w, n);
    write_observables(w, n);
    begin_unmapped(w, n);
}

/* ---- scan.results: Scan Activity ------------------------------------------ */

static const struct {
    const char *state; /* MDE's */
    const ocsf_enum *activity, *status;
} scan_states[] = {
    {"succeeded", &SCAN_COMPLETED, &SCAN_SUCCESS},
    {"cancelled", &SCAN_CANCELLED, &OCSF_UNKNOWN},
    {"canceled", &SCAN_CANCELLED, &OCSF_UNKNOWN},
    {"failed", &SCAN_ERROR, &SCAN_FAILURE},
};

int mdf_ocsf_scan(const mdf_node_ctx *n, const mdf_scan *s, mdf_buf *out,
                  char event_id[MDF_UUID_STRSZ])
{
    /* An unknown state word is Other, and activity_name carries it. */
    ocsf_enum activity = known(s->state) ? (ocsf_enum){OCSF_OTHER, s->state} : OCSF_UNKNOWN;
    const ocsf_enum *status = &OCSF_UNKNOWN;
    for (size_t i = 0; i < sizeof scan_states / sizeof *scan_states; i++) {
        if (siem_ieq(s->state, scan_states[i].state)) {
            activity = *scan_states[i].activity;
            status = scan_states[i].status;
            break;
        }
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
    write_class(&w, &SCAN_ACTIVITY, &activity);
    mdf_jsonw_kint(&w, "time", time);
    siem_kms_opt(&w, "start_time", s->start_ms);
    siem_kms_opt(&w, "end_time", s->end_ms);
    if (s->start_ms != MDF_TIME_NONE && s->end_ms != MDF_TIME_NONE && s->end_ms >= s->start_ms)
        mdf_jsonw_kint(&w, "duration", s->end_ms - s->start_ms);
    siem_kcount_opt(&w, "num_files", s->files_scanned);
    siem_kcount_opt(&w, "num_detections", s->threat_count);

    /* Manual: every scan mdefleet reads was started on demand by
     * scanRuntime or by hand, never by Defender's own schedule that we
     * could tell apart in the report. MDE's own type (quick, full) is not
     * an OCSF scan type: it names the scan. */
    char scan_name[128];
    snprintf(scan_name, sizeof scan_name, "%s%sscan", known(s->type) ? s->type : "",
             known(s->type) ? " " : "");
    mdf_jsonw_key(&w, "scan");
    mdf_jsonw_obj_begin(&w);
    kenum(&w, "type_id", "type", &SCAN_MANUAL);
    mdf_jsonw_kstr(&w, "name", scan_name);
    mdf_jsonw_obj_end(&w);

    kenum(&w, "status_id", "status", status);
    kstr_opt(&w, "status_detail", s->state);
    write_severity(&w, detections ? SEV_LOW : SEV_INFO);
    write_common(&w, &SCAN_ACTIVITY, n, event_id);
    kstr_opt(&w, "scan_type", s->type);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_obj_end(&w);
    return siem_finish(&w, out, mark);
}

/* ---- threats: Detection Finding -------------------------------------------- */

static void write_malware(mdf_jsonw *w, const mdf_threat *t, const char *name)
{
    ocsf_enum cls = malware_class(t->category);
    mdf_jsonw_key(w, "malware");
    mdf_jsonw_arr_begin(w);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", name);
    mdf_jsonw_key(w, "classification_ids");
    mdf_jsonw_arr_begin(w);
    mdf_jsonw_int(w, cls.id);
    mdf_jsonw_arr_end(w);
    siem_kone_str(w, "classifications", cls.caption);
    mdf_jsonw_kstr(w, "provider", MDE_PRODUCT);
    /* the finding's severity is the malware's: both come from its type */
    write_severity(w, siem_threat_severity(t));
    mdf_jsonw_obj_end(w);
    mdf_jsonw_arr_end(w);
}

int mdf_ocsf_threat(const mdf_node_ctx *n, const mdf_threat *t, const mdf_finding_change *c,
                    mdf_buf *out, char event_id[MDF_UUID_STRSZ])
{
    char uid[MDF_UUID_STRSZ];
    siem_finding_uid(n, t, uid);
    /* One id per change of the finding: the same change produced twice is
     * a copy, a new change is a new event. */
    mdf_event_id_of(event_id, siem_nz(n->cluster_id), siem_nz(n->node_id), "threat", uid,
                    siem_nz(c->change_key), NULL);

    ocsf_enum activity = finding_activity(c->activity);
    /* A closed finding is resolved whatever MDE last said of the threat
     * (a threat gone from the report may never have been remediated). */
    bool open = c->open && c->activity != MDF_FINDING_CLOSE;
    const ocsf_enum *status = !open                               ? &FINDING_RESOLVED
                              : c->activity == MDF_FINDING_CREATE ? &FINDING_NEW
                                                                  : &FINDING_IN_PROGRESS;
    /* A threat gone from the report keeps the disposition last known. */
    ocsf_enum disposition = disposition_of(t->status);
    ocsf_enum action = action_of(t, &disposition);
    /* The change's own time (the lifecycle gives MDE's history key, also
     * for a Create of a threat already remediated); else a Create is when
     * MDE detected the threat, and a change with no time of its own (gone)
     * is when the report said so. */
    int64_t time = c->time_ms != MDF_TIME_NONE ? c->time_ms
                   : c->activity == MDF_FINDING_CREATE && t->detection_ms != MDF_TIME_NONE
                       ? t->detection_ms
                       : n->time_ms;
    /* finding_info.title and malware.name: a malware needs a name */
    const char *title = known(t->name) ? t->name : "Unknown threat";

    mdf_jsonw w;
    size_t mark;
    siem_begin(&w, out, &mark);
    mdf_jsonw_obj_begin(&w);
    write_class(&w, &DETECTION_FINDING, &activity);
    mdf_jsonw_kint(&w, "time", time);

    mdf_jsonw_key(&w, "finding_info");
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "uid", uid);
    mdf_jsonw_kstr(&w, "title", title);
    if (known(t->category))
        siem_kone_str(&w, "types", t->category);
    /* created by its Create, modified by each later change */
    mdf_jsonw_kint(&w, c->activity == MDF_FINDING_CREATE ? "created_time" : "modified_time", time);
    siem_kms_opt(&w, "first_seen_time", c->first_seen_ms);
    siem_kms_opt(&w, "last_seen_time", c->last_seen_ms);
    mdf_jsonw_obj_end(&w);

    write_malware(&w, t, title);
    kenum(&w, "disposition_id", "disposition", &disposition);
    kenum(&w, "action_id", "action", &action);
    kenum(&w, "status_id", "status", status);
    kstr_opt(&w, "status_detail", c->gone ? SIEM_GONE : t->status);
    write_severity(&w, siem_threat_severity(t));
    mdf_jsonw_kbool(&w, "is_alert", open);
    if (open) {
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
    write_common(&w, &DETECTION_FINDING, n, event_id);
    kstr_opt(&w, "tracking_id", t->tracking_id);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_obj_end(&w);
    return siem_finish(&w, out, mark);
}
