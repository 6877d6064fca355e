/*
 * Coordinator: one per run, in the process the user started.  It owns this
 * node's worker processes (spawned with posix_spawn, each the test binary
 * itself), hands units out over nng to workers that ask — a worker that
 * does not ask gets nothing — gathers one Result per unit, prints each as it
 * arrives, and produces the final report.
 */
#ifndef CRMPI_COORDINATOR_H_
#define CRMPI_COORDINATOR_H_

#include <criterion/criterion.h>

#include "options.h"

/*
 * Runs set on opts->workers workers.  argv (borrowed) is the command line
 * without the plugin's options; workers are started with it.
 *
 * Returns what criterion_run_all_tests returns (1: success, 0: failure).
 * Sets *exit_status to -1, or to a status the process must end with at
 * once: 128+signal when the run was interrupted (die of that signal), 1
 * after --fail-fast stopped the run (as Criterion does, --always-succeed or
 * not), or the status of workers that could not start (as the serial run
 * would have exited, e.g. 3 on a bad --filter pattern).
 */
int crmpi_coordinator_run(struct criterion_test_set *set, const struct crmpi_options *opts,
        char **argv, int *exit_status);

/*
 * A worker host (--mproc-connect=URL): starts opts->workers workers, but no
 * more than the units its executable has (tests; 0: unknown), that pull from
 * the coordinator at URL, waits for them, and returns the process exit
 * status (0 when every worker ended cleanly, 128+signal if interrupted).
 */
int crmpi_launcher_run(const struct crmpi_options *opts, char **argv, size_t tests);

#endif /* !CRMPI_COORDINATOR_H_ */
