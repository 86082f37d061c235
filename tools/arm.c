/* mdefleet-arm: one ARM call from the command line, through the same client
 * the worker uses. For operators checking access and configuration against
 * real Azure, and for trying the simulator by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "blob.h"
#include "buf.h"
#include "cli.h"
#include "err.h"
#include "extract_status.h"
#include "http_loop.h"
#include "json_writer.h"
#include "names.h"
#include "report.h"
#include "strconv.h"
#include "token.h"

#define PROG "mdefleet-arm"
#define EXIT_USAGE MDF_EXIT_USAGE
#define EXIT_NO_RESULT 3

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: mdefleet-arm [options] COMMAND ARGS...\n"
        "       mdefleet-arm --version | --help\n"
        "  get-cluster SUBSCRIPTION RESOURCE_GROUP CLUSTER\n"
        "  set-enforcement SUBSCRIPTION RESOURCE_GROUP CLUSTER LEVEL\n"
        "  scan-runtime SUBSCRIPTION RESOURCE_GROUP CLUSTER\n"
        "  list-machines SUBSCRIPTION MANAGED_RESOURCE_GROUP\n"
        "  extract SUBSCRIPTION MANAGED_RESOURCE_GROUP MACHINE   (runs mde-agent-information,\n"
        "          downloads the result and prints the parsed report)\n"
        "options:\n"
        "  --endpoint URL        ARM endpoint (default https://management.azure.com)\n"
        "  --api-version V       (default 2026-07-01)\n"
        "  --auth METHOD         client_secret (default) | workload_identity | managed_identity;\n"
        "                        credentials from AZURE_TENANT_ID, AZURE_CLIENT_ID,\n"
        "                        AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE,\n"
        "                        AZURE_AUTHORITY_HOST (and IMDS_ENDPOINT)\n"
        "  --allow-loopback-http plain http to 127.0.0.1 (the simulator)\n"
        "  --blob-hosts LIST     allowed result hosts (default *.blob.core.windows.net)\n"
        "  --blob-auth MODE      auto (default: a SAS URL with its SAS, else a storage token)\n"
        "                        | sas | entra\n"
        "  --storage-audience URL  storage tokens' audience (default https://storage.azure.com/)\n"
        "  --limit-time-seconds N  extract time limit, 60..14400 (default 600)\n"
        "  --restricted          use runDataExtractsRestricted\n"
        "exit: 0 done, 1 an Azure or download error, 2 bad usage, 3 the extract ran but\n"
        "      produced no result (agent not running, time limit, operation failed)\n");
}

typedef struct run {
    mdf_http *http;
    mdf_blob_cfg blob;
    int limit; /* of the extract, for its messages */
    int done;
    int rc;
} run;

static void print_error(const mdf_arm_error *e)
{
    fprintf(stderr, "mdefleet-arm: %s: %s\n", mdf_arm_errcode_name(e->code), e->message);
}

static void print_json(FILE *fp, void (*body)(mdf_jsonw *w, const void *p), const void *p)
{
    mdf_buf b;
    mdf_jsonw w;
    mdf_buf_init(&b, 1u << 20);
    mdf_jsonw_init(&w, &b, fp);
    body(&w, p);
    mdf_jsonw_finish(&w);
    fputc('\n', fp);
    mdf_buf_free(&b);
}

