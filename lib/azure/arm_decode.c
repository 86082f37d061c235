#include "arm_decode.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "names.h"

/* Copies a string member ("" when absent or not a string). */
static void str_at(const mdf_jval *obj, const char *key, char *dst, size_t dstsz)
{
    const mdf_jval *v = mdf_jget(obj, key);
    size_t n = 0;
    if (v && v->type == MDF_J_STRING) {
        n = v->len < dstsz ? v->len : dstsz - 1;
        memcpy(dst, v->s, n);
    }
    dst[n] = '\0';
}

bool mdf_arm_status_terminal(const char *status)
{
    return strcasecmp(status, "Succeeded") == 0 || strcasecmp(status, "Failed") == 0 ||
           strcasecmp(status, "Canceled") == 0 || strcasecmp(status, "Cancelled") == 0;
}

bool mdf_arm_status_succeeded(const char *status)
{
    return strcasecmp(status, "Succeeded") == 0;
}

static int need_object(const mdf_jval *v, const char *what, char *err, size_t errsz)
{
    if (!v || v->type != MDF_J_OBJECT)
        return mdf_seterr(err, errsz, "%s: expected an object, got %s", what, mdf_jtype_name(v));
    return MDF_OK;
}

/* One containerUrl + associatedIdentity; false when it has no containerUrl. */
static bool decode_target(const mdf_jval *v, mdf_output_settings *out)
{
    const mdf_jval *u = mdf_jget(v, "containerUrl");
    if (!u || u->type != MDF_J_STRING || u->len == 0 || u->len >= sizeof out->container_url)
        return false;
    str_at(v, "containerUrl", out->container_url, sizeof out->container_url);
    const mdf_jval *id = mdf_jget(v, "associatedIdentity");
    str_at(id, "identityType", out->identity_type, sizeof out->identity_type);
    str_at(id, "userAssignedIdentityResourceId", out->identity_id, sizeof out->identity_id);
    return true;
}

static void decode_output(const mdf_jval *v, mdf_output_settings *out)
{
    if (!v || v->type != MDF_J_OBJECT)
        return;
    out->set = decode_target(v, out);
    const mdf_jval *ov = mdf_jget(v, "overrides");
    for (uint32_t i = 0; ov && ov->type == MDF_J_ARRAY && i < ov->len; i++) {
        const mdf_jval *o = &ov->u.items[i];
        char type[64];
        str_at(o, "commandOutputType", type, sizeof type);
        mdf_output_settings t;
        memset(&t, 0, sizeof t);
        if (strcasecmp(type, MDF_OUTPUT_TYPE_DATA_EXTRACTS) == 0 && decode_target(o, &t)) {
            t.set = t.overridden = true;
            *out = t;
        }
    }
}

int mdf_arm_decode_cluster(const mdf_jval *v, mdf_cluster *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (need_object(v, "cluster", err, errsz) != MDF_OK)
        return MDF_ERR;
    str_at(v, "id", out->id, sizeof out->id);
    str_at(v, "name", out->name, sizeof out->name);
    str_at(v, "location", out->location, sizeof out->location);
    const mdf_jval *p = mdf_jget(v, "properties");
    if (need_object(p, "cluster.properties", err, errsz) != MDF_OK)
        return MDF_ERR;
    str_at(mdf_jget(p, "runtimeProtectionConfiguration"), "enforcementLevel",
           out->enforcement_level, sizeof out->enforcement_level);
    str_at(mdf_jget(p, "managedResourceGroupConfiguration"), "name", out->managed_resource_group,
           sizeof out->managed_resource_group);
    str_at(p, "provisioningState", out->provisioning_state, sizeof out->provisioning_state);
    str_at(p, "detailedStatus", out->detailed_status, sizeof out->detailed_status);
    const mdf_jval *acts = mdf_jget(p, "actionStates");
    if (acts && acts->type == MDF_J_ARRAY) {
        for (uint32_t i = 0; i < acts->len && out->n_actions < MDF_ARM_MAX_ACTIONS; i++) {
            const mdf_jval *a = &acts->u.items[i];
            mdf_action_state *s = &out->actions[out->n_actions];
            if (a->type != MDF_J_OBJECT)
                continue;
            str_at(a, "actionType", s->action_type, sizeof s->action_type);
            str_at(a, "status", s->status, sizeof s->status);
            str_at(a, "startTime", s->start_time, sizeof s->start_time);
            str_at(a, "endTime", s->end_time, sizeof s->end_time);
            str_at(a, "message", s->message, sizeof s->message);
            str_at(a, "correlationId", s->correlation_id, sizeof s->correlation_id);
            out->n_actions++;
        }
    }
    decode_output(mdf_jget(p, "commandOutputSettings"), &out->output);
    if (!out->id[0] || !out->name[0])
        return mdf_seterr(err, errsz, "cluster: no id or name");
    return MDF_OK;
}

const mdf_action_state *mdf_cluster_action(const mdf_cluster *c, const char *action_type)
{
    const mdf_action_state *found = NULL;
    for (size_t i = 0; i < c->n_actions; i++) {
        const mdf_action_state *a = &c->actions[i];
        /* the most recent, when the cluster lists several */
        if (strcasecmp(a->action_type, action_type) == 0 &&
            (!found || strcmp(a->start_time, found->start_time) > 0))
            found = a;
    }
    return found;
}

