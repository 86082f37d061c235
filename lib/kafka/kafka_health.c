/* Kafka at start and consumer lag (kafka_health.h). */
#include "kafka_health.h"

#include <string.h>

#include <json-c/json.h>

#include "err.h"
#include "strconv.h"

int mdf_kafka_wait_broker(rd_kafka_t *rk, const char *bootstrap, int64_t timeout_ms, char *err,
                          size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    /* no topic: any broker that answers will do */
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, (int)timeout_ms);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return MDF_OK;
    return mdf_seterr(err, errsz,
                      "kafka: no broker of %s answered within %lld s (%s): is "
                      "kafka.bootstrap.servers right and the broker up?",
                      bootstrap && *bootstrap ? bootstrap : "(kafka.bootstrap.servers unset)",
                      (long long)(timeout_ms / 1000), rd_kafka_err2str(e));
}

int mdf_kafka_stats_lag(const char *json, size_t len, mdf_lag_cb cb, void *ctx, char *err,
                        size_t errsz)
{
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    json_object *topics = NULL;
    int rc = MDF_ERR;
    if (!root || !json_object_object_get_ex(root, "topics", &topics) ||
        !json_object_is_type(topics, json_type_object)) {
        mdf_seterr(err, errsz, "kafka statistics: not a statistics document");
        goto cleanup;
    }
    json_object_object_foreach(topics, name, t) {
        json_object *parts = NULL;
        if (!json_object_object_get_ex(t, "partitions", &parts) ||
            !json_object_is_type(parts, json_type_object))
            continue;
        json_object_object_foreach(parts, key, p) {
            int64_t partition = -1;
            json_object *lag = NULL;
            if (mdf_parse_int64(key, strlen(key), &partition) != MDF_OK || partition < 0 ||
                partition > INT32_MAX || !json_object_object_get_ex(p, "consumer_lag", &lag) ||
                !json_object_is_type(lag, json_type_int))
                continue;
            int64_t v = json_object_get_int64(lag);
            if (v >= 0)
                cb(ctx, name, (int32_t)partition, v);
        }
    }
    rc = MDF_OK;
cleanup:
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return rc;
}
