/* The Avro/JSON codec (avro_codec.h), every record type: the first input
 * byte picks the type, the rest is a record value (single-object, Confluent
 * or JSON). What decodes must encode in both framings and decode back to an
 * equal object, and its JSON text must decode to an equal object too. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "avro_codec.h"
#include "err.h"
#include "fuzz_util.h"

static mdf_codec *codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[MDF_ERRSZ];
    (void)argc;
    (void)argv;
    if (mdf_codec_new(&codec, err, sizeof err) != MDF_OK)
        fuzz_fail(__FILE__, __LINE__, err);
    return 0;
}

/* Decodes data as t; the object, or NULL (with err set) when refused. */
static json_object *decode(mdf_rec_type t, const void *data, size_t len, uint32_t *id)
{
    char err[MDF_ERRSZ] = "";
    json_object *o = NULL;
    if (mdf_codec_decode(codec, t, data, len, &o, id, err, sizeof err) != MDF_OK) {
        FUZZ_CHECK(o == NULL && err[0] != '\0');
        return NULL;
    }
    FUZZ_CHECK(o != NULL);
    return o;
}

/* rec encoded in framing f decodes back to rec (and its schema id). */
static void round_trip(mdf_rec_type t, json_object *rec, mdf_framing f, uint32_t id)
{
    char err[MDF_ERRSZ] = "";
    mdf_codec_opts opts = {.framing = f};
    opts.schema_id[t] = id;
    mdf_buf bin;
    mdf_buf_init(&bin, MDF_CODEC_MAX_RECORD);
    FUZZ_CHECK(mdf_codec_write(codec, &opts, t, rec, &bin, err, sizeof err) == MDF_OK);
    FUZZ_CHECK(bin.len >= (f == MDF_FRAMING_CONFLUENT ? MDF_CODEC_CONFLUENT_HDR
                                                      : MDF_CODEC_SINGLE_OBJECT_HDR));
    uint32_t got_id = 0;
    json_object *back = decode(t, bin.data, bin.len, &got_id);
    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK(json_object_equal(rec, back));
    FUZZ_CHECK(got_id == (f == MDF_FRAMING_CONFLUENT ? id : 0));
    json_object_put(back);
    mdf_buf_free(&bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mdf_rec_type t = (mdf_rec_type)(data[0] % MDF_REC__COUNT);
    uint32_t id = 0;
    json_object *rec = decode(t, data + 1, size - 1, &id);
    if (!rec)
        return 0;
    round_trip(t, rec, MDF_FRAMING_SINGLE_OBJECT, 0);
    round_trip(t, rec, MDF_FRAMING_CONFLUENT, id ^ 0x5a5a5a5au);

    /* the JSON form is a record value of its own (what kcat users send) */
    size_t len;
    const char *text = json_object_to_json_string_length(rec, JSON_C_TO_STRING_PLAIN, &len);
    FUZZ_CHECK(text != NULL);
    json_object *again = decode(t, text, len, NULL);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(json_object_equal(rec, again));
    json_object_put(again);
    json_object_put(rec);
    return 0;
}
