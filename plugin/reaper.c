#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crit.h"
#include "proc.h"
#include "reaper.h"

int crmpi_subreaper_enable(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ? -errno : 0;
}

/* A decimal number at *p (async-signal-safe strtol); moves p past it. */
static long reaper_number(const char **p)
{
    long v = 0;
    for (; **p >= '0' && **p <= '9'; ++*p)
        v = v * 10 + (**p - '0');
    return v;
}

/* The parent of pid (a /proc name), or -1.  Zombies count as gone. */
static long reaper_parent_of(const char *pid)
{
    char path[64] = "/proc/", buf[512];
    size_t len = strlen(pid);
    if (len > 20)
        return -1;
    memcpy(path + 6, pid, len);
    memcpy(path + 6 + len, "/stat", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "pid (comm) state ppid": comm may hold spaces and parentheses. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return -1;
    const char *num = p + 4;
    return reaper_number(&num);
}

/*
 * SIGKILLs the children of self listed in /proc.  Async-signal-safe (no
 * stdio, no malloc): a worker may call it from its parent-death handler.
 * Returns how many were signalled, or -errno.
 */
static int reaper_kill_children(pid_t self)
{
    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    char buf[4096];
    int n = 0;
    long got;
    while ((got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < got;) {
            struct reaper_dirent {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (struct reaper_dirent *) (buf + off);
            off += e->reclen;
            if (e->name[0] < '1' || e->name[0] > '9' || reaper_parent_of(e->name) != self)
                continue;
            const char *name = e->name;
            if (!kill((pid_t) reaper_number(&name), SIGKILL))
                ++n;
        }
    }
    int rc = got < 0 ? -errno : n;
    close(dir);
    return rc;
}

static long reaper_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Async-signal-safe too: /proc read with system calls, nanosleep to pause. */
int crmpi_subreaper_kill_all(int timeout_ms)
{
    pid_t self = getpid();
    long deadline = reaper_now_ms() + timeout_ms;
    for (;;) {
        int n = reaper_kill_children(self);
        if (n < 0)
            return n;
        /*
         * Reap what died, a killed sandbox's BoxFort arena file first, while
         * its pid is still its own.  An orphan is reparented before its
         * parent's exit is reported, so no child left means no descendant left.
         */
        siginfo_t info;
        int rc;
        for (;;) {
            info.si_pid = 0;
            rc = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
            if (rc || !info.si_pid)
                break;
            crmpi_leftovers_remove_sandbox(info.si_pid);
            waitpid(info.si_pid, NULL, 0);
        }
        if (rc && errno == ECHILD)
            return 0;
        if (reaper_now_ms() >= deadline)
            return -ETIMEDOUT;
        /*
         * Children are dying (or one could not be killed): a short pause,
         * bounded by the deadline, rather than a wait that might not end.
         */
        struct timespec pause = { 0, 2 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
}

/* Unlinks path if it is of type `type` and owned by this user. */
static int reaper_unlink_own(const char *path, mode_t type)
{
    struct stat st;
    if (lstat(path, &st))
        return errno == ENOENT ? 0 : -errno;
    if ((st.st_mode & S_IFMT) != type || st.st_uid != geteuid())
        return 0;
    if (unlink(path))
        return errno == ENOENT ? 0 : -errno;
    return 1;
}

/* prefix, pid in decimal, suffix into path (cap bytes, truncated).  Async-signal-safe. */
static void reaper_path(char *path, size_t cap, const char *prefix, pid_t pid, const char *suffix)
{
    char digits[24];
    size_t n = crmpi_proc_utoa(digits, (unsigned long) pid), used = 0;
    for (const char *c = prefix; *c && used + 1 < cap; ++c)
        path[used++] = *c;
    for (size_t i = 0; i < n && used + 1 < cap; ++i)
        path[used++] = digits[i];
    for (const char *c = suffix; *c && used + 1 < cap; ++c)
        path[used++] = *c;
    if (cap)
        path[used] = '\0';
}

void crmpi_leftovers_worker_path(pid_t worker, char *path, size_t cap)
{
    reaper_path(path, cap, CRMPI_CRIT_RUNNER_SOCK_PREFIX, worker,
            CRMPI_CRIT_RUNNER_SOCK_SUFFIX);
}

int crmpi_leftovers_remove_worker(pid_t worker)
{
    char path[64];
    crmpi_leftovers_worker_path(worker, path, sizeof(path));
    return reaper_unlink_own(path, S_IFSOCK);
}

int crmpi_leftovers_remove_sandbox(pid_t sandbox)
{
    char path[64];
    reaper_path(path, sizeof(path), CRMPI_CRIT_SANDBOX_SHM_PREFIX, sandbox, "");
    return reaper_unlink_own(path, S_IFREG);
}
