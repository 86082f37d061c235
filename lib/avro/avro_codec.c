#include "avro_codec.h"

#include <avro.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"
#include "avro_schemas.h"
#include "clock.h"
#include "err.h"

#define CODEC_NAMESPACE "mdefleet.events"
#define CODEC_PATHSZ 256

static const char *const rec_names[MDF_REC__COUNT] = {
    [MDF_REC_ENFORCEMENT_CHANGE] = "EnforcementChange",
    [MDF_REC_SCAN_JOB] = "ScanJob",
    [MDF_REC_NODE_TASK] = "NodeTask",
    [MDF_REC_JOB_STATUS] = "JobStatus",
    [MDF_REC_DEAD_LETTER] = "DeadLetter",
};

struct codec_rec {
    mdf_avro_schema *model;    /* owned: names, defaults, logical types */
    avro_schema_t schema;      /* owned: the same text, parsed by Avro C */
    avro_value_iface_t *iface; /* owned: generic class of schema */
    char *canonical;           /* owned */
    uint64_t fp;
};

struct mdf_codec {
    struct codec_rec rec[MDF_REC__COUNT];
};

const char *mdf_rec_name(mdf_rec_type t)
{
    return (unsigned)t < MDF_REC__COUNT ? rec_names[t] : "?";
}

int mdf_rec_from_name(const char *name, mdf_rec_type *t)
{
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        if (strcmp(name, rec_names[i]) == 0) {
            *t = (mdf_rec_type)i;
            return MDF_OK;
        }
    }
    return MDF_ERR;
}

uint64_t mdf_codec_fingerprint(const mdf_codec *c, mdf_rec_type t)
{
    return c->rec[t].fp;
}

const char *mdf_codec_canonical(const mdf_codec *c, mdf_rec_type t)
{
    return c->rec[t].canonical;
}

/* ---- set-up ------------------------------------------------------------- */

/* Fills r (freed by mdf_codec_destroy() whatever happens) from the
 * embedded schema of that name. */
static int load_rec(struct codec_rec *r, const char *name, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_buf canon;
    mdf_buf_init(&canon, 1 << 20);
    const struct mdf_schema_src *src = NULL;
    for (size_t i = 0; i < mdf_schema_source_count; i++) {
        if (strcmp(mdf_schema_sources[i].name, name) == 0)
            src = &mdf_schema_sources[i];
    }
    if (!src) {
        mdf_seterr(err, errsz, "is not embedded");
        goto cleanup;
    }
    if (mdf_avro_schema_parse(src->text, src->len, &r->model, err, errsz) != MDF_OK)
        goto cleanup;
    const mdf_avro_node *root = r->model->root;
    char want[128];
    snprintf(want, sizeof want, "%s.%s", CODEC_NAMESPACE, name);
    if (root->kind != MDF_AVRO_RECORD || strcmp(root->fullname, want) != 0) {
        mdf_seterr(err, errsz, "is not the record %s", want);
        goto cleanup;
    }
    if (mdf_avro_schema_canonical(r->model, &canon, err, errsz) != MDF_OK)
        goto cleanup;
    r->fp = mdf_avro_crc64(canon.data, canon.len);
    r->canonical = mdf_buf_take(&canon, NULL); /* handed over */
    if (avro_schema_from_json_length(src->text, src->len, &r->schema) != 0) {
        r->schema = NULL;
        mdf_seterr(err, errsz, "Avro C: %s", avro_strerror());
        goto cleanup;
    }
    r->iface = avro_generic_class_from_schema(r->schema);
    if (!r->iface) {
        mdf_seterr(err, errsz, "Avro C: %s", avro_strerror());
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    mdf_buf_free(&canon);
    if (rc != MDF_OK && err && errsz > 0) {
        char inner[MDF_ERRSZ];
        mdf_strlcpy(inner, err, sizeof inner);
        mdf_seterr(err, errsz, "schema %s.avsc: %s", name, inner);
    }
    return rc;
}

void mdf_codec_destroy(mdf_codec *c)
{
    if (!c)
        return;
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        struct codec_rec *r = &c->rec[i];
        if (r->iface)
            avro_value_iface_decref(r->iface);
        if (r->schema)
            avro_schema_decref(r->schema);
        mdf_avro_schema_free(r->model);
        free(r->canonical);
    }
    free(c);
}

int mdf_codec_new(mdf_codec **out, char *err, size_t errsz)
{
    mdf_codec *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return mdf_seterr(err, errsz, "out of memory");
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        if (load_rec(&c->rec[i], rec_names[i], err, errsz) != MDF_OK) {
            mdf_codec_destroy(c);
            return MDF_ERR;
        }
    }
    *out = c; /* handed over */
    return MDF_OK;
}

/* ---- walking values ----------------------------------------------------- */

/* The state of one encode or decode: where in the record we are (for the
 * error message) and how deep. */
typedef struct walk {
    char *err;
    size_t errsz;
    char path[CODEC_PATHSZ];
    size_t plen;
    int depth;
} walk;

