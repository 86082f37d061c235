#include "avro_schema.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json_writer.h"

static const char *const kind_names[] = {
    [MDF_AVRO_NULL] = "null",   [MDF_AVRO_BOOLEAN] = "boolean", [MDF_AVRO_INT] = "int",
    [MDF_AVRO_LONG] = "long",   [MDF_AVRO_FLOAT] = "float",     [MDF_AVRO_DOUBLE] = "double",
    [MDF_AVRO_BYTES] = "bytes", [MDF_AVRO_STRING] = "string",   [MDF_AVRO_RECORD] = "record",
    [MDF_AVRO_ENUM] = "enum",   [MDF_AVRO_ARRAY] = "array",     [MDF_AVRO_MAP] = "map",
    [MDF_AVRO_UNION] = "union", [MDF_AVRO_FIXED] = "fixed",
};

const char *mdf_avro_kind_name(mdf_avro_kind k)
{
    if ((size_t)k >= sizeof kind_names / sizeof kind_names[0])
        return "?";
    return kind_names[k];
}

/* ---- CRC-64-AVRO ------------------------------------------------------ */

/* Bit by bit rather than with the usual 256-entry table: only schema texts
 * are hashed (once, at start-up), and without a table there is no shared
 * state to initialize safely across threads. Reflected CRC: each input
 * byte enters at the low end, and every bit shifted out at the bottom
 * folds the polynomial (EMPTY) back in. */
uint64_t mdf_avro_crc64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t fp = MDF_AVRO_CRC64_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            fp = (fp >> 1) ^ (MDF_AVRO_CRC64_EMPTY & (UINT64_C(0) - (fp & 1)));
    }
    return fp;
}

/* ---- schema parsing ----------------------------------------------------- */

typedef struct parse_ctx {
    mdf_avro_schema *s;
    char *err;
    size_t errsz;
} parse_ctx;

static int primitive_kind(const char *name, mdf_avro_kind *kind)
{
    for (int k = MDF_AVRO_NULL; k <= MDF_AVRO_STRING; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (mdf_avro_kind)k;
            return 1;
        }
    }
    return 0;
}

/* [A-Za-z_][A-Za-z0-9_]* over s[0..len) */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    }
    return true;
}

/* Dot-separated names (a namespace or a full name). */
static bool valid_dotted(const char *s)
{
    const char *seg = s;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (!valid_name(seg, len))
            return false;
        if (!dot)
            return true;
        seg = dot + 1;
    }
}

static mdf_avro_node *find_named(const mdf_avro_schema *s, const char *ns, size_t nslen,
                                 const char *name)
{
    size_t namelen = strlen(name);
    mdf_avro_node *const *nodes = s->nodes.data;
    for (size_t i = 0; i < s->nodes.len; i++) {
        const char *fn = nodes[i]->fullname;
        if (!fn)
            continue;
        if (nslen == 0) {
            if (strcmp(fn, name) == 0)
                return nodes[i];
        } else if (strlen(fn) == nslen + 1 + namelen && memcmp(fn, ns, nslen) == 0 &&
                   fn[nslen] == '.' && memcmp(fn + nslen + 1, name, namelen) == 0) {
            return nodes[i];
        }
    }
    return NULL;
}

/* A reference by name: qualified by the enclosing namespace unless it has
 * dots; a name defined in the null namespace is still found from inside a
 * namespace, as the reference implementations allow. */
static mdf_avro_node *resolve_ref(const mdf_avro_schema *s, const char *ns, size_t nslen,
                                  const char *name)
{
    mdf_avro_node *n = NULL;
    if (!strchr(name, '.') && nslen > 0)
        n = find_named(s, ns, nslen, name);
    return n ? n : find_named(s, "", 0, name);
}

static int new_node(parse_ctx *ctx, mdf_avro_kind kind, mdf_avro_node **out)
{
    mdf_avro_schema *s = ctx->s;
    mdf_avro_node *n = calloc(1, sizeof *n);
    if (!n || mdf_vec_push(&s->nodes, &n) != 0) {
        free(n);
        return mdf_seterr(ctx->err, ctx->errsz, "out of memory");
    }
    n->kind = kind;
    n->id = s->nodes.len - 1;
    *out = n;
    return MDF_OK;
}

