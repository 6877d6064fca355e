/*
 * Unit tests for plugin/units.c: the test-list fingerprint that tells the
 * coordinator two workers run the same binary, and the enumeration of units
 * (tests, or parameters of parameterized tests) in Criterion's order.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/internal/ordered-set.h>
#include <criterion/parameterized.h>

#include "units.h"

/* ---- fingerprints ------------------------------------------------------------ */

struct t_entry {
    const char *suite;
    const char *name;
    int param;
};

static void t_fingerprint(const struct t_entry *list, size_t n, uint8_t out[32])
{
    struct crmpi_fingerprint fp = { 0 };
    cr_assert_eq(crmpi_fingerprint_begin(&fp), 0);
    cr_assert_not_null(fp.ctx);
    for (size_t i = 0; i < n; ++i)
        cr_assert_eq(crmpi_fingerprint_add(&fp, list[i].suite, list[i].name, list[i].param), 0);
    memset(out, 0xa5, 32);
    cr_assert_eq(crmpi_fingerprint_end(&fp, out), 0);
    cr_assert_null(fp.ctx, "fingerprint_end must release the context");
}

static int t_same(const struct t_entry *a, size_t na, const struct t_entry *b, size_t nb)
{
    uint8_t fa[32], fb[32];
    t_fingerprint(a, na, fa);
    t_fingerprint(b, nb, fb);
    return !memcmp(fa, fb, 32);
}

#define T_N(a) (sizeof(a) / sizeof((a)[0]))

static const struct t_entry t_base[] = {
    { "strlib", "upper", -1 },
    { "strlib", "lower", -1 },
    { "failing", "average_table", 0 },
    { "failing", "average_table", 1 },
};

Test(fingerprint, deterministic)
{
    uint8_t a[32], b[32];
    t_fingerprint(t_base, T_N(t_base), a);
    t_fingerprint(t_base, T_N(t_base), b);
    cr_assert_arr_eq(a, b, 32);
}

Test(fingerprint, independent_of_string_addresses)
{
    char suite[] = "strlib", up[] = "upper", low[] = "lower", f[] = "failing", avg[] = "average_table";
    const struct t_entry copy[] = {
        { suite, up, -1 }, { suite, low, -1 }, { f, avg, 0 }, { f, avg, 1 },
    };
    cr_assert(t_same(t_base, T_N(t_base), copy, T_N(copy)));
}

Test(fingerprint, is_a_full_digest)
{
    uint8_t a[32];
    t_fingerprint(t_base, T_N(t_base), a);
    int nonzero = 0;
    for (size_t i = 0; i < 32; ++i)
        nonzero += a[i] != 0 && a[i] != 0xa5;
    cr_assert_gt(nonzero, 16, "the 32 bytes do not look like a digest");
}

Test(fingerprint, empty_list_differs_from_any_list)
{
    const struct t_entry one[] = { { "", "", -1 } };
    cr_assert_not(t_same(NULL, 0, one, 1));
    cr_assert(t_same(NULL, 0, NULL, 0));
}

Test(fingerprint, sensitive_to_suite)
{
    struct t_entry x[T_N(t_base)];
    memcpy(x, t_base, sizeof(x));
    x[1].suite = "strlab";
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
}

Test(fingerprint, sensitive_to_name)
{
    struct t_entry x[T_N(t_base)];
    memcpy(x, t_base, sizeof(x));
    x[0].name = "Upper";
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
}

Test(fingerprint, sensitive_to_param)
{
    struct t_entry x[T_N(t_base)];
    memcpy(x, t_base, sizeof(x));
    x[3].param = 2;
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
    memcpy(x, t_base, sizeof(x));
    x[0].param = 1;     /* -1 and 1 must differ */
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
    x[0].param = 0;     /* -1 and 0 must differ */
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
}

Test(fingerprint, sensitive_to_order)
{
    struct t_entry x[T_N(t_base)];
    memcpy(x, t_base, sizeof(x));
    x[0] = t_base[1];
    x[1] = t_base[0];
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
}

