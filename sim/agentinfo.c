#include "agentinfo.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json_writer.h"
#include "strmap.h"
#include "util.h"

/* Files scanned by a quick scan when the node has no scan to copy from: the
 * count of the Nexus documentation's example. */
#define DEFAULT_QUICK_FILES 1750
/* Time between two history entries of a threat (detected -> quarantined). */
#define HISTORY_STEP_MS 250

/* One scan of the merged list: from the scenario or run by scanRuntime. */
typedef struct scan_view {
    const char *type, *state;
    int64_t start_ms, end_ms, files;
    bool from_scenario;
} scan_view;

static int by_start(const void *a, const void *b)
{
    const scan_view *x = a, *y = b;
    return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

/* The scan a threat belongs to: the one running when it was detected, else
 * the latest scenario scan (so threats never move onto simulated scans). */
static size_t scan_of_threat(const scan_view *scans, size_t n, const sim_threat *t, size_t fallback)
{
    for (size_t i = 0; i < n; i++)
        if (scans[i].start_ms <= t->detected_ms && t->detected_ms <= scans[i].end_ms)
            return i;
    return fallback;
}

/* A name-based UUID of the node and the threat's identity (name, detection
 * time) and of nothing else: the same threat has the same id in every
 * extract, also once its status changed in the next phase. */
static void tracking_id(const char *node, const sim_threat *t, char out[MDF_UUID_STRSZ])
{
    char name[512];
    int n = snprintf(name, sizeof name, "%s\n%s\n%" PRId64, node, t->name, t->detected_ms);
    sim_uuid_named(name, n > 0 && (size_t)n < sizeof name ? (size_t)n : sizeof name - 1, out);
}

/* {"threat":{...},"detection_time":ms,"history":[{"key","value"}...]} */
static void write_threat(mdf_jsonw *w, const char *node, const sim_threat *t)
{
    char id[MDF_UUID_STRSZ];
    tracking_id(node, t, id);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "threat");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "tracking_id", id);
    mdf_jsonw_kstr(w, "name", t->name);
    mdf_jsonw_kstr(w, "type", t->type);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_kint(w, "detection_time", t->detected_ms);
    mdf_jsonw_key(w, "history");
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < t->n_status; i++) {
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kint(w, "key", t->detected_ms + (int64_t)i * HISTORY_STEP_MS);
        mdf_jsonw_kstr(w, "value", t->status[i]);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
    mdf_jsonw_obj_end(w);
}

static void kstr_int(mdf_jsonw *w, const char *key, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    mdf_jsonw_kstr(w, key, s);
}

/* mdatp scan list: camelCase, every number a string */
static void write_scan_list(mdf_jsonw *w, const scan_view *scans, size_t n)
{
    mdf_jsonw_key(w, "scanList");
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        mdf_jsonw_obj_begin(w);
        kstr_int(w, "endTime", scans[i].end_ms);
        kstr_int(w, "filesScanned", scans[i].files);
        kstr_int(w, "startTime", scans[i].start_ms);
        mdf_jsonw_kstr(w, "state", scans[i].state);
        mdf_jsonw_key(w, "threats");
        mdf_jsonw_arr_begin(w);
        mdf_jsonw_arr_end(w);
        mdf_jsonw_kstr(w, "type", scans[i].type);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
}

/* mdatp threat list + quarantine list: snake_case, real numbers */
static void write_threat_info(mdf_jsonw *w, const char *node, const sim_report *r,
                              const scan_view *scans, size_t n, const size_t *owner)
{
    mdf_jsonw_key(w, "threatInformation");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "list");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "threats");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "scans");
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "type", scans[i].type);
        mdf_jsonw_kint(w, "start_time", scans[i].start_ms);
        mdf_jsonw_kint(w, "end_time", scans[i].end_ms);
        mdf_jsonw_kint(w, "files_scanned", scans[i].files);
        mdf_jsonw_key(w, "threats");
        mdf_jsonw_arr_begin(w);
        for (size_t t = 0; t < r->n_threats; t++)
            if (owner[t] == i)
                write_threat(w, node, &r->threats[t]);
        mdf_jsonw_arr_end(w);
        mdf_jsonw_kstr(w, "state", scans[i].state);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_key(w, "quarantineList");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "type", "quarantined");
    mdf_jsonw_key(w, "threats");
    mdf_jsonw_arr_begin(w);
    for (size_t t = 0; t < r->n_threats; t++) {
        const sim_threat *th = &r->threats[t];
        if (strcmp(th->status[th->n_status - 1], "quarantined") == 0)
            write_threat(w, node, th);
    }
    mdf_jsonw_arr_end(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
}

