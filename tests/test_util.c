/* Unit tests of the small shared helpers: bounded buffer, capped vector,
 * JSON writer, time formatting and strict integer parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "strconv.h"
#include "strmap.h"
#include "utf8.h"
#include "vec.h"

static void test_buf_cap(void **state)
{
    (void)state;
    mdf_buf b;
    mdf_buf_init(&b, 8);
    assert_int_equal(mdf_buf_append(&b, "12345678", 8), 0);
    assert_int_equal(mdf_buf_append(&b, "9", 1), -1); /* past the cap */
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    mdf_buf_reset(&b);
    assert_int_equal(mdf_buf_appendf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    assert_int_equal(mdf_buf_appendf(&b, "%s", "too long"), -1);
    size_t len;
    char *p = mdf_buf_take(&b, &len);
    assert_string_equal(p, "42-x");
    assert_int_equal(len, 4);
    assert_null(b.data);
    free(p);
    mdf_buf_free(&b);
}

static void test_strlcpy(void **state)
{
    (void)state;
    char small[4];
    assert_int_equal(mdf_strlcpy(small, "abc", sizeof small), 0);
    assert_string_equal(small, "abc");
    assert_int_equal(mdf_strlcpy(small, "abcd", sizeof small), -1);
    assert_string_equal(small, "abc");

    /* text: a cut never splits a UTF-8 character */
    static const char e_acute[] = "ab\xc3\xa9"; /* ab + 2-byte e-acute */
    static const char euro[] = "a\xe2\x82\xac"
                               "b"; /* a + 3-byte euro sign + b */
    assert_int_equal(mdf_strlcpy_utf8(small, e_acute, strlen(e_acute), sizeof small), -1);
    assert_string_equal(small, "ab");
    char five[5];
    assert_int_equal(mdf_strlcpy_utf8(five, e_acute, strlen(e_acute), sizeof five), 0);
    assert_string_equal(five, e_acute);
    assert_int_equal(mdf_strlcpy_utf8(small, euro, strlen(euro), sizeof small), -1);
    assert_string_equal(small, "a");
    assert_int_equal(mdf_strlcpy_utf8(five, euro, strlen(euro), sizeof five), -1);
    assert_string_equal(five, "a\xe2\x82\xac");
    /* n bytes, not NUL-terminated, and ASCII cut anywhere */
    assert_int_equal(mdf_strlcpy_utf8(small, "xyzzy", 2, sizeof small), 0);
    assert_string_equal(small, "xy");
    assert_int_equal(mdf_strlcpy_utf8(small, "wxyz", 4, sizeof small), -1);
    assert_string_equal(small, "wxy");
}

static void test_jsonw(void **state)
{
    (void)state;
    mdf_buf b;
    mdf_buf_init(&b, 1024);
    mdf_jsonw w;
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "s", "a\"b\\c\n\x01");
    mdf_jsonw_kint(&w, "i", INT64_MIN);
    mdf_jsonw_kbool(&w, "t", true);
    mdf_jsonw_knull(&w, "n");
    mdf_jsonw_kstr(&w, "nullstr", NULL);
    mdf_jsonw_key(&w, "a");
    mdf_jsonw_arr_begin(&w);
    mdf_jsonw_int(&w, 1);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_obj_end(&w);
    mdf_jsonw_arr_end(&w);
    mdf_jsonw_obj_end(&w);
    assert_int_equal(mdf_jsonw_finish(&w), 0);
    assert_string_equal(b.data, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"i\":-9223372036854775808,"
                                "\"t\":true,\"n\":null,\"nullstr\":null,\"a\":[1,{}]}");
    mdf_buf_free(&b);
}

static void test_jsonw_unbalanced_and_overflow(void **state)
{
    (void)state;
    mdf_buf b;
    mdf_buf_init(&b, 4);
    mdf_jsonw w;
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_obj_begin(&w);
    assert_int_equal(mdf_jsonw_finish(&w), -1); /* not closed */
    mdf_jsonw_init(&w, &b, NULL);
    mdf_jsonw_str(&w, "longer than four");
    assert_int_equal(mdf_jsonw_finish(&w), -1); /* cap */
    mdf_buf_free(&b);
}

