/* Unit tests of the strict JSON reader behind the report parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "json_reader.h"

static mdf_jdoc *parse(const char *text, int depth, char *err, size_t errsz)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, text, len + 1);
    mdf_jdoc *doc = NULL;
    int rc = mdf_jdoc_parse(&copy, len, depth, &doc, err, errsz);
    assert_null(copy); /* taken over either way */
    assert_true((rc == MDF_OK) == (doc != NULL));
    return doc;
}

static void expect_error(const char *text, const char *needle)
{
    char err[MDF_ERRSZ] = "";
    mdf_jdoc *doc = parse(text, 16, err, sizeof err);
    if (doc) {
        mdf_jdoc_free(doc);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err, needle))
        fail_msg("for %s: got \"%s\", wanted \"%s\"", text, err, needle);
}

static void test_values(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_jdoc *doc = parse(" {\"s\":\"a\\\"b\\\\\\/\\n\\u00e9\\ud83d\\ude00\",\"i\":-42,"
                          "\"big\":92233720368547758070,\"d\":1.5e3,\"t\":true,\"f\":false,"
                          "\"n\":null,\"a\":[1,[],{}],\"dup\":1,\"dup\":2} \n",
                          16, err, sizeof err);
    assert_non_null(doc);
    const mdf_jval *r = &doc->root;
    assert_int_equal(r->type, MDF_J_OBJECT);
    const mdf_jval *s = mdf_jget(r, "s");
    assert_int_equal(s->type, MDF_J_STRING);
    const char want[] = "a\"b\\/\n\xc3\xa9\xf0\x9f\x98\x80";
    assert_int_equal(s->len, sizeof want - 1);
    assert_memory_equal(s->s, want, sizeof want - 1);
    assert_int_equal(mdf_jget(r, "i")->type, MDF_J_INT);
    assert_true(mdf_jget(r, "i")->u.i == -42);
    assert_int_equal(mdf_jget(r, "big")->type, MDF_J_DOUBLE); /* past int64 */
    const mdf_jval *d = mdf_jget(r, "d");
    assert_int_equal(d->type, MDF_J_DOUBLE);
    assert_true(d->u.d == 1500.0);
    assert_int_equal(d->len, 5);
    assert_memory_equal(d->s, "1.5e3", 5); /* the number's own text is kept */
    assert_true(mdf_jget(r, "t")->b);
    assert_false(mdf_jget(r, "f")->b);
    assert_int_equal(mdf_jget(r, "n")->type, MDF_J_NULL);
    assert_null(mdf_jget(r, "missing"));
    const mdf_jval *a = mdf_jget(r, "a");
    assert_int_equal(a->len, 3);
    assert_int_equal(a->u.items[1].type, MDF_J_ARRAY);
    assert_int_equal(a->u.items[1].len, 0);
    assert_int_equal(a->u.items[2].type, MDF_J_OBJECT);
    assert_true(mdf_jget(r, "dup")->u.i == 2); /* the last one wins */
    assert_string_equal(mdf_jtype_name(a), "array");
    assert_string_equal(mdf_jtype_name(NULL), "missing");
    assert_false(mdf_jstr_is(s, "a"));
    assert_false(mdf_jstr_is(mdf_jget(r, "i"), "-42")); /* a number is not a string */
    assert_false(mdf_jstr_is(NULL, "x"));
    mdf_jdoc_free(doc);

    doc = parse("-9223372036854775808", 4, err, sizeof err);
    assert_non_null(doc);
    assert_int_equal(doc->root.type, MDF_J_INT);
    assert_true(doc->root.u.i == INT64_MIN);
    mdf_jdoc_free(doc);
}

static void test_strictness(void **state)
{
    (void)state;
    expect_error("", "empty input");
    expect_error("   ", "empty input");
    expect_error("{\"a\":1,}", "expected a key in double quotes at line 1, column 8");
    expect_error("[1,]", "unexpected character at line 1, column 4");
    expect_error("{'a':1}", "expected a key");
    expect_error("[01]", "leading zero");
    expect_error("[1.]", "bad number");
    expect_error("[1e]", "bad number");
    expect_error("[+1]", "unexpected character");
    expect_error("[NaN]", "unexpected character");
    expect_error("[tru]", "unexpected character");
    expect_error("\"a\tb\"", "control character in string");
    expect_error("\"\\x\"", "bad escape");
    expect_error("\"\\u12G4\"", "bad \\u escape");
    expect_error("\"\\ud83d\"", "unpaired surrogate");
    expect_error("\"\\ude00\"", "unpaired surrogate");
    expect_error("\"abc", "unterminated string");
    expect_error("{\"a\" 1}", "expected :");
    expect_error("{\"a\":1 \"b\":2}", "expected , or }");
    expect_error("[1 2]", "expected , or ]");
    expect_error("{\"a\":[1,2", "unexpected end of input");
    expect_error("{} {}", "data after the document at line 1, column 4");
    expect_error("{\n\n  \"a\": x}", "at line 3, column 8 (byte 10)");
}

static void test_depth(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_jdoc *doc = parse("[[[[]]]]", 4, err, sizeof err);
    assert_non_null(doc);
    mdf_jdoc_free(doc);
    assert_null(parse("[[[[[]]]]]", 4, err, sizeof err));
    assert_non_null(strstr(err, "nesting deeper than 4 at line 1, column 5"));
    /* deep input fails fast at the cap, whatever its length */
    size_t n = 1 << 20;
    char *deep = malloc(n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    deep[n] = '\0';
    assert_null(parse(deep, 64, err, sizeof err));
    assert_non_null(strstr(err, "nesting deeper than 64"));
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_strictness),
        cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
