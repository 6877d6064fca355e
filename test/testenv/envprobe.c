#define _GNU_SOURCE
/*
 * Tests that record the environment they see, for run_testenv.py: each
 * appends one line to $ENVPROBE_LOG (one write, O_APPEND: lines never mix).
 * Without the variables they pass quietly, so the binary is also an
 * ordinary passing suite.
 */
#include <dirent.h>
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
    const char *tmp = crmp_test_tmpdir();
    int n = snprintf(line, sizeof(line), "%s slot=%u workers=%u worker=%ld tmp=%s\n", what,
            crmp_worker_slot(), crmp_workers(), (long) t_worker_pid(), tmp ? tmp : "-");
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

/* ---- a private directory per test ---------------------------------------------------- */

static char tmp_at_init[4096];

/* The directory exists before .init, is empty and ours to write. */
static void tmp_init(void)
{
    const char *dir = crmp_test_tmpdir();
    cr_assert_not_null(dir, "no directory in .init");
    snprintf(tmp_at_init, sizeof(tmp_at_init), "%s", dir);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    cr_assert_eq(entries, 0, "%s is not empty", dir);
}

/* Leaves a file (and a read-only subdirectory) in its directory. */
static void leave_evidence(void)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/evidence", crmp_test_tmpdir());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write in %s", crmp_test_tmpdir());
    fputs("left by the test\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/locked", crmp_test_tmpdir());
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/locked/inside", crmp_test_tmpdir());
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/locked", crmp_test_tmpdir());
    cr_assert_eq(chmod(path, 0500), 0);
}

Test(tmp, fresh, .init = tmp_init)
{
    cr_assert_str_eq(crmp_test_tmpdir(), tmp_at_init, "another directory than .init's");
    leave_evidence();
    record("tmp::fresh");
}

Test(tmp, fails_when_asked, .init = tmp_init)
{
    leave_evidence();
    record("tmp::fails_when_asked");
    if (getenv("ENVPROBE_FAIL"))
        cr_assert_fail("failing on purpose");
}
