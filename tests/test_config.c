/* Unit tests of the configuration: defaults, the key=value file, the
 * environment, precedence, type and range checks, topic names, the rules
 * across keys, kafka.* onto a real librdkafka configuration, and the
 * example file kept in step with the built-in table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_load.h"
#include "err.h"

#define EXAMPLE MDF_SOURCE_DIR "/config/mdefleet.conf.example"

/* Fails with the whole message, which says more than "NULL". */
#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                           \
    } while (0)

static mdf_config *new_config(void)
{
    mdf_config *c = NULL;
    char err[MDF_ERRSZ];
    if (mdf_config_new(&c, err, sizeof err) != MDF_OK)
        fail_msg("mdf_config_new: %s", err);
    return c;
}

/* Writes text to a new temporary file; returns its path (free it, unlink
 * it). */
static char *temp_file(const char *text, size_t len)
{
    char *path = strdup("/tmp/mdf_test_config_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Loads text as a config file into c; returns the status, err filled. */
static int load_text(mdf_config *c, const char *text, char *err, size_t errsz, char **path_out)
{
    char *path = temp_file(text, strlen(text));
    int rc = mdf_config_load_file(c, path, err, errsz);
    unlink(path);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return rc;
}

static void test_defaults(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    assert_string_equal(mdf_config_get(c, "arm.endpoint"), "https://management.azure.com");
    assert_string_equal(mdf_config_get(c, "arm.api_version"), "2026-07-01");
    assert_int_equal(mdf_config_get_int(c, "arm.reads_burst"), 250);
    assert_true(mdf_config_get_double(c, "arm.reads_per_second") == 25.0);
    assert_int_equal(mdf_config_get_int(c, "arm.writes_burst"), 200);
    assert_true(mdf_config_get_double(c, "arm.writes_per_second") == 10.0);
    assert_int_equal(mdf_config_get_int(c, "arm.max_retries"), 6);
    assert_string_equal(mdf_config_get(c, "auth.method"), "client_secret");
    assert_string_equal(mdf_config_get(c, "blob.allowed_hosts"), "*.blob.core.windows.net");
    assert_int_equal(mdf_config_get_int(c, "blob.max_bytes"), 67108864);
    assert_false(mdf_config_get_bool(c, "http.allow_loopback"));
    assert_int_equal(mdf_config_get_int(c, "worker.max_inflight"), 200);
    assert_true(mdf_config_list_has(c, "worker.roles", "planner"));
    assert_true(mdf_config_list_has(c, "worker.roles", "executor"));
    assert_true(mdf_config_list_has(c, "worker.roles", "tracker"));
    assert_false(mdf_config_list_has(c, "worker.roles", "plan"));
    assert_int_equal(mdf_config_get_int(c, "worker.grace_seconds"), 30);
    assert_int_equal(mdf_config_get_int(c, "extract.limit_time_seconds"), 600);
    assert_false(mdf_config_get_bool(c, "extract.restricted"));
    assert_int_equal(mdf_config_get_int(c, "job.timeout_seconds"), 7200);
    assert_string_equal(mdf_config_get(c, "codec.framing"), "single_object");
    assert_int_equal(mdf_config_get_int(c, "codec.schema_id.ScanJob"), 0);
    assert_string_equal(mdf_config_get(c, "log.level"), "info");
    assert_string_equal(mdf_config_get(c, "topics.prefix"), "mde.");
    /* unknown keys and wrong types: a programming error, not a crash */
    assert_null(mdf_config_get(c, "no.such.key"));
    assert_null(mdf_config_get(c, "kafka.bootstrap.servers"));
    assert_int_equal(mdf_config_get_int(c, "arm.endpoint"), 0);
    assert_false(mdf_config_get_bool(c, "arm.max_retries"));
    assert_true(mdf_config_get_double(c, "arm.max_retries") == 6.0);
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_OK);
    mdf_config_free(c);
    mdf_config_free(NULL);
}

static void test_file(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    const char *text = "# a comment\n"
                       "\n"
                       "   # an indented comment = not a setting\n"
                       "  arm.max_retries   =   3  \n"
                       "kafka.sasl.password=a=b==c#not-a-comment\r\n"
                       "\t\n"
                       "arm.endpoint = https://arm.example.net:8443/\n"
                       "log.level=DEBUG"; /* no final newline */
    assert_int_equal(load_text(c, text, err, sizeof err, NULL), MDF_OK);
    assert_int_equal(mdf_config_get_int(c, "arm.max_retries"), 3);
    assert_string_equal(mdf_config_get(c, "kafka.sasl.password"), "a=b==c#not-a-comment");
    assert_string_equal(mdf_config_get(c, "arm.endpoint"), "https://arm.example.net:8443/");
    assert_string_equal(mdf_config_get(c, "log.level"), "debug");
    /* an empty file sets nothing */
    assert_int_equal(load_text(c, "", err, sizeof err, NULL), MDF_OK);
    mdf_config_free(c);
}

static void test_file_errors(void **state)
{
    (void)state;
    char err[MDF_ERRSZ], want[512];
    char *path;
    mdf_config *c = new_config();

    assert_int_equal(
        load_text(c, "# ok\narm.max_retries=2\nno equals sign\n", err, sizeof err, &path), MDF_ERR);
    snprintf(want, sizeof want, "%s:3: expected key=value", path);
    assert_string_equal(err, want);
    free(path);

    assert_int_equal(load_text(c, "\n\narm.endpiont=https://x\n", err, sizeof err, &path), MDF_ERR);
    snprintf(want, sizeof want, "%s:3: unknown key \"arm.endpiont\"", path);
    assert_string_equal(err, want);
    free(path);

    assert_int_equal(load_text(c, "arm.max_retries=21\n", err, sizeof err, &path), MDF_ERR);
    snprintf(want, sizeof want, "%s:1: arm.max_retries: 21 is out of range 0..20", path);
    assert_string_equal(err, want);
    free(path);

    assert_int_equal(load_text(c, "  = value\n", err, sizeof err, &path), MDF_ERR);
    snprintf(want, sizeof want, "%s:1: missing key before '='", path);
    assert_string_equal(err, want);
    free(path);

    /* a line over the cap; a NUL byte */
    char *line = malloc(MDF_CONFIG_LINE_MAX + 64);
    assert_non_null(line);
    memset(line, 'x', MDF_CONFIG_LINE_MAX + 20);
    memcpy(line, "# comment\nkafka.client.id=", 26);
    line[MDF_CONFIG_LINE_MAX + 20] = '\0';
    assert_int_equal(load_text(c, line, err, sizeof err, &path), MDF_ERR);
    snprintf(want, sizeof want, "%s:2: line longer than 4096 bytes", path);
    assert_string_equal(err, want);
    free(path);
    free(line);
    path = temp_file("# c\nb\0=2\n", 9);
    assert_int_equal(mdf_config_load_file(c, path, err, sizeof err), MDF_ERR);
    unlink(path);
    assert_contains(err, ":2: NUL byte");
    free(path);

    /* a file over 1 MiB, made of valid comment lines */
    size_t big = MDF_CONFIG_FILE_MAX + 100;
    char *text = malloc(big + 1);
    assert_non_null(text);
    for (size_t i = 0; i < big; i += 64) {
        size_t n = big - i < 64 ? big - i : 64;
        memset(text + i, '#', n);
        text[i + n - 1] = '\n';
    }
    text[big] = '\0';
    assert_int_equal(load_text(c, text, err, sizeof err, NULL), MDF_ERR);
    assert_contains(err, "larger than the 1048576-byte cap");
    free(text);

    assert_int_equal(mdf_config_load_file(c, "/nonexistent/mdefleet.conf", err, sizeof err),
                     MDF_ERR);
    assert_string_equal(err, "/nonexistent/mdefleet.conf: cannot open: No such file or directory");
    mdf_config_free(c);
}

/* The file's text from memory: the same lines and errors, under the name
 * given; no NUL needed at the end, one inside is refused. */
static void test_text_in_memory(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    const char text[] = "# from memory\narm.max_retries = 4\nlog.level=WARN;";
    assert_int_equal(mdf_config_load_text(c, "mem", text, sizeof text - 2, err, sizeof err),
                     MDF_OK);
    assert_int_equal(mdf_config_get_int(c, "arm.max_retries"), 4);
    assert_string_equal(mdf_config_get(c, "log.level"), "warn");
    assert_int_equal(mdf_config_load_text(c, "mem", "", 0, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_load_text(c, "mem", "\nno equals", 10, err, sizeof err), MDF_ERR);
    assert_string_equal(err, "mem:2: expected key=value");
    assert_int_equal(mdf_config_load_text(c, "mem", "a\0=1", 4, err, sizeof err), MDF_ERR);
    assert_string_equal(err, "mem:1: NUL byte");
    char *big = malloc(MDF_CONFIG_FILE_MAX + 1);
    assert_non_null(big);
    memset(big, '#', MDF_CONFIG_FILE_MAX + 1);
    assert_int_equal(mdf_config_load_text(c, "big", big, MDF_CONFIG_FILE_MAX + 1, err, sizeof err),
                     MDF_ERR);
    assert_string_equal(err, "big: larger than the 1048576-byte cap");
    free(big);
    /* what failed left the settings before it */
    assert_int_equal(mdf_config_get_int(c, "arm.max_retries"), 4);
    mdf_config_free(c);
}

static void test_env(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    char *env[] = {"PATH=/usr/bin",
                   "MDEFLEET_ARM_API_VERSION=2025-09-01",
                   "MDEFLEET_CODEC_SCHEMA_ID_SCANJOB=42",
                   "MDEFLEET_TOPICS_SCAN_JOBS=jobs",
                   "MDEFLEET_HTTP_ALLOW_LOOPBACK=yes",
                   "MDEFLEET_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092",
                   "MDEFLEET_KAFKA_SASL_MECHANISM=PLAIN",
                   "MDEFLEETX=not ours",
                   NULL};
    assert_int_equal(mdf_config_load_env(c, env, err, sizeof err), MDF_OK);
    assert_string_equal(mdf_config_get(c, "arm.api_version"), "2025-09-01");
    assert_int_equal(mdf_config_get_int(c, "codec.schema_id.ScanJob"), 42);
    assert_string_equal(mdf_config_topic(c, "scan.jobs"), "mde.jobs");
    assert_true(mdf_config_get_bool(c, "http.allow_loopback"));
    assert_string_equal(mdf_config_get(c, "kafka.bootstrap.servers"), "127.0.0.1:9092");
    assert_string_equal(mdf_config_get(c, "kafka.sasl.mechanism"), "PLAIN");

    char *unknown[] = {"MDEFLEET_ARM_ENDPIONT=https://x", NULL};
    assert_int_equal(mdf_config_load_env(c, unknown, err, sizeof err), MDF_ERR);
    assert_contains(err, "MDEFLEET_ARM_ENDPIONT: unknown variable");
    char *bad[] = {"MDEFLEET_WORKER_MAX_INFLIGHT=0", NULL};
    assert_int_equal(mdf_config_load_env(c, bad, err, sizeof err), MDF_ERR);
    assert_string_equal(err, "MDEFLEET_WORKER_MAX_INFLIGHT: worker.max_inflight: 0 is out of "
                             "range 1..10000");
    char *bare[] = {"MDEFLEET_KAFKA_=x", NULL};
    assert_int_equal(mdf_config_load_env(c, bare, err, sizeof err), MDF_ERR);
    assert_contains(err, "MDEFLEET_KAFKA_: unknown variable");
    assert_int_equal(mdf_config_load_env(c, NULL, err, sizeof err), MDF_OK);
    mdf_config_free(c);
}

/* The keys and defaults of mdf_config_describe, one "key default" pair per
 * row (kafka.* left out); returns how many. */
static size_t describe_keys(char keys[][128], char defs[][128], char envs[][128], size_t max)
{
    char *text = NULL;
    size_t len = 0, n = 0;
    FILE *fp = open_memstream(&text, &len);
    assert_non_null(fp);
    mdf_config_describe(fp);
    fclose(fp);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *env = strrchr(line, ';');
        if (line[0] != '#' && strncmp(line, "kafka.*", 7) != 0) {
            assert_true(n < max);
            size_t k = strcspn(line, " "), sp = strspn(line + k, " ");
            size_t d = strcspn(line + k + sp, " ");
            assert_true(k < 128 && d < 128 && env);
            memcpy(keys[n], line, k);
            keys[n][k] = '\0';
            memcpy(defs[n], line + k + sp, d);
            defs[n][d] = '\0';
            if (strcmp(defs[n], "\"\"") == 0)
                defs[n][0] = '\0';
            env += strspn(env, "; ");
            assert_int_equal(mdf_strlcpy(envs[n], env, 128), 0);
            envs[n][strcspn(envs[n], "]")] = '\0';
            n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return n;
}

#define MAX_KEYS 100

/* The variables Kubernetes injects for a Service named mdefleet are
 * skipped; near misses are still unknown variables. */
static void test_env_service_links(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    char *links[] = {"MDEFLEET_PORT=tcp://10.0.0.7:8080",
                     "MDEFLEET_PORT_8080_TCP=tcp://10.0.0.7:8080",
                     "MDEFLEET_PORT_8080_TCP_PROTO=tcp",
                     "MDEFLEET_PORT_8080_TCP_PORT=8080",
                     "MDEFLEET_PORT_8080_TCP_ADDR=10.0.0.7",
                     "MDEFLEET_PORT_53_UDP=udp://10.0.0.7:53",
                     "MDEFLEET_PORT_53_UDP_ADDR=10.0.0.7",
                     "MDEFLEET_PORT_9_SCTP_PORT=9",
                     "MDEFLEET_SERVICE_HOST=10.0.0.7",
                     "MDEFLEET_SERVICE_PORT=8080",
                     "MDEFLEET_SERVICE_PORT_METRICS=8080",
                     "MDEFLEET_SERVICE_PORT_HTTP_ALT=8081",
                     NULL};
    assert_int_equal(mdf_config_load_env(c, links, err, sizeof err), MDF_OK);
    for (size_t i = 0; links[i]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(links[i], "="), links[i]);
        assert_true(mdf_config_env_is_service_link(name));
    }
    static const char *const near[] = {
        "MDEFLEET_PORTS",        "MDEFLEET_PORT_",          "MDEFLEET_PORT_8080",
        "MDEFLEET_PORT_8080_",   "MDEFLEET_PORT_8080_HTTP", "MDEFLEET_PORT_X_TCP",
        "MDEFLEET_PORT__TCP",    "MDEFLEET_PORT_80_TCP_IP", "MDEFLEET_PORT_80_TCPX",
        "MDEFLEET_SERVICE",      "MDEFLEET_SERVICE_HOSTS",  "MDEFLEET_SERVICE_PORT_",
        "MDEFLEET_SERVICE_ADDR", "MDEFLEET_X_PORT",
    };
    for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
        char var[80];
        snprintf(var, sizeof var, "%s=1", near[i]);
        char *env[] = {var, NULL};
        assert_false(mdf_config_env_is_service_link(near[i]));
        assert_int_equal(mdf_config_load_env(c, env, err, sizeof err), MDF_ERR);
        assert_contains(err, "unknown variable");
        assert_contains(err, near[i]);
    }
    mdf_config_free(c);
}

/* --config wins; else the default file when it exists; else none. */
static void test_default_file(void **state)
{
    (void)state;
    char *path = temp_file("log.level=debug\n", 16);
    assert_string_equal(mdf_config_file_choose("/given.conf", path), "/given.conf");
    assert_string_equal(mdf_config_file_choose(NULL, path), path);
    assert_null(mdf_config_file_choose(NULL, "/nonexistent/mdefleet.conf"));
    assert_null(mdf_config_file_choose(NULL, NULL));
    /* the chosen default is then loaded like --config */
    mdf_config *c = NULL;
    char err[MDF_ERRSZ];
    mdf_config_src src = {.file = mdf_config_file_choose(NULL, path)};
    assert_int_equal(mdf_config_load(&c, &src, err, sizeof err), MDF_OK);
    assert_string_equal(mdf_config_get(c, "log.level"), "debug");
    mdf_config_free(c);
    unlink(path);
    free(path);
    /* the built-in default: MDEFLEET_SYSCONFDIR from CMake */
    assert_string_equal(mdf_config_default_file(), MDF_SYSCONFDIR "/mdefleet.conf");
}

/* Every key of the table through its environment variable, and no two keys
 * with the same variable. */
static void test_env_every_key(void **state)
{
    (void)state;
    static char keys[MAX_KEYS][128], defs[MAX_KEYS][128], envs[MAX_KEYS][128];
    char err[MDF_ERRSZ], var[300];
    size_t n = describe_keys(keys, defs, envs, MAX_KEYS);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(envs[i], envs[j]);
        /* the documented rule, computed here independently */
        char want[160] = "MDEFLEET_";
        size_t w = strlen(want);
        for (const char *p = keys[i]; *p; p++)
            want[w++] = (*p == '.' || *p == '-')   ? '_'
                        : (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A')
                                                   : *p;
        want[w] = '\0';
        assert_string_equal(envs[i], want);
        /* setting each to its own default through the environment works */
        mdf_config *c = new_config();
        snprintf(var, sizeof var, "%s=%s", envs[i], defs[i]);
        char *env[] = {var, NULL};
        if (mdf_config_load_env(c, env, err, sizeof err) != MDF_OK)
            fail_msg("%s: %s", var, err);
        assert_string_equal(mdf_config_get(c, keys[i]), defs[i]);
        mdf_config_free(c);
    }
}

static void test_precedence(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    assert_int_equal(load_text(c,
                               "arm.max_retries=1\nworker.grace_seconds=11\n"
                               "log.level=warn\n",
                               err, sizeof err, NULL),
                     MDF_OK);
    char *env[] = {"MDEFLEET_ARM_MAX_RETRIES=2", "MDEFLEET_WORKER_GRACE_SECONDS=12", NULL};
    assert_int_equal(mdf_config_load_env(c, env, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_set(c, "arm.max_retries", "3", "--set", err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_get_int(c, "arm.max_retries"), 3);       /* flag */
    assert_int_equal(mdf_config_get_int(c, "worker.grace_seconds"), 12); /* env */
    assert_string_equal(mdf_config_get(c, "log.level"), "warn");         /* file */
    /* kafka.* too: a later value replaces the earlier one */
    assert_int_equal(mdf_config_set(c, "kafka.client.id", "a", NULL, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_set(c, "kafka.client.id", "b", NULL, err, sizeof err), MDF_OK);
    assert_string_equal(mdf_config_get(c, "kafka.client.id"), "b");
    mdf_config_free(c);
}

/* set must fail with a message containing want. */
static void expect_bad(mdf_config *c, const char *key, const char *value, const char *want)
{
    char err[MDF_ERRSZ];
    if (mdf_config_set(c, key, value, "t", err, sizeof err) != MDF_ERR)
        fail_msg("%s=%s accepted", key, value);
    assert_contains(err, want);
}

/* set must succeed and give normal as the value. */
static void expect_good(mdf_config *c, const char *key, const char *value, const char *normal)
{
    char err[MDF_ERRSZ];
    if (mdf_config_set(c, key, value, "t", err, sizeof err) != MDF_OK)
        fail_msg("%s=%s: %s", key, value, err);
    assert_string_equal(mdf_config_get(c, key), normal);
}

static void test_types(void **state)
{
    (void)state;
    mdf_config *c = new_config();
    expect_bad(c, "no.such", "1", "t: unknown key \"no.such\"");
    /* int */
    expect_good(c, "arm.max_retries", " 007 ", "7");
    expect_good(c, "arm.max_retries", "0", "0");
    expect_good(c, "arm.max_retries", "20", "20");
    expect_bad(c, "arm.max_retries", "-1", "t: arm.max_retries: -1 is out of range 0..20");
    expect_bad(c, "arm.max_retries", "6x", "\"6x\" is not an integer");
    expect_bad(c, "arm.max_retries", "", "\"\" is not an integer");
    expect_bad(c, "arm.max_retries", "99999999999999999999", "is not an integer");
    expect_bad(c, "blob.max_bytes", "1023", "out of range 1024..1073741824");
    expect_good(c, "blob.max_bytes", "1073741824", "1073741824");
    expect_bad(c, "extract.limit_time_seconds", "59", "out of range 60..14400");
    expect_bad(c, "job.timeout_seconds", "604801", "out of range 60..604800");
    expect_bad(c, "codec.schema_id.DeadLetter", "2147483648", "out of range 0..2147483647");
    /* listen addresses */
    expect_good(c, "metrics.listen", "", "");
    expect_good(c, "metrics.listen", ":9464", ":9464");
    expect_good(c, "metrics.listen", "127.0.0.1:9464", "127.0.0.1:9464");
    expect_bad(c, "metrics.listen", "9464", "not HOST:PORT or :PORT");
    expect_good(c, "metrics.listen", "127.0.0.1:0", "127.0.0.1:0");
    expect_bad(c, "metrics.listen", "127.0.0.1:65536", "port 65536 out of 0..65535");
    expect_bad(c, "metrics.listen", "h:80x", "is not a number");
    /* double */
    expect_good(c, "arm.reads_per_second", "12.5", "12.5");
    assert_true(mdf_config_get_double(c, "arm.reads_per_second") == 12.5);
    expect_bad(c, "arm.reads_per_second", "0", "out of range");
    expect_bad(c, "arm.reads_per_second", "1e3", "not a number");
    expect_bad(c, "arm.reads_per_second", "inf", "not a number");
    expect_bad(c, "arm.reads_per_second", "-5", "not a number");
    expect_bad(c, "arm.reads_per_second", "1.2.3", "not a number");
    expect_bad(c, "arm.writes_per_second", ".", "not a number");
    /* bool */
    const char *yes[] = {"true", "TRUE", "1", "yes", "Yes"}, *no[] = {"false", "0", "no", "NO"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        expect_good(c, "extract.restricted", yes[i], "true");
        assert_true(mdf_config_get_bool(c, "extract.restricted"));
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        expect_good(c, "extract.restricted", no[i], "false");
        assert_false(mdf_config_get_bool(c, "extract.restricted"));
    }
    expect_bad(c, "http.allow_loopback", "on", "not a boolean");
    expect_bad(c, "http.allow_loopback", "2", "not a boolean");
    /* enum */
    expect_good(c, "auth.method", "Managed_Identity", "managed_identity");
    expect_good(c, "auth.method", "workload_identity", "workload_identity");
    expect_bad(c, "auth.method", "password",
               "\"password\" is not one of client_secret|workload_identity|managed_identity");
    expect_bad(c, "codec.framing", "single", "not one of single_object|confluent");
    expect_bad(c, "log.level", "trace", "not one of error|warn|info|debug");
    /* lists */
    expect_good(c, "worker.roles", " tracker , Planner", "tracker,planner");
    assert_true(mdf_config_list_has(c, "worker.roles", "planner"));
    assert_false(mdf_config_list_has(c, "worker.roles", "executor"));
    expect_bad(c, "worker.roles", "planner,scheduler", "unknown item \"scheduler\"");
    expect_bad(c, "worker.roles", "planner,,tracker", "empty item");
    expect_bad(c, "worker.roles", "", "empty item");
    expect_good(c, "blob.allowed_hosts", "*.blob.core.windows.net, 127.0.0.1:10000",
                "*.blob.core.windows.net,127.0.0.1:10000");
    assert_true(mdf_config_list_has(c, "blob.allowed_hosts", "127.0.0.1:10000"));
    expect_bad(c, "blob.allowed_hosts", "evil/path", "is not a host");
    expect_bad(c, "blob.allowed_hosts", "*.", "empty host");
    expect_bad(c, "blob.allowed_hosts", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "more than 16");
    /* strings with their own checks */
    expect_good(c, "arm.endpoint", "http://127.0.0.1:8080", "http://127.0.0.1:8080");
    expect_bad(c, "arm.endpoint", "ftp://x", "not an https:// URL");
    expect_bad(c, "arm.endpoint", "management.azure.com", "not an https:// URL");
    expect_bad(c, "arm.api_version", "2026-07-01&x=1", "only letters, digits and '-'");
    expect_bad(c, "arm.api_version", "", "1 to 31 characters");
    expect_bad(c, "topics.dlq", "my topic", "' ' is not allowed in a topic name");
    expect_bad(c, "topics.dlq", "", "empty topic name");
    expect_bad(c, "topics.prefix", "a/b.", "'/' is not allowed");
    /* nothing takes a control character */
    expect_bad(c, "kafka.client.id",
               "a\x01"
               "b",
               "control character");
    expect_bad(c, "kafka.no spaces", "x", "is not a librdkafka property name");
    expect_bad(c, "kafka.", "x", "is not a librdkafka property name");
    mdf_config_free(c);
}

static void test_topics(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    const char *names[] = {"enforcement.requests", "scan.jobs",    "node.tasks",
                           "job.status",           "scan.results", "threats",
                           "node.reports",         "tickets",      "dlq"};
    char want[64];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(want, sizeof want, "mde.%s", names[i]);
        assert_string_equal(mdf_config_topic(c, names[i]), want);
    }
    assert_null(mdf_config_topic(c, "nope"));
    assert_null(mdf_config_topic(c, "prefix"));
    const char *dlq = mdf_config_topic(c, "dlq");
    assert_int_equal(mdf_config_set(c, "topics.scan.jobs", "jobs.v2", NULL, err, sizeof err),
                     MDF_OK);
    assert_string_equal(mdf_config_topic(c, "scan.jobs"), "mde.jobs.v2");
    assert_ptr_equal(mdf_config_topic(c, "dlq"), dlq); /* untouched keys stay put */
    assert_int_equal(mdf_config_set(c, "topics.prefix", "", NULL, err, sizeof err), MDF_OK);
    assert_string_equal(mdf_config_topic(c, "scan.jobs"), "jobs.v2");
    assert_string_equal(mdf_config_topic(c, "dlq"), "dlq");
    assert_int_equal(mdf_config_set(c, "topics.prefix", "prod-", NULL, err, sizeof err), MDF_OK);
    assert_string_equal(mdf_config_topic(c, "tickets"), "prod-tickets");
    mdf_config_free(c);
}

static void test_check(void **state)
{
    (void)state;
    char err[MDF_ERRSZ];
    mdf_config *c = new_config();
    expect_good(c, "codec.framing", "confluent", "confluent");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_ERR);
    assert_contains(err, "codec.framing=confluent needs codec.schema_id.EnforcementChange");
    const char *recs[] = {"EnforcementChange", "ScanJob", "NodeTask", "JobStatus"};
    char key[64];
    for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
        snprintf(key, sizeof key, "codec.schema_id.%s", recs[i]);
        expect_good(c, key, "7", "7");
    }
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_ERR);
    assert_contains(err, "codec.schema_id.DeadLetter");
    expect_good(c, "codec.schema_id.DeadLetter", "8", "8");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_OK);

    /* plain http: loopback only, and only when allowed */
    expect_good(c, "arm.endpoint", "http://127.0.0.1:8080", "http://127.0.0.1:8080");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_ERR);
    assert_contains(err, "arm.endpoint: 127.0.0.1 is not https");
    expect_good(c, "http.allow_loopback", "true", "true");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_OK);
    expect_good(c, "arm.endpoint", "http://arm.example.net", "http://arm.example.net");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_ERR);
    assert_contains(err, "arm.example.net is not https");
    expect_good(c, "arm.endpoint", "https://arm.example.net", "https://arm.example.net");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_OK);

    /* two topic keys naming one topic */
    expect_good(c, "topics.threats", "dlq", "dlq");
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_ERR);
    assert_string_equal(err, "topics.threats and topics.dlq both name topic \"mde.dlq\"");
    expect_good(c, "topics.threats", "threats", "threats");
    /* prefix + name over Kafka's 249 characters */
    char longp[241];
    memset(longp, 'p', 240);
    longp[240] = '\0';
    expect_good(c, "topics.prefix", longp, longp);
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_ERR);
    assert_contains(err, "topics.enforcement.requests: ");
    assert_contains(err, "is not a valid topic name");
    mdf_config_free(c);
}

