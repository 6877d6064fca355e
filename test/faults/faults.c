#define _GNU_SOURCE
/*
 * Tests that misbehave on request, for the fault-injection tests
 * (run_faults.py).  Each one passes quietly unless its variable is set, so
 * the binary is also an ordinary passing suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "criterion-mproc.h"
#include "../worker_of.h"

/*
 * FAULT_DELETE_SELF=PATH: a binary that deletes itself (a copy at PATH, never
 * the build's) as it starts, so that no worker can be started from it.
 */
__attribute__((constructor)) static void delete_self(void)
{
    const char *path = getenv("FAULT_DELETE_SELF");
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (!path || len <= 0)
        return;
    exe[len] = '\0';
    if (!strcmp(exe, path))
        unlink(path);
}

/* Creates $FAULT_DIR/<name>; 1 the first time in the whole run, 0 after. */
static int first_time(const char *name)
{
    const char *dir = getenv("FAULT_DIR");
    if (!dir)
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* Takes the worker running this test down (see ../worker_of.h). */
static void kill_worker(void)
{
    kill(t_worker_pid(), SIGKILL);
    pause();
}

/* In fork isolation: the zygote (the test process's parent) dies under the test. */
Test(faults, kills_its_parent_once)
{
    if (getenv("FAULT_KILL_PARENT_ONCE") && first_time("kill_parent_once")) {
        kill(getppid(), SIGKILL);
        pause();
    }
    /* FAULT_STOP_PARENT: the zygote (fork isolation) or the worker (exec) stopped for good. */
    if (getenv("FAULT_STOP_PARENT")) {
        kill(getppid(), SIGSTOP);
        pause();
    }
    cr_assert(1);
}

Test(faults, kills_its_worker_once)
{
    if (getenv("FAULT_KILL_ONCE") && first_time("kill_once"))
        kill_worker();
    /* FAULT_TERM_ONCE: a SIGTERM, as a person or a supervisor would send, not a loss. */
    if (getenv("FAULT_TERM_ONCE") && first_time("term_once")) {
        kill(t_worker_pid(), SIGTERM);
        pause();
    }
    cr_assert(1);
}

Test(faults, kills_its_worker_always)
{
    if (getenv("FAULT_KILL_ALWAYS"))
        kill_worker();
    cr_assert(1);
}

Test(faults, hangs_without_a_declared_timeout)
{
    /* FAULT_SLEEP_MS: a long test, not a hang (longer than --mproc-heartbeat). */
    const char *sleep_ms = getenv("FAULT_SLEEP_MS");
    if (sleep_ms)
        usleep((useconds_t) strtoul(sleep_ms, NULL, 10) * 1000u);
    if (getenv("FAULT_HANG")) {
        first_time("hang.ready");   /* what the driver waits for before it strikes */
        for (;;)
            pause();
    }
    cr_assert(1);
}

/* A timed-out test's own children must not outlive it (its process group). */
Test(faults, forks_a_child_then_hangs)
{
    const char *dir = getenv("FAULT_DIR");
    if (!getenv("FAULT_FORK_HANG") || !dir)
        return;
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/child.pid", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%ld\n", (long) child);
    fclose(f);
    for (;;)
        pause();
}

/* Runs after the one above in a single worker: its child is gone by now. */
Test(faults, zz_the_forked_child_is_gone)
{
    const char *dir = getenv("FAULT_DIR");
    if (!getenv("FAULT_FORK_HANG") || !dir)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/child.pid", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "the forking test did not run first");
    long pid = 0;
    cr_assert_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    for (int i = 0; i < 300 && !kill((pid_t) pid, 0); ++i)
        usleep(10000);
    cr_assert_neq(kill((pid_t) pid, 0), 0, "process %ld of a timed-out test still exists", pid);
}

Test(faults, fails_when_asked)
{
    cr_expect(!getenv("FAULT_FAIL"), "asked to fail");
}

/* Records which worker ran it: groups must stay in one worker. */
static void record_worker(const char *test)
{
    const char *dir = getenv("FAULT_DIR");
    if (!dir)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/group.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return;
    char line[128];
    int n = snprintf(line, sizeof(line), "%s %ld\n", test, (long) getppid());
    if (n > 0 && write(fd, line, (size_t) n) < 0)
        perror("group.log");
    close(fd);
}

Test(grouped, a) { record_worker("a"); }
Test(grouped, b) { record_worker("b"); }
Test(grouped, c) { record_worker("c"); }
Test(grouped, d) { record_worker("d"); }
CRMP_SUITE_SCHEDULE(grouped, .group = "db");

/* Lists the descriptors the test inherited: none may be the plugin's. */
/*
 * The token a fault case passes starts with this: no test process may find
 * it in its environment, its arguments, its descriptors, or its ancestors'
 * environments (tests may read those).
 */
#define TOKEN_PROBE "crmp-leak-probe-"

static int holds_probe(const char *path)
{
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    return n > 0 && memmem(buf, (size_t) n, TOKEN_PROBE, strlen(TOKEN_PROBE)) != NULL;
}

Test(faults, inherits_nothing_of_the_plugin)
{
    cr_expect(!getenv("CRITERION_MPROC_TOKEN"), "the token is in the test's environment");
    cr_expect(!getenv("CRITERION_MPROC_TOKEN_FD"), "the token's descriptor is named in it");
    cr_expect(!holds_probe("/proc/self/environ"), "the token is in /proc/self/environ");
    cr_expect(!holds_probe("/proc/self/cmdline"), "the token is in the test's arguments");
    pid_t pid = getppid();
    char comm[64], path[64];
    for (int depth = 0; depth < 8 && pid > 1; ++depth) {
        snprintf(path, sizeof(path), "/proc/%ld/environ", (long) pid);
        cr_expect(!holds_probe(path), "the token is in the environment of ancestor %ld", (long) pid);
        pid = t_parent_of(pid, comm, sizeof(comm));
    }
    for (int fd = 3; fd < 1024; ++fd) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        cr_expect(!strstr(target, "criterion-mproc") && !strstr(target, "pidfd")
                && !strstr(target, ".durations"),
                "descriptor %d leaked into the test: %s", fd, target);
        struct stat st;
        if (!fstat(fd, &st) && S_ISREG(st.st_mode))
            cr_expect(!holds_probe(link), "descriptor %d (%s) holds the token", fd, target);
    }
}

/* Criterion's own -j2 loses suite timeouts: --mproc must keep them. */
TestSuite(suite_timeout, .timeout = 0.5);

Test(suite_timeout, hangs_under_a_suite_timeout)
{
    if (getenv("FAULT_SUITE_HANG"))
        for (;;)
            pause();
}

/* Raw output written slowly: two workers would interleave it line by line. */
static void slow_lines(const char *who)
{
    int lines = getenv("FAULT_OUTPUT") ? 5 : 0;
    for (int i = 0; i < lines; ++i) {
        printf("%s line %d\n", who, i);
        fprintf(stderr, "%s err %d\n", who, i);
        fflush(stdout);
        fflush(stderr);
        usleep(20000);
    }
}

Test(output, first) { slow_lines("first"); }
Test(output, second) { slow_lines("second"); }

/* A few ordinary tests so that there is something to schedule around. */
Test(plain, one) { cr_assert_eq(1 + 1, 2); }
Test(plain, two) { cr_assert_str_eq("a", "a"); }
Test(plain, three) { cr_assert_neq(1, 2); }
