#include "env.h"

#include <string.h>

#include "clock.h"
#include "err.h"

/* ---- Azure bound to the ARM client and the blob download ---------------------- */

static int az_get_cluster(void *ctx, const char *sub, const char *rg, const char *cluster,
                          mdf_arm_cluster_cb cb, void *arg, char *err, size_t errsz)
{
    mdf_worker_env *e = ctx;
    return mdf_arm_get_cluster(e->arm, sub, rg, cluster, cb, arg, err, errsz);
}

static int az_set_enforcement(void *ctx, const char *sub, const char *rg, const char *cluster,
                              const char *level, mdf_arm_cluster_cb cb, void *arg, char *err,
                              size_t errsz)
{
    mdf_worker_env *e = ctx;
    return mdf_arm_set_enforcement(e->arm, sub, rg, cluster, level, cb, arg, err, errsz);
}

static int az_scan_runtime(void *ctx, const char *sub, const char *rg, const char *cluster,
                           mdf_arm_op_cb cb, void *arg, char *err, size_t errsz)
{
    mdf_worker_env *e = ctx;
    return mdf_arm_scan_runtime(e->arm, sub, rg, cluster, cb, arg, err, errsz);
}

static int az_list_bmms(void *ctx, const char *sub, const char *managed_rg, mdf_arm_bmms_cb cb,
                        void *arg, char *err, size_t errsz)
{
    mdf_worker_env *e = ctx;
    return mdf_arm_list_bmms(e->arm, sub, managed_rg, cb, arg, err, errsz);
}

static int az_run_data_extract(void *ctx, const char *sub, const char *managed_rg, const char *bmm,
                               int limit_time_seconds, bool restricted, mdf_arm_op_cb cb, void *arg,
                               char *err, size_t errsz)
{
    mdf_worker_env *e = ctx;
    return mdf_arm_run_data_extract(e->arm, sub, managed_rg, bmm, limit_time_seconds, restricted,
                                    cb, arg, err, errsz);
}

static int az_download(void *ctx, const char *url, mdf_blob_cb cb, void *arg, char *err,
                       size_t errsz)
{
    mdf_worker_env *e = ctx;
    return mdf_blob_get(e->http, &e->blob, url, cb, arg, err, errsz);
}

static int offload(void *ctx, mdf_work_fn work, mdf_work_done_fn done, void *arg)
{
    mdf_worker_env *e = ctx;
    return mdf_http_offload(e->http, work, done, arg);
}

/* ---- setup ------------------------------------------------------------------------ */