/* {"displayValue","isManaged","value"}: how mdatp health writes managed settings */
static void managed_bool(mdf_jsonw *w, const char *key, bool v, bool managed)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kbool(w, "displayValue", v);
    mdf_jsonw_kbool(w, "isManaged", managed);
    mdf_jsonw_kbool(w, "value", v);
    mdf_jsonw_obj_end(w);
}

static void managed_str(mdf_jsonw *w, const char *key, const char *v)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "displayValue", v);
    mdf_jsonw_kbool(w, "isManaged", false);
    mdf_jsonw_kstr(w, "value", v);
    mdf_jsonw_obj_end(w);
}

static void write_definitions_status(mdf_jsonw *w)
{
    mdf_jsonw_key(w, "definitionsStatus");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "$type", "upToDate");
    mdf_jsonw_obj_end(w);
}

static int64_t minutes_ago(const sim_health *h, int64_t now_ms)
{
    int64_t m = (now_ms - h->definitions_updated_ms) / 60000;
    return m > 0 ? m : 0;
}

/* mdatp health --output json */
static void write_health(mdf_jsonw *w, const char *node, const sim_health *h, int64_t now_ms)
{
    char edr[MDF_UUID_STRSZ], guid[MDF_UUID_STRSZ], edr_hex[41];
    char name[160];
    int n = snprintf(name, sizeof name, "edr\n%s", node);
    sim_uuid_named(name, (size_t)(n > 0 && (size_t)n < sizeof name ? n : 0), edr);
    sim_uuid_named(node, strlen(node), guid);
    /* edrMachineId is 40 hex digits: the UUID's 32 plus the first 8 again */
    size_t o = 0;
    for (size_t i = 0; edr[i] && o < 32; i++)
        if (edr[i] != '-')
            edr_hex[o++] = edr[i];
    memcpy(edr_hex + 32, edr_hex, 8);
    edr_hex[40] = '\0';

    mdf_jsonw_key(w, "generalHealth");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "$type", "getHealthAllResult");
    mdf_jsonw_kbool(w, "healthy", h->healthy);
    sim_jsonw_kstrs(w, "healthIssues", h->issues, h->n_issues);
    mdf_jsonw_kbool(w, "licensed", h->licensed);
    mdf_jsonw_kstr(w, "appVersion", h->app_version);
    mdf_jsonw_kstr(w, "engineVersion", h->engine_version);
    mdf_jsonw_kstr(w, "definitionsVersion", h->definitions_version);
    kstr_int(w, "definitionsUpdated", h->definitions_updated_ms);
    mdf_jsonw_kint(w, "definitionsUpdatedMinutesAgo", minutes_ago(h, now_ms));
    write_definitions_status(w);
    /* a year of licence from the definitions' date: stable across runs */
    kstr_int(w, "productExpiration", h->definitions_updated_ms + INT64_C(365) * 86400000);
    mdf_jsonw_kstr(w, "orgId", "11111111-2222-3333-4444-555555555555");
    mdf_jsonw_kstr(w, "edrMachineId", edr_hex);
    mdf_jsonw_kstr(w, "machineGuid", guid);
    mdf_jsonw_kstr(w, "releaseRing", "Production");
    mdf_jsonw_kbool(w, "realTimeProtectionAvailable", true);
    mdf_jsonw_kstr(w, "realTimeProtectionSubsystem", "fanotify");
    managed_bool(w, "realTimeProtectionEnabled", h->real_time_protection, true);
    managed_bool(w, "passiveModeEnabled", h->passive_mode, true);
    managed_str(w, "behaviorMonitoring", "disabled");
    managed_str(w, "tamperProtection", "audit");
    managed_bool(w, "cloudEnabled", true, false);
    managed_bool(w, "automaticDefinitionUpdateEnabled", true, false);
    mdf_jsonw_kstr(w, "supplementaryEventsSubsystem", "ebpf");
    mdf_jsonw_kstr(w, "networkProtectionStatus", "stopped");
    mdf_jsonw_key(w, "conflictingApplications");
    mdf_jsonw_arr_begin(w);
    mdf_jsonw_arr_end(w);
    mdf_jsonw_kbool(w, "troubleshootingMode", false);
    mdf_jsonw_obj_end(w);
}

