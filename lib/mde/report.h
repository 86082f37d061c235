/* The MDE report parser: mde-agent-information.json (or the extract's
 * .tar.gz holding it) into a normalized model.
 *
 * Tolerant of shape (numbers written as strings and the reverse, missing,
 * null or wrongly typed sections, unknown keys): what cannot be read becomes
 * a warning and the field stays absent. Strict about limits: input size and
 * nesting depth are capped, and input that is not JSON is refused. */
#ifndef MDF_REPORT_H
#define MDF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "json_writer.h"

#define MDF_REPORT_MAX_BYTES (64u << 20) /* a json-c tree costs ~12x this */
#define MDF_REPORT_MAX_DEPTH 64
#define MDF_REPORT_MAX_WARNINGS 100 /* kept; the rest are only counted */
#define MDF_REPORT_ENTRY_NAME "mde-agent-information.json"

/* A yes/no the report may not state. */
typedef enum { MDF_UNKNOWN = -1, MDF_NO = 0, MDF_YES = 1 } mdf_tri;

#define MDF_COUNT_NONE (-1) /* absent count */

/* Strings are NUL-terminated and owned by the report's arena; NULL when
 * the report does not say. Times are epoch ms or MDF_TIME_NONE. */
typedef struct mdf_scan {
    const char *type;  /* quick, full, custom, ... */
    const char *state; /* succeeded, failed, cancelled, ... */
    int64_t start_ms, end_ms;
    int64_t files_scanned; /* MDF_COUNT_NONE when absent */
    int64_t threat_count;  /* MDF_COUNT_NONE when absent */
} mdf_scan;

typedef struct mdf_threat {
    const char *tracking_id;
    const char *name;     /* Virus:DOS/EICAR_Test_File */
    const char *category; /* Virus   (the CARO parts; NULL when the name */
    const char *platform; /* DOS      does not follow Type:Platform/...) */
    const char *family;   /* EICAR_Test_File */
    const char *variant;  /* IJ  in Backdoor:Linux/Mirai.IJ!MTB */
    const char *suffix;   /* MTB */
    const char *type;     /* mdatp's threat type, e.g. virus */
    const char *status;   /* latest history entry: quarantined, removed, ... */
    int64_t status_key;   /* that entry's key (MDF_TIME_NONE when absent) */
    int64_t detection_ms;
} mdf_threat;

typedef struct mdf_health {
    mdf_tri healthy, licensed;
    mdf_tri real_time_protection_enabled, passive_mode_enabled;
    mdf_tri real_time_protection_available;
    const char *app_version, *engine_version, *definitions_version;
    const char *definitions_status; /* upToDate, ... */
    int64_t definitions_updated_ms, product_expiration_ms;
    const char *release_ring, *org_id, *edr_machine_id;
    const char *behavior_monitoring, *tamper_protection;
    const char **issues; /* healthIssues */
    size_t n_issues;
    bool issues_known; /* false: the report has no healthIssues list */
} mdf_health;

typedef struct mdf_report {
    mdf_scan *scans; /* sorted by start time */
    size_t n_scans;
    mdf_threat *threats; /* from threatInformation.list, once per threat */
    size_t n_threats;
    mdf_threat *quarantine; /* from threatInformation.quarantineList */
    size_t n_quarantine;
    mdf_health health;
    int64_t rtp_files_scanned; /* sum over real-time protection counters */
    const char **warnings;
    size_t n_warnings;
    size_t n_warnings_dropped; /* past MDF_REPORT_MAX_WARNINGS */
    mdf_arena arena;           /* owns every string above */
} mdf_report;

typedef struct mdf_report_limits {
    size_t max_bytes; /* of the JSON document (inside the archive too) */
    int max_depth;
} mdf_report_limits;

/* Defaults: MDF_REPORT_MAX_BYTES, MDF_REPORT_MAX_DEPTH. */
void mdf_report_limits_default(mdf_report_limits *lim);

/* Each parses a report into *out (caller frees with mdf_report_free). A
 * gzip'd tar is recognised by its first bytes and read in memory. lim may
 * be NULL for the defaults. */
int mdf_report_parse_mem(const void *data, size_t len, const mdf_report_limits *lim,
                         mdf_report **out, char *err, size_t errsz);
int mdf_report_parse_file(const char *path, const mdf_report_limits *lim, mdf_report **out,
                          char *err, size_t errsz);
void mdf_report_free(mdf_report *r);

/* True when the threat's latest status means it was dealt with. */
bool mdf_threat_remediated(const mdf_threat *t);

/* The "health" object of the JSON document alone (node reports use it). */
void mdf_report_write_health(const mdf_report *r, mdf_jsonw *w);
/* The normalized model as one JSON document (see README). */
void mdf_report_write_json(const mdf_report *r, mdf_jsonw *w);
/* A readable summary for people; up to `rows` rows per table. */
int mdf_report_write_summary(const mdf_report *r, FILE *fp, size_t rows);

#endif
