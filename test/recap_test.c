/*
 * Unit tests for plugin/recap.c: which tests the recap lists after the
 * Synthesis, with which status and detail, and the efficiency line.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "recap.h"

static struct criterion_test r_test = { .name = "t", .category = "s" };

/* One unit whose result has final stats st, its events and asserts (newest first). */
struct r_unit {
    Crmp__TestStats st;
    Crmp__AssertStats a[3];
    Crmp__AssertStats *ap[3];
    Crmp__Event ev[3];
    Crmp__Event *evp[3];
    Crmp__Result res;
    struct crmpi_report_unit u;
};

static void r_event(struct r_unit *r, Crmp__Event__Kind kind)
{
    size_t i = r->res.n_events++;
    r->ev[i] = (Crmp__Event) CRMP__EVENT__INIT;
    r->ev[i].kind = kind;
    r->ev[i].stats = &r->st;
    r->evp[i] = &r->ev[i];
    r->res.events = r->evp;
}

/* A unit that ran with no event yet: the caller adds how it ended. */
static void r_unit_bare(struct r_unit *r, int status)
{
    memset(r, 0, sizeof(*r));
    r->st = (Crmp__TestStats) CRMP__TEST_STATS__INIT;
    r->st.status = status;
    r->res = (Crmp__Result) CRMP__RESULT__INIT;
    r->res.final = &r->st;
    r->u = (struct crmpi_report_unit) { .test = &r_test, .param = -1, .result = &r->res };
}

/* A unit that ended with status (its [PASS], [FAIL] or [SKIP] line). */
static void r_unit_init(struct r_unit *r, int status)
{
    r_unit_bare(r, status);
    r_event(r, CRMP__EVENT__KIND__PRE_INIT);
    r_event(r, CRMP__EVENT__KIND__POST_TEST);
}

static void r_assert(struct r_unit *r, int passed, const char *file, unsigned line)
{
    size_t i = r->res.n_asserts++;
    r->a[i] = (Crmp__AssertStats) CRMP__ASSERT_STATS__INIT;
    r->a[i].passed = passed;
    r->a[i].file = (char *) file;
    r->a[i].line = line;
    r->ap[i] = &r->a[i];
    r->res.asserts = r->ap;
}

static const char *r_describe(struct r_unit *r, int short_filename, char *detail, size_t len)
{
    const char *status = NULL;
    if (!crmpi_recap_describe(&r->u, short_filename, &status, detail, len))
        return NULL;
    return status;
}

Test(recap, passed_skipped_and_never_ran_are_not_listed)
{
    struct r_unit r;
    char d[128];
    r_unit_init(&r, CR_STATUS_PASSED);
    cr_assert_null(r_describe(&r, 0, d, sizeof(d)));
    r_unit_init(&r, CR_STATUS_SKIPPED);
    cr_assert_null(r_describe(&r, 0, d, sizeof(d)));
    r_unit_init(&r, CR_STATUS_FAILED);
    r.u.result = NULL;
    cr_assert_null(r_describe(&r, 0, d, sizeof(d)));
}

/* The list is Criterion's, newest first: the first failure is the last one in it. */
Test(recap, fail_names_the_first_failed_assertion)
{
    struct r_unit r;
    char d[128];
    r_unit_init(&r, CR_STATUS_FAILED);
    r_assert(&r, 0, "src/t.c", 30);
    r_assert(&r, 1, "src/t.c", 20);
    r_assert(&r, 0, "src/t.c", 12);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "src/t.c:12");
    cr_assert_str_eq(r_describe(&r, 1, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "t.c:12", "--short-filename cuts the path");
}

/*
 * What libcriterion 2.4.1 printed for /tmp/p/src/sub/t.c:3 from these working
 * directories (a CMake build, absolute __FILE__), quirks included: from
 * b/sub it says ../src/sub/t.c, from b/x/y/z/w ../../../src/sub/t.c.
 */
