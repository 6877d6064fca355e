/*
 * The recap: after the Synthesis, one line per test that failed, crashed or
 * timed out, so that nobody has to scroll a long log to find them, and the
 * run's efficiency when it took long enough to matter.
 */
#ifndef CRMPI_RECAP_H_
#define CRMPI_RECAP_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

/* A run shorter than this gets no efficiency line in its recap. */
#define CRMPI_RECAP_EFFICIENCY_MS 10000

/* The run's use of its workers, for the efficiency line. */
struct crmpi_recap_efficiency {
    int64_t makespan_ms;        /* START to the last result */
    uint64_t total_ns;          /* sum of the tests' wall times */
    uint64_t longest_ns;        /* the longest test */
    size_t workers;             /* workers that ran */
};

/*
 * What the recap says of one unit: 1 for one Criterion's console flagged (a
 * [FAIL] line, or a warning that its setup or teardown crashed or exited),
 * with *status a static word ("FAIL", "CRASH", "TIMEOUT") and, in detail
 * (size len), where or why: the first failed assertion's file:line, the
 * signal, the exit status.  0 for the others (passed, skipped, never ran).
 * Paths are cut to their base name when short_filename is set, and an
 * absolute assertion path is made relative to the working directory, as
 * Criterion's console prints them.
 */
int crmpi_recap_describe(const struct crmpi_report_unit *u, int short_filename,
        const char **status, char *detail, size_t len);

/*
 * Writes to out (size len) the absolute path made relative to the absolute
 * cwd the way Criterion 2.4.1's console does it, quirks included (see
 * recap.c).
 */
void crmpi_recap_relative(const char *cwd, const char *path, char *out, size_t len);

/*
 * Prints the recap of units (Criterion's order) to f: a header and one line
 * per unit crmpi_recap_describe lists, then the units that left processes
 * running (a LEAK line each, with the commands), then the efficiency line
 * when eff is not NULL.  Prints nothing when there is nothing to say.
 * Returns the number of units listed as failed, crashed or timed out.
 */
size_t crmpi_recap_print(FILE *f, const struct crmpi_report_unit *units, size_t n,
        int short_filename, const struct crmpi_recap_efficiency *eff);

/* The test's name as the recap shows it after its suite's: "name", or "name [param N]". */
void crmpi_recap_test_name(const struct crmpi_report_unit *u, char *buf, size_t size);

/*
 * The recap's pieces, for a recap of units from elsewhere (the runner's, over
 * many programs): the header for listed lines, one line (status as
 * crmpi_recap_describe gives it, the test's qualified name, the detail or
 * ""), the efficiency line.
 */
void crmpi_recap_print_head(FILE *f, size_t listed);
void crmpi_recap_print_leaks_head(FILE *f, size_t leaked);
void crmpi_recap_print_line(FILE *f, const char *status, const char *name, const char *detail);
void crmpi_recap_print_efficiency(FILE *f, const struct crmpi_recap_efficiency *eff);

/*
 * The commands r's test left running, as its LEAK line has them, into
 * detail ("" when none).  Returns whether it left any.
 */
int crmpi_recap_leaked(const Crmp__Result *r, char *detail, size_t len);

/* The efficiency line's lower bound (max(total / workers, longest)), in ns. */
double crmpi_recap_lower_bound_ns(const struct crmpi_recap_efficiency *eff);

#endif /* !CRMPI_RECAP_H_ */
