/*
 * What a Criterion binary's coordinator tells the `criterion-mproc` runner
 * that started it (CRITERION_MPROC_RUNNER names a file for its counts): a
 * mark after each test's block, so that the runner relays whole blocks
 * while other programs write too, and the run's counts for the total.
 *
 * When the runner draws a status line or prints a recap over all programs
 * (CRITERION_MPROC_RUNNER_LIVE), the coordinator also says what it knows as
 * it learns it, in records on the same stream: a record is 0x1f, the text
 * "crmp1", tab-separated fields, and the mark 0x1e, written at once (under
 * PIPE_BUF: never mixed with another writer's bytes).  The runner relays
 * what comes before it and keeps the record.
 */
#ifndef CRMPI_RUNNERLINK_H_
#define CRMPI_RUNNERLINK_H_

#define CRMPI_ENV_RUNNER "CRITERION_MPROC_RUNNER"
/* Set by the runner: "records", or "records,recap" when it prints the recap itself. */
#define CRMPI_ENV_RUNNER_LIVE "CRITERION_MPROC_RUNNER_LIVE"
/* The first test slot of a program's workers: the runner's slot for it, times N. */
#define CRMPI_ENV_RUNNER_SLOT_BASE "CRITERION_MPROC_SLOT_BASE"
/*
 * A descriptor: the runner started this program before it had a job slot
 * for it, so that its start-up overlaps other programs' tests, and writes
 * one byte there when the slot is free.  No test runs before.
 */
#define CRMPI_ENV_RUNNER_SLOT_FD "CRITERION_MPROC_SLOT_FD"

struct criterion_global_stats;

struct crmpi_runnerlink_stats {
    unsigned long tested, passing, failing, crashing, skipped;
};

#define CRMPI_RUNNERLINK_MARK '\x1e'
#define CRMPI_RUNNERLINK_RECORD '\x1f'
/* A record's bytes at most, separators included (well under PIPE_BUF). */
#define CRMPI_RUNNERLINK_RECORD_MAX 1024

enum crmpi_runnerlink_kind {
    CRMPI_RUNNERLINK_TOTAL = 'T',   /* the units are known: n of them will be reported */
    CRMPI_RUNNERLINK_START = 'S',   /* unit n went to a worker */
    CRMPI_RUNNERLINK_DONE = 'D',    /* unit n's block is out (skipped ones too) */
    CRMPI_RUNNERLINK_LEAK = 'L',    /* unit n left processes running: detail, their commands */
};

struct crmpi_runnerlink_rec {
    enum crmpi_runnerlink_kind kind;
    unsigned long n;                /* TOTAL: units; START, DONE: the unit's index */
    unsigned long passed, failed, crashed;  /* DONE: the unit's counts, as the Synthesis adds them */
    unsigned long wall_ms;          /* DONE: how long it ran */
    const char *suite, *name;       /* START, DONE; name with " [param N]" */
    const char *status, *detail;    /* DONE: the recap's line ("FAIL", ...); "" when not listed;
                                       LEAK: detail only */
    char text[CRMPI_RUNNERLINK_RECORD_MAX];     /* what a parsed record's strings point into */
};

/*
 * Whether the runner asked for records: 0, 1, or 2 when it also prints the
 * recap over all programs (the binary then prints none of its own).
 */
int crmpi_runnerlink_wanted(void);

/*
 * Writes r as a record (0x1f ... 0x1e, then a NUL) into buf: tabs, line
 * ends and the two separators inside its strings become spaces, and each
 * string is cut to a share of the room (the detail, then the name, keep
 * the most).  Returns the record's length.
 */
size_t crmpi_runnerlink_format(const struct crmpi_runnerlink_rec *r,
        char buf[CRMPI_RUNNERLINK_RECORD_MAX]);

/*
 * Reads the len bytes between a record's 0x1f and its mark into r (its
 * strings point into r->text).  0, or -EINVAL for anything else: bytes a
 * test wrote that merely contain the separators.
 */
int crmpi_runnerlink_parse(const char *text, size_t len, struct crmpi_runnerlink_rec *r);

/* Sends r on stderr (after stdio's buffers) when the runner asked for records. */
void crmpi_runnerlink_send(const struct crmpi_runnerlink_rec *r);

/* After a test's block was written and flushed: marks its end on stderr. */
void crmpi_runnerlink_frame(void);

/* At the end of a run: the counts for the runner, when one reads them. */
void crmpi_runnerlink_write_stats(const struct criterion_global_stats *stats);

/* The runner's side: reads the counts at path.  0, -ENOENT, or -EINVAL. */
int crmpi_runnerlink_read_stats(const char *path, struct crmpi_runnerlink_stats *s);

#endif /* !CRMPI_RUNNERLINK_H_ */
