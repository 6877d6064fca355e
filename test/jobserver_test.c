/*
 * Unit tests for plugin/jobserver.c: what MAKEFLAGS advertises, and that
 * every token read from make's pipe or fifo goes back, byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "jobserver.h"

Test(jobserver, parse)
{
    char fifo[64];
    int r = -1, w = -1;
    cr_assert_eq(crmpi_jobserver_parse(NULL, fifo, sizeof(fifo), &r, &w), -ENOENT);
    cr_assert_eq(crmpi_jobserver_parse("s -j4", fifo, sizeof(fifo), &r, &w), -ENOENT,
            "-j alone (or make -j without limit) advertises nothing");
    cr_assert_eq(crmpi_jobserver_parse(" -j4 --jobserver-auth=3,4", fifo, sizeof(fifo), &r, &w), 0);
    cr_assert_eq(r, 3);
    cr_assert_eq(w, 4);
    cr_assert_str_eq(fifo, "");
    cr_assert_eq(crmpi_jobserver_parse("j --jobserver-fds=5,6", fifo, sizeof(fifo), &r, &w), 0,
            "make 4.1's spelling");
    cr_assert_eq(r, 5);
    cr_assert_eq(crmpi_jobserver_parse("-j8 --jobserver-auth=fifo:/tmp/GMfifo42 -- X=1",
            fifo, sizeof(fifo), &r, &w), 0);
    cr_assert_str_eq(fifo, "/tmp/GMfifo42");
    cr_assert_eq(crmpi_jobserver_parse("--jobserver-auth=3,4 --jobserver-auth=7,8",
            fifo, sizeof(fifo), &r, &w), 0);
    cr_assert_eq(r, 7, "the last one given wins");
    cr_assert_eq(crmpi_jobserver_parse("j -- CFLAGS=--jobserver-auth=3,4", fifo, sizeof(fifo),
            &r, &w), -ENOENT, "a variable's value is not an option");
    cr_assert_eq(crmpi_jobserver_parse("--jobserver-auth=sem:x", fifo, sizeof(fifo), &r, &w),
            -EINVAL);
    cr_assert_eq(crmpi_jobserver_parse("--jobserver-auth=-2,-2", fifo, sizeof(fifo), &r, &w),
            -EINVAL);
    cr_assert_eq(crmpi_jobserver_parse("--jobserver-auth=3", fifo, sizeof(fifo), &r, &w), -EINVAL);
    cr_assert_eq(crmpi_jobserver_parse("--jobserver-auth=fifo:", fifo, sizeof(fifo), &r, &w),
            -EINVAL);
    cr_assert_eq(crmpi_jobserver_parse("--jobserver-auth=fifo:/a/very/long/path/longer/than/"
            "sixty/four/bytes/for/sure/yes/really/very/much/so", fifo, sizeof(fifo), &r, &w), -ENAMETOOLONG);
}

/* Reads what the pipe holds now (it is non-blocking here). */
static size_t js_drain(int fd, char *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap);
    return n > 0 ? (size_t) n : 0;
}

/* Takes tokens from make's pipe as a rule marked '+' gets it, and gives them all back. */
Test(jobserver, pipe_tokens_go_back)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(write(p[1], "+-*", 3), 3);
    char flags[64];
    snprintf(flags, sizeof(flags), " -j4 --jobserver-auth=%d,%d", p[0], p[1]);
    struct crmpi_jobserver js = CRMPI_JOBSERVER_INIT;
    cr_assert_eq(crmpi_jobserver_open(&js, flags), 0);
    cr_assert_eq(crmpi_jobserver_fd(&js), -1, "nothing to poll while no token is wanted");
    crmpi_jobserver_want(&js);
    crmpi_jobserver_want(&js);
    cr_assert_geq(crmpi_jobserver_fd(&js), 0);
    cr_assert_eq(crmpi_jobserver_read(&js), 2, "two wanted, two read");
    cr_assert_eq(crmpi_jobserver_read(&js), 0, "none wanted any more");
    cr_assert_eq(crmpi_jobserver_give(&js), 0);
    crmpi_jobserver_close(&js);
    cr_assert_eq(js.rfd, -1);
    cr_assert_eq(crmpi_jobserver_give(&js), -ENOENT);

    /* make's own descriptor stays blocking: ours was opened anew. */
    cr_assert_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    char back[8];
    size_t n = js_drain(p[0], back, sizeof(back));
    cr_assert_eq(n, 3, "%zu tokens in make's pipe after close, 3 expected", n);
    close(p[0]);
    close(p[1]);
}

