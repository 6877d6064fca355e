/*
 * Unit tests for plugin/testindex.c: finding a test of the set by suite and
 * name (a hash table: start-up is linear in the number of tests), and
 * whether a worker's unit list is exactly the set's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/internal/ordered-set.h>

#include "testindex.h"

static int t_cmp_suite(void *a, void *b)
{
    return strcmp(((struct criterion_suite_set *) a)->suite.name,
            ((struct criterion_suite_set *) b)->suite.name);
}

static int t_cmp_test(void *a, void *b)
{
    return strcmp(((struct criterion_test *) a)->name, ((struct criterion_test *) b)->name);
}

static struct criterion_test_extra_data t_plain = { .kind_ = CR_TEST_NORMAL };
static struct criterion_test_extra_data t_param = { .kind_ = CR_TEST_PARAMETERIZED };

static struct criterion_ordered_set *t_suite(struct criterion_ordered_set *suites,
        const char *name)
{
    struct criterion_ordered_set *tests = new_ordered_set(t_cmp_test, NULL);
    cr_assert_not_null(tests);
    struct criterion_suite_set ss = { .suite = { .name = name }, .tests = tests };
    cr_assert_not_null(insert_ordered_set(suites, &ss, sizeof(ss)));
    return tests;
}

static void t_test(struct criterion_ordered_set *tests, const char *suite, const char *name,
        struct criterion_test_extra_data *data)
{
    struct criterion_test t = { .name = name, .category = suite, .data = data };
    cr_assert_not_null(insert_ordered_set(tests, &t, sizeof(t)));
}

/* suite "ab" { c, d (parameterized) }, suite "a" { bc }, suite "empty" (no tests). */
static struct criterion_test_set t_small(void)
{
    struct criterion_ordered_set *suites = new_ordered_set(t_cmp_suite, NULL);
    cr_assert_not_null(suites);
    struct criterion_ordered_set *ab = t_suite(suites, "ab");
    t_test(ab, "ab", "c", &t_plain);
    t_test(ab, "ab", "d", &t_param);
    struct criterion_ordered_set *a = t_suite(suites, "a");
    t_test(a, "a", "bc", &t_plain);
    struct criterion_suite_set empty = { .suite = { .name = "empty" } };
    cr_assert_not_null(insert_ordered_set(suites, &empty, sizeof(empty)));
    return (struct criterion_test_set) { .suites = suites, .tests = 3 };
}

static void t_expect_found(const struct crmpi_testindex *ix, const char *suite, const char *name)
{
    struct criterion_suite_set *ss = NULL;
    struct criterion_test *t = NULL;
    cr_assert_eq(crmpi_testindex_find(ix, suite, name, &ss, &t), 0, "%s::%s not found",
            suite, name);
    cr_expect_str_eq(ss->suite.name, suite);
    cr_expect_str_eq(t->name, name);
}

Test(testindex, finds_each_test_and_only_those)
{
    struct criterion_test_set set = t_small();
    struct crmpi_testindex ix;
    cr_assert_eq(crmpi_testindex_init(&ix, &set), 0);
    t_expect_found(&ix, "ab", "c");
    t_expect_found(&ix, "ab", "d");
    t_expect_found(&ix, "a", "bc");
    struct criterion_suite_set *ss = NULL;
    struct criterion_test *t = NULL;
    /* Where suite and name meet is part of the key. */
    cr_expect_eq(crmpi_testindex_find(&ix, "a", "bd", &ss, &t), -ENOENT);
    cr_expect_eq(crmpi_testindex_find(&ix, "abc", "", &ss, &t), -ENOENT);
    cr_expect_eq(crmpi_testindex_find(&ix, "", "abc", &ss, &t), -ENOENT);
    cr_expect_eq(crmpi_testindex_find(&ix, "empty", "c", &ss, &t), -ENOENT);
    cr_expect_null(ss, "a miss set the suite");
    cr_expect_null(t, "a miss set the test");
    crmpi_testindex_free(&ix);
    cr_expect_eq(crmpi_testindex_find(&ix, "ab", "c", &ss, &t), -ENOENT, "a freed index finds");
    crmpi_testindex_free(&ix);  /* twice is harmless */
}

