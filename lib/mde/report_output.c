/* Output of the normalized report model: JSON and a readable summary. */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "report.h"

static void kstr_or_null(mdf_jsonw *w, const char *key, const char *s)
{
    mdf_jsonw_kstr(w, key, s); /* NULL is written as null */
}

static void kcount(mdf_jsonw *w, const char *key, int64_t n)
{
    if (n == MDF_COUNT_NONE)
        mdf_jsonw_knull(w, key);
    else
        mdf_jsonw_kint(w, key, n);
}

static void ktri(mdf_jsonw *w, const char *key, mdf_tri v)
{
    if (v == MDF_UNKNOWN)
        mdf_jsonw_knull(w, key);
    else
        mdf_jsonw_kbool(w, key, v == MDF_YES);
}

static void write_threats(mdf_jsonw *w, const char *key, const mdf_threat *t, size_t n)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        mdf_jsonw_obj_begin(w);
        kstr_or_null(w, "tracking_id", t[i].tracking_id);
        kstr_or_null(w, "name", t[i].name);
        kstr_or_null(w, "category", t[i].category);
        kstr_or_null(w, "platform", t[i].platform);
        kstr_or_null(w, "family", t[i].family);
        kstr_or_null(w, "variant", t[i].variant);
        kstr_or_null(w, "suffix", t[i].suffix);
        kstr_or_null(w, "type", t[i].type);
        kstr_or_null(w, "status", t[i].status);
        mdf_jsonw_kbool(w, "remediated", mdf_threat_remediated(&t[i]));
        mdf_jsonw_ktime(w, "detection_time", t[i].detection_ms);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
}

void mdf_report_write_health(const mdf_report *r, mdf_jsonw *w)
{
    const mdf_health *h = &r->health;
    mdf_jsonw_obj_begin(w);
    ktri(w, "healthy", h->healthy);
    ktri(w, "licensed", h->licensed);
    kstr_or_null(w, "app_version", h->app_version);
    kstr_or_null(w, "engine_version", h->engine_version);
    kstr_or_null(w, "definitions_version", h->definitions_version);
    kstr_or_null(w, "definitions_status", h->definitions_status);
    mdf_jsonw_ktime(w, "definitions_updated", h->definitions_updated_ms);
    ktri(w, "real_time_protection_enabled", h->real_time_protection_enabled);
    ktri(w, "real_time_protection_available", h->real_time_protection_available);
    ktri(w, "passive_mode_enabled", h->passive_mode_enabled);
    kstr_or_null(w, "behavior_monitoring", h->behavior_monitoring);
    kstr_or_null(w, "tamper_protection", h->tamper_protection);
    kstr_or_null(w, "release_ring", h->release_ring);
    kstr_or_null(w, "org_id", h->org_id);
    kstr_or_null(w, "edr_machine_id", h->edr_machine_id);
    mdf_jsonw_ktime(w, "product_expiration", h->product_expiration_ms);
    mdf_jsonw_key(w, "issues");
    if (h->issues_known) {
        mdf_jsonw_arr_begin(w);
        for (size_t i = 0; i < h->n_issues; i++)
            mdf_jsonw_str(w, h->issues[i]);
        mdf_jsonw_arr_end(w);
    } else {
        mdf_jsonw_null(w);
    }
    kcount(w, "real_time_protection_files_scanned", r->rtp_files_scanned);
    mdf_jsonw_obj_end(w);
}

void mdf_report_write_json(const mdf_report *r, mdf_jsonw *w)
{
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "scans");
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < r->n_scans; i++) {
        const mdf_scan *s = &r->scans[i];
        mdf_jsonw_obj_begin(w);
        kstr_or_null(w, "type", s->type);
        kstr_or_null(w, "state", s->state);
        mdf_jsonw_ktime(w, "start_time", s->start_ms);
        mdf_jsonw_ktime(w, "end_time", s->end_ms);
        kcount(w, "files_scanned", s->files_scanned);
        kcount(w, "threat_count", s->threat_count);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
    write_threats(w, "threats", r->threats, r->n_threats);
    write_threats(w, "quarantine", r->quarantine, r->n_quarantine);

    mdf_jsonw_key(w, "health");
    mdf_report_write_health(r, w);

    mdf_jsonw_key(w, "warnings");
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < r->n_warnings; i++)
        mdf_jsonw_str(w, r->warnings[i]);
    mdf_jsonw_arr_end(w);
    mdf_jsonw_kint(w, "warnings_dropped", (int64_t)r->n_warnings_dropped);
    mdf_jsonw_obj_end(w);
}

