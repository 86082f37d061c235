/* mdefleet-worker: configuration, the roles of worker.roles, the loop
 * (loop.h). Exit 0 after a clean stop (SIGTERM, SIGINT), 2 for a usage or
 * configuration error, 1 when it cannot run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config_load.h"
#include "env.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "role.h"

#define EXIT_USAGE 2
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
    fprintf(fp, "usage: mdefleet-worker [--config FILE] [--set KEY=VALUE]... [--describe-config]\n"
                "  configuration: FILE, then MDEFLEET_* variables, then --set (see README)\n"
                "  credentials: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,\n"
                "               AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST\n");
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
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            src.file = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (src.n_sets == MAX_SETS) {
                fprintf(stderr, "mdefleet-worker: more than %d --set flags\n", MAX_SETS);
                return EXIT_USAGE;
            }
            sets[src.n_sets++] = argv[++i];
        } else if (!strcmp(argv[i], "--describe-config")) {
            mdf_config_describe(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mdefleet-worker: unknown argument %s\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }

    int rc = EXIT_USAGE;
    mdf_config *cfg = NULL;
    mdf_worker_env env;
    mdf_loop_role roles[N_ROLES];
    size_t n_roles = 0;
    memset(&env, 0, sizeof env);
    if (mdf_config_load(&cfg, &src, err, sizeof err) != MDF_OK)
        goto fail;
    mdf_log_level level = MDF_LOG_INFO;
    mdf_log_level_parse(mdf_config_get(cfg, "log.level"), &level);
    mdf_log_init("mdefleet-worker", level);

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
    fprintf(stderr, "mdefleet-worker: %s\n", err);
cleanup:
    for (size_t i = 0; i < n_roles; i++)
        roles[i].role->fini(roles[i].self);
    mdf_worker_env_fini(&env);
    mdf_config_free(cfg);
    return rc;
}
