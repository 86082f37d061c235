#include "kafka_consumer.h"

#include <string.h>

#include "err.h"

int mdf_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                       size_t errsz)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK)
        return mdf_seterr(err, errsz, "kafka %s: %s", key, why);
    return MDF_OK;
}

const char *mdf_message_header(const rd_kafka_message_t *m, const char *name, char *buf,
                               size_t bufsz)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t size = 0;
    if (bufsz == 0)
        return NULL;
    /* rd_kafka_message_headers() takes a non-const message: it parses the
     * headers lazily into the message on first use. */
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (rd_kafka_header_get_last(hdrs, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (!val)
        size = 0;
    /* A value that does not fit, or holds a NUL, is treated as absent: a
     * cut event id would silently match or miss the wrong record. */
    if (size >= bufsz || (size > 0 && memchr(val, '\0', size)))
        return NULL;
    if (size > 0)
        memcpy(buf, val, size);
    buf[size] = '\0';
    return buf;
}