static void test_apply_kafka(void **state)
{
    (void)state;
    char err[MDF_ERRSZ], val[256];
    size_t vsz = sizeof val;
    mdf_config *c = new_config();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(load_text(c,
                               "kafka.bootstrap.servers=127.0.0.1:1,127.0.0.1:2\n"
                               "kafka.client.id=mdf-test\n",
                               err, sizeof err, NULL),
                     MDF_OK);
    char *env[] = {"MDEFLEET_KAFKA_MESSAGE_MAX_BYTES=2000000", NULL};
    assert_int_equal(mdf_config_load_env(c, env, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_apply_kafka(c, conf, err, sizeof err), MDF_OK);
    assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", val, &vsz), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "127.0.0.1:1,127.0.0.1:2");
    vsz = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "client.id", val, &vsz), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "mdf-test");
    vsz = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "message.max.bytes", val, &vsz), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "2000000");

    /* a property librdkafka does not know: named, with where it came from */
    assert_int_equal(mdf_config_set(c, "kafka.no.such.property", "1", "x.conf:9", err, sizeof err),
                     MDF_OK);
    assert_int_equal(mdf_config_apply_kafka(c, conf, err, sizeof err), MDF_ERR);
    assert_contains(err, "x.conf:9: kafka.no.such.property: ");
    assert_null(strchr(err, '\n'));
    rd_kafka_conf_destroy(conf);
    mdf_config_free(c);

    /* mdefleet's own kafka.* keys (with '_') are not librdkafka's, from a file or
     * the environment */
    c = new_config();
    conf = rd_kafka_conf_new();
    expect_good(c, "kafka.startup_timeout_seconds", "7", "7");
    expect_bad(c, "kafka.startup_timeout_seconds", "0", "out of range 1..3600");
    char *own[] = {"MDEFLEET_KAFKA_STARTUP_TIMEOUT_SECONDS=5", NULL};
    assert_int_equal(mdf_config_load_env(c, own, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_get_int(c, "kafka.startup_timeout_seconds"), 5);
    assert_int_equal(mdf_config_apply_kafka(c, conf, err, sizeof err), MDF_OK);
    rd_kafka_conf_destroy(conf);
    mdf_config_free(c);

    /* a bad value of a known property */
    c = new_config();
    conf = rd_kafka_conf_new();
    char *bad[] = {"MDEFLEET_KAFKA_ACKS=banana", NULL};
    assert_int_equal(mdf_config_load_env(c, bad, err, sizeof err), MDF_OK);
    assert_int_equal(mdf_config_apply_kafka(c, conf, err, sizeof err), MDF_ERR);
    assert_contains(err, "MDEFLEET_KAFKA_ACKS: kafka.acks: ");
    rd_kafka_conf_destroy(conf);
    mdf_config_free(c);
}

