/* Unit tests of the MDE report parser: the product documentation's own
 * examples, every quirk of mde-report.md, the limits, and the archive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "json_writer.h"
#include "report.h"
#include "tarball.h"
#include "utf8.h"

static mdf_report *parse_ok(const char *json)
{
    char err[MDF_ERRSZ] = "";
    mdf_report *r = NULL;
    int rc = mdf_report_parse_mem(json, strlen(json), NULL, &r, err, sizeof err);
    if (rc != MDF_OK)
        fail_msg("parse failed: %s", err);
    return r;
}

/* Parses and returns the error text (static buffer), failing if it parsed. */
static const char *parse_err(const void *data, size_t len, const mdf_report_limits *lim)
{
    static char err[MDF_ERRSZ];
    mdf_report *r = NULL;
    err[0] = '\0';
    if (mdf_report_parse_mem(data, len, lim, &r, err, sizeof err) == MDF_OK) {
        mdf_report_free(r);
        fail_msg("parse unexpectedly succeeded");
    }
    assert_null(r);
    assert_true(strlen(err) > 0);
    assert_null(strchr(err, '\n')); /* one line */
    return err;
}

static void assert_time(int64_t ms, const char *want)
{
    char t[MDF_TIME_STRSZ];
    if (want == NULL) {
        assert_true(ms == MDF_TIME_NONE);
        return;
    }
    assert_int_equal(mdf_time_format_ms(ms, t), 0);
    assert_string_equal(t, want);
}

static int has_warning(const mdf_report *r, const char *needle)
{
    for (size_t i = 0; i < r->n_warnings; i++) {
        if (strstr(r->warnings[i], needle))
            return 1;
    }
    return 0;
}

static char *read_data_file(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", MDF_TEST_DATA, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    mdf_buf b;
    mdf_buf_init(&b, 1 << 24);
    char block[4096];
    size_t n;
    while ((n = fread(block, 1, sizeof block, fp)) > 0)
        assert_int_equal(mdf_buf_append(&b, block, n), 0);
    fclose(fp);
    return mdf_buf_take(&b, len);
}

/* ---- the Nexus documentation's example -------------------------------- */

static void test_nexus_doc_example(void **state)
{
    (void)state;
    size_t len;
    char *json = read_data_file("nexus-doc-example.json", &len);
    char err[MDF_ERRSZ];
    mdf_report *r = NULL;
    assert_int_equal(mdf_report_parse_mem(json, len, NULL, &r, err, sizeof err), MDF_OK);
    /* the same two scans appear in scanList and in the threat list: once each */
    assert_int_equal(r->n_scans, 2);
    assert_string_equal(r->scans[0].type, "quick");
    assert_string_equal(r->scans[0].state, "succeeded");
    assert_time(r->scans[0].start_ms, "2023-10-13T13:42:53.732Z");
    assert_time(r->scans[0].end_ms, "2023-10-13T13:43:52.487Z");
    assert_int_equal(r->scans[0].files_scanned, 1750);
    assert_int_equal(r->scans[0].threat_count, 0);
    assert_time(r->scans[1].start_ms, "2023-10-13T17:11:53.457Z");
    assert_time(r->scans[1].end_ms, "2023-10-13T17:12:42.904Z");
    assert_int_equal(r->n_threats, 0);
    assert_int_equal(r->n_quarantine, 0);
    /* the example shows only two sections: the others are said to be missing,
     * and health stays unknown rather than invented */
    assert_true(has_warning(r, "generalHealth: missing"));
    assert_int_equal(r->health.healthy, MDF_UNKNOWN);
    assert_null(r->health.app_version);
    assert_false(r->health.issues_known);
    mdf_report_free(r);
    free(json);
}