Test(recap, relative_path_is_criterions)
{
    static const struct { const char *cwd, *want; } cases[] = {
        { "/tmp/p/b", "../src/sub/t.c" },
        { "/tmp/p", "./src/sub/t.c" },
        { "/tmp/p/src", "./sub/t.c" },
        { "/tmp/p/src/sub", "./t.c" },
        { "/tmp/p/b/sub", "../src/sub/t.c" },
        { "/tmp/p/sr", "../src/sub/t.c" },
        { "/tmp/p/srcx", "../src/sub/t.c" },
        { "/tmp/p/b/x/y", "../../../src/sub/t.c" },
        { "/tmp/p/b/x/y/z/w", "../../../src/sub/t.c" },
        { "/tmp", "./p/src/sub/t.c" },
        { "/", "/tmp/p/src/sub/t.c" },
    };
    char out[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        crmpi_recap_relative(cases[i].cwd, "/tmp/p/src/sub/t.c", out, sizeof(out));
        cr_expect_str_eq(out, cases[i].want, "from %s", cases[i].cwd);
    }
    crmpi_recap_relative("/tmp/p/b", "/tmp/p/src/sub/t.c", out, 6);
    cr_assert_str_eq(out, "../sr", "bounded");
}

/* An absolute path (CMake's __FILE__) is named as the console named it. */
Test(recap, fail_names_an_absolute_path_as_criterion_does)
{
    struct r_unit r;
    char d[PATH_MAX + 64], cwd[PATH_MAX], file[PATH_MAX + 16];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(file, sizeof(file), "%s/src/t.c", strcmp(cwd, "/") ? cwd : "");
    r_unit_init(&r, CR_STATUS_FAILED);
    r_assert(&r, 0, file, 7);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, strcmp(cwd, "/") ? "./src/t.c:7" : "/src/t.c:7");
    cr_assert_str_eq(r_describe(&r, 1, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "t.c:7", "--short-filename: the base name");
    r_unit_init(&r, CR_STATUS_FAILED);
    r_assert(&r, 0, "src\\win\\t.c", 7);
    cr_assert_str_eq(r_describe(&r, 1, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "t.c:7", "Criterion cuts at a backslash too");
}

Test(recap, crash_timeout_and_exit)
{
    struct r_unit r;
    char d[128];
    r_unit_bare(&r, CR_STATUS_FAILED);
    r.st.crashed = 1;
    r.st.signal = SIGSEGV;
    r.st.file = "dir/t.c";
    r.st.progress = 97;
    r_event(&r, CRMP__EVENT__KIND__TEST_CRASH);
    cr_assert_str_eq(r_describe(&r, 1, d, sizeof(d)), "CRASH");
    cr_assert_str_eq(d, "SIGSEGV after t.c:97");

    r_unit_bare(&r, CR_STATUS_FAILED);
    r.st.timed_out = 1;
    r.st.signal = SIGKILL;
    r_event(&r, CRMP__EVENT__KIND__TEST_TIMEOUT);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "TIMEOUT", "a timeout is not a crash");

    r_unit_init(&r, CR_STATUS_FAILED);
    r.st.exit_code = 3;
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "exit status 3");

    /* --mproc-leaks=fail: failed with no assertion, for what it left running. */
    r_unit_init(&r, CR_STATUS_FAILED);
    char *left[] = { "sleep 1001" };
    r.res.leaked = left;
    r.res.n_leaked = 1;
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "left processes running");

    r_unit_bare(&r, CR_STATUS_FAILED);
    r_event(&r, CRMP__EVENT__KIND__OTHER_CRASH);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "CRASH");
    cr_assert_str_eq(d, "crashed in its setup or teardown");

    r_unit_bare(&r, CR_STATUS_FAILED);
    r_event(&r, CRMP__EVENT__KIND__ABNORMAL_EXIT);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "CRASH");
    cr_assert_str_eq(d, "exited in its setup or teardown");
}

/* What Criterion's console says, not the stats alone (semantics-exec2 found both). */
Test(recap, follows_the_console)
{
    struct r_unit r;
    char d[128];
    /* A test that expects a signal, gets it, but failed an assertion first: [FAIL], no CRASH!. */
    r_unit_init(&r, CR_STATUS_FAILED);
    r.st.signal = SIGABRT;
    r_assert(&r, 0, "t.c", 127);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "FAIL");
    cr_assert_str_eq(d, "t.c:127");
    /* A C++ fini that throws after [PASS]: Criterion counts the test passed. */
    r_unit_init(&r, CR_STATUS_PASSED);
    r.st.status = CR_STATUS_FAILED;
    r.ev[1].stats = &(Crmp__TestStats) { .status = CR_STATUS_PASSED };
    cr_assert_null(r_describe(&r, 0, d, sizeof(d)));
    /* A passing test whose teardown crashed: Criterion warns, so does the recap. */
    r_unit_init(&r, CR_STATUS_PASSED);
    r_event(&r, CRMP__EVENT__KIND__OTHER_CRASH);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "CRASH");
}

