/* Test helper: runs a server binary (mdefleet-sim, later the broker) as a
 * child process bound to 127.0.0.1 on a free port, reads the first line it
 * prints (its address) with a timeout, and stops it by its PID. */
#ifndef MDF_TEST_SIMPROC_H
#define MDF_TEST_SIMPROC_H

#include <sys/types.h>

typedef struct simproc {
    pid_t pid;
    char line[512]; /* the first line the child printed, without the newline */
} simproc;

/* argv[0] is the program path. Returns 0, or -1 (and a message on stderr)
 * when it did not start or print a line within timeout_ms. */
int simproc_start(simproc *p, char *const argv[], int timeout_ms);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status
 * (or -1 when it had to be killed). */
int simproc_stop(simproc *p, int timeout_ms);

#endif
