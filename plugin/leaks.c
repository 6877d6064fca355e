#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaks.h"
#include "proc.h"

/* A command line longer than this is cut: it is a hint, not a record. */
#define LEAKS_CMD_MAX 200

/* The command line of pid, spaces between its words; its name in brackets when it has none. */
static char *leaks_describe(pid_t pid)
{
    char path[64], buf[LEAKS_CMD_MAX + 1];
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long) pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, LEAKS_CMD_MAX);
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        snprintf(path, sizeof(path), "/proc/%ld/comm", (long) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t m = fd < 0 ? -1 : read(fd, buf + 1, 64);
        if (fd >= 0)
            close(fd);
        if (m <= 0)
            return strdup("[?]");
        buf[0] = '[';
        n = m;      /* comm ends with a newline: it becomes the bracket */
        buf[n] = ']';
        ++n;
    }
    while (n > 0 && buf[n - 1] == '\0')
        --n;
    for (ssize_t i = 0; i < n; ++i)
        if (buf[i] == '\0' || buf[i] == '\n')
            buf[i] = ' ';
    buf[n] = '\0';
    return strdup(buf);
}

/* Whether pid is a zombie: it runs nothing, and is reaped without a word. */
static int leaks_is_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) S ...": comm may hold anything, so the state follows its last ')'. */
    const char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

struct leaks_scan {
    pid_t spare, done;
    pid_t found[64];
    size_t n;
};

static int leaks_child(pid_t child, void *arg)
{
    struct leaks_scan *s = arg;
    if (child == s->spare || child == s->done)
        return 0;
    if (s->n < sizeof(s->found) / sizeof(s->found[0]))
        s->found[s->n++] = child;
    return 0;
}

long crmpi_leaks_end(pid_t spare, pid_t done, struct crmpi_leaks *out)
{
    long total = 0;
    int rc = 0;
    /*
     * Each round ends the children seen; what those had started is
     * reparented to us and seen next round.  A fork bomb outruns any bound:
     * the run's end takes what is left.
     */
    for (int round = 0; round < 64; ++round) {
        struct leaks_scan s = { .spare = spare, .done = done };
        crmpi_proc_children(getpid(), leaks_child, &s);
        if (!s.n)
            break;
        for (size_t i = 0; i < s.n; ++i) {
            if (round == 0 && leaks_is_zombie(s.found[i])) {
                waitpid(s.found[i], NULL, 0);
                continue;
            }
            /* Only what the test itself left is described, not what we reparent while ending it. */
            if (round == 0 && out->n < CRMPI_LEAKS_MAX) {
                char **grown = realloc(out->cmds, (out->n + 1) * sizeof(*grown));
                char *cmd = leaks_describe(s.found[i]);
                if (grown)
                    out->cmds = grown;
                if (grown && cmd)
                    out->cmds[out->n++] = cmd;
                else {
                    free(cmd);
                    rc = -ENOMEM;
                }
            }
            if (round == 0)
                ++total;
            crmpi_kill_tree(s.found[i]);
            waitpid(s.found[i], NULL, 0);
        }
    }
    return rc ? rc : total;
}

void crmpi_leaks_free(struct crmpi_leaks *l)
{
    for (size_t i = 0; i < l->n; ++i)
        free(l->cmds[i]);
    free(l->cmds);
    l->cmds = NULL;
    l->n = 0;
}
