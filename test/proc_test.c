/*
 * Unit tests for plugin/proc.c: the children reader, the workers'
 * environment, spawning and watching, strays.  Every process started here
 * is reaped before the test ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "auth.h"
#include "options.h"
#include "proc.h"

/* A child that waits until every write end of fds is closed, then exits 0. */
static pid_t t_blocked_child(int fds[2])
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (!pid) {
        close(fds[1]);
        char c;
        while (read(fds[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    return pid;
}

/* Waits, on a pidfd, until pid has exited (not reaping it). */
static void t_wait_exit(pid_t pid)
{
    int fd = pidfd_open(pid, 0);
    cr_assert_geq(fd, 0);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 10000), 1);
    close(fd);
}

struct t_seen {
    pid_t v[64];
    size_t n;
    size_t stop_after;      /* 0: never */
};

static int t_collect(pid_t child, void *arg)
{
    struct t_seen *s = arg;
    if (s->n < 64)
        s->v[s->n++] = child;
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static int t_has(const struct t_seen *s, pid_t pid)
{
    for (size_t i = 0; i < s->n; ++i)
        if (s->v[i] == pid)
            return 1;
    return 0;
}

Test(proc, children_lists_each_child_and_stops_when_asked)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t kids[3];
    for (int i = 0; i < 3; ++i)
        kids[i] = t_blocked_child(fds);
    struct t_seen all = { .n = 0 };
    cr_expect_eq(crmpi_proc_children(getpid(), t_collect, &all), 0);
    for (int i = 0; i < 3; ++i)
        cr_expect(t_has(&all, kids[i]), "child %d (pid %ld) not listed", i, (long) kids[i]);
    struct t_seen first = { .stop_after = 1 };
    cr_expect_eq(crmpi_proc_children(getpid(), t_collect, &first), 7);
    cr_expect_eq(first.n, 1);
    close(fds[0]);
    close(fds[1]);
    for (int i = 0; i < 3; ++i)
        cr_expect_eq(waitpid(kids[i], NULL, 0), kids[i]);
}

Test(proc, children_of_no_process)
{
    struct t_seen s = { .n = 0 };
    cr_expect_eq(crmpi_proc_children(0x7ffffff0, t_collect, &s), -ENOENT);
    cr_expect_eq(s.n, 0);
}

static int t_claims(pid_t pid, void *arg)
{
    return arg && pid == *(const pid_t *) arg;
}

Test(proc, strays_reaped_or_ended)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t exited = fork();
    cr_assert_geq(exited, 0);
    if (!exited)
        _exit(0);
    pid_t blocked = t_blocked_child(fds);
    t_wait_exit(exited);

    /* Without kill: the exited one is reaped, the blocked one left alone. */
    crmpi_proc_strays(0, t_claims, NULL);
    cr_expect_eq(waitpid(exited, NULL, WNOHANG), -1, "the exited stray was not reaped");
    cr_expect_eq(waitpid(blocked, NULL, WNOHANG), 0, "a live stray was reaped");

    /* With kill, a claimed child is spared. */
    crmpi_proc_strays(1, t_claims, &blocked);
    cr_expect_eq(waitpid(blocked, NULL, WNOHANG), 0, "a claimed child was ended");

    /* With kill: ended and reaped. */
    crmpi_proc_strays(1, t_claims, NULL);
    cr_expect_eq(waitpid(blocked, NULL, WNOHANG), -1, "the live stray was not ended and reaped");
    close(fds[0]);
    close(fds[1]);
}

static const char *t_find(const struct crmpi_proc_env *e, const char *prefix)
{
    for (size_t i = 0; i < e->n; ++i)
        if (!strncmp(e->vars[i], prefix, strlen(prefix)))
            return e->vars[i];
    return NULL;
}

