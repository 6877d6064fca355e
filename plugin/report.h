/*
 * Reporting on the coordinator: replays each unit's captured logger events
 * into the binary's logger (Criterion's console format, or the user's own
 * logger), calls the whole-run and suite report hooks once, rebuilds
 * Criterion's statistics tree and writes the report files from it.
 */
#ifndef CRMPI_REPORT_H_
#define CRMPI_REPORT_H_

#include <stddef.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/stats.h>

#include "hooks.h"
#include "mproc.pb-c.h"

struct crmpi_report_unit {
    struct criterion_suite_set *suite;   /* the coordinator's own set */
    struct criterion_test *test;
    const Crmp__Result *result;          /* borrowed; NULL: never ran */
    int param;                           /* beside skipped: 32 bytes, not 40, for each unit */
    int skipped;                         /* disabled or filtered out: reported without running */
};

enum { CRMPI_HOOK_PRE_ALL, CRMPI_HOOK_PRE_SUITE, CRMPI_HOOK_POST_SUITE,
       CRMPI_HOOK_POST_ALL, CRMPI_HOOK_COUNT };

struct crmpi_report {
    struct criterion_test_set *set;
    struct criterion_logger *logger;
    struct crmpi_hook_list hooks[CRMPI_HOOK_COUNT];
    const struct criterion_suite_set **announced;  /* suites whose header is out */
    size_t n_announced;
    struct criterion_global_stats *stats;          /* built by crmpi_report_end */
    int framed;     /* a runner reads the output: each unit's ends with a frame (crmpi_report_begin) */
};

/* Starts the run: PRE_ALL hooks, then the logger's pre_all.  Returns 0 or -errno. */
int crmpi_report_begin(struct crmpi_report *r, struct criterion_test_set *set);

/* Prints one finished unit, whole, announcing its suite first if needed. */
void crmpi_report_unit(struct crmpi_report *r, const struct crmpi_report_unit *u);

/*
 * Prints a skipped unit (u->skipped, no result) as Criterion's runner does a
 * disabled test: PRE_INIT only, with the test marked disabled (--filter
 * disables what it leaves out).
 */
void crmpi_report_skipped(struct crmpi_report *r, const struct crmpi_report_unit *u);

/*
 * The result every skipped unit points at (static, shared: never freed):
 * disabled, no final statistics, counted and skipped, no time, no output,
 * for the writers that read results (JUnit, durations, the live line).
 */
const Crmp__Result *crmpi_report_skipped_result(void);

/*
 * Ends the run: suite headers never printed (suites with no unit), the
 * statistics tree in Criterion's order, POST_SUITE and POST_ALL hooks, the
 * report files, the logger's post_all.  Returns 1 when Criterion would exit
 * successfully, 0 otherwise, -ENOMEM on allocation failure.
 */
int crmpi_report_end(struct crmpi_report *r, const struct crmpi_report_unit *units, size_t n);

void crmpi_report_free(struct crmpi_report *r);

#endif /* !CRMPI_REPORT_H_ */
