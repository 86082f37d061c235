/* The ARM decoders on the specification's own example payloads
 * (tests/data/arm-examples), the name checks, and URL rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "arm_decode.h"
#include "blob.h"
#include "buf.h"
#include "err.h"
#include "http_loop.h"
#include "json_reader.h"
#include "names.h"
#include "url.h"

static mdf_jdoc *load(const char *name)
{
    char path[1024], err[MDF_ERRSZ];
    snprintf(path, sizeof path, "%s/arm-examples/%s", MDF_TEST_DATA, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    mdf_buf b;
    mdf_buf_init(&b, 1 << 20);
    char block[4096];
    size_t n;
    while ((n = fread(block, 1, sizeof block, fp)) > 0)
        assert_int_equal(mdf_buf_append(&b, block, n), 0);
    fclose(fp);
    size_t len;
    char *text = mdf_buf_take(&b, &len);
    mdf_jdoc *doc = NULL;
    if (mdf_jdoc_parse(&text, len, 64, &doc, err, sizeof err) != MDF_OK)
        fail_msg("%s: %s", name, err);
    return doc;
}

/* responses.<status>.body of an example file */
static const mdf_jval *response_body(const mdf_jdoc *doc, const char *status)
{
    const mdf_jval *v = mdf_jget(mdf_jget(mdf_jget(&doc->root, "responses"), status), "body");
    assert_non_null(v);
    return v;
}

static const char *response_header(const mdf_jdoc *doc, const char *status, const char *name,
                                   char *buf, size_t sz)
{
    const mdf_jval *v =
        mdf_jget(mdf_jget(mdf_jget(mdf_jget(&doc->root, "responses"), status), "headers"), name);
    assert_non_null(v);
    assert_int_equal(v->type, MDF_J_STRING);
    snprintf(buf, sz, "%.*s", (int)v->len, v->s);
    return buf;
}

static void test_cluster_get(void **state)
{
    (void)state;
    mdf_jdoc *doc = load("2026-07-01_Clusters_Get.json");
    mdf_cluster c;
    char err[MDF_ERRSZ];
    assert_int_equal(mdf_arm_decode_cluster(response_body(doc, "200"), &c, err, sizeof err),
                     MDF_OK);
    assert_string_equal(c.name, "clusterName");
    assert_string_equal(c.location, "location");
    assert_string_equal(c.enforcement_level, "OnDemand");
    assert_string_equal(c.managed_resource_group, "my-managed-rg");
    assert_string_equal(c.provisioning_state, "Succeeded");
    assert_true(c.n_actions >= 1);
    /* the example spells ScanRuntime; other payloads scanRuntime */
    assert_true(strcasecmp(c.actions[0].action_type,
                           "Microsoft.NetworkCloud/clusters/scanRuntime/action") == 0);
    assert_string_equal(c.actions[0].status, "Completed");
    assert_string_equal(c.actions[0].start_time, "2023-04-29T11:00:00Z");
    assert_ptr_equal(mdf_cluster_action(&c, "microsoft.networkcloud/clusters/scanruntime/action"),
                     &c.actions[0]);
    assert_null(mdf_cluster_action(&c, "Microsoft.NetworkCloud/clusters/other/action"));
    /* the example's only override is StorageRunReadCommands: the data
     * extracts go to the default container */
    assert_true(c.output.set);
    assert_false(c.output.overridden);
    assert_string_equal(c.output.container_url,
                        "https://myaccount.blob.core.windows.net/mycontainer?restype=container");
    assert_string_equal(c.output.identity_type, "UserAssignedIdentity");
    assert_non_null(strstr(c.output.identity_id, "/userAssignedIdentities/userIdentity1"));
    mdf_jdoc_free(doc);
}

static mdf_jdoc *parse_text(const char *text)
{
    char *copy = strdup(text), err[MDF_ERRSZ];
    mdf_jdoc *doc = NULL;
    if (mdf_jdoc_parse(&copy, strlen(text), 32, &doc, err, sizeof err) != MDF_OK)
        fail_msg("%s", err);
    return doc;
}

