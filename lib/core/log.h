/* One line per message on stderr, written with one write() so that lines
 * of several processes and threads do not interleave (librdkafka logs from
 * its own threads). Two formats (log.format):
 *   text  "TIME LEVEL PROGRAM[PID]: MESSAGE"
 *   json  {"time":..,"level":..,"msg":..,"program":..,"pid":..,FIELDS}
 * Fields (job_id, node, topic, ...) appear only in json: the text line is
 * the message alone. JSON strings are escaped and always valid UTF-8
 * (invalid bytes become U+FFFD). Callers never pass secrets; URLs go
 * through mdf_url_redact first. */
#ifndef MDF_LOG_H
#define MDF_LOG_H

#include <stdbool.h>

#include "err.h"

typedef enum { MDF_LOG_ERROR, MDF_LOG_WARN, MDF_LOG_INFO, MDF_LOG_DEBUG } mdf_log_level;
typedef enum { MDF_LOG_TEXT, MDF_LOG_JSON } mdf_log_format;

/* Before any thread logs: the settings are read without a lock. */
void mdf_log_init(const char *program, mdf_log_level level);
void mdf_log_set_format(mdf_log_format format);
mdf_log_format mdf_log_get_format(void);
/* Whether a message at level would be written. */
bool mdf_log_enabled(mdf_log_level level);
/* "error" | "warn" | "info" | "debug"; MDF_ERR for anything else */
int mdf_log_level_parse(const char *s, mdf_log_level *out);
/* "text" | "json"; MDF_ERR for anything else */
int mdf_log_format_parse(const char *s, mdf_log_format *out);

void mdf_log(mdf_log_level level, const char *fmt, ...) MDF_PRINTF(2, 3);
/* With fields: a NULL-terminated array of key, value pairs (a NULL value
 * leaves its key out), e.g. MDF_FIELDS("job_id", id, "node", name). */
void mdf_logv_fields(mdf_log_level level, const char *const *fields, const char *fmt, ...)
    MDF_PRINTF(3, 4);
#define MDF_FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

#define mdf_error(...) mdf_log(MDF_LOG_ERROR, __VA_ARGS__)
#define mdf_warn(...) mdf_log(MDF_LOG_WARN, __VA_ARGS__)
#define mdf_info(...) mdf_log(MDF_LOG_INFO, __VA_ARGS__)
#define mdf_debug(...) mdf_log(MDF_LOG_DEBUG, __VA_ARGS__)
/* mdf_info_f(MDF_FIELDS("job_id", id), "job %s done", id) */
#define mdf_error_f(...) mdf_logv_fields(MDF_LOG_ERROR, __VA_ARGS__)
#define mdf_warn_f(...) mdf_logv_fields(MDF_LOG_WARN, __VA_ARGS__)
#define mdf_info_f(...) mdf_logv_fields(MDF_LOG_INFO, __VA_ARGS__)
#define mdf_debug_f(...) mdf_logv_fields(MDF_LOG_DEBUG, __VA_ARGS__)

/* The JSON string body of s[0..n) (no quotes) into out, NUL-terminated:
 * escapes '"', '\\' and control characters, replaces invalid UTF-8 with
 * U+FFFD, and stops before a character that would not fit. Returns the
 * length written. For the logger and its tests. */
size_t mdf_log_json_escape(const char *s, size_t n, char *out, size_t outsz);

#endif