Test(proc, worker_env)
{
    cr_assert_eq(setenv("CRITERION_JOBS", "3", 1), 0);
    cr_assert_eq(setenv("BXFI_MAP", "x", 1), 0);
    cr_assert_eq(setenv("CRITERION_MPROC", "4", 1), 0);
    cr_assert_eq(setenv("PROC_TEST_KEEP", "1", 1), 0);
    struct crmpi_token token = { 0 };
    char err[128];
    cr_assert_eq(crmpi_token_load(NULL, "s3cret", &token, err, sizeof(err)), 0, "%s", err);
    struct crmpi_options opts = { .connect_timeout = 7, .fork_isolation = 1 };
    struct crmpi_proc_env e;
    cr_assert_eq(crmpi_proc_worker_env(&e, "ipc:///q", &token, &opts), 0);
    cr_expect_null(e.vars[e.n]);
    cr_expect_null(t_find(&e, "CRITERION_JOBS="));
    cr_expect_null(t_find(&e, "BXFI_MAP="));
    cr_expect_null(t_find(&e, "CRITERION_MPROC=4"));
    cr_expect_str_eq(t_find(&e, "PROC_TEST_KEEP="), "PROC_TEST_KEEP=1");
    cr_expect_str_eq(t_find(&e, "CRITERION_MPROC_ROLE="), "CRITERION_MPROC_ROLE=worker");
    cr_expect_str_eq(t_find(&e, "CRITERION_MPROC_URL="), "CRITERION_MPROC_URL=ipc:///q");
    /* The token travels on a descriptor, never in the environment (issue 11). */
    cr_expect_null(t_find(&e, "CRITERION_MPROC_TOKEN="));
    const char *fd_var = t_find(&e, "CRITERION_MPROC_TOKEN_FD=");
    cr_assert_not_null(fd_var);
    cr_expect_eq(atoi(strchr(fd_var, '=') + 1), e.token_fd);
    char held[16] = { 0 };
    cr_expect_eq(pread(e.token_fd, held, sizeof(held), 0), 6);
    cr_expect_str_eq(held, "s3cret");
    cr_expect_str_eq(t_find(&e, "CRITERION_MPROC_CONNECT_TIMEOUT="),
            "CRITERION_MPROC_CONNECT_TIMEOUT=7");
    cr_expect_str_eq(t_find(&e, "CRITERION_MPROC_ISOLATION="), "CRITERION_MPROC_ISOLATION=fork");
    cr_expect_null(t_find(&e, "CRITERION_MPROC_VERBOSE="), "verbose 0 is said");
    int fd = e.token_fd;
    crmpi_proc_env_free(&e);
    cr_expect_null(e.vars);
    cr_expect_eq(fcntl(fd, F_GETFD), -1, "the token's descriptor outlives the environment");
    crmpi_proc_env_free(&e);    /* twice, or zeroed, is harmless */
    crmpi_token_free(&token);
}

Test(proc, spawn_worker_with_its_slot)
{
    struct crmpi_options opts = { .workers = 6 };
    struct crmpi_proc_env e;
    cr_assert_eq(crmpi_proc_worker_env(&e, "ipc:///q", NULL, &opts), 0);
    size_t n = e.n;
    char *argv[] = { "sh", "-c", "test \"$CRITERION_MPROC_SLOT\" = 5 && test \"$CRITERION_MPROC_ID\" = 7"
                     " && test \"$CRITERION_MPROC_WORKERS\" = 6 && test \"$CRMP_X$CRMP_Y\" = xy"
                     " && exit 3; exit 1", NULL };
    const char *const extra[] = { "CRMP_X=x", "CRMP_Y=y", NULL };
    pid_t pid = 0;
    int pidfd = -1;
    cr_assert_eq(crmpi_proc_spawn_worker("/bin/sh", argv, &e, 7, 5, extra, &pid, &pidfd), 0);
    cr_assert_gt(pid, 0);
    cr_expect_eq(e.n, n, "the slot stays in the environment");
    cr_expect_null(e.vars[e.n]);
    if (pidfd >= 0) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 10000), 1);
    } else {
        t_wait_exit(pid);
    }
    cr_expect(crmpi_proc_exited(pid, pidfd));
    cr_expect(crmpi_proc_exited(pid, -1), "waitid sees it too");
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3,
            "status %#x: not id 7, slot 5 of 6 with the extra variables", status);
    if (pidfd >= 0)
        close(pidfd);

    cr_expect_lt(crmpi_proc_spawn_worker("/nonexistent/worker", argv, &e, 6, 6, NULL, &pid, &pidfd), 0);
    cr_expect_eq(pid, 0);
    cr_expect_eq(pidfd, -1);
    crmpi_proc_env_free(&e);
}
