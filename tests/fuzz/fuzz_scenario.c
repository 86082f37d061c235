/* The simulator's scenario loader (sim/scenario.h, sim_scenario_parse) on
 * any text. Oracles: an error names the file; a scenario that loads has its
 * subscriptions straight, and every node's mde-agent-information.json that
 * the simulator would serve (sim/agentinfo.h), now and in the next phase,
 * is strict JSON that the report parser reads, as JSON and as the
 * extract's tar.gz. */
#include <stdlib.h>
#include <string.h>

#include "agentinfo.h"
#include "buf.h"
#include "err.h"
#include "fuzz_util.h"
#include "report.h"
#include "scenario.h"

#define NAME "fuzz.json"
#define NOW_MS 1700000000000LL /* a fixed "now": the same input, the same report */
#define REPORTS_CHECKED 16     /* per input: a scenario may have thousands of nodes */

/* The report parser takes scans with the same type and start for one. */
static size_t distinct_scans(const sim_report *rep)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n_scans; i++) {
        const sim_scan *a = &rep->scans[i];
        size_t j = 0;
        while (j < i &&
               !(rep->scans[j].start_ms == a->start_ms &&
                 strcmp(rep->scans[j].type ? rep->scans[j].type : "", a->type ? a->type : "") == 0))
            j++;
        n += j == i;
    }
    return n;
}

static void check_report(const char *node, const sim_report *rep, bool archive)
{
    char err[MDF_ERRSZ] = "";
    mdf_buf json;
    mdf_buf_init(&json, MDF_REPORT_MAX_BYTES);
    FUZZ_CHECK(sim_agentinfo_json(node, rep, NULL, 0, NOW_MS, &json, err, sizeof err) == MDF_OK);
    FUZZ_CHECK(fuzz_json_strict(json.data, json.len, false));
    mdf_report *r = NULL;
    if (mdf_report_parse_mem(json.data, json.len, NULL, &r, err, sizeof err) != MDF_OK)
        fuzz_fail(__FILE__, __LINE__, err);
    FUZZ_CHECK(r->n_scans == distinct_scans(rep));
    if (archive) {
        mdf_buf tgz;
        mdf_buf_init(&tgz, MDF_REPORT_MAX_BYTES);
        FUZZ_CHECK(sim_agentinfo_archive(json.data, json.len, NOW_MS, 0, &tgz, err, sizeof err) ==
                   MDF_OK);
        mdf_report *r2 = NULL;
        if (mdf_report_parse_mem(tgz.data, tgz.len, NULL, &r2, err, sizeof err) != MDF_OK)
            fuzz_fail(__FILE__, __LINE__, err);
        FUZZ_CHECK(r2->n_scans == r->n_scans && r2->n_threats == r->n_threats);
        mdf_report_free(r2);
        mdf_buf_free(&tgz);
    }
    mdf_report_free(r);
    mdf_buf_free(&json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MDF_ERRSZ] = "";
    sim_scenario *sc = NULL;
    if (sim_scenario_parse(NAME, (const char *)data, size, &sc, err, sizeof err) != MDF_OK) {
        FUZZ_CHECK(sc == NULL && strncmp(err, NAME ":", sizeof NAME) == 0);
        return 0;
    }
    FUZZ_CHECK(sc->n_subscriptions >= 1 && sc->n_subscriptions <= SIM_MAX_SUBSCRIPTIONS);
    FUZZ_CHECK(sim_scenario_subscription(sc, sc->subscription) == 0);
    size_t checked = 0;
    for (size_t i = 0; i < sc->n_clusters; i++) {
        const sim_cluster *c = &sc->clusters[i];
        FUZZ_CHECK(c->sub < sc->n_subscriptions);
        FUZZ_CHECK(sim_scenario_subscription(sc, c->subscription) == (int)c->sub);
        for (size_t j = 0; j < c->n_nodes && checked < REPORTS_CHECKED; j++, checked++) {
            const sim_node *n = &c->nodes[j];
            check_report(n->name, &n->report, checked == 0);
            if (n->has_next)
                check_report(n->name, &n->next_report, false);
        }
    }
    sim_scenario_free(sc);
    return 0;
}
