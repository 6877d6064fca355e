#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "proc.h"

/* Writes the decimal of v into buf (no terminator); returns its length. */
static size_t proc_utoa(char *buf, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; ++i)
        buf[i] = tmp[n - 1 - i];
    return n;
}

static void proc_kill_children(pid_t pid)
{
    /* "/proc/<pid>/task/<pid>/children": BoxFort forks from the main thread. */
    char path[64] = "/proc/";
    size_t len = 6;
    len += proc_utoa(path + len, (unsigned long) pid);
    for (const char *s = "/task/"; *s; ++s)
        path[len++] = *s;
    len += proc_utoa(path + len, (unsigned long) pid);
    for (const char *s = "/children"; *s; ++s)
        path[len++] = *s;
    path[len] = '\0';

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    unsigned long cur = 0;
    int in_number = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                cur = cur * 10 + (unsigned long) (buf[i] - '0');
                in_number = 1;
            } else if (in_number) {
                kill(-(pid_t) cur, SIGKILL);
                kill((pid_t) cur, SIGKILL);
                cur = 0;
                in_number = 0;
            }
        }
    }
    if (in_number) {
        kill(-(pid_t) cur, SIGKILL);
        kill((pid_t) cur, SIGKILL);
    }
    close(fd);
}

void crmpi_kill_tree(pid_t pid)
{
    if (pid <= 0)
        return;
    if (pid != getpid())
        kill(pid, SIGSTOP);
    proc_kill_children(pid);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}
