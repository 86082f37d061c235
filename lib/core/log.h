/* One line per message on stderr: time, level, program[pid] and the
 * message, written with one write() so that lines of several processes do
 * not interleave. Callers never pass secrets; URLs go through
 * mdf_url_redact first. */
#ifndef MDF_LOG_H
#define MDF_LOG_H

#include "err.h"

typedef enum { MDF_LOG_ERROR, MDF_LOG_WARN, MDF_LOG_INFO, MDF_LOG_DEBUG } mdf_log_level;

void mdf_log_init(const char *program, mdf_log_level level);
/* "error" | "warn" | "info" | "debug"; MDF_ERR for anything else */
int mdf_log_level_parse(const char *s, mdf_log_level *out);
void mdf_log(mdf_log_level level, const char *fmt, ...) MDF_PRINTF(2, 3);

#define mdf_error(...) mdf_log(MDF_LOG_ERROR, __VA_ARGS__)
#define mdf_warn(...) mdf_log(MDF_LOG_WARN, __VA_ARGS__)
#define mdf_info(...) mdf_log(MDF_LOG_INFO, __VA_ARGS__)
#define mdf_debug(...) mdf_log(MDF_LOG_DEBUG, __VA_ARGS__)

#endif
