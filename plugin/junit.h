/*
 * --mproc-junit=FILE: a JUnit XML report as CI systems read it (Jenkins,
 * GitLab, Azure, the GitHub report actions), written with libxml2 from the
 * results the coordinator gathered.  Unlike Criterion's --xml (kept identical
 * to the serial run's), it names each parameter of a parameterized test,
 * keeps its counts consistent with its elements, carries each test's own
 * output, and the earlier tries of a retried test as Maven Surefire writes
 * them (flakyFailure / rerunFailure).
 */
#ifndef CRMPI_JUNIT_H_
#define CRMPI_JUNIT_H_

#include <stddef.h>
#include <time.h>

#include "report.h"

struct crmpi_junit_unit {
    const struct crmpi_report_unit *r;      /* borrowed; r->result: the final try (NULL: not run) */
    Crmp__Envelope *const *tries;           /* borrowed: the earlier, failed tries, oldest first */
    size_t n_tries;
};

/*
 * Writes the report of units (in Criterion's set order, so that a suite's
 * units are consecutive) to path ("-": standard output).  Units that never
 * ran are left out.  started is when the run began (UTC wall clock).
 * Returns 0, or a negative errno (the file could not be written).
 */
int crmpi_junit_write(const char *path, const struct crmpi_junit_unit *units, size_t n,
        time_t started);

/*
 * How a result ended, as the JUnit report and the retry policy see it: a
 * FAIL (assertions, an unexpected exit), an ERROR (a crash or a timeout), a
 * SKIP (skipped or disabled), or a PASS.
 */
enum crmpi_junit_kind { CRMPI_JUNIT_PASS, CRMPI_JUNIT_FAIL, CRMPI_JUNIT_ERROR, CRMPI_JUNIT_SKIP };

enum crmpi_junit_kind crmpi_junit_kind_of(const Crmp__Result *res);

/* The one-line message the report gives u's result res (its failure, error or skip). */
void crmpi_junit_message(const struct crmpi_report_unit *u, const Crmp__Result *res, char *buf,
        size_t size);

#endif /* !CRMPI_JUNIT_H_ */