/* Looks up key as a string; absent -> *out NULL; present but not a string
 * -> error. */
static int get_str(parse_ctx *ctx, json_object *obj, const char *key, const char **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return MDF_OK;
    if (!json_object_is_type(v, json_type_string))
        return mdf_seterr(ctx->err, ctx->errsz, "\"%s\" must be a string", key);
    *out = json_object_get_string(v);
    return MDF_OK;
}

/* Prepends "what: " to the message already in err. */
static int wrap_err(parse_ctx *ctx, const char *what, const char *name)
{
    if (ctx->err && ctx->errsz > 0) {
        char inner[MDF_ERRSZ];
        mdf_strlcpy(inner, ctx->err, sizeof inner);
        mdf_seterr(ctx->err, ctx->errsz, "%s \"%s\": %s", what, name, inner);
    }
    return MDF_ERR;
}

static int parse_type(parse_ctx *ctx, json_object *j, const char *ns, size_t nslen,
                      mdf_avro_node **out);

/* Creates the named node: full name from name/namespace/enclosing namespace,
 * refusing bad and duplicate names. */
static int new_named(parse_ctx *ctx, json_object *j, mdf_avro_kind kind, const char *ns,
                     size_t nslen, mdf_avro_node **out)
{
    const char *name, *nsattr;
    if (get_str(ctx, j, "name", &name) != MDF_OK || get_str(ctx, j, "namespace", &nsattr) != MDF_OK)
        return MDF_ERR;
    if (!name)
        return mdf_seterr(ctx->err, ctx->errsz, "%s without a name", kind_names[kind]);
    mdf_buf full;
    mdf_buf_init(&full, 4096);
    int rc = MDF_ERR;
    if (strchr(name, '.')) {
        rc = mdf_buf_append(&full, name, strlen(name));
    } else {
        if (nsattr) {
            ns = nsattr;
            nslen = strlen(nsattr);
        }
        rc = nslen ? mdf_buf_appendf(&full, "%.*s.%s", (int)nslen, ns, name)
                   : mdf_buf_append(&full, name, strlen(name));
    }
    if (rc != 0) {
        rc = mdf_seterr(ctx->err, ctx->errsz, "name too long");
        goto cleanup;
    }
    rc = MDF_ERR;
    const char *dot = strrchr(full.data, '.');
    mdf_avro_kind prim;
    if (!valid_dotted(full.data) || primitive_kind(dot ? dot + 1 : full.data, &prim)) {
        mdf_seterr(ctx->err, ctx->errsz, "invalid name \"%s\"", full.data);
        goto cleanup;
    }
    if (find_named(ctx->s, "", 0, full.data)) {
        mdf_seterr(ctx->err, ctx->errsz, "\"%s\" is defined twice", full.data);
        goto cleanup;
    }
    mdf_avro_node *n;
    if (new_node(ctx, kind, &n) != MDF_OK)
        goto cleanup;
    n->fullname = mdf_buf_take(&full, NULL); /* handed over */
    *out = n;
    rc = MDF_OK;
cleanup:
    mdf_buf_free(&full);
    return rc;
}

static size_t ns_len(const mdf_avro_node *named)
{
    const char *dot = strrchr(named->fullname, '.');
    return dot ? (size_t)(dot - named->fullname) : 0;
}

