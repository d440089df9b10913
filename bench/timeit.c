// SPDX-License-Identifier: Apache-2.0
/*
 * timeit: runs one command and prints "<wall_us> <maxrss_kib> <status>" on
 * fd 3 when it is open, else on stdout. Wall time is from just before
 * fork() to the parent's wait4() return, i.e. process start to process exit as
 * a caller sees it; peak RSS comes from the child's rusage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: timeit COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *out = fdopen(3, "w");
    fprintf(out ? out : stdout, "%lld %ld %d\n", us, ru.ru_maxrss, code);
    return 0;
}
