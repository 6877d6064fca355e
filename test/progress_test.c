/*
 * Unit tests for plugin/progress.c: the live status line's text and how it
 * is fitted to a terminal's width.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "progress.h"

static struct crmpi_progress_test t_running[] = {
    { "net", "short", 400 },
    { "db", "longest", 12500 },
    { "io", "middle", 3000 },
};

static struct crmpi_progress_view t_view(void)
{
    return (struct crmpi_progress_view) {
        .done = 12, .total = 300, .passed = 10, .failed = 1, .crashed = 1,
        .elapsed_ms = 3200, .eta_ms = 5000, .running = t_running, .n_running = 3,
    };
}

static char t_line[1024];

static const char *t_format(const struct crmpi_progress_view *v, unsigned width)
{
    size_t cols = crmpi_progress_format(v, NULL, width, t_line, sizeof(t_line));
    cr_assert_eq(cols, strlen(t_line), "columns %zu for \"%s\"", cols, t_line);
    cr_assert(width < 2 || cols <= width - 1, "\"%s\" takes %zu columns of %u", t_line, cols,
            width);
    return t_line;
}

Test(progress, wide_line_has_everything_longest_running_first)
{
    struct crmpi_progress_view v = t_view();
    cr_assert_str_eq(t_format(&v, 200),
            "12/300  10 passed, 1 failed, 1 crashed  3.2s  ETA 5.0s"
            "  running: db::longest 12s, io::middle 3.0s, net::short 0.4s");
}

Test(progress, running_tests_that_do_not_fit_are_counted)
{
    struct crmpi_progress_view v = t_view();
    /* 54 columns of counts and times, then "  running: db::longest 12s" (26) and ", +2" (4). */
    cr_assert_str_eq(t_format(&v, 85),
            "12/300  10 passed, 1 failed, 1 crashed  3.2s  ETA 5.0s  running: db::longest 12s, +2");
    cr_assert_str_eq(t_format(&v, 84),
            "12/300  10 passed, 1 failed, 1 crashed  3.2s  ETA 5.0s  3 running");
}

Test(progress, narrow_drops_the_times_then_cuts_the_counts)
{
    struct crmpi_progress_view v = t_view();
    cr_assert_str_eq(t_format(&v, 50), "12/300  10 passed, 1 failed, 1 crashed  3.2s");
    cr_assert_str_eq(t_format(&v, 40), "12/300  10 passed, 1 failed, 1 crashed");
    cr_assert_str_eq(t_format(&v, 20), "12/300  10 passed, ");
    cr_assert_str_eq(t_format(&v, 1), "");
    cr_assert_str_eq(t_format(&v, 0), "");
}

Test(progress, unknown_eta_and_nothing_running)
{
    struct crmpi_progress_view v = t_view();
    v.eta_ms = -1;
    v.n_running = 0;
    cr_assert_str_eq(t_format(&v, 80), "12/300  10 passed, 1 failed, 1 crashed  3.2s");
}

Test(progress, colours_take_no_column)
{
    struct crmpi_progress_view v = t_view();
    v.failed = 0;
    v.n_running = 0;
    struct crmpi_progress_style s = { .pass = "<g>", .fail = "<r>", .crash = "<m>", .reset = "<0>" };
    size_t cols = crmpi_progress_format(&v, &s, 55, t_line, sizeof(t_line));
    /* A count of 0 is not coloured. */
    cr_assert_str_eq(t_line, "12/300  <g>10 passed<0>, 0 failed, <m>1 crashed<0>  3.2s  ETA 5.0s");
    cr_assert_eq(cols, 54);
}

Test(progress, small_buffer_is_not_overrun)
{
    struct crmpi_progress_view v = t_view();
    char small[16];
    memset(small, 'x', sizeof(small));
    crmpi_progress_format(&v, NULL, 200, small, 10);
    cr_assert_lt(strlen(small), 10);
    cr_assert_eq(small[15], 'x');
}

Test(progress, durations)
{
    static const struct { long long ms; const char *text; } cases[] = {
        { -5, "0.0s" }, { 0, "0.0s" }, { 420, "0.4s" }, { 9999, "9.9s" }, { 10000, "10s" },
        { 59999, "59s" }, { 60000, "1m00s" }, { 185000, "3m05s" }, { 3599999, "59m59s" },
        { 3600000, "1h00m" }, { 7620000, "2h07m" },
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        crmpi_progress_duration(cases[i].ms, buf, sizeof(buf));
        cr_expect_str_eq(buf, cases[i].text, "%lld ms", cases[i].ms);
    }
}

Test(progress, eta_is_the_even_share_or_the_longest_test)
{
    int64_t left[] = { 1000, 2000, 3000, -500 };
    cr_expect_eq(crmpi_progress_eta(left, 4, 2), 3000, "the longest test bounds it");
    cr_expect_eq(crmpi_progress_eta(left, 3, 1), 6000);
    int64_t many[] = { 1000, 1000, 1000, 1000, 1000, 1000 };
    cr_expect_eq(crmpi_progress_eta(many, 6, 3), 2000);
    cr_expect_eq(crmpi_progress_eta(many, 6, 0), 6000, "no worker counts as one");
    cr_expect_eq(crmpi_progress_eta(NULL, 0, 4), 0);
}

Test(progress, partial_total_and_programs_without_a_test_name)
{
    /* The runner's line: more tests may come from binaries that have not counted theirs yet,
     * and a program runs as itself (no suite::name). */
    struct crmpi_progress_test running[] = {
        { "check.sh", NULL, 2000 },
        { "sample_failing/failing", "average", 2000 },
    };
    struct crmpi_progress_view v = t_view();
    v.total_partial = 1;
    v.eta_ms = -1;
    v.running = running;
    v.n_running = 2;
    cr_assert_str_eq(t_format(&v, 200), "12/300+  10 passed, 1 failed, 1 crashed  3.2s"
            "  running: check.sh 2.0s, sample_failing/failing::average 2.0s");
}
