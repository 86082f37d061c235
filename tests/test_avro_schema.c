/* Parsing Canonical Form and CRC-64-AVRO against the Avro project's
 * reference values (share/test/data/schema-tests.txt), plus the schema
 * model's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avro_schema.h"
#include "buf.h"
#include "err.h"

struct fp_case {
    const char *input;
    const char *canonical;
    int64_t fp; /* as printed there: the fingerprint read as signed */
};

static const struct fp_case cases[] = {
    {"\"null\"", "\"null\"", 7195948357588979594},
    {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594},
    {"\"boolean\"", "\"boolean\"", -6970731678124411036},
    {"{\"type\":\"boolean\"}", "\"boolean\"", -6970731678124411036},
    {"\"int\"", "\"int\"", 8247732601305521295},
    {"{\"type\":\"int\"}", "\"int\"", 8247732601305521295},
    {"\"long\"", "\"long\"", -3434872931120570953},
    {"{\"type\":\"long\"}", "\"long\"", -3434872931120570953},
    {"\"float\"", "\"float\"", 5583340709985441680},
    {"{\"type\":\"float\"}", "\"float\"", 5583340709985441680},
    {"\"double\"", "\"double\"", -8181574048448539266},
    {"{\"type\":\"double\"}", "\"double\"", -8181574048448539266},
    {"\"bytes\"", "\"bytes\"", 5746618253357095269},
    {"{\"type\":\"bytes\"}", "\"bytes\"", 5746618253357095269},
    {"\"string\"", "\"string\"", -8142146995180207161},
    {"{\"type\":\"string\"}", "\"string\"", -8142146995180207161},
    {"[  ]", "[]", -1241056759729112623},
    {"[ \"int\"  ]", "[\"int\"]", -5232228896498058493},
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     7843277075252814651},
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
     "\"default\":\"true\"},\n"
     "            {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n"
     "  \"type\":\"record\", \"name\":\"foo\"\n}\n",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},"
     "{\"name\":\"f2\",\"type\":\"int\"}]}",
     -4860222112080293046},
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", -6342190197741309591},
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     -4448647247586288245},
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1756455273707447556},
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", -3064184465700546786},
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059},
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
     -8732877298790414990},
    {"  {\"name\":\"PigValue\",\"type\":\"record\",\n"
     "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", "
     "\"PigValue\"]}]}\n",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
     "\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     -1759257747318642341},
};

static void test_reference_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fp_case *c = &cases[i];
        char err[MDF_ERRSZ] = "";
        mdf_buf out;
        mdf_buf_init(&out, 1 << 16);
        if (mdf_avro_canonical(c->input, strlen(c->input), &out, err, sizeof err) != MDF_OK)
            fail_msg("case %zu: %s", i, err);
        assert_string_equal(out.data, c->canonical);
        uint64_t fp = 0;
        assert_int_equal(mdf_avro_fingerprint(c->input, strlen(c->input), &fp, err, sizeof err),
                         MDF_OK);
        if (fp != (uint64_t)c->fp)
            fail_msg("case %zu: fingerprint %llx, want %llx", i, (unsigned long long)fp,
                     (unsigned long long)(uint64_t)c->fp);
        assert_true(mdf_avro_crc64(out.data, out.len) == fp);
        mdf_buf_free(&out);
    }
}

static void test_crc64_empty(void **state)
{
    (void)state;
    assert_true(mdf_avro_crc64("", 0) == MDF_AVRO_CRC64_EMPTY);
    assert_true(mdf_avro_crc64("a", 1) != mdf_avro_crc64("b", 1));
}

/* Namespaces pass down to nested named types; references are written as
 * full names after the first, full definition; logical types vanish. */
static void test_namespaces_and_refs(void **state)
{
    (void)state;
    const char *in =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"doc\":\"d\",\"fields\":["
        "{\"name\":\"a\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"],"
        "\"default\":\"X\"}},"
        "{\"name\":\"b\",\"type\":\"E\"},"
        "{\"name\":\"c\",\"type\":{\"type\":\"record\",\"name\":\"o.S\",\"fields\":["
        "{\"name\":\"d\",\"type\":\"n.E\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}}]}},"
        "{\"name\":\"f\",\"type\":{\"type\":\"o.F\"}},"
        "{\"name\":\"g\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"string\","
        "\"logicalType\":\"uuid\"}}},"
        "{\"name\":\"h\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}}]}";
    const char *want =
        "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"a\",\"type\":{\"name\":\"n.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
        "{\"name\":\"b\",\"type\":\"n.E\"},"
        "{\"name\":\"c\",\"type\":{\"name\":\"o.S\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"d\",\"type\":\"n.E\"},"
        "{\"name\":\"e\",\"type\":{\"name\":\"o.F\",\"type\":\"fixed\",\"size\":2}}]}},"
        "{\"name\":\"f\",\"type\":\"o.F\"},"
        "{\"name\":\"g\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
        "{\"name\":\"h\",\"type\":\"long\"}]}";
    char err[MDF_ERRSZ] = "";
    mdf_buf out;
    mdf_buf_init(&out, 1 << 16);
    if (mdf_avro_canonical(in, strlen(in), &out, err, sizeof err) != MDF_OK)
        fail_msg("%s", err);
    assert_string_equal(out.data, want);
    mdf_buf_free(&out);

    mdf_avro_schema *s;
    assert_int_equal(mdf_avro_schema_parse(in, strlen(in), &s, err, sizeof err), MDF_OK);
    const mdf_avro_node *r = s->root;
    assert_int_equal(r->kind, MDF_AVRO_RECORD);
    assert_int_equal(r->n, 6);
    assert_ptr_equal(r->fields[0].type, r->fields[1].type); /* E resolved */
    assert_string_equal(r->fields[0].type->enum_default, "X");
    assert_int_equal(r->fields[5].type->logical, MDF_AVRO_LT_TIMESTAMP_MILLIS);
    assert_int_equal(r->fields[4].type->items->logical, MDF_AVRO_LT_UUID);
    assert_false(r->fields[0].has_default);
    mdf_avro_schema_free(s);
}

