/*
 * The test's environment, as a worker sets it up (see the README's "Test
 * environment"): where the test runs (CRITERION_MPROC_SLOT, _WORKERS), and
 * the variables a test process must see although it was forked before they
 * were known (fork isolation: the zygote was born before the first test).
 *
 * The public header reads them back (crmp_worker_slot() and friends), so a
 * binary needs no symbol of the plugin.
 */
#ifndef CRMPI_TESTENV_H_
#define CRMPI_TESTENV_H_

#include <stddef.h>

#define CRMPI_ENV_TEST_SLOT "CRITERION_MPROC_SLOT"
#define CRMPI_ENV_TEST_WORKERS "CRITERION_MPROC_WORKERS"

/*
 * The slot the coordinator gave this worker (an Assign's): sets
 * CRITERION_MPROC_SLOT when it differs from what the worker was started
 * with.  Returns 0 or -errno.
 */
int crmpi_testenv_set_slot(unsigned slot);

/*
 * Writes the variables a test process must see ("NAME=VALUE\0" each, an
 * empty string last) into buf.  Returns the length used, or -ENOSPC.
 */
long crmpi_testenv_pack(char *buf, size_t cap);

/*
 * Sets what crmpi_testenv_pack wrote (in a freshly forked test process,
 * single-threaded).  A block that is not terminated is ignored.
 */
void crmpi_testenv_apply(const char *buf, size_t len);

#endif /* !CRMPI_TESTENV_H_ */
