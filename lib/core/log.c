#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static const char *log_program = "mdefleet";
static mdf_log_level log_level = MDF_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void mdf_log_init(const char *program, mdf_log_level level)
{
    log_program = program;
    log_level = level;
}

int mdf_log_level_parse(const char *s, mdf_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (mdf_log_level)i;
            return MDF_OK;
        }
    }
    return MDF_ERR;
}

void mdf_log(mdf_log_level level, const char *fmt, ...)
{
    char line[2048], ts[MDF_TIME_STRSZ];
    if (level > log_level)
        return;
    mdf_time_format_ms(mdf_time_now_ms(), ts);
    int n = snprintf(line, sizeof line, "%s %s %s[%d]: ", ts, level_names[level], log_program,
                     (int)getpid());
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line, so lines of several processes do not interleave */
    size_t len = strlen(line);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nowhere else to report it */
    }
}
