/* mdefleet-sim: a local stand-in for the Azure endpoints mdefleet talks to
 * (Entra ID tokens, IMDS, Resource Manager for Microsoft.NetworkCloud, blob
 * storage), driven by a scenario file. See sim/README.md. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "scenario.h"
#include "server.h"
#include "state.h"
#include "strconv.h"

#define PROG "mdefleet-sim"

static void usage(FILE *out)
{
    fprintf(out, "usage: mdefleet-sim --scenario FILE [--port N] [--bind ADDR]\n"
                 "       mdefleet-sim --version | --help\n"
                 "  --scenario FILE  the simulated Azure (JSON, see sim/README.md)\n"
                 "  --port N         TCP port, 0 (default) for any free one\n"
                 "  --bind ADDR      address to listen on (default 127.0.0.1)\n"
                 "Prints its base URL on one line when it listens; runs until SIGTERM/SIGINT.\n");
}

int main(int argc, char **argv)
{
    const char *scenario_path = NULL, *bind_addr = "127.0.0.1";
    int64_t port = 0;
    char err[MDF_ERRSZ];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (mdf_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (mdf_cli_is_version(a))
            return mdf_cli_version(PROG, NULL, NULL);
        if (strcmp(a, "--scenario") && strcmp(a, "--port") && strcmp(a, "--bind"))
            return mdf_cli_unknown(PROG, a);
        if (!v)
            return mdf_cli_needs_value(PROG, a);
        i++;
        if (strcmp(a, "--scenario") == 0)
            scenario_path = v;
        else if (strcmp(a, "--bind") == 0)
            bind_addr = v;
        else if (mdf_parse_int64(v, strlen(v), &port) != 0 || port < 0 || port > 65535)
            return mdf_cli_usage_error(PROG, "--port %s: not a port number 0..65535", v);
    }
    if (!scenario_path)
        return mdf_cli_usage_error(PROG, "--scenario is required (see --help)");

    int rc = 1;
    sim_scenario *sc = NULL;
    sim_state *st = NULL;
    sim_server srv = {0};
    if (sim_scenario_load(scenario_path, &sc, err, sizeof err) != MDF_OK ||
        sim_state_new(sc, &st, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-sim: %s\n", err);
        goto cleanup;
    }
    /* Block the stop signals before any thread exists, so that all threads
     * inherit the mask and only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sim_server_start(&srv, st, bind_addr, (unsigned)port, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-sim: %s\n", err);
        goto cleanup;
    }
    printf("%s\n", srv.base_url);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    rc = 0;
cleanup:
    sim_server_stop(&srv);
    sim_state_free(st); /* after the server: responses still reference its blobs */
    return rc;
}
