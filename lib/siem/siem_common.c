/* Helpers every SIEM- and ticket-facing record shares (siem_common.h). */
#include "siem_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "err.h"

/* Event-id parts: a NULL would end the key early (eventid.h), so an absent
 * value in the middle of a key is the empty string. */
const char *siem_nz(const char *s)
{
    return s ? s : "";
}

/* Epoch ms as decimal text for an event-id part; "" when unknown. */
const char *siem_ms_text(int64_t ms, char out[24])
{
    if (ms == MDF_TIME_NONE) {
        out[0] = '\0';
        return out;
    }
    snprintf(out, 24, "%" PRId64, ms);
    return out;
}

bool siem_ieq(const char *a, const char *b)
{
    return a && strcasecmp(a, b) == 0;
}

bool siem_iprefix(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* strcasestr is a GNU extension; names are short, so the plain loop. */
bool siem_icontains(const char *s, const char *needle)
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
void siem_kms_opt(mdf_jsonw *w, const char *key, int64_t ms)
{
    if (ms != MDF_TIME_NONE)
        mdf_jsonw_kint(w, key, ms);
}

void siem_kcount_opt(mdf_jsonw *w, const char *key, int64_t n)
{
    if (n != MDF_COUNT_NONE)
        mdf_jsonw_kint(w, key, n);
}

/* OCSF's lists that we fill with one value (types, classifications, ...) */
void siem_kone_str(mdf_jsonw *w, const char *key, const char *s)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_arr_begin(w);
    mdf_jsonw_str(w, s);
    mdf_jsonw_arr_end(w);
}

void siem_begin(mdf_jsonw *w, mdf_buf *out, size_t *start)
{
    *start = out->len;
    mdf_jsonw_init(w, out, NULL);
    w->epoch_ms = true; /* every record on Kafka: OCSF's time style */
}

/* A record is all or nothing: on failure the partial object is cut off, so
 * the caller can flush what it has and retry with the same buffer. */
int siem_finish(mdf_jsonw *w, mdf_buf *out, size_t start)
{
    if (mdf_jsonw_finish(w) == 0)
        return MDF_OK;
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return MDF_ERR;
}

const char *siem_host_of(const mdf_node_ctx *n)
{
    return n->machine_name ? n->machine_name : n->node ? n->node : "unknown host";
}

const char *const siem_sev_caption[SEV__COUNT] = {"Unknown", "Informational", "Low",
                                                  "Medium",  "High",          "Critical"};
const char *const siem_sev_lower[SEV__COUNT] = {"unknown", "informational", "low",
                                                "medium",  "high",          "critical"};

bool siem_is_eicar(const mdf_threat *t)
{
    return siem_ieq(t->family, "EICAR_Test_File") || siem_icontains(t->name, "EICAR");
}

/* From the CARO type (the part of the name before ':'). The EICAR test
 * file is named as a virus but is harmless by design: operators use it to
 * check that detection works, so it must not page anyone. */
int siem_threat_severity(const mdf_threat *t)
{
    static const char *const high[] = {"Backdoor", "Virus", "Worm", "Exploit", "DDoS"};
    static const char *const low[] = {"HackTool", "Adware"};
    const char *c = t->category;
    if (siem_is_eicar(t))
        return SEV_INFO;
    if (siem_ieq(c, "Ransom"))
        return SEV_CRITICAL;
    if (siem_iprefix(c, "Trojan"))
        return SEV_HIGH;
    for (size_t i = 0; i < sizeof high / sizeof *high; i++) {
        if (siem_ieq(c, high[i]))
            return SEV_HIGH;
    }
    if (siem_iprefix(c, "PUA"))
        return SEV_LOW;
    for (size_t i = 0; i < sizeof low / sizeof *low; i++) {
        if (siem_ieq(c, low[i]))
            return SEV_LOW;
    }
    return SEV_MEDIUM;
}

/* Stable across scans and jobs: a tracking id is Defender's own, stable
 * identity of a threat on a machine; without one, the name and the
 * detection time are. The two forms have a different number of parts, so
 * they cannot collide. */
void siem_finding_uid(const mdf_node_ctx *n, const mdf_threat *t, char out[MDF_UUID_STRSZ])
{
    if (t->tracking_id && *t->tracking_id) {
        mdf_event_id_of(out, siem_nz(n->cluster_id), siem_nz(n->node_id), "finding", t->tracking_id,
                        NULL, NULL);
    } else {
        char ms[24];
        mdf_event_id_of(out, siem_nz(n->cluster_id), siem_nz(n->node_id), "finding",
                        siem_nz(t->name), siem_ms_text(t->detection_ms, ms), NULL);
    }
}

/* The failure symbol of an outcome: NULL on success; a failed outcome
 * without one is "Other", so that it is never mistaken for success. */
const char *siem_failure_of(const mdf_outcome *o)
{
    if (o->succeeded)
        return NULL;
    return o->failure && *o->failure ? o->failure : "Other";
}
