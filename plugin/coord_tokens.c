/*
 * The coordinator's side of the slots it runs tests in, as the shell sees
 * them: make's jobserver (a token a test past the first) and the runner's
 * slot socket (criterion-mproc: "+" when this program may start, "-" when it
 * gives its slot back).  What to do with them is the state machine's
 * (coord_slots.c); this file only reads and writes the descriptors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coord_i.h"
#include "diag.h"
#include "runnerlink.h"

int crmpi_coord_jobserver_open(struct coord *c)
{
    const char *flags = getenv("MAKEFLAGS");
    int rc = crmpi_jobserver_open(&c->js, flags);
    if (rc == -EBADF)
        crmpi_warn("make's jobserver (MAKEFLAGS) is not passed to this rule: workers are not "
                "limited by make -j (mark the rule's command with '+')");
    else if (rc && rc != -ENOENT)
        crmpi_warn("cannot use make's jobserver (MAKEFLAGS): %s", strerror(-rc));
    else if (!rc)
        crmpi_info("make's jobserver limits the tests running at once");
    return rc == 0;
}

void crmpi_coord_give_token(struct coord *c)
{
    int rc = crmpi_jobserver_give(&c->js);
    if (rc)
        crmpi_warn("cannot give a token back to make's jobserver: %s", strerror(-rc));
}

int crmpi_coord_slot_fd(void)
{
    const char *v = getenv(CRMPI_ENV_RUNNER_SLOT_FD);
    char *end;
    long fd = v && *v ? strtol(v, &end, 10) : -1;
    int ok = v && *v && !*end && fd >= 0 && fd <= INT_MAX;
    /* Ours alone: no worker or test may take it for a descriptor of its own. */
    unsetenv(CRMPI_ENV_RUNNER_SLOT_FD);
    if (!ok || fcntl((int) fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    return (int) fd;
}

/*
 * The runner's byte (or its end: then nobody holds our slot back any more).
 * The socket stays open after the byte: the slot goes back on it.
 */
int crmpi_coord_slot_came(struct coord *c)
{
    char b;
    ssize_t n;
    do
        n = read(c->slot_fd, &b, 1);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n != 1) {
        close(c->slot_fd);
        c->slot_fd = -1;
    }
    c->slot_came = 1;
    return 1;
}

/* Our free slot goes back to the runner: it starts another program on it. */
void crmpi_coord_give_slot(struct coord *c)
{
    ssize_t n = -1;
    if (c->slot_fd >= 0)
        do
            n = send(c->slot_fd, "-", 1, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
    /* A runner gone or deaf: the slot is free again when this process ends, as before. */
    if (n != 1)
        crmpi_info("cannot give the runner's slot back before the end: %s",
                n < 0 ? strerror(errno) : "no runner");
}

/* Tokens make has for us, each to be fed to the state machine. */
int crmpi_coord_take_tokens(struct coord *c)
{
    int n = crmpi_jobserver_read(&c->js);
    if (n < 0)
        crmpi_warn("make's jobserver failed (%s): no more tests run at once than now",
                strerror(-n));
    return n < 0 ? 0 : n;
}
