#include "simproc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int simproc_start(simproc *p, char *const argv[], int timeout_ms)
{
    /* stdout goes to a file, not a pipe: the child can print as much as it
     * likes without blocking or dying of SIGPIPE */
    char path[] = "/tmp/mdf-simproc-XXXXXX";
    memset(p, 0, sizeof *p);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
        execv(argv[0], argv);
        _exit(127);
    }
    p->pid = pid;
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        ssize_t n = pread(fd, p->line, sizeof p->line - 1, 0);
        if (n > 0) {
            p->line[n] = '\0';
            char *nl = strchr(p->line, '\n');
            if (nl) {
                *nl = '\0';
                close(fd);
                return 0;
            }
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            p->pid = 0;
            break;
        }
        usleep(5000);
    }
    close(fd);
    fprintf(stderr, "simproc: %s printed no address within %d ms\n", argv[0], timeout_ms);
    simproc_stop(p, 2000);
    return -1;
}

int simproc_stop(simproc *p, int timeout_ms)
{
    int status;
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (r < 0 && errno != EINTR)
            break;
        if (now_ms() >= deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    p->pid = 0;
    return -1;
}