static void test_full_sample(void **state)
{
    (void)state;
    size_t len;
    char *json = read_data_file("sample-report.json", &len);
    char err[MDF_ERRSZ];
    mdf_report *r = NULL;
    assert_int_equal(mdf_report_parse_mem(json, len, NULL, &r, err, sizeof err), MDF_OK);
    assert_int_equal(r->n_warnings, 0);
    assert_int_equal(r->n_scans, 2);
    assert_int_equal(r->scans[0].threat_count, 1);
    assert_int_equal(r->n_threats, 2);
    const mdf_threat *t = &r->threats[0];
    assert_string_equal(t->tracking_id, "3f2a9c1e-7b4d-4e0a-9c55-2d8e6f1a0b77");
    assert_string_equal(t->name, "Virus:DOS/EICAR_Test_File");
    assert_string_equal(t->category, "Virus");
    assert_string_equal(t->platform, "DOS");
    assert_string_equal(t->family, "EICAR_Test_File");
    assert_null(t->variant);
    assert_null(t->suffix);
    assert_string_equal(t->type, "virus");
    assert_string_equal(t->status, "quarantined");
    assert_true(mdf_threat_remediated(t));
    assert_time(t->detection_ms, "2024-09-24T07:04:20.121Z");
    t = &r->threats[1];
    assert_string_equal(t->category, "Backdoor");
    assert_string_equal(t->platform, "Linux");
    assert_string_equal(t->family, "Mirai");
    assert_string_equal(t->variant, "IJ");
    assert_string_equal(t->suffix, "MTB");
    assert_string_equal(t->status, "detected");
    assert_false(mdf_threat_remediated(t));
    assert_int_equal(r->n_quarantine, 1);
    assert_string_equal(r->quarantine[0].status, "quarantined");

    const mdf_health *h = &r->health;
    assert_int_equal(h->healthy, MDF_YES);
    assert_int_equal(h->licensed, MDF_YES);
    assert_string_equal(h->app_version, "101.24082.0004");
    assert_string_equal(h->definitions_version, "1.417.472.0");
    assert_string_equal(h->definitions_status, "upToDate");
    assert_time(h->definitions_updated_ms, "2024-09-24T07:00:00.000Z");
    assert_int_equal(h->real_time_protection_enabled, MDF_YES);
    assert_int_equal(h->passive_mode_enabled, MDF_NO);
    assert_string_equal(h->behavior_monitoring, "disabled");
    assert_true(h->issues_known);
    assert_int_equal(h->n_issues, 0);
    /* counters: one as a string, one as a number */
    assert_int_equal(r->rtp_files_scanned, 5123 + 2200);
    mdf_report_free(r);
    free(json);
}

/* ---- quirks of mde-report.md ------------------------------------------------ */

/* Numbers written as strings where mdatp writes numbers, and the reverse. */
static void test_numbers_either_way(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"scanList\":[{\"type\":\"full\",\"state\":\"succeeded\",\"startTime\":1697204573732,"
        "\"endTime\":1697204632487.0,\"filesScanned\":1750,\"threats\":[]}],"
        "\"threatInformation\":{\"list\":{\"threats\":{\"scans\":[{\"type\":\"quick\","
        "\"start_time\":\"1697217113457\",\"end_time\":\"1697217162904\","
        "\"files_scanned\":\"1750\",\"threats\":[],\"state\":\"succeeded\"}]}},"
        "\"quarantineList\":{\"type\":\"quarantined\",\"threats\":[]}}}");
    assert_int_equal(r->n_scans, 2);
    assert_string_equal(r->scans[0].type, "full");
    assert_time(r->scans[0].start_ms, "2023-10-13T13:42:53.732Z");
    assert_time(r->scans[0].end_ms, "2023-10-13T13:43:52.487Z");
    assert_int_equal(r->scans[0].files_scanned, 1750);
    assert_time(r->scans[1].start_ms, "2023-10-13T17:11:53.457Z");
    assert_int_equal(r->scans[1].files_scanned, 1750);
    assert_false(has_warning(r, "scanList["));
    mdf_report_free(r);
}

/* Scans are matched by type and start time: the same start with another
 * type is another scan; fields missing on one side come from the other. */
static void test_scan_matching(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"scanList\":[{\"type\":\"quick\",\"startTime\":\"1000000000000\",\"state\":"
        "\"succeeded\","
        "\"threats\":[]},{\"type\":\"full\",\"startTime\":\"1000000000000\"}],"
        "\"threatInformation\":{\"list\":{\"threats\":{\"scans\":["
        "{\"type\":\"quick\",\"start_time\":1000000000000,\"end_time\":1000000060000,"
        "\"files_scanned\":12,\"threats\":[{\"threat\":{\"tracking_id\":\"a\",\"name\":\"x\"}}]},"
        "{\"type\":\"quick\",\"start_time\":900000000000}]}}}}");
    assert_int_equal(r->n_scans, 3);
    /* sorted by start time */
    assert_time(r->scans[0].start_ms, "1998-07-09T16:00:00.000Z");
    assert_null(r->scans[0].state);
    assert_int_equal(r->scans[0].files_scanned, MDF_COUNT_NONE);
    assert_int_equal(r->scans[0].threat_count, MDF_COUNT_NONE);
    const mdf_scan *quick = NULL, *full = NULL;
    for (size_t i = 1; i < 3; i++) {
        if (!strcmp(r->scans[i].type, "quick"))
            quick = &r->scans[i];
        else
            full = &r->scans[i];
    }
    assert_non_null(quick);
    assert_non_null(full);
    assert_string_equal(quick->state, "succeeded");
    assert_int_equal(quick->files_scanned, 12);
    assert_time(quick->end_ms, "2001-09-09T01:47:40.000Z");
    assert_int_equal(quick->threat_count, 1); /* 0 in scanList, 1 in the threat list */
    assert_int_equal(full->end_ms, MDF_TIME_NONE);
    mdf_report_free(r);
}