int mdf_arm_decode_bmm(const mdf_jval *v, mdf_bmm *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (need_object(v, "bareMetalMachine", err, errsz) != MDF_OK)
        return MDF_ERR;
    str_at(v, "id", out->id, sizeof out->id);
    str_at(v, "name", out->name, sizeof out->name);
    const mdf_jval *p = mdf_jget(v, "properties");
    if (need_object(p, "bareMetalMachine.properties", err, errsz) != MDF_OK)
        return MDF_ERR;
    str_at(p, "machineName", out->machine_name, sizeof out->machine_name);
    str_at(p, "rackId", out->rack_id, sizeof out->rack_id);
    str_at(p, "powerState", out->power_state, sizeof out->power_state);
    str_at(p, "readyState", out->ready_state, sizeof out->ready_state);
    str_at(p, "detailedStatus", out->detailed_status, sizeof out->detailed_status);
    str_at(p, "cordonStatus", out->cordon_status, sizeof out->cordon_status);
    str_at(p, "provisioningState", out->provisioning_state, sizeof out->provisioning_state);
    if (!mdf_valid_bmm_name(out->name))
        return mdf_seterr(err, errsz, "bareMetalMachine: missing or invalid name");
    return MDF_OK;
}

int mdf_arm_decode_bmm_page(const mdf_jval *v, int (*add)(void *arg, const mdf_bmm *b), void *arg,
                            char *next_link, size_t next_sz, char *err, size_t errsz)
{
    if (need_object(v, "bareMetalMachines page", err, errsz) != MDF_OK)
        return MDF_ERR;
    const mdf_jval *items = mdf_jget(v, "value");
    if (!items || items->type != MDF_J_ARRAY)
        return mdf_seterr(err, errsz, "bareMetalMachines page: no value array");
    for (uint32_t i = 0; i < items->len; i++) {
        mdf_bmm b;
        if (mdf_arm_decode_bmm(&items->u.items[i], &b, err, errsz) != MDF_OK)
            return MDF_ERR;
        if (add(arg, &b) != MDF_OK)
            return mdf_seterr(err, errsz, "too many bare-metal machines");
    }
    const mdf_jval *nl = mdf_jget(v, "nextLink");
    if (nl && nl->type == MDF_J_STRING && nl->len >= next_sz)
        return mdf_seterr(err, errsz, "nextLink longer than %zu bytes", next_sz - 1);
    str_at(v, "nextLink", next_link, next_sz);
    return MDF_OK;
}

int mdf_arm_decode_opstatus(const mdf_jval *v, mdf_opstatus *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (need_object(v, "operation status", err, errsz) != MDF_OK)
        return MDF_ERR;
    str_at(v, "status", out->status, sizeof out->status);
    str_at(v, "startTime", out->start_time, sizeof out->start_time);
    str_at(v, "endTime", out->end_time, sizeof out->end_time);
    const mdf_jval *e = mdf_jget(v, "error");
    str_at(e, "code", out->error_code, sizeof out->error_code);
    str_at(e, "message", out->error_message, sizeof out->error_message);
    /* exitCode, outputHead, resultUrl are under properties on the wire */
    const mdf_jval *p = mdf_jget(v, "properties");
    const mdf_jval *x = mdf_jget(p, "exitCode");
    if (x && (x->type == MDF_J_STRING || x->type == MDF_J_INT)) {
        size_t n = x->len < sizeof out->exit_code ? x->len : sizeof out->exit_code - 1;
        memcpy(out->exit_code, x->s, n);
        out->exit_code[n] = '\0';
        out->has_exit_code = true;
    }
    /* outputHead repeats the resultUrl, SAS and all: keep it out of logs */
    str_at(p, "outputHead", out->output_head, sizeof out->output_head);
    mdf_text_redact_urls(out->output_head, sizeof out->output_head);
    const mdf_jval *u = mdf_jget(p, "resultUrl");
    if (u && u->type == MDF_J_STRING && u->len >= sizeof out->result_url)
        return mdf_seterr(err, errsz, "resultUrl longer than %d bytes", MDF_URL_MAX - 1);
    str_at(p, "resultUrl", out->result_url, sizeof out->result_url);
    if (!out->result_url[0]) {
        /* what it holds is not documented; it is used the same way */
        const mdf_jval *ref = mdf_jget(p, "resultRef");
        if (ref && ref->type == MDF_J_STRING && ref->len >= sizeof out->result_url)
            return mdf_seterr(err, errsz, "resultRef longer than %d bytes", MDF_URL_MAX - 1);
        str_at(p, "resultRef", out->result_url, sizeof out->result_url);
        out->result_from_ref = out->result_url[0] != '\0';
    }
    if (!out->status[0])
        return mdf_seterr(err, errsz, "operation status: no status");
    return MDF_OK;
}

void mdf_arm_decode_error(const mdf_jval *v, char *code, size_t codesz, char *msg, size_t msgsz)
{
    const mdf_jval *e = mdf_jget(v, "error");
    code[0] = msg[0] = '\0';
    if (e && e->type == MDF_J_OBJECT) {
        str_at(e, "code", code, codesz);
        str_at(e, "message", msg, msgsz);
    } else if (e && e->type == MDF_J_STRING) {
        str_at(v, "error", code, codesz);
        str_at(v, "error_description", msg, msgsz);
    }
}