/* The data extracts' override wins over the default container (in either
 * order, the type compared case-insensitively); a cluster without
 * commandOutputSettings (or without a containerUrl) uses the deprecated
 * Cluster Manager storage. */
static void test_output_settings(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_cluster c;
    mdf_jdoc *doc =
        parse_text("{\"id\":\"/x\",\"name\":\"c\",\"properties\":{\"commandOutputSettings\":{"
                   "\"overrides\":[{\"commandOutputType\":\"bareMetalMachineRunDataExtracts\","
                   "\"containerUrl\":\"https://acct2.blob.core.windows.net/extracts\","
                   "\"associatedIdentity\":{\"identityType\":\"SystemAssignedIdentity\"}},"
                   "{\"commandOutputType\":\"BareMetalMachineRunCommand\",\"containerUrl\":"
                   "\"https://acct3.blob.core.windows.net/commands\"}],"
                   "\"containerUrl\":\"https://acct1.blob.core.windows.net/default\"}}}");
    assert_int_equal(mdf_arm_decode_cluster(&doc->root, &c, err, sizeof err), MDF_OK);
    assert_true(c.output.set);
    assert_true(c.output.overridden);
    assert_string_equal(c.output.container_url, "https://acct2.blob.core.windows.net/extracts");
    assert_string_equal(c.output.identity_type, "SystemAssignedIdentity");
    mdf_jdoc_free(doc);

    doc = parse_text("{\"id\":\"/x\",\"name\":\"c\",\"properties\":{}}");
    assert_int_equal(mdf_arm_decode_cluster(&doc->root, &c, err, sizeof err), MDF_OK);
    assert_false(c.output.set);
    mdf_jdoc_free(doc);
    doc = parse_text("{\"id\":\"/x\",\"name\":\"c\",\"properties\":{"
                     "\"commandOutputSettings\":{\"associatedIdentity\":{}}}}");
    assert_int_equal(mdf_arm_decode_cluster(&doc->root, &c, err, sizeof err), MDF_OK);
    assert_false(c.output.set);
    mdf_jdoc_free(doc);
}

