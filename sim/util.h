/* Small helpers the simulator's modules share on top of lib/core's: UUIDs
 * in the simulator's namespace, time formats that Azure uses besides
 * RFC 3339, form bodies. Nothing here touches the simulated state. */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_writer.h"
#include "random.h" /* MDF_UUID_STRSZ */

#define SIM_ISO_S_STRSZ 21    /* "2023-10-13T17:42:53Z" + NUL */
#define SIM_HTTPDATE_STRSZ 30 /* "Fri, 13 Oct 2023 13:42:53 GMT" + NUL */

/* A name-based (version 5) UUID in the simulator's own namespace: the same
 * name always gives the same id. */
void sim_uuid_named(const char *name, size_t len, char out[MDF_UUID_STRSZ]);
/* The client id of the managed identity IMDS hands out tokens for. */
void sim_imds_client_id(char out[MDF_UUID_STRSZ]);

/* Epoch ms as "2023-10-13T17:42:53Z" (SAS start/expiry). Returns 0 or -1. */
int sim_format_iso_s(int64_t ms, char out[SIM_ISO_S_STRSZ]);
/* Epoch ms as an RFC 1123 date, "Fri, 13 Oct 2023 13:42:53 GMT". */
int sim_format_http_date(int64_t ms, char out[SIM_HTTPDATE_STRSZ]);

/* ASCII case-insensitive equality (ARM paths and names are case-insensitive). */
bool sim_ieq(const char *a, const char *b);

/* Finds `key` in an application/x-www-form-urlencoded body and decodes its
 * value ('+' is a space) into out. Returns 1 when found, 0 when absent, -1
 * when the value is malformed or longer than outsz-1. */
int sim_form_get(const char *body, size_t len, const char *key, char *out, size_t outsz);

/* "key":["a","b",...] */
void sim_jsonw_kstrs(mdf_jsonw *w, const char *key, const char *const *items, size_t n);

#endif
