/*
 * What the plugin knows of Criterion (2.3.3, 2.4.x) beyond its public headers, in
 * one place: the next release is this file (and crit.c) to read.
 *
 * - the few libcriterion symbols used directly, declared weak: the plugin
 *   does not link libcriterion, so that preloading it into a program
 *   without Criterion (a shell, make) neither fails nor drags Criterion in;
 * - the report-hook section names;
 * - the layout the runner expects of an ordered set's nodes;
 * - where BoxFort keeps the runner's arena (cr_malloc'd parameters), and the
 *   files a killed runner or sandbox leaves behind;
 * - the timeout rule, the exit-verdict rule;
 * - the private symbols the zygote looks up or redirects in a test process.
 *
 * What differs between releases (2.3.3, 2.4.1, 2.4.2, 2.4.3: how the loaded
 * one is identified, the size of its criterion_options, its JSON spelling,
 * its equal-parameters message, when cr_malloc works, fork isolation, report
 * paths) is the one table in crit_release.[ch], included below so that a
 * reader starting here finds it; a fact lives in one of the two files, never
 * both.  How the plugin reaches structures whose layout differs (2.3's and
 * 2.4's) is crit23/ or crit24/crit_layout.h, picked by the build.  Supporting
 * a new release: add its row there, then check every fact listed above
 * against its sources.
 */
#ifndef CRMPI_CRIT_H_
#define CRMPI_CRIT_H_

#include <stddef.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/options.h>
#include <criterion/stats.h>

#include "crit_release.h"

/*
 * The new assertion API's logger members (2.4 and later), reached through
 * crit_layout.h: the release's layout is the build's choice, never an
 * #ifdef here.  (2.4's logging.h completes the parameter type; on 2.3 the
 * layout header does.)
 */
struct cr_log_assert_param;

struct crmpi_crit_assert_log {
    void (*sub)(struct criterion_assert_stats *as, const char *repr, const char *message);
    void (*formatted)(struct criterion_assert_stats *as, const char *formatted);
    void (*param)(struct criterion_assert_stats *as, struct cr_log_assert_param *p);
    void (*param_eq)(struct criterion_assert_stats *as, struct cr_log_assert_param *p1,
            struct cr_log_assert_param *p2);
};

/*
 * Per layout: crmpi_crit_assert_log_install / _of (the members above, absent
 * on 2.3), crmpi_crit_stats_add_issues (the run's warnings and errors),
 * crmpi_crit_stats_ok (the exit rule), crmpi_crit_color, crmpi_crit_executable_name.
 */
#include "crit_layout.h"

/*
 * Exported by libcriterion 2.4.1 but declared only in its private headers:
 * the line printer behind Criterion's own "[----] ..." messages.
 */
struct criterion_prefix_data {
    const char *prefix;
    const char *color;
};

void criterion_plog(enum criterion_logging_level level,
        const struct criterion_prefix_data *prefix, const char *msg, ...);

#pragma weak criterion_options
#pragma weak criterion_plog

static inline int crmpi_have_criterion(void)
{
    return &criterion_options != NULL;
}

/* ---- report hooks: ELF sections of ReportHook(KIND) slots ------------------ */

#define CRMPI_CRIT_SECTION_PRE_ALL "cr_pra"
#define CRMPI_CRIT_SECTION_PRE_SUITE "cr_prs"
#define CRMPI_CRIT_SECTION_PRE_INIT "cr_pri"
#define CRMPI_CRIT_SECTION_PRE_TEST "cr_prt"
#define CRMPI_CRIT_SECTION_ASSERT "cr_ast"
#define CRMPI_CRIT_SECTION_THEORY_FAIL "cr_thf"
#define CRMPI_CRIT_SECTION_TEST_CRASH "cr_tsc"
#define CRMPI_CRIT_SECTION_POST_TEST "cr_pot"
#define CRMPI_CRIT_SECTION_POST_FINI "cr_pof"
#define CRMPI_CRIT_SECTION_POST_SUITE "cr_pos"
#define CRMPI_CRIT_SECTION_POST_ALL "cr_poa"

/* ---- one test as a one-test suite, for the runner's lazy suite walk ---------- */

/*
 * The runner's ordered set stores each payload immediately after its node
 * header (criterion_ordered_set_node has no data pointer): a unit handed to
 * the runner is laid out the same way.
 */
