/* What a data extract of `mde-agent-information` produces for one node: the
 * mde-agent-information.json document in the shapes of the real mdatp
 * outputs (see reference/mde-report.md), and the gzip'd tar that holds it
 * at hostfs/tmp/runcommand/. Pure functions of their inputs. */
#ifndef SIM_AGENTINFO_H
#define SIM_AGENTINFO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "scenario.h"

#define SIM_AGENTINFO_PATH "hostfs/tmp/runcommand/mde-agent-information.json"

/* A quick scan the simulated scanRuntime ran on the node (simulated times). */
typedef struct sim_extra_scan {
    int64_t start_ms, end_ms;
} sim_extra_scan;

/* Writes the report `r` of the node named `node` as of now_ms (simulated
 * epoch ms): r's scans plus `extra`, its threats under the scan that found
 * them, its health. Appends to out. */
int sim_agentinfo_json(const char *node, const sim_report *r, const sim_extra_scan *extra,
                       size_t n_extra, int64_t now_ms, mdf_buf *out, char *err, size_t errsz);

/* Packs json[0..len) as SIM_AGENTINFO_PATH (with its folders) into a tar.gz
 * dated mtime_ms, appended to out. bomb_mib > 0: an entry of that many MiB
 * of zeros comes first (an archive bomb: about 1 KB of gzip per MiB). */
int sim_agentinfo_archive(const char *json, size_t len, int64_t mtime_ms, int64_t bomb_mib,
                          mdf_buf *out, char *err, size_t errsz);

/* Cuts a tar.gz short, so that gzip and tar readers fail on it the way they
 * do on a damaged upload (the corrupt_archive fault). */
void sim_agentinfo_corrupt(mdf_buf *archive);

#endif
