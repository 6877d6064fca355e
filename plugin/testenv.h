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
#include <sys/types.h>

#define CRMPI_ENV_TEST_SLOT "CRITERION_MPROC_SLOT"
#define CRMPI_ENV_TEST_WORKERS "CRITERION_MPROC_WORKERS"
#define CRMPI_ENV_TEST_TMPDIR "CRITERION_MPROC_TMPDIR"
#define CRMPI_ENV_TEST_ARTIFACTS "CRITERION_MPROC_ARTIFACTS"

/*
 * The slot the coordinator gave this worker (an Assign's): sets
 * CRITERION_MPROC_SLOT when it differs from what the worker was started
 * with.  Returns 0 or -errno.
 */
int crmpi_testenv_set_slot(unsigned slot);

/* The coordinator's --mproc-keep-tmp (enum crmpi_keep_tmp), from an Assign. */
void crmpi_testenv_set_keep(unsigned keep);

/* The coordinator's --mproc-leaks (enum crmpi_leaks_policy), from an Assign; and back. */
void crmpi_testenv_set_leaks(unsigned policy);
unsigned crmpi_testenv_leaks(void);

/*
 * A test of suite::name starts: makes its fresh directory (under $TMPDIR,
 * or /tmp when that is unusable), named after the test and this worker's
 * pid, and sets CRITERION_MPROC_TMPDIR; and beside it its artifact
 * directory, CRITERION_MPROC_ARTIFACTS.  A fresh directory is empty and
 * mode 0700: an earlier test's that was left so may be renamed into it.
 * Returns 0, or -errno after a warning (the test then has neither variable).
 */
int crmpi_testenv_unit_begin(const char *suite, const char *name);

/* The current test's artifact directory (static), or NULL when it has none. */
const char *crmpi_testenv_artifacts(void);

/*
 * The test ended (failed: it failed or crashed): its directory is kept as
 * --mproc-keep-tmp says, renamed so that no pid marks it, and its variables
 * are unset.  What is not kept (its artifact directory, collected by now or
 * not wanted, and its directory) is left for crmpi_testenv_unit_clean, so
 * that its removal can wait until the test's result is on its way.
 * Returns the kept path (static, valid until the next test begins), or NULL.
 */
const char *crmpi_testenv_unit_end(int failed);

/*
 * Removes the directories of the test that ended which crmpi_testenv_unit_end
 * did not keep (unit_discard does it too, and the next unit_end first).
 * The next test may begin before: the names differ.
 */
void crmpi_testenv_unit_clean(void);

/*
 * The worker runs no more tests: the last test's directories go, and the
 * emptied ones kept to be renamed into the next test's (see unit_begin).
 */
void crmpi_testenv_close(void);

/* The test did not run after all (it runs again elsewhere): its directories go, the last one's too. */
void crmpi_testenv_unit_discard(void);

/* The worker is abandoned: removes the current test's directories.  Async-signal-safe. */
void crmpi_testenv_abandon(void);

/* Removes the tree at path, never following a link; 0, or -EEXIST when something is left. */
int crmpi_testenv_rmtree(const char *path);

/*
 * A worker (pid) ended: removes the directories of tests it never finished
 * (its process died under them).  For the process that started it.
 */
void crmpi_testenv_forget_worker(pid_t pid);

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
