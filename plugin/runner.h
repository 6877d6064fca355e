/*
 * The `criterion-mproc` runner: every test of every listed program in one
 * pool of N slots.  A program is either a Criterion binary (its tests then
 * run on the plugin's workers, which take a slot per test through a GNU make
 * jobserver the runner serves) or anything else, run whole as one unit.
 *
 * runner_list.c: the test list (command line, `meson introspect --tests`,
 * `ctest --show-only=json-v1`), selection by suite or label, and telling a
 * Criterion binary from any other program.
 * runner_pool.c: the pool: starting programs when a slot is free, the
 * jobserver, relaying output whole, timeouts, the totals.
 * runner.c: the command line and the end-of-run summary.
 */
#ifndef CRMPI_RUNNER_H_
#define CRMPI_RUNNER_H_

#include <stddef.h>

struct crmpi_rtest {
    char *name;         /* owned; what the user sees */
    char **argv;        /* owned, NULL-terminated; argv[0] is the program */
    char **env;         /* owned "K=V" added to the environment, NULL-terminated */
    char *cwd;          /* owned; NULL: the runner's */
    char **suites;      /* owned, NULL-terminated: meson suites or CTest labels */
    double timeout_s;   /* 0: none */
    int is_parallel;    /* 0: runs alone, after the others */
    int is_criterion;   /* set by crmpi_rlist_classify */
    int failed;         /* set by the pool: did not pass (or could not start) */
    double expected_s;  /* how long it took last time; < 0: unknown */
    double took_s;      /* set by the pool; < 0: did not run */
    int skipped;        /* set by the pool: exit status 77 of a program */
    char verdict[96];   /* set by the pool when it judged the program itself: why it failed */
    int judged;         /* set by the pool: the program counts as one test (no plugin counts) */
    const char *recap_status;   /* set by the pool: the recap lists the program itself, with its
                                   verdict ("FAIL", "CRASH", "TIMEOUT"); NULL: not */
};

struct crmpi_rlive;

struct crmpi_rlist {
    struct crmpi_rtest *v;
    size_t n, cap;
};

/* Frees what l owns; tolerates a zeroed l. */
void crmpi_rlist_free(struct crmpi_rlist *l);

/*
 * Appends one test per path (borrowed), named after the path, run as
 * `path` alone.  Returns 0 or -ENOMEM.
 */
int crmpi_rlist_add_paths(struct crmpi_rlist *l, char *const *paths, size_t n);

/*
 * Appends the tests that `meson introspect --tests` (json: its output,
 * borrowed) describes, or that `ctest --show-only=json-v1` does.  Returns
 * 0, -EINVAL for text that is not such a document (with a reason in err),
 * or -ENOMEM.
 */
int crmpi_rlist_add_meson(struct crmpi_rlist *l, const char *json, char *err, size_t errlen);
int crmpi_rlist_add_ctest(struct crmpi_rlist *l, const char *json, char *err, size_t errlen);

/*
 * Keeps the tests in one of the suites of `only` (all when n_only is 0)
 * and in none of `exclude`.  A meson suite matches by its full
 * "project:suite" name or by the part after the colon.
 */
void crmpi_rlist_select(struct crmpi_rlist *l, char *const *only, size_t n_only,
        char *const *exclude, size_t n_exclude);

/*
 * Whether the ELF file at path is dynamically linked against libcriterion
 * (a DT_NEEDED entry naming it): 1, 0 (not ELF, or not linked with it), or
 * -errno when it cannot be read.
 */
int crmpi_elf_needs_criterion(const char *path);

/* Sets is_criterion on every test; returns how many are Criterion binaries. */
size_t crmpi_rlist_classify(struct crmpi_rlist *l);

/*
 * The runner's history (one "SECONDS NAME" line per program, in the
 * directory the runner runs in): load sets expected_s of the tests it
 * knows; save writes took_s of those that ran, keeping the lines of the
 * others.  0 or -errno (a missing file loads as empty).
 */
int crmpi_rlist_history_load(struct crmpi_rlist *l, const char *path);
int crmpi_rlist_history_save(const struct crmpi_rlist *l, const char *path);

/* What the pool reports for a whole run. */
struct crmpi_rtotals {
    size_t programs;    /* started or not */
    size_t tested, passing, failing, crashing, skipped;
    size_t programs_failed; /* exit status not what a serial run passes with */
    size_t not_started;
    int interrupted;    /* the signal that stopped the run, or 0 */
};

struct crmpi_rpool_opts {
    unsigned slots;             /* tests at once, in total (>= 1) */
    const char *plugin;         /* path of libcriterion-mproc.so to preload */
    const char *report_dir;     /* NULL: no per-program TAP/XML/JSON */
    const char *artifacts;      /* NULL: no artifacts collected; else DIR, one folder a binary */
    char *const *crit_args;     /* NULL-terminated: appended for Criterion binaries */
    double timeout_multiplier;  /* applied to each test's timeout; 0: none */
    const char *junit;          /* NULL: no JUnit report over all programs */
    struct crmpi_rlive *live;   /* NULL: no status line, no recap (runner_live.h) */
    int verbose;
};

/*
 * Writes one JUnit report at path over every program of l: each Criterion
 * binary's own (the plugin wrote it at junit_dir/junit.INDEX.xml), its
 * suites renamed PROGRAM/SUITE so that names never collide, and one
 * testsuite of one testcase for each program judged by its exit status.
 * Returns 0, or -errno after saying why.
 */
int crmpi_runner_junit_write(const struct crmpi_rlist *l, const char *junit_dir, const char *path);

/*
 * Runs every test of l in the pool.  Fills *t.  Returns 0 when the run
 * went through (whatever the tests' results), -errno when the pool itself
 * failed (after saying why).
 */
int crmpi_rpool_run(struct crmpi_rlist *l, const struct crmpi_rpool_opts *o,
        struct crmpi_rtotals *t);

#endif /* !CRMPI_RUNNER_H_ */
