/*
 * The fork-mode runner (--mproc-isolation=fork), in a worker: runs a unit
 * in a test process forked from the zygote (plugin/zygote.h), waits for
 * it under the unit's timeout, replays its channel into the worker's
 * logger (plugin/forkrun.h) and sends the result.  What it cannot serve
 * goes to Criterion's runner (exec mode).
 */
#ifndef CRMPI_FORKMODE_H_
#define CRMPI_FORKMODE_H_

#include "units.h"

/*
 * Sets fork mode up when a zygote serves this worker.  Returns 0 (also
 * when there is none: exec mode), or a negative errno code after a warning
 * (the zygote is stopped: exec mode).
 */
int crmpi_forkmode_init(void);

/* Why fork mode cannot run u (NULL: it can; "": nothing worth saying). */
const char *crmpi_forkmode_refusal(const struct crmpi_unit *u);

/*
 * Runs unit id (of u) and sends its result.  Returns 0, or -EAGAIN when
 * fork mode could not start it (nothing ran, nothing was sent: the runner
 * must take it).
 */
int crmpi_forkmode_run(long id, const struct crmpi_unit *u);

/* Stops the zygote and releases what init took; safe when init was not called. */
void crmpi_forkmode_fini(void);

#endif /* !CRMPI_FORKMODE_H_ */
