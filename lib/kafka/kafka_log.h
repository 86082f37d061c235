/* librdkafka's log lines through the program's logger (log.h): its syslog
 * levels mapped (0-3 error, 4 warn, 5-6 info, 7 debug) so that log.level
 * filters them, its facility and client instance name as fields. Set on
 * every rd_kafka_conf_t the programs create. */
#ifndef MDF_KAFKA_LOG_H
#define MDF_KAFKA_LOG_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "log.h"

/* quiet_confwarn: CONFWARN lines at debug, for a client built on purpose
 * from settings meant for another kind of client (a consumer from the
 * producer's kafka.* keys warns about each producer-only property). */
void mdf_kafka_set_log(rd_kafka_conf_t *conf, bool quiet_confwarn);

/* The logger's level for a syslog level. */
mdf_log_level mdf_kafka_log_level(int syslog_level);

#endif
