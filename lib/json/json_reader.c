#include "json_reader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "strconv.h"
#include "vec.h"

#define NUM_MAX 400 /* longest number text accepted */

typedef struct parser {
    const char *p, *start, *end;
    int depth, max_depth;
    mdf_arena *arena;
    /* children of the containers being built, popped on close */
    mdf_vec vals;     /* mdf_jval */
    mdf_vec mems;     /* mdf_jmember */
    const char *what; /* first error: what went wrong ... */
    const char *at;   /* ... and where */
} parser;

static bool fail(parser *ps, const char *what, const char *at)
{
    if (!ps->what) {
        ps->what = what;
        ps->at = at;
    }
    return false;
}

static void skip_ws(parser *ps)
{
    const char *p = ps->p;
    while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static bool parse_value(parser *ps, mdf_jval *v);

static bool read_hex4(parser *ps, const char *p, unsigned *out)
{
    if (ps->end - p < 4)
        return fail(ps, "truncated \\u escape", p);
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = mdf_hex_digit(p[i]);
        if (h < 0)
            return fail(ps, "bad \\u escape", p + i);
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* Decodes the escaped string body [p, q) into the arena. */
static bool unescape(parser *ps, const char *p, const char *q, const char **s, uint32_t *len)
{
    char *out = mdf_arena_alloc(ps->arena, (size_t)(q - p) + 1);
    char *o = out;
    if (!out)
        return fail(ps, "out of memory", p);
    while (p < q) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        p++;
        switch (*p++) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (!read_hex4(ps, p, &cp))
                return false;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || !read_hex4(ps, p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, "unpaired surrogate in \\u escape", p);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(ps, "unpaired surrogate in \\u escape", p - 6);
            }
            /* UTF-8; the escape text is always longer than its encoding */
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return fail(ps, "bad escape in string", p - 2);
        }
    }
    *s = out;
    *len = (uint32_t)(o - out);
    return true;
}

/* At the opening quote. Strings without escapes point into the input. */
static bool parse_string(parser *ps, const char **s, uint32_t *len)
{
    const char *start = ps->p + 1, *p = start;
    bool escaped = false;
    for (;;) {
        while (p < ps->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            p++;
        if (p >= ps->end)
            return fail(ps, "unterminated string", ps->p);
        if (*p == '"')
            break;
        if (*p != '\\')
            return fail(ps, "control character in string", p);
        escaped = true;
        if (++p >= ps->end)
            return fail(ps, "unterminated string", ps->p);
        p++;
    }
    if ((size_t)(p - start) > UINT32_MAX)
        return fail(ps, "string too long", start);
    ps->p = p + 1;
    if (!escaped) {
        *s = start;
        *len = (uint32_t)(p - start);
        return true;
    }
    return unescape(ps, start, p, s, len);
}

static bool parse_number(parser *ps, mdf_jval *v)
{
    const char *p = ps->p, *start = p, *end = ps->end;
    bool integral = true;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return fail(ps, "unexpected character", start);
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return fail(ps, "leading zero in number", start);
    } else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && *p == '.') {
        integral = false;
        if (++p >= end || *p < '0' || *p > '9')
            return fail(ps, "bad number", start);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, "bad number", start);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - start);
    if (n > NUM_MAX)
        return fail(ps, "number too long", start);
    v->s = start;
    v->len = (uint32_t)n;
    ps->p = p;
    if (integral) {
        /* digits only: accumulate with an overflow check */
        const char *d = start + (*start == '-');
        uint64_t acc = 0, limit = *start == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        bool fits = true;
        for (; d < p && fits; d++) {
            unsigned dg = (unsigned)(*d - '0');
            if (acc > (limit - dg) / 10)
                fits = false;
            else
                acc = acc * 10 + dg;
        }
        if (fits) {
            v->type = MDF_J_INT;
            v->u.i = *start == '-' ? (int64_t)(0 - acc) : (int64_t)acc;
            return true;
        }
    }
    char tmp[NUM_MAX + 1];
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    v->type = MDF_J_DOUBLE;
    v->u.d = strtod(tmp, NULL);
    return true;
}

static bool literal(parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected character", ps->p);
    ps->p += n;
    return true;
}

static bool push_val(parser *ps, const mdf_jval *v)
{
    mdf_jval *slot = mdf_vec_add(&ps->vals);
    if (!slot)
        return fail(ps, "out of memory", ps->p);
    *slot = *v;
    return true;
}

static bool push_mem(parser *ps, const mdf_jmember *m)
{
    mdf_jmember *slot = mdf_vec_add(&ps->mems);
    if (!slot)
        return fail(ps, "out of memory", ps->p);
    *slot = *m;
    return true;
}

/* Moves the children pushed since `base` into the arena. */
static void *pop_children(parser *ps, mdf_vec *stack, size_t base)
{
    size_t n = stack->len - base;
    if (n == 0)
        return NULL;
    void *dst = mdf_arena_alloc(ps->arena, n * stack->elem);
    if (!dst) {
        fail(ps, "out of memory", ps->p);
        return NULL;
    }
    memcpy(dst, (char *)stack->data + base * stack->elem, n * stack->elem);
    stack->len = base;
    return dst;
}

static bool parse_array(parser *ps, mdf_jval *v)
{
    size_t base = ps->vals.len;
    ps->p++; /* [ */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            mdf_jval item;
            if (!parse_value(ps, &item) || !push_val(ps, &item))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end)
                return fail(ps, "unexpected end of input", ps->p);
            if (*ps->p == ']') {
                ps->p++;
                break;
            }
            if (*ps->p != ',')
                return fail(ps, "expected , or ]", ps->p);
            ps->p++;
            skip_ws(ps);
        }
    }
    size_t n = ps->vals.len - base;
    if (n > UINT32_MAX)
        return fail(ps, "array too long", ps->p);
    v->type = MDF_J_ARRAY;
    v->len = (uint32_t)n;
    v->u.items = pop_children(ps, &ps->vals, base);
    return !ps->what;
}

