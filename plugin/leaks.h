/*
 * Processes a test left running after it ended (README "Test environment").
 * A worker is the child subreaper of its tests: whatever a test started and
 * did not wait for is reparented to it when the test process exits, so the
 * worker's own children, less its zygote and the test process, are the
 * test's leftovers.  They are described, then ended (with what they
 * started), before the next test begins.
 */
#ifndef CRMPI_LEAKS_H_
#define CRMPI_LEAKS_H_

#include <stddef.h>
#include <sys/types.h>

/* Commands of the leaked processes, one string each (their command lines). */
struct crmpi_leaks {
    char **cmds;        /* owned, each owned */
    size_t n;
};

/* At most this many are described; the rest are ended all the same. */
#define CRMPI_LEAKS_MAX 16

/*
 * Ends this process's children but spare (the zygote) and done (the test
 * process, which its runner reaps), and what they started, and describes
 * the first ones in *out (zeroed before).  Returns how many were found (>=
 * out->n), or -ENOMEM (they are ended all the same).
 */
long crmpi_leaks_end(pid_t spare, pid_t done, struct crmpi_leaks *out);

/* Frees what l owns; tolerates a zeroed l. */
void crmpi_leaks_free(struct crmpi_leaks *l);

#endif /* !CRMPI_LEAKS_H_ */
