/* mdefleet-worker: see worker.h. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "worker.h"

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

int main(int argc, char **argv)
{
    char err[MDF_ERRSZ];
    mdf_config *cfg = NULL;
    const char *file = NULL;
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            i++; /* applied after the file and the environment, below */
        } else if (!strcmp(argv[i], "--describe-config")) {
            mdf_config_describe(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mdefleet-worker: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (mdf_config_new(&cfg, err, sizeof err) != MDF_OK ||
        (file && mdf_config_load_file(cfg, file, err, sizeof err) != MDF_OK) ||
        mdf_config_load_env(cfg, environ, err, sizeof err) != MDF_OK)
        goto fail;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--set") != 0 || i + 1 >= argc)
            continue;
        char kv[4096];
        mdf_strlcpy(kv, argv[++i], sizeof kv);
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "mdefleet-worker: --set takes KEY=VALUE\n");
            mdf_config_free(cfg);
            return 2;
        }
        *eq = '\0';
        if (mdf_config_set(cfg, kv, eq + 1, "--set", err, sizeof err) != MDF_OK)
            goto fail;
    }
    if (mdf_config_check(cfg, err, sizeof err) != MDF_OK)
        goto fail;
    mdf_log_level level = MDF_LOG_INFO;
    mdf_log_level_parse(mdf_config_get(cfg, "log.level"), &level);
    mdf_log_init("mdefleet-worker", level);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (worker_run(cfg, &stop_requested, err, sizeof err) != MDF_OK)
        goto fail;
    mdf_info("stopped");
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, "mdefleet-worker: %s\n", err);
cleanup:
    mdf_config_free(cfg);
    return rc;
}
