/*
 * A run, around the loop: the private directory and socket, the signals,
 * the report, and the tear-down that leaves no process and no file behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coord_i.h"
#include "coordinator.h"
#include "diag.h"
#include "outputs.h"
#include "transport.h"

static void coord_run_on_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) ev;
    struct coord *c = arg;
    /* Runs on an nng thread: hand the pipe id to the event loop. */
    crmpi_wakepipe_post(&c->wake, CRMPI_WAKE_PIPE, (uint32_t) crmpi_nng.nng_pipe_id(p));
}

/* ---- the run -------------------------------------------------------------------- */

static void coord_run_cleanup(struct coord *c)
{
    for (size_t i = 0; i < c->n_workers; ++i) {
        struct coord_worker *w = c->workers[i];
        if (w->pid) {
            crmpi_kill_tree(w->pid);
            waitpid(w->pid, NULL, 0);
        }
        if (w->pidfd >= 0)
            close(w->pidfd);
        if (w->waiting)
            crmpi_nng.nng_msg_free(w->waiting);
        crmpi_wire_free(w->hello);
        w->pid = 0;
    }
    crmpi_coord_reap_orphans(c);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (size_t i = 0; i < c->n_workers; ++i)
        free(c->workers[i]);
    free(c->workers);
    if (c->sock_open)
        crmpi_nng.nng_close(c->sock);
    if (c->tls)
        crmpi_nng.nng_tls_config_free(c->tls);
    for (size_t i = 0; i < c->n_units; ++i)
        crmpi_wire_free(c->units[i].env);
    free(c->units);
    free(c->jobs);
    crmpi_jobs_free(&c->schedule);
    crmpi_token_free(&c->token);
    for (struct coord_job *j = c->owned_jobs, *next; j; j = next) {
        next = j->owned_next;
        free(j->units);
        free(j);
    }
    free(c->requeued);
    crmpi_durations_free(&c->history);
    free(c->durations_path);
    crmpi_proc_env_free(&c->env);
    crmpi_testindex_free(&c->index);
    crmpi_wakepipe_close(&c->wake);
    if (*c->dir) {
        /* The queue's socket, and anything a worker left there. */
        DIR *d = opendir(c->dir);
        for (struct dirent *e; d && (e = readdir(d));)
            if (e->d_name[0] != '.')
                unlinkat(dirfd(d), e->d_name, 0);
        if (d)
            closedir(d);
        rmdir(c->dir);
    }
}

int crmpi_coordinator_run(struct criterion_test_set *set, const struct crmpi_options *opts,
        char **argv, int *exit_status)
{
    *exit_status = -1;
    struct coord c = { .set = set, .opts = opts, .argv = argv, .wake = CRMPI_WAKEPIPE_INIT, .recv_fd = -1,
                       .startup_status = -1 };
    struct crmpi_wakepipe_signals saved;
    int result = 0;

    ssize_t len = readlink("/proc/self/exe", c.exe, sizeof(c.exe) - 1);
    if (len <= 0) {
        crmpi_error("cannot find the test executable: %s", strerror(errno));
        return 0;
    }
    c.exe[len] = '\0';

    const char *tmp = getenv("TMPDIR");
    /* ipc paths are limited to ~100 bytes: fall back on /tmp if TMPDIR is long. */
    if (!tmp || strlen(tmp) > 40)
        tmp = "/tmp";
    snprintf(c.dir, sizeof(c.dir), "%s/criterion-mproc.XXXXXX", tmp);
    if (!mkdtemp(c.dir)) {
        crmpi_error("cannot create a private directory in %s: %s", tmp, strerror(errno));
        *c.dir = '\0';
        return 0;
    }
    snprintf(c.url, sizeof(c.url), "ipc://%s/queue", c.dir);

    int rc = crmpi_wakepipe_open(&c.wake);
    if (rc) {
        crmpi_error("pipe: %s", strerror(-rc));
        goto out;
    }
    if (crmpi_testindex_init(&c.index, set)) {
        crmpi_error("out of memory");
        goto out;
    }
    crmpi_wakepipe_signals_install(&c.wake, &saved);

    if (crmpi_transport_listen(&c.sock, &c.sock_open, c.url, coord_run_on_pipe_event, &c, &c.recv_fd)
            || (opts->listen && crmpi_transport_listen_remote(c.sock, opts, &c.token, &c.tls))
            || crmpi_proc_worker_env(&c.env, c.url, &c.token, opts))
        goto out_signals;

    if (crmpi_report_begin(&c.report, set)) {
        crmpi_error("cannot prepare the report");
        goto out_signals;
    }
    c.report_started = 1;

    /* Sandboxes of a worker that dies become our children: see coord_reap_orphans. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    c.started_ms = coord_now_ms();
    /*
     * One worker first, the others once it said hello: a binary whose
     * workers cannot start (a bad --filter pattern) then says why once.
     */
    if (opts->workers)
        crmpi_coord_spawn(&c);
    if (!c.n_workers && !opts->listen) {
        c.fatal = 1;
    } else {
        crmpi_info("%zu workers on %s", c.n_workers, c.url);
        crmpi_coord_loop(&c);
    }

    char why[64];
    if (crmpi_wakepipe_signal()) {
        snprintf(why, sizeof(why), "interrupted by signal %d", crmpi_wakepipe_signal());
        c.stop_reason = why;
    }
    if (c.stopping && c.stop_reason && c.have_units && c.done < c.n_units) {
        crmpi_warn("run stopped early (%s): %zu of %zu tests did not run", c.stop_reason,
                c.n_units - c.done, c.n_units);
        crmpi_outputs_mark_incomplete(c.stop_reason);
    }

    /* Workers that could not start: nothing ran, nothing to report. */
    if (c.startup_failed)
        goto out_signals;

    struct crmpi_report_unit *runits = calloc(c.n_units ? c.n_units : 1, sizeof(*runits));
    if (!runits) {
        crmpi_error("out of memory");
        goto out_signals;
    }
    for (size_t i = 0; i < c.n_units; ++i)
        runits[i] = c.units[i].r;
    int64_t makespan_ms = coord_now_ms() - c.started_ms;
    int ok = crmpi_report_end(&c.report, runits, c.n_units);
    free(runits);
    result = ok == 1 && !c.fatal;
    crmpi_summary_save_history(&c);
    if (opts->slowest)
        crmpi_summary_print_slowest(&c);
    /* Criterion's --fail-fast ends the process with 1, --always-succeed or not. */
    if (c.stop_reason && !strcmp(c.stop_reason, "--fail-fast"))
        c.exit_status = 1;
    if (crmpi_diag_level() >= CRMPI_DIAG_INFO)
        crmpi_summary_print_efficiency(&c, makespan_ms);

out_signals:
    crmpi_wakepipe_signals_restore(&saved);
out:
    if (c.report_started)
        crmpi_report_free(&c.report);
    coord_run_cleanup(&c);
    if (crmpi_wakepipe_signal())
        *exit_status = 128 + crmpi_wakepipe_signal();
    else if (c.exit_status)
        *exit_status = c.exit_status;
    return result;
}
