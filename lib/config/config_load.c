#include "config_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#ifndef MDF_SYSCONFDIR
#define MDF_SYSCONFDIR "/etc/mdefleet"
#endif

/* One --set KEY=VALUE. */
static int apply_set(mdf_config *c, const char *kv, char *err, size_t errsz)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return mdf_seterr(err, errsz, "--set \"%.60s\" is not KEY=VALUE", kv);
    size_t klen = (size_t)(eq - kv);
    char *key = malloc(klen + 1);
    if (!key)
        return mdf_seterr(err, errsz, "out of memory");
    memcpy(key, kv, klen);
    key[klen] = '\0';
    int rc = mdf_config_set(c, key, eq + 1, "--set", err, errsz);
    free(key);
    return rc;
}

int mdf_config_load(mdf_config **out, const mdf_config_src *src, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_config *c = NULL;
    rd_kafka_conf_t *scratch = NULL;
    *out = NULL;
    if (mdf_config_new(&c, err, errsz) != MDF_OK)
        goto cleanup;
    for (size_t i = 0; i < src->n_presets; i++)
        if (mdf_config_set(c, src->presets[i][0], src->presets[i][1],
                           src->preset_origin ? src->preset_origin : "default", err,
                           errsz) != MDF_OK)
            goto cleanup;
    if (src->file && mdf_config_load_file(c, src->file, err, errsz) != MDF_OK)
        goto cleanup;
    if (src->envp && mdf_config_load_env(c, src->envp, err, errsz) != MDF_OK)
        goto cleanup;
    for (size_t i = 0; i < src->n_sets; i++)
        if (apply_set(c, src->sets[i], err, errsz) != MDF_OK)
            goto cleanup;
    if (mdf_config_check(c, err, errsz) != MDF_OK)
        goto cleanup;
    /* librdkafka judges the kafka.* settings: ask it now, on a scratch
     * configuration, rather than when the first client is made */
    scratch = rd_kafka_conf_new();
    if (mdf_config_apply_kafka(c, scratch, err, errsz) != MDF_OK)
        goto cleanup;
    *out = c;
    c = NULL;
    rc = MDF_OK;
cleanup:
    if (scratch)
        rd_kafka_conf_destroy(scratch);
    mdf_config_free(c);
    return rc;
}

void mdf_config_codec_opts(const mdf_config *c, mdf_codec_opts *out)
{
    memset(out, 0, sizeof *out);
    out->framing = strcmp(mdf_config_get(c, "codec.framing"), "confluent") == 0
                       ? MDF_FRAMING_CONFLUENT
                       : MDF_FRAMING_SINGLE_OBJECT;
    for (int t = 0; t < MDF_REC__COUNT; t++) {
        char key[64];
        snprintf(key, sizeof key, "codec.schema_id.%s", mdf_rec_name((mdf_rec_type)t));
        out->schema_id[t] = (uint32_t)mdf_config_get_int(c, key);
    }
}

const char *mdf_config_default_file(void)
{
    return MDF_SYSCONFDIR "/mdefleet.conf";
}

const char *mdf_config_file_choose(const char *given, const char *default_path)
{
    if (given)
        return given;
    return default_path && access(default_path, F_OK) == 0 ? default_path : NULL;
}

void mdf_config_log_setup(const mdf_config *c, const char *program, char *const *envp)
{
    mdf_log_level level = MDF_LOG_INFO;
    mdf_log_format format = MDF_LOG_TEXT;
    /* both checked as enums when set */
    mdf_log_level_parse(mdf_config_get(c, "log.level"), &level);
    mdf_log_format_parse(mdf_config_get(c, "log.format"), &format);
    mdf_log_init(program, level);
    mdf_log_set_format(format);
    for (size_t e = 0; envp && envp[e]; e++) {
        char name[256];
        size_t n = strcspn(envp[e], "=");
        if (n >= sizeof name)
            continue;
        memcpy(name, envp[e], n);
        name[n] = '\0';
        if (mdf_config_env_is_service_link(name))
            mdf_debug_f(MDF_FIELDS("variable", name), "%s: ignored (a Kubernetes service link)",
                        name);
    }
}
