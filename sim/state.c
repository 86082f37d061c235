#include "state.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"

/* A report with thousands of threats is still far below these. */
#define REPORT_MAX_BYTES (64u * 1024 * 1024)

int sim_state_new(sim_scenario *sc, sim_state **out, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    sim_state *st = calloc(1, sizeof *st);
    *out = NULL;
    if (!st) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    st->sc = sc;
    sc = NULL;
    pthread_mutex_init(&st->mu, NULL);
    mdf_strmap_init(&st->op_index);
    mdf_strmap_init(&st->blob_index);
    mdf_vec_init(&st->ops, sizeof(sim_op *), SIM_MAX_OPS);
    mdf_vec_init(&st->pending_patches, sizeof(sim_op *), SIM_MAX_OPS);
    st->real0_ms = mdf_mono_ms();
    st->sim0_ms = mdf_time_now_ms();
    for (size_t i = 0; i < st->sc->n_subscriptions; i++) {
        mdf_tb_init(&st->budgets[i].reads, st->sc->reads.burst, st->sc->reads.per_second,
                    st->real0_ms);
        mdf_tb_init(&st->budgets[i].writes, st->sc->writes.burst, st->sc->writes.per_second,
                    st->real0_ms);
    }
    sim_imds_client_id(st->imds_client_id);
    st->tokens = calloc(SIM_MAX_TOKENS, sizeof *st->tokens);
    st->clusters = calloc(st->sc->n_clusters, sizeof *st->clusters);
    if (!st->tokens || !st->clusters) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < st->sc->n_clusters; i++) {
        const sim_cluster *c = &st->sc->clusters[i];
        sim_cluster_rt *rt = &st->clusters[i];
        rt->level = c->enforcement_level;
        rt->modified_sim_ms = st->sim0_ms;
        rt->fivexx_left = calloc(c->n_nodes ? c->n_nodes : 1, sizeof *rt->fivexx_left);
        if (!rt->fivexx_left) {
            mdf_seterr(err, errsz, "out of memory");
            goto cleanup;
        }
        for (size_t n = 0; n < c->n_nodes; n++)
            rt->fivexx_left[n] = c->nodes[n].faults.http_5xx;
    }
    *out = st;
    st = NULL;
    rc = MDF_OK;
cleanup:
    sim_scenario_free(sc);
    sim_state_free(st);
    return rc;
}

void sim_state_free(sim_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ops.len; i++) {
        sim_op *op = MDF_VEC_AT(&st->ops, sim_op *, i);
        mdf_buf_free(&op->archive);
        free(op);
    }
    mdf_vec_free(&st->ops);
    mdf_vec_free(&st->pending_patches);
    mdf_strmap_free(&st->op_index);
    mdf_strmap_free(&st->blob_index);
    if (st->clusters)
        for (size_t i = 0; i < st->sc->n_clusters; i++)
            free(st->clusters[i].fivexx_left);
    free(st->clusters);
    free(st->tokens);
    sim_scenario_free(st->sc);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

void sim_state_lock(sim_state *st)
{
    pthread_mutex_lock(&st->mu);
}

void sim_state_unlock(sim_state *st)
{
    pthread_mutex_unlock(&st->mu);
}

int64_t sim_state_sim_ms(const sim_state *st, int64_t real_ms)
{
    return st->sim0_ms + (int64_t)llround((double)(real_ms - st->real0_ms) / st->sc->time_scale);
}

int64_t sim_state_real_ms(const sim_state *st, double sim_seconds)
{
    double ms = sim_seconds * 1000.0 * st->sc->time_scale;
    return ms > 0 ? (int64_t)llround(ms) : 0;
}

void sim_state_settle(sim_state *st, int64_t real_ms)
{
    /* Apply finished PATCHes in the order they finished; the last one to
     * finish decides the level, as it would on the service. */
    sim_op **pending = st->pending_patches.data;
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < st->pending_patches.len; i++) {
            const sim_op *op = pending[i];
            if (op->real_end_ms <= real_ms &&
                (best == SIZE_MAX || op->real_end_ms < pending[best]->real_end_ms))
                best = i;
        }
        if (best == SIZE_MAX)
            return;
        sim_op *op = pending[best];
        sim_cluster_rt *rt = &st->clusters[op->cluster];
        if (op->new_level >= 0)
            rt->level = (sim_level)op->new_level;
        if (op->new_update_mode >= 0)
            rt->update_automatic = op->new_update_mode == 1;
        rt->modified_sim_ms = op->sim_end_ms;
        op->applied = true;
        pending[best] = pending[--st->pending_patches.len];
    }
}

/* Whether the node has its `next` at real_ms. An extract that ends at the
 * moment of the phase change already sees the new report. */
static bool in_next(const sim_state *st, const sim_node *n, int64_t real_ms)
{
    return n->has_next && st->phase > 0 && real_ms >= st->phase_real_ms;
}

