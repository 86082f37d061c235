/* What the worker's roles are given (role.h), built from the
 * configuration: the codec, the HTTP event loop, an Entra ID token
 * provider per audience (Resource Manager, storage: the same credentials,
 * never each other's tokens), the ARM client, the blob settings, Azure
 * bound to them, and the findings state store. */
#ifndef MDF_WORKER_ENV_H
#define MDF_WORKER_ENV_H

#include "arm.h"
#include "avro_codec.h"
#include "blob.h"
#include "config.h"
#include "http_loop.h"
#include "metrics.h"
#include "role.h"
#include "state_store.h"
#include "token.h"

typedef struct mdf_worker_env {
    mdf_role_env role; /* points into the rest */
    mdf_codec *codec;
    mdf_http *http;         /* the loop runs it */
    mdf_auth *arm_auth;     /* tokens for Resource Manager (arm.audience) */
    mdf_auth *storage_auth; /* tokens for the result archives (blob.audience) */
    mdf_arm *arm;
    mdf_blob_cfg blob;
    mdf_az az;
    mdf_state_store *store; /* the findings state the loop restores */
    mdf_state_port state;
    mdf_metrics *metrics; /* the roles' and the loop's (ops.h serves them) */
} mdf_worker_env;

/* cfg is borrowed and must outlive the environment. */
int mdf_worker_env_init(mdf_worker_env *env, const mdf_config *cfg, char *err, size_t errsz);
/* Destroys the HTTP loop first: its timers and transfers point into the
 * clients. Nothing may run it afterwards. */
void mdf_worker_env_fini(mdf_worker_env *env);

#endif
