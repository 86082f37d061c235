/* Helpers for the programs that consume: setting librdkafka properties with
 * an error line, and reading a header of a consumed message. */
#ifndef MDF_KAFKA_CONSUMER_H
#define MDF_KAFKA_CONSUMER_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "kafka_record.h"

/* rd_kafka_conf_set with its refusal as "kafka KEY: why". */
int mdf_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                       size_t errsz);

/* The value of a header of a consumed message, copied into buf; NULL when
 * absent (or too long for buf, or holding a NUL). */
const char *mdf_message_header(const rd_kafka_message_t *m, const char *name, char *buf,
                               size_t bufsz);

#endif
