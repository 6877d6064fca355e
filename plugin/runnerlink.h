/*
 * What a Criterion binary's coordinator tells the `criterion-mproc` runner
 * that started it (CRITERION_MPROC_RUNNER names a file for its counts): a
 * mark after each test's block, so that the runner relays whole blocks
 * while other programs write too, and the run's counts for the total.
 */
#ifndef CRMPI_RUNNERLINK_H_
#define CRMPI_RUNNERLINK_H_

#define CRMPI_ENV_RUNNER "CRITERION_MPROC_RUNNER"
/* The first test slot of a program's workers: the runner's slot for it, times N. */
#define CRMPI_ENV_RUNNER_SLOT_BASE "CRITERION_MPROC_SLOT_BASE"

struct criterion_global_stats;

struct crmpi_runnerlink_stats {
    unsigned long tested, passing, failing, crashing, skipped;
};

/* After a test's block was written and flushed: marks its end on stderr. */
void crmpi_runnerlink_frame(void);

/* At the end of a run: the counts for the runner, when one reads them. */
void crmpi_runnerlink_write_stats(const struct criterion_global_stats *stats);

/* The runner's side: reads the counts at path.  0, -ENOENT, or -EINVAL. */
int crmpi_runnerlink_read_stats(const char *path, struct crmpi_runnerlink_stats *s);

#endif /* !CRMPI_RUNNERLINK_H_ */
