/* mdefleet-worker: configuration, the roles of worker.roles, the loop
 * (loop.h). Exit 0 after a clean stop (SIGTERM, SIGINT), 2 for a usage or
 * configuration error, 1 when it cannot run. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "config_load.h"
#include "env.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "role.h"

#define PROG "mdefleet-worker"
#define EXIT_USAGE MDF_EXIT_USAGE
#define MAX_SETS 256 /* --set flags */

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PROG " [--config FILE] [--set KEY=VALUE]... [--describe-config]\n"
            "       " PROG " --version | --help\n"
            "  configuration: FILE (default %s when it exists), then MDEFLEET_*\n"
            "                 variables, then --set (see README)\n"
            "  credentials: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,\n"
            "               AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST\n",
            mdf_config_default_file());
}

/* Every role there is; worker.roles picks among them. */
static const mdf_role *const all_roles[] = {&mdf_role_planner, &mdf_role_executor,
                                            &mdf_role_tracker};
#define N_ROLES (sizeof all_roles / sizeof *all_roles)

int main(int argc, char **argv)
{
    char err[MDF_ERRSZ];
    const char *sets[MAX_SETS];
    mdf_config_src src = {.envp = environ, .sets = sets};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool takes_value = !strcmp(a, "--config") || !strcmp(a, "--set");
        if (takes_value && i + 1 >= argc)
            return mdf_cli_needs_value(PROG, a);
        if (!strcmp(a, "--config")) {
            src.file = argv[++i];
        } else if (!strcmp(a, "--set")) {
            if (src.n_sets == MAX_SETS)
                return mdf_cli_usage_error(PROG, "more than %d --set flags", MAX_SETS);
            sets[src.n_sets++] = argv[++i];
        } else if (!strcmp(a, "--describe-config")) {
            mdf_config_describe(stdout);
            return 0;
        } else if (mdf_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (mdf_cli_is_version(a)) {
            return mdf_cli_version(PROG, "librdkafka", rd_kafka_version_str());
        } else {
            return mdf_cli_unknown(PROG, a);
        }
    }
    src.file = mdf_config_file_choose(src.file, mdf_config_default_file());

    int rc = EXIT_USAGE;
    mdf_config *cfg = NULL;
    mdf_worker_env env;
    mdf_loop_role roles[N_ROLES];
    size_t n_roles = 0;
    memset(&env, 0, sizeof env);
    if (mdf_config_load(&cfg, &src, err, sizeof err) != MDF_OK)
        goto fail;
    mdf_config_log_setup(cfg, PROG, environ);

    rc = 1;
    if (mdf_worker_env_init(&env, cfg, err, sizeof err) != MDF_OK)
        goto fail;
    for (size_t i = 0; i < N_ROLES; i++) {
        if (!mdf_config_list_has(cfg, "worker.roles", all_roles[i]->name))
            continue;
        roles[n_roles].role = all_roles[i];
        if (all_roles[i]->init(&env.role, &roles[n_roles].self, err, sizeof err) != MDF_OK)
            goto fail;
        n_roles++;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (mdf_loop_run(cfg, &env, roles, n_roles, &stop_requested, err, sizeof err) != MDF_OK)
        goto fail;
    mdf_info("stopped");
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, PROG ": %s\n", err);
cleanup:
    for (size_t i = 0; i < n_roles; i++)
        roles[i].role->fini(roles[i].self);
    mdf_worker_env_fini(&env);
    mdf_config_free(cfg);
    return rc;
}