/* Wrapped {"displayValue","isManaged","value"} and bare values, "$type",
 * string-valued settings, "" instead of [], versions as integers. */
static void test_health_shapes(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"generalHealth\":{\"healthy\":false,\"healthIssues\":[\"missing license\"],"
        "\"licensed\":\"false\",\"appVersion\":100.90,\"definitionsVersion\":79932,"
        "\"engineVersion\":{\"displayValue\":\"1.1\",\"isManaged\":false,\"value\":\"1.1.2\"},"
        "\"definitionsUpdated\":1691587153787,\"definitionsStatus\":{\"$type\":\"updating\"},"
        "\"realTimeProtectionEnabled\":false,"
        "\"passiveModeEnabled\":{\"displayValue\":true,\"isManaged\":true,\"value\":true},"
        "\"behaviorMonitoring\":{\"displayValue\":true,\"isManaged\":false,\"value\":\"enabled\"},"
        "\"edrGroupIds\":{\"displayValue\":\"\",\"isManaged\":false,\"value\":\"\"},"
        "\"someFutureKey\":{\"deep\":[1,2,3]}},"
        "\"mdeDefinitions\":{}}");
    const mdf_health *h = &r->health;
    assert_int_equal(h->healthy, MDF_NO);
    assert_int_equal(h->licensed, MDF_NO);
    assert_int_equal(h->n_issues, 1);
    assert_string_equal(h->issues[0], "missing license");
    assert_string_equal(h->app_version, "100.90");
    assert_string_equal(h->definitions_version, "79932");
    assert_string_equal(h->engine_version, "1.1.2");
    assert_time(h->definitions_updated_ms, "2023-08-09T13:19:13.787Z");
    assert_string_equal(h->definitions_status, "updating");
    assert_int_equal(h->real_time_protection_enabled, MDF_NO);
    assert_int_equal(h->passive_mode_enabled, MDF_YES);
    assert_string_equal(h->behavior_monitoring, "enabled");
    /* unknown keys are fine; only absent sections are reported */
    assert_false(has_warning(r, "generalHealth."));
    assert_false(has_warning(r, "someFutureKey"));
    mdf_report_free(r);
}

/* Definitions only in the mdeDefinitions section. */
/* Agents of 2020 (100.x): integer definitions version, versionEngine; the
 * text form's local-time strings are not times we can read. */
static void test_old_agent(void **state)
{
    (void)state;
    mdf_report *r = parse_ok("{\"generalHealth\":{\"definitionsVersion\":79932,"
                             "\"versionEngine\":\"1.1.17000.7\",\"productExpiration\":"
                             "\"Apr 10, 2024 at 01:34:28 PM\",\"realTimeProtectionEnabled\":"
                             "\"unavailable\"}}");
    assert_string_equal(r->health.definitions_version, "79932");
    assert_string_equal(r->health.engine_version, "1.1.17000.7");
    assert_true(r->health.product_expiration_ms == MDF_TIME_NONE);
    assert_true(has_warning(r, "generalHealth.productExpiration: not a number: \"Apr 10, 2024"));
    assert_int_equal(r->health.real_time_protection_enabled, MDF_UNKNOWN);
    assert_true(has_warning(r, "generalHealth.realTimeProtectionEnabled: not a yes/no value"));
    mdf_report_free(r);
}

