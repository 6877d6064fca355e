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
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "criterion-mproc.h"
#include "../worker_of.h"
#include "probe_dirs.h"

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
    cr_assert_eq(probe_dir_entries(dir), 0, "%s is not empty", dir);
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

/* ---- an emptied directory is passed on (renamed), never a changed one -------------- */

/* In one worker, in this order: each test's directories may be an earlier test's, renamed. */
CRMP_SUITE_SCHEDULE(reuse, .group = "reuse");

/* dir is as mkdtemp makes one: mode 0700, empty. */
static void expect_fresh(const char *dir)
{
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0, "cannot stat %s", dir);
    cr_assert_eq(st.st_mode & 07777, 0700, "%s has mode %o", dir, (unsigned) (st.st_mode & 07777));
    cr_assert_eq(probe_dir_entries(dir), 0, "%s is not empty", dir);
}

static void open_up(const char *dir)
{
    cr_assert_eq(chmod(dir, 0755), 0, "cannot chmod %s", dir);
}

static void leave_file(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/left", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write in %s", dir);
    fclose(f);
}

/* Both of the test's directories are fresh; then change (NULL: nothing) is done to each. */
static void reuse_step(const char *name, void (*change)(const char *dir))
{
    const char *dirs[] = { crmp_test_tmpdir(),
        /* Without the plugin, the artifact directory would be made inside the test's. */
        getenv("CRITERION_MPROC_ARTIFACTS") };
    cr_assert_not_null(dirs[0]);
    for (int i = 0; i < 2 && dirs[i]; ++i)
        expect_fresh(dirs[i]);
    for (int i = 0; i < 2 && dirs[i] && change; ++i)
        change(dirs[i]);
    record(name);
}

Test(reuse, a_leaves_them_empty) { reuse_step("reuse::a_leaves_them_empty", NULL); }
Test(reuse, b_opens_them_up) { reuse_step("reuse::b_opens_them_up", open_up); }
Test(reuse, c_leaves_files) { reuse_step("reuse::c_leaves_files", leave_file); }
Test(reuse, d_leaves_them_empty) { reuse_step("reuse::d_leaves_them_empty", NULL); }
Test(reuse, e_finds_them_fresh) { reuse_step("reuse::e_finds_them_fresh", NULL); }

/* ---- leaks -------------------------------------------------------------------------- */

/* In one worker, in this order: the last test sees what the first left. */
CRMP_SUITE_SCHEDULE(leak, .group = "leak");

static void note_pid(const char *name, pid_t pid)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", getenv("ENVPROBE_DIR"), name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%ld\n", (long) pid);
    fclose(f);
}

/* Leaves a child, and a setsid() daemon (double fork, its middle process reaped), running. */
Test(leak, leaves_processes)
{
    record("leak::leaves_processes");
    if (!getenv("ENVPROBE_LEAK"))
        return;
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        execlp("sleep", "sleep", "1000", (char *) NULL);
        _exit(127);
    }
    note_pid("child", child);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t middle = fork();
    cr_assert_geq(middle, 0);
    if (middle == 0) {
        setsid();
        pid_t daemon = fork();
        if (daemon == 0) {
            close(fds[0]);
            close(fds[1]);
            execlp("sleep", "sleep", "1001", (char *) NULL);
            _exit(127);
        }
        if (write(fds[1], &daemon, sizeof(daemon)) != (ssize_t) sizeof(daemon))
            _exit(1);
        _exit(0);
    }
    pid_t daemon = 0;
    cr_assert_eq(read(fds[0], &daemon, sizeof(daemon)), (ssize_t) sizeof(daemon));
    cr_assert_eq(waitpid(middle, NULL, 0), middle);
    note_pid("daemon", daemon);
}

/* What the test above left was ended when it ended, not at the end of the run. */
Test(leak, zz_its_processes_are_gone)
{
    static const char *const names[] = { "child", "daemon" };
    record("leak::zz_its_processes_are_gone");
    for (int i = 0; i < 2; ++i) {
        char path[512];
        long pid = 0;
        snprintf(path, sizeof(path), "%s/%s", getenv("ENVPROBE_DIR") ? getenv("ENVPROBE_DIR") : ".",
                names[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        cr_assert_eq(fscanf(f, "%ld", &pid), 1);
        fclose(f);
        cr_expect(kill((pid_t) pid, 0) == -1 && errno == ESRCH, "%s %ld still runs", names[i], pid);
    }
}
