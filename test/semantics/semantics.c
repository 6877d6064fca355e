/*
 * semantics: every Criterion test semantic that fork isolation must keep,
 * in one binary.  compare.py runs it serially (-j1) and through the plugin
 * in both isolation modes; the two must print and report the same.
 *
 * Many tests here fail on purpose: what matters is that they fail the same
 * way everywhere.  Output is deterministic (no pids, no times).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <criterion/theories.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- old assertion API --------------------------------------------------- */

Test(old_api, passing_mix)
{
    int arr[] = { 1, 2, 3 }, same[] = { 1, 2, 3 };
    cr_assert(1 + 1 == 2);
    cr_expect_eq(2 * 2, 4, "with a message %d", 4);
    cr_assert_str_eq("abc", "abc");
    cr_assert_arr_eq(arr, same, sizeof(arr));
    cr_assert_float_eq(0.1 + 0.2, 0.3, 1e-9);
    cr_assert_null(NULL);
    cr_assert_not_null(arr);
}

Test(old_api, expect_keeps_going)
{
    cr_expect_eq(1, 2);
    cr_expect_eq(3, 4, "second expectation: %s", "also wrong");
    cr_expect_neq(5, 5, "%d", 5);
    cr_assert_lt(2, 1, "assert ends it");
    cr_expect(0, "not reached");
}

Test(old_api, string_messages)
{
    cr_expect_str_eq("left", "right");
    cr_expect_str_empty("not empty", "tab\there, newline\nthere");
    cr_assert_fail("percent %% and quote \" and backslash \\");
}

Test(old_api, no_message_at_all)
{
    cr_assert(0);
}

/* ---- skips, disabled, logging --------------------------------------------- */

Test(misc, skip_test)
{
    cr_log_info("before the skip");
    cr_skip_test("not today: %s", "reasons");
}

Test(misc, skip_without_message)
{
    cr_skip_test();
}

Test(misc, disabled_test, .disabled = true)
{
    cr_assert_fail("never runs");
}

Test(misc, logs)
{
    cr_log_info("info %d", 1);
    cr_log_warn("warn %s", "two");
    cr_log_error("error %c", '3');
    cr_log(CR_LOG_INFO, "%s", "cr_log directly");
}

/* Prints nothing on 2.4; kills 2.3.3's runner (see README, "Supported Criterion releases"). */
Test(misc, log_empty_message)
{
    cr_log_info("%s", "");
}

Test(misc, description_only, .description = "has a description") {}

/* ---- signals, exit codes, timeouts ---------------------------------------- */

Test(ends, expected_signal, .signal = SIGSEGV)
{
    raise(SIGSEGV);
}

Test(ends, expected_signal_missing, .signal = SIGSEGV) {}

Test(ends, unexpected_abort)
{
    abort();
}

Test(ends, expected_exit_code, .exit_code = 7)
{
    exit(7);
}

Test(ends, wrong_exit_code, .exit_code = 7)
{
    exit(8);
}

Test(ends, exit_zero_in_main)
{
    exit(0);
}

Test(ends, unexpected_exit)
{
    _exit(2);
}

Test(ends, times_out, .timeout = 0.3)
{
    for (;;)
        pause();
}

Test(ends, signal_and_assert, .signal = SIGABRT)
{
    cr_expect_eq(1, 2, "failed before the expected abort");
    abort();
}

/* ---- fixtures -------------------------------------------------------------- */

static int fixture_value;

static void suite_init(void) { fixture_value = 40; }
static void suite_fini(void) { cr_log_info("suite fini ran"); }
static void test_init(void) { fixture_value += 2; }
static void crash_now(void) { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); }
static void exit_now(void) { exit(5); }
static void assert_in_fixture(void) { cr_assert_fail("assert in a fixture"); }
static void skip_in_init(void) { cr_skip_test("skipped from init"); }

TestSuite(fixtures, .init = suite_init, .fini = suite_fini);

Test(fixtures, both_inits_ran, .init = test_init)
{
    cr_assert_eq(fixture_value, 42);
}

Test(fixtures, crash_in_init, .init = crash_now)
{
    cr_assert_fail("not reached");
}

Test(fixtures, crash_in_fini, .fini = crash_now)
{
    cr_assert(1);
}

Test(fixtures, exit_in_init, .init = exit_now) {}

Test(fixtures, exit_in_fini, .fini = exit_now) {}

Test(fixtures, assert_in_init, .init = assert_in_fixture) {}

Test(fixtures, assert_in_fini, .fini = assert_in_fixture) {}

Test(fixtures, skip_in_init, .init = skip_in_init) {}

TestSuite(disabled_suite, .disabled = true);

Test(disabled_suite, never_runs)
{
    cr_assert_fail("the suite is disabled");
}

TestSuite(suite_timeout, .timeout = 0.3);

Test(suite_timeout, inherits_the_timeout)
{
    for (;;)
        pause();
}

/* ---- parameterized ---------------------------------------------------------- */

struct named {
    char *name;
    int value;
};

