/*
 * Unit tests for plugin/runnerlink.c: the records a Criterion binary's
 * coordinator sends the runner beside its blocks, written and read back,
 * and what is not a record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "runnerlink.h"

/* Formats r, checks its framing, and parses what is between the separators into out. */
static int t_round_trip(const struct crmpi_runnerlink_rec *r, struct crmpi_runnerlink_rec *out)
{
    char buf[CRMPI_RUNNERLINK_RECORD_MAX];
    size_t len = crmpi_runnerlink_format(r, buf);
    cr_assert_lt(len, sizeof(buf));
    cr_assert_eq(strlen(buf), len);
    cr_assert_eq(buf[0], CRMPI_RUNNERLINK_RECORD);
    cr_assert_eq(buf[len - 1], CRMPI_RUNNERLINK_MARK);
    cr_assert_null(memchr(buf + 1, CRMPI_RUNNERLINK_RECORD, len - 1), "a second record start");
    cr_assert_null(memchr(buf, CRMPI_RUNNERLINK_MARK, len - 1), "a mark inside the record");
    cr_assert_null(strchr(buf, '\n'), "a line end inside the record");
    return crmpi_runnerlink_parse(buf + 1, len - 2, out);
}

Test(runnerlink, total_start_done_round_trip)
{
    struct crmpi_runnerlink_rec out;
    const struct crmpi_runnerlink_rec total = { .kind = CRMPI_RUNNERLINK_TOTAL, .n = 3412 };
    cr_assert_eq(t_round_trip(&total, &out), 0);
    cr_expect_eq(out.kind, CRMPI_RUNNERLINK_TOTAL);
    cr_expect_eq(out.n, 3412);

    const struct crmpi_runnerlink_rec start = { .kind = CRMPI_RUNNERLINK_START, .n = 7,
                                                .suite = "net", .name = "retry [param 2]" };
    cr_assert_eq(t_round_trip(&start, &out), 0);
    cr_expect_eq(out.kind, CRMPI_RUNNERLINK_START);
    cr_expect_eq(out.n, 7);
    cr_expect_str_eq(out.suite, "net");
    cr_expect_str_eq(out.name, "retry [param 2]");

    const struct crmpi_runnerlink_rec done = {
        .kind = CRMPI_RUNNERLINK_DONE, .n = 7, .failed = 1, .crashed = 1, .wall_ms = 1234,
        .suite = "net", .name = "retry", .status = "CRASH", .detail = "SIGSEGV after net.c:12",
    };
    cr_assert_eq(t_round_trip(&done, &out), 0);
    cr_expect_eq(out.kind, CRMPI_RUNNERLINK_DONE);
    cr_expect_eq(out.passed, 0);
    cr_expect_eq(out.failed, 1);
    cr_expect_eq(out.crashed, 1);
    cr_expect_eq(out.wall_ms, 1234);
    cr_expect_str_eq(out.status, "CRASH");
    cr_expect_str_eq(out.detail, "SIGSEGV after net.c:12");

    const struct crmpi_runnerlink_rec leak = { .kind = CRMPI_RUNNERLINK_LEAK, .n = 9,
                                               .suite = "net", .name = "serve",
                                               .detail = "sleep 60; ..." };
    cr_assert_eq(t_round_trip(&leak, &out), 0);
    cr_expect_eq(out.kind, CRMPI_RUNNERLINK_LEAK);
    cr_expect_eq(out.n, 9);
    cr_expect_str_eq(out.suite, "net");
    cr_expect_str_eq(out.name, "serve");
    cr_expect_str_eq(out.detail, "sleep 60; ...");

    const struct crmpi_runnerlink_rec passed = { .kind = CRMPI_RUNNERLINK_DONE, .n = 0,
                                                 .passed = 1, .suite = "a", .name = "b" };
    cr_assert_eq(t_round_trip(&passed, &out), 0);
    cr_expect_str_eq(out.status, "", "a passed test has no recap line");
    cr_expect_str_eq(out.detail, "");
}

