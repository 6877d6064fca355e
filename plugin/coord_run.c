/*
 * A run, around the loop: the private directory and socket, the signals,
 * the report, and the tear-down that leaves no process and no file behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "annotate.h"
#include "crit.h"
#include "coord_i.h"
#include "coordinator.h"
#include "diag.h"
#include "outputs.h"
#include "reaper.h"
#include "rundir.h"
#include "runnerlink.h"
#include "testfault.h"
#include "transport.h"
#include "units.h"

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
            if (waitpid(w->pid, NULL, 0) == w->pid)
                crmpi_leftovers_remove_worker(w->pid);
        }
        if (w->pidfd >= 0)
            close(w->pidfd);
        crmpi_transport_drop(&c->net, w->req);
        crmpi_wire_free(w->hello);
        crmpi_wire_units_free(&w->hello_units);
        w->pid = 0;
    }
    crmpi_coord_reap_orphans(c);
    /* The workers are gone: every token still held goes back to make. */
    crmpi_jobserver_close(&c->js);
    if (c->slot_fd >= 0)
        close(c->slot_fd);
    c->slot_fd = -1;
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (size_t i = 0; i < c->n_workers; ++i)
        free(c->workers[i]);
    free(c->workers);
    if (c->sock_open)
        crmpi_nng.nng_close(c->net.sock);
    crmpi_transport_fini(&c->net);
    if (c->tls)
        crmpi_nng.nng_tls_config_free(c->tls);
    for (size_t i = 0; i < c->n_units; ++i) {
        crmpi_wire_free(c->units[i].env);
        crmpi_coord_tries_free(&c->units[i]);
    }
    free(c->units);
    free(c->jobs);
    free(c->unit_info);
    crmpi_jobs_free(&c->schedule);
    crmpi_token_free(&c->token);
    crmpi_cst_destroy(&c->st);
    crmpi_coord_live_free(c);
    free(c->pending);
    crmpi_wire_free(c->result);
    crmpi_durations_free(&c->history);
    free(c->durations_path);
    crmpi_proc_env_free(&c->env);
    crmpi_testindex_free(&c->index);
    crmpi_wakepipe_close(&c->wake);
    /* After the last test, whatever ended the run: the teardowns. */
    crmpi_fixture_host_stop(&c->fixtures);
    crmpi_fixture_kv_free(&c->globals);
    /* The queue's socket, and anything a worker left there. */
    crmpi_runtime_dir_remove(c->dir);
}