/* realTimeProtectionStats and eventProviderStats. Their counts are derived
 * from the node's name so that a node reports the same numbers each time. */
static void write_diagnostics(mdf_jsonw *w, const char *node, const sim_health *health)
{
    uint64_t h = mdf_hash_bytes(node, strlen(node));
    mdf_jsonw_key(w, "diagnosticInformation");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "realTimeProtectionStats");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "counters");
    mdf_jsonw_arr_begin(w);
    if (health->real_time_protection) {
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kint(w, "id", 1);
        mdf_jsonw_kstr(w, "name", "fanotify");
        mdf_jsonw_kstr(w, "path", "/usr/bin/containerd");
        mdf_jsonw_kint(w, "total_files_scanned", (int64_t)(1000 + h % 9000));
        mdf_jsonw_kint(w, "total_scan_time", (int64_t)(20000 + (h >> 16) % 80000));
        mdf_jsonw_kint(w, "max_file_scan_time", (int64_t)(50 + (h >> 32) % 400));
        mdf_jsonw_key(w, "scanned_file_paths");
        mdf_jsonw_arr_begin(w);
        mdf_jsonw_arr_end(w);
        mdf_jsonw_kbool(w, "is_active", true);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
    mdf_jsonw_obj_end(w);
    /* The shape of eventProviderStats is not documented; this is a guess. */
    mdf_jsonw_key(w, "eventProviderStats");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "ebpf");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kint(w, "events", (int64_t)(100000 + (h >> 8) % 900000));
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
}

static void write_definitions(mdf_jsonw *w, const sim_health *h, int64_t now_ms)
{
    mdf_jsonw_key(w, "mdeDefinitions");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "definitionsVersion", h->definitions_version);
    kstr_int(w, "definitionsUpdated", h->definitions_updated_ms);
    mdf_jsonw_kint(w, "definitionsUpdatedMinutesAgo", minutes_ago(h, now_ms));
    write_definitions_status(w);
    mdf_jsonw_obj_end(w);
}

/* The managed configuration's antivirusEngine.enforcementLevel that matches
 * the health flags (real_time | passive | on_demand). */
static void write_configuration(mdf_jsonw *w, const sim_health *h)
{
    const char *level = h->real_time_protection ? "real_time"
                        : h->passive_mode       ? "passive"
                                                : "on_demand";
    mdf_jsonw_key(w, "mdeConfiguration");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "antivirusEngine");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "enforcementLevel", level);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_obj_end(w);
}

