/*
 * hookprobe: a Criterion binary whose report hooks append one line per call
 * to the file named by $CRMP_HOOK_LOG (one O_APPEND write per line, so lines
 * from several processes never interleave).  behaviour.py compares the lines
 * of a serial run with those of a --mproc run.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/parameterized.h>

static void probe_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void probe_log(const char *fmt, ...)
{
    const char *path = getenv("CRMP_HOOK_LOG");
    if (!path)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n > sizeof(line) - 2)
        n = (int) sizeof(line) - 2;
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t) n);
    (void) w;
    close(fd);
}

static const char *probe_status(const struct criterion_test_stats *s)
{
    if (s->crashed)
        return "crashed";
    switch (s->test_status) {
    case CR_STATUS_PASSED: return "passed";
    case CR_STATUS_FAILED: return "failed";
    case CR_STATUS_SKIPPED: return "skipped";
    }
    return "?";
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    probe_log("PRE_ALL tests=%zu", set->tests);
}

ReportHook(PRE_SUITE)(struct criterion_suite_set *set)
{
    probe_log("PRE_SUITE %s", set->suite.name);
}

ReportHook(PRE_INIT)(struct criterion_test *test)
{
    probe_log("PRE_INIT %s::%s", test->category, test->name);
}

ReportHook(PRE_TEST)(struct criterion_test *test)
{
    probe_log("PRE_TEST %s::%s", test->category, test->name);
}

ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
    probe_log("POST_TEST %s::%s %s asserts=%d/%d", stats->test->category, stats->test->name,
            probe_status(stats), stats->passed_asserts, stats->failed_asserts);
}

ReportHook(POST_FINI)(struct criterion_test_stats *stats)
{
    probe_log("POST_FINI %s::%s", stats->test->category, stats->test->name);
}

ReportHook(POST_SUITE)(struct criterion_suite_stats *stats)
{
    probe_log("POST_SUITE %s tests=%zu passed=%zu failed=%zu skipped=%zu crashed=%zu",
            stats->suite->name, stats->nb_tests, stats->tests_passed, stats->tests_failed,
            stats->tests_skipped, stats->tests_crashed);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    probe_log("POST_ALL suites=%zu tests=%zu passed=%zu failed=%zu skipped=%zu crashed=%zu "
            "asserts=%zu/%zu", stats->nb_suites, stats->nb_tests, stats->tests_passed,
            stats->tests_failed, stats->tests_skipped, stats->tests_crashed,
            stats->asserts_passed, stats->asserts_failed);
}

/* ---- the tests the hooks watch ---------------------------------------------------- */

TestSuite(alpha, .description = "first suite");

Test(alpha, passes)
{
    cr_assert_eq(1 + 1, 2);
    cr_expect(1);
}

Test(alpha, fails)
{
    cr_expect_eq(2 * 2, 5, "arithmetic is broken");
    cr_assert(0, "second failure");
}

Test(alpha, skipped)
{
    cr_skip_test("not today");
}

Test(alpha, disabled, .disabled = true)
{
    cr_assert_fail("never runs");
}

ParameterizedTestParameters(alpha, params)
{
    static int values[] = { 1, 2, 3 };
    return cr_make_param_array(int, values, sizeof(values) / sizeof(values[0]));
}

ParameterizedTest(int *v, alpha, params)
{
    cr_assert_lt(*v, 3, "value %d", *v);
}

Test(beta, one)
{
    cr_assert(1);
}

Test(beta, two)
{
    cr_assert_str_eq("a", "a");
}

Test(beta, crashes)
{
    volatile int *volatile p = NULL;
    *p = 1;
}