static void walk_init(walk *w, const char *root, char *err, size_t errsz)
{
    w->err = err;
    w->errsz = errsz;
    w->depth = 0;
    mdf_strlcpy(w->path, root, sizeof w->path);
    w->plen = strlen(w->path);
}

/* Appends a path segment; returns the length to restore with path_pop().
 * A path too long for the buffer is cut, which only shortens messages. */
MDF_PRINTF(2, 3)
static size_t path_push(walk *w, const char *fmt, ...)
{
    size_t old = w->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->path + old, sizeof w->path - old, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->plen = old + (size_t)n < sizeof w->path ? old + (size_t)n : sizeof w->path - 1;
    return old;
}

static void path_pop(walk *w, size_t old)
{
    w->plen = old;
    w->path[old] = '\0';
}

/* "<path>: <message>" into the caller's error buffer. */
MDF_PRINTF(2, 3)
static int werr(walk *w, const char *fmt, ...)
{
    char msg[MDF_ERRSZ];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mdf_seterr(w->err, w->errsz, "%s: %s", w->path, msg);
}

static int avro_fail(walk *w)
{
    return werr(w, "Avro C: %s", avro_strerror());
}

static int enter(walk *w)
{
    if (++w->depth > MDF_CODEC_MAX_DEPTH)
        return werr(w, "nested deeper than %d", MDF_CODEC_MAX_DEPTH);
    return MDF_OK;
}

static const char *json_kind(json_object *j)
{
    return json_type_to_name(json_object_get_type(j));
}

/* Strict UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF, as a JSON consumer downstream would require. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* 8-4-4-4-12 hex digits (either case). */
static bool uuid_valid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
        char ch = s[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (hyphen ? ch != '-' : !hex)
            return false;
    }
    return true;
}

/* A string value, checked the same way in both directions. */
static int check_string(walk *w, const mdf_avro_node *n, const char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return werr(w, "string contains a NUL character");
    if (!utf8_valid((const unsigned char *)s, len))
        return werr(w, "string is not valid UTF-8");
    if (n->logical == MDF_AVRO_LT_UUID && !uuid_valid(s, len))
        return werr(w, "\"%.*s\" is not a uuid", len > 40 ? 40 : (int)len, s);
    return MDF_OK;
}

/* ---- JSON -> Avro value ------------------------------------------------- */

static int put_value(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v);

/* Avro's JSON encoding of bytes: each code point U+0000..U+00FF is one
 * byte. *out is a new buffer (the caller frees it). */
static int codepoints_to_bytes(walk *w, const char *s, size_t len, unsigned char **out,
                               size_t *outlen)
{
    unsigned char *b = malloc(len ? len : 1);
    size_t k = 0;
    if (!b)
        return werr(w, "out of memory");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            b[k++] = c;
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < len &&
                   ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            b[k++] = (unsigned char)(((c & 0x03) << 6) | ((unsigned char)s[++i] & 0x3F));
        } else {
            free(b);
            return werr(w, "bytes must be code points U+0000..U+00FF (one per byte)");
        }
    }
    *out = b; /* handed over */
    *outlen = k;
    return MDF_OK;
}

static int put_bytes(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    unsigned char *b = NULL;
    size_t blen = 0;
    if (codepoints_to_bytes(w, json_object_get_string(j), (size_t)json_object_get_string_len(j), &b,
                            &blen) != MDF_OK)
        return MDF_ERR;
    int rc = MDF_OK;
    if (n->kind == MDF_AVRO_FIXED && blen != (size_t)n->size)
        rc = werr(w, "fixed %s needs %" PRId64 " bytes, got %zu", n->fullname, n->size, blen);
    else if ((n->kind == MDF_AVRO_FIXED ? avro_value_set_fixed(v, b, blen)
                                        : avro_value_set_bytes(v, b, blen)) != 0)
        rc = avro_fail(w);
    free(b);
    return rc;
}

static int put_string(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    const char *s = json_object_get_string(j);
    size_t len = (size_t)json_object_get_string_len(j);
    if (check_string(w, n, s, len) != MDF_OK)
        return MDF_ERR;
    /* the size Avro C wants counts the NUL */
    if (avro_value_set_string_len(v, s, len + 1) != 0)
        return avro_fail(w);
    return MDF_OK;
}

static int put_enum(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    const char *s = json_object_get_string(j);
    for (size_t i = 0; i < n->n; i++) {
        if (strcmp(n->symbols[i], s) == 0)
            return avro_value_set_enum(v, (int)i) == 0 ? MDF_OK : avro_fail(w);
    }
    return werr(w, "\"%.60s\" is not a symbol of %s", s, n->fullname);
}

/* Integers: json-c clamps what does not fit an int64 to INT64_MAX, which
 * it then reports as a larger uint64. */
