/* The event codec: round trips of every record type in both framings,
 * JSON input with defaults, and every refusal (bad values, wrong or
 * unknown fingerprint, truncated input, trailing bytes, garbage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avro_codec.h"
#include "avro_schema.h"
#include "avro_schemas.h"
#include "buf.h"
#include "err.h"

/* JSON written with ' for " to keep the samples readable. */
static json_object *J(const char *text)
{
    size_t len = strlen(text);
    char *s = malloc(len + 1);
    assert_non_null(s);
    for (size_t i = 0; i <= len; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    json_object *j = NULL;
    char err[MDF_ERRSZ];
    if (mdf_avro_json_parse(s, len, &j, err, sizeof err) != MDF_OK)
        fail_msg("bad test JSON: %s: %s", err, s);
    free(s);
    return j;
}

static const char *const samples[MDF_REC__COUNT] = {
    [MDF_REC_ENFORCEMENT_CHANGE] =
        "{'request_id':'6f1c2a8e-3b7d-4c1e-9a55-0d2f4e6b8a10','requested_at':1714564800000,"
        "'subscription_id':'11111111-2222-3333-4444-555555555555','resource_group':'rg-nexus',"
        "'cluster':'cluster-01','level':'RealTime','requested_by':'alice@example.com'}",
    [MDF_REC_SCAN_JOB] =
        "{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3','requested_at':1714564800123,"
        "'subscription_id':'11111111-2222-3333-4444-555555555555','resource_group':'rg-nexus',"
        "'cluster':'cluster-01','managed_resource_group':'rg-managed','nodes':['bmm-1','bmm-2'],"
        "'limit_time_seconds':900,'requested_by':null}",
    [MDF_REC_NODE_TASK] =
        "{'task_id':'A0B1C2D3-E4F5-4617-8899-AABBCCDDEEFF','job_id':'0b6c1d2e-1f20-4a3b-8c4d-"
        "5e6f708192a3',"
        "'created_at':1714564801000,'subscription_id':'11111111-2222-3333-4444-555555555555',"
        "'resource_group':'rg-nexus','cluster':'cluster-01','managed_resource_group':'rg-managed',"
        "'node':'bmm-1','machine_name':'rack1compute01','rack_id':null,'limit_time_seconds':600,'"
        "attempt':2,'location':'eastus'}",
    [MDF_REC_JOB_STATUS] =
        "{'event_id':'1d2e3f40-5162-4738-890a-bcdef0123456','job_id':'0b6c1d2e-1f20-4a3b-8c4d-"
        "5e6f708192a3',"
        "'time':1714565000000,'job_kind':'Scan','cluster_id':'/subscriptions/"
        "11111111-2222-3333-4444-555555555555/"
        "resourceGroups/rg-nexus/providers/Microsoft.NetworkCloud/clusters/"
        "cluster-01','kind':'Terminal',"
        "'node_count':null,'node_outcome':null,'status':'PartiallySucceeded','outcomes':["
        "{'node':'bmm-1','machine_name':'rack1compute01','result':'Succeeded','failure':null,'"
        "reason':null,"
        "'scans':3,'threats':1,'finished_at':1714564900000},"
        "{'node':'bmm-2','machine_name':null,'result':'Failed','failure':'TimeLimit',"
        "'reason':'exit code 252 "
        "\\u00e9\\u4e2d','scans':0,'threats':0,'finished_at':1714564950000}],"
        "'enforcement':null,'reason':'1 of 2 nodes failed',"
        "'output':{'mode':'CustomerStorage','account':'contosoout','container':'bmm-output',"
        "'identity':null},"
        "'scan_action':{'status':'Completed','message':'scan done','correlation_id':null,"
        "'start_time':1714564810000,'end_time':null}}",
    [MDF_REC_DEAD_LETTER] =
        "{'event_id':'9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d','time':-1,'source_topic':'scan.jobs',"
        "'source_partition':3,'source_offset':9007199254740993,'reason':'bad framing',"
        "'payload':'\\u00c3\\u0001\\u0000abc\\u00ff\\u007f\\u0080','key':'k\\u0080',"
        "'correlation_id':null}",
};

static int setup(void **state)
{
    mdf_codec *c;
    char err[MDF_ERRSZ];
    if (mdf_codec_new(&c, err, sizeof err) != MDF_OK)
        fail_msg("%s", err);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    mdf_codec_destroy(*state);
    return 0;
}

static void encode_ok(mdf_codec *c, mdf_rec_type t, json_object *rec, mdf_framing f, uint32_t id,
                      mdf_buf *out)
{
    char err[MDF_ERRSZ];
    if (mdf_codec_encode(c, t, rec, f, id, out, err, sizeof err) != MDF_OK)
        fail_msg("encode %s: %s", mdf_rec_name(t), err);
}

static json_object *decode_ok(mdf_codec *c, mdf_rec_type t, const void *data, size_t len,
                              uint32_t *id)
{
    char err[MDF_ERRSZ];
    json_object *out = NULL;
    if (mdf_codec_decode(c, t, data, len, &out, id, err, sizeof err) != MDF_OK)
        fail_msg("decode %s: %s", mdf_rec_name(t), err);
    return out;
}

static void assert_json_equal(json_object *a, json_object *b)
{
    if (!json_object_equal(a, b))
        fail_msg("JSON differs:\n%s\n%s", json_object_to_json_string(a),
                 json_object_to_json_string(b));
}

/* Expects decode to fail with msg in the error. */
static void decode_fails(mdf_codec *c, mdf_rec_type t, const void *data, size_t len,
                         const char *msg)
{
    char err[MDF_ERRSZ] = "";
    json_object *out = (json_object *)1;
    if (mdf_codec_decode(c, t, data, len, &out, NULL, err, sizeof err) != MDF_ERR)
        fail_msg("decode accepted (want \"%s\")", msg);
    assert_null(out);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" lacks \"%s\"", err, msg);
}

