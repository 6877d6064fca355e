/*
 * Report files (--tap, --xml, --json, -O, CRITERION_OUTPUTS and providers the
 * binary registers).  Criterion keeps these in unexported tables; the plugin
 * sees them through the interposed registration calls and writes them itself
 * from the merged statistics of a --mproc run.
 */
#ifndef CRMPI_OUTPUTS_H_
#define CRMPI_OUTPUTS_H_

#include <stdio.h>

#include <criterion/output.h>
#include <criterion/stats.h>

/* Records a provider; builtin marks the ones criterion_initialize registers. */
int crmpi_outputs_register(const char *name, criterion_reporter *fn, int builtin);

/* Records a requested output; path is borrowed and must outlive the run. */
int crmpi_outputs_add(const char *provider, const char *path);

/* Whether any output was requested. */
int crmpi_outputs_requested(void);

/*
 * Writes every requested output from stats, as Criterion would, except that
 * the built-in JSON provider is replaced by crmpi_json_report (valid JSON).
 */
void crmpi_outputs_write(struct criterion_global_stats *stats);

/*
 * Marks the report files of a run that was cut short (why: "interrupted by
 * signal 2", "--fail-fast"; borrowed): TAP gets a "Bail out!" line, XML a
 * trailing comment, our JSON an "interrupted" member.
 */
void crmpi_outputs_mark_incomplete(const char *why);

void crmpi_outputs_free(void);

/* Criterion's JSON report shape, written with json-c: always valid JSON. */
void crmpi_json_report(FILE *f, struct criterion_global_stats *stats);

#endif /* !CRMPI_OUTPUTS_H_ */
