/*
 * custommain: a Criterion binary with its own main() and its own output
 * provider ("lines": one line per suite and per test), the way Criterion's
 * documentation shows.  With $CUSTOMMAIN_NO_ARGS set, main never hands its
 * arguments to Criterion (the plugin must find them itself).
 */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <criterion/output.h>

static const char *lines_status(const struct criterion_test_stats *ts)
{
    if (ts->crashed)
        return "crashed";
    if (ts->timed_out)
        return "timed-out";
    switch (ts->test_status) {
    case CR_STATUS_PASSED: return "passed";
    case CR_STATUS_FAILED: return "failed";
    case CR_STATUS_SKIPPED: return "skipped";
    }
    return "?";
}

static void lines_report(FILE *f, struct criterion_global_stats *stats)
{
    fprintf(f, "run tests=%zu passed=%zu failed=%zu crashed=%zu skipped=%zu asserts=%zu/%zu\n",
            stats->nb_tests, stats->tests_passed, stats->tests_failed, stats->tests_crashed,
            stats->tests_skipped, stats->asserts_passed, stats->asserts_failed);
    for (struct criterion_suite_stats *ss = stats->suites; ss; ss = ss->next) {
        fprintf(f, "suite %s tests=%zu passed=%zu failed=%zu\n", ss->suite->name,
                ss->nb_tests, ss->tests_passed, ss->tests_failed);
        for (struct criterion_test_stats *ts = ss->tests; ts; ts = ts->next) {
            fprintf(f, "test %s::%s %s asserts=%d/%d", ss->suite->name, ts->test->name,
                    lines_status(ts), ts->passed_asserts, ts->failed_asserts);
            for (struct criterion_assert_stats *a = ts->asserts; a; a = a->next)
                if (!a->passed)
                    fprintf(f, " [%u: %s]", a->line, a->message ? a->message : "");
            fputc('\n', f);
        }
    }
}

Test(custom, passes)
{
    cr_assert_eq(6 * 7, 42);
}

Test(custom, fails)
{
    cr_expect_eq(1, 2, "one is not two");
}

Test(custom, skipped)
{
    cr_skip_test("later");
}

Test(other, passes_too)
{
    cr_assert(1);
}

int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    criterion_register_output_provider("lines", lines_report);

    int result = 0;
    if (getenv("CUSTOMMAIN_NO_ARGS") || criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);

    criterion_finalize(tests);
    return result;
}
