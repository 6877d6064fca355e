#define _GNU_SOURCE
/*
 * Tests that leave artifacts, for run_artifacts.py.  Each writes what it
 * leaves into crmp_test_artifacts() and records the directory's path in
 * $ARTPROBE_LOG ("test path", one write, O_APPEND), so that the runner can
 * check that the directory is gone after the test.  The harmful ones
 * (crash, hostile entries, big files) act only when asked through the
 * environment; otherwise every test passes, with or without the plugin.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criterion-mproc.h"
#include "probe_dirs.h"

static void record(const char *test)
{
    const char *log = getenv("ARTPROBE_LOG");
    const char *dir = crmp_test_artifacts();
    cr_assert_not_null(dir, "%s: no artifact directory", test);
    if (!log)
        return;
    char line[4200];
    int n = snprintf(line, sizeof(line), "%s %s\n", test, dir);
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "cannot open %s", log);
    cr_assert_eq(write(fd, line, (size_t) n), n);
    close(fd);
}

/* Writes len bytes of text (repeating) as dir/name with mode. */
static void leave(const char *name, const char *text, size_t len, mode_t mode)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", crmp_test_artifacts(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "cannot write %s: %s", path, strerror(errno));
    /* The text repeated over a buffer: big files in few writes. */
    static char buf[65536];
    size_t tl = strlen(text);
    for (size_t i = 0; i < sizeof(buf); ++i)
        buf[i] = text[i % tl];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof(buf) - sizeof(buf) % tl ? len - done
            : sizeof(buf) - sizeof(buf) % tl;
        cr_assert_eq(write(fd, buf, n), (ssize_t) n);
        done += n;
    }
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

static void leave_dir(const char *name, mode_t mode)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", crmp_test_artifacts(), name);
    cr_assert_eq(mkdir(path, mode), 0, "cannot make %s: %s", path, strerror(errno));
}

/* The directory exists before .init and is empty. */
static void fresh_init(void)
{
    const char *dir = crmp_test_artifacts();
    cr_assert_not_null(dir, "no artifact directory in .init");
    cr_assert_eq(probe_dir_entries(dir), 0, "%s is not empty", dir);
}

Test(art, leaves_files, .init = fresh_init)
{
    record("art::leaves_files");
    leave("log.txt", "the log\n", 8, 0644);
    leave("run.sh", "#!/bin/sh\n", 10, 0755);
    leave_dir("sub", 0750);
    leave_dir("sub/deeper", 0700);
    leave("sub/deeper/data.bin", "0123456789", 3000000, 0640);
    leave_dir("empty", 0700);
    leave("readonly.txt", "frozen\n", 7, 0444);
}

Test(art, crashes, .init = fresh_init)
{
    record("art::crashes");
    leave("before-crash.txt", "written before the crash\n", 25, 0644);
    if (getenv("ARTPROBE_CRASH"))
        raise(SIGSEGV);
}

Test(art, times_out, .init = fresh_init, .timeout = 1)
{
    record("art::times_out");
    leave("before-timeout.txt", "written before the timeout\n", 27, 0644);
    if (getenv("ARTPROBE_TIMEOUT"))
        for (;;)
            pause();
}

/* Three files of ARTPROBE_BIG bytes each ("a", "b", "c"), and a small one. */
Test(art, big, .init = fresh_init)
{
    record("art::big");
    const char *big = getenv("ARTPROBE_BIG");
    size_t n = big ? (size_t) strtoul(big, NULL, 10) : 10;
    leave("a.bin", "a", n, 0644);
    leave("b.bin", "b", n, 0644);
    leave("c.bin", "c", n, 0644);
    leave("z-small.txt", "small\n", 6, 0644);
}

/* Links out of the directory, a fifo, a name with a newline: none may be followed or copied. */
Test(art, hostile, .init = fresh_init)
{
    record("art::hostile");
    leave("ordinary.txt", "ordinary\n", 9, 0644);
    if (!getenv("ARTPROBE_HOSTILE"))
        return;
    char path[4200];
    snprintf(path, sizeof(path), "%s/passwd", crmp_test_artifacts());
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof(path), "%s/up", crmp_test_artifacts());
    cr_assert_eq(symlink("..", path), 0);
    snprintf(path, sizeof(path), "%s/pipe", crmp_test_artifacts());
    cr_assert_eq(mkfifo(path, 0600), 0);
    leave("new\nline", "x", 1, 0644);
}

/* A failing first try, a passing second one (with --mproc-retries): each try's are kept. */
Test(art, flaky, .init = fresh_init)
{
    record("art::flaky");
    const char *flag = getenv("ARTPROBE_FLAKY");
    if (!flag)
        return;
    int first = open(flag, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) >= 0;
    leave(first ? "first-try.txt" : "second-try.txt", "try\n", 4, 0644);
    cr_assert(!first, "failing the first try on purpose");
}

ParameterizedTestParameters(art, param)
{
    static int values[] = { 10, 20 };
    return cr_make_param_array(int, values, 2);
}

ParameterizedTest(int *v, art, param, .init = fresh_init)
{
    record("art::param");
    char text[16];
    int n = snprintf(text, sizeof(text), "%d\n", *v);
    leave("p.txt", text, (size_t) n, 0644);
}