static void test_time_format(void **state)
{
    (void)state;
    char t[MDF_TIME_STRSZ];
    /* The Nexus documentation's example: 1697204573732 = 2023-10-13T13:42:53 */
    assert_int_equal(mdf_time_format_ms(1697204573732LL, t), 0);
    assert_string_equal(t, "2023-10-13T13:42:53.732Z");
    assert_int_equal(mdf_time_format_ms(0, t), 0);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    assert_int_equal(mdf_time_format_ms(-1, t), 0);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
    assert_int_equal(mdf_time_format_ms(951782400000LL, t), 0); /* leap day */
    assert_string_equal(t, "2000-02-29T00:00:00.000Z");
    assert_int_equal(mdf_time_format_ms(253402300799999LL, t), 0);
    assert_string_equal(t, "9999-12-31T23:59:59.999Z");
    assert_int_equal(mdf_time_format_ms(253402300800000LL, t), -1);
    assert_int_equal(mdf_time_format_ms(INT64_MIN, t), -1);
    assert_string_equal(t, "");
}

static void test_time_parse(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(mdf_time_parse_rfc3339("2023-10-13T13:42:53.732Z", &ms), 0);
    assert_true(ms == 1697204573732LL);
    assert_int_equal(mdf_time_parse_rfc3339("2023-10-13T15:42:53.7321+02:00", &ms), 0);
    assert_true(ms == 1697204573732LL);
    assert_int_equal(mdf_time_parse_rfc3339("2023-10-13T13:42:53Z", &ms), 0);
    assert_true(ms == 1697204573000LL);
    assert_int_equal(mdf_time_parse_rfc3339("2023-10-13 13:42:53", &ms), -1);
    assert_int_equal(mdf_time_parse_rfc3339("2023-13-13T13:42:53Z", &ms), -1);
    assert_int_equal(mdf_time_parse_rfc3339("2023-10-13T13:42:53Zjunk", &ms), -1);
    /* issue 12, case 14: calendar days only, within what the code takes */
    static const char *const refused[] = {
        "2023-02-31T00:00:00Z",      "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2023-04-31T00:00:00Z",      "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59", "2023-06-00T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (mdf_time_parse_rfc3339(refused[i], &ms) != -1)
            fail_msg("%s was taken as %lld", refused[i], (long long)ms);
    }
    assert_int_equal(mdf_time_parse_rfc3339("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(mdf_time_parse_rfc3339("2000-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(mdf_time_parse_rfc3339("2023-01-31T00:00:00Z", &ms), 0);
    assert_int_equal(mdf_time_parse_rfc3339("0001-01-01T00:00:00Z", &ms), 0);
    assert_true(mdf_time_valid_ms(ms));
}

static void test_parse_int64(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(mdf_parse_int64("1697204573732", 13, &v), 0);
    assert_true(v == 1697204573732LL);
    assert_int_equal(mdf_parse_int64("-42", 3, &v), 0);
    assert_true(v == -42);
    assert_int_equal(mdf_parse_int64("9223372036854775807", 19, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(mdf_parse_int64("-9223372036854775808", 20, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(mdf_parse_int64("9223372036854775808", 19, &v), -1);
    assert_int_equal(mdf_parse_int64("", 0, &v), -1);
    assert_int_equal(mdf_parse_int64("-", 1, &v), -1);
    assert_int_equal(mdf_parse_int64("12a", 3, &v), -1);
    assert_int_equal(mdf_parse_int64(" 1", 2, &v), -1);
}

static void test_vec_cap(void **state)
{
    (void)state;
    mdf_vec v;
    /* a cap that is no power of two: past half of it, growth goes straight
     * to it (not one element at a time), and never beyond */
    mdf_vec_init(&v, sizeof(int), 100);
    for (int i = 0; i < 65; i++)
        assert_int_equal(mdf_vec_push(&v, &i), 0);
    assert_true(v.cap == 100);
    for (int i = 65; i < 100; i++)
        assert_int_equal(mdf_vec_push(&v, &i), 0);
    assert_true(v.cap == 100);
    int extra = 100;
    assert_int_equal(mdf_vec_push(&v, &extra), -1);
    assert_null(mdf_vec_add(&v));
    assert_true(v.len == 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(MDF_VEC_AT(&v, int, i), i);
    mdf_vec_remove(&v, 0);
    assert_int_equal(mdf_vec_insert(&v, 50, &extra), 0);
    assert_int_equal(MDF_VEC_AT(&v, int, 0), 1);
    assert_int_equal(MDF_VEC_AT(&v, int, 50), 100);
    assert_int_equal(MDF_VEC_AT(&v, int, 51), 51);
    size_t n;
    int *taken = mdf_vec_take(&v, &n);
    assert_true(n == 100 && v.len == 0 && v.data == NULL);
    free(taken);
    mdf_vec_free(&v);
}

/* SipHash-2-4 against the paper's vectors (key 00..0f, messages 00..n-1). */
static void test_siphash_vectors(void **state)
{
    (void)state;
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_true(mdf_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(mdf_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
    assert_true(mdf_siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
}

/* Keys crafted so that their FNV-1a hashes share the low 16 bits: each
 * key i is "t" + 6 hex digits (with a retry counter) + two bytes chosen
 * from the hash so far (FNV's step is invertible mod 2^16). */
#define FLOOD_KEYS 65536
#define FLOOD_KEYLEN 9
static void flood_keys(char (*keys)[FLOOD_KEYLEN + 1], uint16_t target)
{
    const uint64_t prime = 0x100000001b3ULL;
    uint64_t inv = prime; /* Newton: prime^-1 mod 2^64 */
    for (int i = 0; i < 6; i++)
        inv *= 2 - prime * inv;
    uint16_t u = (uint16_t)(target * inv);
    for (unsigned k = 0; k < FLOOD_KEYS; k++) {
        for (unsigned tries = 0;; tries++) {
            char *p = keys[k];
            snprintf(p, FLOOD_KEYLEN + 1, "t%06x", (k + tries * FLOOD_KEYS) & 0xffffff);
            uint64_t h = mdf_hash_bytes(p, 7);
            int b1 = -1;
            for (int b = 0; b < 256 && b1 < 0; b++) {
                if ((((h ^ (uint64_t)b) * prime) & 0xff00) == (u & 0xff00u))
                    b1 = b;
            }
            if (b1 < 0)
                continue;
            uint64_t h2 = (h ^ (uint64_t)b1) * prime;
            p[7] = (char)b1;
            p[8] = (char)((h2 ^ u) & 0xff);
            p[9] = '\0';
            break;
        }
    }
}

/* Issue 12, case 10: 65,536 keys that pile into one slot under FNV-1a
 * (shown) go into the map with short probes (the map's hash is keyed),
 * and every one is found again. */
static void test_strmap_flood(void **state)
{
    (void)state;
    static char keys[FLOOD_KEYS][FLOOD_KEYLEN + 1];
    flood_keys(keys, 0x1234);
    size_t same = 0;
    for (unsigned k = 0; k < FLOOD_KEYS; k++)
        same += (mdf_hash_bytes(keys[k], FLOOD_KEYLEN) & 0xffff) == 0x1234;
    assert_int_equal(same, FLOOD_KEYS); /* the keys are hostile to FNV-1a */
    mdf_strmap m;
    mdf_strmap_init(&m);
    for (unsigned k = 0; k < FLOOD_KEYS; k++)
        assert_int_equal(mdf_strmap_put(&m, keys[k], FLOOD_KEYLEN, k), 0);
    assert_int_equal(m.count, FLOOD_KEYS);
    if (m.max_probe > 64)
        fail_msg("a probe of %zu slots: the keys flooded the map", m.max_probe);
    for (unsigned k = 0; k < FLOOD_KEYS; k++) {
        size_t v = 0;
        assert_int_equal(mdf_strmap_get(&m, keys[k], FLOOD_KEYLEN, &v), 1);
        assert_int_equal(v, k);
    }
    mdf_strmap_free(&m);
}

/* Deleting keeps every other key findable (the backward shift), and the
 * map holds no pointer to a deleted key: its memory is freed here, and a
 * lookup that read it would trip AddressSanitizer. */
static void test_strmap_del(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char *keys[N];
    mdf_strmap m;
    mdf_strmap_init(&m);
    for (int i = 0; i < N; i++) {
        keys[i] = malloc(16);
        assert_non_null(keys[i]);
        snprintf(keys[i], 16, "k%d", i);
        assert_int_equal(mdf_strmap_put(&m, keys[i], strlen(keys[i]), (size_t)i), 0);
    }
    for (int i = 0; i < N; i += 2) {
        char copy[16];
        snprintf(copy, sizeof copy, "%s", keys[i]);
        assert_int_equal(mdf_strmap_del(&m, copy, strlen(copy)), 1);
        free(keys[i]);
        keys[i] = NULL;
        assert_int_equal(mdf_strmap_del(&m, copy, strlen(copy)), 0);
    }
    assert_int_equal(m.count, N / 2);
    for (int i = 0; i < N; i++) {
        char probe[16];
        size_t v = 0;
        snprintf(probe, sizeof probe, "k%d", i);
        assert_int_equal(mdf_strmap_get(&m, probe, strlen(probe), &v), i % 2);
        if (i % 2)
            assert_int_equal(v, (size_t)i);
    }
    for (int i = 0; i < N; i++)
        free(keys[i]);
    mdf_strmap_free(&m);
}

/* RFC 3629 UTF-8: each maximal ill-formed run is one U+FFFD, so is a
 * NUL; well-formed text is kept; the writer emits \\ufffd for what is
 * not UTF-8, so its output is always valid. */
static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        size_t replaced;
        const char *out;
    } cases[] = {
        {"\xff\x80\xc0\xaf", 4, 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"a\xe0\x80\x80", 4, 3, "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* overlong */
        {"\xed\xa0\x80", 3, 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},   /* a surrogate */
        {"\xf4\x90\x80\x80", 4, 4,
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* past U+10FFFF */
        {"x\xe2\x82", 3, 1, "x\xEF\xBF\xBD"},                 /* cut short: one run */
        {"a\0b", 3, 1,
         "a\xEF\xBF\xBD"
         "b"},
        {"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", 9, 0, "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mdf_buf b;
        size_t replaced = 99;
        mdf_buf_init(&b, 256);
        assert_int_equal(mdf_utf8_clean(cases[i].in, cases[i].len, &b, &replaced), MDF_OK);
        assert_int_equal(replaced, cases[i].replaced);
        assert_int_equal(b.len, strlen(cases[i].out));
        assert_memory_equal(b.data, cases[i].out, b.len);
        assert_int_equal(mdf_utf8_clean_already(cases[i].in, cases[i].len), cases[i].replaced == 0);
        mdf_buf_free(&b);
    }
    mdf_buf out;
    mdf_buf_init(&out, 256);
    mdf_jsonw w;
    mdf_jsonw_init(&w, &out, NULL);
    mdf_jsonw_obj_begin(&w);
    mdf_jsonw_kstr(&w, "name", "Bad\xff\x80 caf\xc3\xa9");
    mdf_jsonw_obj_end(&w);
    assert_int_equal(mdf_jsonw_finish(&w), 0);
    assert_string_equal(out.data, "{\"name\":\"Bad\\ufffd\\ufffd caf\xc3\xa9\"}");
    mdf_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_jsonw),
        cmocka_unit_test(test_jsonw_unbalanced_and_overflow),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_vec_cap),
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_strmap_flood),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_strmap_del),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