int crmpi_coordinator_run(struct criterion_test_set *set, const struct crmpi_options *opts,
        char **argv, int *exit_status)
{
    *exit_status = -1;
    struct coord c = { .set = set, .opts = opts, .argv = argv, .wake = CRMPI_WAKEPIPE_INIT,
                       .recv_fd = -1, .js = CRMPI_JOBSERVER_INIT, .slot_fd = -1,
                       .fixtures = { .cmd_fd = -1 },
                       .artifacts_root = crmpi_coord_artifacts_lookup(opts) };
    struct crmpi_wakepipe_signals saved;
    int result = 0;

    ssize_t len = readlink("/proc/self/exe", c.exe, sizeof(c.exe) - 1);
    if (len <= 0) {
        crmpi_error("cannot find the test executable: %s", strerror(errno));
        return 0;
    }
    c.exe[len] = '\0';

    /*
     * The private directory holds what local workers need: the queue's ipc
     * socket and their fixture notes.  A run without any (--mproc=0, remote
     * workers only) makes none: if we are SIGKILLed, it is a local worker
     * that removes it (abandon.c), and no remote one could.
     */
    char warn[256];
    int rc = 0;
    if (opts->workers) {
        rc = crmpi_runtime_dir(getenv("TMPDIR"), "/tmp", c.dir, sizeof(c.dir), warn, sizeof(warn));
        if (rc) {
            crmpi_error("cannot create a private directory: %s", warn);
            *c.dir = '\0';
            return 0;
        }
        if (*warn)
            crmpi_warn("%s", warn);
        snprintf(c.url, sizeof(c.url), "ipc://%s/queue", c.dir);
    }

    /*
     * Before any test, while this process is one thread with no nng: the
     * global fixtures, and the node ones of this host when it runs workers.
     * What they publish is in our environment, so local workers inherit it.
     */
    rc = crmpi_fixture_host_start(&c.fixtures, CRMP_FIXTURE_GLOBAL,
            opts->workers ? CRMP_FIXTURE_NODE : CRMP_FIXTURE_GLOBAL, &c.globals);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "cannot run the global fixtures: %s", strerror(-rc));
        crmpi_fixtures_set_failed(msg);
    }

    rc = crmpi_wakepipe_open(&c.wake);
    if (rc) {
        crmpi_error("pipe: %s", strerror(-rc));
        goto out;
    }
    if (crmpi_testindex_init(&c.index, set)) {
        crmpi_error("out of memory");
        goto out;
    }
    crmpi_wakepipe_signals_install(&c.wake, &saved);
    /* A closed stdout (`| true`) must not kill us before we clean up: writes fail with EPIPE. */
    struct sigaction ignore_pipe = { .sa_handler = SIG_IGN }, old_pipe;
    sigemptyset(&ignore_pipe.sa_mask);
    sigaction(SIGPIPE, &ignore_pipe, &old_pipe);

    if (crmpi_transport_listen(&c.net, &c.sock_open, *c.url ? c.url : NULL,
                coord_run_on_pipe_event, &c, &c.recv_fd)
            || (opts->listen && crmpi_transport_listen_remote(c.net.sock, opts, &c.token, &c.tls))
            || (*c.url && crmpi_proc_worker_env(&c.env, c.url, &c.token, opts)))
        goto out_signals;

    if (crmpi_report_begin(&c.report, set)) {
        crmpi_error("cannot prepare the report");
        goto out_signals;
    }
    c.report_started = 1;
    c.annotate = crmpi_annotate_enabled(opts->annotations, getenv("GITHUB_ACTIONS"));

    struct crmpi_cst_config cfg = {
        .workers = opts->workers,
        .max_restarts = opts->max_restarts,
        .max_attempts = COORD_MAX_ATTEMPTS,
        .remote = opts->listen != NULL,
        .fail_fast = criterion_options.fail_fast,
        .heartbeat_ms = (int64_t) opts->heartbeat * 1000,
        .timeout_grace_ms = COORD_TIMEOUT_GRACE_MS,
        .exit_grace_ms = COORD_EXIT_GRACE_MS,
        .wait_note_ms = COORD_WAIT_NOTE_MS,
        .wait_workers_ms = (int64_t) opts->wait_workers * 1000,
        .slow_ms = (int64_t) opts->slow * 1000,
        .jobserver = crmpi_coord_jobserver_open(&c),
    };
    /* Without a jobserver there are no slots to wait for: run as usual. */
    c.slot_fd = crmpi_coord_slot_fd();
    cfg.slot_later = cfg.jobserver && c.slot_fd >= 0;
    if (crmpi_cst_init(&c.st, &cfg) || crmpi_coord_live_begin(&c)) {
        crmpi_error("out of memory");
        goto out_signals;
    }

    /* Sandboxes of a worker that dies become our children: see coord_reap_orphans. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    c.started_ms = coord_now_ms();
    crmpi_coord_loop(&c);
    crmpi_testfault_after_loop(&c.net, c.recv_fd);
    crmpi_coord_live_end(&c);

    struct crmpi_cst_outcome oc;
    crmpi_cst_outcome(&c.st, &oc);
    char why[64];
    const char *reason = oc.stop_reason;
    if (oc.interrupted) {
        snprintf(why, sizeof(why), "interrupted by signal %d", oc.interrupted);
        reason = why;
    }
    if (reason && oc.not_run && !oc.startup_failed) {
        crmpi_warn("run stopped early (%s): %zu of %zu tests did not run", reason, oc.not_run,
                oc.total);
        crmpi_outputs_mark_incomplete(reason);
    }
    if (oc.interrupted)
        crmpi_coord_live_print_interrupted(&c);
    *exit_status = oc.exit_status;

    /* Workers that could not start: nothing ran, nothing to report. */
    if (oc.startup_failed)
        goto out_signals;

    struct crmpi_report_unit *runits = calloc(c.n_units ? c.n_units : 1, sizeof(*runits));
    if (!runits) {
        crmpi_error("out of memory");
        *exit_status = 1;
        goto out_signals;
    }
    for (size_t i = 0; i < c.n_units; ++i)
        runits[i] = c.units[i].r;
    int64_t makespan_ms = coord_now_ms() - c.started_ms;
    int ok = crmpi_report_end(&c.report, runits, c.n_units);
    result = ok == 1 && !oc.fatal && !oc.not_run;
    if (crmpi_coord_flaky_verdict(&c))
        result = 0;
    crmpi_summary_save_history(&c);
    crmpi_summary_write_junit(&c, time(NULL) - (time_t) (makespan_ms / 1000));
    if (opts->slowest)
        crmpi_summary_print_slowest(&c);
    if (crmpi_diag_level() >= CRMPI_DIAG_INFO)
        crmpi_summary_print_efficiency(&c, makespan_ms);
    /* Last, so that it is what the terminal shows when the run is over. */
    /* Under a runner that prints the recap over all its programs, that one alone. */
    if (!opts->no_recap && crmpi_runnerlink_wanted() < 2
            && criterion_options.logging_threshold <= CRITERION_IMPORTANT)
        crmpi_summary_print_recap(&c, runits, makespan_ms);
    free(runits);

out_signals:
    sigaction(SIGPIPE, &old_pipe, NULL);
    crmpi_wakepipe_signals_restore(&saved);
out:
    if (c.report_started)
        crmpi_report_free(&c.report);
    coord_run_cleanup(&c);
    if (crmpi_wakepipe_signal())
        *exit_status = 128 + crmpi_wakepipe_signal();
    return result;
}
