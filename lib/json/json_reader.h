/* A small, strict JSON reader that builds a compact read-only tree.
 *
 * Why not json-c for reports: a json-c tree costs about 12x the document's
 * size and most of a report's parse time goes into building it. This tree
 * lives in one arena (about 3-4x the input), strings without escapes point
 * into the input, and errors say where the input stopped being JSON. The
 * input is capped by the caller; nesting is capped here. */
#ifndef MDF_JSON_READER_H
#define MDF_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

typedef enum {
    MDF_J_NULL,
    MDF_J_BOOL,
    MDF_J_INT,    /* integer that fits int64: u.i */
    MDF_J_DOUBLE, /* other numbers: u.d */
    MDF_J_STRING,
    MDF_J_ARRAY,
    MDF_J_OBJECT,
} mdf_jtype;

typedef struct mdf_jval mdf_jval;
typedef struct mdf_jmember mdf_jmember;

struct mdf_jval {
    uint8_t type;  /* mdf_jtype */
    bool b;        /* MDF_J_BOOL */
    uint32_t len;  /* bytes of s, or items/members of a container */
    const char *s; /* string (unescaped, not NUL-terminated) or number text */
    union {
        int64_t i;
        double d;
        mdf_jval *items;      /* MDF_J_ARRAY */
        mdf_jmember *members; /* MDF_J_OBJECT */
    } u;
};

struct mdf_jmember {
    const char *key; /* not NUL-terminated */
    uint32_t klen;
    mdf_jval val;
};

typedef struct mdf_jdoc {
    mdf_jval root;
    char *input;     /* owned: strings point into it */
    mdf_arena arena; /* owns the containers and unescaped strings */
} mdf_jdoc;

/* Parses input[0..len). Takes ownership of `*input` (a malloc'd buffer, set
 * to NULL here) whatever the outcome. On success *out is the document
 * (free with mdf_jdoc_free). */
int mdf_jdoc_parse(char **input, size_t len, int max_depth, mdf_jdoc **out, char *err,
                   size_t errsz);
void mdf_jdoc_free(mdf_jdoc *doc);

/* Member lookup (the last one wins, as in json-c); NULL when `obj` is not
 * an object or has no such key. A JSON null is a value of type MDF_J_NULL. */
const mdf_jval *mdf_jget(const mdf_jval *obj, const char *key);

/* "null", "boolean", "number", "string", "array", "object"; "missing" for NULL */
const char *mdf_jtype_name(const mdf_jval *v);

/* The string equals s (NUL-terminated). */
bool mdf_jstr_is(const mdf_jval *v, const char *s);

#endif