static void named_cleanup(struct criterion_test_params *p)
{
    struct named *v = p->params;
    for (size_t i = 0; i < p->length; ++i)
        cr_free(v[i].name);
    cr_free(v);
}

ParameterizedTestParameters(params, cr_malloc_strings)
{
    const size_t n = 4;
    struct named *v = cr_malloc(sizeof(*v) * n);
    for (size_t i = 0; i < n; ++i) {
        v[i].name = cr_malloc(16);
        snprintf(v[i].name, 16, "item-%zu", i);
        v[i].value = (int) i;
    }
    return cr_make_param_array(struct named, v, n, named_cleanup);
}

ParameterizedTest(struct named *p, params, cr_malloc_strings)
{
    char expect[16];
    snprintf(expect, sizeof(expect), "item-%d", p->value);
    cr_assert_str_eq(p->name, expect);
    cr_expect_neq(p->value, 2, "value 2 fails on purpose (%s)", p->name);
}

ParameterizedTestParameters(params, plain_ints)
{
    static int v[] = { 1, 2, 3 };
    return cr_make_param_array(int, v, 3);
}

ParameterizedTest(int *v, params, plain_ints)
{
    cr_assert_lt(*v, 3);
}

ParameterizedTestParameters(params, crash_one)
{
    static int v[] = { 0, 1 };
    return cr_make_param_array(int, v, 2);
}

ParameterizedTest(int *v, params, crash_one)
{
    if (*v) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
}

/* Over fork isolation's 64 KiB limit: the worker runs it in exec mode, and says so. */
struct big {
    char bytes[70 * 1024];
    int index;
};

ParameterizedTestParameters(params, big_parameter)
{
    static struct big v[2];
    for (int i = 0; i < 2; ++i) {
        memset(v[i].bytes, 'a' + i, sizeof(v[i].bytes));
        v[i].index = i;
    }
    return cr_make_param_array(struct big, v, 2);
}

ParameterizedTest(struct big *p, params, big_parameter)
{
    cr_assert_eq(p->bytes[sizeof(p->bytes) - 1], 'a' + p->index);
}

/* ---- theories ---------------------------------------------------------------- */

TheoryDataPoints(theories, passes) = {
    DataPoints(int, 1, 2, 3),
    DataPoints(long, 10L, 20L),
};

Theory((int a, long b), theories, passes)
{
    cr_assert_lt(a, b);
}

TheoryDataPoints(theories, some_fail) = {
    DataPoints(int, -1, 0, 1, 2),
    DataPoints(char *, "x", "yy"),
};

Theory((int a, char *s), theories, some_fail)
{
    cr_assume(a != 0);
    cr_assert_gt(a + (int) strlen(s), 2, "a=%d s=%s", a, s);
}

/* ---- redirections -------------------------------------------------------------- */

static void redirect_both(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
}

Test(redirect, stdout_matches, .init = redirect_both)
{
    printf("hello, stdout");
    fflush(stdout);
    fprintf(stderr, "hello, stderr");
    fflush(stderr);
    cr_assert_stdout_eq_str("hello, stdout");
    cr_assert_stderr_eq_str("hello, stderr");
}

Test(redirect, stdout_differs, .init = cr_redirect_stdout)
{
    printf("something else");
    fflush(stdout);
    cr_assert_stdout_eq_str("expected text");
}

Test(redirect, stdin_fed, .init = cr_redirect_stdin)
{
    FILE *in = cr_get_redirected_stdin();
    fputs("42\n", in);
    fclose(in);
    int v = 0;
    cr_assert_eq(scanf("%d", &v), 1);
    cr_assert_eq(v, 42);
}

Test(redirect, plain_output)
{
    printf("plain stdout line\n");
    fprintf(stderr, "plain stderr line\n");
}

/* ---- state is fresh in every test ------------------------------------------------ */

static int counter;

Test(fresh, first)
{
    cr_assert_eq(counter++, 0, "a global is as at start-up");
}

Test(fresh, second)
{
    cr_assert_eq(counter++, 0, "a global is as at start-up");
}

/* ---- the test's own output, in its place among its assertions -------------------- */

/*
 * Serially, what a test writes goes straight to the terminal while the
 * runner prints each assertion as it comes: the output lands between them,
 * and glibc's last word before an abort() lands before the crash line.
 */
Test(own_output, between_assertions_then_crash)
{
    fprintf(stderr, "own output: before the first assertion\n");
    cr_expect_fail("first failure");
    fprintf(stderr, "own output: between the assertions\n");
    cr_log_info("a log line among the output");
    fprintf(stderr, "own output: after the log line\n");
    cr_expect_fail("second failure");
    printf("own stdout, flushed\n");
    fflush(stdout);
    /* What glibc writes before it aborts on a bad free(). */
    fputs("munmap_chunk(): invalid pointer\n", stderr);
    abort();
}

Test(own_output, after_the_last_assertion)
{
    cr_expect_fail("the only failure");
    fprintf(stderr, "own output: after the last assertion\n");
}
