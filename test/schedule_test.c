/*
 * Unit tests for plugin/schedule.c (job order, groups, sharding) and
 * plugin/durations.c (the durations database: parsing, corruption, merging,
 * stale entries, concurrent writers).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "durations.h"
#include "schedule.h"

/* ---- order -------------------------------------------------------------------- */

static size_t t_first(const struct crmpi_jobs *j, size_t k)
{
    return j->v[k].units[0];
}

Test(schedule, keeps_criterion_order_without_history)
{
    struct crmpi_sched_unit u[4] = { 0 };
    struct crmpi_jobs j;
    cr_assert_eq(crmpi_schedule_build(u, 4, &j), 0);
    cr_assert_eq(j.n, 4);
    for (size_t k = 0; k < 4; ++k)
        cr_expect_eq(t_first(&j, k), k);
    crmpi_jobs_free(&j);
}

Test(schedule, longest_first_with_history)
{
    struct crmpi_sched_unit u[4] = {
        { .has_history = 1, .est_ns = 10 },
        { .has_history = 1, .est_ns = 300 },
        { .has_history = 1, .est_ns = 20 },
        { .has_history = 1, .est_ns = 3000 },
    };
    struct crmpi_jobs j;
    cr_assert_eq(crmpi_schedule_build(u, 4, &j), 0);
    size_t want[] = { 3, 1, 2, 0 };
    for (size_t k = 0; k < 4; ++k)
        cr_expect_eq(t_first(&j, k), want[k], "position %zu", k);
    crmpi_jobs_free(&j);
}

Test(schedule, failed_last_time_go_first)
{
    struct crmpi_sched_unit u[3] = {
        { .has_history = 1, .est_ns = 1000 },
        { .has_history = 1, .est_ns = 5, .failed_last = 1 },
        { .has_history = 1, .est_ns = 500 },
    };
    struct crmpi_jobs j;
    cr_assert_eq(crmpi_schedule_build(u, 3, &j), 0);
    cr_expect_eq(t_first(&j, 0), 1);
    cr_expect_eq(t_first(&j, 1), 0);
    cr_expect_eq(t_first(&j, 2), 2);
    crmpi_jobs_free(&j);
}

Test(schedule, unknown_units_are_estimated_not_put_last)
{
    struct crmpi_sched_unit u[4] = {
        { .has_history = 1, .est_ns = 10 },
        { .has_history = 1, .est_ns = 100 },
        { .has_history = 1, .est_ns = 1000 },
        { 0 },  /* new: estimated at the median, 100 */
    };
    struct crmpi_jobs j;
    cr_assert_eq(crmpi_schedule_build(u, 4, &j), 0);
    cr_expect_eq(u[3].est_ns, 100);
    cr_expect_eq(t_first(&j, 0), 2);
    cr_expect_eq(t_first(&j, 1), 1, "ties break by Criterion's order");
    cr_expect_eq(t_first(&j, 2), 3);
    cr_expect_eq(t_first(&j, 3), 0);
    crmpi_jobs_free(&j);
}

Test(schedule, priority_overrides_duration)
{
    struct crmpi_sched_unit u[3] = {
        { .has_history = 1, .est_ns = 1000 },
        { .has_history = 1, .est_ns = 1, .priority = -5 },
        { .has_history = 1, .est_ns = 1000000, .priority = 3 },
    };
    struct crmpi_jobs j;
    cr_assert_eq(crmpi_schedule_build(u, 3, &j), 0);
    cr_expect_eq(t_first(&j, 0), 1);
    cr_expect_eq(t_first(&j, 1), 0);
    cr_expect_eq(t_first(&j, 2), 2);
    crmpi_jobs_free(&j);
}

Test(schedule, groups_are_one_job_in_order_with_their_total)
{
    struct crmpi_sched_unit u[5] = {
        { .has_history = 1, .est_ns = 50 },
        { .has_history = 1, .est_ns = 30, .group = "db" },
        { .has_history = 1, .est_ns = 100 },
        { .has_history = 1, .est_ns = 40, .group = "db", .priority = 2 },
        { .has_history = 1, .est_ns = 45, .group = "db" },
    };
    struct crmpi_jobs j;
    cr_assert_eq(crmpi_schedule_build(u, 5, &j), 0);
    cr_assert_eq(j.n, 3);
    /* The group: 115 ns in total, priority the lowest of its members (0). */
    cr_expect_eq(j.v[0].n, 3);
    cr_expect_eq(j.v[0].est_ns, 115);
    cr_expect_eq(j.v[0].priority, 0);
    cr_expect_eq(j.v[0].units[0], 1);
    cr_expect_eq(j.v[0].units[1], 3);
    cr_expect_eq(j.v[0].units[2], 4);
    cr_expect_eq(t_first(&j, 1), 2);
    cr_expect_eq(t_first(&j, 2), 0);
    crmpi_jobs_free(&j);
}

