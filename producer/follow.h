/* mdefleet-producer --wait: follows the job status topic for the jobs just
 * published until each has ended, and shows their progress. */
#ifndef MDF_PRODUCER_FOLLOW_H
#define MDF_PRODUCER_FOLLOW_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avro_codec.h"
#include "config.h"

/* Exit statuses of a wait (main's usage error is 2). */
#define FOLLOW_OK 0
#define FOLLOW_FAILED 1 /* a job failed or timed out, or the wait did */
#define FOLLOW_PARTLY 3 /* some job partly succeeded, none failed */
#define FOLLOW_INTERRUPTED 130

typedef struct follow follow;

/* A consumer, without a consumer group, on every partition of the
 * job.status topic at its current end: created before anything is
 * published so that no status of ours can be missed. Up to max_jobs jobs
 * can be added. */
int follow_new(follow **out, const mdf_config *c, size_t max_jobs, char *err, size_t errsz);
void follow_free(follow *f);

/* A job to wait for: a scan (ends with Terminal) or an enforcement change
 * (ends with EnforcementResult). */
int follow_add_job(follow *f, const char *job_id, bool scan, char *err, size_t errsz);

/* Reads statuses until every job ended, timeout_ms passed or *stop was set
 * (SIGINT). Progress goes to stdout: a redrawn line on a terminal (tty),
 * plain lines otherwise. Returns one of the FOLLOW_* exit statuses. */
int follow_run(follow *f, mdf_codec *codec, int64_t timeout_ms, bool tty,
               volatile sig_atomic_t *stop);

#endif
