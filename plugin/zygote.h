/*
 * Fork isolation (--mproc-isolation=fork): a fresh process per test for the
 * price of one fork, where Criterion pays a fork, an exec of the whole
 * binary and a round of messages per test.
 *
 * Each fork-mode worker forks a zygote first thing in criterion_initialize:
 * after the binary's constructors, before Criterion builds its test set and
 * starts libgit2 and friends, and before nng and nanomsg start (neither is
 * fork-safe).  That is the state Criterion's exec'd sandbox has.  The
 * zygote points libcriterion's nanomsg calls at a channel (see
 * plugin/forkrun.h), then forks test processes one ahead of need: it hands
 * each spare's socket to the worker, which sends the test straight to it,
 * forks the next spare while that test runs (so that one is ready, set up,
 * when the test ends), and tells the worker when the test process has ended
 * (its wait status).  A test
 * process is what Criterion's exec'd sandbox would be: default signal
 * dispositions, the worker's stdout/stderr, a fresh stdin pipe, a session of
 * its own, the runner's shared arena mapped privately at its address, and
 * Criterion's own test code (fixtures, assertions, theories, exceptions)
 * running the test; its messages go down the channel.  The worker kills it
 * on timeout and replays the channel (plugin/forkrun.c).
 *
 * What fork isolation cannot serve (no zygote, a debugger, a parameter too
 * large) runs in exec mode: see the worker.
 */
#ifndef CRMPI_ZYGOTE_H_
#define CRMPI_ZYGOTE_H_

#include <stddef.h>
#include <sys/types.h>

#include <criterion/criterion.h>

/* A parameter this large goes to exec mode. */
#define CRMPI_ZYGOTE_MAX_PARAM (64u * 1024u)

struct crmpi_zygote_test {
    const struct criterion_test *test;      /* sent by value, with the runner's options */
    const struct criterion_suite *suite;
    int out_fd, err_fd;                     /* the test's stdout and stderr */
    int chan_fd;                            /* where its messages go */
    const void *param;                      /* its parameter's bytes, or NULL */
    size_t param_size;
    int arena_fd;                           /* Criterion's arena, -1 for none */
    void *arena_addr;
    size_t arena_len;
};

/*
 * Starts this worker's zygote.  Must run while the process is one thread,
 * before criterion_initialize.  Returns 0, or a negative errno code after a
 * warning (exec mode then).
 */
int crmpi_zygote_start(void);

/* Whether a zygote serves this worker. */
int crmpi_zygote_ready(void);

/* Whether crmpi_zygote_start was called (it warns when it fails). */
int crmpi_zygote_tried(void);

/* The zygote's pid, 0 when none. */
pid_t crmpi_zygote_pid(void);

/*
 * What a test process writes first on its channel when it could not set
 * itself up (the reason follows, as text): nothing of the test ran, and the
 * worker runs it in exec mode instead.
 */
#define CRMPI_ZYGOTE_SETUP_FAILED "\xff\xff\xff\xff"

/*
 * Starts the test process for t (the spare the zygote announced, waiting
 * for it if needed).  Returns 0 and its pid, or a negative errno code (the
 * zygote is then stopped: exec mode from there on).
 */
int crmpi_zygote_spawn(const struct crmpi_zygote_test *t, pid_t *pid);

/*
 * Waits for the test process to end, at most timeout_ms (< 0: no limit).
 * Returns 0 and its wait status, -ETIMEDOUT (it still runs: kill it and
 * wait again), or another negative errno code when the zygote is lost.
 */
int crmpi_zygote_wait(int timeout_ms, int *status);

/*
 * Runs the worker fixtures in the zygote, before the first test, with this
 * worker's test environment (its slot, what the global fixtures published)
 * so that every test process forked from there sees them.  Returns 1, with
 * *failed their failure's message (or its crash: the zygote is then gone)
 * or NULL; 0 when there is no zygote to run them (the worker runs them).
 */
int crmpi_zygote_run_fixtures(const char **failed);

/* Ends the zygote after its worker fixtures' teardowns (waiting for them); else as _stop. */
void crmpi_zygote_finish(void);

/* Stops the zygote; safe when none was started. */
void crmpi_zygote_stop(void);

#endif /* !CRMPI_ZYGOTE_H_ */
