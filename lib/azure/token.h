/* Azure AD / Entra tokens for ARM: client credentials (secret), workload
 * identity (a federated token file, re-read at every refresh, as client
 * assertion) and managed identity (IMDS). A token is cached and refreshed
 * before it expires; callers waiting while a fetch is in flight share it.
 * Secrets never appear in errors. */
#ifndef MDF_TOKEN_H
#define MDF_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_loop.h"
#include "retry.h"

typedef enum {
    MDF_AUTH_CLIENT_SECRET,
    MDF_AUTH_WORKLOAD_IDENTITY,
    MDF_AUTH_MANAGED_IDENTITY,
} mdf_auth_method;

/* The Entra ID audiences (resources) of Azure's public cloud; sovereign
 * clouds have others (configuration). The scope is the audience + ".default". */
#define MDF_AUDIENCE_ARM "https://management.azure.com/"
#define MDF_AUDIENCE_STORAGE "https://storage.azure.com/"
/* Resource Manager's public endpoint: the ARM audience without its '/' */
#define MDF_ARM_ENDPOINT "https://management.azure.com"

#define MDF_AUTH_MAX_TOKEN 16384
#define MDF_AUTH_MAX_ASSERTION 65536

typedef struct mdf_auth_cfg {
    mdf_auth_method method;
    char tenant_id[128];
    char client_id[128];             /* managed identity: optional (user-assigned) */
    char client_secret[1024];        /* never logged */
    char authority_host[512];        /* AZURE_AUTHORITY_HOST; https://login.microsoftonline.com */
    char federated_token_file[1024]; /* AZURE_FEDERATED_TOKEN_FILE */
    char imds_endpoint[512];         /* IMDS; http://169.254.169.254 */
    char resource[256];              /* https://management.azure.com/ */
    mdf_http_policy http;            /* loopback http for tests (authority) */
    mdf_retry retry;                 /* token endpoint: 429, 5xx, no answer */
    mdf_retry imds_retry;            /* IMDS: also 404 and 410, 5 tries by default */
    long timeout_ms;
} mdf_auth_cfg;

/* Defaults, then the standard AZURE_* variables of the environment. */
int mdf_auth_cfg_init(mdf_auth_cfg *cfg, mdf_auth_method method, char *err, size_t errsz);
/* client_secret | workload_identity | managed_identity */
int mdf_auth_method_parse(const char *s, mdf_auth_method *out);
/* Checks what the method needs is there (tenant, client id, secret, file). */
int mdf_auth_cfg_check(const mdf_auth_cfg *cfg, char *err, size_t errsz);

typedef struct mdf_auth mdf_auth;

/* token is NULL on failure, then err says why (no secrets in it). */
typedef void (*mdf_auth_cb)(void *arg, const char *token, const char *err);

int mdf_auth_new(mdf_auth **out, mdf_http *h, const mdf_auth_cfg *cfg, char *err, size_t errsz);
/* Destroy (or stop running) the mdf_http loop first: its timers and
 * transfers point into the provider. */
void mdf_auth_destroy(mdf_auth *a);
/* Hands a valid token to cb, from mdf_http_run (never from inside this
 * call). Returns MDF_ERR only when out of memory. */
int mdf_auth_get(mdf_auth *a, mdf_auth_cb cb, void *arg);
/* A 401 answered a request made with `token`: drop it if still cached. */
void mdf_auth_invalidate(mdf_auth *a, const char *token);
/* Tokens fetched so far (for tests and metrics). */
uint64_t mdf_auth_fetches(const mdf_auth *a);

#endif
