/* mdefleet-sim: a local stand-in for the Azure endpoints mdefleet talks to
 * (Entra ID tokens, IMDS, Resource Manager for Microsoft.NetworkCloud, blob
 * storage), driven by a scenario file. See sim/README.md. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "scenario.h"
#include "server.h"
#include "state.h"
#include "strconv.h"

static int usage(FILE *out)
{
    fprintf(out, "usage: mdefleet-sim --scenario FILE [--port N] [--bind ADDR]\n"
                 "  --scenario FILE  the simulated Azure (JSON, see sim/README.md)\n"
                 "  --port N         TCP port, 0 (default) for any free one\n"
                 "  --bind ADDR      address to listen on (default 127.0.0.1)\n"
                 "Prints its base URL on one line when it listens; runs until SIGTERM/SIGINT.\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *scenario_path = NULL, *bind_addr = "127.0.0.1";
    int64_t port = 0;
    char err[MDF_ERRSZ];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v || (strcmp(a, "--scenario") && strcmp(a, "--port") && strcmp(a, "--bind"))) {
            fprintf(stderr, "mdefleet-sim: %s: %s\n", a, v ? "unknown option" : "needs a value");
            return usage(stderr);
        }
        i++;
        if (strcmp(a, "--scenario") == 0)
            scenario_path = v;
        else if (strcmp(a, "--bind") == 0)
            bind_addr = v;
        else if (mdf_parse_int64(v, strlen(v), &port) != 0 || port < 0 || port > 65535) {
            fprintf(stderr, "mdefleet-sim: --port %s: not a port number 0..65535\n", v);
            return usage(stderr);
        }
    }
    if (!scenario_path) {
        fprintf(stderr, "mdefleet-sim: --scenario is required\n");
        return usage(stderr);
    }

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