Test(runnerlink, separators_in_strings_become_spaces_and_long_ones_are_cut)
{
    char huge[4000];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    const struct crmpi_runnerlink_rec r = {
        .kind = CRMPI_RUNNERLINK_DONE, .n = 1, .failed = 1, .suite = "s\tu\x1e" "ite",
        .name = "na\nme\x1f", .status = "FAIL", .detail = huge,
    };
    struct crmpi_runnerlink_rec out;
    cr_assert_eq(t_round_trip(&r, &out), 0);
    cr_expect_str_eq(out.suite, "s u ite");
    cr_expect_str_eq(out.name, "na me ");
    cr_expect_str_eq(out.status, "FAIL");
    cr_expect_gt(strlen(out.detail), 300, "the detail keeps most of the room");
    const struct crmpi_runnerlink_rec big = { .kind = CRMPI_RUNNERLINK_DONE, .n = 1, .suite = huge,
                                              .name = huge, .status = huge, .detail = huge };
    cr_assert_eq(t_round_trip(&big, &out), 0, "every field is there however long the strings");
    /* Cut where a two-byte character would be split: it goes whole. */
    for (size_t cut = 300; cut < 400; ++cut) {
        char accented[512];
        memset(accented, 'x', cut);
        strcpy(accented + cut, "\xc3\xa9\xc3\xa9");
        const struct crmpi_runnerlink_rec a = { .kind = CRMPI_RUNNERLINK_START, .n = 1,
                                                .suite = "s", .name = accented };
        cr_assert_eq(t_round_trip(&a, &out), 0);
        size_t n = strlen(out.name);
        cr_assert(n <= cut || (n - cut) % 2 == 0, "cut %zu: %zu bytes, half a character", cut, n);
    }
}

Test(runnerlink, what_is_not_a_record)
{
    struct crmpi_runnerlink_rec out;
    static const char *const bad[] = {
        "", "crmp1", "crmp1\tT", "crmp1\tT\t", "crmp1\tT\t-1", "crmp1\tT\t12x", "crmp2\tT\t1",
        "crmp1\tTT\t1", "crmp1\tX\t1", "crmp1\tT\t1\textra", "crmp1\tS\t1\tsuite",
        "crmp1\tD\t1\t0\t0\t0\t5\ts\tn\t", "crmp1\tD\t1\t0\t0\tz\t5\ts\tn\t\t",
        "crmp1\tD\t1\t0\t0\t0\t5\ts\tn\t\t\t",
        "some bytes a test wrote",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        cr_expect_eq(crmpi_runnerlink_parse(bad[i], strlen(bad[i]), &out), -EINVAL, "%s", bad[i]);
    cr_expect_eq(crmpi_runnerlink_parse("crmp1\tT\0\t1", 10, &out), -EINVAL, "a NUL inside");
    char big[CRMPI_RUNNERLINK_RECORD_MAX + 8];
    memset(big, '1', sizeof(big));
    memcpy(big, "crmp1\tT\t", 8);
    cr_expect_eq(crmpi_runnerlink_parse(big, sizeof(big), &out), -EINVAL, "longer than a record");
    static const char empty[] = "crmp1\tD\t1\t0\t0\t0\t5\ts\tn\t\t";
    cr_expect_eq(crmpi_runnerlink_parse(empty, strlen(empty), &out), 0, "empty status and detail");
}

Test(runnerlink, wanted_only_under_a_runner_that_asks)
{
    unsetenv(CRMPI_ENV_RUNNER);
    setenv(CRMPI_ENV_RUNNER_LIVE, "records,recap", 1);
    cr_expect_eq(crmpi_runnerlink_wanted(), 0, "no runner");
    setenv(CRMPI_ENV_RUNNER, "/tmp/stats", 1);
    cr_expect_eq(crmpi_runnerlink_wanted(), 2);
    setenv(CRMPI_ENV_RUNNER_LIVE, "records", 1);
    cr_expect_eq(crmpi_runnerlink_wanted(), 1);
    setenv(CRMPI_ENV_RUNNER_LIVE, "nonsense", 1);
    cr_expect_eq(crmpi_runnerlink_wanted(), 0);
    unsetenv(CRMPI_ENV_RUNNER_LIVE);
    cr_expect_eq(crmpi_runnerlink_wanted(), 0);
    unsetenv(CRMPI_ENV_RUNNER);
}
