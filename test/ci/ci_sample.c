/*
 * The sample test/ci/ci.py runs for the CI features (--mproc-junit,
 * --mproc-retries, --mproc-rerun-failed, annotations).  Tests that behave
 * differently on each try count their tries in a file of CI_STATE_DIR, a
 * directory the harness makes for each run: no sleeps, no clocks.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

/* This try's number (1 for the first) of the test that keeps its count in file name. */
static int ci_try(const char *name)
{
    const char *dir = getenv("CI_STATE_DIR");
    char path[4096];
    if (!dir)
        return 1;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        return 1;
    flock(fd, LOCK_EX);
    char buf[16] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    int tries = (n > 0 ? atoi(buf) : 0) + 1;
    int len = snprintf(buf, sizeof(buf), "%d", tries);
    if (pwrite(fd, buf, (size_t) len, 0) != len)
        tries = 1;
    close(fd);
    return tries;
}

Test(ci, passes)
{
    /* Markup and bytes XML cannot carry: the report must still parse. */
    printf("out: <tag> & \"quotes\" \x01 \xff\n");
    fprintf(stderr, "err: plain\n");
}

Test(ci, fails_first_try)
{
    int n = ci_try("fails_first_try");
    printf("fails_first_try: try %d\n", n);
    cr_assert(n >= 2, "fails on its first try only (try %d)", n);
}

Test(ci, crashes_first_try)
{
    int n = ci_try("crashes_first_try");
    if (n < 2) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    cr_assert(n >= 2);
}

Test(ci, always_fails)
{
    printf("always_fails: try %d\n", ci_try("always_fails"));
    cr_assert_fail("fails on every try");
}

Test(ci, skipped)
{
    cr_skip_test("not on this machine");
}

ParameterizedTestParameters(ci, params)
{
    static int values[] = { 1, 2, 3 };
    return cr_make_param_array(int, values, sizeof(values) / sizeof(values[0]));
}

ParameterizedTest(int *v, ci, params)
{
    cr_assert(*v != 2, "param %d fails", *v);
}

#ifdef CI_ANNOTATE
#include <criterion-mproc.h>

/* Built as ci_sample_annotated: only this test has tries of its own. */
CRMP_SCHEDULE(ci, fails_first_try, .retries = 1);
#endif