/* A detail longer than the buffer is cut, never overflows. */
Test(recap, detail_is_bounded)
{
    struct r_unit r;
    char d[8];
    r_unit_init(&r, CR_STATUS_FAILED);
    r_assert(&r, 0, "a/very/long/path/to/the/test.c", 1234);
    cr_assert_str_eq(r_describe(&r, 0, d, sizeof(d)), "FAIL");
    cr_assert_eq(strlen(d), sizeof(d) - 1);
}

static char *r_print(const struct crmpi_report_unit *units, size_t n,
        const struct crmpi_recap_efficiency *eff, size_t *listed)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    *listed = crmpi_recap_print(f, units, n, 1, eff);
    fclose(f);
    return text;
}

Test(recap, print_lists_failures_in_order_with_params)
{
    struct r_unit a, b, c;
    r_unit_init(&a, CR_STATUS_FAILED);
    r_assert(&a, 0, "x/t.c", 5);
    r_unit_init(&b, CR_STATUS_PASSED);
    r_unit_bare(&c, CR_STATUS_FAILED);
    r_event(&c, CRMP__EVENT__KIND__TEST_TIMEOUT);
    c.u.param = 2;
    struct crmpi_report_unit units[] = { a.u, b.u, c.u };
    size_t listed;
    char *text = r_print(units, 3, NULL, &listed);
    cr_assert_eq(listed, 2);
    cr_assert_str_eq(text,
            "criterion-mproc: 2 tests failed, crashed or timed out:\n"
            "criterion-mproc:   FAIL    s::t  t.c:5\n"
            "criterion-mproc:   TIMEOUT s::t [param 2]  timed out\n");
    free(text);
}

/* [LEAK] in a block is in the recap too, passed or failed, after the failures. */
Test(recap, print_lists_leaks_after_failures)
{
    struct r_unit a, b, c;
    r_unit_init(&a, CR_STATUS_FAILED);
    r_assert(&a, 0, "x/t.c", 5);
    char *a_left[] = { "sleep 1001" };
    a.res.leaked = a_left;
    a.res.n_leaked = 1;
    r_unit_init(&b, CR_STATUS_PASSED);
    r_unit_init(&c, CR_STATUS_PASSED);
    c.u.param = 1;
    char *c_left[] = { "./server --port 1", "sh -c x" };
    c.res.leaked = c_left;
    c.res.n_leaked = 2;
    c.res.has_leaked_count = 1;
    c.res.leaked_count = 5;
    struct crmpi_report_unit units[] = { a.u, b.u, c.u };
    size_t listed;
    char *text = r_print(units, 3, NULL, &listed);
    cr_assert_eq(listed, 1);
    cr_assert_str_eq(text,
            "criterion-mproc: 1 test failed, crashed or timed out:\n"
            "criterion-mproc:   FAIL    s::t  t.c:5\n"
            "criterion-mproc: 2 tests left processes running:\n"
            "criterion-mproc:   LEAK    s::t  sleep 1001\n"
            "criterion-mproc:   LEAK    s::t [param 1]  ./server --port 1; sh -c x; ...\n");
    free(text);

    /* Only a leak: no failure header. */
    units[0] = b.u;
    text = r_print(units, 3, NULL, &listed);
    cr_assert_eq(listed, 0);
    cr_assert_str_eq(text,
            "criterion-mproc: 1 test left processes running:\n"
            "criterion-mproc:   LEAK    s::t [param 1]  ./server --port 1; sh -c x; ...\n");
    free(text);
}

Test(recap, all_passed_prints_nothing_but_the_efficiency_line)
{
    struct r_unit a;
    r_unit_init(&a, CR_STATUS_PASSED);
    size_t listed;
    char *text = r_print(&a.u, 1, NULL, &listed);
    cr_assert_eq(listed, 0);
    cr_assert_str_eq(text, "");
    free(text);

    /* 4 workers, 40 s of tests, the longest 2 s: the bound is 10 s; 12.5 s taken is 80 %. */
    struct crmpi_recap_efficiency eff = {
        .makespan_ms = 12500, .total_ns = 40000000000ull, .longest_ns = 2000000000ull, .workers = 4,
    };
    text = r_print(&a.u, 1, &eff, &listed);
    cr_assert_str_eq(text, "criterion-mproc: 12.5s on 4 workers, lower bound 10.0s: efficiency 80%\n");
    free(text);

    /* One test longer than the share: it is the bound. */
    eff.longest_ns = 11000000000ull;
    cr_assert_float_eq(crmpi_recap_lower_bound_ns(&eff), 11e9, 1);
}
