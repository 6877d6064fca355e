/*
 * Unit tests for plugin/reaper.c: a subreaper finds and kills what a test
 * left behind (a child, a double-forked setsid() daemon that ignores
 * SIGTERM), and the files Criterion and BoxFort leave for killed workers go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "reaper.h"

/*
 * Forks a child that double-forks a daemon (new session, SIGTERM ignored)
 * and exits; returns the daemon's pid, read from a pipe (no sleeping).
 */
static pid_t t_spawn_daemon(void)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (!child) {
        if (fork() == 0) {
            setsid();
            signal(SIGTERM, SIG_IGN);
            if (fork() == 0) {
                pid_t me = getpid();
                if (write(p[1], &me, sizeof(me)) != sizeof(me))
                    _exit(1);
                for (;;)
                    pause();
            }
            _exit(0);
        }
        _exit(0);
    }
    close(p[1]);
    pid_t daemon = 0;
    cr_assert_eq(read(p[0], &daemon, sizeof(daemon)), (ssize_t) sizeof(daemon));
    close(p[0]);
    cr_assert_eq(waitpid(child, NULL, 0), child);
    return daemon;
}

Test(reaper, kills_a_double_forked_daemon_that_ignores_sigterm, .timeout = 10)
{
    cr_assert_eq(crmpi_subreaper_enable(), 0);
    pid_t daemon = t_spawn_daemon();
    cr_assert_eq(kill(daemon, 0), 0, "the daemon is not running");
    cr_expect_eq(crmpi_subreaper_kill_all(3000), 0);
    cr_expect_eq(kill(daemon, 0), -1, "the daemon survived");
    cr_expect_eq(errno, ESRCH);
}

Test(reaper, kills_ordinary_children_and_reaps_them, .timeout = 10)
{
    pid_t kids[3];
    for (int i = 0; i < 3; ++i) {
        kids[i] = fork();
        cr_assert_geq(kids[i], 0);
        if (!kids[i])
            for (;;)
                pause();
    }
    cr_expect_eq(crmpi_subreaper_kill_all(3000), 0);
    for (int i = 0; i < 3; ++i)
        cr_expect_eq(kill(kids[i], 0), -1, "child %d still exists (not reaped)", i);
}

Test(reaper, nothing_to_kill_is_zero)
{
    cr_expect_eq(crmpi_subreaper_kill_all(1000), 0);
}

/* A pid that is certainly dead: a child, reaped. */
static pid_t t_dead_pid(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (!pid)
        _exit(0);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

Test(reaper, removes_a_killed_workers_criterion_socket)
{
    pid_t pid = t_dead_pid();
    char path[64];
    snprintf(path, sizeof(path), "/tmp/criterion_%d.sock", (int) pid);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, path);
    cr_assert_eq(bind(s, (struct sockaddr *) &a, sizeof(a)), 0, "%s", strerror(errno));
    close(s);
    cr_expect_eq(crmpi_leftovers_remove_worker(pid), 1);
    cr_expect_neq(access(path, F_OK), 0, "%s is still there", path);
    cr_expect_eq(crmpi_leftovers_remove_worker(pid), 0, "nothing left to remove");
}

Test(reaper, removes_a_dead_sandboxs_bxfi_map_only_if_ours)
{
    pid_t pid = t_dead_pid();
    char path[64];
    snprintf(path, sizeof(path), "/dev/shm/bxfi_%d", (int) pid);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    close(fd);
    if (geteuid() == 0) {
        /* Someone else's file of that name stays. */
        cr_assert_eq(chown(path, 65534, 65534), 0);
        cr_expect_eq(crmpi_leftovers_remove_sandbox(pid), 0);
        cr_expect_eq(access(path, F_OK), 0, "another user's file was removed");
        cr_assert_eq(chown(path, 0, 0), 0);
    }
    cr_expect_eq(crmpi_leftovers_remove_sandbox(pid), 1);
    cr_expect_neq(access(path, F_OK), 0, "%s is still there", path);
    unlink(path);
}