static int parse_record(parse_ctx *ctx, json_object *j, mdf_avro_node *n)
{
    json_object *fields;
    if (!json_object_object_get_ex(j, "fields", &fields) ||
        !json_object_is_type(fields, json_type_array))
        return mdf_seterr(ctx->err, ctx->errsz, "record \"%s\" needs a \"fields\" array",
                          n->fullname);
    size_t count = json_object_array_length(fields);
    n->fields = calloc(count ? count : 1, sizeof *n->fields);
    if (!n->fields)
        return mdf_seterr(ctx->err, ctx->errsz, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_object *f = json_object_array_get_idx(fields, i), *type;
        mdf_avro_field *fld = &n->fields[i];
        if (!json_object_is_type(f, json_type_object))
            return mdf_seterr(ctx->err, ctx->errsz, "record \"%s\": a field is not an object",
                              n->fullname);
        if (get_str(ctx, f, "name", &fld->name) != MDF_OK)
            return wrap_err(ctx, "record", n->fullname);
        if (!fld->name || !valid_name(fld->name, strlen(fld->name)))
            return mdf_seterr(ctx->err, ctx->errsz, "record \"%s\": field %zu has no valid name",
                              n->fullname, i);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->fields[k].name, fld->name) == 0)
                return mdf_seterr(ctx->err, ctx->errsz,
                                  "record \"%s\": field \"%s\" is defined twice", n->fullname,
                                  fld->name);
        }
        if (!json_object_object_get_ex(f, "type", &type))
            return mdf_seterr(ctx->err, ctx->errsz, "record \"%s\": field \"%s\" has no type",
                              n->fullname, fld->name);
        if (parse_type(ctx, type, n->fullname, ns_len(n), &fld->type) != MDF_OK)
            return wrap_err(ctx, "field", fld->name);
        /* json-c gives NULL for a JSON null, hence the separate flag */
        fld->has_default = json_object_object_get_ex(f, "default", &fld->dflt);
        n->n = i + 1;
    }
    return MDF_OK;
}

static int parse_enum(parse_ctx *ctx, json_object *j, mdf_avro_node *n)
{
    json_object *syms;
    if (!json_object_object_get_ex(j, "symbols", &syms) ||
        !json_object_is_type(syms, json_type_array))
        return mdf_seterr(ctx->err, ctx->errsz, "enum \"%s\" needs a \"symbols\" array",
                          n->fullname);
    size_t count = json_object_array_length(syms);
    n->symbols = calloc(count ? count : 1, sizeof *n->symbols);
    if (!n->symbols)
        return mdf_seterr(ctx->err, ctx->errsz, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_object *sym = json_object_array_get_idx(syms, i);
        const char *s =
            json_object_is_type(sym, json_type_string) ? json_object_get_string(sym) : "";
        if (!valid_name(s, strlen(s)))
            return mdf_seterr(ctx->err, ctx->errsz, "enum \"%s\": symbol %zu is not a valid name",
                              n->fullname, i);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->symbols[k], s) == 0)
                return mdf_seterr(ctx->err, ctx->errsz,
                                  "enum \"%s\": symbol \"%s\" is listed twice", n->fullname, s);
        }
        n->symbols[i] = s;
        n->n = i + 1;
    }
    if (get_str(ctx, j, "default", &n->enum_default) != MDF_OK)
        return wrap_err(ctx, "enum", n->fullname);
    if (n->enum_default) {
        size_t k = 0;
        while (k < n->n && strcmp(n->symbols[k], n->enum_default) != 0)
            k++;
        if (k == n->n)
            return mdf_seterr(ctx->err, ctx->errsz, "enum \"%s\": default \"%s\" is not a symbol",
                              n->fullname, n->enum_default);
    }
    return MDF_OK;
}

static int parse_fixed(parse_ctx *ctx, json_object *j, mdf_avro_node *n)
{
    json_object *size;
    if (!json_object_object_get_ex(j, "size", &size) || !json_object_is_type(size, json_type_int) ||
        json_object_get_int64(size) < 0 || json_object_get_int64(size) > INT32_MAX)
        return mdf_seterr(ctx->err, ctx->errsz,
                          "fixed \"%s\" needs a non-negative integer \"size\"", n->fullname);
    n->size = json_object_get_int64(size);
    return MDF_OK;
}