/* ---- summary ------------------------------------------------------------- */

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static const char *tri_word(mdf_tri v, const char *yes, const char *no)
{
    return v == MDF_UNKNOWN ? "unknown" : v == MDF_YES ? yes : no;
}

static const char *time_or_dash(int64_t ms, char buf[MDF_TIME_STRSZ])
{
    if (ms == MDF_TIME_NONE || mdf_time_format_ms(ms, buf) != 0)
        return "-";
    return buf;
}

static void count_or_dash(int64_t n, char *buf, size_t sz)
{
    if (n == MDF_COUNT_NONE)
        snprintf(buf, sz, "-");
    else
        snprintf(buf, sz, "%" PRId64, n);
}

static void summary_threats(FILE *fp, const char *title, const mdf_threat *t, size_t n, size_t rows)
{
    char d[MDF_TIME_STRSZ];
    fprintf(fp, "\n%s: %zu\n", title, n);
    if (n == 0)
        return;
    fprintf(fp, "  %-34s %-12s %-25s %s\n", "NAME", "STATUS", "DETECTED", "TRACKING ID");
    for (size_t i = 0; i < n && i < rows; i++)
        fprintf(fp, "  %-34s %-12s %-25s %s\n", or_dash(t[i].name), or_dash(t[i].status),
                time_or_dash(t[i].detection_ms, d), or_dash(t[i].tracking_id));
    if (n > rows)
        fprintf(fp, "  ... %zu more\n", n - rows);
}

int mdf_report_write_summary(const mdf_report *r, FILE *fp, size_t rows)
{
    const mdf_health *h = &r->health;
    char t1[MDF_TIME_STRSZ], t2[MDF_TIME_STRSZ];
    size_t open = 0;
    for (size_t i = 0; i < r->n_threats; i++)
        open += !mdf_threat_remediated(&r->threats[i]);

    fprintf(fp, "Agent:        %s, %s, app %s, engine %s\n",
            tri_word(h->healthy, "healthy", "NOT healthy"),
            tri_word(h->licensed, "licensed", "NOT licensed"), or_dash(h->app_version),
            or_dash(h->engine_version));
    fprintf(fp, "Protection:   real-time %s, passive mode %s\n",
            tri_word(h->real_time_protection_enabled, "on", "off"),
            tri_word(h->passive_mode_enabled, "on", "off"));
    fprintf(fp, "Definitions:  %s (updated %s)\n", or_dash(h->definitions_version),
            time_or_dash(h->definitions_updated_ms, t1));
    if (h->n_issues) {
        fprintf(fp, "Issues:      ");
        for (size_t i = 0; i < h->n_issues; i++)
            fprintf(fp, " %s%s", h->issues[i], i + 1 < h->n_issues ? "," : "");
        fputc('\n', fp);
    }

    /* the most recent scans are the interesting ones */
    size_t first = r->n_scans > rows ? r->n_scans - rows : 0;
    fprintf(fp, "\nScans: %zu\n", r->n_scans);
    if (r->n_scans) {
        fprintf(fp, "  %-7s %-10s %-25s %-25s %9s %7s\n", "TYPE", "STATE", "START", "END", "FILES",
                "THREATS");
        if (first)
            fprintf(fp, "  ... %zu earlier\n", first);
    }
    for (size_t i = first; i < r->n_scans; i++) {
        const mdf_scan *s = &r->scans[i];
        char files[24], threats[24];
        count_or_dash(s->files_scanned, files, sizeof files);
        count_or_dash(s->threat_count, threats, sizeof threats);
        fprintf(fp, "  %-7s %-10s %-25s %-25s %9s %7s\n", or_dash(s->type), or_dash(s->state),
                time_or_dash(s->start_ms, t1), time_or_dash(s->end_ms, t2), files, threats);
    }

    char title[64];
    snprintf(title, sizeof title, "Threats (%zu not remediated)", open);
    summary_threats(fp, title, r->threats, r->n_threats, rows);
    summary_threats(fp, "Quarantine", r->quarantine, r->n_quarantine, rows);

    fprintf(fp, "\nWarnings: %zu\n", r->n_warnings + r->n_warnings_dropped);
    for (size_t i = 0; i < r->n_warnings && i < rows; i++)
        fprintf(fp, "  %s\n", r->warnings[i]);
    if (r->n_warnings + r->n_warnings_dropped > rows && r->n_warnings >= rows)
        fprintf(fp, "  ... %zu more\n", r->n_warnings + r->n_warnings_dropped - rows);
    return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}