static void test_cluster_patch(void **state)
{
    (void)state;
    mdf_jdoc *doc = load("2026-07-01_Clusters_Patch_RuntimeProtectionConfiguration.json");
    mdf_cluster c;
    char err[MDF_ERRSZ], hdr[1024];
    assert_int_equal(mdf_arm_decode_cluster(response_body(doc, "200"), &c, err, sizeof err),
                     MDF_OK);
    assert_string_equal(c.enforcement_level, "OnDemand");
    /* the 202's operation URL must be accepted as same-origin as ARM */
    response_header(doc, "202", "Azure-AsyncOperation", hdr, sizeof hdr);
    mdf_url_parts op, arm;
    assert_int_equal(mdf_url_parse(hdr, &op, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_url_parse("https://management.azure.com", &arm, err, sizeof err), MDF_OK);
    assert_true(mdf_url_same_origin(&op, &arm));
    mdf_jdoc_free(doc);
}

static void test_scan_runtime_and_extracts(void **state)
{
    (void)state;
    static const char *const files[] = {
        "2025-09-01_Clusters_ScanRuntime.json", "2026-01-01-preview_Clusters_ScanRuntime.json",
        "2026-01-01-preview_BareMetalMachines_RunDataExtracts.json",
        "2025-07-01-preview_BareMetalMachines_RunDataExtractsRestricted.json"};
    for (size_t i = 0; i < 4; i++) {
        mdf_jdoc *doc = load(files[i]);
        char hdr[1024];
        response_header(doc, "202", "Location", hdr, sizeof hdr);
        assert_non_null(strstr(hdr, "/operationStatuses/"));
        mdf_jdoc_free(doc);
    }
}

struct sink {
    mdf_bmm v[4];
    size_t n;
};

static int add(void *arg, const mdf_bmm *b)
{
    struct sink *s = arg;
    if (s->n >= 4)
        return MDF_ERR;
    s->v[s->n++] = *b;
    return MDF_OK;
}

static void test_bmm(void **state)
{
    (void)state;
    mdf_jdoc *doc = load("2026-07-01_BareMetalMachines_ListByResourceGroup.json");
    struct sink sink = {.n = 0};
    mdf_bmm *got = sink.v;
    char next[MDF_URL_MAX], err[MDF_ERRSZ];
    assert_int_equal(mdf_arm_decode_bmm_page(response_body(doc, "200"), add, &sink, next,
                                             sizeof next, err, sizeof err),
                     MDF_OK);
    assert_int_equal(sink.n, 1);
    assert_string_equal(got[0].name, "bareMetalMachineName");
    assert_string_equal(got[0].machine_name, "r01c001");
    assert_string_equal(got[0].ready_state, "True");
    assert_string_equal(got[0].power_state, "On");
    assert_string_equal(next, "https://fully.qualified.hyperlink");
    /* a nextLink on another host is not ARM's: the client refuses it */
    mdf_url_parts a, b;
    assert_int_equal(mdf_url_parse(next, &a, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_url_parse("https://management.azure.com", &b, err, sizeof err), MDF_OK);
    assert_false(mdf_url_same_origin(&a, &b));
    mdf_jdoc_free(doc);

    doc = load("2026-01-01-preview_BareMetalMachines_Get.json");
    mdf_bmm one;
    assert_int_equal(mdf_arm_decode_bmm(response_body(doc, "200"), &one, err, sizeof err), MDF_OK);
    assert_string_equal(one.name, "bareMetalMachineName");
    assert_string_equal(one.cordon_status, "Uncordoned");
    mdf_jdoc_free(doc);
}

static void test_opstatus(void **state)
{
    (void)state;
    /* the specification has no finished-operation example: this is the
     * OperationStatusResult model of azure-networkcloud.md 1d */
    char text[] = "{\"id\":\"/subscriptions/x/providers/Microsoft.NetworkCloud/locations/l/"
                  "operationStatuses/op1\",\"name\":\"op1\",\"status\":\"Succeeded\","
                  "\"startTime\":\"2024-01-01T00:00:00Z\",\"endTime\":\"2024-01-01T00:02:00Z\","
                  "\"percentComplete\":100,\"properties\":{\"exitCode\":\"0\",\"outputHead\":"
                  "\"====Action Command Output====\\nMDE agent is running, proceeding with data "
                  "extract\\nScript execution result can be found in storage account:\\n "
                  "https://acct.blob.core.windows.net/c/"
                  "x.tar.gz?se=2024&sig=SECRET\\n\",\"resultUrl\":\"https://"
                  "acct.blob.core.windows.net/c/x.tar.gz?se="
                  "2024&sig=SECRET\"}}";
    char *copy = strdup(text), err[MDF_ERRSZ];
    mdf_jdoc *doc = NULL;
    assert_int_equal(mdf_jdoc_parse(&copy, strlen(text), 16, &doc, err, sizeof err), MDF_OK);
    mdf_opstatus st;
    assert_int_equal(mdf_arm_decode_opstatus(&doc->root, &st, err, sizeof err), MDF_OK);
    assert_true(mdf_arm_status_terminal(st.status));
    assert_true(mdf_arm_status_succeeded(st.status));
    assert_true(st.has_exit_code);
    assert_string_equal(st.exit_code, "0");
    assert_non_null(strstr(st.output_head, "MDE agent is running"));
    assert_null(strstr(st.output_head, "sig="));
    assert_non_null(strstr(st.result_url, "sig=SECRET"));
    mdf_jdoc_free(doc);

    char failed[] = "{\"status\":\"Failed\",\"error\":{\"code\":\"InternalError\",\"message\":"
                    "\"boom\"},\"properties\":{\"exitCode\":\"252\"}}";
    copy = strdup(failed);
    assert_int_equal(mdf_jdoc_parse(&copy, strlen(failed), 16, &doc, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_arm_decode_opstatus(&doc->root, &st, err, sizeof err), MDF_OK);
    assert_true(mdf_arm_status_terminal(st.status));
    assert_false(mdf_arm_status_succeeded(st.status));
    assert_string_equal(st.error_code, "InternalError");
    assert_string_equal(st.exit_code, "252");
    assert_false(mdf_arm_status_terminal("InProgress"));
    assert_false(mdf_arm_status_terminal("Accepted"));
    char code[64], msg[128];
    mdf_arm_decode_error(&doc->root, code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "InternalError");
    assert_string_equal(msg, "boom");
    mdf_jdoc_free(doc);

    /* customer storage: resultRef alone is used as the URL */
    doc = parse_text("{\"status\":\"Succeeded\",\"properties\":{\"exitCode\":\"0\","
                     "\"resultRef\":\"https://acct.blob.core.windows.net/c/r.tar.gz\"}}");
    assert_int_equal(mdf_arm_decode_opstatus(&doc->root, &st, err, sizeof err), MDF_OK);
    assert_string_equal(st.result_url, "https://acct.blob.core.windows.net/c/r.tar.gz");
    assert_true(st.result_from_ref);
    mdf_jdoc_free(doc);
    doc = parse_text("{\"status\":\"Succeeded\",\"properties\":{\"resultUrl\":\"https://a/u\","
                     "\"resultRef\":\"https://a/r\"}}");
    assert_int_equal(mdf_arm_decode_opstatus(&doc->root, &st, err, sizeof err), MDF_OK);
    assert_string_equal(st.result_url, "https://a/u");
    assert_false(st.result_from_ref);
    mdf_jdoc_free(doc);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(mdf_valid_subscription("123e4567-e89b-12d3-a456-426655440000"));
    assert_false(mdf_valid_subscription("123e4567-e89b-12d3-a456-42665544000"));
    assert_false(mdf_valid_subscription("123e4567-e89b-12d3-a456-426655440000/../x"));
    assert_true(mdf_valid_resource_group("contoso-cluster-rg"));
    assert_true(mdf_valid_resource_group("rg_(1).x"));
    assert_false(mdf_valid_resource_group("rg."));
    assert_false(mdf_valid_resource_group("rg/../other"));
    assert_false(mdf_valid_resource_group(""));
    assert_true(mdf_valid_cluster_name("contoso-cluster"));
    assert_true(mdf_valid_cluster_name("a_b"));
    assert_false(mdf_valid_cluster_name("-cluster"));
    assert_false(mdf_valid_cluster_name("cluster-"));
    assert_false(mdf_valid_cluster_name("c"));
    assert_false(mdf_valid_cluster_name("abcdefghijabcdefghijabcdefghij1")); /* 31 */
    assert_true(mdf_valid_cluster_name("abcdefghijabcdefghijabcdefghij"));   /* 30 */
    assert_false(mdf_valid_cluster_name("a?b"));
    assert_true(mdf_valid_bmm_name("rack1control01"));
    assert_false(mdf_valid_bmm_name("rack1-control01"));
    assert_false(mdf_valid_bmm_name("rack1control01%2F.."));
    assert_true(mdf_valid_enforcement_level("RealTime"));
    assert_false(mdf_valid_enforcement_level("realtime"));
    assert_false(mdf_valid_enforcement_level("Enabled"));
}

static void test_urls(void **state)
{
    (void)state;
    mdf_url_parts u;
    char err[MDF_ERRSZ], out[256];
    assert_int_equal(mdf_url_parse("http://127.0.0.1:8080/x?y=1", &u, err, sizeof err), MDF_OK);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_true(mdf_url_scheme_ok(&u, MDF_HTTP_LOOPBACK));
    assert_false(mdf_url_scheme_ok(&u, MDF_HTTPS_ONLY));
    assert_int_equal(mdf_url_parse("http://10.0.0.1/", &u, err, sizeof err), MDF_OK);
    assert_false(mdf_url_scheme_ok(&u, MDF_HTTP_LOOPBACK));
    assert_int_equal(mdf_url_parse("http://169.254.169.254/metadata", &u, err, sizeof err), MDF_OK);
    assert_false(mdf_url_scheme_ok(&u, MDF_HTTP_LOOPBACK));
    assert_true(mdf_url_scheme_ok(&u, MDF_HTTP_IMDS));
    assert_int_equal(mdf_url_parse("https://acct.blob.core.windows.net/c/b", &u, err, sizeof err),
                     MDF_OK);
    assert_int_equal(u.port, 443);
    assert_true(mdf_url_scheme_ok(&u, MDF_HTTPS_ONLY));
    assert_true(mdf_host_matches(u.host, "*.blob.core.windows.net"));
    assert_false(mdf_host_matches("blob.core.windows.net", "*.blob.core.windows.net"));
    assert_false(mdf_host_matches("evil.blob.core.windows.net.example", "*.blob.core.windows.net"));
    assert_false(mdf_host_matches("evilblob.core.windows.net", "*.blob.core.windows.net"));
    assert_true(mdf_host_is_loopback("127.9.0.1"));
    assert_false(mdf_host_is_loopback("127.0.0.1.example.com"));
    assert_false(mdf_host_is_loopback("1270.0.0.1"));
    assert_int_equal(mdf_url_parse("not a url", &u, err, sizeof err), MDF_ERR);
    mdf_url_redact("https://a.blob.core.windows.net/c/x.tar.gz?se=1&sig=SECRET", out, sizeof out);
    assert_string_equal(out, "https://a.blob.core.windows.net/c/x.tar.gz?<redacted>");
    assert_null(strstr(out, "SECRET"));

    /* a SAS is told by its signature parameter, not by a substring */
    assert_true(mdf_url_has_param("https://a/c/x?se=1&sig=S&sp=r", "sig"));
    assert_true(mdf_url_has_param("https://a/c/x?sig=S", "sig"));
    assert_false(mdf_url_has_param("https://a/c/x?restype=container", "sig"));
    assert_false(mdf_url_has_param("https://a/c/x?xsig=1&signature=2", "sig"));
    assert_false(mdf_url_has_param("https://a/c/sig=1", "sig"));
    assert_false(mdf_url_has_param("https://a/c/x#?sig=1", "sig"));
    /* account and container: from the host, or path-style on an address */
    char acct[64], cont[64];
    assert_int_equal(mdf_url_parse("https://contosoout.blob.core.windows.net/bmm-output/r.tar.gz",
                                   &u, err, sizeof err),
                     MDF_OK);
    assert_string_equal(u.path, "/bmm-output/r.tar.gz");
    mdf_blob_location(&u, acct, sizeof acct, cont, sizeof cont);
    assert_string_equal(acct, "contosoout");
    assert_string_equal(cont, "bmm-output");
    assert_int_equal(
        mdf_url_parse("http://127.0.0.1:10000/devacct/ctr/b.tar.gz", &u, err, sizeof err), MDF_OK);
    assert_true(mdf_host_is_address(u.host));
    mdf_blob_location(&u, acct, sizeof acct, cont, sizeof cont);
    assert_string_equal(acct, "devacct");
    assert_string_equal(cont, "ctr");
    assert_false(mdf_host_is_address("a.blob.core.windows.net"));
    assert_false(mdf_host_is_address("1.2.3"));
    mdf_url_redact("https://user:pass@h.example/p?x=1", out, sizeof out);
    assert_string_equal(out, "https://h.example/p?<redacted>");
    mdf_url_redact("https://h.example/p", out, sizeof out);
    assert_string_equal(out, "https://h.example/p");
    char text[256] = "result in:\n https://a.blob.core.windows.net/c/x?se=1&sig=S\nand http://h/p";
    mdf_text_redact_urls(text, sizeof text);
    assert_string_equal(
        text, "result in:\n https://a.blob.core.windows.net/c/x?<redacted>\nand http://h/p");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_get),   cmocka_unit_test(test_output_settings),
        cmocka_unit_test(test_cluster_patch), cmocka_unit_test(test_scan_runtime_and_extracts),
        cmocka_unit_test(test_bmm),           cmocka_unit_test(test_opstatus),
        cmocka_unit_test(test_names),         cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