const sim_report *sim_state_report(const sim_state *st, size_t cluster, size_t node,
                                   int64_t real_ms)
{
    const sim_node *n = &st->sc->clusters[cluster].nodes[node];
    return in_next(st, n, real_ms) ? &n->next_report : &n->report;
}

const sim_faults *sim_state_faults(const sim_state *st, size_t cluster, size_t node,
                                   int64_t real_ms)
{
    const sim_node *n = &st->sc->clusters[cluster].nodes[node];
    return in_next(st, n, real_ms) ? &n->next_faults : &n->faults;
}

size_t sim_state_next_phase(sim_state *st, int64_t real_ms)
{
    size_t changed = 0;
    /* one `next` per node: there is one phase to apply at most */
    if (st->phase > 0)
        return 0;
    for (size_t c = 0; c < st->sc->n_clusters; c++) {
        const sim_cluster *cl = &st->sc->clusters[c];
        for (size_t n = 0; n < cl->n_nodes; n++) {
            if (!cl->nodes[n].has_next)
                continue;
            changed++;
            /* new faults count their 503s from the start */
            if (cl->nodes[n].next_sets_faults)
                st->clusters[c].fivexx_left[n] = cl->nodes[n].next_faults.http_5xx;
        }
    }
    if (changed > 0) {
        st->phase = 1;
        st->phase_real_ms = real_ms;
    }
    return changed;
}

int sim_state_cluster(const sim_state *st, size_t sub, const char *rg, const char *name)
{
    for (size_t i = 0; i < st->sc->n_clusters; i++)
        if (st->sc->clusters[i].sub == sub && sim_ieq(st->sc->clusters[i].resource_group, rg) &&
            sim_ieq(st->sc->clusters[i].name, name))
            return (int)i;
    return -1;
}

int sim_state_cluster_by_managed_rg(const sim_state *st, size_t sub, const char *managed_rg)
{
    for (size_t i = 0; i < st->sc->n_clusters; i++)
        if (st->sc->clusters[i].sub == sub &&
            sim_ieq(st->sc->clusters[i].managed_resource_group, managed_rg))
            return (int)i;
    return -1;
}

int sim_state_node(const sim_state *st, size_t cluster, const char *name)
{
    const sim_cluster *c = &st->sc->clusters[cluster];
    for (size_t i = 0; i < c->n_nodes; i++)
        if (sim_ieq(c->nodes[i].name, name))
            return (int)i;
    return -1;
}

bool sim_state_rg_exists(const sim_state *st, size_t sub, const char *rg)
{
    for (size_t i = 0; i < st->sc->n_clusters; i++)
        if (st->sc->clusters[i].sub == sub &&
            (sim_ieq(st->sc->clusters[i].resource_group, rg) ||
             sim_ieq(st->sc->clusters[i].managed_resource_group, rg)))
            return true;
    return false;
}

/* s equals uri once trailing slashes are dropped from both */
static bool same_uri(const char *s, const char *uri)
{
    size_t n = strlen(s), m = strlen(uri);
    while (n > 0 && s[n - 1] == '/')
        n--;
    while (m > 0 && uri[m - 1] == '/')
        m--;
    return n == m && memcmp(s, uri, n) == 0;
}

sim_audience sim_audience_of(const char *resource)
{
    if (same_uri(resource, MDF_AUDIENCE_ARM) ||
        same_uri(resource, "https://management.core.windows.net/"))
        return SIM_AUD_ARM;
    if (same_uri(resource, MDF_AUDIENCE_STORAGE))
        return SIM_AUD_STORAGE;
    return SIM_AUD_OTHER;
}

int sim_state_token_issue(sim_state *st, sim_audience audience, const char *client_id,
                          int64_t real_ms, char out[SIM_TOKEN_LEN + 1], int64_t *sim_expiry_ms)
{
    if (mdf_random_hex(SIM_TOKEN_LEN / 2, out) != MDF_OK)
        return MDF_ERR;
    sim_token *t = &st->tokens[st->next_token];
    st->next_token = (st->next_token + 1) % SIM_MAX_TOKENS;
    memcpy(t->value, out, SIM_TOKEN_LEN + 1);
    t->real_expiry_ms = real_ms + sim_state_real_ms(st, (double)st->sc->token_lifetime_s);
    t->audience = audience;
    t->client_id = client_id;
    t->sim_expiry_ms = sim_state_sim_ms(st, real_ms) + st->sc->token_lifetime_s * 1000;
    *sim_expiry_ms = t->sim_expiry_ms;
    return MDF_OK;
}

