#include "records.h"

#include <stdio.h>

#include "buf.h"
#include "clock.h"
#include "err.h"

const mdf_metric_def mdf_jobs_finished_def = {.type = MDF_COUNTER,
                                              .name = "mdefleet_jobs_finished_total",
                                              .help = "Jobs ended, by kind and terminal status",
                                              .labels = {"kind", "status"},
                                              .n_labels = 2,
                                              .max_series = 16};

const char *mdf_jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

json_object *mdf_rec_job_status(const char *job_id, const char *job_kind, const char *cluster_id,
                                const char *kind, const char *id_part,
                                char event_id[MDF_UUID_STRSZ])
{
    mdf_event_id_of(event_id, job_id, "status", kind, id_part, NULL, NULL);
    json_object *s = json_object_new_object();
    json_object_object_add(s, "event_id", json_object_new_string(event_id));
    json_object_object_add(s, "job_id", json_object_new_string(job_id));
    json_object_object_add(s, "time", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(s, "job_kind", json_object_new_string(job_kind));
    json_object_object_add(s, "cluster_id", json_object_new_string(cluster_id));
    json_object_object_add(s, "kind", json_object_new_string(kind));
    return s;
}

static json_object *str_or_null(const char *s)
{
    return s && *s ? json_object_new_string(s) : NULL;
}

json_object *mdf_rec_node_outcome(const char *job_id, const char *cluster_id,
                                  const mdf_node_result *res, char event_id[MDF_UUID_STRSZ])
{
    json_object *s =
        mdf_rec_job_status(job_id, "Scan", cluster_id, "NodeOutcome", res->node, event_id);
    json_object *n = json_object_new_object();
    json_object_object_add(n, "node", json_object_new_string(res->node));
    json_object_object_add(n, "machine_name", str_or_null(res->machine_name));
    json_object_object_add(n, "result",
                           json_object_new_string(res->succeeded ? "Succeeded" : "Failed"));
    json_object_object_add(n, "failure", str_or_null(res->failure));
    json_object_object_add(n, "reason", str_or_null(res->reason));
    json_object_object_add(n, "scans", json_object_new_int(res->scans));
    json_object_object_add(n, "threats", json_object_new_int(res->threats));
    json_object_object_add(n, "finished_at", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(s, "node_outcome", n);
    return s;
}

/* Avro bytes in the codec's JSON form: one code point per byte. */
static json_object *bytes_value(const char *p, size_t n)
{
    mdf_buf b;
    mdf_buf_init(&b, 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            mdf_buf_appendc(&b, (char)c);
        } else {
            mdf_buf_appendc(&b, (char)(0xC0 | c >> 6));
            mdf_buf_appendc(&b, (char)(0x80 | (c & 0x3F)));
        }
    }
    json_object *v = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
    mdf_buf_free(&b);
    return v;
}

json_object *mdf_rec_dead_letter(const char *topic, int32_t partition, int64_t offset,
                                 const char *key, size_t key_len, const char *value,
                                 size_t value_len, const char *correlation, const char *reason,
                                 char event_id[MDF_UUID_STRSZ])
{
    char part[16], off[24], why[MDF_ERRSZ];
    size_t keep = value_len < MDF_DLQ_PAYLOAD_MAX ? value_len : MDF_DLQ_PAYLOAD_MAX;
    if (keep < value_len) {
        mdf_seterr(why, sizeof why, "%s (payload cut to %zu of %zu bytes)", reason, keep,
                   value_len);
        reason = why;
    }
    snprintf(part, sizeof part, "%d", (int)partition);
    snprintf(off, sizeof off, "%lld", (long long)offset);
    mdf_event_id_of(event_id, "dead-letter", topic, part, off, NULL, NULL);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "event_id", json_object_new_string(event_id));
    json_object_object_add(d, "time", json_object_new_int64(mdf_time_now_ms()));
    json_object_object_add(d, "source_topic", json_object_new_string(topic));
    json_object_object_add(d, "source_partition", json_object_new_int(partition));
    json_object_object_add(d, "source_offset", json_object_new_int64(offset));
    json_object_object_add(d, "reason", json_object_new_string(reason));
    json_object_object_add(d, "payload", bytes_value(value ? value : "", keep));
    json_object_object_add(
        d, "key",
        key ? bytes_value(key, key_len < MDF_DLQ_KEY_MAX ? key_len : MDF_DLQ_KEY_MAX) : NULL);
    json_object_object_add(d, "correlation_id", str_or_null(correlation));
    return d;
}
