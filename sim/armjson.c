#include "armjson.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "names.h"
#include "routes.h"
#include "strconv.h"

bool sim_apiv_at_least(const char *apiv, const char *date)
{
    /* YYYY-MM-DD sorts as text; a preview of the same date counts as it */
    return strncmp(apiv, date, 10) >= 0;
}

void sim_cluster_id(const sim_state *st, size_t ci, char out[MDF_RID_MAX])
{
    const sim_cluster *c = &st->sc->clusters[ci];
    mdf_rid_cluster(out, MDF_RID_MAX, c->subscription, c->resource_group, c->name);
}

void sim_bmm_id(const sim_state *st, size_t ci, size_t ni, char out[MDF_RID_MAX])
{
    const sim_cluster *c = &st->sc->clusters[ci];
    mdf_rid_bmm(out, MDF_RID_MAX, c->subscription, c->managed_resource_group, c->nodes[ni].name);
}

void sim_op_path(const sim_state *st, const sim_op *op, char out[MDF_RID_MAX])
{
    /* an operation lives in the subscription of the cluster it acts on */
    mdf_rid_operation(out, MDF_RID_MAX, st->sc->clusters[op->cluster].subscription,
                      st->sc->location, op->id);
}

static void ktime(mdf_jsonw *w, const char *key, int64_t ms)
{
    char s[MDF_TIME_STRSZ];
    if (mdf_time_format_ms(ms, s) == 0)
        mdf_jsonw_kstr(w, key, s);
}

/* A tracked resource: opens it and its "properties" (keys in the
 * examples' alphabetical order). */
static void resource_begin(mdf_jsonw *w, const sim_state *st, const sim_cluster *c,
                           const char *location_name, const char *id, const char *name)
{
    char el[MDF_RID_MAX];
    snprintf(el, sizeof el,
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ExtendedLocation/"
             "customLocations/%s",
             c->subscription, c->resource_group, location_name);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "extendedLocation");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "name", el);
    mdf_jsonw_kstr(w, "type", "CustomLocation");
    mdf_jsonw_obj_end(w);
    mdf_jsonw_kstr(w, "id", id);
    mdf_jsonw_kstr(w, "location", st->sc->location);
    mdf_jsonw_kstr(w, "name", name);
    mdf_jsonw_key(w, "properties");
    mdf_jsonw_obj_begin(w);
}

/* Closes "properties", then systemData, tags, type and the resource. */
static void resource_end(mdf_jsonw *w, int64_t created_ms, int64_t modified_ms, const char *type)
{
    mdf_jsonw_obj_end(w);
    mdf_jsonw_key(w, "systemData");
    mdf_jsonw_obj_begin(w);
    ktime(w, "createdAt", created_ms);
    mdf_jsonw_kstr(w, "createdBy", "mdefleet-sim");
    mdf_jsonw_kstr(w, "createdByType", "Application");
    ktime(w, "lastModifiedAt", modified_ms);
    mdf_jsonw_kstr(w, "lastModifiedBy", "mdefleet-sim");
    mdf_jsonw_kstr(w, "lastModifiedByType", "Application");
    mdf_jsonw_obj_end(w);
    mdf_jsonw_key(w, "tags");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_kstr(w, "type", type);
    mdf_jsonw_obj_end(w);
}

/* The cluster's scanRuntime action, the most recent one ("the most recent
 * known instance of each action type is shown"). */