static int azure_new(mdf_worker_env *e, const mdf_config *c, char *err, size_t errsz)
{
    mdf_auth_method method;
    mdf_auth_cfg acfg;
    mdf_arm_cfg cfg;
    bool loopback = mdf_config_get_bool(c, "http.allow_loopback");
    if (mdf_auth_method_parse(mdf_config_get(c, "auth.method"), &method) != MDF_OK)
        return mdf_seterr(err, errsz, "auth.method: unknown method");
    if (mdf_auth_cfg_init(&acfg, method, err, errsz) != MDF_OK)
        return MDF_ERR;
    acfg.http = loopback ? MDF_HTTP_LOOPBACK : MDF_HTTPS_ONLY;
    mdf_blob_auth blob_auth = MDF_BLOB_AUTH_AUTO;
    mdf_blob_auth_parse(mdf_config_get(c, "blob.auth"), &blob_auth); /* checked as an enum */
    mdf_arm_cfg_default(&cfg);
    mdf_strlcpy(cfg.endpoint, mdf_config_get(c, "arm.endpoint"), sizeof cfg.endpoint);
    mdf_strlcpy(cfg.api_version, mdf_config_get(c, "arm.api_version"), sizeof cfg.api_version);
    cfg.http = acfg.http;
    cfg.reads.burst = (double)mdf_config_get_int(c, "arm.reads_burst");
    cfg.reads.per_second = mdf_config_get_double(c, "arm.reads_per_second");
    cfg.writes.burst = (double)mdf_config_get_int(c, "arm.writes_burst");
    cfg.writes.per_second = mdf_config_get_double(c, "arm.writes_per_second");
    cfg.retry.max_retries = (int)mdf_config_get_int(c, "arm.max_retries");
    cfg.budget_share = mdf_config_get_double(c, "arm.budget_share");
    mdf_blob_cfg_default(&e->blob);
    e->blob.http = acfg.http;
    e->blob.auth = blob_auth;
    e->blob.max_bytes = (size_t)mdf_config_get_int(c, "blob.max_bytes");
    int rc = MDF_ERR;
    if (mdf_blob_cfg_set_hosts(&e->blob, mdf_config_get(c, "blob.allowed_hosts"), err, errsz) !=
            MDF_OK ||
        mdf_http_new(&e->http, err, errsz) != MDF_OK)
        goto cleanup;
    /* one provider per audience: a token only ever goes to its own hosts */
    mdf_strlcpy(acfg.resource, mdf_config_get(c, "arm.audience"), sizeof acfg.resource);
    if (mdf_auth_new(&e->arm_auth, e->http, &acfg, err, errsz) != MDF_OK)
        goto cleanup;
    mdf_strlcpy(acfg.resource, mdf_config_get(c, "blob.audience"), sizeof acfg.resource);
    if (mdf_auth_new(&e->storage_auth, e->http, &acfg, err, errsz) != MDF_OK ||
        mdf_arm_new(&e->arm, e->http, e->arm_auth, &cfg, err, errsz) != MDF_OK)
        goto cleanup;
    e->blob.tokens = blob_auth == MDF_BLOB_AUTH_SAS ? NULL : e->storage_auth;
    rc = MDF_OK;
cleanup:
    /* acfg holds the client secret; the provider keeps its own copy */
    explicit_bzero(&acfg, sizeof acfg);
    return rc;
}

static const char *state_get(void *ctx, int32_t p, const char *key, size_t key_len, size_t *len)
{
    return mdf_state_store_get(ctx, p, key, key_len, len);
}

static int state_put(void *ctx, int32_t p, const char *key, size_t key_len, const void *value,
                     size_t len, char *err, size_t errsz)
{
    return mdf_state_store_put(ctx, p, key, key_len, value, len, err, errsz);
}

int mdf_worker_env_init(mdf_worker_env *e, const mdf_config *cfg, char *err, size_t errsz)
{
    memset(e, 0, sizeof *e);
    e->az = (mdf_az){az_get_cluster,
                     az_set_enforcement,
                     az_scan_runtime,
                     az_list_bmms,
                     az_run_data_extract,
                     az_download,
                     e};
    e->store = mdf_state_store_new((size_t)mdf_config_get_int(cfg, "state.max_bytes"));
    e->state = (mdf_state_port){state_get, state_put, e->store};
    e->role = (mdf_role_env){.cfg = cfg,
                             .az = &e->az,
                             .state = &e->state,
                             .mono_ms = mdf_mono_ms,
                             .now_ms = mdf_time_now_ms,
                             .offload = offload,
                             .offload_ctx = e};
    if (!e->store) {
        mdf_seterr(err, errsz, "out of memory");
        mdf_worker_env_fini(e);
        return MDF_ERR;
    }
    if (mdf_metrics_new(&e->metrics, err, errsz) != MDF_OK ||
        mdf_codec_new(&e->codec, err, errsz) != MDF_OK || azure_new(e, cfg, err, errsz) != MDF_OK) {
        mdf_worker_env_fini(e);
        return MDF_ERR;
    }
    e->role.codec = e->codec;
    e->role.metrics = e->metrics;
    return MDF_OK;
}

void mdf_worker_env_fini(mdf_worker_env *e)
{
    mdf_http_destroy(e->http);
    mdf_arm_destroy(e->arm);
    mdf_auth_destroy(e->arm_auth);
    mdf_auth_destroy(e->storage_auth);
    mdf_codec_destroy(e->codec);
    mdf_state_store_free(e->store);
    mdf_metrics_free(e->metrics);
    memset(e, 0, sizeof *e);
}