struct crmpi_crit_unit_node {
    struct criterion_ordered_set_node suite_node;
    struct criterion_suite_set suite_set;
    struct criterion_ordered_set tests;
    struct criterion_ordered_set_node test_node;
    struct criterion_test test;
    struct criterion_test_extra_data data;
};

/*
 * Fills node as a suite (suite's copy) holding one test (a copy of test
 * and its data, whose timeout becomes `timeout` when > 0).  The node is
 * the caller's and must outlive the runner's walk.
 */
void crmpi_crit_unit_node_init(struct crmpi_crit_unit_node *node,
        const struct criterion_suite *suite, const struct criterion_test *test, double timeout);

/* Fills node as a suite without tests (the runner reports it, runs nothing). */
void crmpi_crit_empty_suite_init(struct crmpi_crit_unit_node *node);

/* Makes node the suite the runner reads after `after` (NULL: the first of set). */
void crmpi_crit_unit_node_append(struct criterion_ordered_set *set,
        struct crmpi_crit_unit_node *after, struct crmpi_crit_unit_node *node);

/* ---- rules ------------------------------------------------------------------- */

/*
 * A test's timeout: Criterion's rule (the test's, else its suite's), and
 * --timeout capping every test, also those that declare no timeout of their
 * own (Criterion 2.4.1 caps only the declared ones: its issue #279).  0: none.
 */
double crmpi_crit_timeout_of(const struct criterion_suite *suite,
        const struct criterion_test *test);

/* Whether a test does not run at all (it or its suite disabled). */
int crmpi_crit_disabled(const struct criterion_suite *suite, const struct criterion_test *test);

/* Whether Criterion would exit successfully after a run with these statistics. */
int crmpi_crit_verdict(const struct criterion_global_stats *gs);

/* Whether fn is libcriterion's own code (e.g. its console logger's, not a user's). */
int crmpi_crit_owns(const void *fn);

/* ---- BoxFort's arena ------------------------------------------------------------ */

/*
 * The runner's arena (where cr_malloc'd parameters live): mapped shared in
 * this process as /dev/shm/bxf_arena_<pid>.  Finds its address and length
 * (it may have grown since the last call) and its descriptor, looked up
 * once and cached in *fd_cache (start it at -1).  Returns 0 or -ENOENT.
 */
int crmpi_crit_arena_find(int *fd_cache, void **addr, size_t *len);

/* ---- libcriterion's private symbols, for the zygote ------------------------------ */

/* The shared object whose relocation slots the zygote patches. */
#define CRMPI_CRIT_LIBRARY "libcriterion.so"
/* Test-side calls to a function of this name get the body of a test. */
#define CRMPI_CRIT_TEST_MAIN "criterion_internal_test_main"
/* Around it, in a test process (fixtures.c's failed test calls all three). */
#define CRMPI_CRIT_TEST_SETUP "criterion_internal_test_setup"
#define CRMPI_CRIT_TEST_TEARDOWN "criterion_internal_test_teardown"
#define CRMPI_CRIT_REDIRECT_STDIN "cr_redirect_stdin"
#define CRMPI_CRIT_CURRENT_TEST "criterion_current_test"
#define CRMPI_CRIT_CURRENT_SUITE "criterion_current_suite"
/*
 * Criterion's diff engine, started by every sandbox, and by criterion_initialize
 * in 2.4; its one use is CRMPI_CRIT_DIFF, for a failed assertion's message.
 */
#define CRMPI_CRIT_DIFF_INIT "git_libgit2_init"
#define CRMPI_CRIT_DIFF_TERM "git_libgit2_shutdown"
#define CRMPI_CRIT_DIFF "git_diff_buffers"

/* ---- what a killed runner or sandbox leaves (reaper.c removes it) --------------- */

/* Criterion's runner socket: PREFIX <runner pid> SUFFIX. */
#define CRMPI_CRIT_RUNNER_SOCK_PREFIX "/tmp/criterion_"
#define CRMPI_CRIT_RUNNER_SOCK_SUFFIX ".sock"
/* BoxFort's arena file of a sandbox: PREFIX <sandbox pid>. */
#define CRMPI_CRIT_SANDBOX_SHM_PREFIX "/dev/shm/bxfi_"

#endif /* !CRMPI_CRIT_H_ */
