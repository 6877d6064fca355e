/*
 * A worker whose coordinator is gone ends alone: its test processes (and
 * what they left, reparented to it as their subreaper), its copy of the
 * coordinator's socket directory and Criterion's socket go with it, and it
 * exits with CRMPI_WORKER_EXIT_LOST, or 0 when it had never been taken in.
 */
#ifndef CRMPI_ABANDON_H_
#define CRMPI_ABANDON_H_

/*
 * Prepares this process, from the thread that runs Criterion's runner, to
 * be abandoned; url is its coordinator's, note the file its parent has it
 * note its worker setup in (NULL: none).  A local worker (its parent named
 * in CRITERION_MPROC_PARENT) also becomes the subreaper of its descendants
 * and abandons its run on its parent's death (its parent-death signal,
 * SIGTERM); if its parent is dead by then, it removes its note and the
 * note's directory when empty (a worker host's private directory).  A
 * SIGTERM while its parent lives ends its tests and it dies of the signal,
 * leaving the coordinator's socket and its note to their owner.
 */
void crmpi_abandon_watch(const char *url, const char *note);

/*
 * The connection closed without a Stop (crmpi_session's on_lost): says so
 * where the worker's messages go (not into a test's capture) and abandons the run, with status 0 when the coordinator never answered
 * (it ended before taking this worker in).  Does not return.
 */
void crmpi_abandon_on_lost(int answered);

#endif /* !CRMPI_ABANDON_H_ */