/* mde-report.md section 6, the reconstructed threat-list entry, verbatim. */
static void test_reference_threat_example(void **state)
{
    (void)state;
    mdf_report *r =
        parse_ok("{\"threatInformation\":{\"list\":"
                 "{\"threats\":{\"scans\":[{\"type\":\"quick\",\"start_time\":1697204573732,"
                 "\"end_time\":1697204632487,\n"
                 " \"files_scanned\":1751,\"state\":\"succeeded\",\"threats\":[{\n"
                 "  \"threat\":{\"tracking_id\":\"3f2a9c1e-7b4d-4e0a-9c55-2d8e6f1a0b77\","
                 "\"name\":\"Virus:DOS/EICAR_Test_File\",\"type\":\"virus\"},\n"
                 "  \"detection_time\":1697204590121,\n"
                 "  \"history\":[{\"key\":1697204590121,\"value\":\"quarantined\"}]}]}]}}"
                 ",\"quarantineList\":{\"type\":\"quarantined\",\"threats\":[]}}}");
    assert_int_equal(r->n_scans, 1);
    assert_int_equal(r->scans[0].files_scanned, 1751);
    assert_int_equal(r->scans[0].threat_count, 1);
    assert_int_equal(r->n_threats, 1);
    assert_string_equal(r->threats[0].family, "EICAR_Test_File");
    assert_string_equal(r->threats[0].status, "quarantined");
    assert_time(r->threats[0].detection_ms, "2023-10-13T13:43:10.121Z");
    mdf_report_free(r);
}

static void test_definitions_fallback(void **state)
{
    (void)state;
    mdf_report *r = parse_ok("{\"generalHealth\":{\"healthy\":true},\"mdeDefinitions\":"
                             "{\"definitionsVersion\":\"1.395.30.0\",\"definitionsUpdated\":"
                             "\"1691587153787\",\"definitionsStatus\":{\"$type\":\"upToDate\"}}}");
    assert_string_equal(r->health.definitions_version, "1.395.30.0");
    assert_time(r->health.definitions_updated_ms, "2023-08-09T13:19:13.787Z");
    assert_string_equal(r->health.definitions_status, "upToDate");
    mdf_report_free(r);
}

/* Missing, null and wrongly typed sections: warnings, not failures. */
static void test_bad_sections(void **state)
{
    (void)state;
    mdf_report *r = parse_ok("{\"scanList\":null,\"threatInformation\":\"unavailable\","
                             "\"generalHealth\":[],\"diagnosticInformation\":{}}");
    assert_int_equal(r->n_scans, 0);
    assert_true(has_warning(r, "scanList: null"));
    assert_true(has_warning(r, "threatInformation: expected object, got string"));
    assert_true(has_warning(r, "generalHealth: expected object, got array"));
    assert_true(has_warning(r, "mdeDefinitions: missing"));
    assert_true(has_warning(r, "diagnosticInformation.realTimeProtectionStats: missing"));
    assert_int_equal(r->health.healthy, MDF_UNKNOWN);
    assert_int_equal(r->rtp_files_scanned, MDF_COUNT_NONE);
    mdf_report_free(r);

    r = parse_ok("{\"threatInformation\":{\"list\":null,\"quarantineList\":7}}");
    assert_true(has_warning(r, "threatInformation.list: null"));
    assert_true(has_warning(r, "threatInformation.quarantineList: expected object, got number"));
    mdf_report_free(r);
}

/* Unreadable values inside entries: that field is null, the rest is read. */
static void test_bad_values(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"scanList\":[{\"type\":\"quick\",\"startTime\":\"soon\",\"endTime\":\"1697204632487\","
        "\"filesScanned\":\"-5\",\"state\":[\"x\"]},42,"
        "{\"type\":\"quick\",\"startTime\":\"99999999999999999\",\"threats\":\"none\"}],"
        "\"generalHealth\":{\"healthy\":\"unavailable\",\"licensed\":{\"a\":1},"
        "\"healthIssues\":[\"x\",5]}}");
    assert_int_equal(r->n_scans, 2);
    assert_true(has_warning(r, "scanList[0].startTime: not a number: \"soon\""));
    assert_true(has_warning(r, "scanList[0].filesScanned: negative count"));
    assert_true(has_warning(r, "scanList[0].state: expected a string, got array"));
    assert_true(has_warning(r, "scanList[1]: expected object, got number"));
    assert_true(has_warning(r, "scanList[2].startTime: time out of range"));
    assert_true(has_warning(r, "scanList[2].threats: expected array, got string"));
    assert_true(has_warning(r, "generalHealth.healthy: not a yes/no value"));
    assert_true(has_warning(r, "generalHealth.licensed: expected a boolean, got object"));
    assert_true(has_warning(r, "generalHealth.healthIssues: entry 1 is not a string"));
    assert_int_equal(r->health.n_issues, 1);
    /* the scan with an unreadable start keeps what could be read */
    int found = 0;
    for (size_t i = 0; i < r->n_scans; i++) {
        if (r->scans[i].end_ms != MDF_TIME_NONE) {
            assert_time(r->scans[i].end_ms, "2023-10-13T13:43:52.487Z");
            assert_true(r->scans[i].start_ms == MDF_TIME_NONE);
            found = 1;
        }
    }
    assert_true(found);
    mdf_report_free(r);
}

