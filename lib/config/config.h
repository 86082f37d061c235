/* Configuration shared by every program: a table of known keys with
 * defaults and checks, set from `--config FILE` (key=value lines, #
 * comments), then the environment (MDEFLEET_<KEY> with dots and dashes as
 * underscores, e.g. MDEFLEET_ARM_ENDPOINT), then flags. Keys starting with
 * "kafka." go to librdkafka unchanged (MDEFLEET_KAFKA_BOOTSTRAP_SERVERS ->
 * kafka.bootstrap.servers). An unknown key is an error that names it and
 * where it came from. Secrets (credentials) are not configuration: they come
 * from the standard AZURE_* variables. */
#ifndef MDF_CONFIG_H
#define MDF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "topics.h"

typedef struct mdf_config mdf_config;

#define MDF_CONFIG_LINE_MAX 4096
#define MDF_CONFIG_FILE_MAX (1024 * 1024)

/* All known keys at their defaults. */
int mdf_config_new(mdf_config **out, char *err, size_t errsz);
void mdf_config_free(mdf_config *c);

/* key=value lines; blank lines and # comments ignored; an error names the
 * file and line. Lines are capped at MDF_CONFIG_LINE_MAX bytes, the file at
 * MDF_CONFIG_FILE_MAX. On error c keeps the settings before the bad line
 * (callers exit). */
int mdf_config_load_file(mdf_config *c, const char *path, char *err, size_t errsz);
/* The same for the file's text in memory, text[0..len) (no NUL needed);
 * `name` stands for the file in errors. */
int mdf_config_load_text(mdf_config *c, const char *name, const char *text, size_t len, char *err,
                         size_t errsz);
/* MDEFLEET_* variables of envp (NULL-terminated, like environ). Any other
 * MDEFLEET_* name is an error that names it (a misspelt setting must not
 * pass silently), except the variables Kubernetes injects for a Service
 * named mdefleet (mdf_config_env_is_service_link), which are skipped. */
int mdf_config_load_env(mdf_config *c, char *const *envp, char *err, size_t errsz);
/* Whether the variable name (no "=value") is one of Kubernetes' service
 * links for a Service named mdefleet: MDEFLEET_PORT, MDEFLEET_PORT_<n>_<P>
 * and MDEFLEET_PORT_<n>_<P>_PROTO|_PORT|_ADDR (P: TCP, UDP or SCTP),
 * MDEFLEET_SERVICE_HOST, MDEFLEET_SERVICE_PORT, MDEFLEET_SERVICE_PORT_<NAME>. */
bool mdf_config_env_is_service_link(const char *name);
/* One setting; `origin` appears in errors ("--set", "file.conf:3", ...).
 * Checks the key is known (or kafka.*) and the value fits its type. */
int mdf_config_set(mdf_config *c, const char *key, const char *value, const char *origin, char *err,
                   size_t errsz);

/* Values (the default when never set), as normalized by set (trimmed;
 * booleans "true"/"false"; enums in their canonical case; lists without
 * blanks). A kafka.* key gives its value, or NULL when never set. Asking
 * for an unknown key, or the wrong type, is a programming error: returns
 * NULL / 0 / false. */
const char *mdf_config_get(const mdf_config *c, const char *key);
int64_t mdf_config_get_int(const mdf_config *c, const char *key);
bool mdf_config_get_bool(const mdf_config *c, const char *key);
/* A double key (an int key converts); 0 otherwise. */
double mdf_config_get_double(const mdf_config *c, const char *key);
/* Whether a list key (comma-separated, stored trimmed: "planner,tracker")
 * holds item, e.g. mdf_config_list_has(c, "worker.roles", "planner"). */
bool mdf_config_list_has(const mdf_config *c, const char *key, const char *item);

/* Rules across keys, run once everything is loaded: confluent framing needs
 * every codec.schema_id.* set, plain http endpoints only to loopback with
 * http.allow_loopback, full topic names valid for Kafka and distinct. */
int mdf_config_check(const mdf_config *c, char *err, size_t errsz);

/* Full topic name: topics.prefix + the topic's name, e.g. for "scan.jobs"
 * the value of topics.scan.jobs (default "scan.jobs") after the prefix
 * (default "mde.") -> "mde.scan.jobs". Returns a pointer owned by c. */
const char *mdf_config_topic(const mdf_config *c, const char *name);
/* The same by id. */
const char *mdf_config_topic_id(const mdf_config *c, mdf_topic t);

/* Every kafka.* setting onto a librdkafka configuration. */
int mdf_config_apply_kafka(const mdf_config *c, rd_kafka_conf_t *conf, char *err, size_t errsz);

/* The documentation of every key ("key  default  description" lines), for
 * --help and config/mdefleet.conf.example. */
void mdf_config_describe(FILE *fp);

#endif