static void action_states(mdf_jsonw *w, const sim_state *st, size_t ci, int64_t real_ms)
{
    const sim_op *op = st->clusters[ci].last_scan;
    mdf_jsonw_key(w, "actionStates");
    mdf_jsonw_arr_begin(w);
    if (op) {
        sim_opst s = sim_op_status(op, real_ms);
        /* scan_action_failed: the operation succeeds, the action does not */
        const char *failed = s == SIM_OPST_FAILED      ? op->error_message
                             : s == SIM_OPST_SUCCEEDED ? st->sc->clusters[ci].scan_action_failed
                                                       : NULL;
        const char *status = s == SIM_OPST_RUNNING ? "InProgress" : failed ? "Failed" : "Completed";
        const char *msg = s == SIM_OPST_RUNNING ? "Scan runtime action is in progress"
                          : failed              ? failed
                                                : "Action completed successfully";
        const char *step_msg = s == SIM_OPST_RUNNING
                                   ? "Distributing the request to scan runtime to the cluster"
                               : failed ? failed
                                        : "Request to scan runtime was successfully distributed to "
                                          "the cluster";
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "actionType", MDF_ACTION_TYPE_SCAN_RUNTIME);
        mdf_jsonw_kstr(w, "correlationId", op->correlation_id);
        if (s != SIM_OPST_RUNNING)
            ktime(w, "endTime", op->sim_end_ms);
        mdf_jsonw_kstr(w, "message", msg);
        ktime(w, "startTime", op->sim_start_ms);
        mdf_jsonw_kstr(w, "status", status);
        mdf_jsonw_key(w, "stepStates");
        mdf_jsonw_arr_begin(w);
        mdf_jsonw_obj_begin(w);
        if (s != SIM_OPST_RUNNING)
            ktime(w, "endTime", op->sim_end_ms);
        mdf_jsonw_kstr(w, "message", step_msg);
        ktime(w, "startTime", op->sim_start_ms);
        mdf_jsonw_kstr(w, "status", status);
        mdf_jsonw_kstr(w, "stepName", "DistributeRequest");
        mdf_jsonw_obj_end(w);
        mdf_jsonw_arr_end(w);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
}

/* Where a customer-storage cluster writes run-command output: its
 * container, path style on the simulator's host (as storage emulators
 * address an account on an IP host), and the identity that writes there. */
static void command_output_settings(mdf_jsonw *w, const sim_state *st, size_t ci,
                                    const char *base_url)
{
    const sim_cluster *c = &st->sc->clusters[ci];
    char url[512]; /* a base URL (under 300 bytes), an account and a container */
    mdf_jsonw_key(w, "commandOutputSettings");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_key(w, "associatedIdentity");
    mdf_jsonw_obj_begin(w);
    if (c->output.user_assigned) {
        char id[MDF_RID_MAX];
        /* made up: an identity named after the cluster, in its group */
        snprintf(id, sizeof id,
                 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/"
                 "userAssignedIdentities/%s-uai",
                 c->subscription, c->resource_group, c->name);
        mdf_jsonw_kstr(w, "identityType", "UserAssignedIdentity");
        mdf_jsonw_kstr(w, "userAssignedIdentityResourceId", id);
    } else {
        mdf_jsonw_kstr(w, "identityType", "SystemAssignedIdentity");
    }
    mdf_jsonw_obj_end(w);
    snprintf(url, sizeof url, "%s/%s/%s", base_url, c->output.account, c->output.container);
    mdf_jsonw_kstr(w, "containerUrl", url);
    mdf_jsonw_obj_end(w);
}