static int put_number(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    enum json_type jt = json_object_get_type(j);
    bool is_int = jt == json_type_int;
    int64_t i = is_int ? json_object_get_int64(j) : 0;
    if (is_int && i == INT64_MAX && json_object_get_uint64(j) != (uint64_t)INT64_MAX)
        return werr(w, "number out of range for %s", mdf_avro_kind_name(n->kind));
    int rc;
    switch (n->kind) {
    case MDF_AVRO_INT:
        if (!is_int)
            return werr(w, "expected int, got %s", json_kind(j));
        if (i < INT32_MIN || i > INT32_MAX)
            return werr(w, "%" PRId64 " is out of range for int", i);
        rc = avro_value_set_int(v, (int32_t)i);
        break;
    case MDF_AVRO_LONG:
        if (jt == json_type_string && n->logical == MDF_AVRO_LT_TIMESTAMP_MILLIS) {
            if (mdf_time_parse_rfc3339(json_object_get_string(j), &i) != 0)
                return werr(w, "\"%.60s\" is not an RFC 3339 time", json_object_get_string(j));
        } else if (!is_int) {
            return werr(w, "expected long, got %s", json_kind(j));
        }
        rc = avro_value_set_long(v, i);
        break;
    case MDF_AVRO_FLOAT:
    case MDF_AVRO_DOUBLE:
        if (!is_int && jt != json_type_double)
            return werr(w, "expected %s, got %s", mdf_avro_kind_name(n->kind), json_kind(j));
        rc = n->kind == MDF_AVRO_FLOAT ? avro_value_set_float(v, (float)json_object_get_double(j))
                                       : avro_value_set_double(v, json_object_get_double(j));
        break;
    default:
        return werr(w, "internal: not a number type");
    }
    return rc == 0 ? MDF_OK : avro_fail(w);
}

static int put_record(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    /* unknown keys are refused: in hand-written JSON they are typos */
    json_object_object_foreach(j, key, val) {
        (void)val;
        size_t i = 0;
        while (i < n->n && strcmp(n->fields[i].name, key) != 0)
            i++;
        if (i == n->n)
            return werr(w, "unknown field \"%.60s\"", key);
    }
    for (size_t i = 0; i < n->n; i++) {
        const mdf_avro_field *f = &n->fields[i];
        json_object *fv;
        avro_value_t child;
        size_t mark = path_push(w, ".%s", f->name);
        int rc = MDF_OK;
        if (json_object_object_get_ex(j, f->name, &fv))
            ; /* given */
        else if (f->has_default)
            fv = f->dflt;
        else
            rc = werr(w, "missing required field");
        if (rc == MDF_OK && avro_value_get_by_index(v, i, &child, NULL) != 0)
            rc = avro_fail(w);
        if (rc == MDF_OK)
            rc = put_value(w, f->type, fv, &child);
        if (rc != MDF_OK)
            return MDF_ERR;
        path_pop(w, mark);
    }
    return MDF_OK;
}

static int put_array(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    size_t count = json_object_array_length(j);
    for (size_t i = 0; i < count; i++) {
        avro_value_t elem;
        size_t mark = path_push(w, "[%zu]", i);
        if (avro_value_append(v, &elem, NULL) != 0)
            return avro_fail(w);
        if (put_value(w, n->items, json_object_array_get_idx(j, i), &elem) != MDF_OK)
            return MDF_ERR;
        path_pop(w, mark);
    }
    return MDF_OK;
}

static int put_map(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    json_object_object_foreach(j, key, val) {
        avro_value_t elem;
        size_t mark = path_push(w, "[\"%s\"]", key);
        if (check_string(w, n, key, strlen(key)) != MDF_OK)
            return MDF_ERR;
        if (avro_value_add(v, key, &elem, NULL, NULL) != 0)
            return avro_fail(w);
        if (put_value(w, n->items, val, &elem) != MDF_OK)
            return MDF_ERR;
        path_pop(w, mark);
    }
    return MDF_OK;
}

/* The name a union branch goes by in Avro's wrapped JSON form. */
static bool branch_named(const mdf_avro_node *b, const char *key)
{
    if (!b->fullname)
        return strcmp(mdf_avro_kind_name(b->kind), key) == 0;
    const char *dot = strrchr(b->fullname, '.');
    return strcmp(b->fullname, key) == 0 || (dot && strcmp(dot + 1, key) == 0);
}

/* Whether a plain (unwrapped) JSON value can be of branch b. */
static bool branch_fits(const mdf_avro_node *b, json_object *j)
{
    switch (json_object_get_type(j)) {
    case json_type_null:
        return b->kind == MDF_AVRO_NULL;
    case json_type_boolean:
        return b->kind == MDF_AVRO_BOOLEAN;
    case json_type_int: {
        int64_t i = json_object_get_int64(j);
        return (b->kind == MDF_AVRO_INT && i >= INT32_MIN && i <= INT32_MAX) ||
               b->kind == MDF_AVRO_LONG || b->kind == MDF_AVRO_FLOAT || b->kind == MDF_AVRO_DOUBLE;
    }
    case json_type_double:
        return b->kind == MDF_AVRO_FLOAT || b->kind == MDF_AVRO_DOUBLE;
    case json_type_string:
        return b->kind == MDF_AVRO_STRING || b->kind == MDF_AVRO_ENUM ||
               b->kind == MDF_AVRO_BYTES || b->kind == MDF_AVRO_FIXED;
    case json_type_object:
        return b->kind == MDF_AVRO_RECORD || b->kind == MDF_AVRO_MAP;
    case json_type_array:
        return b->kind == MDF_AVRO_ARRAY;
    }
    return false;
}

