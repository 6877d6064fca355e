#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reaper.h"

int crmpi_subreaper_enable(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ? -errno : 0;
}

/* SIGKILLs the children of self listed in /proc.  Returns how many, or -errno. */
static int reaper_kill_children(pid_t self)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* "pid (comm) state ppid": comm may hold spaces and parentheses. */
        char *close = strrchr(buf, ')');
        char state;
        long ppid;
        if (!close || sscanf(close + 1, " %c %ld", &state, &ppid) != 2 || ppid != self
                || state == 'Z' || state == 'X')
            continue;
        if (!kill((pid_t) strtol(e->d_name, NULL, 10), SIGKILL))
            ++n;
    }
    closedir(d);
    return n;
}

static long reaper_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int crmpi_subreaper_kill_all(int timeout_ms)
{
    pid_t self = getpid();
    long deadline = reaper_now_ms() + timeout_ms;
    for (;;) {
        int n = reaper_kill_children(self);
        if (n < 0)
            return n;
        /*
         * Reap what died.  An orphan is reparented before its parent's exit
         * is reported, so no child left means no descendant left.
         */
        pid_t pid;
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
            ;
        if (pid < 0 && errno == ECHILD)
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

int crmpi_leftovers_remove_worker(pid_t worker)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/criterion_%llu.sock", (unsigned long long) worker);
    return reaper_unlink_own(path, S_IFSOCK);
}

int crmpi_leftovers_remove_sandbox(pid_t sandbox)
{
    char path[64];
    snprintf(path, sizeof(path), "/dev/shm/bxfi_%d", (int) sandbox);
    return reaper_unlink_own(path, S_IFREG);
}