Test(schedule, deterministic)
{
    struct crmpi_sched_unit a[6], b[6];
    for (int i = 0; i < 6; ++i)
        a[i] = (struct crmpi_sched_unit) { .has_history = i % 2, .est_ns = 7 };
    memcpy(b, a, sizeof(a));
    struct crmpi_jobs ja, jb;
    cr_assert_eq(crmpi_schedule_build(a, 6, &ja), 0);
    cr_assert_eq(crmpi_schedule_build(b, 6, &jb), 0);
    for (size_t k = 0; k < 6; ++k)
        cr_expect_eq(t_first(&ja, k), t_first(&jb, k));
    crmpi_jobs_free(&ja);
    crmpi_jobs_free(&jb);
}

/* ---- sharding -------------------------------------------------------------------- */

Test(shard, every_unit_in_exactly_one_shard)
{
    char name[32];
    for (int t = 0; t < 200; ++t) {
        snprintf(name, sizeof(name), "test_%d", t);
        int owners = 0;
        for (unsigned s = 0; s < 7; ++s)
            owners += crmpi_shard_owns("suite", name, t % 3 - 1, s, 7);
        cr_assert_eq(owners, 1, "%s is in %d shards", name, owners);
    }
}

Test(shard, membership_does_not_depend_on_other_tests)
{
    /* Hash-based: the same answer whatever else the binary holds. */
    int first = crmpi_shard_owns("s", "kept", -1, 1, 4);
    for (int i = 0; i < 10; ++i)
        cr_expect_eq(crmpi_shard_owns("s", "kept", -1, 1, 4), first);
}

Test(shard, balanced_by_duration)
{
    uint64_t est[] = { 100, 90, 10, 10, 10, 10, 10, 10, 10, 10 };
    unsigned shard[10];
    cr_assert_eq(crmpi_shard_balance(est, 10, 2, shard), 0);
    uint64_t load[2] = { 0 };
    for (int i = 0; i < 10; ++i)
        load[shard[i]] += est[i];
    /* 270 in all: greedy longest-first ends within one short test of even. */
    cr_expect_eq(load[0] + load[1], 270);
    cr_expect_leq(load[0] > load[1] ? load[0] - load[1] : load[1] - load[0], 10);
    cr_expect_neq(shard[0], shard[1], "the two long tests share a shard");
}

/* ---- the durations database ------------------------------------------------------ */

#define HDR CRMPI_DURATIONS_HEADER

static int t_parse(const char *text, struct crmpi_durations *db)
{
    return crmpi_durations_parse(text, strlen(text), db);
}

Test(durations, parses_and_finds)
{
    struct crmpi_durations db;
    cr_assert_eq(t_parse(HDR "5\tP\ts\tb\t-1\n7\tF\ts\ta\t2\n", &db), 0);
    cr_assert_eq(db.n, 2);
    const struct crmpi_duration *d = crmpi_durations_find(&db, "s", "a", 2);
    cr_assert_not_null(d);
    cr_expect_eq(d->ns, 7);
    cr_expect_eq(d->status, 'F');
    cr_expect_null(crmpi_durations_find(&db, "s", "a", 1));
    crmpi_durations_free(&db);
}

Test(durations, rejects_corrupt_and_foreign_files)
{
    static const char *const bad[] = {
        "",
        "not ours\n",
        "# criterion-mproc durations v2\n",
        HDR "5\tP\ts\tb\n",                 /* a field short */
        HDR "5\tP\ts\tb\t-1\textra\n",      /* a field long */
        HDR "x\tP\ts\tb\t-1\n",             /* not a number */
        HDR "5\tQ\ts\tb\t-1\n",             /* unknown status */
        HDR "5\tP\t\tb\t-1\n",              /* empty suite */
        HDR "5\tP\ts\tb\t-2\n",             /* impossible param */
        HDR "5\tP\ts\tb\t-1",               /* truncated last line */
        HDR "5\tP\ts\tb\t-1\n6\tP\ts\tb\t-1\n", /* the same unit twice */
        HDR "99999999999999999999999\tP\ts\tb\t-1\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        struct crmpi_durations db = { (void *) 1, 1 };
        cr_expect_eq(t_parse(bad[i], &db), -EBADMSG, "case %zu accepted", i);
        cr_expect_eq(db.n, 0);
        cr_expect_null(db.v);
    }
}

static char *t_dir(void)
{
    char tmpl[] = "/tmp/crmp-dur-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert_not_null(d);
    return strdup(d);
}