static void encode_fails(mdf_codec *c, mdf_rec_type t, const char *json, const char *msg)
{
    char err[MDF_ERRSZ] = "";
    json_object *rec = J(json);
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    if (mdf_codec_encode(c, t, rec, MDF_FRAMING_SINGLE_OBJECT, 0, &out, err, sizeof err) != MDF_ERR)
        fail_msg("encode accepted %s (want \"%s\")", json, msg);
    assert_int_equal(out.len, 0);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" lacks \"%s\"", err, msg);
    mdf_buf_free(&out);
    json_object_put(rec);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        mdf_rec_type t;
        assert_int_equal(mdf_rec_from_name(mdf_rec_name((mdf_rec_type)i), &t), MDF_OK);
        assert_int_equal(t, i);
    }
    mdf_rec_type t;
    assert_int_equal(mdf_rec_from_name("Nope", &t), MDF_ERR);
    assert_string_equal(mdf_rec_name(MDF_REC_SCAN_JOB), "ScanJob");
    assert_string_equal(mdf_rec_name(MDF_REC__COUNT), "?");
}

/* Each embedded schema's fingerprint is the CRC-64-AVRO of its canonical
 * form, and all differ. */
static void test_fingerprints(void **state)
{
    mdf_codec *c = *state;
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        const char *canon = mdf_codec_canonical(c, (mdf_rec_type)i);
        assert_true(mdf_codec_fingerprint(c, (mdf_rec_type)i) ==
                    mdf_avro_crc64(canon, strlen(canon)));
        char want[64];
        snprintf(want, sizeof want, "{\"name\":\"mdefleet.events.%s\",\"type\":\"record\"",
                 mdf_rec_name((mdf_rec_type)i));
        assert_true(strncmp(canon, want, strlen(want)) == 0);
        for (size_t k = 0; k < mdf_schema_source_count; k++) {
            if (strcmp(mdf_schema_sources[k].name, mdf_rec_name((mdf_rec_type)i)) != 0)
                continue;
            uint64_t fp;
            char err[MDF_ERRSZ];
            assert_int_equal(mdf_avro_fingerprint(mdf_schema_sources[k].text,
                                                  mdf_schema_sources[k].len, &fp, err, sizeof err),
                             MDF_OK);
            assert_true(fp == mdf_codec_fingerprint(c, (mdf_rec_type)i));
        }
        for (int k = 0; k < i; k++)
            assert_true(mdf_codec_fingerprint(c, (mdf_rec_type)i) !=
                        mdf_codec_fingerprint(c, (mdf_rec_type)k));
    }
}

