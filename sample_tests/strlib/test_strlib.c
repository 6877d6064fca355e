/*
 * sample_strlib: example Criterion suite for the strlib string library.
 *
 * Shows: suite-level TestSuite() configuration (init/fini/description/
 * timeout), per-test fixtures, parameterized tests whose parameters are
 * cr_malloc'd strings released by a cleanup function, theories, stdout and
 * stderr redirection, and the classic cr_assert_* assertion macros.
 *
 * Every test here is expected to pass.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <criterion/theories.h>

#include <stdlib.h>
#include <string.h>

#include "strlib.h"

/* ------------------------------------------------------------------------ */
/* Suite configuration and fixtures                                          */
/* ------------------------------------------------------------------------ */

static char *scratch;           /* per-test heap buffer owned by the fixture */
static size_t scratch_size = 64;

static void suite_setup(void)
{
    /* Runs before every test of the suite, in the test's own process. */
    scratch = malloc(scratch_size);
    memset(scratch, 'X', scratch_size);
}

static void suite_teardown(void)
{
    free(scratch);
    scratch = NULL;
}

TestSuite(strlib,
        .init = suite_setup,
        .fini = suite_teardown,
        .description = "String utilities: trimming, splitting, joining, case, UTF-8",
        .timeout = 5.0);

/* ------------------------------------------------------------------------ */
/* Trimming and case conversion                                              */
/* ------------------------------------------------------------------------ */

Test(strlib, trim_removes_leading_and_trailing_spaces)
{
    char buf[] = "   hello world \t\n";
    cr_assert_str_eq(sl_trim(buf), "hello world");
}

Test(strlib, trim_keeps_inner_whitespace)
{
    char buf[] = " a  b\tc ";
    cr_assert_str_eq(sl_trim(buf), "a  b\tc");
}

Test(strlib, trim_of_blank_string_is_empty)
{
    char buf[] = " \t \r\n ";
    cr_assert_str_empty(sl_trim(buf));
}

Test(strlib, trim_of_empty_string_is_empty)
{
    char buf[] = "";
    cr_assert_str_empty(sl_trim(buf));
}

Test(strlib, to_upper_converts_ascii_letters_only)
{
    char buf[] = "Hello, World 42!";
    cr_assert_str_eq(sl_to_upper(buf), "HELLO, WORLD 42!");
}

Test(strlib, to_lower_returns_its_argument)
{
    char buf[] = "MiXeD";
    char *out = sl_to_lower(buf);
    cr_assert_eq(out, buf, "sl_to_lower must work in place");
    cr_assert_str_eq(out, "mixed");
}

/* ------------------------------------------------------------------------ */
/* Split and join                                                            */
/* ------------------------------------------------------------------------ */

Test(strlib, split_on_commas)
{
    size_t n = 0;
    char **parts = sl_split("red,green,blue", ',', &n);

    cr_assert_not_null(parts);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(parts[0], "red");
    cr_expect_str_eq(parts[1], "green");
    cr_expect_str_eq(parts[2], "blue");
    cr_expect_null(parts[3], "the array must be NULL-terminated");
    sl_free_split(parts);
}

Test(strlib, split_keeps_empty_fields)
{
    size_t n = 0;
    char **parts = sl_split(",a,,b,", ',', &n);

    cr_assert_eq(n, 5);
    cr_expect_str_empty(parts[0]);
    cr_expect_str_eq(parts[1], "a");
    cr_expect_str_empty(parts[2]);
    cr_expect_str_eq(parts[3], "b");
    cr_expect_str_empty(parts[4]);
    sl_free_split(parts);
}

Test(strlib, split_without_separator_yields_one_field)
{
    size_t n = 0;
    char **parts = sl_split("single", ';', &n);

    cr_assert_eq(n, 1);
    cr_assert_str_eq(parts[0], "single");
    sl_free_split(parts);
}

Test(strlib, join_with_multichar_separator)
{
    const char *words[] = { "alpha", "beta", "gamma" };
    char *s = sl_join(words, 3, " :: ");

    cr_assert_str_eq(s, "alpha :: beta :: gamma");
    free(s);
}