static void t_rm(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static struct crmpi_duration t_d(const char *s, const char *n, int p, uint64_t ns, char st)
{
    return (struct crmpi_duration) { (char *) s, (char *) n, p, ns, st };
}

Test(durations, save_merges_and_drops_stale_entries)
{
    char *dir = t_dir();
    char path[256];
    snprintf(path, sizeof(path), "%s/sub/bin.durations", dir);

    struct crmpi_duration first[] = { t_d("s", "a", -1, 10, 'P'), t_d("s", "gone", -1, 5, 'P') };
    struct crmpi_durations fresh = { first, 2 }, known = { first, 2 };
    crmpi_durations_sort(&fresh);
    cr_assert_eq(crmpi_durations_save(path, &fresh, &known), 0, "the parent directory is made");

    /* Second run: "gone" no longer exists, "b" is new, "a" did not run. */
    struct crmpi_duration now[] = { t_d("s", "b", -1, 20, 'F') };
    struct crmpi_duration all[] = { t_d("s", "a", -1, 0, 0), t_d("s", "b", -1, 0, 0) };
    struct crmpi_durations fresh2 = { now, 1 }, known2 = { all, 2 };
    cr_assert_eq(crmpi_durations_save(path, &fresh2, &known2), 0);

    struct crmpi_durations db;
    cr_assert_eq(crmpi_durations_load(path, &db), 0);
    cr_expect_eq(db.n, 2);
    const struct crmpi_duration *a = crmpi_durations_find(&db, "s", "a", -1);
    const struct crmpi_duration *b = crmpi_durations_find(&db, "s", "b", -1);
    cr_assert_not_null(a, "an entry of a unit that did not run is kept");
    cr_assert_not_null(b);
    cr_expect_eq(a->ns, 10);
    cr_expect_eq(b->status, 'F');
    cr_expect_null(crmpi_durations_find(&db, "s", "gone", -1), "stale entries are dropped");
    crmpi_durations_free(&db);
    t_rm(dir);
    free(dir);
}

/*
 * Issue 11: a file without our header (here an ELF) is not ours and is never
 * replaced; one with our header but corrupt lines is.
 */
Test(durations, corrupt_file_is_replaced_on_save_foreign_file_is_not)
{
    char *dir = t_dir();
    char path[256];
    snprintf(path, sizeof(path), "%s/x.durations", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("\x7f" "ELF garbage\n", f);
    fclose(f);
    struct crmpi_durations db;
    cr_expect_eq(crmpi_durations_load(path, &db), CRMPI_DURATIONS_FOREIGN);
    struct crmpi_duration one[] = { t_d("s", "a", -1, 3, 'P') };
    struct crmpi_durations fresh = { one, 1 };
    cr_assert_eq(crmpi_durations_save(path, &fresh, &fresh), CRMPI_DURATIONS_FOREIGN);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[64] = "";
    cr_expect_not_null(fgets(line, sizeof(line), f));
    fclose(f);
    cr_expect_str_eq(line, "\x7f" "ELF garbage\n", "the foreign file was rewritten");

    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(CRMPI_DURATIONS_HEADER "ELF garbage\n", f);
    fclose(f);
    cr_expect_eq(crmpi_durations_load(path, &db), -EBADMSG);
    cr_assert_eq(crmpi_durations_save(path, &fresh, &fresh), 0);
    cr_assert_eq(crmpi_durations_load(path, &db), 0);
    cr_expect_eq(db.n, 1);
    crmpi_durations_free(&db);
    t_rm(dir);
    free(dir);
}

/* Many processes saving at once: the file is always whole, and merged. */
Test(durations, concurrent_writers)
{
    char *dir = t_dir();
    char path[256];
    snprintf(path, sizeof(path), "%s/c.durations", dir);
    enum { WRITERS = 8 };
    static const char *const names[WRITERS] = { "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7" };
    struct crmpi_duration all[WRITERS];
    for (int i = 0; i < WRITERS; ++i)
        all[i] = t_d("s", names[i], -1, 0, 0);

    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; ++i) {
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (!pids[i]) {
            struct crmpi_duration mine[] = { t_d("s", names[i], -1, (uint64_t) i + 1, 'P') };
            struct crmpi_durations fresh = { mine, 1 }, known = { all, WRITERS };
            for (int k = 0; k < 20; ++k)
                if (crmpi_durations_save(path, &fresh, &known))
                    _exit(1);
            _exit(0);
        }
    }
    for (int i = 0; i < WRITERS; ++i) {
        int st;
        cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed", i);
    }
    struct crmpi_durations db;
    cr_assert_eq(crmpi_durations_load(path, &db), 0, "the file is whole");
    cr_expect_eq(db.n, WRITERS, "every writer's entry survived the merges");
    crmpi_durations_free(&db);
    t_rm(dir);
    free(dir);
}