static int parse_union(parse_ctx *ctx, json_object *j, const char *ns, size_t nslen,
                       mdf_avro_node **out)
{
    mdf_avro_node *n;
    if (new_node(ctx, MDF_AVRO_UNION, &n) != MDF_OK)
        return MDF_ERR;
    size_t count = json_object_array_length(j);
    n->branches = calloc(count ? count : 1, sizeof *n->branches);
    if (!n->branches)
        return mdf_seterr(ctx->err, ctx->errsz, "out of memory");
    for (size_t i = 0; i < count; i++) {
        mdf_avro_node *b;
        if (parse_type(ctx, json_object_array_get_idx(j, i), ns, nslen, &b) != MDF_OK)
            return MDF_ERR;
        if (b->kind == MDF_AVRO_UNION)
            return mdf_seterr(ctx->err, ctx->errsz, "a union may not contain a union");
        /* at most one branch per unnamed type and per name */
        for (size_t k = 0; k < i; k++) {
            const mdf_avro_node *o = n->branches[k];
            if (o->kind == b->kind && (!b->fullname || strcmp(o->fullname, b->fullname) == 0))
                return mdf_seterr(ctx->err, ctx->errsz, "union lists %s twice",
                                  b->fullname ? b->fullname : kind_names[b->kind]);
        }
        n->branches[i] = b;
        n->n = i + 1;
    }
    *out = n;
    return MDF_OK;
}

static int parse_ref(parse_ctx *ctx, const char *name, const char *ns, size_t nslen,
                     mdf_avro_node **out)
{
    mdf_avro_kind kind;
    if (primitive_kind(name, &kind))
        return new_node(ctx, kind, out);
    *out = resolve_ref(ctx->s, ns, nslen, name);
    if (!*out)
        return mdf_seterr(ctx->err, ctx->errsz, "unknown type \"%s\"", name);
    return MDF_OK;
}

static int parse_object(parse_ctx *ctx, json_object *j, const char *ns, size_t nslen,
                        mdf_avro_node **out)
{
    json_object *type;
    if (!json_object_object_get_ex(j, "type", &type))
        return mdf_seterr(ctx->err, ctx->errsz, "schema object without \"type\"");
    if (!json_object_is_type(type, json_type_string))
        return parse_type(ctx, type, ns, nslen, out); /* {"type": {...}} */
    const char *t = json_object_get_string(type);
    mdf_avro_kind kind;
    mdf_avro_node *n;
    if (primitive_kind(t, &kind)) {
        const char *lt;
        if (new_node(ctx, kind, &n) != MDF_OK || get_str(ctx, j, "logicalType", &lt) != MDF_OK)
            return MDF_ERR;
        if (lt && kind == MDF_AVRO_STRING && strcmp(lt, "uuid") == 0)
            n->logical = MDF_AVRO_LT_UUID;
        else if (lt && kind == MDF_AVRO_LONG && strcmp(lt, "timestamp-millis") == 0)
            n->logical = MDF_AVRO_LT_TIMESTAMP_MILLIS;
        *out = n;
        return MDF_OK;
    }
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        bool arr = t[0] == 'a';
        json_object *items;
        if (!json_object_object_get_ex(j, arr ? "items" : "values", &items))
            return mdf_seterr(ctx->err, ctx->errsz, "%s without \"%s\"", t,
                              arr ? "items" : "values");
        if (new_node(ctx, arr ? MDF_AVRO_ARRAY : MDF_AVRO_MAP, &n) != MDF_OK ||
            parse_type(ctx, items, ns, nslen, &n->items) != MDF_OK)
            return MDF_ERR;
        *out = n;
        return MDF_OK;
    }
    bool is_error = strcmp(t, "error") == 0;
    if (is_error || strcmp(t, "record") == 0) {
        /* registered before its fields so that they can refer to it */
        if (new_named(ctx, j, MDF_AVRO_RECORD, ns, nslen, &n) != MDF_OK)
            return MDF_ERR;
        n->is_error = is_error;
        if (parse_record(ctx, j, n) != MDF_OK)
            return MDF_ERR;
    } else if (strcmp(t, "enum") == 0) {
        if (new_named(ctx, j, MDF_AVRO_ENUM, ns, nslen, &n) != MDF_OK ||
            parse_enum(ctx, j, n) != MDF_OK)
            return MDF_ERR;
    } else if (strcmp(t, "fixed") == 0) {
        if (new_named(ctx, j, MDF_AVRO_FIXED, ns, nslen, &n) != MDF_OK ||
            parse_fixed(ctx, j, n) != MDF_OK)
            return MDF_ERR;
    } else {
        return parse_ref(ctx, t, ns, nslen, out); /* {"type": "SomeName"} */
    }
    *out = n;
    return MDF_OK;
}