static void cluster_json(mdf_jsonw *w, const void *p)
{
    const mdf_cluster *c = p;
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "id", c->id);
    mdf_jsonw_kstr(w, "location", c->location);
    mdf_jsonw_kstr(w, "enforcement_level", c->enforcement_level[0] ? c->enforcement_level : NULL);
    mdf_jsonw_kstr(w, "managed_resource_group", c->managed_resource_group);
    mdf_jsonw_kstr(w, "provisioning_state", c->provisioning_state);
    mdf_jsonw_kstr(w, "detailed_status", c->detailed_status);
    mdf_jsonw_key(w, "action_states");
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < c->n_actions; i++) {
        const mdf_action_state *a = &c->actions[i];
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "action_type", a->action_type);
        mdf_jsonw_kstr(w, "status", a->status);
        mdf_jsonw_kstr(w, "start_time", a->start_time);
        mdf_jsonw_kstr(w, "end_time", a->end_time);
        mdf_jsonw_kstr(w, "message", a->message);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
    const mdf_output_settings *o = &c->output;
    char shown[MDF_URL_MAX];
    mdf_jsonw_key(w, "command_output");
    if (o->set) {
        mdf_url_redact(o->container_url, shown, sizeof shown);
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "mode", "customer storage");
        mdf_jsonw_kstr(w, "container_url", shown);
        mdf_jsonw_kbool(w, "data_extracts_override", o->overridden);
        mdf_jsonw_kstr(w, "identity_type", o->identity_type[0] ? o->identity_type : NULL);
        mdf_jsonw_kstr(w, "identity", o->identity_id[0] ? o->identity_id : NULL);
        mdf_jsonw_obj_end(w);
    } else {
        mdf_jsonw_null(w); /* the deprecated Cluster Manager storage */
    }
    mdf_jsonw_obj_end(w);
}

static void on_cluster(void *arg, const mdf_arm_error *e, const mdf_cluster *c)
{
    run *r = arg;
    r->done = 1;
    if (e->code != MDF_ARM_OK) {
        print_error(e);
        r->rc = 1;
        return;
    }
    print_json(stdout, cluster_json, c);
}

struct machines {
    const mdf_bmm *v;
    size_t n;
};

static void machines_json(mdf_jsonw *w, const void *p)
{
    const struct machines *m = p;
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < m->n; i++) {
        const mdf_bmm *b = &m->v[i];
        mdf_jsonw_obj_begin(w);
        mdf_jsonw_kstr(w, "name", b->name);
        mdf_jsonw_kstr(w, "machine_name", b->machine_name);
        mdf_jsonw_kstr(w, "rack_id", b->rack_id);
        mdf_jsonw_kstr(w, "power_state", b->power_state);
        mdf_jsonw_kstr(w, "ready_state", b->ready_state);
        mdf_jsonw_kstr(w, "detailed_status", b->detailed_status);
        mdf_jsonw_kstr(w, "cordon_status", b->cordon_status);
        mdf_jsonw_obj_end(w);
    }
    mdf_jsonw_arr_end(w);
}

static void on_machines(void *arg, const mdf_arm_error *e, const mdf_bmm *b, size_t n)
{
    run *r = arg;
    r->done = 1;
    if (e->code != MDF_ARM_OK) {
        print_error(e);
        r->rc = 1;
        return;
    }
    struct machines m = {b, n};
    print_json(stdout, machines_json, &m);
}

static void opstatus_json(mdf_jsonw *w, const void *p)
{
    const mdf_opstatus *st = p;
    char shown[MDF_URL_MAX];
    mdf_url_redact(st->result_url, shown, sizeof shown);
    mdf_jsonw_obj_begin(w);
    mdf_jsonw_kstr(w, "status", st->status);
    mdf_jsonw_kstr(w, "exit_code", st->has_exit_code ? st->exit_code : NULL);
    mdf_jsonw_kstr(w, "output_head", st->output_head[0] ? st->output_head : NULL);
    mdf_jsonw_kstr(w, "result_url", st->result_url[0] ? shown : NULL);
    mdf_jsonw_kstr(w, "error_code", st->error_code[0] ? st->error_code : NULL);
    mdf_jsonw_kstr(w, "error_message", st->error_message[0] ? st->error_message : NULL);
    mdf_jsonw_obj_end(w);
}

static void report_json(mdf_jsonw *w, const void *p)
{
    mdf_report_write_json(p, w);
}