static int put_union(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    size_t idx = n->n;
    json_object *val = j;
    if (json_object_is_type(j, json_type_object) && json_object_object_length(j) == 1) {
        json_object_object_foreach(j, key, inner) {
            for (size_t i = 0; i < n->n && idx == n->n; i++) {
                if (branch_named(n->branches[i], key)) {
                    idx = i;
                    val = inner;
                }
            }
        }
    }
    for (size_t i = 0; i < n->n && idx == n->n; i++) {
        if (branch_fits(n->branches[i], j))
            idx = i;
    }
    if (idx == n->n) {
        char names[160] = "";
        size_t used = 0;
        for (size_t i = 0; i < n->n && used < sizeof names; i++) {
            const mdf_avro_node *b = n->branches[i];
            int k = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             b->fullname ? b->fullname : mdf_avro_kind_name(b->kind));
            used += k > 0 ? (size_t)k : 0;
        }
        return werr(w, "expected one of %s, got %s", names, json_kind(j));
    }
    avro_value_t branch;
    if (avro_value_set_branch(v, (int)idx, &branch) != 0)
        return avro_fail(w);
    return put_value(w, n->branches[idx], val, &branch);
}

/* What JSON type each Avro type takes, for the type check before the
 * per-type conversion. */
static bool json_fits(const mdf_avro_node *n, json_object *j)
{
    switch (n->kind) {
    case MDF_AVRO_UNION:
    case MDF_AVRO_INT:
    case MDF_AVRO_LONG:
    case MDF_AVRO_FLOAT:
    case MDF_AVRO_DOUBLE:
        return true; /* checked in put_union and put_number */
    case MDF_AVRO_NULL:
        return json_object_is_type(j, json_type_null);
    case MDF_AVRO_BOOLEAN:
        return json_object_is_type(j, json_type_boolean);
    case MDF_AVRO_RECORD:
    case MDF_AVRO_MAP:
        return json_object_is_type(j, json_type_object);
    case MDF_AVRO_ARRAY:
        return json_object_is_type(j, json_type_array);
    default:
        return json_object_is_type(j, json_type_string);
    }
}

static int put_value(walk *w, const mdf_avro_node *n, json_object *j, avro_value_t *v)
{
    if (!json_fits(n, j)) {
        return werr(w, "expected %s%s%s, got %s", mdf_avro_kind_name(n->kind),
                    n->fullname ? " " : "", n->fullname ? n->fullname : "", json_kind(j));
    }
    if (enter(w) != MDF_OK)
        return MDF_ERR;
    int rc;
    switch (n->kind) {
    case MDF_AVRO_NULL:
        rc = avro_value_set_null(v) == 0 ? MDF_OK : avro_fail(w);
        break;
    case MDF_AVRO_BOOLEAN:
        rc = avro_value_set_boolean(v, json_object_get_boolean(j)) == 0 ? MDF_OK : avro_fail(w);
        break;
    case MDF_AVRO_INT:
    case MDF_AVRO_LONG:
    case MDF_AVRO_FLOAT:
    case MDF_AVRO_DOUBLE:
        rc = put_number(w, n, j, v);
        break;
    case MDF_AVRO_STRING:
        rc = put_string(w, n, j, v);
        break;
    case MDF_AVRO_BYTES:
    case MDF_AVRO_FIXED:
        rc = put_bytes(w, n, j, v);
        break;
    case MDF_AVRO_ENUM:
        rc = put_enum(w, n, j, v);
        break;
    case MDF_AVRO_RECORD:
        rc = put_record(w, n, j, v);
        break;
    case MDF_AVRO_ARRAY:
        rc = put_array(w, n, j, v);
        break;
    case MDF_AVRO_MAP:
        rc = put_map(w, n, j, v);
        break;
    case MDF_AVRO_UNION:
        rc = put_union(w, n, j, v);
        break;
    default:
        rc = werr(w, "internal: unknown type");
    }
    w->depth--;
    return rc;
}

/* ---- Avro value -> JSON ------------------------------------------------- */

static int get_value(walk *w, const mdf_avro_node *n, avro_value_t *v, json_object **out);

static json_object *bytes_to_codepoints(const unsigned char *b, size_t len)
{
    mdf_buf s;
    mdf_buf_init(&s, 2 * len + 1);
    for (size_t i = 0; i < len; i++) {
        char enc[2] = {(char)b[i], 0};
        size_t k = 1;
        if (b[i] >= 0x80) {
            enc[0] = (char)(0xC0 | (b[i] >> 6));
            enc[1] = (char)(0x80 | (b[i] & 0x3F));
            k = 2;
        }
        if (mdf_buf_append(&s, enc, k) != 0) {
            mdf_buf_free(&s);
            return NULL;
        }
    }
    json_object *j = json_object_new_string_len(s.data ? s.data : "", (int)s.len);
    mdf_buf_free(&s);
    return j;
}

