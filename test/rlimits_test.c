/*
 * Unit tests for plugin/rlimits.c: the pre-flight check that turns a
 * too-tight ulimit into one line naming it, instead of tests reported as
 * crashed (ulimit -n 20, -v 40000) or a run that never starts (-u 25).
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "rlimits.h"

static struct crmpi_rlimits t_unlimited(void)
{
    return (struct crmpi_rlimits) { .as_kib = CRMPI_RLIM_NONE, .nofile = 1024,
                                    .nproc = CRMPI_RLIM_NONE, .ncpu = 2 };
}

Test(rlimits, generous_limits_pass)
{
    struct crmpi_rlimits l = t_unlimited();
    char msg[256];
    cr_expect_eq(crmpi_rlimits_check(&l, 64, msg, sizeof(msg)), 0, "%s", msg);
    cr_expect_str_empty(msg);
    l.as_kib = 400000;
    l.nproc = 4096;
    l.nproc_used = 100;
    cr_expect_eq(crmpi_rlimits_check(&l, 8, msg, sizeof(msg)), 0, "%s", msg);
}

Test(rlimits, few_descriptors_name_ulimit_n)
{
    struct crmpi_rlimits l = t_unlimited();
    l.nofile = 20;
    char msg[256];
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), -EMFILE);
    cr_expect_not_null(strstr(msg, "ulimit -n 20"), "%s", msg);
    cr_expect_null(strchr(msg, '\n'));
}

Test(rlimits, little_address_space_names_ulimit_v)
{
    struct crmpi_rlimits l = t_unlimited();
    l.as_kib = 40000;
    char msg[256];
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), -ENOMEM);
    cr_expect_not_null(strstr(msg, "ulimit -v 40000"), "%s", msg);
    l.as_kib = 120000;
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), 0, "ulimit -v 120000 works now");
}

Test(rlimits, few_processes_name_ulimit_u_and_count_what_runs)
{
    struct crmpi_rlimits l = t_unlimited();
    l.nproc = 25;
    char msg[256];
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), -EAGAIN);
    cr_expect_not_null(strstr(msg, "ulimit -u 25"), "%s", msg);
    l.nproc = crmpi_rlimits_nproc_needed(l.ncpu, 2);
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), 0, "%s", msg);
    l.nproc_used = 1;
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), -EAGAIN,
            "the threads already running were not counted");
    l.nproc_used = l.nproc + 5;
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), -EAGAIN, "wrapped around");
    l.nproc_exempt = 1;
    cr_expect_eq(crmpi_rlimits_check(&l, 2, msg, sizeof(msg)), 0, "root is not limited");
}

Test(rlimits, more_workers_need_more)
{
    cr_expect_lt(crmpi_rlimits_nproc_needed(2, 1), crmpi_rlimits_nproc_needed(2, 2));
    cr_expect_lt(crmpi_rlimits_nproc_needed(1, 2), crmpi_rlimits_nproc_needed(8, 2));
    cr_expect_eq(crmpi_rlimits_nproc_needed(64, 2), crmpi_rlimits_nproc_needed(8, 2),
            "nng's task threads are capped at 16");
}

Test(rlimits, describe_lists_finite_limits_only)
{
    struct crmpi_rlimits l = t_unlimited();
    char buf[128];
    l.nofile = CRMPI_RLIM_NONE;
    crmpi_rlimits_describe(&l, buf, sizeof(buf));
    cr_expect_str_empty(buf);
    l.as_kib = 120000;
    l.nofile = 20;
    crmpi_rlimits_describe(&l, buf, sizeof(buf));
    cr_expect_str_eq(buf, "ulimit -v 120000, ulimit -n 20");
    crmpi_rlimits_describe(&l, buf, 8);
    cr_expect_eq(strlen(buf), 7, "not truncated to the buffer");
}

Test(rlimits, get_reads_this_process)
{
    struct crmpi_rlimits l;
    crmpi_rlimits_get(&l);
    cr_expect_gt(l.nofile, 0);
    cr_expect_gt(l.ncpu, 0);
}
