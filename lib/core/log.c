#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

/* A line fits in one write() below PIPE_BUF (4096), so that writes of
 * several processes to one pipe stay whole. */
#define LINE_MAX_BYTES 4000
#define MSG_MAX_BYTES 2048

static const char *log_program = "mdefleet";
static mdf_log_level log_level = MDF_LOG_INFO;
static mdf_log_format log_format = MDF_LOG_TEXT;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void mdf_log_init(const char *program, mdf_log_level level)
{
    log_program = program;
    log_level = level;
}

void mdf_log_set_format(mdf_log_format format)
{
    log_format = format;
}

mdf_log_format mdf_log_get_format(void)
{
    return log_format;
}

bool mdf_log_enabled(mdf_log_level level)
{
    return level <= log_level;
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

int mdf_log_format_parse(const char *s, mdf_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = MDF_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = MDF_LOG_JSON;
    else
        return MDF_ERR;
    return MDF_OK;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (a stray continuation byte, an overlong form, a surrogate, beyond
 * U+10FFFF, or cut short). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t mdf_log_json_escape(const char *s, size_t n, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    if (outsz == 0)
        return 0;
    while (i < n) {
        char esc[8];
        const char *piece = esc;
        size_t plen, used;
        unsigned char c = p[i];
        size_t ulen = utf8_len(p + i, n - i);
        if (ulen == 0) {
            piece = "\xEF\xBF\xBD"; /* U+FFFD for the byte */
            plen = 3;
            used = 1;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            plen = 2;
            used = 1;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named) {
                piece = named;
                plen = 2;
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                plen = 6;
            }
            used = 1;
        } else {
            piece = (const char *)p + i;
            plen = used = ulen;
        }
        if (o + plen >= outsz)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        i += used;
    }
    out[o] = '\0';
    return o;
}

/* Appends a C string to line[*n], bounded; the JSON helpers below build
 * on it. Output past the end is dropped (the line is still closed). */
static void put(char *line, size_t *n, const char *s)
{
    size_t len = strlen(s);
    if (*n + len >= LINE_MAX_BYTES)
        len = LINE_MAX_BYTES - 1 - *n;
    memcpy(line + *n, s, len);
    *n += len;
}

/* ,"key":"value" with both escaped; room is kept for the closing "}\n" */
static void put_field(char *line, size_t *n, const char *key, const char *value)
{
    const size_t reserve = 3;
    if (*n + reserve + 6 >= LINE_MAX_BYTES)
        return;
    size_t start = *n;
    put(line, n, ",\"");
    *n += mdf_log_json_escape(key, strlen(key), line + *n, LINE_MAX_BYTES - reserve - *n);
    put(line, n, "\":\"");
    if (*n + reserve + 1 >= LINE_MAX_BYTES) {
        *n = start; /* no room for a value: leave the field out */
        return;
    }
    *n += mdf_log_json_escape(value, strlen(value), line + *n, LINE_MAX_BYTES - reserve - 1 - *n);
    put(line, n, "\"");
}

static size_t format_json(char *line, mdf_log_level level, const char *ts, const char *msg,
                          const char *const *fields)
{
    char pid[32];
    size_t n = 0;
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    put(line, &n, "{\"time\":\"");
    put(line, &n, ts);
    put(line, &n, "\",\"level\":\"");
    put(line, &n, level_names[level]);
    put(line, &n, "\"");
    /* the fixed keys first: a long message may crowd out fields, not them */
    put_field(line, &n, "program", log_program);
    put(line, &n, ",\"pid\":");
    put(line, &n, pid);
    put_field(line, &n, "msg", msg);
    for (size_t i = 0; fields && fields[i]; i += 2)
        if (fields[i + 1])
            put_field(line, &n, fields[i], fields[i + 1]);
    put(line, &n, "}");
    return n;
}

/* A printf-like function of a va_list: clang's -Wformat-nonliteral wants it said. */
MDF_PRINTF(3, 0)
static void log_va(mdf_log_level level, const char *const *fields, const char *fmt, va_list ap)
{
    char line[LINE_MAX_BYTES + 1], msg[MSG_MAX_BYTES], ts[MDF_TIME_STRSZ];
    size_t len;
    if (level > log_level)
        return;
    mdf_time_format_ms(mdf_time_now_ms(), ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (log_format == MDF_LOG_JSON) {
        len = format_json(line, level, ts, msg, fields);
    } else {
        int w = snprintf(line, LINE_MAX_BYTES, "%s %s %s[%d]: %s", ts, level_names[level],
                         log_program, (int)getpid(), msg);
        if (w < 0)
            return;
        len = (size_t)w < LINE_MAX_BYTES ? (size_t)w : LINE_MAX_BYTES - 1;
    }
    line[len++] = '\n';
    /* one write per line, so lines of several processes do not interleave */
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nowhere else to report it */
    }
}

void mdf_log(mdf_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(level, NULL, fmt, ap);
    va_end(ap);
}

void mdf_logv_fields(mdf_log_level level, const char *const *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(level, fields, fmt, ap);
    va_end(ap);
}
