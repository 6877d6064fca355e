/*
 * Fixtures wider than a test (README "Fixtures"): the descriptors the
 * public header's CRMP_GLOBAL_FIXTURE, CRMP_NODE_FIXTURE and
 * CRMP_WORKER_FIXTURE put in the "crmp_fixture" section, run by the plugin
 * where they belong: global ones in a process the coordinator forks (a
 * crash is caught there, its values sent back), node ones in that process
 * or the worker host's, worker ones in each worker (the zygote in fork
 * isolation, so that the tests it forks see their effects).
 *
 * A failed setup sets CRMP_FIXTURE_FAILED_ENV; every test a worker then
 * runs fails with that message instead of running (crmpi_fixtures_fail_test).
 */
#ifndef CRMPI_FIXTURES_H_
#define CRMPI_FIXTURES_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <criterion/criterion.h>

#include "criterion-mproc.h"

/* Whether f is a descriptor the plugin can run (version, kind, setup). */
int crmpi_fixture_valid(const struct crmp_fixture *f);

/*
 * Finds every descriptor in the loaded objects and marks them the
 * plugin's, so that the header's serial hooks leave them alone.  Idempotent.
 * Returns the number found, or a negative errno code.
 */
int crmpi_fixtures_claim(void);

/* Whether a descriptor of kind exists (after crmpi_fixtures_claim). */
int crmpi_fixtures_any(int kind);

/*
 * Runs the setups of kinds first..last, in that order and load order, in
 * this process; stops at the first that fails.  Returns 0, or -1 with a
 * one-line message in msg.
 */
int crmpi_fixtures_setup(int first, int last, char *msg, size_t cap);

/*
 * From now on crmpi_fixtures_setup writes into buf (cap bytes, shared with
 * the process that forked us) the name of each setup as it starts, so that
 * a crash can be put down to the right one.
 */
void crmpi_fixtures_running_in(char *buf, size_t cap);

/* How long a setup's name (crmpi_fixtures_running_in's) can be, with its NUL. */
#define CRMPI_FIXTURE_RUNNING_MAX 512

/*
 * crmpi_fixtures_setup of the worker fixtures in this process, with each
 * setup's name written as it starts into the file note (created, mode
 * 0600; NULL: none), which is removed once they returned: when this process
 * dies in one, whoever waits for it reads there which one
 * (crmpi_fixtures_take_note).  Returns as crmpi_fixtures_setup.
 */
int crmpi_fixtures_setup_noted(const char *note, char *msg, size_t cap);

/*
 * Reads and removes the note a process that exited with status left: its
 * crash message ("worker fixture NAME (FILE:LINE) crashed: Segmentation
 * fault") in msg.  Returns 1 when the process died in a setup, 0 when it
 * left no note (or exited cleanly).
 */
int crmpi_fixtures_take_note(const char *note, int status, char *msg, size_t cap);

/* Where worker slot's note lives under dir (a private directory): path, cap bytes. */
void crmpi_fixtures_note_path(char *path, size_t cap, const char *dir, unsigned slot);

/*
 * After worker slot (pid), told to keep its note in note, exited with
 * status: when it died in a worker setup, says so, sets env (cap bytes;
 * unless it holds one already) to CRMP_FIXTURE_FAILED_ENV=message, what
 * its replacements are born with so that every test they get fails with
 * it, and returns 1.  Returns 0 otherwise.  The coordinator does this for
 * its workers, a worker host for its own.
 */
int crmpi_fixtures_worker_died(const char *note, unsigned slot, pid_t pid, int status,
        char *env, size_t cap);

/* The message for a process that died (status) while running the setup named what. */
void crmpi_fixtures_crash_message(char *msg, size_t cap, const char *what, int status);

/* Runs the teardowns of what crmpi_fixtures_setup set up, last first. */
void crmpi_fixtures_teardown(void);

/* The message of a failed fixture in this process's environment, or NULL. */
const char *crmpi_fixtures_failed(void);

/* Sets it (and says it on stderr).  Returns 0 or -errno. */
int crmpi_fixtures_set_failed(const char *msg);

/* Makes test (a copy the runner gets) fail with crmpi_fixtures_failed() instead of running. */
void crmpi_fixtures_fail_test(struct criterion_test *test, struct criterion_test_extra_data *data);

/* ---- the values a setup publishes (crmp_global_set), as they travel ---- */

struct crmpi_fixture_kv {
    size_t n;
    char **keys;                /* owned, each owned: without CRMP_GLOBAL_PREFIX */
    char **values;              /* owned, each owned */
};

/* The published values in this process's environment.  Returns 0 or -ENOMEM. */
int crmpi_fixture_kv_from_env(struct crmpi_fixture_kv *kv);

/* Sets them in this process's environment.  Returns 0 or -errno. */
int crmpi_fixture_kv_to_env(const struct crmpi_fixture_kv *kv);

/* Adds one (copied).  Returns 0, -EINVAL (a bad key or value) or -ENOMEM. */
int crmpi_fixture_kv_add(struct crmpi_fixture_kv *kv, const char *key, const char *value);

void crmpi_fixture_kv_free(struct crmpi_fixture_kv *kv);

/*
 * A fixture process's report to the process that forked it: its status
 * (NULL or the failure's message), the values the global setups published
 * (for every host) and those the node setups added (this host's).  encode
 * returns 0 and a buffer the caller frees, or -ENOMEM / -EINVAL; decode
 * returns 0 and fills msg (cap bytes, "" when it succeeded), global and
 * node (the caller frees both), or -EBADMSG (or -ENOMEM) for anything but
 * a whole, well-formed report.
 */
int crmpi_fixture_report_encode(const char *failed, const struct crmpi_fixture_kv *global,
        const struct crmpi_fixture_kv *node, uint8_t **out, size_t *len);
int crmpi_fixture_report_decode(const uint8_t *buf, size_t len, char *msg, size_t cap,
        struct crmpi_fixture_kv *global, struct crmpi_fixture_kv *node);

/* ---- a process of its own for setups that may crash ---- */

struct crmpi_fixture_host {
    pid_t pid;                  /* 0 when none */
    int cmd_fd;                 /* closed to say "tear down" */
};

/*
 * Forks a process that runs the setups of kinds first..last (global and
 * node, or node), sends back what they published (set here with
 * crmpi_fixture_kv_to_env; the global setups' also into *kv when kv is not
 * NULL) and waits; the teardowns run when
 * crmpi_fixture_host_stop says so, or when this process dies.  Returns 0
 * when every setup succeeded (or there was none: no process then), 1
 * after a failure or a crash (its message set with
 * crmpi_fixtures_set_failed), or a negative errno code.  Call while this
 * process is one thread.
 */
int crmpi_fixture_host_start(struct crmpi_fixture_host *h, int first, int last,
        struct crmpi_fixture_kv *kv);

/* Runs the teardowns and waits for them; safe on a zeroed or stopped host. */
void crmpi_fixture_host_stop(struct crmpi_fixture_host *h);

#endif /* !CRMPI_FIXTURES_H_ */