/* Latest status = the history entry with the largest key, in any order,
 * keys as numbers or strings; a threat in two scans is listed once. */
static void test_threat_history(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"threatInformation\":{\"list\":{\"threats\":{\"scans\":["
        "{\"type\":\"quick\",\"start_time\":1,\"threats\":[{\"threat\":{\"tracking_id\":\"t1\","
        "\"name\":\"Trojan:Linux/"
        "Xorddos.A!xp\",\"type\":\"virus\"},\"detection_time\":\"1697204590121\","
        "\"history\":[{\"key\":\"300\",\"value\":\"removed\"},{\"key\":100,\"value\":\"detected\"},"
        "{\"key\":200,\"value\":\"quarantined\"}]}]},"
        "{\"type\":\"quick\",\"start_time\":2,\"threats\":[{\"threat\":{\"tracking_id\":\"t1\","
        "\"name\":\"Trojan:Linux/Xorddos.A!xp\"},\"history\":[{\"key\":250,\"value\":\"x\"}]},"
        "{\"threat\":{\"tracking_id\":\"t2\",\"name\":\"EICAR-Test-File (not a virus)\"},"
        "\"history\":[{\"key\":1,\"value\":\"detected\"},{\"key\":9,\"value\":\"allowed\"}]}]}"
        "]}},\"quarantineList\":{\"type\":\"quarantined\",\"threats\":[]}}}");
    assert_int_equal(r->n_threats, 2);
    assert_string_equal(r->threats[0].tracking_id, "t1");
    assert_string_equal(r->threats[0].status, "removed");
    assert_true(mdf_threat_remediated(&r->threats[0]));
    assert_string_equal(r->threats[0].family, "Xorddos");
    assert_string_equal(r->threats[0].variant, "A");
    assert_string_equal(r->threats[0].suffix, "xp");
    assert_time(r->threats[0].detection_ms, "2023-10-13T13:43:10.121Z");
    /* the older EICAR name has no CARO parts: they stay null */
    assert_string_equal(r->threats[1].name, "EICAR-Test-File (not a virus)");
    assert_null(r->threats[1].category);
    assert_null(r->threats[1].platform);
    assert_null(r->threats[1].family);
    assert_string_equal(r->threats[1].status, "allowed");
    assert_false(mdf_threat_remediated(&r->threats[1]));
    assert_true(r->threats[1].detection_ms == MDF_TIME_NONE);
    mdf_report_free(r);
}

/* The older flat layout {"threats":[...]} with fields on the entry itself. */
static void test_flat_threat_layout(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"threatInformation\":{\"list\":{\"threats\":[{\"name\":\"Virus:DOS/EICAR_Test_File\","
        "\"type\":\"virus\",\"detection_time\":1697204590121}]},"
        "\"quarantineList\":{\"type\":\"quarantined\",\"threats\":[{\"threat\":{\"tracking_id\":"
        "\"q1\",\"name\":\"HackTool:Linux/Portscan.B!xp\"},\"history\":[{\"key\":5,"
        "\"value\":\"quarantined\"}]}]}}}");
    assert_int_equal(r->n_threats, 1);
    assert_null(r->threats[0].tracking_id);
    assert_string_equal(r->threats[0].family, "EICAR_Test_File");
    assert_null(r->threats[0].status);
    assert_time(r->threats[0].detection_ms, "2023-10-13T13:43:10.121Z");
    assert_int_equal(r->n_quarantine, 1);
    assert_string_equal(r->quarantine[0].category, "HackTool");
    assert_string_equal(r->quarantine[0].status, "quarantined");
    mdf_report_free(r);
}

/* Issue 12, cases 11 and 12: bytes that are not UTF-8 in a threat's name
 * become U+FFFD, with a warning, and the JSON output is valid UTF-8; two
 * tracking ids that differ only after an escaped NUL stay two threats. */
