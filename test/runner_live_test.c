/*
 * Unit tests for plugin/runner_live.c: what the runner's recap says after
 * the records of several programs and the pool's verdicts, when it exists
 * at all, and the colours it may use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "runner_live.h"
#include "runnerlink.h"

static void t_send(struct crmpi_rlive *lv, size_t index, struct crmpi_runnerlink_rec r)
{
    char buf[CRMPI_RUNNERLINK_RECORD_MAX];
    size_t len = crmpi_runnerlink_format(&r, buf);
    cr_assert_eq(crmpi_rlive_record(lv, index, buf + 1, len - 2), 0, "%s", buf);
}

static void t_done(struct crmpi_rlive *lv, size_t index, unsigned long unit, const char *name,
        const char *status, const char *detail)
{
    t_send(lv, index, (struct crmpi_runnerlink_rec) {
        .kind = CRMPI_RUNNERLINK_DONE, .n = unit, .suite = "s", .name = name,
        .passed = !*status, .failed = !!*status, .status = status, .detail = detail,
    });
}

Test(runner_live, recap_lists_every_programs_failures_program_by_program)
{
    struct crmpi_rlist l = { 0 };
    char *paths[] = { "bin/alpha", "./check.sh", "bin/beta", "bin/clean" };
    cr_assert_eq(crmpi_rlist_add_paths(&l, paths, 4), 0);
    l.v[0].is_criterion = l.v[2].is_criterion = l.v[3].is_criterion = 1;
    const struct crmpi_rlive_opts o = { .progress = CRMPI_PROGRESS_NONE,
                                        .recap = CRMPI_RLIVE_RECAP_ON };
    struct crmpi_rlive *lv;
    cr_assert_eq(crmpi_rlive_new(&o, &l, 2, &lv), 0);
    cr_assert_not_null(lv);
    cr_expect_str_eq(crmpi_rlive_env(lv), "records,recap");
    struct crmpi_rtotals t = { 0 };
    crmpi_rlive_begin(lv, &t);
    for (size_t i = 0; i < l.n; ++i)
        crmpi_rlive_started(lv, i);

    t_send(lv, 2, (struct crmpi_runnerlink_rec) { .kind = CRMPI_RUNNERLINK_TOTAL, .n = 3 });
    t_send(lv, 2, (struct crmpi_runnerlink_rec) { .kind = CRMPI_RUNNERLINK_START, .n = 2,
                                                  .suite = "s", .name = "t2 [param 1]" });
    /* Out of Criterion's order, as workers finish them. */
    t_done(lv, 2, 2, "t2 [param 1]", "FAIL", "b.c:9");
    t_done(lv, 2, 1, "t1", "", "");
    t_done(lv, 2, 0, "t0", "CRASH", "SIGSEGV");
    t_done(lv, 0, 0, "t0", "TIMEOUT", "timed out");
    t_done(lv, 3, 0, "t0", "", "");
    /* Tests that left processes running: after the failures, as the plugin's recap. */
    t_send(lv, 3, (struct crmpi_runnerlink_rec) { .kind = CRMPI_RUNNERLINK_LEAK, .n = 0,
                                                  .suite = "s", .name = "t0",
                                                  .detail = "sleep 60; sh -c x" });
    t_send(lv, 2, (struct crmpi_runnerlink_rec) { .kind = CRMPI_RUNNERLINK_LEAK, .n = 1,
                                                  .suite = "s", .name = "t1",
                                                  .detail = "daemon" });
    cr_expect_eq(crmpi_rlive_record(lv, 0, "not a record", 12), -EINVAL);
    /* The pool judged the script. */
    l.v[1].judged = l.v[1].failed = 1;
    l.v[1].recap_status = "FAIL";
    snprintf(l.v[1].verdict, sizeof(l.v[1].verdict), "exit status 3");
    for (size_t i = 0; i < l.n; ++i)
        crmpi_rlive_finished(lv, i);
    crmpi_rlive_end(lv);

    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    cr_assert_not_null(f);
    crmpi_rlive_print_recap(lv, f);
    fclose(f);
    cr_expect_str_eq(text,
            "criterion-mproc: 4 tests failed, crashed or timed out:\n"
            "criterion-mproc:   TIMEOUT bin/alpha/s::t0  timed out\n"
            "criterion-mproc:   FAIL    ./check.sh  exit status 3\n"
            "criterion-mproc:   CRASH   bin/beta/s::t0  SIGSEGV\n"
            "criterion-mproc:   FAIL    bin/beta/s::t2 [param 1]  b.c:9\n"
            "criterion-mproc: 2 tests left processes running:\n"
            "criterion-mproc:   LEAK    bin/beta/s::t1  daemon\n"
            "criterion-mproc:   LEAK    bin/clean/s::t0  sleep 60; sh -c x\n");
    free(text);
    crmpi_rlive_free(lv);
    crmpi_rlist_free(&l);
}

Test(runner_live, nothing_on_a_pipe_unless_asked)
{
    struct crmpi_rlist l = { 0 };
    char *paths[] = { "bin/alpha" };
    cr_assert_eq(crmpi_rlist_add_paths(&l, paths, 1), 0);
    struct crmpi_rlive *lv = (struct crmpi_rlive *) &l;
    /* stderr no terminal, whatever runs this test: neither auto nor bar draws there. */
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    cr_assert(saved >= 0 && null >= 0 && dup2(null, STDERR_FILENO) == STDERR_FILENO);
    for (int p = CRMPI_PROGRESS_AUTO; p <= CRMPI_PROGRESS_NONE; ++p) {
        const struct crmpi_rlive_opts o = { .progress = p, .recap = CRMPI_RLIVE_RECAP_AUTO };
        cr_assert_eq(crmpi_rlive_new(&o, &l, 2, &lv), 0);
        cr_expect_null(lv, "progress mode %d: something to draw or recap on a pipe", p);
        cr_expect_null(crmpi_rlive_env(lv), "records asked for on a pipe");
    }
    const struct crmpi_rlive_opts o = { .progress = CRMPI_PROGRESS_AUTO,
                                        .recap = CRMPI_RLIVE_RECAP_ON };
    cr_assert_eq(crmpi_rlive_new(&o, &l, 2, &lv), 0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(null);
    cr_expect_not_null(lv, "--mproc-recap=on: no recap on a pipe");
    crmpi_rlive_free(lv);
    crmpi_rlist_free(&l);
}

Test(runner_live, colour_as_criterion_and_no_color_say)
{
    unsetenv("NO_COLOR");
    unsetenv("CRITERION_USE_ASCII");
    char *none[] = { NULL }, *ascii[] = { "--filter=x", "--ascii", NULL };
    char *never[] = { "--color=never", NULL }, *always[] = { "--color=always", NULL };
    cr_expect(crmpi_rlive_color(NULL));
    cr_expect(crmpi_rlive_color(none));
    cr_expect(crmpi_rlive_color(always));
    cr_expect(!crmpi_rlive_color(ascii));
    cr_expect(!crmpi_rlive_color(never));
    setenv("NO_COLOR", "1", 1);
    cr_expect(!crmpi_rlive_color(always), "NO_COLOR wins");
    unsetenv("NO_COLOR");
    setenv("CRITERION_USE_ASCII", "1", 1);
    cr_expect(!crmpi_rlive_color(NULL));
    unsetenv("CRITERION_USE_ASCII");
}