static void test_roundtrip_all(void **state)
{
    mdf_codec *c = *state;
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        mdf_rec_type t = (mdf_rec_type)i;
        json_object *rec = J(samples[i]);
        mdf_buf out;
        mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);

        encode_ok(c, t, rec, MDF_FRAMING_SINGLE_OBJECT, 77, &out);
        const unsigned char *p = (const unsigned char *)out.data;
        assert_true(out.len > MDF_CODEC_SINGLE_OBJECT_HDR);
        assert_int_equal(p[0], 0xC3);
        assert_int_equal(p[1], 0x01);
        uint64_t fp = mdf_codec_fingerprint(c, t);
        for (int b = 0; b < 8; b++)
            assert_int_equal(p[2 + b], (fp >> (8 * b)) & 0xFF);
        uint32_t id = 99;
        json_object *back = decode_ok(c, t, out.data, out.len, &id);
        assert_int_equal(id, 0);
        assert_json_equal(rec, back);
        json_object_put(back);
        size_t body = out.len - MDF_CODEC_SINGLE_OBJECT_HDR;

        mdf_buf_reset(&out);
        encode_ok(c, t, rec, MDF_FRAMING_CONFLUENT, 0x01020304, &out);
        p = (const unsigned char *)out.data;
        assert_int_equal(out.len, body + MDF_CODEC_CONFLUENT_HDR);
        assert_memory_equal(p, "\x00\x01\x02\x03\x04", 5);
        back = decode_ok(c, t, out.data, out.len, &id);
        assert_int_equal(id, 0x01020304);
        assert_json_equal(rec, back);
        json_object_put(back);

        /* the JSON form decodes to the same */
        const char *text = json_object_to_json_string(rec);
        back = decode_ok(c, t, text, strlen(text), NULL);
        assert_json_equal(rec, back);
        json_object_put(back);

        mdf_buf_free(&out);
        json_object_put(rec);
    }
}

/* Encode appends to what the buffer already holds. */
static void test_encode_appends(void **state)
{
    mdf_codec *c = *state;
    json_object *rec = J(samples[MDF_REC_SCAN_JOB]);
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    assert_int_equal(mdf_buf_append(&out, "xy", 2), 0);
    encode_ok(c, MDF_REC_SCAN_JOB, rec, MDF_FRAMING_CONFLUENT, 5, &out);
    assert_memory_equal(out.data, "xy\x00\x00\x00\x00\x05", 7);
    json_object *back = decode_ok(c, MDF_REC_SCAN_JOB, out.data + 2, out.len - 2, NULL);
    assert_json_equal(rec, back);
    json_object_put(back);
    /* a buffer too small is left as it was */
    mdf_buf small;
    char err[MDF_ERRSZ];
    mdf_buf_init(&small, 20);
    assert_int_equal(mdf_buf_append(&small, "ab", 2), 0);
    assert_int_equal(mdf_codec_encode(c, MDF_REC_SCAN_JOB, rec, MDF_FRAMING_SINGLE_OBJECT, 0,
                                      &small, err, sizeof err),
                     MDF_ERR);
    assert_non_null(strstr(err, "output buffer full"));
    assert_int_equal(small.len, 2);
    assert_string_equal(small.data, "ab");
    mdf_buf_free(&small);
    mdf_buf_free(&out);
    json_object_put(rec);
}

