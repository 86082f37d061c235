#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Deeper than anything the writers produce (MDF_JSONW_MAXDEPTH is 32). */
#define STRICT_DEPTH 64

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "\n%s:%d: oracle failed: %s\n", file, line, what);
    abort();
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

bool fuzz_json_strict(const char *text, size_t len, bool utf8)
{
    json_tokener *tok = json_tokener_new_ex(STRICT_DEPTH);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | (utf8 ? JSON_TOKENER_VALIDATE_UTF8 : 0));
    json_object *j = json_tokener_parse_ex(tok, text, (int)len);
    size_t end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) == json_tokener_continue) {
        /* a bare number is complete only once something follows it */
        j = json_tokener_parse_ex(tok, " ", 1);
        end = len;
    }
    bool ok = json_tokener_get_error(tok) == json_tokener_success; /* j is NULL for null */
    for (size_t i = ok ? end : len; i < len; i++)
        ok = ok && memchr(" \t\r\n", text[i], 4) != NULL; /* JSON white space */
    json_object_put(j);
    json_tokener_free(tok);
    return ok;
}

void fuzz_check_redacted(const char *text)
{
    for (const char *p = text; (p = strstr(p, "http")) != NULL; p++) {
        if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)
            continue;
        size_t n = strcspn(p, " \t\r\n\"'<>");
        const char *q = memchr(p, '?', n);
        FUZZ_CHECK(!q || q == p + n - 1);
    }
}