sim_token_check sim_state_token_check(const sim_state *st, const char *value, sim_audience want,
                                      int64_t real_ms, int64_t *sim_expiry_ms,
                                      const char **client_id)
{
    if (strlen(value) != SIM_TOKEN_LEN)
        return SIM_TOKEN_UNKNOWN;
    for (size_t i = 0; i < SIM_MAX_TOKENS; i++) {
        const sim_token *t = &st->tokens[i];
        if (memcmp(t->value, value, SIM_TOKEN_LEN) != 0)
            continue;
        *sim_expiry_ms = t->sim_expiry_ms;
        *client_id = t->client_id;
        if (t->audience != want)
            return SIM_TOKEN_WRONG_AUDIENCE;
        return real_ms < t->real_expiry_ms ? SIM_TOKEN_OK : SIM_TOKEN_EXPIRED;
    }
    return SIM_TOKEN_UNKNOWN;
}

/* base64 of 32 random bytes, as a SAS sig looks */
static int random_sig(char out[SIM_SIG_LEN + 1])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[33] = {0};
    if (mdf_random_bytes(raw, 32) != MDF_OK)
        return MDF_ERR;
    size_t o = 0;
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    /* 32 bytes make 43 digits and one '=' */
    out[43] = '=';
    out[44] = '\0';
    return MDF_OK;
}

/* Stores op in the table and its indexes. On failure *kept says whether the
 * table already owns op: the indexes borrow its id strings and cannot drop
 * a key, so once one is in, op must stay (unreachable ops are harmless). */
static int index_op(sim_state *st, sim_op *op, bool *kept)
{
    *kept = false;
    size_t at = st->ops.len;
    if (mdf_vec_push(&st->ops, &op) != 0)
        return MDF_ERR;
    *kept = true;
    if (mdf_strmap_put(&st->op_index, op->id, strlen(op->id), at) != 0)
        return MDF_ERR;
    if (op->has_result &&
        mdf_strmap_put(&st->blob_index, op->blob_id, strlen(op->blob_id), at) != 0)
        return MDF_ERR;
    return MDF_OK;
}

/* What an extract will produce, from the node's faults and the time limit. */
static void plan_extract(sim_state *st, sim_op *op, int64_t real_ms, double *sim_seconds)
{
    const sim_faults *f = sim_state_faults(st, op->cluster, op->node, real_ms);
    op->faults = f;
    double run_s = f->extract_seconds >= 0 ? f->extract_seconds : st->sc->extract_s;
    op->exit_code = 0;
    if (f->operation_failed) {
        op->fails = true;
        mdf_strlcpy(op->error_code, "OperationFailed", sizeof op->error_code);
        mdf_strlcpy(op->error_message, f->operation_failed, sizeof op->error_message);
    } else if (f->agent_not_running) {
        op->agent_down = true;
        op->exit_code = 1;
    } else if ((double)op->limit_s < run_s) {
        /* the command is killed at the limit: exit code 252 */
        op->timed_out = true;
        op->exit_code = 252;
        run_s = (double)op->limit_s;
    } else if (f->exit_code >= 0) {
        op->exit_code = f->exit_code;
        op->timed_out = f->exit_code == 252;
    }
    op->has_result = !op->fails && op->exit_code == 0;
    *sim_seconds = run_s;
}

sim_op *sim_state_op_new(sim_state *st, sim_op_kind kind, size_t cluster, size_t node,
                         double sim_seconds, int64_t limit_s, int64_t real_ms, char *err,
                         size_t errsz)
{
    sim_op *op = NULL, *ret = NULL;
    if (st->ops.len >= SIM_MAX_OPS) {
        mdf_seterr(err, errsz, "the simulator keeps at most %d operations", SIM_MAX_OPS);
        goto cleanup;
    }
    op = calloc(1, sizeof *op);
    if (!op) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    op->kind = kind;
    op->cluster = cluster;
    op->node = node;
    op->new_level = -1;
    op->new_update_mode = -1;
    op->limit_s = limit_s;
    mdf_buf_init(&op->archive, REPORT_MAX_BYTES);
    mdf_random_id(op->id);
    if (kind == SIM_OP_EXTRACT)
        plan_extract(st, op, real_ms, &sim_seconds);
    op->real_start_ms = real_ms;
    op->real_end_ms = real_ms + sim_state_real_ms(st, sim_seconds);
    op->sim_start_ms = sim_state_sim_ms(st, real_ms);
    op->sim_end_ms = op->sim_start_ms + (int64_t)llround(sim_seconds * 1000.0);
    if (op->has_result)
        mdf_random_id(op->blob_id);
    /* the customer's storage is read with a token: no SAS is issued */
    if (op->has_result && !st->sc->clusters[cluster].output.customer) {
        const sim_faults *f = op->faults;
        if (random_sig(op->sig) != MDF_OK) {
            mdf_seterr(err, errsz, "no random bytes for a SAS signature");
            goto cleanup;
        }
        /* The SAS is issued when the result is written; with expired_sas it
         * is handed out already past its expiry. */
        int64_t ttl_ms = st->sc->sas_ttl_s * 1000;
        op->sas_start_ms = f->expired_sas ? op->sim_end_ms - ttl_ms - 60000 : op->sim_end_ms;
        op->sas_expiry_ms = op->sas_start_ms + ttl_ms;
    }
    bool kept;
    if (index_op(st, op, &kept) != MDF_OK)
        mdf_seterr(err, errsz, "out of memory");
    else
        ret = op;
    if (kept)
        op = NULL; /* the state owns it now */
cleanup:
    if (op)
        mdf_buf_free(&op->archive);
    free(op);
    return ret;
}