static int get_scalar(walk *w, const mdf_avro_node *n, avro_value_t *v, json_object **out)
{
    int rc = 0;
    switch (n->kind) {
    case MDF_AVRO_BOOLEAN: {
        int b = 0;
        rc = avro_value_get_boolean(v, &b);
        *out = json_object_new_boolean(b);
        break;
    }
    case MDF_AVRO_INT: {
        int32_t i = 0;
        rc = avro_value_get_int(v, &i);
        *out = json_object_new_int(i);
        break;
    }
    case MDF_AVRO_LONG: {
        int64_t i = 0;
        rc = avro_value_get_long(v, &i);
        *out = json_object_new_int64(i);
        break;
    }
    case MDF_AVRO_FLOAT:
    case MDF_AVRO_DOUBLE: {
        double d = 0;
        float f = 0;
        rc = n->kind == MDF_AVRO_FLOAT ? avro_value_get_float(v, &f) : avro_value_get_double(v, &d);
        if (n->kind == MDF_AVRO_FLOAT)
            d = f;
        if (rc == 0 && !isfinite(d))
            return werr(w, "%s is not finite (no JSON for it)", mdf_avro_kind_name(n->kind));
        *out = json_object_new_double(d);
        break;
    }
    case MDF_AVRO_STRING: {
        const char *s = NULL;
        size_t size = 0;
        rc = avro_value_get_string(v, &s, &size);
        if (rc != 0)
            break;
        /* size counts the NUL */
        size_t len = size ? size - 1 : 0;
        if (check_string(w, n, s, len) != MDF_OK)
            return MDF_ERR;
        *out = json_object_new_string_len(s, (int)len);
        break;
    }
    case MDF_AVRO_BYTES:
    case MDF_AVRO_FIXED: {
        const void *b = NULL;
        size_t size = 0;
        rc = n->kind == MDF_AVRO_FIXED ? avro_value_get_fixed(v, &b, &size)
                                       : avro_value_get_bytes(v, &b, &size);
        if (rc == 0)
            *out = bytes_to_codepoints(b, size);
        break;
    }
    case MDF_AVRO_ENUM: {
        int sym = -1;
        rc = avro_value_get_enum(v, &sym);
        if (rc == 0 && (sym < 0 || (size_t)sym >= n->n))
            return werr(w, "enum index %d out of range", sym);
        if (rc == 0)
            *out = json_object_new_string(n->symbols[sym]);
        break;
    }
    default:
        return werr(w, "internal: not a scalar type");
    }
    if (rc != 0)
        return avro_fail(w);
    if (!*out)
        return werr(w, "out of memory");
    return MDF_OK;
}

/* Records, arrays and maps: children by index (a map also gives keys). */
static int get_container(walk *w, const mdf_avro_node *n, avro_value_t *v, json_object **out)
{
    size_t count = 0;
    if (avro_value_get_size(v, &count) != 0)
        return avro_fail(w);
    json_object *j = n->kind == MDF_AVRO_ARRAY ? json_object_new_array() : json_object_new_object();
    if (!j)
        return werr(w, "out of memory");
    int rc = MDF_ERR;
    for (size_t i = 0; i < count; i++) {
        avro_value_t child;
        const char *key = NULL;
        json_object *cj = NULL;
        const mdf_avro_node *ct = n->kind == MDF_AVRO_RECORD ? n->fields[i].type : n->items;
        size_t mark;
        if (avro_value_get_by_index(v, i, &child, &key) != 0) {
            avro_fail(w);
            goto cleanup;
        }
        if (n->kind == MDF_AVRO_RECORD)
            mark = path_push(w, ".%s", n->fields[i].name);
        else if (n->kind == MDF_AVRO_MAP)
            mark = path_push(w, "[\"%s\"]", key ? key : "");
        else
            mark = path_push(w, "[%zu]", i);
        if (n->kind == MDF_AVRO_MAP &&
            check_string(w, n, key ? key : "", key ? strlen(key) : 0) != MDF_OK)
            goto cleanup;
        if (get_value(w, ct, &child, &cj) != MDF_OK)
            goto cleanup;
        int added = n->kind == MDF_AVRO_ARRAY
                        ? json_object_array_add(j, cj)
                        : json_object_object_add(
                              j, n->kind == MDF_AVRO_RECORD ? n->fields[i].name : key, cj);
        if (added != 0) {
            json_object_put(cj);
            werr(w, "out of memory");
            goto cleanup;
        }
        path_pop(w, mark);
    }
    *out = j;
    j = NULL; /* handed over */
    rc = MDF_OK;
cleanup:
    json_object_put(j);
    return rc;
}