static int parse_type(parse_ctx *ctx, json_object *j, const char *ns, size_t nslen,
                      mdf_avro_node **out)
{
    switch (json_object_get_type(j)) {
    case json_type_string:
        return parse_ref(ctx, json_object_get_string(j), ns, nslen, out);
    case json_type_array:
        return parse_union(ctx, j, ns, nslen, out);
    case json_type_object:
        return parse_object(ctx, j, ns, nslen, out);
    default:
        return mdf_seterr(ctx->err, ctx->errsz, "a schema must be a string, an array or an object");
    }
}

void mdf_avro_schema_free(mdf_avro_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nodes.len; i++) {
        mdf_avro_node *n = MDF_VEC_AT(&s->nodes, mdf_avro_node *, i);
        free(n->fullname);
        free(n->fields);
        free(n->symbols);
        free(n->branches);
        free(n);
    }
    mdf_vec_free(&s->nodes);
    json_object_put(s->json);
    free(s);
}

int mdf_avro_json_parse(const char *text, size_t len, json_object **out, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    json_tokener *tok = json_tokener_new_ex(MDF_AVRO_MAX_JSON_DEPTH);
    *out = NULL;
    if (!tok)
        return mdf_seterr(err, errsz, "out of memory");
    /* a size_t length may not fit json-c's int */
    if (len > (size_t)INT32_MAX) {
        mdf_seterr(err, errsz, "not JSON: too large");
        goto cleanup;
    }
    json_object *j = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = jerr == json_tokener_success ? json_tokener_get_parse_end(tok) : len;
    if (jerr == json_tokener_continue) {
        /* a number at the very end waits for a terminator */
        j = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
    }
    if (jerr != json_tokener_success) {
        mdf_seterr(err, errsz, "not JSON: %s",
                   jerr == json_tokener_continue ? "unexpected end"
                                                 : json_tokener_error_desc(jerr));
        goto cleanup;
    }
    for (size_t i = end; i < len; i++) {
        if (!isspace((unsigned char)text[i])) {
            json_object_put(j);
            mdf_seterr(err, errsz, "not JSON: text after the end at offset %zu", i);
            goto cleanup;
        }
    }
    *out = j; /* handed over; NULL for the JSON text null */
    rc = MDF_OK;
cleanup:
    json_tokener_free(tok);
    return rc;
}

int mdf_avro_schema_parse(const char *schema_json, size_t len, mdf_avro_schema **out, char *err,
                          size_t errsz)
{
    int rc = MDF_ERR;
    mdf_avro_schema *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return mdf_seterr(err, errsz, "out of memory");
    /* every node is a JSON value of the text: at least one byte of it */
    mdf_vec_init(&s->nodes, sizeof(mdf_avro_node *), len);
    if (mdf_avro_json_parse(schema_json, len, &s->json, err, errsz) != MDF_OK) {
        char inner[MDF_ERRSZ];
        mdf_strlcpy(inner, err ? err : "", sizeof inner);
        mdf_seterr(err, errsz, "schema is %s", inner);
        goto cleanup;
    }
    if (!s->json) {
        mdf_seterr(err, errsz, "schema is null");
        goto cleanup;
    }
    parse_ctx ctx = {.s = s, .err = err, .errsz = errsz};
    if (parse_type(&ctx, s->json, "", 0, &s->root) != MDF_OK)
        goto cleanup;
    *out = s;
    s = NULL; /* handed over */
    rc = MDF_OK;
cleanup:
    mdf_avro_schema_free(s);
    return rc;
}

/* ---- Parsing Canonical Form --------------------------------------------- */

typedef struct canon_ctx {
    mdf_jsonw w;
    bool *written; /* by node id: named type already written in full */
} canon_ctx;

