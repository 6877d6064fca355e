/*
 * GitHub Actions annotations: when GITHUB_ACTIONS=true, each failed
 * assertion of a test's final result is also printed as a workflow command,
 *
 *   ::error file=F,line=L,title=SUITE::TEST::MESSAGE
 *
 * so that the failure shows on the pull request's diff.  A failure without
 * a failed assertion (a crash, a timeout, an unexpected exit) is annotated
 * at the test's own definition.  --mproc-annotations=off turns them off.
 */
#ifndef CRMPI_ANNOTATE_H_
#define CRMPI_ANNOTATE_H_

#include <stddef.h>
#include <stdio.h>

#include "report.h"

/*
 * Escapes in per GitHub's workflow-command rules: % \r \n as %25 %0D %0A,
 * and in a property (property != 0) also : and , as %3A %2C.  Writes at most
 * size bytes to out, NUL included, cutting whole escapes only.  Returns out.
 */
char *crmpi_annotate_escape(const char *in, int property, char *out, size_t size);

/* Whether annotations are printed: mode "auto" (or NULL) when github_actions is "true", "on". */
int crmpi_annotate_enabled(const char *mode, const char *github_actions);

/* Prints to f the annotations of u's final result (nothing when it did not fail). */
void crmpi_annotate_unit(FILE *f, const struct crmpi_report_unit *u);

#endif /* !CRMPI_ANNOTATE_H_ */