void sim_json_cluster(mdf_jsonw *w, const sim_state *st, size_t ci, const char *apiv,
                      const char *base_url, int64_t real_ms)
{
    const sim_cluster *c = &st->sc->clusters[ci];
    const sim_cluster_rt *rt = &st->clusters[ci];
    char id[MDF_RID_MAX], cm[MDF_RID_MAX], cm_name[MDF_RID_MAX], cl[MDF_RID_MAX];
    sim_cluster_id(st, ci, id);
    /* its cluster manager "{cluster}-cm" is in the same group */
    snprintf(cm_name, sizeof cm_name, "%s-cm", c->name);
    mdf_rid(cm, sizeof cm, c->subscription, c->resource_group, MDF_RT_CLUSTER_MANAGERS, cm_name);
    /* a cluster sits in its cluster manager's custom location */
    snprintf(cl, sizeof cl, "%s-cm-cl", c->name);
    resource_begin(w, st, c, cl, id, c->name);
    if (sim_apiv_at_least(apiv, "2025-09-01"))
        action_states(w, st, ci, real_ms);
    mdf_jsonw_kstr(w, "clusterConnectionStatus", "Connected");
    mdf_jsonw_kstr(w, "clusterManagerId", cm);
    mdf_jsonw_kstr(w, "clusterType", "MultiRack");
    if (c->output.customer && sim_apiv_at_least(apiv, "2024-07-01"))
        command_output_settings(w, st, ci, base_url);
    mdf_jsonw_kstr(w, "detailedStatus", "Running");
    mdf_jsonw_kstr(w, "detailedStatusMessage", "Cluster is running and healthy");
    mdf_jsonw_key(w, "managedResourceGroupConfiguration");
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "location", st->sc->location);
    mdf_jsonw_kstr(w, "name", c->managed_resource_group);
    mdf_jsonw_obj_end(w);
    mdf_jsonw_kstr(w, "provisioningState", "Succeeded");
    mdf_jsonw_key(w, "runtimeProtectionConfiguration");
    mdf_jsonw_obj_begin(w);
    if (sim_apiv_at_least(apiv, "2026-01-01"))
        mdf_jsonw_kstr(w, "definitionUpdateMode", rt->update_automatic ? "Automatic" : "None");
    mdf_jsonw_kstr(w, "enforcementLevel", sim_level_name(rt->level));
    mdf_jsonw_obj_end(w);
    resource_end(w, st->sim0_ms, rt->modified_sim_ms, MDF_RP_NAMESPACE "/" MDF_RT_CLUSTERS);
}

static void runtime_protection_status(mdf_jsonw *w, const sim_state *st, size_t ci, size_t ni,
                                      const char *apiv, int64_t real_ms)
{
    const sim_report *r = sim_state_report(st, ci, ni, real_ms);
    const sim_faults *f = sim_state_faults(st, ci, ni, real_ms);
    const sim_health *h = &r->health;
    /* the latest scan the node reports: scenario scans, then simulated ones */
    int64_t started = INT64_MIN, completed = INT64_MIN;
    for (size_t i = 0; i < r->n_scans; i++)
        if (r->scans[i].start_ms > started) {
            started = r->scans[i].start_ms;
            completed = started + r->scans[i].duration_ms;
        }
    if (!f->agent_not_running) {
        sim_extra_scan extra[SIM_KEEP_SCANS];
        size_t k = sim_state_extra_scans(st, ci, ni, sim_state_sim_ms(st, real_ms), extra);
        if (k > 0 && extra[k - 1].start_ms > started) {
            started = extra[k - 1].start_ms;
            completed = extra[k - 1].end_ms;
        }
    }
    bool healthy = h->healthy && !f->agent_not_running;
    mdf_jsonw_key(w, "runtimeProtectionStatus");
    mdf_jsonw_obj_begin(w);
    if (sim_apiv_at_least(apiv, "2026-01-01")) {
        mdf_jsonw_kstr(w, "agentHealthStatus", healthy ? "Healthy" : "Unhealthy");
        mdf_jsonw_key(w, "agentHealthStatusIssues");
        mdf_jsonw_arr_begin(w);
        if (f->agent_not_running)
            mdf_jsonw_str(w, "MDE agent is not running");
        for (size_t i = 0; i < h->n_issues; i++)
            mdf_jsonw_str(w, h->issues[i]);
        mdf_jsonw_arr_end(w);
        mdf_jsonw_kstr(w, "agentLicenseStatus", h->licensed ? "Licensed" : "Unlicensed");
        mdf_jsonw_kstr(w, "definitionUpdateMode",
                       st->clusters[ci].update_automatic ? "Automatic" : "None");
    }
    ktime(w, "definitionsLastUpdated", h->definitions_updated_ms);
    mdf_jsonw_kstr(w, "definitionsVersion", h->definitions_version);
    if (sim_apiv_at_least(apiv, "2026-01-01"))
        mdf_jsonw_kstr(w, "enforcementLevel", sim_level_name(st->clusters[ci].level));
    if (started != INT64_MIN) {
        ktime(w, "scanCompletedTime", completed);
        ktime(w, "scanStartedTime", started);
    }
    mdf_jsonw_obj_end(w);
}