int sim_agentinfo_json(const char *node, const sim_report *r, const sim_extra_scan *extra,
                       size_t n_extra, int64_t now_ms, mdf_buf *out, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    size_t n = r->n_scans + n_extra;
    scan_view *scans = calloc(n ? n : 1, sizeof *scans);
    size_t *owner = calloc(r->n_threats ? r->n_threats : 1, sizeof *owner);
    if (!scans || !owner) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    int64_t copy_files = DEFAULT_QUICK_FILES, latest = INT64_MIN;
    for (size_t i = 0; i < r->n_scans; i++) {
        const sim_scan *s = &r->scans[i];
        scans[i] = (scan_view){s->type,  s->state, s->start_ms, s->start_ms + s->duration_ms,
                               s->files, true};
        if (s->start_ms >= latest) {
            latest = s->start_ms;
            copy_files = s->files;
        }
    }
    for (size_t i = 0; i < n_extra; i++)
        scans[r->n_scans + i] = (scan_view){"quick",         "succeeded", extra[i].start_ms,
                                            extra[i].end_ms, copy_files,  false};
    qsort(scans, n, sizeof *scans, by_start);
    /* the latest scenario scan, found again after sorting */
    size_t fallback = 0;
    for (size_t i = 0; i < n; i++)
        if (scans[i].from_scenario && scans[i].start_ms == latest)
            fallback = i;
    for (size_t t = 0; t < r->n_threats; t++)
        owner[t] = scan_of_threat(scans, n, &r->threats[t], fallback);

    mdf_jsonw w;
    mdf_jsonw_init(&w, out, NULL);
    mdf_jsonw_obj_begin(&w);
    write_diagnostics(&w, node, &r->health);
    write_definitions(&w, &r->health, now_ms);
    write_health(&w, node, &r->health, now_ms);
    write_configuration(&w, &r->health);
    write_scan_list(&w, scans, n);
    write_threat_info(&w, node, r, scans, n, owner);
    mdf_jsonw_obj_end(&w);
    if (mdf_jsonw_finish(&w) != 0) {
        mdf_seterr(err, errsz, "report of %s larger than the %zu-byte cap", node, out->max);
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    free(scans);
    free(owner);
    return rc;
}

/* ---- tar.gz ---------------------------------------------------------------- */

static la_ssize_t to_buf(struct archive *a, void *ctx, const void *data, size_t len)
{
    if (mdf_buf_append(ctx, data, len) != 0) {
        archive_set_error(a, ENOMEM, "archive larger than its cap");
        return -1;
    }
    return (la_ssize_t)len;
}

static int add_entry(struct archive *a, struct archive_entry *e, const char *path, bool dir,
                     const char *data, size_t len, int64_t mtime_s)
{
    archive_entry_clear(e);
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, dir ? 0755 : 0644);
    archive_entry_set_size(e, dir ? 0 : (la_int64_t)len);
    archive_entry_set_mtime(e, (time_t)mtime_s, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    if (archive_write_header(a, e) != ARCHIVE_OK)
        return MDF_ERR;
    if (!dir && len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len)
        return MDF_ERR;
    return archive_write_finish_entry(a) == ARCHIVE_OK ? MDF_OK : MDF_ERR;
}

#define BOMB_PATH "hostfs/tmp/runcommand/padding.bin"

/* bomb_mib MiB of zeros as BOMB_PATH, a MiB at a time. */
static int add_bomb(struct archive *a, struct archive_entry *e, int64_t bomb_mib, int64_t mtime_s)
{
    static const char zeros[1 << 20];
    archive_entry_clear(e);
    archive_entry_set_pathname(e, BOMB_PATH);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)bomb_mib << 20);
    archive_entry_set_mtime(e, (time_t)mtime_s, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK)
        return MDF_ERR;
    for (int64_t i = 0; i < bomb_mib; i++) {
        if (archive_write_data(a, zeros, sizeof zeros) != (la_ssize_t)sizeof zeros)
            return MDF_ERR;
    }
    return archive_write_finish_entry(a) == ARCHIVE_OK ? MDF_OK : MDF_ERR;
}

int sim_agentinfo_archive(const char *json, size_t len, int64_t mtime_ms, int64_t bomb_mib,
                          mdf_buf *out, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int64_t mtime_s = mtime_ms / 1000;
    if (!a || !e) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    if (archive_write_set_format_ustar(a) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        /* no zero padding after the gzip stream: the blob is exactly it */
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, out, NULL, to_buf, NULL) != ARCHIVE_OK ||
        add_entry(a, e, "hostfs/", true, NULL, 0, mtime_s) != MDF_OK ||
        add_entry(a, e, "hostfs/tmp/", true, NULL, 0, mtime_s) != MDF_OK ||
        add_entry(a, e, "hostfs/tmp/runcommand/", true, NULL, 0, mtime_s) != MDF_OK ||
        (bomb_mib > 0 && add_bomb(a, e, bomb_mib, mtime_s) != MDF_OK) ||
        add_entry(a, e, SIM_AGENTINFO_PATH, false, json, len, mtime_s) != MDF_OK ||
        archive_write_close(a) != ARCHIVE_OK) {
        mdf_seterr(err, errsz, "cannot write the archive: %s",
                   archive_error_string(a) ? archive_error_string(a) : "unknown error");
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    if (e)
        archive_entry_free(e);
    if (a)
        archive_write_free(a);
    return rc;
}

void sim_agentinfo_corrupt(mdf_buf *archive)
{
    /* Keep the gzip header and a little more than half the deflate stream:
     * a reader inflates the start, then hits the end of input. */
    size_t keep = archive->len * 6 / 10;
    if (keep < 12)
        keep = archive->len < 12 ? archive->len : 12;
    archive->len = keep;
    if (archive->data)
        archive->data[keep] = '\0';
}
