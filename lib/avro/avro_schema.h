/* Avro schema model, Parsing Canonical Form and CRC-64-AVRO fingerprints.
 *
 * The fingerprint in the single-object framing is the CRC-64-AVRO of the
 * schema's Parsing Canonical Form (Avro specification, "Schema
 * Resolution" / "Parsing Canonical Form for Schemas"). Producing that form
 * needs the schema resolved (full names, named-type references), and so
 * does the codec (field defaults and logical types, which Avro C does not
 * expose), so this module also owns the one resolved model of a schema
 * that both use. */
#ifndef MDF_AVRO_SCHEMA_H
#define MDF_AVRO_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"
#include "vec.h"

/* The deepest JSON nesting a schema text may have; keeps the canonical
 * form within the JSON writer's depth. */
#define MDF_AVRO_MAX_JSON_DEPTH 30

/* CRC-64-AVRO of the empty input (and the polynomial's seed). */
#define MDF_AVRO_CRC64_EMPTY UINT64_C(0xc15d213aa4d7a795)

typedef enum {
    MDF_AVRO_NULL,
    MDF_AVRO_BOOLEAN,
    MDF_AVRO_INT,
    MDF_AVRO_LONG,
    MDF_AVRO_FLOAT,
    MDF_AVRO_DOUBLE,
    MDF_AVRO_BYTES,
    MDF_AVRO_STRING,
    MDF_AVRO_RECORD,
    MDF_AVRO_ENUM,
    MDF_AVRO_ARRAY,
    MDF_AVRO_MAP,
    MDF_AVRO_UNION,
    MDF_AVRO_FIXED
} mdf_avro_kind;

/* The logical types the codec checks; others are carried as their base
 * type, as the specification says readers should. */
typedef enum {
    MDF_AVRO_LT_NONE,
    MDF_AVRO_LT_UUID,            /* on string */
    MDF_AVRO_LT_TIMESTAMP_MILLIS /* on long */
} mdf_avro_logical;

typedef struct mdf_avro_node mdf_avro_node;

typedef struct mdf_avro_field {
    const char *name;    /* borrowed from the schema's JSON */
    mdf_avro_node *type; /* borrowed from the schema */
    bool has_default;
    json_object *dflt; /* borrowed; NULL also when the default is null */
} mdf_avro_field;

struct mdf_avro_node {
    mdf_avro_kind kind;
    mdf_avro_logical logical;
    size_t id;                /* index in the schema's node list */
    bool is_error;            /* a record declared with "type":"error" */
    char *fullname;           /* owned; named types (record, enum, fixed) only */
    size_t n;                 /* number of fields, symbols or branches */
    mdf_avro_field *fields;   /* owned array (record) */
    const char **symbols;     /* owned array of borrowed strings (enum) */
    const char *enum_default; /* borrowed; NULL if none */
    mdf_avro_node **branches; /* owned array of borrowed nodes (union) */
    mdf_avro_node *items;     /* borrowed; array items or map values */
    int64_t size;             /* fixed */
};

typedef struct mdf_avro_schema {
    json_object *json;   /* owned: the parsed schema text */
    mdf_avro_node *root; /* borrowed from nodes */
    mdf_vec nodes;       /* mdf_avro_node *, owned: every node, freed with the schema */
} mdf_avro_schema;

/* Parses JSON text of len bytes (no NUL needed), at most
 * MDF_AVRO_MAX_JSON_DEPTH deep, refusing anything but blanks after the
 * value. *out is NULL for the text null; the caller owns it (put). */
int mdf_avro_json_parse(const char *text, size_t len, json_object **out, char *err, size_t errsz);

/* Parses and resolves a schema (names, namespaces, references, defaults,
 * logical types). Refuses what the specification does not allow: unknown
 * types, bad names, duplicate names, fields or symbols, unions in unions. */
int mdf_avro_schema_parse(const char *schema_json, size_t len, mdf_avro_schema **out, char *err,
                          size_t errsz);
void mdf_avro_schema_free(mdf_avro_schema *s);

/* "record", "int", ...: the type's name in schema JSON. */
const char *mdf_avro_kind_name(mdf_avro_kind k);

/* Appends the Parsing Canonical Form of a parsed schema to out. */
int mdf_avro_schema_canonical(const mdf_avro_schema *s, mdf_buf *out, char *err, size_t errsz);

/* Appends the Parsing Canonical Form of schema_json to out. */
int mdf_avro_canonical(const char *schema_json, size_t len, mdf_buf *out, char *err, size_t errsz);

uint64_t mdf_avro_crc64(const void *data, size_t len);

/* CRC-64-AVRO of the Parsing Canonical Form of schema_json. */
int mdf_avro_fingerprint(const char *schema_json, size_t len, uint64_t *fp, char *err,
                         size_t errsz);

#endif