static void test_defaults_recorded(void **state)
{
    (void)state;
    const char *in = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                     "{\"name\":\"a\",\"type\":[\"null\",\"int\"],\"default\":null},"
                     "{\"name\":\"b\",\"type\":\"int\",\"default\":7}]}";
    char err[MDF_ERRSZ];
    mdf_avro_schema *s;
    assert_int_equal(mdf_avro_schema_parse(in, strlen(in), &s, err, sizeof err), MDF_OK);
    assert_true(s->root->fields[0].has_default);
    assert_null(s->root->fields[0].dflt); /* JSON null */
    assert_true(s->root->fields[1].has_default);
    assert_int_equal(json_object_get_int(s->root->fields[1].dflt), 7);
    mdf_avro_schema_free(s);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *msg; /* a part of the error */
    } bad[] = {
        {"", "not JSON"},
        {"null", "schema is null"},
        {"{\"type\":\"int\"} x", "text after the end"},
        {"{\"type\":", "not JSON"},
        {"42", "must be a string"},
        {"\"Nope\"", "unknown type \"Nope\""},
        {"{\"name\":\"x\"}", "without \"type\""},
        {"{\"type\":\"record\",\"fields\":[]}", "record without a name"},
        {"{\"type\":\"record\",\"name\":\"1x\",\"fields\":[]}", "invalid name \"1x\""},
        {"{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}", "invalid name \"int\""},
        {"{\"type\":\"record\",\"name\":\"a..b\",\"fields\":[]}", "invalid name"},
        {"{\"type\":\"record\",\"name\":\"R\"}", "needs a \"fields\" array"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}", "has no type"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
         "{\"name\":\"a\",\"type\":\"int\"}]}",
         "defined twice"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"Q\"}]}",
         "field \"a\": unknown type \"Q\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
         "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}}]}",
         "\"R\" is defined twice"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "listed twice"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",3]}", "not a valid name"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
         "not a symbol"},
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "non-negative integer"},
        {"{\"type\":\"array\"}", "without \"items\""},
        {"{\"type\":\"map\"}", "without \"values\""},
        {"[\"int\",[\"null\"]]", "union may not contain a union"},
        {"[\"int\",\"int\"]", "union lists int twice"},
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":3,\"fields\":[]}",
         "\"namespace\" must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[MDF_ERRSZ] = "";
        mdf_buf out;
        mdf_buf_init(&out, 1 << 16);
        if (mdf_avro_canonical(bad[i].in, strlen(bad[i].in), &out, err, sizeof err) != MDF_ERR)
            fail_msg("case %zu (%s) accepted", i, bad[i].in);
        if (!strstr(err, bad[i].msg))
            fail_msg("case %zu (%s): error \"%s\" lacks \"%s\"", i, bad[i].in, err, bad[i].msg);
        assert_int_equal(out.len, 0);
        mdf_buf_free(&out);
    }
}

/* Nesting deeper than the cap is refused by the JSON parser, not by a
 * crash or a truncated canonical form. */
static void test_depth_cap(void **state)
{
    (void)state;
    mdf_buf in;
    mdf_buf_init(&in, 1 << 16);
    for (int i = 0; i < 40; i++)
        assert_int_equal(mdf_buf_appendf(&in, "{\"type\":\"array\",\"items\":"), 0);
    assert_int_equal(mdf_buf_appendf(&in, "\"int\""), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(mdf_buf_appendc(&in, '}'), 0);
    char err[MDF_ERRSZ] = "";
    uint64_t fp;
    assert_int_equal(mdf_avro_fingerprint(in.data, in.len, &fp, err, sizeof err), MDF_ERR);
    assert_non_null(strstr(err, "not JSON"));
    mdf_buf_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_cases),
        cmocka_unit_test(test_crc64_empty),
        cmocka_unit_test(test_namespaces_and_refs),
        cmocka_unit_test(test_defaults_recorded),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