/* A hand-written scan job: defaults filled, RFC 3339 time, blanks. */
static void test_json_defaults(void **state)
{
    mdf_codec *c = *state;
    const char *in = "\n  {\"job_id\":\"0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3\","
                     "\"requested_at\":\"2024-05-01T12:00:00.123Z\",\"subscription_id\":\"s\","
                     "\"resource_group\":\"rg\",\"cluster\":\"c1\"}\n";
    json_object *got = decode_ok(c, MDF_REC_SCAN_JOB, in, strlen(in), NULL);
    json_object *want =
        J("{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3','requested_at':1714564800123,"
          "'subscription_id':'s','resource_group':'rg','cluster':'c1',"
          "'managed_resource_group':null,'nodes':[],'limit_time_seconds':600,'requested_by':null}");
    assert_json_equal(want, got);
    json_object_put(got);
    json_object_put(want);

    /* nested defaults and wrapped unions */
    in = "{'event_id':'1d2e3f40-5162-4738-890a-bcdef0123456','job_id':'0b6c1d2e-1f20-4a3b-8c4d-"
         "5e6f708192a3',"
         "'time':5,'job_kind':'Enforcement','cluster_id':'x','kind':'EnforcementResult',"
         "'status':{'mdefleet.events.JobState':'Succeeded'},"
         "'enforcement':{'EnforcementResult':{'requested_level':'Audit','previous_level':{'"
         "EnforcementLevel':'Disabled'}}},"
         "'node_count':{'int':3},'reason':{'string':'ok'}}";
    json_object *rec = J(in);
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    encode_ok(c, MDF_REC_JOB_STATUS, rec, MDF_FRAMING_SINGLE_OBJECT, 0, &out);
    got = decode_ok(c, MDF_REC_JOB_STATUS, out.data, out.len, NULL);
    want = J("{'event_id':'1d2e3f40-5162-4738-890a-bcdef0123456','job_id':'0b6c1d2e-1f20-4a3b-8c4d-"
             "5e6f708192a3',"
             "'time':5,'job_kind':'Enforcement','cluster_id':'x','kind':'EnforcementResult','node_"
             "count':3,"
             "'node_outcome':null,'status':'Succeeded','outcomes':[],"
             "'enforcement':{'requested_level':'Audit','confirmed_level':null,'previous_level':'"
             "Disabled'},"
             "'reason':'ok','output':null,'scan_action':null}");
    assert_json_equal(want, got);
    json_object_put(got);
    json_object_put(want);
    json_object_put(rec);

    /* node outcome defaults: machine_name, failure, reason, scans, threats */
    rec = J("{'event_id':'1d2e3f40-5162-4738-890a-bcdef0123456','job_id':'0b6c1d2e-1f20-4a3b-8c4d-"
            "5e6f708192a3',"
            "'time':5,'job_kind':'Scan','cluster_id':'x','kind':'NodeOutcome',"
            "'node_outcome':{'node':'n','result':'Succeeded','finished_at':7}}");
    mdf_buf_reset(&out);
    encode_ok(c, MDF_REC_JOB_STATUS, rec, MDF_FRAMING_CONFLUENT, 1, &out);
    got = decode_ok(c, MDF_REC_JOB_STATUS, out.data, out.len, NULL);
    json_object *no;
    assert_true(json_object_object_get_ex(got, "node_outcome", &no));
    want = J("{'node':'n','machine_name':null,'result':'Succeeded','failure':null,'reason':null,"
             "'scans':0,'threats':0,'finished_at':7}");
    assert_json_equal(want, no);
    json_object_put(got);
    json_object_put(want);
    json_object_put(rec);
    mdf_buf_free(&out);
}