static int get_value(walk *w, const mdf_avro_node *n, avro_value_t *v, json_object **out)
{
    *out = NULL;
    if (enter(w) != MDF_OK)
        return MDF_ERR;
    int rc;
    switch (n->kind) {
    case MDF_AVRO_NULL:
        rc = MDF_OK; /* JSON null is json-c's NULL */
        break;
    case MDF_AVRO_UNION: {
        int disc = -1;
        avro_value_t branch;
        if (avro_value_get_discriminant(v, &disc) != 0 ||
            avro_value_get_current_branch(v, &branch) != 0)
            rc = avro_fail(w);
        else if (disc < 0 || (size_t)disc >= n->n)
            rc = werr(w, "union branch %d out of range", disc);
        else
            rc = get_value(w, n->branches[disc], &branch, out);
        break;
    }
    case MDF_AVRO_RECORD:
    case MDF_AVRO_ARRAY:
    case MDF_AVRO_MAP:
        rc = get_container(w, n, v, out);
        break;
    default:
        rc = get_scalar(w, n, v, out);
    }
    w->depth--;
    return rc;
}

/* ---- bounds check of Avro binary ---------------------------------------- */

/* Avro C trusts length prefixes and block counts: a few bytes claiming a
 * huge string or array would have it allocate accordingly. So the body is
 * walked first against the schema to check every length against what is
 * left, which also finds where the record ends (Avro C cannot tell). */
typedef struct scan {
    const unsigned char *p;
    size_t len;
    size_t pos;
} scan;

static int scan_varint(walk *w, scan *s, int64_t *out)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (s->pos >= s->len)
            return werr(w, "truncated");
        unsigned char b = s->p[s->pos++];
        u |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1); /* zig-zag */
            return MDF_OK;
        }
    }
    return werr(w, "varint longer than 10 bytes");
}

static int scan_skip(walk *w, scan *s, int64_t n, const char *what)
{
    if (n < 0)
        return werr(w, "negative %s length %" PRId64, what, n);
    if ((uint64_t)n > s->len - s->pos)
        return werr(w, "truncated: %s of %" PRId64 " bytes, %zu left", what, n, s->len - s->pos);
    s->pos += (size_t)n;
    return MDF_OK;
}

static int scan_value(walk *w, const mdf_avro_node *n, scan *s);

/* Array and map blocks: a count (negative: followed by the block's byte
 * size), then the items; a zero count ends the value. */
static int scan_blocks(walk *w, const mdf_avro_node *n, scan *s)
{
    for (size_t index = 0;;) {
        int64_t count, size = -1;
        if (scan_varint(w, s, &count) != MDF_OK)
            return MDF_ERR;
        if (count == 0)
            return MDF_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return werr(w, "bad block count");
            count = -count;
            if (scan_varint(w, s, &size) != MDF_OK)
                return MDF_ERR;
            if (size < 0 || (uint64_t)size > s->len - s->pos)
                return werr(w, "bad block size %" PRId64, size);
        }
        /* even items of no bytes may not outnumber the input's bytes */
        if ((uint64_t)count > s->len - s->pos)
            return werr(w, "truncated: block of %" PRId64 " items, %zu bytes left", count,
                        s->len - s->pos);
        size_t start = s->pos;
        for (int64_t i = 0; i < count; i++, index++) {
            size_t mark = path_push(w, "[%zu]", index);
            int64_t klen;
            if (n->kind == MDF_AVRO_MAP &&
                (scan_varint(w, s, &klen) != MDF_OK || scan_skip(w, s, klen, "key") != MDF_OK))
                return MDF_ERR;
            if (scan_value(w, n->items, s) != MDF_OK)
                return MDF_ERR;
            path_pop(w, mark);
        }
        if (size >= 0 && s->pos - start != (size_t)size)
            return werr(w, "block size %" PRId64 " does not match its %zu bytes of items", size,
                        s->pos - start);
    }
}

static int scan_value(walk *w, const mdf_avro_node *n, scan *s)
{
    int64_t i = 0;
    if (enter(w) != MDF_OK)
        return MDF_ERR;
    int rc = MDF_OK;
    switch (n->kind) {
    case MDF_AVRO_NULL:
        break;
    case MDF_AVRO_BOOLEAN:
        if (s->pos >= s->len)
            rc = werr(w, "truncated");
        else if (s->p[s->pos++] > 1)
            rc = werr(w, "boolean byte is neither 0 nor 1");
        break;
    case MDF_AVRO_INT:
        rc = scan_varint(w, s, &i);
        if (rc == MDF_OK && (i < INT32_MIN || i > INT32_MAX))
            rc = werr(w, "%" PRId64 " is out of range for int", i);
        break;
    case MDF_AVRO_LONG:
        rc = scan_varint(w, s, &i);
        break;
    case MDF_AVRO_FLOAT:
    case MDF_AVRO_DOUBLE:
        rc = scan_skip(w, s, n->kind == MDF_AVRO_FLOAT ? 4 : 8, mdf_avro_kind_name(n->kind));
        break;
    case MDF_AVRO_STRING:
    case MDF_AVRO_BYTES:
        rc = scan_varint(w, s, &i);
        if (rc == MDF_OK)
            rc = scan_skip(w, s, i, mdf_avro_kind_name(n->kind));
        break;
    case MDF_AVRO_FIXED:
        rc = scan_skip(w, s, n->size, "fixed");
        break;
    case MDF_AVRO_ENUM:
    case MDF_AVRO_UNION:
        rc = scan_varint(w, s, &i);
        if (rc == MDF_OK && (i < 0 || (uint64_t)i >= n->n))
            rc = werr(w, "%s index %" PRId64 " out of range", mdf_avro_kind_name(n->kind), i);
        if (rc == MDF_OK && n->kind == MDF_AVRO_UNION)
            rc = scan_value(w, n->branches[i], s);
        break;
    case MDF_AVRO_ARRAY:
    case MDF_AVRO_MAP:
        rc = scan_blocks(w, n, s);
        break;
    case MDF_AVRO_RECORD:
        for (size_t f = 0; f < n->n && rc == MDF_OK; f++) {
            size_t mark = path_push(w, ".%s", n->fields[f].name);
            rc = scan_value(w, n->fields[f].type, s);
            if (rc == MDF_OK)
                path_pop(w, mark);
        }
        break;
    }
    w->depth--;
    return rc;
}

