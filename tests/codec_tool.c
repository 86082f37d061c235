/* Test helper (not installed): the codec on stdin/stdout, so that an
 * independent Avro implementation can check it (tests/interop_avro.py).
 *
 *   codec_tool encode TYPE single|confluent [SCHEMA_ID] < record.json > record.bin
 *   codec_tool decode TYPE < record.bin > record.json   (schema id on stderr)
 *   codec_tool fingerprint TYPE                          (16 hex digits)
 *   codec_tool canonical TYPE                            (Parsing Canonical Form)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "avro_schema.h"
#include "buf.h"
#include "err.h"
#include "strconv.h"

static int usage(void)
{
    fprintf(stderr, "usage: codec_tool encode TYPE single|confluent [SCHEMA_ID]\n"
                    "       codec_tool decode|fingerprint|canonical TYPE\n");
    return 2;
}

/* All of stdin, up to one byte more than a record may have, so that the
 * codec sees (and refuses) oversized input itself. */
static int read_stdin(mdf_buf *in, char *err, size_t errsz)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        size_t room = in->max - in->len;
        if (mdf_buf_append(in, chunk, n < room ? n : room) != 0)
            return mdf_seterr(err, errsz, "out of memory");
        if (n > room)
            break;
    }
    if (ferror(stdin))
        return mdf_seterr(err, errsz, "cannot read stdin");
    return MDF_OK;
}

static int cmd_encode(mdf_codec *c, mdf_rec_type t, int argc, char **argv, char *err, size_t errsz)
{
    mdf_framing f;
    int64_t id = 0;
    if (argc < 4 || argc > 5)
        return usage();
    if (strcmp(argv[3], "single") == 0)
        f = MDF_FRAMING_SINGLE_OBJECT;
    else if (strcmp(argv[3], "confluent") == 0)
        f = MDF_FRAMING_CONFLUENT;
    else
        return usage();
    if (argc == 5 &&
        (mdf_parse_int64(argv[4], strlen(argv[4]), &id) != 0 || id < 0 || id > UINT32_MAX))
        return usage();
    int rc = MDF_ERR;
    json_object *rec = NULL;
    mdf_buf in, out;
    mdf_buf_init(&in, MDF_CODEC_MAX_RECORD + 1);
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    if (read_stdin(&in, err, errsz) != MDF_OK ||
        mdf_avro_json_parse(in.data ? in.data : "", in.len, &rec, err, errsz) != MDF_OK ||
        mdf_codec_encode(c, t, rec, f, (uint32_t)id, &out, err, errsz) != MDF_OK)
        goto cleanup;
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        mdf_seterr(err, errsz, "cannot write stdout");
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    json_object_put(rec);
    mdf_buf_free(&in);
    mdf_buf_free(&out);
    return rc;
}

static int cmd_decode(mdf_codec *c, mdf_rec_type t, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    json_object *rec = NULL;
    uint32_t id = 0;
    mdf_buf in;
    mdf_buf_init(&in, MDF_CODEC_MAX_RECORD + 1);
    if (read_stdin(&in, err, errsz) != MDF_OK ||
        mdf_codec_decode(c, t, in.data ? in.data : "", in.len, &rec, &id, err, errsz) != MDF_OK)
        goto cleanup;
    printf("%s\n", json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    fprintf(stderr, "schema_id %" PRIu32 "\n", id);
    rc = fflush(stdout) == 0 ? MDF_OK : mdf_seterr(err, errsz, "cannot write stdout");
cleanup:
    json_object_put(rec);
    mdf_buf_free(&in);
    return rc;
}

int main(int argc, char **argv)
{
    char err[MDF_ERRSZ] = "";
    mdf_rec_type t;
    if (argc < 3)
        return usage();
    if (mdf_rec_from_name(argv[2], &t) != MDF_OK) {
        fprintf(stderr, "codec_tool: unknown record type %s\n", argv[2]);
        return 2;
    }
    mdf_codec *c;
    if (mdf_codec_new(&c, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "codec_tool: %s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "encode") == 0) {
        rc = cmd_encode(c, t, argc, argv, err, sizeof err);
    } else if (strcmp(argv[1], "decode") == 0 && argc == 3) {
        rc = cmd_decode(c, t, err, sizeof err);
    } else if (strcmp(argv[1], "fingerprint") == 0 && argc == 3) {
        rc = printf("%016" PRIx64 "\n", mdf_codec_fingerprint(c, t)) > 0 ? MDF_OK : MDF_ERR;
    } else if (strcmp(argv[1], "canonical") == 0 && argc == 3) {
        rc = printf("%s\n", mdf_codec_canonical(c, t)) > 0 ? MDF_OK : MDF_ERR;
    } else {
        rc = usage();
    }
    mdf_codec_destroy(c);
    if (rc == MDF_ERR)
        fprintf(stderr, "codec_tool: %s\n", err);
    return rc == MDF_OK ? 0 : rc == 2 ? 2 : 1;
}