Test(testindex, many_tests_all_found)
{
    enum { SUITES = 7, PER = 3000 };
    static char names[SUITES * PER][16];
    static char suite_names[SUITES][16];
    struct criterion_ordered_set *suites = new_ordered_set(t_cmp_suite, NULL);
    cr_assert_not_null(suites);
    for (int s = 0; s < SUITES; ++s) {
        snprintf(suite_names[s], sizeof(suite_names[s]), "s%d", s);
        struct criterion_ordered_set *tests = t_suite(suites, suite_names[s]);
        for (int i = 0; i < PER; ++i) {
            char *n = names[s * PER + i];
            snprintf(n, sizeof(names[0]), "t%d", i);
            t_test(tests, suite_names[s], n, &t_plain);
        }
    }
    struct criterion_test_set set = { .suites = suites, .tests = SUITES * PER };
    struct crmpi_testindex ix;
    cr_assert_eq(crmpi_testindex_init(&ix, &set), 0);
    for (int s = 0; s < SUITES; ++s)
        for (int i = 0; i < PER; ++i) {
            struct criterion_suite_set *ss;
            struct criterion_test *t;
            cr_assert_eq(crmpi_testindex_find(&ix, suite_names[s], names[s * PER + i], &ss, &t),
                    0, "%s::%s", suite_names[s], names[s * PER + i]);
            cr_assert_eq(t->name, names[s * PER + i]);
        }
    crmpi_testindex_free(&ix);
}

/* A hello's unit list, as the coordinator keeps it (wire_units.h). */
struct t_hello {
    Crmp__Hello hello;
    Crmp__Unit units[8];
    Crmp__Unit *ptrs[8];
    struct crmpi_wire_units list;
};

static void t_hello(struct t_hello *h, const char *const (*list)[2], size_t n)
{
    h->hello = (Crmp__Hello) CRMP__HELLO__INIT;
    for (size_t i = 0; i < n; ++i) {
        h->units[i] = (Crmp__Unit) CRMP__UNIT__INIT;
        h->units[i].suite = (char *) list[i][0];
        h->units[i].name = (char *) list[i][1];
        h->ptrs[i] = &h->units[i];
    }
    h->hello.units = h->ptrs;
    h->hello.n_units = n;
    crmpi_wire_units_free(&h->list);
    cr_assert_eq(crmpi_wire_units_from_hello(&h->hello, &h->list), 0);
}

Test(testindex, same_tests)
{
    struct criterion_test_set set = t_small();
    struct crmpi_testindex ix;
    cr_assert_eq(crmpi_testindex_init(&ix, &set), 0);
    struct t_hello h = { .list = { 0 } };

    const char *const all[][2] = { { "a", "bc" }, { "ab", "c" }, { "ab", "d" }, { "ab", "d" } };
    t_hello(&h, all, 4);
    cr_expect(crmpi_testindex_same(&ix, &h.list), "the whole list");

    const char *const no_params[][2] = { { "a", "bc" }, { "ab", "c" } };
    t_hello(&h, no_params, 2);
    cr_expect(crmpi_testindex_same(&ix, &h.list), "a generator may yield no parameter");

    const char *const missing[][2] = { { "ab", "c" }, { "ab", "d" } };
    t_hello(&h, missing, 2);
    cr_expect_not(crmpi_testindex_same(&ix, &h.list), "a plain test is missing");

    const char *const extra[][2] = { { "a", "bc" }, { "ab", "c" }, { "ab", "e" } };
    t_hello(&h, extra, 3);
    cr_expect_not(crmpi_testindex_same(&ix, &h.list), "a test the set lacks");

    const char *const twice[][2] = { { "a", "bc" }, { "a", "bc" }, { "ab", "c" } };
    t_hello(&h, twice, 3);
    cr_expect(crmpi_testindex_same(&ix, &h.list), "a name repeated in a row counts once");
    crmpi_wire_units_free(&h.list);
    crmpi_testindex_free(&ix);
}