/* Writes [name, type, fields, symbols, items, values, size] in that order,
 * nothing else (the STRIP and ORDER rules); primitives as bare names. */
static void canon_node(canon_ctx *c, const mdf_avro_node *n)
{
    mdf_jsonw *w = &c->w;
    if (n->fullname) {
        if (c->written[n->id]) {
            mdf_jsonw_str(w, n->fullname);
            return;
        }
        c->written[n->id] = true;
    }
    switch (n->kind) {
    case MDF_AVRO_UNION:
        mdf_jsonw_arr_begin(w);
        for (size_t i = 0; i < n->n; i++)
            canon_node(c, n->branches[i]);
        mdf_jsonw_arr_end(w);
        return;
    case MDF_AVRO_RECORD:
    case MDF_AVRO_ENUM:
    case MDF_AVRO_FIXED:
    case MDF_AVRO_ARRAY:
    case MDF_AVRO_MAP:
        break;
    default:
        mdf_jsonw_str(w, kind_names[n->kind]);
        return;
    }
    mdf_jsonw_obj_begin(w);
    if (n->fullname)
        mdf_jsonw_kstr(w, "name", n->fullname);
    mdf_jsonw_kstr(w, "type", n->is_error ? "error" : kind_names[n->kind]);
    if (n->kind == MDF_AVRO_RECORD) {
        mdf_jsonw_key(w, "fields");
        mdf_jsonw_arr_begin(w);
        for (size_t i = 0; i < n->n; i++) {
            mdf_jsonw_obj_begin(w);
            mdf_jsonw_kstr(w, "name", n->fields[i].name);
            mdf_jsonw_key(w, "type");
            canon_node(c, n->fields[i].type);
            mdf_jsonw_obj_end(w);
        }
        mdf_jsonw_arr_end(w);
    } else if (n->kind == MDF_AVRO_ENUM) {
        mdf_jsonw_key(w, "symbols");
        mdf_jsonw_arr_begin(w);
        for (size_t i = 0; i < n->n; i++)
            mdf_jsonw_str(w, n->symbols[i]);
        mdf_jsonw_arr_end(w);
    } else if (n->kind == MDF_AVRO_FIXED) {
        mdf_jsonw_kint(w, "size", n->size);
    } else {
        mdf_jsonw_key(w, n->kind == MDF_AVRO_ARRAY ? "items" : "values");
        canon_node(c, n->items);
    }
    mdf_jsonw_obj_end(w);
}

int mdf_avro_schema_canonical(const mdf_avro_schema *s, mdf_buf *out, char *err, size_t errsz)
{
    canon_ctx c;
    size_t start = out->len;
    c.written = calloc(s->nodes.len ? s->nodes.len : 1, sizeof *c.written);
    if (!c.written)
        return mdf_seterr(err, errsz, "out of memory");
    mdf_jsonw_init(&c.w, out, NULL);
    canon_node(&c, s->root);
    int rc = mdf_jsonw_finish(&c.w);
    free(c.written);
    if (rc != 0) {
        out->len = start; /* no partial output */
        if (out->data)
            out->data[start] = '\0';
        return mdf_seterr(err, errsz, "canonical form does not fit (too large or too deep)");
    }
    return MDF_OK;
}

int mdf_avro_canonical(const char *schema_json, size_t len, mdf_buf *out, char *err, size_t errsz)
{
    mdf_avro_schema *s;
    if (mdf_avro_schema_parse(schema_json, len, &s, err, errsz) != MDF_OK)
        return MDF_ERR;
    int rc = mdf_avro_schema_canonical(s, out, err, errsz);
    mdf_avro_schema_free(s);
    return rc;
}

int mdf_avro_fingerprint(const char *schema_json, size_t len, uint64_t *fp, char *err, size_t errsz)
{
    mdf_buf canon;
    mdf_buf_init(&canon, 1 << 20);
    int rc = mdf_avro_canonical(schema_json, len, &canon, err, errsz);
    if (rc == MDF_OK)
        *fp = mdf_avro_crc64(canon.data, canon.len);
    mdf_buf_free(&canon);
    return rc;
}
