#include "json_writer.h"

#include <string.h>

#include "clock.h"
#include "utf8.h"

/* Flush to the FILE once this much is buffered. */
#define JSONW_FLUSH_AT 65536

void mdf_jsonw_init(mdf_jsonw *w, mdf_buf *out, FILE *fp)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->fp = fp;
    w->first[0] = true;
}

static void jw_flush(mdf_jsonw *w)
{
    if (!w->fp || w->out->len == 0)
        return;
    if (fwrite(w->out->data, 1, w->out->len, w->fp) != w->out->len)
        w->failed = true;
    mdf_buf_reset(w->out);
}

static void jw_put(mdf_jsonw *w, const char *s, size_t len)
{
    mdf_buf *b = w->out;
    if (w->failed)
        return;
    /* fast path: room already there (this runs for every token) */
    if (b->data && b->cap - b->len > len) {
        memcpy(b->data + b->len, s, len);
        b->len += len;
        b->data[b->len] = '\0';
        if (w->fp && b->len >= JSONW_FLUSH_AT)
            jw_flush(w);
        return;
    }
    /* streaming: a run longer than the buffer (a 1 MiB string) goes
     * straight to the file after what is buffered, not into the cap */
    if (w->fp && b->len + len > b->max) {
        jw_flush(w);
        if (!w->failed && fwrite(s, 1, len, w->fp) != len)
            w->failed = true;
        return;
    }
    if (mdf_buf_append(b, s, len) != 0)
        w->failed = true;
    else if (w->fp && w->out->len >= JSONW_FLUSH_AT)
        jw_flush(w);
}

/* Writes the separator a new value needs at the current position. */
static void jw_sep(mdf_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        jw_put(w, ",", 1);
    w->first[w->depth] = false;
}

static void jw_open(mdf_jsonw *w, char c)
{
    jw_sep(w);
    if (w->depth + 1 >= MDF_JSONW_MAXDEPTH) {
        w->failed = true;
        return;
    }
    jw_put(w, &c, 1);
    w->first[++w->depth] = true;
}

static void jw_close(mdf_jsonw *w, char c)
{
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    w->depth--;
    jw_put(w, &c, 1);
}

void mdf_jsonw_obj_begin(mdf_jsonw *w)
{
    jw_open(w, '{');
}
void mdf_jsonw_obj_end(mdf_jsonw *w)
{
    jw_close(w, '}');
}
void mdf_jsonw_arr_begin(mdf_jsonw *w)
{
    jw_open(w, '[');
}
void mdf_jsonw_arr_end(mdf_jsonw *w)
{
    jw_close(w, ']');
}

static void jw_escaped(mdf_jsonw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of plain bytes */
    jw_put(w, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* what is not UTF-8 is written as U+FFFD: strict readers
             * refuse the whole document otherwise */
            bool ok;
            size_t seq = mdf_utf8_next(s + i, len - i, &ok);
            if (!ok) {
                jw_put(w, s + run, i - run);
                jw_put(w, "\\ufffd", 6);
                run = i + seq;
            }
            i += seq - 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_put(w, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        jw_put(w, esc, n);
    }
    jw_put(w, s + run, len - run);
    jw_put(w, "\"", 1);
}

void mdf_jsonw_key(mdf_jsonw *w, const char *key)
{
    char quoted[64];
    size_t len = strlen(key);
    jw_sep(w);
    w->after_key = true;
    /* keys are nearly always short plain literals: one put, no escaping */
    if (len + 3 <= sizeof quoted && !memchr(key, '"', len) && !memchr(key, '\\', len)) {
        bool plain = true;
        for (size_t i = 0; i < len && plain; i++)
            plain = (unsigned char)key[i] >= 0x20 && (unsigned char)key[i] < 0x80;
        if (plain) {
            quoted[0] = '"';
            memcpy(quoted + 1, key, len);
            quoted[len + 1] = '"';
            quoted[len + 2] = ':';
            jw_put(w, quoted, len + 3);
            return;
        }
    }
    jw_escaped(w, key, len);
    jw_put(w, ":", 1);
}

void mdf_jsonw_strn(mdf_jsonw *w, const char *s, size_t len)
{
    jw_sep(w);
    if (s)
        jw_escaped(w, s, len);
    else
        jw_put(w, "null", 4);
}

void mdf_jsonw_str(mdf_jsonw *w, const char *s)
{
    mdf_jsonw_strn(w, s, s ? strlen(s) : 0);
}

void mdf_jsonw_int(mdf_jsonw *w, int64_t v)
{
    /* by hand: printf is a measurable cost over a large report */
    char num[24];
    char *p = num + sizeof num;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jw_sep(w);
    jw_put(w, p, (size_t)(num + sizeof num - p));
}

void mdf_jsonw_bool(mdf_jsonw *w, bool v)
{
    jw_sep(w);
    jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void mdf_jsonw_null(mdf_jsonw *w)
{
    jw_sep(w);
    jw_put(w, "null", 4);
}

void mdf_jsonw_raw(mdf_jsonw *w, const char *json, size_t len)
{
    jw_sep(w);
    jw_put(w, json, len);
}

void mdf_jsonw_kstr(mdf_jsonw *w, const char *key, const char *s)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_str(w, s);
}

void mdf_jsonw_kint(mdf_jsonw *w, const char *key, int64_t v)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_int(w, v);
}

void mdf_jsonw_kbool(mdf_jsonw *w, const char *key, bool v)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_bool(w, v);
}

void mdf_jsonw_knull(mdf_jsonw *w, const char *key)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_null(w);
}

int mdf_jsonw_finish(mdf_jsonw *w)
{
    jw_flush(w);
    if (w->fp && fflush(w->fp) != 0)
        w->failed = true;
    return w->failed || w->depth != 0 ? -1 : 0;
}

void mdf_jsonw_ktime(mdf_jsonw *w, const char *key, int64_t ms)
{
    char t[MDF_TIME_STRSZ];
    mdf_jsonw_key(w, key);
    if (ms != MDF_TIME_NONE && w->epoch_ms)
        mdf_jsonw_int(w, ms);
    else if (ms != MDF_TIME_NONE && mdf_time_format_ms(ms, t) == 0)
        mdf_jsonw_str(w, t);
    else
        mdf_jsonw_null(w);
}
