/*
 * sample_failing: a Criterion suite that FAILS ON PURPOSE.
 *
 * It exists to prove that failures are collected and reported correctly
 * (and that the binary exits with a non-zero status).  Each test below is
 * annotated with the outcome it is designed to produce:
 *
 *   - failed cr_assert / several failed cr_expect (messages in order)
 *   - multi-line assertion message, message with quotes and backslashes
 *   - crash with SIGSEGV (NULL dereference in the code under test)
 *   - hang, killed by `.timeout = 0.5`
 *   - unexpected exit code (exit(3) without `.exit_code`)
 *   - failing theory (cr_assume filters data, the assertion fails for some)
 *   - failing parameterized test (some parameter sets fail)
 *   - crash in an `.init` fixture
 *   - cr_log_warn / cr_log_error output
 *   - and a few tests that pass, mixed in.
 *
 * Do NOT "fix" these tests.  The code under test (calc.c) has deliberate
 * bugs too.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <criterion/theories.h>

#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "calc.h"

TestSuite(failing, .description = "Deliberately failing tests (expected to fail)");

/* --- passing tests, mixed in ------------------------------------------- */

Test(failing, clamp_inside_range_passes)
{
    cr_assert_eq(calc_clamp(5, 0, 10), 5);
}

Test(failing, clamp_at_bounds_passes)
{
    cr_expect_eq(calc_clamp(-3, 0, 10), 0);
    cr_expect_eq(calc_clamp(42, 0, 10), 10);
}

Test(failing, checksum_of_small_buffer_passes)
{
    const unsigned char data[] = { 1, 2, 3, 250 };
    cr_assert_eq(calc_checksum(data, sizeof (data)), 256u);
}

/* --- plain assertion failures ------------------------------------------ */

/* FAILS: one cr_assert; the statement after it must not run. */
Test(failing, average_rounds_to_nearest)
{
    const int values[] = { 1, 2, 2 };   /* 5 / 3 = 1.67, should round to 2 */
    cr_assert_eq(calc_average(values, 3), 2, "average of {1, 2, 2}");
    cr_assert_fail("not reached: cr_assert aborts the test");
}

/* FAILS: three failed cr_expect, reported in order (1st, 2nd and 4th); the test
 * keeps running after each of them. */
Test(failing, several_expectations_in_order)
{
    cr_expect_eq(calc_div_round(-7, 2), -4, "expectation 1 of 4: -7/2 rounds to -4");
    cr_expect_eq(calc_div_round(-9, 4), -2, "expectation 2 of 4: -9/4 rounds to -2");
    cr_expect_eq(calc_div_round(7, 2), 4, "expectation 3 of 4: 7/2 rounds to 4 (passes)");
    cr_expect_eq(calc_div_round(2, -3), -1, "expectation 4 of 4: 2/-3 rounds to -1");
}

/* FAILS: the message spans three lines. */
Test(failing, multi_line_message)
{
    const int values[] = { 10, 11 };
    cr_assert_eq(calc_average(values, 2), 11,
            "average of {10, 11} is wrong\n"
            "  expected: 11 (10.5 rounded half up)\n"
            "  note: calc_average truncates");
}

/* FAILS: the message contains double quotes and backslashes. */
Test(failing, message_with_quotes_and_backslashes)
{
    char path[64];
    calc_format_path(path, sizeof (path), "temp", "log.txt");
    cr_assert_str_eq(path, "C:\\temp\\log.txt",
            "expected \"C:\\temp\\log.txt\" but got \"%s\" (a \\ is not a /)", path);
}

/* --- crashes, hangs and exits ------------------------------------------ */

/* CRASHES: NULL dereference inside calc_checksum -> SIGSEGV. */
Test(failing, checksum_of_null_buffer_crashes)
{
    /* Sanitizers (ASan) catch SIGSEGV themselves and exit(1) instead; restore
     * the default disposition so the process really dies from the signal. */
    signal(SIGSEGV, SIG_DFL);

    unsigned sum = calc_checksum(NULL, 16);
    cr_assert_eq(sum, 0u);
}

/* TIMES OUT: nobody ever sets the flag. */
static volatile sig_atomic_t ready_flag;

Test(failing, waits_forever_and_times_out, .timeout = 0.5)
{
    calc_wait_until(&ready_flag);
    cr_assert(ready_flag);
}

/* FAILS with an unexpected exit code: calc_checked_add() calls exit(3) on
 * overflow, and the test does not declare .exit_code = 3. */
Test(failing, overflowing_add_exits_with_status_3,
        .init = cr_redirect_stderr)     /* keep calc's diagnostic out of the log */
{
    int r = calc_checked_add(0x7fffffff, 1);
    cr_assert_eq(r, 0);
}

/* CRASHES in setup: the .init fixture passes a NULL buffer to
 * calc_checksum (SIGSEGV), so the test body never runs. */
static const unsigned char *reference_data;     /* "forgot" to load it */
static unsigned reference_sum;

static void crashing_setup(void)
{
    signal(SIGSEGV, SIG_DFL);       /* see checksum_of_null_buffer_crashes */
    reference_sum = calc_checksum(reference_data, 64);
}

Test(failing, setup_crashes_before_the_test, .init = crashing_setup)
{
    cr_assert_fail("not reached: the fixture crashed");
}

/* --- logging ------------------------------------------------------------ */

/* Assertions pass, but it logs a warning and an error. */
Test(failing, logs_warning_and_error)
{
    cr_log_warn("checksum cache is cold, recomputing %d entries", 3);
    cr_log_error("could not open \"%s\"", "calc.cache");
    cr_assert_eq(calc_clamp(1, 0, 2), 1);
}

/* --- theory ------------------------------------------------------------- */

/* FAILS for negative numerators: calc_div_round is wrong there.
 * cr_assume skips the b == 0 data points. */
TheoryDataPoints(failing, div_round_matches_reference) = {
    DataPoints(int, 7, 0, -7),
    DataPoints(int, 2, 0, 3),
};

Theory((int a, int b), failing, div_round_matches_reference)
{
    cr_assume(b != 0);

    /* reference: round half away from zero */
    int q = a / b, r = a % b;
    int expected = q + ((2 * (r < 0 ? -r : r) >= (b < 0 ? -b : b)) ? ((a < 0) == (b < 0) ? 1 : -1) : 0);

    cr_assert_eq(calc_div_round(a, b), expected, "calc_div_round(%d, %d)", a, b);
}

/* --- parameterized ------------------------------------------------------ */

struct avg_case {
    int values[4];
    size_t n;
    int expected;     /* rounded half up */
};

ParameterizedTestParameters(failing, average_table)
{
    static struct avg_case cases[] = {
        { { 2, 4, 6, 0 }, 3, 4 },     /* passes */
        { { 1, 2, 0, 0 }, 2, 2 },     /* FAILS: 1.5 -> 1 */
        { { 5, 0, 0, 0 }, 1, 5 },     /* passes */
        { { 1, 1, 2, 0 }, 3, 1 },     /* passes: 1.33 -> 1 */
        { { 3, 4, 4, 4 }, 4, 4 },     /* FAILS: 3.75 -> 3 */
    };
    return cr_make_param_array(struct avg_case, cases, sizeof (cases) / sizeof (cases[0]));
}

ParameterizedTest(struct avg_case *tc, failing, average_table)
{
    cr_assert_eq(calc_average(tc->values, tc->n), tc->expected,
            "average of %zu values starting with %d", tc->n, tc->values[0]);
}
