/*
 * The worker's side of test artifacts (plugin/artifacts.h): after a test,
 * walks its CRITERION_MPROC_ARTIFACTS directory and hands each directory and
 * each piece of each regular file to a sender (in the worker, an Artifact
 * request to the coordinator).  Never follows a link: a symlink, a fifo, a
 * socket or a device is left out with a note, and so is a name the
 * coordinator would refuse.  Files go in name order while they fit the cap;
 * one that does not is left out (a smaller one after it may still fit).
 */
#ifndef CRMPI_ARTIFACTS_SEND_H_
#define CRMPI_ARTIFACTS_SEND_H_

#include <stdint.h>

#include "wire.h"

/*
 * Sends one Artifact (borrowed for the call); sets *enough when the
 * receiver takes no more of this test's.  Returns 0, or a negative errno
 * code when the connection failed (the walk stops).
 */
typedef int (*crmpi_artifacts_send_fn)(void *arg, const Crmp__Artifact *a, int *enough);

/* What was not collected: at most CRMPI_ARTIFACTS_NOTES_MAX phrases, then "and N more". */
struct crmpi_artifacts_notes {
    char **v;                   /* owned, each owned */
    size_t n;
    unsigned more;              /* notes beyond the first few */
};

/*
 * Collects dir (the artifacts of unit, at most max bytes of files) through
 * send.  Notes go to *notes (crmpi_artifacts_notes_finish then
 * crmpi_artifacts_notes_free).  Returns 0, or send's error.
 */
int crmpi_artifacts_collect(const char *dir, uint32_t unit, uint64_t max,
        crmpi_artifacts_send_fn send, void *arg, struct crmpi_artifacts_notes *notes);

/* Appends "and N more" when notes were left out; called once, before sending them. */
void crmpi_artifacts_notes_finish(struct crmpi_artifacts_notes *notes);

void crmpi_artifacts_notes_free(struct crmpi_artifacts_notes *notes);

#endif /* !CRMPI_ARTIFACTS_SEND_H_ */