static bool parse_object(parser *ps, mdf_jval *v)
{
    size_t base = ps->mems.len;
    ps->p++; /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            mdf_jmember m;
            if (ps->p >= ps->end)
                return fail(ps, "unexpected end of input", ps->p);
            if (*ps->p != '"')
                return fail(ps, "expected a key in double quotes", ps->p);
            if (!parse_string(ps, &m.key, &m.klen))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, ps->p >= ps->end ? "unexpected end of input" : "expected :", ps->p);
            ps->p++;
            skip_ws(ps);
            if (!parse_value(ps, &m.val) || !push_mem(ps, &m))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end)
                return fail(ps, "unexpected end of input", ps->p);
            if (*ps->p == '}') {
                ps->p++;
                break;
            }
            if (*ps->p != ',')
                return fail(ps, "expected , or }", ps->p);
            ps->p++;
            skip_ws(ps);
        }
    }
    size_t n = ps->mems.len - base;
    if (n > UINT32_MAX)
        return fail(ps, "object too long", ps->p);
    v->type = MDF_J_OBJECT;
    v->len = (uint32_t)n;
    v->u.members = pop_children(ps, &ps->mems, base);
    return !ps->what;
}

/* At the first byte of a value (blanks skipped by the caller). */
static bool parse_value(parser *ps, mdf_jval *v)
{
    memset(v, 0, sizeof *v);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of input", ps->p);
    switch (*ps->p) {
    case '{':
    case '[': {
        if (ps->depth >= ps->max_depth)
            return fail(ps, "nesting too deep", ps->p);
        ps->depth++;
        bool ok = *ps->p == '{' ? parse_object(ps, v) : parse_array(ps, v);
        ps->depth--;
        return ok;
    }
    case '"':
        v->type = MDF_J_STRING;
        return parse_string(ps, &v->s, &v->len);
    case 't':
        v->type = MDF_J_BOOL;
        v->b = true;
        return literal(ps, "true", 4);
    case 'f':
        v->type = MDF_J_BOOL;
        return literal(ps, "false", 5);
    case 'n':
        v->type = MDF_J_NULL;
        return literal(ps, "null", 4);
    default:
        return parse_number(ps, v);
    }
}

void mdf_jdoc_free(mdf_jdoc *doc)
{
    if (!doc)
        return;
    mdf_arena_free(&doc->arena);
    free(doc->input);
    free(doc);
}

int mdf_jdoc_parse(char **input, size_t len, int max_depth, mdf_jdoc **out, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_jdoc *doc = calloc(1, sizeof *doc);
    parser ps = {0};
    *out = NULL;
    if (!doc) {
        free(*input);
        *input = NULL;
        return mdf_seterr(err, errsz, "out of memory");
    }
    doc->input = *input;
    *input = NULL;
    mdf_arena_init(&doc->arena);
    ps.start = ps.p = doc->input ? doc->input : "";
    ps.end = ps.start + len;
    ps.max_depth = max_depth;
    ps.arena = &doc->arena;
    /* each value and each member takes at least one byte of the input */
    mdf_vec_init(&ps.vals, sizeof(mdf_jval), len);
    mdf_vec_init(&ps.mems, sizeof(mdf_jmember), len);
    skip_ws(&ps);
    if (ps.p == ps.end) {
        mdf_seterr(err, errsz, "not JSON: empty input");
        goto cleanup;
    }
    if (parse_value(&ps, &doc->root)) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, "data after the document", ps.p);
    }
    if (ps.what) {
        /* line and column are only worth counting when reporting */
        size_t off = (size_t)(ps.at - ps.start);
        int64_t line = 1;
        const char *ls = ps.start, *nl;
        while ((nl = memchr(ls, '\n', (size_t)(ps.at - ls))) != NULL) {
            line++;
            ls = nl + 1;
        }
        if (strcmp(ps.what, "nesting too deep") == 0)
            mdf_seterr(err, errsz,
                       "not JSON: nesting deeper than %d at line %" PRId64
                       ", column %zu (byte %zu)",
                       max_depth, line, (size_t)(ps.at - ls) + 1, off);
        else
            mdf_seterr(err, errsz, "not JSON: %s at line %" PRId64 ", column %zu (byte %zu)",
                       ps.what, line, (size_t)(ps.at - ls) + 1, off);
        goto cleanup;
    }
    *out = doc;
    doc = NULL;
    rc = MDF_OK;
cleanup:
    mdf_vec_free(&ps.vals);
    mdf_vec_free(&ps.mems);
    mdf_jdoc_free(doc);
    return rc;
}

const mdf_jval *mdf_jget(const mdf_jval *obj, const char *key)
{
    if (!obj || obj->type != MDF_J_OBJECT)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = obj->len; i-- > 0;) {
        const mdf_jmember *m = &obj->u.members[i];
        if (m->klen == klen && memcmp(m->key, key, klen) == 0)
            return &m->val;
    }
    return NULL;
}

const char *mdf_jtype_name(const mdf_jval *v)
{
    static const char *const names[] = {"null",   "boolean", "number", "number",
                                        "string", "array",   "object"};
    return v ? names[v->type] : "missing";
}

bool mdf_jstr_is(const mdf_jval *v, const char *s)
{
    size_t n = strlen(s);
    return v && v->type == MDF_J_STRING && v->len == n && memcmp(v->s, s, n) == 0;
}
