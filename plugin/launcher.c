/*
 * A worker host (--mproc-connect=URL): a second program in the same binary.
 * It starts local workers that pull from a remote coordinator, and waits
 * for them.  A worker that dies in its worker fixture is replaced, as the
 * coordinator replaces its own: the coordinator, on another host, cannot
 * read the note that says which setup it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "coordinator.h"
#include "diag.h"
#include "fixtures.h"
#include "options.h"
#include "proc.h"
#include "reaper.h"
#include "rundir.h"
#include "testenv.h"
#include "wakepipe.h"
#include "worker.h"

struct launcher_worker {
    pid_t pid;                  /* 0 once reaped */
    int pidfd;                  /* -1 once reaped, or where there is none */
    int replaced;               /* died in its worker fixture: this is its replacement */
};

struct launcher {
    char exe[PATH_MAX];
    char url[128];
    struct crmpi_token token;
    struct crmpi_proc_env env;
    struct crmpi_wakepipe wake;
    struct launcher_worker workers[CRMPI_MAX_WORKERS];
    size_t n_workers;
    int subreaper;              /* we adopt what our workers leave behind */
    struct crmpi_fixture_host fixtures;     /* this host's node fixtures */
    char dir[PATH_MAX];         /* private, for the workers' fixture notes; "" when none */
    /* CRMP_FIXTURE_FAILED_ENV=why once a worker died in its worker fixture; "" before */
    char fixture_crash_env[1100];
};

static int launcher_is_worker(pid_t pid, void *arg)
{
    const struct launcher *l = arg;
    /* Not a worker, but ours to end last: the node fixtures' process. */
    if (l->fixtures.pid == pid)
        return 1;
    for (size_t i = 0; i < l->n_workers; ++i)
        if (l->workers[i].pid == pid)
            return 1;
    return 0;
}

/* Ends what is left; tolerates a launcher that got nowhere. */
static void launcher_cleanup(struct launcher *l)
{
    for (size_t i = 0; i < l->n_workers; ++i) {
        struct launcher_worker *w = &l->workers[i];
        if (w->pid) {
            crmpi_kill_tree(w->pid);
            waitpid(w->pid, NULL, 0);
        }
        if (w->pidfd >= 0)
            close(w->pidfd);
        w->pid = 0;
    }
    /* Children from before we became a subreaper are not ours to end. */
    if (l->subreaper) {
        crmpi_proc_strays(1, launcher_is_worker, l);
        prctl(PR_SET_CHILD_SUBREAPER, 0);
    }
    /* The workers are gone: the node fixtures' teardowns. */
    crmpi_fixture_host_stop(&l->fixtures);
    crmpi_runtime_dir_remove(l->dir);
    crmpi_proc_env_free(&l->env);
    crmpi_wakepipe_close(&l->wake);
    crmpi_token_free(&l->token);
}

/*
 * Starts worker slot: told where to note the worker fixture setup it runs,
 * and born with a fixture's failure once one took a worker down, so that
 * every test it gets fails with it.  Returns 0 or a negative errno code.
 */
static int launcher_spawn(struct launcher *l, char **argv, unsigned slot)
{
    char note[sizeof(l->dir) + 64], note_env[sizeof(note) + 64];
    const char *extra[CRMPI_PROC_EXTRA_MAX + 1] = { CRMPI_ENV_HOSTED "=1" };
    size_t n = 1;
    if (*l->dir) {
        crmpi_fixtures_note_path(note, sizeof(note), l->dir, slot);
        snprintf(note_env, sizeof(note_env), "%s=%s", CRMPI_ENV_FIXTURE_NOTE, note);
        extra[n++] = note_env;
    }
    if (*l->fixture_crash_env)
        extra[n++] = l->fixture_crash_env;
    struct launcher_worker *w = &l->workers[slot];
    return crmpi_proc_spawn_worker(l->exe, argv, &l->env, slot, slot, extra, &w->pid, &w->pidfd);
}

/*
 * Reaps worker slot, which exited.  One that died in its worker fixture is
 * replaced (once) and returns 2; otherwise returns whether it failed, and
 * counts the unreached.
 */