void sim_json_bmm(mdf_jsonw *w, const sim_state *st, size_t ci, size_t ni, const char *apiv,
                  int64_t real_ms)
{
    const sim_cluster *c = &st->sc->clusters[ci];
    const sim_node *n = &c->nodes[ni];
    char id[MDF_RID_MAX], cid[MDF_RID_MAX], rack[MDF_RID_MAX], cl[MDF_RID_MAX];
    sim_bmm_id(st, ci, ni, id);
    sim_cluster_id(st, ci, cid);
    mdf_rid(rack, sizeof rack, c->subscription, c->managed_resource_group, MDF_RT_RACKS, n->rack);
    /* slot: position among the machines of the same rack, from 1 */
    int64_t slot = 1;
    for (size_t i = 0; i < ni; i++)
        slot += strcmp(c->nodes[i].rack, n->rack) == 0;
    /* machines sit in their cluster's custom location */
    snprintf(cl, sizeof cl, "%s-cl", c->name);
    resource_begin(w, st, c, cl, id, n->name);
    mdf_jsonw_kstr(w, "clusterId", cid);
    mdf_jsonw_kstr(w, "cordonStatus", n->cordon_status);
    mdf_jsonw_kstr(w, "detailedStatus", n->detailed_status);
    mdf_jsonw_kstr(w, "detailedStatusMessage", "DetailedStatusMessage");
    mdf_jsonw_kstr(w, "kubernetesNodeName", n->name);
    mdf_jsonw_kstr(w, "machineName", n->name);
    sim_jsonw_kstrs(w, "machineRoles", n->roles, n->n_roles);
    mdf_jsonw_kstr(w, "powerState", n->power_state);
    mdf_jsonw_kstr(w, "provisioningState", "Succeeded");
    mdf_jsonw_kstr(w, "rackId", rack);
    mdf_jsonw_kint(w, "rackSlot", slot);
    mdf_jsonw_kstr(w, "readyState", n->ready_state);
    runtime_protection_status(w, st, ci, ni, apiv, real_ms);
    resource_end(w, st->sim0_ms, st->sim0_ms, MDF_RP_NAMESPACE "/" MDF_RT_BMMS);
}

int sim_result_url(const sim_state *state, const sim_op *op, const char *base_url, mdf_buf *out)
{
    const sim_output *o = &state->sc->clusters[op->cluster].output;
    if (o->customer)
        return mdf_buf_appendf(out,
                               "%s/%s/%s/" SIM_CUSTOMER_BLOB_PREFIX "%s" SIM_CUSTOMER_BLOB_SUFFIX,
                               base_url, o->account, o->container, op->blob_id) == 0
                   ? MDF_OK
                   : MDF_ERR;
    char st[SIM_ISO_S_STRSZ], se[SIM_ISO_S_STRSZ];
    if (sim_format_iso_s(op->sas_start_ms, st) != 0 || sim_format_iso_s(op->sas_expiry_ms, se) != 0)
        return MDF_ERR;
    int rc = mdf_buf_appendf(
        out, "%s/" SIM_SEG_SAS_CONTAINER "/%s" SIM_SAS_BLOB_SUFFIX "?se=", base_url, op->blob_id);
    rc |= mdf_pct_encode(out, se);
    rc |= mdf_buf_appendf(out, "&sig=");
    rc |= mdf_pct_encode(out, op->sig);
    rc |= mdf_buf_appendf(out, "&sp=r&spr=https&sr=b&st=");
    rc |= mdf_pct_encode(out, st);
    rc |= mdf_buf_appendf(out, "&sv=" SIM_SAS_VERSION);
    return rc == 0 ? MDF_OK : MDF_ERR;
}

