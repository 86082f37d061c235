/* What the SIEM- and ticket-facing records share: JSON helpers that keep a
 * record all or nothing, event-id parts, severities and the stable uid of
 * a finding. Internal to lib/siem. */
#ifndef MDF_SIEM_COMMON_H
#define MDF_SIEM_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "eventid.h"
#include "json_writer.h"
#include "report.h"
#include "siem.h"

/* A summary or remediation text is one line; this only bounds a
 * pathological threat name. */
#define SIEM_LINE_MAX 4096

/* Why a threat's finding closed and its ticket resolved when the report
 * no longer lists it. */
#define SIEM_GONE "gone from the report"

enum { SEV_UNKNOWN, SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL, SEV__COUNT };
extern const char *const siem_sev_caption[SEV__COUNT]; /* OCSF's captions */
extern const char *const siem_sev_lower[SEV__COUNT];   /* tickets' */

/* Event-id parts: a NULL would end the key early (eventid.h), so an absent
 * value in the middle of a key is the empty string. */
const char *siem_nz(const char *s);
/* Epoch ms as decimal text for an event-id part; "" when unknown. */
const char *siem_ms_text(int64_t ms, char out[24]);

/* ASCII case-insensitive comparisons; false for a NULL s. */
bool siem_ieq(const char *s, const char *b);
bool siem_iprefix(const char *s, const char *prefix);
bool siem_icontains(const char *s, const char *needle);

/* Epoch ms as a number, omitted when unknown (OCSF timestamps). */
void siem_kms_opt(mdf_jsonw *w, const char *key, int64_t ms);
/* A count, omitted when absent. */
void siem_kcount_opt(mdf_jsonw *w, const char *key, int64_t n);
/* "key":["s"]: OCSF's lists that we fill with one value. */
void siem_kone_str(mdf_jsonw *w, const char *key, const char *s);

/* A record is all or nothing: begin notes where it starts in out; finish
 * returns MDF_OK, or cuts the partial object off and returns MDF_ERR. */
void siem_begin(mdf_jsonw *w, mdf_buf *out, size_t *start);
int siem_finish(mdf_jsonw *w, mdf_buf *out, size_t start);

const char *siem_host_of(const mdf_node_ctx *n);

bool siem_is_eicar(const mdf_threat *t);
/* SEV_* from the CARO type of the threat's name. */
int siem_threat_severity(const mdf_threat *t);
/* The finding's uid, stable for the same threat on the same node. */
void siem_finding_uid(const mdf_node_ctx *n, const mdf_threat *t, char out[MDF_UUID_STRSZ]);
/* The failure symbol of an outcome: NULL on success, "Other" when a failed
 * outcome names none. */
const char *siem_failure_of(const mdf_outcome *o);

#endif
