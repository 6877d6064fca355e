/*
 * Worker: one per worker process.  It enumerates the binary's tests itself
 * (only unit indices cross the wire), lets Criterion's own runner execute the
 * units the coordinator hands out one at a time, and sends one Result per
 * unit back with the request for the next.
 *
 * The runner walks its suite list lazily; the worker feeds it by appending a
 * one-test suite for each unit it receives, from the POST_SUITE report hook
 * that fires right before the runner reads the next suite.
 */
#ifndef CRMPI_WORKER_H_
#define CRMPI_WORKER_H_

#include <criterion/criterion.h>
#include <criterion/stats.h>

/* Environment a worker is started with (see coordinator.c). */
#define CRMPI_ENV_ROLE "CRITERION_MPROC_ROLE"
#define CRMPI_ENV_URL "CRITERION_MPROC_URL"
#define CRMPI_ENV_ID "CRITERION_MPROC_ID"         /* the state machine's id (its hello says it) */
/* The file a local worker names the worker fixture setup it runs in (crmpi_fixtures_setup_noted). */
#define CRMPI_ENV_FIXTURE_NOTE "CRITERION_MPROC_FIXTURE_NOTE"
#define CRMPI_ENV_PARENT "CRITERION_MPROC_PARENT"   /* local workers only */
/* A worker host's workers: their parent is not their coordinator, its socket not theirs to remove. */
#define CRMPI_ENV_HOSTED "CRITERION_MPROC_HOSTED"
#define CRMPI_ENV_TLS_CA "CRITERION_MPROC_TLS_CA"
#define CRMPI_ENV_CONNECT_TIMEOUT "CRITERION_MPROC_CONNECT_TIMEOUT"
#define CRMPI_ENV_ISOLATION "CRITERION_MPROC_ISOLATION"
#define CRMPI_ENV_VERBOSE "CRITERION_MPROC_VERBOSE"    /* local workers only */

/* Exit status of a worker whose coordinator vanished. */
#define CRMPI_WORKER_EXIT_LOST 3
/* Exit status of a worker that never reached its coordinator. */
#define CRMPI_WORKER_EXIT_UNREACHED 4

/* Whether this process was started as a worker. */
int crmpi_worker_requested(void);

/*
 * Runs this worker's share of the tests through real_run (Criterion's
 * criterion_run_all_tests).  Returns 1 when the worker served the
 * coordinator to the end, 0 otherwise (the reason was printed).
 */
int crmpi_worker_run(struct criterion_test_set *set,
        int (*real_run)(struct criterion_test_set *));

/* Report-hook entry points; no-ops outside a worker's run. */
void crmpi_worker_on_pre_all(struct criterion_test_set *set);
void crmpi_worker_on_pre_suite(struct criterion_suite_set *set);
void crmpi_worker_on_post_suite(struct criterion_suite_stats *stats);

#endif /* !CRMPI_WORKER_H_ */
