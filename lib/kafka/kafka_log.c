#include "kafka_log.h"

#include <string.h>

mdf_log_level mdf_kafka_log_level(int syslog_level)
{
    if (syslog_level <= 3)
        return MDF_LOG_ERROR;
    if (syslog_level == 4)
        return MDF_LOG_WARN;
    if (syslog_level <= 6)
        return MDF_LOG_INFO;
    return MDF_LOG_DEBUG;
}

/* Called from librdkafka's own threads: the logger is thread-safe. */
static void log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf,
                     bool quiet_confwarn)
{
    mdf_log_level l = mdf_kafka_log_level(level);
    if (quiet_confwarn && strcmp(fac, "CONFWARN") == 0)
        l = MDF_LOG_DEBUG;
    if (!mdf_log_enabled(l))
        return;
    const char *name = rk ? rd_kafka_name(rk) : "rdkafka";
    if (mdf_log_get_format() == MDF_LOG_JSON)
        mdf_logv_fields(l, MDF_FIELDS("facility", fac, "instance", name), "kafka: %s", buf);
    else
        mdf_log(l, "kafka %s %s: %s", name, fac, buf);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    log_line(rk, level, fac, buf, false);
}

static void on_log_quiet_confwarn(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    log_line(rk, level, fac, buf, true);
}

void mdf_kafka_set_log(rd_kafka_conf_t *conf, bool quiet_confwarn)
{
    rd_kafka_conf_set_log_cb(conf, quiet_confwarn ? on_log_quiet_confwarn : on_log);
}
