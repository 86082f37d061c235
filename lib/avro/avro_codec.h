/* Avro encoding and decoding of the event records (schemas/ *.avsc), with
 * both framings of DESIGN.md "Wire formats":
 *   single object: C3 01, 8-byte little-endian CRC-64-AVRO fingerprint of
 *                  the schema's Parsing Canonical Form, Avro binary body;
 *   Confluent:     00, 4-byte big-endian schema id, Avro binary body.
 * Readers also take a JSON object (first non-blank byte '{').
 *
 * In memory a record is a json-c object of plain JSON values: null,
 * strings (uuids, enum symbols), integers (timestamp-millis as epoch
 * milliseconds), arrays, nested objects; union values unwrapped; bytes as
 * a string with one code point (U+0000..U+00FF) per byte, as Avro's JSON
 * encoding has them.
 *
 * A codec is immutable after mdf_codec_new() except for Avro C's reference
 * counts, so use one codec per thread. */
#ifndef MDF_AVRO_CODEC_H
#define MDF_AVRO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"

/* The largest framed record encode produces and decode accepts. */
#define MDF_CODEC_MAX_RECORD (1024 * 1024)
/* How deep values may nest (records, arrays, maps, unions). */
#define MDF_CODEC_MAX_DEPTH 32

#define MDF_CODEC_SINGLE_OBJECT_HDR 10 /* C3 01 + 8-byte fingerprint */
#define MDF_CODEC_CONFLUENT_HDR 5      /* 00 + 4-byte schema id */

typedef enum {
    MDF_REC_ENFORCEMENT_CHANGE,
    MDF_REC_SCAN_JOB,
    MDF_REC_NODE_TASK,
    MDF_REC_JOB_STATUS,
    MDF_REC_DEAD_LETTER,
    MDF_REC__COUNT
} mdf_rec_type;

typedef enum { MDF_FRAMING_SINGLE_OBJECT, MDF_FRAMING_CONFLUENT } mdf_framing;

typedef struct mdf_codec mdf_codec;

/* Loads every record schema embedded from schemas/ (refusing a missing or
 * malformed one) and computes the fingerprints. */
int mdf_codec_new(mdf_codec **out, char *err, size_t errsz);
void mdf_codec_destroy(mdf_codec *c);

/* "ScanJob"; "?" for a value out of range. */
const char *mdf_rec_name(mdf_rec_type t);
/* The inverse of mdf_rec_name(); MDF_ERR for an unknown name. */
int mdf_rec_from_name(const char *name, mdf_rec_type *t);

uint64_t mdf_codec_fingerprint(const mdf_codec *c, mdf_rec_type t);
/* The schema's Parsing Canonical Form; owned by the codec. */
const char *mdf_codec_canonical(const mdf_codec *c, mdf_rec_type t);

/* Validates rec against t's schema and appends the framed Avro binary to
 * out (nothing on error). A missing field takes the schema's default; a
 * missing field without one, an unknown field, a wrong JSON type, a number
 * out of range, an unknown enum symbol, a malformed uuid or UTF-8 string
 * are errors naming the field path ("ScanJob.nodes[2]: expected string,
 * got int"). A timestamp-millis also takes an RFC 3339 string. Union
 * values may be plain or wrapped ({"string": "x"}, {"full.Name": {...}}).
 * schema_id is used by the Confluent framing only. */
int mdf_codec_encode(mdf_codec *c, mdf_rec_type t, json_object *rec, mdf_framing f,
                     uint32_t schema_id, mdf_buf *out, char *err, size_t errsz);

/* How a program writes records: the framing, and each record type's Schema
 * Registry id for the Confluent framing (configuration: config_load.h). */
typedef struct mdf_codec_opts {
    mdf_framing framing;
    uint32_t schema_id[MDF_REC__COUNT];
} mdf_codec_opts;

/* mdf_codec_encode with o's framing and t's schema id. */
int mdf_codec_write(mdf_codec *c, const mdf_codec_opts *o, mdf_rec_type t, json_object *rec,
                    mdf_buf *out, char *err, size_t errsz);

/* Decodes one record value of type t: single-object (the fingerprint must
 * be t's), Confluent (any schema id; it is stored in *schema_id_out when
 * that is not NULL, else 0) or a JSON object (checked and defaulted as
 * encode does). Refuses anything else, input over MDF_CODEC_MAX_RECORD,
 * truncated input and bytes after the record. *out (the caller's: put it)
 * always has every field of the schema. */
int mdf_codec_decode(mdf_codec *c, mdf_rec_type t, const void *data, size_t len, json_object **out,
                     uint32_t *schema_id_out, char *err, size_t errsz);

#endif