static void test_strings_kept_valid_and_whole(void **state)
{
    (void)state;
    mdf_report *r = parse_ok(
        "{\"threatInformation\":{\"list\":{\"type\":\"list\",\"threats\":["
        "{\"threat\":{\"tracking_id\":\"id\\u0000a\",\"name\":\"Virus:DOS/Bad\xff\x80\xc0\xaf\"}},"
        "{\"threat\":{\"tracking_id\":\"id\\u0000b\",\"name\":\"Virus:DOS/Caf\xc3\xa9\"}}]}}}");
    assert_int_equal(r->n_threats, 2);
    assert_string_equal(r->threats[0].tracking_id, "id\xEF\xBF\xBD"
                                                   "a");
    assert_string_equal(r->threats[1].tracking_id, "id\xEF\xBF\xBD"
                                                   "b");
    assert_string_equal(r->threats[0].name,
                        "Virus:DOS/Bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(r->threats[1].name, "Virus:DOS/Caf\xc3\xa9"); /* valid: kept */
    assert_true(has_warning(r, "invalid UTF-8 sequence(s) replaced with U+FFFD"));
    mdf_buf out;
    mdf_buf_init(&out, 1 << 20);
    mdf_jsonw w;
    mdf_jsonw_init(&w, &out, NULL);
    mdf_report_write_json(r, &w);
    assert_int_equal(mdf_jsonw_finish(&w), 0);
    assert_true(mdf_utf8_clean_already(out.data, out.len));
    mdf_buf_free(&out);
    mdf_report_free(r);
}

static void test_warning_cap(void **state)
{
    (void)state;
    mdf_buf b;
    mdf_buf_init(&b, 1 << 20);
    mdf_buf_append(&b, "{\"scanList\":[", 13);
    for (int i = 0; i < 250; i++)
        mdf_buf_appendf(&b, "%s\"junk\"", i ? "," : "");
    mdf_buf_append(&b, "]}", 2);
    mdf_report *r = parse_ok(b.data);
    assert_int_equal(r->n_warnings, MDF_REPORT_MAX_WARNINGS);
    assert_true(r->n_warnings_dropped > 0);
    assert_int_equal(r->n_warnings + r->n_warnings_dropped, 250 + 4);
    mdf_report_free(r);
    mdf_buf_free(&b);
}

/* ---- refusals --------------------------------------------------------------------- */

static void test_not_json(void **state)
{
    (void)state;
    const char *doc = "{\n  \"scanList\": [\n    {\"type\": quick}\n  ]\n}";
    const char *err = parse_err(doc, strlen(doc), NULL);
    assert_non_null(strstr(err, "not JSON"));
    assert_non_null(strstr(err, "line 3, column 14"));
    err = parse_err("", 0, NULL);
    assert_non_null(strstr(err, "empty input"));
    err = parse_err("{\"a\":", 5, NULL);
    assert_non_null(strstr(err, "unexpected end of input"));
    err = parse_err("{} x", 4, NULL);
    assert_non_null(strstr(err, "at line 1, column 4"));
    err = parse_err("[1,2]", 5, NULL);
    assert_non_null(strstr(err, "not an MDE report"));
    err = parse_err("{\"a\":1,}", 8, NULL); /* strict: no trailing commas */
    assert_non_null(strstr(err, "not JSON"));
}

static void test_caps(void **state)
{
    (void)state;
    mdf_report_limits lim;
    mdf_report_limits_default(&lim);
    assert_int_equal(lim.max_bytes, 64u << 20);
    lim.max_bytes = 16;
    const char *doc = "{\"scanList\":[],\"generalHealth\":{}}";
    const char *err = parse_err(doc, strlen(doc), &lim);
    assert_non_null(strstr(err, "larger than the 16-byte cap"));

    mdf_report_limits_default(&lim);
    lim.max_depth = 4;
    doc = "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}";
    err = parse_err(doc, strlen(doc), &lim);
    assert_non_null(strstr(err, "nesting deeper than 4"));
    lim.max_depth = 5;
    mdf_report *r = NULL;
    char e[MDF_ERRSZ];
    assert_int_equal(mdf_report_parse_mem(doc, strlen(doc), &lim, &r, e, sizeof e), MDF_OK);
    mdf_report_free(r);

    /* the default depth cap holds against a deeply nested document */
    mdf_buf b;
    mdf_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        mdf_buf_append(&b, "[", 1);
    err = parse_err(b.data, b.len, NULL);
    assert_non_null(strstr(err, "nesting deeper than 64"));
    mdf_buf_free(&b);
}

/* ---- archives ------------------------------------------------------------------------ */

/* An entry's kind, besides a file of its data (0). */
enum { DIR_ENTRY = 1, HOLLOW_ENTRY = 2 /* len bytes declared, a sparse map holding none */ };

struct entry {
    const char *path;
    const char *data;
    size_t len;
    int dir; /* 0, DIR_ENTRY or HOLLOW_ENTRY */
};

/* Builds a tar.gz in memory. Caller frees. */
static unsigned char *make_targz(const struct entry *e, size_t n, size_t *len)
{
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        bool dir = e[i].dir == DIR_ENTRY;
        archive_entry_set_filetype(ae, dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        archive_entry_set_size(ae, dir ? 0 : (la_int64_t)e[i].len);
        if (e[i].dir == HOLLOW_ENTRY)
            archive_entry_sparse_add_entry(ae, 0, 0);
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (e[i].dir == HOLLOW_ENTRY) /* the map's block is written with the data */
            assert_int_equal(archive_write_data(a, "", 0), 0);
        else if (!dir)
            assert_int_equal(archive_write_data(a, e[i].data, e[i].len), (la_ssize_t)e[i].len);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return buf;
}

static void test_archive(void **state)
{
    (void)state;
    size_t jlen, alen;
    char *json = read_data_file("sample-report.json", &jlen);
    const struct entry entries[] = {
        {"hostfs/tmp/runcommand/", NULL, 0, DIR_ENTRY},
        {"hostfs/tmp/runcommand/mde-agent-information.json", NULL, 0,
         DIR_ENTRY}, /* a dir: skipped */
        {"hostfs/tmp/runcommand/other.json", "{}", 2, 0},
        {"hostfs/tmp/runcommand/mde-agent-information.json", json, jlen, 0},
    };
    unsigned char *tgz = make_targz(entries, 4, &alen);
    char err[MDF_ERRSZ];
    mdf_report *r = NULL;
    assert_int_equal(mdf_report_parse_mem(tgz, alen, NULL, &r, err, sizeof err), MDF_OK);
    assert_int_equal(r->n_threats, 2);
    assert_int_equal(r->n_warnings, 0);
    mdf_report_free(r);

    /* the same archive from a file (parse_file detects it by its bytes) */
    char path[] = "/tmp/mdf-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, tgz, alen), (ssize_t)alen);
    close(fd);
    assert_int_equal(mdf_report_parse_file(path, NULL, &r, err, sizeof err), MDF_OK);
    assert_int_equal(r->n_scans, 2);
    mdf_report_free(r);
    unlink(path);

    /* the entry cap applies to the decompressed entry */
    mdf_report_limits lim;
    mdf_report_limits_default(&lim);
    lim.max_bytes = jlen - 1;
    const char *e = parse_err(tgz, alen, &lim);
    assert_non_null(strstr(e, "mde-agent-information.json in archive is larger than"));

    /* truncated (corrupt) archive */
    e = parse_err(tgz, alen / 2, NULL);
    assert_non_null(strstr(e, "archive"));
    free(tgz);

    /* no report inside */
    const struct entry other[] = {{"x/rollupStatus.json", "{}", 2, 0}};
    tgz = make_targz(other, 1, &alen);
    e = parse_err(tgz, alen, NULL);
    assert_non_null(strstr(e, "archive has no mde-agent-information.json"));
    free(tgz);

    /* fewer bytes than the header declares (found by fuzz_tarball: a
     * sparse map with no data reads as nothing): refused, not taken as an
     * empty report that a cap of its own size would then refuse */
    const struct entry hollow[] = {{"mde-agent-information.json", NULL, 26, HOLLOW_ENTRY}};
    tgz = make_targz(hollow, 1, &alen);
    e = parse_err(tgz, alen, NULL);
    assert_non_null(strstr(e, "mde-agent-information.json in archive holds 0 of its 26 bytes"));
    free(tgz);

    /* a report that is not JSON inside the archive says where */
    const struct entry bad[] = {{"mde-agent-information.json", "{\n\"a\": nope}", 12, 0}};
    tgz = make_targz(bad, 1, &alen);
    e = parse_err(tgz, alen, NULL);
    assert_non_null(strstr(e, "not JSON"));
    assert_non_null(strstr(e, "line 2"));
    free(tgz);
    free(json);
}

/* A gzip bomb: a small archive holding a huge entry is stopped at the cap
 * while streaming, not after inflating it. */
static void test_archive_bomb(void **state)
{
    (void)state;
    size_t big = 8u << 20, alen;
    char *zeros = malloc(big);
    assert_non_null(zeros);
    memset(zeros, ' ', big);
    zeros[0] = '{';
    const struct entry e[] = {{"mde-agent-information.json", zeros, big, 0}};
    unsigned char *tgz = make_targz(e, 1, &alen);
    assert_true(alen < big / 100);
    mdf_report_limits lim;
    mdf_report_limits_default(&lim);
    lim.max_bytes = 1u << 20;
    const char *err = parse_err(tgz, alen, &lim);
    assert_non_null(strstr(err, "larger than the 1048576-byte cap"));
    free(tgz);
    free(zeros);
}

/* Issue 12, case 3: a bomb in an entry before the report (80 MiB of
 * zeros, 80 KB of gzip; the campaign's inflated to 60 GiB) is refused from
 * its header, before it is inflated to be skipped; so is an archive of
 * more entries than the entry budget. */
static void test_archive_skip_bomb(void **state)
{
    (void)state;
    size_t big = 80u << 20, jlen, alen;
    char *zeros = calloc(1, big);
    assert_non_null(zeros);
    char *json = read_data_file("sample-report.json", &jlen);
    const struct entry e[] = {{"padding.bin", zeros, big, 0},
                              {"mde-agent-information.json", json, jlen, 0}};
    unsigned char *tgz = make_targz(e, 2, &alen);
    const char *err = parse_err(tgz, alen, NULL);
    assert_non_null(strstr(err, "archive has more than 64 MiB before mde-agent-information.json"));
    assert_non_null(strstr(err, "padding.bin"));
    free(tgz);
    free(zeros);

    enum { MANY = MDF_TARBALL_MAX_ENTRIES + 1 };
    static struct entry many[MANY + 1];
    static char names[MANY][16];
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        many[i] = (struct entry){names[i], "", 0, 0};
    }
    many[MANY] = (struct entry){"mde-agent-information.json", json, jlen, 0};
    tgz = make_targz(many, MANY + 1, &alen);
    err = parse_err(tgz, alen, NULL);
    assert_non_null(strstr(err, "archive has more than 1024 entries"));
    free(tgz);
    free(json);
}

static void test_parse_file_errors(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_report *r = NULL;
    assert_int_equal(mdf_report_parse_file("/nonexistent/report.json", NULL, &r, err, sizeof err),
                     MDF_ERR);
    assert_non_null(strstr(err, "/nonexistent/report.json: cannot open"));
    assert_null(r);
}

/* The JSON output carries the issue's field names and nulls for the unsaid. */
static void test_json_output(void **state)
{
    (void)state;
    size_t len;
    char *json = read_data_file("nexus-doc-example.json", &len);
    char err[MDF_ERRSZ];
    mdf_report *r = NULL;
    assert_int_equal(mdf_report_parse_mem(json, len, NULL, &r, err, sizeof err), MDF_OK);
    mdf_buf out;
    mdf_buf_init(&out, 1 << 20);
    mdf_jsonw w;
    mdf_jsonw_init(&w, &out, NULL);
    mdf_report_write_json(r, &w);
    assert_int_equal(mdf_jsonw_finish(&w), 0);
    assert_non_null(strstr(out.data, "{\"scans\":[{\"type\":\"quick\",\"state\":\"succeeded\","
                                     "\"start_time\":\"2023-10-13T13:42:53.732Z\","
                                     "\"end_time\":\"2023-10-13T13:43:52.487Z\","
                                     "\"files_scanned\":1750,\"threat_count\":0}"));
    assert_non_null(strstr(out.data, "\"health\":{\"healthy\":null,\"licensed\":null,"));
    assert_non_null(strstr(out.data, "\"issues\":null"));
    assert_non_null(strstr(out.data, "\"threats\":[],\"quarantine\":[]"));
    mdf_buf_free(&out);
    mdf_report_free(r);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nexus_doc_example),
        cmocka_unit_test(test_full_sample),
        cmocka_unit_test(test_numbers_either_way),
        cmocka_unit_test(test_scan_matching),
        cmocka_unit_test(test_health_shapes),
        cmocka_unit_test(test_old_agent),
        cmocka_unit_test(test_reference_threat_example),
        cmocka_unit_test(test_definitions_fallback),
        cmocka_unit_test(test_bad_sections),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_threat_history),
        cmocka_unit_test(test_flat_threat_layout),
        cmocka_unit_test(test_warning_cap),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_archive_bomb),
        cmocka_unit_test(test_archive_skip_bomb),
        cmocka_unit_test(test_strings_kept_valid_and_whole),
        cmocka_unit_test(test_parse_file_errors),
        cmocka_unit_test(test_json_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
