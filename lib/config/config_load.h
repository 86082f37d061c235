/* Loading a program's configuration, the same way in every binary, and
 * reading settings that several programs need (the codec's framing). */
#ifndef MDF_CONFIG_LOAD_H
#define MDF_CONFIG_LOAD_H

#include <stddef.h>

#include "avro_codec.h"
#include "config.h"

/* Where a program's settings come from, lowest precedence first. */
typedef struct mdf_config_src {
    const char *const (*presets)[2]; /* the program's own defaults: {key, value} */
    size_t n_presets;
    const char *preset_origin; /* names them in errors */
    const char *file;          /* --config FILE; NULL: none */
    char *const *envp;         /* MDEFLEET_* variables (environ) */
    const char *const *sets;   /* --set KEY=VALUE, in order */
    size_t n_sets;
} mdf_config_src;

/* The table's defaults, then presets, file, environment and --set, each
 * overriding the one before; then the rules across keys (mdf_config_check)
 * and librdkafka's own judgement of the kafka.* settings, so that a
 * mistake is found before anything connects. On success *out is the
 * caller's (mdf_config_free); on error err names the setting and where it
 * came from. */
int mdf_config_load(mdf_config **out, const mdf_config_src *src, char *err, size_t errsz);

/* The file the system's configuration is in when --config is not given:
 * MDEFLEET_SYSCONFDIR (CMake, default /etc/mdefleet) + "/mdefleet.conf". */
const char *mdf_config_default_file(void);
/* The file to load: given (--config) when not NULL, else default_path
 * when it exists (a file that exists but cannot be read is still chosen,
 * so that loading it says why), else NULL: none. */
const char *mdf_config_file_choose(const char *given, const char *default_path);

/* The logger from log.level and log.format, for program; then one debug
 * line for each variable of envp that the environment check skipped as a
 * Kubernetes service link (mdf_config_env_is_service_link): the check
 * runs before the logger knows its level. */
void mdf_config_log_setup(const mdf_config *c, const char *program, char *const *envp);

/* The framing and schema ids records are written with (codec.framing,
 * codec.schema_id.<Record>). */
void mdf_config_codec_opts(const mdf_config *c, mdf_codec_opts *out);

#endif
