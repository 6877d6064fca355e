/*
 * The runner's live status line and recap, over every program of the pool:
 * the plugin's own (README, "While tests run") for a whole project.  The
 * line is drawn on a terminal from what the pool sees (programs starting
 * and ending, their totals) and from the records each Criterion binary's
 * coordinator sends beside its blocks (runnerlink.h): its test count, each
 * test's start and end.  The programs themselves write to pipes: their own
 * lines are never drawn.  The recap after the total Synthesis lists the
 * failed tests of every program, qualified by its name, as the plugin's
 * recap does for one binary.
 *
 * Every function accepts NULL (nothing to draw or recap) and does nothing.
 */
#ifndef CRMPI_RUNNER_LIVE_H_
#define CRMPI_RUNNER_LIVE_H_

#include <stddef.h>
#include <stdio.h>

#include "options.h"
#include "runner.h"

struct crmpi_rlive;

enum crmpi_rlive_recap {
    CRMPI_RLIVE_RECAP_AUTO,     /* when stderr is a terminal: a log's output stays as it was */
    CRMPI_RLIVE_RECAP_ON,
    CRMPI_RLIVE_RECAP_OFF,
};

struct crmpi_rlive_opts {
    enum crmpi_progress_mode progress;
    enum crmpi_rlive_recap recap;
    int color;                  /* the line's counts may be coloured */
};

/*
 * Whether the runner's lines may be coloured, as Criterion colours what
 * crit_args (NULL-terminated, or NULL) and the environment ask every
 * binary for: not with --ascii, --color=never, CRITERION_USE_ASCII=1 or
 * NO_COLOR set.
 */
int crmpi_rlive_color(char *const *crit_args);

/*
 * Sets *out to the line and recap of l's programs (borrowed: l outlives it)
 * on slots slots, or to NULL when o asks for neither here (a pipe, --mproc-
 * progress=none and no recap).  0, or -ENOMEM.  Owned: crmpi_rlive_free.
 */
int crmpi_rlive_new(const struct crmpi_rlive_opts *o, const struct crmpi_rlist *l,
        unsigned slots, struct crmpi_rlive **out);
void crmpi_rlive_free(struct crmpi_rlive *lv);

/* The value of CRITERION_MPROC_RUNNER_LIVE for Criterion binaries; NULL: none. */
const char *crmpi_rlive_env(const struct crmpi_rlive *lv);

/*
 * The pool's events.  _begin: the run starts, t (borrowed) is where the
 * finished programs' counts add up.  _started, _finished: program index of
 * the list (finished also when it could not start; after t counts it).
 * _record: the text between a record's separators in program index's
 * output; 0, or -EINVAL when it is no record (the pool then relays it).
 * _aside: before the pool writes on stderr.  The pool polls no longer than
 * _timeout says and calls _tick after each poll.  _end: the line goes for
 * good, before the total Synthesis.
 */
void crmpi_rlive_begin(struct crmpi_rlive *lv, const struct crmpi_rtotals *t);
void crmpi_rlive_started(struct crmpi_rlive *lv, size_t index);
int crmpi_rlive_record(struct crmpi_rlive *lv, size_t index, const char *text, size_t len);
void crmpi_rlive_finished(struct crmpi_rlive *lv, size_t index);
void crmpi_rlive_aside(struct crmpi_rlive *lv);
int crmpi_rlive_timeout(const struct crmpi_rlive *lv, int timeout_ms);
void crmpi_rlive_tick(struct crmpi_rlive *lv);
void crmpi_rlive_end(struct crmpi_rlive *lv);

/*
 * After the total Synthesis, when the recap is on: one line per test that
 * failed, crashed or timed out, program by program in the list's order
 * ("PROGRAM/SUITE::TEST" for a Criterion binary's, the program alone for
 * one judged by its exit status), then the efficiency line of a run over
 * 10 s.  Prints nothing when there is nothing to say.
 */
void crmpi_rlive_print_recap(const struct crmpi_rlive *lv, FILE *f);

#endif /* !CRMPI_RUNNER_LIVE_H_ */