static int launcher_reap(struct launcher *l, char **argv, unsigned slot, size_t *unreached)
{
    struct launcher_worker *w = &l->workers[slot];
    int st = 0;
    pid_t pid = w->pid;
    /* Criterion's socket of a worker that did not end its run (died in its fixture, say). */
    if (waitpid(pid, &st, 0) == pid)
        crmpi_leftovers_remove_worker(pid);
    crmpi_testenv_forget_worker(pid);
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->pidfd = -1;
    w->pid = 0;
    char note[sizeof(l->dir) + 64];
    if (*l->dir)
        crmpi_fixtures_note_path(note, sizeof(note), l->dir, slot);
    if (*l->dir && crmpi_fixtures_worker_died(note, slot, pid, st, l->fixture_crash_env,
                sizeof(l->fixture_crash_env)) && !w->replaced && !crmpi_wakepipe_signal()) {
        /* It told the coordinator it was in its fixture: its test waits for the replacement. */
        w->replaced = 1;
        if (!launcher_spawn(l, argv, slot))
            return 2;
        return 1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == CRMPI_WORKER_EXIT_UNREACHED) {
        /* Fine if a sibling served the run: it may have ended first. */
        ++*unreached;
        return 0;
    }
    if (WIFEXITED(st) && !WEXITSTATUS(st))
        return 0;
    if (!crmpi_wakepipe_signal())
        crmpi_error("worker %u ended with %s %d", slot, WIFSIGNALED(st) ? "signal" : "status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return 1;
}

int crmpi_launcher_run(const struct crmpi_options *opts, char **argv, size_t tests)
{
    struct launcher *l = calloc(1, sizeof(*l));
    if (!l) {
        crmpi_error("out of memory");
        return 1;
    }
    l->wake = (struct crmpi_wakepipe) CRMPI_WAKEPIPE_INIT;
    l->fixtures.cmd_fd = -1;
    struct crmpi_wakepipe_signals saved;
    int status = 1;
    char err[256];

    /* A path that fills the buffer may have been cut: refuse it rather than run another file. */
    ssize_t len = readlink("/proc/self/exe", l->exe, sizeof(l->exe));
    if (len <= 0 || (size_t) len >= sizeof(l->exe)) {
        crmpi_error("cannot find the test executable: %s",
                len < 0 ? strerror(errno) : "path too long");
        goto out;
    }
    l->exe[len] = '\0';
    if (strlen(opts->connect) >= sizeof(l->url)) {
        crmpi_error("--mproc-connect: URL too long");
        status = CRMPI_EXIT_USAGE;
        goto out;
    }
    strcpy(l->url, opts->connect);
    if (crmpi_token_load_configured(opts->token_file, &l->token, err, sizeof(err))) {
        crmpi_error("%s", err);
        status = CRMPI_EXIT_USAGE;
        goto out;
    }
    /*
     * This host's node fixtures, before its workers start: they inherit what
     * the setups published, or the failure every test then reports.
     */
    int rc = crmpi_fixture_host_start(&l->fixtures, CRMP_FIXTURE_NODE, CRMP_FIXTURE_NODE, NULL);
    if (rc < 0) {
        snprintf(err, sizeof(err), "cannot run the node fixtures: %s", strerror(-rc));
        crmpi_fixtures_set_failed(err);
    }
    if (crmpi_wakepipe_open(&l->wake) || crmpi_proc_worker_env(&l->env, l->url, &l->token, opts))
        goto out;
    /* Where the workers note the worker fixture setup they run (crmpi_fixtures_setup_noted). */
    if (crmpi_fixtures_any(CRMP_FIXTURE_WORKER)) {
        rc = crmpi_runtime_dir(getenv("TMPDIR"), "/tmp", l->dir, sizeof(l->dir), err,
                sizeof(err));
        /* Without it, a death in a setup is its test's crash: said, not fatal. */
        if (rc)
            *l->dir = '\0';
        if (*err)
            crmpi_warn("the worker fixtures' notes: %s", err);
    }
    crmpi_wakepipe_signals_install(&l->wake, &saved);
    l->subreaper = !prctl(PR_SET_CHILD_SUBREAPER, 1);

    /* A worker beyond the tests would only be told to stop (issue 10, 9: 512 for 4). */
    unsigned wanted = opts->workers < CRMPI_MAX_WORKERS ? opts->workers : CRMPI_MAX_WORKERS;
    if (tests && wanted > tests)
        wanted = (unsigned) tests;
    crmpi_info("%u worker%s for %s", wanted, wanted == 1 ? "" : "s", l->url);
    for (unsigned i = 0; i < wanted; ++i) {
        l->n_workers++;
        if (launcher_spawn(l, argv, i))
            break;
    }

    /* Wait for our workers; they end when their coordinator says so. */
    size_t started = 0;
    for (size_t i = 0; i < l->n_workers; ++i)
        started += l->workers[i].pid != 0;
    int failed = started < wanted;
    size_t unreached = 0;
    size_t alive = started;
    while (alive) {
        struct pollfd fds[1 + CRMPI_MAX_WORKERS];
        size_t nfds = 0;
        fds[nfds++] = (struct pollfd) { .fd = crmpi_wakepipe_fd(&l->wake), .events = POLLIN };
        for (size_t i = 0; i < l->n_workers; ++i)
            if (l->workers[i].pid && l->workers[i].pidfd >= 0)
                fds[nfds++] = (struct pollfd) { .fd = l->workers[i].pidfd, .events = POLLIN };
        if (poll(fds, nfds, -1) < 0 && errno != EINTR)
            break;
        struct crmpi_wake_rec recs[64];
        while (crmpi_wakepipe_read(&l->wake, recs, 64) >= 0)
            ;
        if (crmpi_wakepipe_signal()) {
            for (size_t i = 0; i < l->n_workers; ++i)
                if (l->workers[i].pid)
                    crmpi_kill_tree(l->workers[i].pid);
        }
        for (size_t i = 0; i < l->n_workers; ++i) {
            struct launcher_worker *w = &l->workers[i];
            if (!w->pid || !crmpi_proc_exited(w->pid, w->pidfd))
                continue;
            int rc = launcher_reap(l, argv, (unsigned) i, &unreached);
            if (rc == 2) {
                ++started;      /* a replacement that finds the run over is unreached, not lost */
                continue;
            }
            failed |= rc;
            --alive;
        }
        crmpi_proc_strays(1, launcher_is_worker, l);
    }
    if (unreached && unreached == started) {
        crmpi_error("no worker could reach the coordinator at %s", opts->connect);
        failed = 1;
    }
    status = failed ? 1 : 0;
    crmpi_wakepipe_signals_restore(&saved);

out:
    launcher_cleanup(l);
    free(l);
    if (crmpi_wakepipe_signal())
        return 128 + crmpi_wakepipe_signal();
    return status;
}