/* ---- encode ------------------------------------------------------------- */

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * (3 - i)));
}

/* Fills a fresh generic value of t from JSON; *v is the caller's
 * (avro_value_decref) when this returns MDF_OK. */
static int value_from_json(mdf_codec *c, mdf_rec_type t, json_object *rec, avro_value_t *v,
                           char *err, size_t errsz)
{
    struct codec_rec *r = &c->rec[t];
    walk w;
    walk_init(&w, rec_names[t], err, errsz);
    if (avro_generic_value_new(r->iface, v) != 0)
        return avro_fail(&w);
    if (put_value(&w, r->model->root, rec, v) != MDF_OK) {
        avro_value_decref(v);
        return MDF_ERR;
    }
    return MDF_OK;
}

static int value_to_json(mdf_codec *c, mdf_rec_type t, avro_value_t *v, json_object **out,
                         char *err, size_t errsz)
{
    walk w;
    walk_init(&w, rec_names[t], err, errsz);
    return get_value(&w, c->rec[t].model->root, v, out);
}

int mdf_codec_encode(mdf_codec *c, mdf_rec_type t, json_object *rec, mdf_framing f,
                     uint32_t schema_id, mdf_buf *out, char *err, size_t errsz)
{
    if ((unsigned)t >= MDF_REC__COUNT)
        return mdf_seterr(err, errsz, "unknown record type %d", (int)t);
    avro_value_t v;
    if (value_from_json(c, t, rec, &v, err, errsz) != MDF_OK)
        return MDF_ERR;
    int rc = MDF_ERR;
    char *body = NULL;
    avro_writer_t wr = NULL;
    size_t start = out->len;
    size_t size = 0;
    unsigned char hdr[MDF_CODEC_SINGLE_OBJECT_HDR];
    size_t hlen;
    if (f == MDF_FRAMING_CONFLUENT) {
        hdr[0] = 0x00;
        put_be32(hdr + 1, schema_id);
        hlen = MDF_CODEC_CONFLUENT_HDR;
    } else {
        hdr[0] = 0xC3;
        hdr[1] = 0x01;
        put_le64(hdr + 2, c->rec[t].fp);
        hlen = MDF_CODEC_SINGLE_OBJECT_HDR;
    }
    if (avro_value_sizeof(&v, &size) != 0) {
        mdf_seterr(err, errsz, "%s: Avro C: %s", rec_names[t], avro_strerror());
        goto cleanup;
    }
    if (size > MDF_CODEC_MAX_RECORD - hlen) {
        mdf_seterr(err, errsz, "%s: encoded record of %zu bytes exceeds the %d bytes cap",
                   rec_names[t], size + hlen, MDF_CODEC_MAX_RECORD);
        goto cleanup;
    }
    body = malloc(size ? size : 1);
    wr = body ? avro_writer_memory(body, (int64_t)size) : NULL;
    if (!wr) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    if (avro_value_write(wr, &v) != 0 || avro_writer_tell(wr) != (int64_t)size) {
        mdf_seterr(err, errsz, "%s: Avro C: %s", rec_names[t], avro_strerror());
        goto cleanup;
    }
    if (mdf_buf_append(out, hdr, hlen) != 0 || mdf_buf_append(out, body, size) != 0) {
        out->len = start; /* nothing half-written */
        if (out->data)
            out->data[start] = '\0';
        mdf_seterr(err, errsz, "%s: output buffer full", rec_names[t]);
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    if (wr)
        avro_writer_free(wr);
    free(body);
    avro_value_decref(&v);
    return rc;
}

/* ---- decode ------------------------------------------------------------- */

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int decode_json(mdf_codec *c, mdf_rec_type t, const char *text, size_t len,
                       json_object **out, char *err, size_t errsz)
{
    json_object *j = NULL;
    avro_value_t v;
    int rc = MDF_ERR;
    if (mdf_avro_json_parse(text, len, &j, err, errsz) != MDF_OK) {
        char inner[MDF_ERRSZ];
        mdf_strlcpy(inner, err ? err : "", sizeof inner);
        return mdf_seterr(err, errsz, "%s: JSON input %s", rec_names[t], inner);
    }
    /* through an Avro value so that the result is exactly what the
     * binary path would give */
    if (value_from_json(c, t, j, &v, err, errsz) != MDF_OK)
        goto cleanup;
    rc = value_to_json(c, t, &v, out, err, errsz);
    avro_value_decref(&v);
cleanup:
    json_object_put(j);
    return rc;
}

static int decode_avro(mdf_codec *c, mdf_rec_type t, const unsigned char *body, size_t len,
                       json_object **out, char *err, size_t errsz)
{
    struct codec_rec *r = &c->rec[t];
    walk w;
    walk_init(&w, rec_names[t], err, errsz);
    scan s = {.p = body, .len = len, .pos = 0};
    if (scan_value(&w, r->model->root, &s) != MDF_OK)
        return MDF_ERR;
    if (s.pos != len)
        return mdf_seterr(err, errsz, "%s: %zu bytes after the end of the record", rec_names[t],
                          len - s.pos);

    int rc = MDF_ERR;
    avro_value_t v;
    bool have_v = false;
    avro_reader_t rd = avro_reader_memory((const char *)body, (int64_t)len);
    if (!rd) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    if (avro_generic_value_new(r->iface, &v) != 0) {
        avro_fail(&w);
        goto cleanup;
    }
    have_v = true;
    if (avro_value_read(rd, &v) != 0) {
        avro_fail(&w);
        goto cleanup;
    }
    rc = value_to_json(c, t, &v, out, err, errsz);
cleanup:
    if (have_v)
        avro_value_decref(&v);
    if (rd)
        avro_reader_free(rd);
    return rc;
}

/* The record type whose schema has fingerprint fp, or MDF_REC__COUNT. */
static mdf_rec_type type_of_fp(const mdf_codec *c, uint64_t fp)
{
    int i = 0;
    while (i < MDF_REC__COUNT && c->rec[i].fp != fp)
        i++;
    return (mdf_rec_type)i;
}

int mdf_codec_decode(mdf_codec *c, mdf_rec_type t, const void *data, size_t len, json_object **out,
                     uint32_t *schema_id_out, char *err, size_t errsz)
{
    const unsigned char *p = data;
    *out = NULL;
    if (schema_id_out)
        *schema_id_out = 0;
    if ((unsigned)t >= MDF_REC__COUNT)
        return mdf_seterr(err, errsz, "unknown record type %d", (int)t);
    const char *name = rec_names[t];
    if (len == 0)
        return mdf_seterr(err, errsz, "%s: empty record", name);
    if (len > MDF_CODEC_MAX_RECORD)
        return mdf_seterr(err, errsz, "%s: record of %zu bytes exceeds the %d bytes cap", name, len,
                          MDF_CODEC_MAX_RECORD);
    if (p[0] == 0xC3 && (len < 2 || p[1] == 0x01)) {
        if (len < MDF_CODEC_SINGLE_OBJECT_HDR)
            return mdf_seterr(err, errsz, "%s: truncated single-object header (%zu bytes)", name,
                              len);
        uint64_t fp = get_le64(p + 2);
        if (fp != c->rec[t].fp) {
            mdf_rec_type other = type_of_fp(c, fp);
            if (other != MDF_REC__COUNT)
                return mdf_seterr(err, errsz,
                                  "%s: the record is a %s (schema fingerprint %016" PRIx64 ")",
                                  name, rec_names[other], fp);
            return mdf_seterr(err, errsz,
                              "%s: unknown schema fingerprint %016" PRIx64 " (want %016" PRIx64 ")",
                              name, fp, c->rec[t].fp);
        }
        return decode_avro(c, t, p + MDF_CODEC_SINGLE_OBJECT_HDR, len - MDF_CODEC_SINGLE_OBJECT_HDR,
                           out, err, errsz);
    }
    if (p[0] == 0x00) {
        if (len < MDF_CODEC_CONFLUENT_HDR)
            return mdf_seterr(err, errsz, "%s: truncated Confluent header (%zu bytes)", name, len);
        /* no registry yet: any id is taken, and told to the caller */
        if (schema_id_out)
            *schema_id_out =
                (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        return decode_avro(c, t, p + MDF_CODEC_CONFLUENT_HDR, len - MDF_CODEC_CONFLUENT_HDR, out,
                           err, errsz);
    }
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i < len && p[i] == '{')
        return decode_json(c, t, (const char *)p, len, out, err, errsz);
    return mdf_seterr(err, errsz,
                      "%s: not a record: first byte 0x%02x is neither Avro framing "
                      "(00 or C3 01) nor the '{' of a JSON object",
                      name, p[i < len ? i : 0]);
}

int mdf_codec_write(mdf_codec *c, const mdf_codec_opts *o, mdf_rec_type t, json_object *rec,
                    mdf_buf *out, char *err, size_t errsz)
{
    if ((unsigned)t >= MDF_REC__COUNT)
        return mdf_seterr(err, errsz, "unknown record type %d", (int)t);
    return mdf_codec_encode(c, t, rec, o->framing, o->schema_id[t], out, err, errsz);
}