Test(fingerprint, sensitive_to_length)
{
    cr_assert_not(t_same(t_base, T_N(t_base), t_base, T_N(t_base) - 1));
    struct t_entry x[T_N(t_base) + 1];
    memcpy(x, t_base, sizeof(t_base));
    x[T_N(t_base)] = t_base[T_N(t_base) - 1];   /* a duplicate at the end */
    cr_assert_not(t_same(t_base, T_N(t_base), x, T_N(x)));
}

Test(fingerprint, field_boundaries_are_unambiguous)
{
    const struct t_entry a[] = { { "ab", "c", -1 } };
    const struct t_entry b[] = { { "a", "bc", -1 } };
    cr_assert_not(t_same(a, 1, b, 1));

    const struct t_entry c[] = { { "s", "t1", -1 } };
    const struct t_entry d[] = { { "s", "t", 1 } };
    cr_assert_not(t_same(c, 1, d, 1));

    const struct t_entry e[] = { { "s", "t", 12 } };
    const struct t_entry f[] = { { "s", "t", 1 }, { "2", "", -1 } };
    cr_assert_not(t_same(e, 1, f, 2));
}

/* ---- enumeration ------------------------------------------------------------- */

static int t_cmp_suite(void *a, void *b)
{
    return strcmp(((struct criterion_suite_set *) a)->suite.name,
            ((struct criterion_suite_set *) b)->suite.name);
}

static int t_cmp_test(void *a, void *b)
{
    return strcmp(((struct criterion_test *) a)->name, ((struct criterion_test *) b)->name);
}

static int t_three[3];
static int t_cleanups;

static void t_cleanup(struct criterion_test_params *p)
{
    (void) p;
    ++t_cleanups;
}

static struct criterion_test_params t_params_three(void)
{
    return (struct criterion_test_params) { sizeof(int), t_three, 3, t_cleanup };
}

static struct criterion_test_extra_data t_plain = { .kind_ = CR_TEST_NORMAL };
static struct criterion_test_extra_data t_param3 = {
    .kind_ = CR_TEST_PARAMETERIZED, .param_ = t_params_three,
};
static struct criterion_test_extra_data t_param_disabled = {
    .kind_ = CR_TEST_PARAMETERIZED, .param_ = t_params_three, .disabled = true,
};
static struct criterion_test_extra_data t_suite_off = { .disabled = true };
static struct criterion_test_extra_data t_suite_on = { .disabled = false };

static void t_add_test(struct criterion_ordered_set *tests, const char *suite, const char *name,
        struct criterion_test_extra_data *data)
{
    struct criterion_test t = { .name = name, .category = suite, .data = data };
    cr_assert_not_null(insert_ordered_set(tests, &t, sizeof(t)));
}

static void t_add_suite(struct criterion_ordered_set *suites, const char *name,
        struct criterion_test_extra_data *data, struct criterion_ordered_set *tests)
{
    struct criterion_suite_set ss = { .suite = { .name = name, .data = data }, .tests = tests };
    cr_assert_not_null(insert_ordered_set(suites, &ss, sizeof(ss)));
}

/* Suites a (enabled), b (disabled) and "empty", their tests to be added to *a and *b. */
static struct criterion_ordered_set *t_suites(struct criterion_ordered_set **a,
        struct criterion_ordered_set **b)
{
    struct criterion_ordered_set *suites = new_ordered_set(t_cmp_suite, NULL);
    *a = new_ordered_set(t_cmp_test, NULL);
    *b = new_ordered_set(t_cmp_test, NULL);
    cr_assert(suites && *a && *b);
    t_add_suite(suites, "b", &t_suite_off, *b);
    t_add_suite(suites, "a", &t_suite_on, *a);
    t_add_suite(suites, "empty", NULL, NULL);
    return suites;
}

