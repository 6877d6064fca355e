/*
 * Events: what Criterion's runner tells its logger about one test,
 * converted to wire events (mproc.proto's Event) in a worker, and back to
 * Criterion's structures and logger calls in the coordinator.  Both
 * directions live here, so that a field added on one side is added on the
 * other (test/events_test.c round-trips every kind).
 */
#ifndef CRMPI_EVENTS_H_
#define CRMPI_EVENTS_H_

#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/stats.h>

#include "mproc.pb-c.h"

/* ---- the worker's side: recording --------------------------------------------- */

struct crmpi_events {
    Crmp__Event **v;                /* owned, with every event */
    size_t n, cap;
    unsigned warnings, errors;      /* counted as the runner counts them */
    unsigned lost;                  /* events dropped for want of memory */
    /* Called on PRE_INIT, before the event is recorded; may be NULL. */
    void (*on_pre_init)(void *arg);
    /*
     * Where the test's captured output stands as an event is recorded:
     * at[0] bytes of stdout and at[1] of stderr written so far.  Returns 0
     * when it cannot tell (nothing captured): the event then carries no
     * position.  May be NULL.
     */
    int (*output_at)(void *arg, uint64_t at[2]);
    void *arg;
};

/*
 * A logger whose per-test callbacks record into the events set with
 * crmpi_events_record (whole-run and suite callbacks are absent: those
 * belong to the coordinator).  Static storage; never NULL.
 */
struct criterion_logger *crmpi_events_logger(void);

/* Where the logger records from now on; NULL: nowhere (between tests). */
void crmpi_events_record(struct crmpi_events *into);

/* Frees the recorded events and zeroes the counters; the set stays usable. */
void crmpi_events_clear(struct crmpi_events *ev);

/*
 * The recorded events whose statistics equal final (the Result's) lose
 * their copy (freed) and say final_stats instead: each fact travels once.
 * final NULL: nothing changes.
 */
void crmpi_events_share_final(struct crmpi_events *ev, const Crmp__TestStats *final);

/*
 * Makes the recorded output positions what the wire accepts (see
 * mproc.proto's Event.out_at): never less than an earlier event's, and
 * within the output the result carries.  kept[i] bytes of stream i were
 * kept of what the test wrote, and len[i] are sent (kept plus a note that
 * the output was cut): a position past what was kept points after the note.
 */
void crmpi_events_clamp_output(struct crmpi_events *ev, const size_t kept[2], const size_t len[2]);

/* Releases everything; safe on a zeroed set. */
void crmpi_events_free(struct crmpi_events *ev);

/*
 * Wire copies of Criterion's statistics (strings copied).  NULL when ts is
 * NULL or memory ran out; the caller owns the result and frees it with the
 * matching _free function, which accepts NULL.
 */
Crmp__TestStats *crmpi_events_test_stats(const struct criterion_test_stats *ts);
void crmpi_events_test_stats_free(Crmp__TestStats *s);
Crmp__AssertStats *crmpi_events_assert_stats(const struct criterion_assert_stats *as);
void crmpi_events_assert_stats_free(Crmp__AssertStats *a);

/* ---- the coordinator's side: replaying ------------------------------------------ */

/*
 * Criterion's statistics from wire copies.  Strings are borrowed from s and
 * a: they live as long as the message.  A NULL s or a gives empty stats.
 */
void crmpi_events_fill_test_stats(struct criterion_test_stats *ts, struct criterion_test *test,
        const Crmp__TestStats *s);
void crmpi_events_fill_assert(struct criterion_assert_stats *as, const Crmp__AssertStats *a);

/*
 * Makes the logger call that e records, about test of suite (the
 * coordinator's own).  A PRE_INIT that says the test was disabled (by
 * --filter, in the worker's copy) marks test disabled too.  logger may be
 * NULL or lack the callback: nothing happens then.
 */
void crmpi_events_replay(struct criterion_logger *logger, struct criterion_suite *suite,
        struct criterion_test *test, const Crmp__Event *e);

#endif /* !CRMPI_EVENTS_H_ */