Test(strlib, join_of_nothing_is_empty)
{
    char *s = sl_join(NULL, 0, ",");

    cr_assert_not_null(s);
    cr_assert_str_empty(s);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Affixes and replacement                                                   */
/* ------------------------------------------------------------------------ */

Test(strlib, starts_with_and_ends_with)
{
    cr_expect(sl_starts_with("criterion", "crit"));
    cr_expect_not(sl_starts_with("criterion", "rion"));
    cr_expect(sl_ends_with("criterion", "rion"));
    cr_expect_not(sl_ends_with("on", "criterion"));
    cr_expect(sl_ends_with("anything", ""), "the empty suffix always matches");
}

Test(strlib, replace_every_occurrence)
{
    char *s = sl_replace("a-b-c-d", "-", " + ");

    cr_assert_str_eq(s, "a + b + c + d");
    free(s);
}

Test(strlib, replace_can_shrink_the_string)
{
    char *s = sl_replace("foo bar foo baz foo", "foo", "");

    cr_assert_str_eq(s, " bar  baz ");
    free(s);
}

Test(strlib, replace_with_empty_pattern_is_rejected)
{
    cr_assert_null(sl_replace("abc", "", "x"));
}

/* ------------------------------------------------------------------------ */
/* Safe copy, using the suite fixture's scratch buffer                       */
/* ------------------------------------------------------------------------ */

Test(strlib, copy_fits_in_buffer, .description = "sl_copy copies short strings unchanged")
{
    size_t r = sl_copy(scratch, "short", scratch_size);

    cr_assert_eq(r, 5);
    cr_assert_str_eq(scratch, "short");
}

Test(strlib, copy_truncates_and_terminates)
{
    size_t r = sl_copy(scratch, "truncate me", 6);

    cr_assert_geq(r, 6, "a return value >= dstsize signals truncation");
    cr_assert_str_eq(scratch, "trunc");
    cr_assert_eq(scratch[6], 'X', "bytes past dstsize must not be touched");
}

Test(strlib, copy_with_zero_size_writes_nothing)
{
    size_t r = sl_copy(scratch, "abc", 0);

    cr_assert_eq(r, 3);
    cr_assert_eq(scratch[0], 'X');
}

/* A test-level fixture overriding nothing but adding to the suite one. */
static char *owned;

static void make_owned(void)
{
    owned = strdup("  padded  ");
}

static void free_owned(void)
{
    free(owned);
    owned = NULL;
}

Test(strlib, fixture_string_is_trimmed_in_place,
        .init = make_owned, .fini = free_owned,
        .description = "test-level .init/.fini fixtures run around the test")
{
    cr_assert_not_null(owned);
    cr_assert_str_eq(sl_trim(owned), "padded");
}

/* ------------------------------------------------------------------------ */
/* UTF-8 length: parameterized over cr_malloc'd strings                      */
/* ------------------------------------------------------------------------ */

struct utf8_case {
    char *text;        /* cr_malloc'd: parameters live in shared memory */
    size_t expected;
};

static char *cr_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *out = cr_malloc(len);
    memcpy(out, s, len);
    return out;
}

static void free_utf8_cases(struct criterion_test_params *crp)
{
    struct utf8_case *cases = crp->params;
    for (size_t i = 0; i < crp->length; ++i)
        cr_free(cases[i].text);
    cr_free(cases);
}

ParameterizedTestParameters(strlib, utf8_length)
{
    static const struct { const char *text; size_t expected; } table[] = {
        { "",                          0 },
        { "ascii",                     5 },
        { "caf\xc3\xa9",               4 },   /* café */
        { "\xe2\x82\xac" "100",        4 },   /* €100 */
        { "\xf0\x9f\x98\x80!",         2 },   /* emoji + ! */
        { "\xce\xb1\xce\xb2\xce\xb3",  3 },   /* αβγ */
        { "\xc3",                      (size_t) -1 }, /* truncated */
        { "\xff" "abc",                (size_t) -1 }, /* invalid lead */
    };
    size_t n = sizeof (table) / sizeof (table[0]);

    struct utf8_case *cases = cr_malloc(n * sizeof (*cases));
    for (size_t i = 0; i < n; ++i) {
        cases[i].text = cr_strdup(table[i].text);
        cases[i].expected = table[i].expected;
    }
    return cr_make_param_array(struct utf8_case, cases, n, free_utf8_cases);
}

ParameterizedTest(struct utf8_case *tc, strlib, utf8_length)
{
    cr_assert_eq(sl_utf8_len(tc->text), tc->expected,
            "utf8 length of a %zu-byte string", strlen(tc->text));
}

/* ------------------------------------------------------------------------ */
/* Theory: split and join are inverses                                       */
/* ------------------------------------------------------------------------ */

TheoryDataPoints(strlib, split_then_join_round_trips) = {
    DataPoints(const char *, "", "a", "a,b", ",,", "one,two,three", "x,,y"),
    DataPoints(char, ',', ';'),
};

Theory((const char *input, char sep), strlib, split_then_join_round_trips)
{
    /* Only inputs that do not contain the other separator are meaningful. */
    cr_assume(sep == ',' || strchr(input, ',') == NULL);

    size_t n = 0;
    char **parts = sl_split(input, sep, &n);
    char sepstr[2] = { sep, '\0' };
    char *joined = sl_join((const char *const *) parts, n, sepstr);

    cr_assert_str_eq(joined, input);
    free(joined);
    sl_free_split(parts);
}

TheoryDataPoints(strlib, upper_then_lower_is_lower) = {
    DataPoints(const char *, "abc", "ABC", "MiXeD 123", "", "snake_case"),
};

Theory((const char *input), strlib, upper_then_lower_is_lower)
{
    char a[32], b[32];
    cr_assume_lt(strlen(input), sizeof (a));
    sl_copy(a, input, sizeof (a));
    sl_copy(b, input, sizeof (b));
    cr_assert_str_eq(sl_to_lower(sl_to_upper(a)), sl_to_lower(b));
}

/* ------------------------------------------------------------------------ */
/* Output: stdout / stderr redirection                                       */
/* ------------------------------------------------------------------------ */

Test(strlib, print_centered_pads_both_sides, .init = cr_redirect_stdout)
{
    sl_print_centered("hi", 6);
    sl_print_centered("odd", 6);
    cr_assert_stdout_eq_str("|  hi  |\n| odd  |\n");
}

Test(strlib, warn_writes_prefixed_line_to_stderr, .init = cr_redirect_stderr)
{
    sl_warn("disk almost full");
    fflush(stderr);
    cr_assert_stderr_eq_str("strlib: disk almost full\n");
}

Test(strlib, logs_an_informational_message)
{
    char buf[] = "  log me  ";
    cr_log_info("trimmed value is \"%s\"", sl_trim(buf));
    cr_assert_str_eq(buf + 2, "log me");
}
