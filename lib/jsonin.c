#include "jsonin.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int mdf_jsonin_init(mdf_jsonin *in, size_t max_bytes, int max_depth, char *err, size_t errsz)
{
    memset(in, 0, sizeof *in);
    in->max_bytes = max_bytes;
    in->max_depth = max_depth;
    in->line = 1;
    in->tok = json_tokener_new_ex(max_depth);
    if (!in->tok)
        return mdf_seterr(err, errsz, "out of memory");
    json_tokener_set_flags(in->tok, JSON_TOKENER_STRICT);
    return MDF_OK;
}

void mdf_jsonin_cleanup(mdf_jsonin *in)
{
    if (in->tok)
        json_tokener_free(in->tok);
    if (in->root)
        json_object_put(in->root);
    in->tok = NULL;
    in->root = NULL;
}

/* Advances the line count over data[0..len). */
static void count_lines(mdf_jsonin *in, const char *data, size_t len, size_t base)
{
    const char *p = data, *end = data + len, *nl;
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        in->line++;
        in->line_start = base + (size_t)(nl - data) + 1;
        p = nl + 1;
    }
}

static int fail_at(mdf_jsonin *in, const char *data, size_t pos, size_t base, const char *what,
                   char *err, size_t errsz)
{
    count_lines(in, data, pos, base);
    size_t off = base + pos;
    return mdf_seterr(err, errsz, "not JSON: %s at line %" PRId64 ", column %zu (byte %zu)", what,
                      in->line, off - in->line_start + 1, off);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* After the document only blanks may follow. */
static int check_trailing(mdf_jsonin *in, const char *data, size_t len, size_t base, char *err,
                          size_t errsz)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_blank(data[i]))
            return fail_at(in, data, i, base, "data after the document", err, errsz);
    }
    count_lines(in, data, len, base);
    return MDF_OK;
}

int mdf_jsonin_feed(mdf_jsonin *in, const char *data, size_t len, char *err, size_t errsz)
{
    size_t base = in->total;
    if (len > in->max_bytes - in->total)
        return mdf_seterr(err, errsz, "input larger than the %zu-byte cap", in->max_bytes);
    in->total += len;
    if (in->root)
        return check_trailing(in, data, len, base, err, errsz);
    size_t done = 0;
    while (done < len) {
        /* json-c takes an int length */
        size_t n = len - done > (1u << 30) ? (1u << 30) : len - done;
        json_object *obj = json_tokener_parse_ex(in->tok, data + done, (int)n);
        enum json_tokener_error jerr = json_tokener_get_error(in->tok);
        size_t used = json_tokener_get_parse_end(in->tok), end = done + used;
        const char *part = data + done;
        if (obj) {
            in->root = obj;
            count_lines(in, part, used, base + done);
            return check_trailing(in, data + end, len - end, base + end, err, errsz);
        }
        if (jerr == json_tokener_error_depth) {
            char what[64];
            snprintf(what, sizeof what, "nesting deeper than %d", in->max_depth);
            return fail_at(in, part, used, base + done, what, err, errsz);
        }
        if (jerr != json_tokener_continue)
            return fail_at(in, part, used, base + done, json_tokener_error_desc(jerr), err, errsz);
        count_lines(in, part, n, base + done);
        done += n;
    }
    return MDF_OK;
}

int mdf_jsonin_finish(mdf_jsonin *in, json_object **out, char *err, size_t errsz)
{
    *out = NULL;
    if (!in->root) {
        if (in->total == 0)
            return mdf_seterr(err, errsz, "not JSON: empty input");
        /* A bare top-level number only ends at a delimiter: offer one. */
        json_object *obj = json_tokener_parse_ex(in->tok, " ", 1);
        if (!obj) {
            enum json_tokener_error jerr = json_tokener_get_error(in->tok);
            return mdf_seterr(err, errsz, "not JSON: %s at line %" PRId64 ", column %zu (byte %zu)",
                              jerr == json_tokener_continue ? "unexpected end of input"
                                                             : json_tokener_error_desc(jerr),
                              in->line, in->total - in->line_start + 1, in->total);
        }
        in->root = obj;
    }
    *out = in->root;
    in->root = NULL;
    return MDF_OK;
}

int mdf_json_parse(const char *data, size_t len, size_t max_bytes, int max_depth,
                   json_object **out, char *err, size_t errsz)
{
    mdf_jsonin in;
    int rc = mdf_jsonin_init(&in, max_bytes, max_depth, err, errsz);
    if (rc == MDF_OK)
        rc = mdf_jsonin_feed(&in, data, len, err, errsz);
    if (rc == MDF_OK)
        rc = mdf_jsonin_finish(&in, out, err, errsz);
    mdf_jsonin_cleanup(&in);
    return rc;
}