static void on_report(void *arg, mdf_blob_result *b)
{
    run *r = arg;
    char err[MDF_ERRSZ];
    mdf_report *rep = NULL;
    r->done = 1;
    if (b->code != MDF_BLOB_OK) {
        fprintf(stderr, "mdefleet-arm: download %s: %s\n", mdf_blob_errcode_name(b->code),
                b->message);
        r->rc = 1;
        return;
    }
    if (mdf_report_parse_mem(b->data->data, b->data->len, NULL, &rep, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-arm: report: %s\n", err);
        r->rc = 1;
        return;
    }
    print_json(stdout, report_json, rep);
    mdf_report_free(rep);
}

static void on_op(void *arg, const mdf_arm_error *e, const mdf_opstatus *st)
{
    run *r = arg;
    char err[MDF_ERRSZ];
    /* extract: the status is a side note on stderr, the report goes to stdout */
    if (st)
        print_json(r->blob.n_allowed ? stderr : stdout, opstatus_json, st);
    if (!r->blob.n_allowed) { /* scan-runtime */
        if (e->code != MDF_ARM_OK)
            print_error(e);
        r->done = 1;
        r->rc = e->code == MDF_ARM_OK ? 0 : 1;
        return;
    }
    char reason[1200];
    const char *failure = mdf_extract_failure(e, st, r->limit, reason, sizeof reason);
    if (failure) {
        fprintf(stderr, "mdefleet-arm: extract: %s: %s\n", failure, reason);
        r->done = 1;
        /* Azure refused or failed the call: 1; the extract ran without a result: 3 */
        r->rc = e->code == MDF_ARM_OK || e->code == MDF_ARM_E_OPERATION_FAILED ? EXIT_NO_RESULT : 1;
        return;
    }
    /* extract: fetch and parse the result */
    if (mdf_blob_get(r->http, &r->blob, st->result_url, on_report, r, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-arm: %s\n", err);
        r->done = 1;
        r->rc = 1;
    }
}

int main(int argc, char **argv)
{
    mdf_arm_cfg cfg;
    mdf_auth_cfg acfg;
    mdf_auth_method method = MDF_AUTH_CLIENT_SECRET;
    const char *blob_hosts = NULL;
    bool restricted = false;
    int limit = 600, rc = 1;
    char err[MDF_ERRSZ];
    run r = {0};
    mdf_auth *auth = NULL, *storage_auth = NULL;
    mdf_arm *arm = NULL;
    const char *storage_audience = MDF_AUDIENCE_STORAGE;
    mdf_arm_cfg_default(&cfg);
    mdf_blob_cfg_default(&r.blob);

    int i = 1;
    static const char *const with_value[] = {
        "--endpoint",         "--api-version",       "--auth", "--blob-hosts", "--blob-auth",
        "--storage-audience", "--limit-time-seconds"};
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool known_value = false;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            known_value = known_value || !strcmp(o, with_value[k]);
        if (mdf_cli_is_help(o)) {
            usage(stdout);
            return 0;
        } else if (mdf_cli_is_version(o)) {
            return mdf_cli_version(PROG, NULL, NULL);
        } else if (!strcmp(o, "--allow-loopback-http")) {
            cfg.http = MDF_HTTP_LOOPBACK;
            r.blob.http = MDF_HTTP_LOOPBACK;
        } else if (!strcmp(o, "--restricted")) {
            restricted = true;
        } else if (!known_value) {
            return mdf_cli_unknown(PROG, o);
        } else if (!v) {
            return mdf_cli_needs_value(PROG, o);
        } else if (!strcmp(o, "--endpoint")) {
            mdf_strlcpy(cfg.endpoint, v, sizeof cfg.endpoint);
            i++;
        } else if (!strcmp(o, "--api-version")) {
            mdf_strlcpy(cfg.api_version, v, sizeof cfg.api_version);
            i++;
        } else if (!strcmp(o, "--auth")) {
            if (mdf_auth_method_parse(v, &method) != MDF_OK) {
                fprintf(stderr, "mdefleet-arm: unknown auth method %s\n", v);
                return EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(o, "--blob-hosts")) {
            blob_hosts = v;
            i++;
        } else if (!strcmp(o, "--blob-auth")) {
            if (mdf_blob_auth_parse(v, &r.blob.auth) != MDF_OK) {
                fprintf(stderr, "mdefleet-arm: --blob-auth takes auto, sas or entra\n");
                return EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(o, "--storage-audience")) {
            storage_audience = v;
            i++;
        } else if (!strcmp(o, "--limit-time-seconds")) {
            int64_t n;
            if (mdf_parse_int64(v, strlen(v), &n) != 0 || n < MDF_EXTRACT_LIMIT_MIN ||
                n > MDF_EXTRACT_LIMIT_MAX) {
                fprintf(stderr, "mdefleet-arm: --limit-time-seconds takes %d..%d\n",
                        MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX);
                return EXIT_USAGE;
            }
            limit = (int)n;
            i++;
        }
    }
    const char *cmd = i < argc ? argv[i] : NULL;
    char **args = argv + i + 1;
    int nargs = argc - i - 1;
    static const struct {
        const char *name;
        int nargs;
    } cmds[] = {{"get-cluster", 3},
                {"set-enforcement", 4},
                {"scan-runtime", 3},
                {"list-machines", 2},
                {"extract", 3}};
    size_t c = 0;
    for (; cmd && c < sizeof cmds / sizeof *cmds; c++) {
        if (!strcmp(cmd, cmds[c].name))
            break;
    }
    if (!cmd)
        return mdf_cli_usage_error(PROG, "no COMMAND (see --help)");
    if (c == sizeof cmds / sizeof *cmds)
        return mdf_cli_usage_error(PROG, "unknown command %.60s (see --help)", cmd);
    if (nargs != cmds[c].nargs)
        return mdf_cli_usage_error(PROG, "%s takes %d arguments (see --help)", cmd, cmds[c].nargs);
    if (blob_hosts && mdf_blob_cfg_set_hosts(&r.blob, blob_hosts, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-arm: %s\n", err);
        return EXIT_USAGE;
    }
    if (c != 4)
        r.blob.n_allowed = 0; /* only extract downloads */
    if (mdf_auth_cfg_init(&acfg, method, err, sizeof err) != MDF_OK ||
        mdf_http_new(&r.http, err, sizeof err) != MDF_OK)
        goto fail;
    acfg.http = cfg.http;
    if (mdf_auth_new(&auth, r.http, &acfg, err, sizeof err) != MDF_OK ||
        mdf_arm_new(&arm, r.http, auth, &cfg, err, sizeof err) != MDF_OK)
        goto fail;
    /* the result archive in customer storage: the same credentials, for storage */
    if (mdf_strlcpy(acfg.resource, storage_audience, sizeof acfg.resource) != 0 ||
        mdf_auth_new(&storage_auth, r.http, &acfg, err, sizeof err) != MDF_OK)
        goto fail;
    if (r.blob.auth != MDF_BLOB_AUTH_SAS)
        r.blob.tokens = storage_auth;
    r.limit = limit;
    int started;
    switch (c) {
    case 0:
        started =
            mdf_arm_get_cluster(arm, args[0], args[1], args[2], on_cluster, &r, err, sizeof err);
        break;
    case 1:
        started = mdf_arm_set_enforcement(arm, args[0], args[1], args[2], args[3], on_cluster, &r,
                                          err, sizeof err);
        break;
    case 2:
        started = mdf_arm_scan_runtime(arm, args[0], args[1], args[2], on_op, &r, err, sizeof err);
        break;
    case 3:
        started = mdf_arm_list_bmms(arm, args[0], args[1], on_machines, &r, err, sizeof err);
        break;
    default:
        started = mdf_arm_run_data_extract(arm, args[0], args[1], args[2], limit, restricted, on_op,
                                           &r, err, sizeof err);
    }
    if (started != MDF_OK) {
        fprintf(stderr, "mdefleet-arm: %s\n", err);
        rc = EXIT_USAGE;
        goto cleanup;
    }
    while (!r.done)
        mdf_http_run(r.http, 1000, NULL, 0);
    rc = r.rc;
    goto cleanup;
fail:
    fprintf(stderr, "mdefleet-arm: %s\n", err);
cleanup:
    mdf_http_destroy(r.http);
    mdf_arm_destroy(arm);
    mdf_auth_destroy(auth);
    mdf_auth_destroy(storage_auth);
    explicit_bzero(&acfg, sizeof acfg); /* it held the client secret */
    return rc;
}