Test(enumerate, units_in_order_with_parameters_expanded)
{
    struct criterion_ordered_set *a, *b, *suites = t_suites(&a, &b);
    t_add_test(a, "a", "plain", &t_plain);
    t_add_test(a, "a", "params", &t_param3);
    t_add_test(a, "a", "disabled_params", &t_param_disabled);
    t_add_test(b, "b", "one", &t_param3);
    t_add_test(b, "b", "two", &t_plain);

    struct crmpi_units u;
    t_cleanups = 0;
    cr_assert_eq(crmpi_units_enumerate(suites, &u), 0);

    /* Set order: a (disabled_params, params, plain), then b. */
    const struct { const char *suite, *name; int param; } want[] = {
        { "a", "disabled_params", -1 },
        { "a", "params", 0 }, { "a", "params", 1 }, { "a", "params", 2 },
        { "a", "plain", -1 },
        { "b", "one", -1 },     /* the whole suite is disabled: one unit */
        { "b", "two", -1 },
    };
    cr_assert_eq(u.n, sizeof(want) / sizeof(want[0]), "%zu units", u.n);
    for (size_t i = 0; i < u.n; ++i) {
        cr_assert_str_eq(u.v[i].suite->suite.name, want[i].suite, "unit %zu", i);
        cr_assert_str_eq(u.v[i].test->name, want[i].name, "unit %zu", i);
        cr_assert_eq(u.v[i].param, want[i].param, "unit %zu (%s)", i, want[i].name);
    }
    cr_assert_eq(t_cleanups, 1, "the parameter cleanup ran %d times", t_cleanups);

    crmpi_units_free(&u);
    cr_assert_null(u.v);
    cr_assert_eq(u.n, 0);
    crmpi_units_free(&u);   /* twice is harmless */
}

Test(enumerate, no_suites)
{
    struct criterion_ordered_set *suites = new_ordered_set(t_cmp_suite, NULL);
    cr_assert_not_null(suites);
    struct crmpi_units u = { (struct crmpi_unit *) 0x1, 42 };
    cr_assert_eq(crmpi_units_enumerate(suites, &u), 0);
    cr_assert_eq(u.n, 0);
    crmpi_units_free(&u);
}

/* A worker host starts no more workers than this (issue 10, 9: 512 for 4 tests). */
Test(enumerate, most_counts_tests_unless_a_generator_would_tell)
{
    struct criterion_ordered_set *a, *b, *suites = t_suites(&a, &b);
    cr_assert_eq(crmpi_units_most(suites), 0);
    t_add_test(a, "a", "plain", &t_plain);
    t_add_test(a, "a", "disabled_params", &t_param_disabled);
    t_add_test(b, "b", "one", &t_param3);
    t_cleanups = 0;
    cr_assert_eq(crmpi_units_most(suites), 3, "disabled ones are one unit each");
    t_add_test(a, "a", "params", &t_param3);
    cr_assert_eq(crmpi_units_most(suites), 0, "an enabled parameterized test: unknown");
    cr_assert_eq(t_cleanups, 0, "a generator was called");
}

/* ---- the executable's content --------------------------------------------------- */

Test(units, fd_hash_is_sha256_of_the_content)
{
    char path[] = "/tmp/crmp-units-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(write(fd, "abc", 3), 3);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    uint8_t got[32];
    cr_assert_eq(crmpi_fd_hash(fd, got), 0);
    close(fd);
    static const uint8_t want[32] = {   /* FIPS 180-2, SHA-256("abc") */
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
        0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
        0xf2, 0x00, 0x15, 0xad,
    };
    cr_expect_arr_eq(got, want, 32);
}

Test(units, exe_hash_is_the_hash_of_the_running_binary)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    cr_assert_gt(len, 0);
    exe[len] = '\0';
    int fd = open(exe, O_RDONLY);
    cr_assert_geq(fd, 0);
    uint8_t by_path[32], mine[32];
    cr_assert_eq(crmpi_fd_hash(fd, by_path), 0);
    close(fd);
    cr_assert_eq(crmpi_exe_hash(mine), 0);
    cr_expect_arr_eq(mine, by_path, 32);
}
