/*
 * The runner's half of a fork-isolated test (--mproc-isolation=fork).
 *
 * In fork mode a worker does not let Criterion's runner spawn the test: a
 * fork of the worker's zygote runs it (plugin/zygote.c), and everything
 * Criterion's test-side code sends its runner (phases, assertions, log
 * messages, statistics) is written to a channel instead of a nanomsg
 * socket.  When the test process has ended, the worker replays the channel
 * here: this module does, on each message and on the process's end, what
 * Criterion 2.4.1's runner does (src/core/client.c and stats.c: the state
 * machine, the statistics, the logger calls and the report hooks), so that
 * the worker's capture logger records exactly what it records in exec mode.
 *
 * The channel is a sequence of records: a 32-bit length in host order, then
 * one Criterion protocol message (plugin/critproto.proto) of that length.
 * A length with CRMPI_FORKRUN_AT set is followed, before the message, by
 * where the test's output stood when it sent it: two 64-bit sizes in host
 * order, of its captured stdout and stderr (so that the events of the
 * replay keep their place among the test's own output).  The channel is
 * written by test code and read as hostile input.
 */
#ifndef CRMPI_FORKRUN_H_
#define CRMPI_FORKRUN_H_

#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/stats.h>

#include "hooks.h"

/* Nothing a test legitimately sends comes near this. */
#define CRMPI_FORKRUN_MAX_RECORD (16u * 1024u * 1024u)

/* In a record's length: the output's position follows (see above). */
#define CRMPI_FORKRUN_AT 0x80000000u

/* The per-test report hooks of the binary, called as Criterion's runner would. */
enum { CRMPI_FK_PRE_INIT, CRMPI_FK_PRE_TEST, CRMPI_FK_ASSERT, CRMPI_FK_THEORY_FAIL,
       CRMPI_FK_TEST_CRASH, CRMPI_FK_POST_TEST, CRMPI_FK_POST_FINI, CRMPI_FK_HOOK_COUNT };

struct crmpi_forkrun_hooks {
    struct crmpi_hook_list lists[CRMPI_FK_HOOK_COUNT];
};

/* Collects them (see crmpi_hooks_collect).  Returns 0 or a negative errno code. */
int crmpi_forkrun_hooks_collect(struct crmpi_forkrun_hooks *h);
void crmpi_forkrun_hooks_free(struct crmpi_forkrun_hooks *h);

struct crmpi_forkrun {
    struct criterion_test *test;            /* borrowed */
    struct criterion_suite *suite;          /* borrowed */
    struct criterion_logger *logger;        /* borrowed; may be NULL */
    const struct crmpi_forkrun_hooks *hooks; /* borrowed; may be NULL */
    int64_t pid;                            /* the test process: other senders are dropped */

    unsigned state;                         /* Criterion's client state (a 2-bit stack) */
    int64_t start_ts;                       /* of the MAIN phase, ns */
    unsigned dropped;                       /* messages refused (malformed or out of place) */
    /* Where the output stood (stdout, stderr) at the record being replayed: the last one said. */
    uint64_t at[2];

    /*
     * The unit's statistics, as the runner keeps them: ts is the test's
     * (its assertion list and message owned here), ss the one-test suite's;
     * ss.tests points at ts once the test was announced (PRE_INIT).
     */
    struct criterion_test_stats ts;
    struct criterion_suite_stats ss;
};

/* Starts the replay of one test process.  Cannot fail. */
void crmpi_forkrun_begin(struct crmpi_forkrun *fr, struct criterion_test *test,
        struct criterion_suite *suite, struct criterion_logger *logger,
        const struct crmpi_forkrun_hooks *hooks, int64_t pid);

/*
 * Replays the channel's records in buf.  A malformed record, or one cut
 * short by the process's end, stops the replay: returns -EBADMSG then,
 * -ENOMEM if memory ran out, 0 otherwise.
 */
int crmpi_forkrun_feed(struct crmpi_forkrun *fr, const uint8_t *buf, size_t len);

/*
 * The test process ended with wait status `status` (or was killed after
 * its timeout, timed_out set, after elapsed seconds): the runner's death
 * handling.
 */
void crmpi_forkrun_death(struct crmpi_forkrun *fr, int status, int timed_out, double elapsed);

/* Releases what the replay allocated. */
void crmpi_forkrun_end(struct crmpi_forkrun *fr);

#endif /* !CRMPI_FORKRUN_H_ */