void sim_state_scan_started(sim_state *st, sim_op *op)
{
    sim_cluster_rt *rt = &st->clusters[op->cluster];
    rt->last_scan = op;
    /* scan_action_failed: the action failed on the cluster, so no scan ran */
    if (op->fails || op->skip_scan || st->sc->clusters[op->cluster].scan_action_failed)
        return;
    if (rt->n_scans == SIM_KEEP_SCANS) {
        memmove(rt->scans, rt->scans + 1, (SIM_KEEP_SCANS - 1) * sizeof *rt->scans);
        rt->n_scans--;
    }
    rt->scans[rt->n_scans++] = op;
}

int sim_state_patch_pending(sim_state *st, sim_op *op)
{
    return mdf_vec_push(&st->pending_patches, &op) == 0 ? MDF_OK : MDF_ERR;
}

sim_op *sim_state_op_find(const sim_state *st, const char *id)
{
    size_t i;
    if (!mdf_strmap_get(&st->op_index, id, strlen(id), &i))
        return NULL;
    return MDF_VEC_AT(&st->ops, sim_op *, i);
}

sim_op *sim_state_blob_find(const sim_state *st, const char *blob_id)
{
    size_t i;
    if (!mdf_strmap_get(&st->blob_index, blob_id, strlen(blob_id), &i))
        return NULL;
    return MDF_VEC_AT(&st->ops, sim_op *, i);
}

sim_opst sim_op_status(const sim_op *op, int64_t real_ms)
{
    if (real_ms < op->real_end_ms)
        return SIM_OPST_RUNNING;
    return op->fails ? SIM_OPST_FAILED : SIM_OPST_SUCCEEDED;
}

size_t sim_state_extra_scans(const sim_state *st, size_t cluster, size_t node, int64_t sim_ms,
                             sim_extra_scan out[SIM_KEEP_SCANS])
{
    const sim_cluster_rt *rt = &st->clusters[cluster];
    size_t n = 0;
    for (size_t i = 0; i < rt->n_scans; i++) {
        const sim_op *s = rt->scans[i];
        /* the cluster's scans go on across phases; a node takes those its
         * agent was running for (an agent that came back in the next phase
         * has the scans since) */
        if (s->sim_end_ms <= sim_ms &&
            !sim_state_faults(st, cluster, node, s->real_start_ms)->agent_not_running)
            out[n++] = (sim_extra_scan){s->sim_start_ms, s->sim_end_ms};
    }
    return n;
}

int sim_state_op_archive(sim_state *st, sim_op *op, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    mdf_buf json;
    mdf_buf_init(&json, REPORT_MAX_BYTES);
    if (op->archive_ready) {
        rc = MDF_OK;
        goto cleanup;
    }
    /* the report as it was when the operation ended: one that ended before
     * the phase changed keeps the old report, however late it is built */
    sim_extra_scan extra[SIM_KEEP_SCANS];
    size_t n = sim_state_extra_scans(st, op->cluster, op->node, op->sim_end_ms, extra);
    const sim_node *node = &st->sc->clusters[op->cluster].nodes[op->node];
    const sim_report *report = sim_state_report(st, op->cluster, op->node, op->real_end_ms);
    mdf_buf_reset(&op->archive);
    if (sim_agentinfo_json(node->name, report, extra, n, op->sim_end_ms, &json, err, errsz) !=
            MDF_OK ||
        sim_agentinfo_archive(json.data, json.len, op->sim_end_ms, op->faults->archive_bomb_mib,
                              &op->archive, err, errsz) != MDF_OK)
        goto cleanup;
    if (op->faults->corrupt_archive)
        sim_agentinfo_corrupt(&op->archive);
    /* Azure's ETag form: "0x" and 15 hex digits */
    uint64_t h = mdf_hash_bytes(op->archive.data, op->archive.len);
    snprintf(op->etag, sizeof op->etag, "\"0x8D%013" PRIX64 "\"", h & UINT64_C(0xFFFFFFFFFFFFF));
    op->archive_ready = true;
    rc = MDF_OK;
cleanup:
    mdf_buf_free(&json);
    return rc;
}
