#define _GNU_SOURCE
/*
 * Tests that record the environment they see, for run_testenv.py: each
 * appends one line to $ENVPROBE_LOG (one write, O_APPEND: lines never mix).
 * Without the variables they pass quietly, so the binary is also an
 * ordinary passing suite.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "criterion-mproc.h"
#include "../worker_of.h"

static void record(const char *what)
{
    const char *log = getenv("ENVPROBE_LOG");
    if (!log)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "%s slot=%u workers=%u worker=%ld\n", what,
            crmp_worker_slot(), crmp_workers(), (long) t_worker_pid());
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "cannot open %s", log);
    cr_assert_eq(write(fd, line, (size_t) n), n);
    close(fd);
}

/* Whether this is the first call with this name in the run ($ENVPROBE_DIR/name). */
static int first_time(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", getenv("ENVPROBE_DIR"), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

#define WHERE_TEST(N) Test(where, t##N) { record("where::t" #N); }
WHERE_TEST(0) WHERE_TEST(1) WHERE_TEST(2) WHERE_TEST(3) WHERE_TEST(4)
WHERE_TEST(5) WHERE_TEST(6) WHERE_TEST(7) WHERE_TEST(8) WHERE_TEST(9)

/* Takes its worker down the first time: its replacement must keep the slot. */
Test(where, kills_its_worker_once)
{
    if (getenv("ENVPROBE_KILL_ONCE") && getenv("ENVPROBE_DIR") && first_time("kill_once")) {
        kill(t_worker_pid(), SIGKILL);
        pause();
    }
    record("where::kills_its_worker_once");
}