static void test_encode_errors(void **state)
{
    mdf_codec *c = *state;
    const char *base = "'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3','requested_at':1,"
                       "'subscription_id':'s','resource_group':'rg'";
    char buf[1024];
#define SCAN(extra) (snprintf(buf, sizeof buf, "{%s%s}", base, extra), buf)
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(""), "ScanJob.cluster: missing required field");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','nodes':['a','b',3]"),
                 "ScanJob.nodes[2]: expected string, got int");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','clustr':'c'"),
                 "ScanJob: unknown field \"clustr\"");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':7"),
                 "ScanJob.cluster: expected string, got int");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','limit_time_seconds':3000000000"),
                 "ScanJob.limit_time_seconds: 3000000000 is out of range for int");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','limit_time_seconds':600.5"),
                 "ScanJob.limit_time_seconds: expected int, got double");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','nodes':'bmm-1'"),
                 "ScanJob.nodes: expected array, got string");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','requested_by':5"),
                 "ScanJob.requested_by: expected one of null, string, got int");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c','requested_by':{'int':5}"),
                 "ScanJob.requested_by: expected one of null, string, got object");
    encode_fails(c, MDF_REC_SCAN_JOB, SCAN(",'cluster':'c\\u0000d'"),
                 "ScanJob.cluster: string contains a NUL");
    encode_fails(c, MDF_REC_SCAN_JOB,
                 "{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a','requested_at':1,"
                 "'subscription_id':'s','resource_group':'rg','cluster':'c'}",
                 "ScanJob.job_id: \"0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a\" is not a uuid");
    encode_fails(c, MDF_REC_SCAN_JOB,
                 "{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3','requested_at':'yesterday',"
                 "'subscription_id':'s','resource_group':'rg','cluster':'c'}",
                 "ScanJob.requested_at: \"yesterday\" is not an RFC 3339 time");
    encode_fails(c, MDF_REC_SCAN_JOB,
                 "{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3','requested_at':true,"
                 "'subscription_id':'s','resource_group':'rg','cluster':'c'}",
                 "ScanJob.requested_at: expected long, got boolean");
    encode_fails(c, MDF_REC_SCAN_JOB,
                 "{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3',"
                 "'requested_at':9223372036854775808,'subscription_id':'s','resource_group':'rg','"
                 "cluster':'c'}",
                 "ScanJob.requested_at: number out of range for long");
    encode_fails(c, MDF_REC_SCAN_JOB, "['x']",
                 "ScanJob: expected record mdefleet.events.ScanJob, got array");
    encode_fails(
        c, MDF_REC_ENFORCEMENT_CHANGE,
        "{'request_id':'6f1c2a8e-3b7d-4c1e-9a55-0d2f4e6b8a10','requested_at':1,'subscription_id':'"
        "s',"
        "'resource_group':'rg','cluster':'c','level':'Max'}",
        "EnforcementChange.level: \"Max\" is not a symbol of mdefleet.events.EnforcementLevel");
    const char *js = "{'event_id':'1d2e3f40-5162-4738-890a-bcdef0123456','job_id':'0b6c1d2e-1f20-"
                     "4a3b-8c4d-5e6f708192a3',"
                     "'time':5,'job_kind':'Scan','cluster_id':'x','kind':'Terminal',";
    snprintf(buf, sizeof buf,
             "%s'outcomes':[{'node':'n','result':'Failed','failure':'Bogus','finished_at':1}]}",
             js);
    encode_fails(
        c, MDF_REC_JOB_STATUS, buf,
        "JobStatus.outcomes[0].failure: \"Bogus\" is not a symbol of mdefleet.events.NodeFailure");
    snprintf(buf, sizeof buf,
             "%s'outcomes':[{'node':'n','result':'Failed','finished_at':1},{'node':'m'}]}", js);
    encode_fails(c, MDF_REC_JOB_STATUS, buf,
                 "JobStatus.outcomes[1].result: missing required field");
    snprintf(buf, sizeof buf, "%s'node_outcome':{'node':'n','result':'Failed','finished_at':'x'}}",
             js);
    encode_fails(c, MDF_REC_JOB_STATUS, buf,
                 "JobStatus.node_outcome.finished_at: \"x\" is not an RFC 3339 time");
    snprintf(buf, sizeof buf, "%s'node_count':{'long':3}}", js);
    encode_fails(c, MDF_REC_JOB_STATUS, buf,
                 "JobStatus.node_count: expected one of null, int, got object");
    const char *dl =
        "{'event_id':'9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d','time':1,'source_topic':'t',"
        "'source_partition':0,'source_offset':0,'reason':'r',";
    snprintf(buf, sizeof buf, "%s'payload':'\\u0100'}", dl);
    encode_fails(c, MDF_REC_DEAD_LETTER, buf,
                 "DeadLetter.payload: bytes must be code points U+0000..U+00FF");
    snprintf(buf, sizeof buf, "%s'payload':'','key':{'bytes':'\\u20ac'}}", dl);
    encode_fails(c, MDF_REC_DEAD_LETTER, buf, "DeadLetter.key: bytes must be code points");
#undef SCAN
}

/* Strings that are not UTF-8 are refused both ways. */
static void test_utf8(void **state)
{
    mdf_codec *c = *state;
    json_object *rec = J(samples[MDF_REC_SCAN_JOB]);
    json_object_object_add(rec, "cluster", json_object_new_string_len("c\xff", 2));
    char err[MDF_ERRSZ];
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    assert_int_equal(mdf_codec_encode(c, MDF_REC_SCAN_JOB, rec, MDF_FRAMING_SINGLE_OBJECT, 0, &out,
                                      err, sizeof err),
                     MDF_ERR);
    assert_non_null(strstr(err, "ScanJob.cluster: string is not valid UTF-8"));

    /* the same in binary: encode "cZ", then patch the byte */
    json_object_object_add(rec, "cluster", json_object_new_string("c\x01Z"));
    encode_ok(c, MDF_REC_SCAN_JOB, rec, MDF_FRAMING_SINGLE_OBJECT, 0, &out);
    char *z =
        memchr(out.data + MDF_CODEC_SINGLE_OBJECT_HDR, 0x01, out.len - MDF_CODEC_SINGLE_OBJECT_HDR);
    assert_non_null(z);
    *z = (char)0xC0; /* an overlong lead byte */
    decode_fails(c, MDF_REC_SCAN_JOB, out.data, out.len,
                 "ScanJob.cluster: string is not valid UTF-8");
    mdf_buf_free(&out);
    json_object_put(rec);
}