/* The text the command printed, as the Azure CLI shows it. The lines of a
 * run that did not produce a result are modelled on the successful one. */
static void output_head(const sim_state *st, const sim_op *op, const char *base_url, mdf_buf *out)
{
    const sim_node *n = &st->sc->clusters[op->cluster].nodes[op->node];
    mdf_buf_appendf(out, "====Action Command Output====\n"
                         "Executing " MDF_EXTRACT_COMMAND " command\n");
    if (op->agent_down) {
        mdf_buf_appendf(out, "MDE agent is not running, skipping data extract\n");
        return;
    }
    mdf_buf_appendf(out,
                    "MDE agent is running, proceeding with data extract\n"
                    "Getting MDE agent information for %s\n",
                    n->name);
    if (op->timed_out) {
        mdf_buf_appendf(out, "Command exceeded the time limit of %lld seconds\n",
                        (long long)op->limit_s);
        return;
    }
    if (op->exit_code != 0) {
        mdf_buf_appendf(out, "Command failed with exit code %d\n", op->exit_code);
        return;
    }
    mdf_buf_appendf(out, "Writing to /hostfs/tmp/runcommand\n\n================================\n"
                         "Script execution result can be found in storage account:\n ");
    sim_result_url(st, op, base_url, out);
    mdf_buf_appendc(out, '\n');
}

void sim_json_op(mdf_jsonw *w, const sim_state *st, const sim_op *op, const char *base_url,
                 int64_t real_ms)
{
    char path[MDF_RID_MAX], rid[MDF_RID_MAX];
    sim_opst s = sim_op_status(op, real_ms);
    sim_op_path(st, op, path);
    if (op->kind == SIM_OP_EXTRACT)
        sim_bmm_id(st, op->cluster, op->node, rid);
    else
        sim_cluster_id(st, op->cluster, rid);
    int64_t pct = 100;
    if (s == SIM_OPST_RUNNING) {
        int64_t span = op->real_end_ms - op->real_start_ms;
        pct = span > 0 ? (real_ms - op->real_start_ms) * 100 / span : 0;
        pct = pct < 0 ? 0 : pct > 99 ? 99 : pct;
    }
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "id", path);
    mdf_jsonw_kstr(w, "name", op->id);
    mdf_jsonw_kstr(w, "resourceId", rid);
    mdf_jsonw_kstr(w, "status",
                   s == SIM_OPST_RUNNING  ? "InProgress"
                   : s == SIM_OPST_FAILED ? "Failed"
                                          : "Succeeded");
    ktime(w, "startTime", op->sim_start_ms);
    if (s != SIM_OPST_RUNNING)
        ktime(w, "endTime", op->sim_end_ms);
    mdf_jsonw_kint(w, "percentComplete", pct);
    if (s == SIM_OPST_FAILED) {
        mdf_jsonw_key(w, "error");
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "code", op->error_code);
        mdf_jsonw_kstr(w, "message", op->error_message);
        mdf_jsonw_obj_end(w);
    }
    if (s == SIM_OPST_SUCCEEDED && op->kind == SIM_OP_EXTRACT) {
        char code[12];
        mdf_buf text;
        mdf_buf_init(&text, 16384);
        snprintf(code, sizeof code, "%d", op->exit_code);
        mdf_jsonw_key(w, "properties");
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "exitCode", code);
        output_head(st, op, base_url, &text);
        mdf_jsonw_kstr(w, "outputHead", text.data ? text.data : "");
        if (op->has_result) {
            mdf_buf_reset(&text);
            sim_result_url(st, op, base_url, &text);
            mdf_jsonw_kstr(w, "resultUrl", text.data ? text.data : "");
        }
        mdf_jsonw_obj_end(w);
        mdf_buf_free(&text);
    }
    mdf_jsonw_obj_end(w);
}
