/*
 * Inside a worker: what the fork-mode runner (plugin/forkmode.c) needs of
 * the worker's lifecycle (plugin/worker.c).  Not for other modules.
 */
#ifndef CRMPI_WORKER_I_H_
#define CRMPI_WORKER_I_H_

#include <stdint.h>
#include <sys/types.h>

#include <criterion/stats.h>

#include "units.h"

/* This worker's slot, for messages. */
unsigned crmpi_worker_slot(void);

/*
 * Starts unit id: its events are recorded, its output captured (unless it
 * does not run), its clock started.
 */
void crmpi_worker_unit_begin(long id);

/* The process running the current unit, for when the worker must end it. */
void crmpi_worker_unit_sandbox(pid_t pid);

/* Seconds since the current unit began. */
double crmpi_worker_unit_elapsed(void);

/*
 * While a fork-mode replay runs, the events it records happened when the
 * output was at[0] bytes of stdout and at[1] of stderr (at is read at each
 * event: the replay updates it record by record).  NULL (the default, and
 * after the unit): the capture files' sizes when the event is recorded.
 */
void crmpi_worker_unit_output_at(const uint64_t *at);

/* Undoes crmpi_worker_unit_begin for a unit that could not run (nothing is sent). */
void crmpi_worker_unit_abandon(void);

/*
 * Sends the current unit's result (its one-test suite's statistics are
 * ss) and takes in the coordinator's answer; the unit is over.
 */
void crmpi_worker_unit_result(const struct criterion_suite_stats *ss);

/*
 * Ends what a test left behind in its process group (the sandbox is a
 * session leader): SIGTERM, a grace period, then SIGKILL.
 */
void crmpi_worker_end_group(pid_t pgid);

#endif /* !CRMPI_WORKER_I_H_ */