static void test_decode_framing_errors(void **state)
{
    mdf_codec *c = *state;
    json_object *rec = J(samples[MDF_REC_SCAN_JOB]);
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD + 16);
    encode_ok(c, MDF_REC_SCAN_JOB, rec, MDF_FRAMING_SINGLE_OBJECT, 0, &out);

    /* the record of another of our types */
    decode_fails(c, MDF_REC_NODE_TASK, out.data, out.len, "NodeTask: the record is a ScanJob");
    /* an unknown fingerprint */
    out.data[5] ^= 0x55;
    decode_fails(c, MDF_REC_SCAN_JOB, out.data, out.len, "ScanJob: unknown schema fingerprint");
    out.data[5] ^= 0x55;
    /* trailing bytes */
    assert_int_equal(mdf_buf_append(&out, "\x00", 1), 0);
    decode_fails(c, MDF_REC_SCAN_JOB, out.data, out.len, "1 bytes after the end of the record");
    out.len--;
    /* every truncation, in both framings */
    for (size_t n = 0; n < out.len; n++)
        decode_fails(c, MDF_REC_SCAN_JOB, out.data, n,
                     n == 0   ? "empty"
                     : n < 10 ? "truncated single-object"
                              : "truncated");
    mdf_buf_reset(&out);
    encode_ok(c, MDF_REC_SCAN_JOB, rec, MDF_FRAMING_CONFLUENT, 1, &out);
    for (size_t n = 1; n < out.len; n++)
        decode_fails(c, MDF_REC_SCAN_JOB, out.data, n, "truncated");

    /* garbage */
    decode_fails(c, MDF_REC_SCAN_JOB, "hello", 5, "not a record: first byte 0x68");
    decode_fails(c, MDF_REC_SCAN_JOB, "\xC3\x02zzzzzzzzz", 11, "not a record: first byte 0xc3");
    decode_fails(c, MDF_REC_SCAN_JOB, "   ", 3, "not a record");
    decode_fails(c, MDF_REC_SCAN_JOB, "{", 1, "ScanJob: JSON input not JSON");
    decode_fails(c, MDF_REC_SCAN_JOB, "{} {}", 5, "text after the end");
    decode_fails(c, MDF_REC_SCAN_JOB, "{}", 2, "ScanJob.job_id: missing required field");
    /* oversized */
    mdf_buf_reset(&out);
    assert_int_equal(mdf_buf_append(&out, "{", 1), 0);
    while (out.len <= MDF_CODEC_MAX_RECORD)
        assert_int_equal(mdf_buf_append(&out, "                ", 16), 0);
    decode_fails(c, MDF_REC_SCAN_JOB, out.data, out.len, "exceeds the 1048576 bytes cap");
    mdf_buf_free(&out);
    json_object_put(rec);
}

/* Hand-made bodies that lie about lengths, counts and indexes: a prefix
 * of a ScanJob (Confluent header, job_id, then at "union" also
 * requested_at and three strings "s"), then each case's bytes. */
