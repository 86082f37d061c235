/* The logger (log.h): JSON escaping and UTF-8 repair, both line formats
 * with their fields (stderr captured through a pipe), truncation that
 * keeps a line valid JSON, and librdkafka's syslog levels (kafka_log.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "kafka_log.h"
#include "log.h"

static void expect_escape(const char *in, size_t n, const char *want)
{
    char out[256];
    size_t len = mdf_log_json_escape(in, n, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
}

static void test_escape(void **state)
{
    (void)state;
    expect_escape("plain", 5, "plain");
    expect_escape("a\"b\\c", 5, "a\\\"b\\\\c");
    expect_escape("t\tn\nr\r", 6, "t\\tn\\nr\\r");
    expect_escape("\x01\x1f", 2, "\\u0001\\u001f");
    expect_escape("nul\0x", 5, "nul\\u0000x");
    expect_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* each invalid byte becomes U+FFFD */
    expect_escape("a\xffz", 3, "a\xef\xbf\xbdz");
    expect_escape("\x80", 1, "\xef\xbf\xbd");                 /* stray continuation */
    expect_escape("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong '/' */
    expect_escape("\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    expect_escape("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    expect_escape("\xf4\x90\x80\x80", 4,
                  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
    expect_escape("\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd");          /* cut short */
    /* never a cut escape or character at the end of the room */
    char out[6];
    assert_int_equal(mdf_log_json_escape("ab\"cd", 5, out, 5), 4);
    assert_string_equal(out, "ab\\\"");
    assert_int_equal(mdf_log_json_escape("ab\"cd", 5, out, 4), 2); /* not half of \" */
    assert_string_equal(out, "ab");
    assert_int_equal(mdf_log_json_escape("a\xe2\x82\xac", 4, out, 4), 1);
    assert_string_equal(out, "a");
    assert_int_equal(mdf_log_json_escape("\n", 1, out, 2), 0);
    assert_string_equal(out, "");
}

/* Runs fn with stderr going into a pipe; returns what it wrote (free it). */
static char *capture(void (*fn)(void))
{
    int fds[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(fds), 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    close(fds[1]);
    fn();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t n;
    while ((n = read(fds[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    buf[len] = '\0';
    return buf;
}

static void log_some(void)
{
    mdf_info_f(MDF_FIELDS("job_id", "j-1", "node", "rack1compute01", "topic", NULL),
               "job %s node %s: \"done\"", "j-1", "rack1compute01");
    mdf_debug("not written at info");
    mdf_warn("bad byte \xff here");
}

static json_object *parse_line(const char *line, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, line, (int)len);
    bool whole = json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!o || !whole)
        fail_msg("not one JSON object: %.*s", (int)len, line);
    return o;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no %s", key);
    return json_object_get_string(v);
}

static void test_text(void **state)
{
    (void)state;
    mdf_log_init("test-log", MDF_LOG_INFO);
    mdf_log_set_format(MDF_LOG_TEXT);
    char *out = capture(log_some);
    char want[128];
    snprintf(want, sizeof want, " info test-log[%d]: job j-1 node rack1compute01: \"done\"\n",
             (int)getpid());
    /* the text line is the message alone: no fields */
    if (!strstr(out, want) || strstr(out, "not written") || !strstr(out, " warn test-log["))
        fail_msg("unexpected text log: %s", out);
    assert_int_equal(out[4], '-'); /* starts with the RFC 3339 time */
    free(out);
}

static void test_json(void **state)
{
    (void)state;
    mdf_log_init("test-log", MDF_LOG_INFO);
    mdf_log_set_format(MDF_LOG_JSON);
    char *out = capture(log_some);
    mdf_log_set_format(MDF_LOG_TEXT);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    json_object *o = parse_line(out, (size_t)(nl - out));
    assert_string_equal(str(o, "level"), "info");
    assert_string_equal(str(o, "msg"), "job j-1 node rack1compute01: \"done\"");
    assert_string_equal(str(o, "program"), "test-log");
    assert_string_equal(str(o, "job_id"), "j-1");
    assert_string_equal(str(o, "node"), "rack1compute01");
    assert_false(json_object_object_get_ex(o, "topic", NULL)); /* NULL value: left out */
    json_object *pid;
    assert_true(json_object_object_get_ex(o, "pid", &pid));
    assert_int_equal(json_object_get_int(pid), (int)getpid());
    const char *t = str(o, "time"); /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(strlen(t), 24);
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[19], '.');
    assert_int_equal(t[23], 'Z');
    json_object_put(o);
    char *second = nl + 1;
    nl = strchr(second, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n')); /* the debug line was not written */
    o = parse_line(second, (size_t)(nl - second));
    assert_string_equal(str(o, "level"), "warn");
    assert_string_equal(str(o, "msg"), "bad byte \xef\xbf\xbd here");
    json_object_put(o);
    free(out);
}

static void log_long(void)
{
    char big[6000];
    memset(big, '"', sizeof big - 1); /* each grows to 2 bytes escaped */
    big[sizeof big - 1] = '\0';
    mdf_error_f(MDF_FIELDS("job_id", big, "node", "n1"), "%s", big);
}

/* A line too long for one write is cut, and stays one JSON object. */
static void test_json_long(void **state)
{
    (void)state;
    mdf_log_init("test-log", MDF_LOG_INFO);
    mdf_log_set_format(MDF_LOG_JSON);
    char *out = capture(log_long);
    mdf_log_set_format(MDF_LOG_TEXT);
    size_t len = strlen(out);
    assert_true(len <= 4096);
    assert_int_equal(out[len - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);
    json_object *o = parse_line(out, len - 1);
    assert_string_equal(str(o, "program"), "test-log");
    assert_true(strlen(str(o, "msg")) > 1000);
    json_object_put(o);
    free(out);
}

static void test_kafka_levels(void **state)
{
    (void)state;
    static const mdf_log_level want[] = {MDF_LOG_ERROR, MDF_LOG_ERROR, MDF_LOG_ERROR,
                                         MDF_LOG_ERROR, MDF_LOG_WARN,  MDF_LOG_INFO,
                                         MDF_LOG_INFO,  MDF_LOG_DEBUG};
    for (int i = 0; i < 8; i++)
        assert_int_equal(mdf_kafka_log_level(i), want[i]);
    mdf_log_format f;
    assert_int_equal(mdf_log_format_parse("json", &f), MDF_OK);
    assert_int_equal(f, MDF_LOG_JSON);
    assert_int_equal(mdf_log_format_parse("text", &f), MDF_OK);
    assert_int_equal(f, MDF_LOG_TEXT);
    assert_int_equal(mdf_log_format_parse("JSON", &f), MDF_ERR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),       cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),         cmocka_unit_test(test_json_long),
        cmocka_unit_test(test_kafka_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
