/* Forced timings for the plugin's own tests (see testfault.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "testfault.h"
#include "transport.h"

#define TESTFAULT_WAIT_MS 30000

/* DIR of "late-hello:DIR", or NULL. */
static const char *testfault_late_hello(void)
{
    const char *f = getenv("CRMP_TEST_FAULT");
    return f && !strncmp(f, "late-hello:", 11) ? f + 11 : NULL;
}

static int64_t testfault_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits, on inotify (no sleep), until dir/name exists.  Returns 0 or -ETIMEDOUT, -errno. */
static int testfault_wait_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
        return -ENAMETOOLONG;
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0)
        return -errno;
    int rc = inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO) < 0 ? -errno : -ETIMEDOUT;
    int64_t deadline = testfault_now_ms() + TESTFAULT_WAIT_MS;
    /* Looked for after the watch is set: a file made in between is not missed. */
    while (rc == -ETIMEDOUT && access(path, F_OK)) {
        int64_t left = deadline - testfault_now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int) left) == 0)
            break;
        char events[4096];
        while (read(fd, events, sizeof(events)) > 0)
            ;
    }
    if (rc == -ETIMEDOUT && !access(path, F_OK))
        rc = 0;
    close(fd);
    return rc;
}

static void testfault_make(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

int crmpi_testfault_quiet_close(unsigned slot)
{
    return testfault_late_hello() && slot == 1;
}

void crmpi_testfault_before_hello(unsigned slot)
{
    const char *dir = testfault_late_hello();
    if (dir && slot == 1)
        (void) testfault_wait_file(dir, "ended");
}

/* Whether request msg (the caller's) is a hello. */
static int testfault_is_hello(nng_msg *msg)
{
    Crmp__Envelope *env;
    if (crmpi_transport_unpack(msg, &env))
        return 0;
    int hello = env->body_case == CRMP__ENVELOPE__BODY_HELLO;
    crmpi_wire_free(env);
    return hello;
}

void crmpi_testfault_after_loop(struct crmpi_transport *t, int recv_fd)
{
    const char *dir = testfault_late_hello();
    if (!dir || recv_fd < 0)
        return;
    testfault_make(dir, "ended");
    int64_t deadline = testfault_now_ms() + TESTFAULT_WAIT_MS;
    for (;;) {
        nng_msg *msg;
        if (!crmpi_transport_recv(t, &msg)) {
            int hello = testfault_is_hello(msg);
            /* Unanswered: a heartbeat's sender sees its connection close, as in the fault. */
            crmpi_transport_drop(t, msg);
            if (hello) {
                testfault_make(dir, "held");
                return;
            }
            continue;
        }
        int64_t left = deadline - testfault_now_ms();
        struct pollfd p = { .fd = recv_fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int) left) <= 0)
            return;
    }
}