static void test_decode_body_errors(void **state)
{
    mdf_codec *c = *state;
    static const char uuid[] = "0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3";
    static const struct {
        bool at_union;
        const char *tail;
        size_t len;
        const char *msg;
    } cases[] = {
        {false, "\x02\x01", 2, "ScanJob.subscription_id: negative string length -1"},
        {false, "\x02\x80\x80\x80\x80\x80\x80\x80\x80\x7e", 10,
         "ScanJob.subscription_id: truncated: string of 4539628424389459968 bytes"},
        {false, "\x02\xfe\xff\xff\xff\x0f", 6,
         "ScanJob.subscription_id: truncated: string of 2147483647 bytes"},
        {false, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
         "ScanJob.requested_at: varint longer than 10 bytes"},
        {true, "\x04", 1, "ScanJob.managed_resource_group: union index 2 out of range"},
        /* null branch, then an array claiming a billion items */
        {true, "\x00\x80\xa8\xd6\xb9\x07", 6,
         "ScanJob.nodes: truncated: block of 1000000000 items"},
        /* a negative count whose byte size lies */
        {true, "\x00\x01\x02\x02x\x00\xb0\x09\x00", 9,
         "ScanJob.nodes: block size 1 does not match its 2 bytes"},
        {true, "\x00\x00\x80\x80\x80\x80\x20\x00", 8,
         "ScanJob.limit_time_seconds: 4294967296 is out of range for int"},
    };
    mdf_buf b;
    mdf_buf_init(&b, 4096);
    assert_int_equal(mdf_buf_append(&b, "\x00\x00\x00\x00\x07\x48", 6), 0); /* 0x48: zig-zag 36 */
    assert_int_equal(mdf_buf_append(&b, uuid, 36), 0);
    size_t after_uuid = b.len;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b.len = after_uuid;
        if (cases[i].at_union)
            assert_int_equal(mdf_buf_append(&b, "\x02\x02s\x02s\x02s", 7), 0);
        assert_int_equal(mdf_buf_append(&b, cases[i].tail, cases[i].len), 0);
        decode_fails(c, MDF_REC_SCAN_JOB, b.data, b.len, cases[i].msg);
    }

    /* a negative count with the right size decodes */
    b.len = after_uuid;
    assert_int_equal(mdf_buf_append(&b, "\x02\x02s\x02s\x02s", 7), 0);
    size_t at_union = b.len;
    assert_int_equal(mdf_buf_append(&b, "\x00\x01\x04\x02x\x00\xb0\x09\x00", 9), 0);
    json_object *got = decode_ok(c, MDF_REC_SCAN_JOB, b.data, b.len, NULL);
    json_object *want =
        J("{'job_id':'0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3','requested_at':1,'subscription_id':'s',"
          "'resource_group':'s','cluster':'s','managed_resource_group':null,'nodes':['x'],"
          "'limit_time_seconds':600,'requested_by':null}");
    assert_json_equal(want, got);
    json_object_put(want);
    json_object_put(got);
    /* the same with a bad uuid */
    b.data[10] = 'g';
    decode_fails(c, MDF_REC_SCAN_JOB, b.data, b.len, "ScanJob.job_id: \"0b6cg");

    /* an EnforcementChange whose enum index is out of range */
    b.data[10] = '1';
    b.len = at_union;
    assert_int_equal(mdf_buf_append(&b, "\x0a\x00", 2), 0);
    decode_fails(c, MDF_REC_ENFORCEMENT_CHANGE, b.data, b.len,
                 "EnforcementChange.level: enum index 5 out of range");
    mdf_buf_free(&b);
}

/* Random damage to valid records: errors or records, never a crash (the
 * sanitizer build watches). */
static void test_mutations(void **state)
{
    mdf_codec *c = *state;
    unsigned seed = 12345;
    for (int i = 0; i < MDF_REC__COUNT; i++) {
        json_object *rec = J(samples[i]);
        mdf_buf out;
        mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
        encode_ok(c, (mdf_rec_type)i, rec, MDF_FRAMING_CONFLUENT, 0, &out);
        for (int round = 0; round < 2000; round++) {
            char *copy = malloc(out.len);
            assert_non_null(copy);
            memcpy(copy, out.data, out.len);
            for (int k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = 5 + (seed >> 8) % (out.len - 5);
                copy[at] = (char)(seed >> 20);
            }
            json_object *o = NULL;
            char err[MDF_ERRSZ];
            if (mdf_codec_decode(c, (mdf_rec_type)i, copy, out.len, &o, NULL, err, sizeof err) ==
                MDF_OK)
                json_object_put(o);
            free(copy);
        }
        mdf_buf_free(&out);
        json_object_put(rec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_roundtrip_all),
        cmocka_unit_test(test_encode_appends),
        cmocka_unit_test(test_json_defaults),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_decode_framing_errors),
        cmocka_unit_test(test_decode_body_errors),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
