/*
 * fork_floor PROCS FORKS: the least any fork-per-test runner can cost on this
 * machine.  PROCS processes, each with Criterion's libraries mapped as a
 * zygote has them, fork FORKS/PROCS children in turn; each child exits at
 * once and is waited for.  No test, no message, no output: bench/run.sh
 * times it beside fork isolation, so that a ratio can be read against what
 * the kernel alone charges for a process.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int floor_forks(long count)
{
    for (long i = 0; i < count; ++i) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork_floor: fork");
            return 1;
        }
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
            perror("fork_floor: waitpid");
            return 1;
        }
    }
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc != 3 || atol(argv[1]) < 1 || atol(argv[2]) < 1) {
        fprintf(stderr, "usage: fork_floor PROCS FORKS\n");
        return 2;
    }
    long procs = atol(argv[1]), forks = atol(argv[2]);
    /* Criterion's libraries are mapped and relocated, as in a zygote. */
    struct criterion_test_set *set = criterion_initialize();
    pid_t *kids = calloc((size_t) procs, sizeof(*kids));
    if (!kids)
        return 1;
    int failed = 0;
    for (long p = 0; p < procs; ++p) {
        kids[p] = fork();
        if (kids[p] == 0)
            _exit(floor_forks(forks / procs + (p < forks % procs)));
        if (kids[p] < 0)
            failed = 1;
    }
    for (long p = 0; p < procs; ++p) {
        int status;
        if (kids[p] > 0 && (waitpid(kids[p], &status, 0) != kids[p] || !WIFEXITED(status)
                || WEXITSTATUS(status)))
            failed = 1;
    }
    free(kids);
    criterion_finalize(set);
    return failed;
}
