/*
 * Fork isolation (--mproc-isolation=fork): a fresh process per test for the
 * price of a fork instead of Criterion's fork + exec.
 *
 * Criterion (its embedded BoxFort) starts each sandbox by forking the
 * runner, handshaking over SIGSTOP and a shared-memory map named after the
 * child's pid, then exec'ing the binary, whose BoxFort constructor finds the
 * map and jumps into the test.  The exec is what costs (~8 ms: relinking
 * libcriterion's dependency tree).  In fork mode:
 *
 *  - each worker forks a zygote very early, while it is still a single
 *    thread with neither nng nor nanomsg started (neither is fork-safe);
 *  - when BoxFort's child (the "proxy") calls execve, the plugin's execve asks
 *    the zygote, over a unix socket, for a fork of itself;
 *  - that fork takes the proxy's pid as its own (getpid is interposed, so
 *    BoxFort's map name and Criterion's message ids match), re-runs
 *    libcriterion's constructors so BoxFort finds the map and patches main,
 *    and calls main: from there it is exactly the exec'd sandbox;
 *  - the proxy mirrors the test process for the runner: it stops when it
 *    stops (BoxFort's handshake), and ends with its exit status or signal;
 *    when the proxy is killed (a timeout), the zygote kills the test.
 *
 * Whatever cannot be set up (no zygote, no libcriterion constructors, no
 * exported main) falls back to the real exec, with a warning.
 */
#ifndef CRMPI_ZYGOTE_H_
#define CRMPI_ZYGOTE_H_

/*
 * Starts this worker's zygote.  Must run while the process is one thread.
 * Its socket goes in in_dir (a local coordinator's private directory), or
 * in a private directory of its own when in_dir is NULL.  Returns 0, or a
 * negative errno code after a warning (exec mode then).
 */
int crmpi_zygote_start(const char *in_dir);

/* The zygote's socket path, or NULL: async-signal-safe, for clean-up. */
const char *crmpi_zygote_socket(void);

/* Stops the zygote and removes its socket; safe when none was started. */
void crmpi_zygote_stop(void);

#endif /* !CRMPI_ZYGOTE_H_ */
