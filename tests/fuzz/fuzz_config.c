/* The configuration parser (config.h) on any file text, through
 * mdf_config_load_text. Oracles: an error names the file; what loads is
 * normalized for good (each value set read back and set again in a fresh
 * configuration stays the same); the rules across keys, the kafka.* pass
 * to librdkafka and the topic names run on it without failing in any way
 * but an error. */
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "config_load.h"
#include "err.h"
#include "fuzz_util.h"

#define NAME "fuzz.conf"

static mdf_config *fresh(void)
{
    char err[MDF_ERRSZ];
    mdf_config *c = NULL;
    if (mdf_config_new(&c, err, sizeof err) != MDF_OK)
        fuzz_fail(__FILE__, __LINE__, err);
    return c;
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The value c ended with for each key of the text, set again in a fresh
 * configuration, reads back unchanged. The lines are split here as the
 * loader splits them; a key read differently is only unknown to
 * mdf_config_get, which skips it. */
static void check_normalized(const mdf_config *c, const char *text, size_t len)
{
    char err[MDF_ERRSZ];
    mdf_config *again = fresh();
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(line_end - p));
        const char *k = p;
        p = line_end + 1;
        while (k < line_end && blank(*k))
            k++;
        if (!eq || *k == '#')
            continue;
        const char *kend = eq;
        while (kend > k && blank(kend[-1]))
            kend--;
        char *key = fuzz_cstr((const uint8_t *)k, (size_t)(kend - k));
        const char *v = mdf_config_get(c, key);
        if (v) {
            FUZZ_CHECK(mdf_config_set(again, key, v, "again", err, sizeof err) == MDF_OK);
            const char *v2 = mdf_config_get(again, key);
            FUZZ_CHECK(v2 && strcmp(v, v2) == 0);
        }
        free(key);
    }
    mdf_config_free(again);
}

static void check_loaded(const mdf_config *c)
{
    char err[MDF_ERRSZ] = "";
    if (mdf_config_check(c, err, sizeof err) != MDF_OK)
        FUZZ_CHECK(err[0] != '\0');
    rd_kafka_conf_t *k = rd_kafka_conf_new();
    if (!k)
        abort();
    err[0] = '\0';
    if (mdf_config_apply_kafka(c, k, err, sizeof err) != MDF_OK)
        FUZZ_CHECK(err[0] != '\0');
    rd_kafka_conf_destroy(k);
    const char *prefix = mdf_config_get(c, "topics.prefix");
    FUZZ_CHECK(prefix != NULL);
    for (int t = 0; t < MDF_TOPIC__COUNT; t++) {
        const char *name = mdf_config_topic_id(c, (mdf_topic)t);
        FUZZ_CHECK(name && strncmp(name, prefix, strlen(prefix)) == 0);
    }
    mdf_codec_opts opts;
    mdf_config_codec_opts(c, &opts);
    FUZZ_CHECK(opts.framing == MDF_FRAMING_SINGLE_OBJECT || opts.framing == MDF_FRAMING_CONFLUENT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MDF_ERRSZ] = "";
    const char *text = (const char *)data;
    mdf_config *c = fresh();
    if (mdf_config_load_text(c, NAME, text, size, err, sizeof err) == MDF_OK) {
        check_normalized(c, text, size);
        check_loaded(c);
    } else {
        FUZZ_CHECK(strncmp(err, NAME ":", sizeof NAME) == 0);
    }
    mdf_config_free(c);

    /* the first line as an environment variable's name */
    const char *nl = memchr(text, '\n', size);
    char *name = fuzz_cstr(data, nl ? (size_t)(nl - text) : size);
    if (mdf_config_env_is_service_link(name))
        FUZZ_CHECK(strncmp(name, "MDEFLEET_", 9) == 0);
    free(name);
    return 0;
}
