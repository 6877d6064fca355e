/*
 * Which process runs a test, for the test binaries of test/: the sandbox's
 * parent is the worker (or, serially, Criterion's runner); in fork isolation
 * it is the worker's zygote, whose parent is the worker.
 */
#ifndef CRMP_TEST_WORKER_OF_H_
#define CRMP_TEST_WORKER_OF_H_

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The parent of pid, from /proc; 0 when unknown. */
static inline pid_t t_parent_of(pid_t pid, char *comm, size_t len)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
    FILE *f = fopen(path, "re");
    long ppid = 0;
    *comm = '\0';
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "Name:\t", 6))
            snprintf(comm, len, "%.*s", (int) strcspn(line + 6, "\n"), line + 6);
        if (sscanf(line, "PPid: %ld", &ppid) == 1)
            break;
    }
    if (f)
        fclose(f);
    return (pid_t) ppid;
}

/* The worker running this test process. */
static inline pid_t t_worker_pid(void)
{
    char comm[64];
    pid_t parent = getppid();
    pid_t grandparent = t_parent_of(parent, comm, sizeof(comm));
    return !strcmp(comm, "crmp-zygote") && grandparent > 1 ? grandparent : parent;
}

#endif /* !CRMP_TEST_WORKER_OF_H_ */
