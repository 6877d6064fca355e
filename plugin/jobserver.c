#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobserver.h"

static int js_parse_fd(const char *s, const char *end, int *fd)
{
    if (s == end || (size_t) (end - s) > 9)
        return -EINVAL;
    int v = 0;
    for (; s < end; ++s) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (*s - '0');
    }
    *fd = v;
    return 0;
}

int crmpi_jobserver_parse(const char *makeflags, char *fifo, size_t len, int *rfd, int *wfd)
{
    static const char *const keys[] = { "--jobserver-auth=", "--jobserver-fds=" };
    const char *value = NULL, *p = makeflags;
    if (!makeflags)
        return -ENOENT;
    /* Words up to " -- " (variable definitions follow it); the last one wins. */
    while (*p) {
        while (*p == ' ')
            ++p;
        const char *end = p + strcspn(p, " ");
        if (end - p == 2 && !strncmp(p, "--", 2))
            break;
        for (size_t k = 0; k < 2; ++k)
            if (!strncmp(p, keys[k], strlen(keys[k])))
                value = p + strlen(keys[k]);
        p = end;
    }
    if (!value)
        return -ENOENT;
    const char *end = value + strcspn(value, " ");
    if (!strncmp(value, "fifo:", 5)) {
        size_t n = (size_t) (end - value - 5);
        if (!n)
            return -EINVAL;
        if (n >= len)
            return -ENAMETOOLONG;
        memcpy(fifo, value + 5, n);
        fifo[n] = '\0';
        return 0;
    }
    const char *comma = memchr(value, ',', (size_t) (end - value));
    if (!comma || js_parse_fd(value, comma, rfd) || js_parse_fd(comma + 1, end, wfd))
        return -EINVAL;
    *fifo = '\0';
    return 0;
}

/* Whether r and w are one pipe's, readable and writable as make left them. */
static int js_check_pipe(int r, int w)
{
    struct stat sr, sw;
    if (fstat(r, &sr) || fstat(w, &sw))
        return -EBADF;
    int fr = fcntl(r, F_GETFL), fw = fcntl(w, F_GETFL);
    if (!S_ISFIFO(sr.st_mode) || sr.st_ino != sw.st_ino || sr.st_dev != sw.st_dev
            || fr < 0 || fw < 0 || (fr & O_ACCMODE) == O_WRONLY || (fw & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    return 0;
}

/*
 * make's pipe as the process found it when it started.  A rule without '+'
 * gets MAKEFLAGS but not the descriptors (make 4.3 marks them close-on-exec):
 * the first pipe the process makes itself (the coordinator's wake pipe)
 * then takes the same numbers and would pass js_check_pipe as make's.
 */
static struct {
    int set;                    /* MAKEFLAGS named descriptors at start */
    int r, w;
    int passed;                 /* they were one pipe then */
    dev_t dev;
    ino_t ino;
} js_start;

void crmpi_jobserver_note_start(const char *makeflags)
{
    char fifo[PATH_MAX];
    int r, w;
    struct stat st;
    js_start.set = 0;
    if (!makeflags || crmpi_jobserver_parse(makeflags, fifo, sizeof(fifo), &r, &w) || *fifo)
        return;
    js_start.set = 1;
    js_start.r = r;
    js_start.w = w;
    js_start.passed = !js_check_pipe(r, w) && !fstat(r, &st);
    js_start.dev = js_start.passed ? st.st_dev : 0;
    js_start.ino = js_start.passed ? st.st_ino : 0;
}

/* Before the process's own code opens anything that could take make's numbers. */
__attribute__((constructor)) static void js_note_at_start(void)
{
    crmpi_jobserver_note_start(getenv("MAKEFLAGS"));
}

/* Whether r and w, one pipe now, are the pipe make passed when the process started. */
static int js_same_as_start(int r, int w)
{
    struct stat st;
    if (!js_start.set || js_start.r != r || js_start.w != w)
        return 1;
    return js_start.passed && !fstat(r, &st) && st.st_dev == js_start.dev
            && st.st_ino == js_start.ino;
}

int crmpi_jobserver_open(struct crmpi_jobserver *js, const char *makeflags)
{
    char fifo[PATH_MAX], path[64];
    int r = -1, w = -1;
    int rc = crmpi_jobserver_parse(makeflags, fifo, sizeof(fifo), &r, &w);
    if (rc)
        return rc;
    if (*fifo) {
        struct stat st;
        if (stat(fifo, &st))
            return -errno;
        if (!S_ISFIFO(st.st_mode))
            return -EBADF;
        js->rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        /* Does not block: rfd is a reader. */
        js->wfd = js->rfd < 0 ? -1 : open(fifo, O_WRONLY | O_CLOEXEC);
    } else {
        rc = js_check_pipe(r, w);
        if (rc)
            return rc;
        if (!js_same_as_start(r, w))
            return -EBADF;
        /* A description of our own: O_NONBLOCK on make's would change it for make too. */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", r);
        js->rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        js->wfd = js->rfd < 0 ? -1 : fcntl(w, F_DUPFD_CLOEXEC, 0);
    }
    if (js->rfd < 0 || js->wfd < 0) {
        rc = -errno;
        crmpi_jobserver_close(js);
        return rc;
    }
    return 0;
}

void crmpi_jobserver_want(struct crmpi_jobserver *js)
{
    ++js->wanted;
}

int crmpi_jobserver_fd(const struct crmpi_jobserver *js)
{
    return js->wanted && js->rfd >= 0 ? js->rfd : -1;
}

int crmpi_jobserver_read(struct crmpi_jobserver *js)
{
    if (!js->wanted || js->rfd < 0)
        return 0;
    if (js->cap_held - js->n_held < js->wanted) {
        size_t cap = js->n_held + js->wanted + 8;
        unsigned char *grown = realloc(js->held, cap);
        if (!grown) {
            js->wanted = 0;
            return -ENOMEM;
        }
        js->held = grown;
        js->cap_held = cap;
    }
    ssize_t n = read(js->rfd, js->held + js->n_held, js->wanted);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;       /* another of make's children was first */
    if (n <= 0) {
        js->wanted = 0;
        return n == 0 ? -EPIPE : -errno;
    }
    js->n_held += (size_t) n;
    js->wanted -= (unsigned) n;
    return (int) n;
}

int crmpi_jobserver_give(struct crmpi_jobserver *js)
{
    if (!js->n_held || js->wfd < 0)
        return -ENOENT;
    unsigned char token = js->held[--js->n_held];
    ssize_t n;
    do
        n = write(js->wfd, &token, 1);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

void crmpi_jobserver_close(struct crmpi_jobserver *js)
{
    while (js->n_held && !crmpi_jobserver_give(js))
        ;
    if (js->rfd >= 0)
        close(js->rfd);
    if (js->wfd >= 0)
        close(js->wfd);
    free(js->held);
    *js = (struct crmpi_jobserver) CRMPI_JOBSERVER_INIT;
}