/* Another of make's children took the token first: nothing read, nothing lost. */
Test(jobserver, empty_pipe_reads_nothing)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    char flags[64];
    snprintf(flags, sizeof(flags), "--jobserver-auth=%d,%d", p[0], p[1]);
    struct crmpi_jobserver js = CRMPI_JOBSERVER_INIT;
    cr_assert_eq(crmpi_jobserver_open(&js, flags), 0);
    crmpi_jobserver_want(&js);
    cr_assert_eq(crmpi_jobserver_read(&js), 0);
    cr_assert_eq(js.wanted, 1, "still wanted");
    /* make is gone: the pipe's only writers are ours, closed: EOF. */
    close(p[1]);
    close(js.wfd);
    js.wfd = -1;
    cr_assert_eq(crmpi_jobserver_read(&js), -EPIPE);
    cr_assert_eq(crmpi_jobserver_fd(&js), -1, "no more polling once make is gone");
    crmpi_jobserver_close(&js);
    close(p[0]);
}

/* MAKEFLAGS naming a pipe's numbers, in p, after the pipe was closed: make did not pass it. */
static void js_closed_pipe(int p[2], char *flags, size_t len)
{
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    close(p[1]);
    snprintf(flags, len, "-j2 --jobserver-auth=%d,%d", p[0], p[1]);
}

/* A rule without '+': make closed the descriptors, or they are something else now. */
Test(jobserver, descriptors_not_passed)
{
    struct crmpi_jobserver js = CRMPI_JOBSERVER_INIT;
    int p[2];
    char flags[64];
    js_closed_pipe(p, flags, sizeof(flags));
    cr_assert_eq(crmpi_jobserver_open(&js, flags), -EBADF);
    int a[2], b[2];
    cr_assert_eq(pipe2(a, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(b, O_CLOEXEC), 0);
    snprintf(flags, sizeof(flags), "--jobserver-auth=%d,%d", a[0], b[1]);
    cr_assert_eq(crmpi_jobserver_open(&js, flags), -EBADF, "two different pipes");
    snprintf(flags, sizeof(flags), "--jobserver-auth=%d,%d", a[1], a[0]);
    cr_assert_eq(crmpi_jobserver_open(&js, flags), -EBADF, "ends swapped");
    cr_assert_eq(crmpi_jobserver_open(&js, "-j2"), -ENOENT);
    crmpi_jobserver_close(&js);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/*
 * make 4.3 passes MAKEFLAGS but not the descriptors to a rule without '+':
 * the first pipe the process makes (the coordinator's wake pipe) takes
 * their numbers, and must not be taken for make's.
 */
Test(jobserver, own_pipe_on_make_numbers)
{
    struct crmpi_jobserver js = CRMPI_JOBSERVER_INIT;
    int p[2];
    char flags[64];
    js_closed_pipe(p, flags, sizeof(flags));
    crmpi_jobserver_note_start(flags);              /* as the process started: not passed */
    int own[2];
    cr_assert_eq(pipe2(own, O_CLOEXEC | O_NONBLOCK), 0);
    cr_assert(own[0] == p[0] && own[1] == p[1], "the lowest numbers are reused");
    cr_assert_eq(crmpi_jobserver_open(&js, flags), -EBADF, "a pipe of our own is not make's");
    crmpi_jobserver_close(&js);
    crmpi_jobserver_note_start(NULL);
    cr_assert_eq(crmpi_jobserver_open(&js, flags), 0, "without a note, any pipe there is");
    crmpi_jobserver_close(&js);

    /* Passed at start, and still there: make's, as before. */
    crmpi_jobserver_note_start(flags);
    cr_assert_eq(crmpi_jobserver_open(&js, flags), 0);
    crmpi_jobserver_close(&js);
    crmpi_jobserver_note_start(NULL);
    close(own[0]);
    close(own[1]);
}

/* make 4.4's named pipe. */
Test(jobserver, fifo_tokens_go_back)
{
    char dir[] = "/tmp/crmp-js-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[PATH_MAX], flags[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    int keep = open(path, O_RDWR | O_CLOEXEC);     /* make's end */
    cr_assert_geq(keep, 0);
    cr_assert_eq(write(keep, "++", 2), 2);
    snprintf(flags, sizeof(flags), "-j3 --jobserver-auth=fifo:%s", path);
    struct crmpi_jobserver js = CRMPI_JOBSERVER_INIT;
    cr_assert_eq(crmpi_jobserver_open(&js, flags), 0);
    crmpi_jobserver_want(&js);
    crmpi_jobserver_want(&js);
    crmpi_jobserver_want(&js);
    cr_assert_eq(crmpi_jobserver_read(&js), 2, "three wanted, two there");
    crmpi_jobserver_close(&js);
    fcntl(keep, F_SETFL, O_NONBLOCK);
    char back[8];
    cr_assert_eq(js_drain(keep, back, sizeof(back)), 2, "both tokens back in the fifo");
    close(keep);
    unlink(path);
    rmdir(dir);
    snprintf(flags, sizeof(flags), "--jobserver-auth=fifo:%s", path);
    cr_assert_eq(crmpi_jobserver_open(&js, flags), -ENOENT, "a fifo that is gone");
}