/* config/mdefleet.conf.example lists every key of the table, in order, at
 * its default ("#key=value" lines), and its kafka.* examples are real
 * librdkafka properties: loading every example line uncommented works. */
static void test_example_in_sync(void **state)
{
    (void)state;
    static char keys[MAX_KEYS][128], defs[MAX_KEYS][128], envs[MAX_KEYS][128];
    char err[MDF_ERRSZ], line[MDF_CONFIG_LINE_MAX + 2], origin[64];
    size_t n = describe_keys(keys, defs, envs, MAX_KEYS), seen = 0, kafka = 0, lineno = 0;
    FILE *fp = fopen(EXAMPLE, "r");
    if (!fp)
        fail_msg("%s: cannot open", EXAMPLE);
    mdf_config *c = new_config();
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        /* settings are "#key=value"; prose is "# text" */
        if (line[0] != '#' || !(line[1] >= 'a' && line[1] <= 'z'))
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            fail_msg("%s:%zu: a setting line without '='", EXAMPLE, lineno);
        *eq = '\0';
        const char *key = line + 1, *value = eq + 1;
        /* librdkafka's properties; mdefleet's kafka.* keys have an underscore */
        if (strncmp(key, "kafka.", 6) == 0 && !strchr(key, '_')) {
            kafka++;
        } else {
            if (seen >= n || strcmp(key, keys[seen]) != 0)
                fail_msg("%s:%zu: %s where the table has %s", EXAMPLE, lineno, key,
                         seen < n ? keys[seen] : "nothing more");
            if (strcmp(value, defs[seen]) != 0)
                fail_msg("%s:%zu: %s=%s, but its default is \"%s\"", EXAMPLE, lineno, key, value,
                         defs[seen]);
            seen++;
        }
        snprintf(origin, sizeof origin, "example:%zu", lineno);
        if (mdf_config_set(c, key, value, origin, err, sizeof err) != MDF_OK)
            fail_msg("%s", err);
    }
    fclose(fp);
    if (seen != n)
        fail_msg("%s lacks %s (and %zu more keys)", EXAMPLE, keys[seen], n - seen - 1);
    assert_true(kafka >= 4);
    assert_string_equal(mdf_config_get(c, "kafka.security.protocol"), "SASL_SSL");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (mdf_config_apply_kafka(c, conf, err, sizeof err) != MDF_OK)
        fail_msg("%s", err);
    assert_int_equal(mdf_config_check(c, err, sizeof err), MDF_OK);
    rd_kafka_conf_destroy(conf);
    mdf_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_text_in_memory), /* what tests/fuzz feeds */
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_service_links),
        cmocka_unit_test(test_default_file),
        cmocka_unit_test(test_env_every_key),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_apply_kafka),
        cmocka_unit_test(test_example_in_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
