/*
 * The coordinator's shell around its state machine (coord_state.c): the poll
 * loop turns the world (nng messages, pidfds, the wake pipe, the clock) into
 * events, and each event's actions are performed here, in their order.  No
 * decision is taken in this file: which unit goes where, requeues, restarts,
 * heartbeats, fail-fast and the end of the run are the state machine's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "annotate.h"
#include "crit.h"
#include "coord_i.h"
#include "diag.h"
#include "reaper.h"
#include "runnerlink.h"
#include "testenv.h"
#include "transport.h"
#include "units.h"
#include "worker.h"

/* ---- workers, as the shell knows them ---------------------------------------- */

/* The shell's entry for state-machine worker id, created on first use. */
static struct coord_worker *coord_worker(struct coord *c, uint32_t id)
{
    if (id < c->n_workers)
        return c->workers[id];
    if (id != c->n_workers)
        return NULL;
    struct coord_worker **grown = realloc(c->workers, (c->n_workers + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    c->workers = grown;
    struct coord_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    *w = (struct coord_worker) { .slot = id, .pidfd = -1 };
    c->workers[c->n_workers++] = w;
    return w;
}

static int coord_gone(const struct coord *c, const struct coord_worker *w)
{
    return c->st.workers[w->slot].state == CRMPI_CST_W_GONE;
}

/* The newest worker on pipe (ids of closed pipes are not reused soon, but may be). */
static struct coord_worker *coord_worker_by_pipe(struct coord *c, uint32_t pipe)
{
    for (size_t i = c->n_workers; i-- > 0;)
        if (c->workers[i]->pipe == pipe)
            return c->workers[i];
    return NULL;
}

/* ---- events ---------------------------------------------------------------------- */

static int coord_queue(struct coord *c, struct crmpi_cst_event ev)
{
    if (c->n_pending == c->cap_pending) {
        size_t cap = c->cap_pending ? 2 * c->cap_pending : 16;
        struct crmpi_cst_event *grown = realloc(c->pending, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        c->pending = grown;
        c->cap_pending = cap;
    }
    ev.now_ms = coord_now_ms();
    c->pending[c->n_pending++] = ev;
    return 0;
}

static void coord_perform(struct coord *c, const struct crmpi_cst_action *a);

/*
 * Feeds ev, performs its actions, then the events those produced (a spawn's
 * outcome, an adoption's), until none is left.
 */
static void coord_feed(struct coord *c, struct crmpi_cst_event ev)
{
    ev.now_ms = coord_now_ms();
    for (;;) {
        const struct crmpi_cst_action *acts;
        size_t n;
        int rc = crmpi_cst_event(&c->st, &ev, &acts, &n);
        if (c->unit_info && c->st.have_units) {
            /* The state machine copied it (crmpi_cst_unit's info): ours is not read again. */
            free(c->unit_info);
            c->unit_info = NULL;
        }
        for (size_t i = 0; i < n; ++i)
            coord_perform(c, &acts[i]);
        if (rc) {
            crmpi_error("internal error on %s: %s", crmpi_cst_ev_name(ev.kind), strerror(-rc));
            ev = (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_INTERNAL_ERROR,
                                            .now_ms = coord_now_ms(), .u.err = rc };
            if (crmpi_cst_event(&c->st, &ev, &acts, &n) == 0)
                for (size_t i = 0; i < n; ++i)
                    coord_perform(c, &acts[i]);
        }
        if (!c->n_pending)
            return;
        ev = c->pending[0];
        memmove(c->pending, c->pending + 1, --c->n_pending * sizeof(*c->pending));
    }
}

/* ---- actions ---------------------------------------------------------------------- */

/* Answers w's request (consumed) with env; nothing when it has none. */
static void coord_reply(struct coord *c, nng_msg **req, const Crmp__Envelope *env)
{
    if (!*req)
        return;
    nng_msg *m = *req;
    *req = NULL;
    /* A failure means its connection is going: its end is an event of its own. */
    int rc = crmpi_transport_reply(&c->net, m, env);
    if (rc)
        crmpi_debug("cannot answer a worker: %s", strerror(-rc));
}

static void coord_reply_stop(struct coord *c, nng_msg **req, const char *reason)
{
    Crmp__Stop stop = CRMP__STOP__INIT;
    stop.reason = (char *) reason;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_STOP);
    env.stop = &stop;
    coord_reply(c, req, &env);
}

static void coord_reply_reject(struct coord *c, nng_msg **req, const char *reason)
{
    Crmp__Reject rej = CRMP__REJECT__INIT;
    rej.reason = (char *) reason;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_REJECT);
    env.reject = &rej;
    coord_reply(c, req, &env);
}

/* Answers req with a body that carries nothing: a heartbeat's echo or a ListWanted. */
static void coord_reply_empty(struct coord *c, nng_msg **req, Crmp__Envelope__BodyCase body)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    Crmp__ListWanted lw = CRMP__LIST_WANTED__INIT;
    Crmp__Envelope env;
    crmpi_wire_init(&env, body);
    if (body == CRMP__ENVELOPE__BODY_HEARTBEAT)
        env.heartbeat = &hb;
    else
        env.list_wanted = &lw;
    coord_reply(c, req, &env);
}

static void coord_reply_assign(struct coord *c, struct coord_worker *w, uint32_t unit)
{
    Crmp__Assign assign = CRMP__ASSIGN__INIT;
    assign.unit = unit;
    assign.has_slot = 1;
    assign.slot = w->test_slot;
    assign.has_keep_tmp = 1;
    assign.keep_tmp = (uint32_t) c->opts->keep_tmp;
    assign.has_leaks = 1;
    assign.leaks = (uint32_t) c->opts->leaks;
    /* A remote worker did not inherit what the global fixtures published: its first Assign says. */
    Crmp__Global *globals = NULL, **gv = NULL;
    if (w->remote && !w->got_globals) {
        w->got_globals = 1;
        assign.fixture_failed = (char *) crmpi_fixtures_failed();
        globals = calloc(c->globals.n ? c->globals.n : 1, sizeof(*globals));
        gv = calloc(c->globals.n ? c->globals.n : 1, sizeof(*gv));
        if (!globals || !gv) {
            crmpi_error("out of memory: worker %u does not get the global fixtures' values",
                    w->slot);
        } else {
            for (size_t i = 0; i < c->globals.n; ++i) {
                crmp__global__init(&globals[i]);
                globals[i].key = c->globals.keys[i];
                globals[i].value = c->globals.values[i];
                gv[i] = &globals[i];
            }
            assign.n_globals = c->globals.n;
            assign.globals = gv;
        }
    }
    assign.has_artifacts_max = crmpi_coord_artifacts_root(c) != NULL;
    assign.artifacts_max = c->opts->artifacts_max;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_ASSIGN);
    env.assign = &assign;
    if (crmpi_diag_level() >= CRMPI_DIAG_DEBUG) {
        const struct crmpi_report_unit *u = &c->units[unit].r;
        crmpi_debug("worker %u takes %s::%s%s", w->slot, u->test->category, u->test->name,
                u->param >= 0 ? " (one parameter)" : "");
    }
    coord_reply(c, &w->req, &env);
    free(gv);
    free(globals);
}

static void coord_reply_challenge(struct coord *c, struct coord_worker *w)
{
    uint8_t proof[CRMPI_PROOF_LEN];
    if (crmpi_auth_proof(&c->token, "crmp-coordinator", w->wnonce, w->cnonce, proof)) {
        coord_reply_reject(c, &w->req, "internal error");
        coord_queue(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_AUTH_FAILED,
                                                  .worker = w->slot });
        return;
    }
    Crmp__Challenge ch = CRMP__CHALLENGE__INIT;
    ch.nonce.data = w->cnonce;
    ch.nonce.len = CRMPI_NONCE_LEN;
    ch.proof.data = proof;
    ch.proof.len = CRMPI_PROOF_LEN;
    Crmp__Envelope out;
    crmpi_wire_init(&out, CRMP__ENVELOPE__BODY_CHALLENGE);
    out.challenge = &ch;
    coord_reply(c, &w->req, &out);
}

/* A worker's hello and its units, once accepted or refused. */
static void coord_hello_free(struct coord_worker *w)
{
    crmpi_wire_free(w->hello);
    w->hello = NULL;
    crmpi_wire_units_free(&w->hello_units);
}

/* Makes the first accepted worker's unit list the run's, then tells the state machine. */
static void coord_adopt(struct coord *c, struct coord_worker *w)
{
    const struct crmpi_wire_units *list = &w->hello_units;
    size_t n = list->n, off = 0;
    int rc = 0;
    c->units = calloc(n ? n : 1, sizeof(*c->units));
    if (!c->units)
        rc = -ENOMEM;
    struct crmpi_wire_unit u;
    for (size_t i = 0; !rc && crmpi_wire_units_next(list, &off, &u); ++i) {
        struct criterion_suite_set *ss;
        struct criterion_test *t;
        if (crmpi_testindex_find(&c->index, u.suite, u.name, &ss, &t)) {
            crmpi_error("the worker runs a test this binary does not have: %s::%s",
                    u.suite, u.name);
            rc = -ENOENT;
            break;
        }
        c->units[i].r = (struct crmpi_report_unit) { .suite = ss, .test = t,
                                                     .param = u.param, .skipped = u.skipped };
    }
    /*
     * The list is ours now: the hello and the index that checked it go
     * before the schedule's tables are built, so they never coexist (issue 10).
     */
    coord_hello_free(w);
    if (!rc) {
        crmpi_testindex_free(&c->index);    /* later lists are checked by fingerprint */
        c->n_units = n;
        c->have_units = 1;
        rc = crmpi_coord_sched_build(c);
    }
    struct crmpi_cst_event ev = { .worker = w->slot };
    if (rc) {
        ev.kind = CRMPI_CST_EV_ADOPT_FAILED;
        ev.u.err = rc;
    } else {
        ev.kind = CRMPI_CST_EV_UNITS;
        ev.u.units.n_units = n;
        ev.u.units.jobs = c->jobs;
        ev.u.units.n_jobs = c->schedule.n;
        ev.u.units.info = c->unit_info;
        crmpi_debug("%zu units to run in %zu jobs", n, c->schedule.n);
    }
    if (coord_queue(c, ev))
        crmpi_error("out of memory");
}

static void coord_spawn(struct coord *c, uint32_t id)
{
    struct coord_worker *w = coord_worker(c, id);
    struct crmpi_cst_event ev = { .kind = CRMPI_CST_EV_SPAWNED, .worker = id };
    char note[sizeof(c->dir) + 64], note_env[sizeof(note) + 64];
    const char *extra[CRMPI_PROC_EXTRA_MAX + 1] = { NULL };
    size_t n_extra = 0;
    if (crmpi_fixtures_any(CRMP_FIXTURE_WORKER)) {
        /* Where it names the worker fixture setup it is in (crmpi_fixtures_setup_noted). */
        crmpi_fixtures_note_path(note, sizeof(note), c->dir, id);
        snprintf(note_env, sizeof(note_env), "%s=%s", CRMPI_ENV_FIXTURE_NOTE, note);
        extra[n_extra++] = note_env;
    }
    if (*c->fixture_crash_env)
        extra[n_extra++] = c->fixture_crash_env;
    if (w)
        w->test_slot = crmpi_coord_test_slot(c, w);
    /* No queue of our own (--mproc=0): no local worker to start. */
    int rc = !*c->url ? -ENOTSUP
           : w ? crmpi_proc_spawn_worker(c->exe, c->argv, &c->env, id, w->test_slot, extra,
                                         &w->pid, &w->pidfd)
               : -ENOMEM;
    if (rc) {
        if (w)
            w->pid = 0;
        ev.kind = CRMPI_CST_EV_SPAWN_FAILED;
        ev.u.err = rc;
    }
    if (coord_queue(c, ev))
        crmpi_error("out of memory");
}

static void coord_kill(struct coord *c, struct coord_worker *w, const char *why)
{
    if (w->remote)
        crmpi_warn("remote worker %u dropped: %s", w->slot, why);   /* no pid of ours */
    else
        crmpi_warn("worker %u (pid %ld) dropped: %s", w->slot, (long) w->pid, why);
    if (w->remote) {
        /* Its pipe's removal comes back as an event: the unit is requeued there. */
        nng_pipe p = { .id = w->pipe };
        crmpi_nng.nng_pipe_close(p);
    } else if (w->pid) {
        /* Its death is noticed through its pidfd; the unit is requeued there. */
        crmpi_kill_tree(w->pid);
    }
    (void) c;
}

/* Prints unit id, whose result is c->result (taken), as its result or as a try (a). */
static void coord_print(struct coord *c, struct coord_worker *w, const struct crmpi_cst_action *a)
{
    struct coord_unit *u = &c->units[a->unit];
    if (a->last_try) {
        crmpi_coord_try_last(c, a->unit);
        if (c->annotate)
            crmpi_annotate_unit(stderr, &u->r);
        crmpi_coord_live_printed(c, a->unit);
        return;
    }
    if (!c->result)
        return;
    if (w) {
        w->busy_ns += c->result->result->wall_ns;
        ++w->units_done;
    }
    if (a->again) {
        crmpi_coord_live_before_print(c);
        crmpi_coord_try_keep(c, a->unit, a->try_no);
        return;
    }
    u->env = c->result;
    c->result = NULL;
    u->r.result = u->env->result;
    crmpi_coord_live_before_print(c);
    crmpi_report_unit(&c->report, &u->r);
    crmpi_coord_testenv_print(&u->r);
    if (c->annotate)
        crmpi_annotate_unit(stderr, &u->r);
    crmpi_coord_try_final(c, a->unit);
    crmpi_coord_live_printed(c, a->unit);
}

/*
 * Reports a unit that took its workers down as a crash: what Criterion
 * itself prints for a test killed by a signal.
 */
static int coord_synthesize_crash(struct coord *c, const struct crmpi_cst_action *a)
{
    uint32_t id = a->unit;
    int sig = a->value;
    struct coord_unit *u = &c->units[id];
    Crmp__TestStats st = CRMP__TEST_STATS__INIT;
    st.status = CR_STATUS_FAILED;
    st.signal = sig;
    st.crashed = 1;
    st.progress = u->r.test->data->line_;
    st.file = (char *) u->r.test->data->file_;

    Crmp__Event pre = CRMP__EVENT__INIT, crash = CRMP__EVENT__INIT;
    pre.kind = CRMP__EVENT__KIND__PRE_INIT;
    crash.kind = CRMP__EVENT__KIND__TEST_CRASH;
    crash.stats = &st;
    Crmp__Event *events[] = { &pre, &crash };

    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    counters.nb_tests = 1;
    counters.tests_failed = 1;
    counters.tests_crashed = 1;

    Crmp__Result res = CRMP__RESULT__INIT;
    res.unit = id;
    res.events = events;
    res.n_events = 2;
    res.final = &st;
    res.counters = &counters;
    crmpi_wire_result_mark(&res);
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_RESULT);
    env.result = &res;

    /* Round-trip through the codec: one ownership rule for every result. */
    uint8_t *buf;
    size_t len;
    Crmp__Envelope *owned;
    int rc = crmpi_wire_encode(&env, &buf, &len);
    if (rc)
        return rc;
    rc = crmpi_wire_decode(buf, len, &owned);
    free(buf);
    if (rc)
        return rc;
    crmpi_wire_free(c->result);
    c->result = owned;
    coord_print(c, NULL, a);
    return 0;
}

static const char *coord_status_word(int status, int *value)
{
    if (WIFSIGNALED(status)) {
        *value = WTERMSIG(status);
        return "signal";
    }
    *value = WEXITSTATUS(status);
    return "exit status";
}

static void coord_note(struct coord *c, const struct crmpi_cst_action *a)
{
    const struct crmpi_report_unit *u = a->unit != CRMPI_CST_NONE ? &c->units[a->unit].r : NULL;
    int v;
    const char *word;
    switch (a->note) {
    case CRMPI_CST_NOTE_WORKERS:
        if (*c->url)
            crmpi_info("%d worker%s on %s", a->value, a->value == 1 ? "" : "s", c->url);
        else
            crmpi_info("no local worker: remote ones on %s", c->opts->listen);
        break;
    case CRMPI_CST_NOTE_RETRY:
        word = coord_status_word(a->value, &v);
        crmpi_warn("worker %u (pid %d) died (%s %d) while running %s::%s: running it again",
                a->worker, (int) (a->worker < c->n_workers ? c->workers[a->worker]->reaped_pid : 0), word, v, u->test->category,
                u->test->name);
        break;
    case CRMPI_CST_NOTE_REMOTE_LOST:
        crmpi_warn("remote worker %u disconnected mid-test: running %s::%s again", a->worker,
                u->test->category, u->test->name);
        break;
    case CRMPI_CST_NOTE_REMOTE_FIXTURE:
        /* Which setup, and how it died, its worker host says, and its replacement's tests. */
        crmpi_warn("remote worker %u died in its worker fixture: running %s::%s again",
                a->worker, u->test->category, u->test->name);
        break;
    case CRMPI_CST_NOTE_CRASHED:
        crmpi_warn("%s::%s took down %d workers: reported as crashed", u->test->category,
                u->test->name, a->value);
        break;
    case CRMPI_CST_NOTE_DIED_IDLE:
        word = coord_status_word(a->value, &v);
        crmpi_warn("worker %u exited unexpectedly (%s %d)", a->worker, word, v);
        break;
    case CRMPI_CST_NOTE_REPLACEMENT:
        crmpi_info("started replacement worker %u (%d of %u restarts)", a->worker, a->value,
                c->opts->max_restarts);
        break;
    case CRMPI_CST_NOTE_SPAWN_FAILED:
        crmpi_error("cannot start worker %u (%s): %s", a->worker, c->exe, strerror(-a->value));
        break;
    case CRMPI_CST_NOTE_STARTUP_FAILED:
        /* A worker that exited said why (as the serial run would); a killed or unborn one could not. */
        crmpi_diag(a->value > 128 || a->value == 1 ? CRMPI_DIAG_ERROR : CRMPI_DIAG_INFO,
                "the workers could not start (exit status %d)", a->value);
        break;
    case CRMPI_CST_NOTE_ALL_DIED:
        crmpi_error("every worker died and --mproc-max-restarts=%u is used up: "
                "%d test%s did not run", c->opts->max_restarts, a->value, a->value == 1 ? "" : "s");
        break;
    case CRMPI_CST_NOTE_WAITING:
        crmpi_warn("waiting for workers on %s (%d s)", c->opts->listen, a->value);
        break;
    case CRMPI_CST_NOTE_NO_WORKERS:
        crmpi_error("no worker reached %s within %d s (--mproc-wait-workers): no test ran",
                c->opts->listen, a->value);
        break;
    case CRMPI_CST_NOTE_STOPPED:
        break;      /* said once the run is over, with the final count */
    }
}

static void coord_perform(struct coord *c, const struct crmpi_cst_action *a)
{
    struct coord_worker *w = a->worker != CRMPI_CST_NONE ? coord_worker(c, a->worker) : NULL;
    switch (a->kind) {
    case CRMPI_CST_ACT_ASSIGN:
        coord_reply_assign(c, w, a->unit);
        crmpi_coord_live_started(c, a->unit);
        break;
    case CRMPI_CST_ACT_STOP:
        coord_reply_stop(c, &w->req, a->why);
        break;
    case CRMPI_CST_ACT_HEARTBEAT:
        coord_reply_empty(c, &c->hb_req, CRMP__ENVELOPE__BODY_HEARTBEAT);
        break;
    case CRMPI_CST_ACT_CHALLENGE:
        coord_reply_challenge(c, w);
        break;
    case CRMPI_CST_ACT_REJECT:
        crmpi_warn("worker %u refused: %s", w->slot, a->why);
        coord_reply_reject(c, &w->req, a->why);
        break;
    case CRMPI_CST_ACT_HOLD:
        break;      /* w->req stays until work exists */
    case CRMPI_CST_ACT_DISCARD:
        crmpi_transport_drop(&c->net, w->req);
        w->req = NULL;
        break;
    case CRMPI_CST_ACT_ADOPT:
        coord_adopt(c, w);
        break;
    case CRMPI_CST_ACT_SPAWN:
        coord_spawn(c, a->worker);
        break;
    case CRMPI_CST_ACT_KILL:
        coord_kill(c, w, a->why);
        break;
    case CRMPI_CST_ACT_PRINT:
        coord_print(c, w, a);
        break;
    case CRMPI_CST_ACT_CRASH:
        if (coord_synthesize_crash(c, a))
            crmpi_error("cannot record the crash of %s::%s", c->units[a->unit].r.test->category,
                    c->units[a->unit].r.test->name);
        break;
    case CRMPI_CST_ACT_PRINT_RESOLVED:
        crmpi_coord_live_before_print(c);
        for (size_t i = 0; i < c->n_units; ++i) {
            if (!c->st.units[i].info.resolved)
                continue;
            crmpi_report_skipped(&c->report, &c->units[i].r);
            crmpi_coord_live_printed(c, (uint32_t) i);     /* counted among the done */
        }
        break;
    case CRMPI_CST_ACT_NOTE:
        coord_note(c, a);
        break;
    case CRMPI_CST_ACT_END:
        c->ended = 1;
        break;
    case CRMPI_CST_ACT_SLOW:
        crmpi_coord_live_slow(c, a);
        break;
    case CRMPI_CST_ACT_TAKE_TOKEN:
        crmpi_jobserver_want(&c->js);
        break;
    case CRMPI_CST_ACT_GIVE_TOKEN:
        crmpi_coord_give_token(c);
        break;
    case CRMPI_CST_ACT_GIVE_SLOT:
        crmpi_coord_give_slot(c);
        break;
    }
}

/* ---- messages ------------------------------------------------------------------ */

/* After a request was fed: what it left that nothing took. */
static void coord_after_request(struct coord *c, struct coord_worker *w)
{
    crmpi_wire_free(c->result);     /* a result the state machine did not print */
    c->result = NULL;
    /* A hello is kept through authentication only. */
    if (w->hello && c->st.workers[w->slot].state != CRMPI_CST_W_AUTH)
        coord_hello_free(w);
}

/*
 * The hello of a worker: ours (slot and pid match one we started) or a
 * remote one.  Takes env, its units (*units is left empty) and req.
 */
static void coord_on_hello(struct coord *c, nng_msg *req, uint32_t pipe, Crmp__Envelope *env,
        struct crmpi_wire_units *units)
{
    const Crmp__Hello *h = env->hello;
    struct coord_worker *w = NULL;
    if (!c->have_units && h->unit_count && !units->n) {
        /* Before any slot is taken: the worker asks again, list included. */
        crmpi_wire_free(env);
        coord_reply_empty(c, &req, CRMP__ENVELOPE__BODY_LIST_WANTED);
        return;
    }
    if (h->slot < c->n_workers && !c->workers[h->slot]->remote && c->workers[h->slot]->pid
            && c->workers[h->slot]->pid == (pid_t) h->pid && !c->workers[h->slot]->pipe) {
        w = c->workers[h->slot];
    } else {
        uint32_t id;
        if (!crmpi_cst_add_remote(&c->st, &id) && (w = coord_worker(c, id))) {
            w->remote = 1;
            w->test_slot = crmpi_coord_test_slot(c, w);
            crmpi_info("remote worker %u connected", w->slot);
        }
    }
    if (!w) {
        crmpi_wire_free(env);
        crmpi_wire_units_free(units);
        coord_reply_reject(c, &req, "out of memory");
        return;
    }
    w->pipe = pipe;
    w->req = req;
    w->hello = env;
    w->hello_units = *units;
    *units = (struct crmpi_wire_units) { 0 };
    struct crmpi_cst_event ev = { .kind = CRMPI_CST_EV_HELLO, .worker = w->slot };
    ev.u.hello.n_units = h->unit_count;
    ev.u.hello.fingerprint = h->fingerprint.data;
    /* Only the first accepted list needs checking against our tests (later ones by fingerprint). */
    ev.u.hello.list_ok = c->have_units || crmpi_testindex_same(&c->index, &w->hello_units);
    ev.u.hello.exe_ok = crmpi_wire_hello_same_exe(h, c->exe_hash);
    if (c->token.len) {
        ev.u.hello.auth = CRMPI_CST_AUTH_CHALLENGE;
        if (!h->has_nonce || crmpi_nonce(w->cnonce))
            ev.u.hello.auth = CRMPI_CST_AUTH_MISSING;
        else
            memcpy(w->wnonce, h->nonce.data, CRMPI_NONCE_LEN);
    }
    coord_feed(c, ev);
}

static void coord_on_message(struct coord *c, nng_msg *msg)
{
    uint32_t pipe = (uint32_t) crmpi_nng.nng_pipe_id(crmpi_nng.nng_msg_get_pipe(msg));
    Crmp__Envelope *env;
    struct crmpi_wire_units units;  /* a hello's (wire_units.h); empty for any other message */
    int rc = crmpi_wire_decode_split(crmpi_nng.nng_msg_body(msg), crmpi_nng.nng_msg_len(msg),
            &env, &units);
    struct coord_worker *w = coord_worker_by_pipe(c, pipe);
    struct crmpi_cst_event ev = { .worker = w ? w->slot : CRMPI_CST_NONE };

    if (rc || (!w && env->body_case != CRMP__ENVELOPE__BODY_HELLO
                  && env->body_case != CRMP__ENVELOPE__BODY_HEARTBEAT)) {
        /* A peer that is not a worker of ours gets an answer and nothing else. */
        char why[128];
        if (rc)
            snprintf(why, sizeof(why), "malformed message (%s)", strerror(-rc));
        else
            snprintf(why, sizeof(why), "%s before hello", crmpi_wire_body_name(env->body_case));
        crmpi_wire_free(env);
        if (w) {
            crmpi_warn("worker %u: %s", w->slot, why);
            crmpi_transport_drop(&c->net, w->req);
            w->req = msg;
            ev.kind = CRMPI_CST_EV_BAD_MESSAGE;
            coord_feed(c, ev);
        } else {
            crmpi_warn("peer dropped: %s", why);
            coord_reply_reject(c, &msg, why);
        }
        return;
    }

    switch (env->body_case) {
    case CRMP__ENVELOPE__BODY_HEARTBEAT:
        /* One that says the worker enters or leaves its worker fixtures is answered alike. */
        ev.kind = env->heartbeat->has_in_fixture ? CRMPI_CST_EV_FIXTURE : CRMPI_CST_EV_HEARTBEAT;
        ev.in_fixture = env->heartbeat->has_in_fixture && env->heartbeat->in_fixture;
        crmpi_wire_free(env);
        c->hb_req = msg;
        coord_feed(c, ev);
        crmpi_transport_drop(&c->net, c->hb_req);
        c->hb_req = NULL;
        return;
    case CRMP__ENVELOPE__BODY_HELLO:
        if (!w || coord_gone(c, w)) {
            coord_on_hello(c, msg, pipe, env, &units);     /* takes env, units and msg */
            w = coord_worker_by_pipe(c, pipe);
            if (w)
                coord_after_request(c, w);
            return;
        }
        crmpi_wire_free(env);
        crmpi_wire_units_free(&units);
        ev.kind = CRMPI_CST_EV_HELLO;   /* a second one: the state machine drops it */
        break;
    case CRMP__ENVELOPE__BODY_AUTH: {
        int ok = w->hello && crmpi_auth_verify(&c->token, "crmp-worker", w->cnonce, w->wnonce,
                env->auth->proof.data, env->auth->proof.len);
        crmpi_wire_free(env);
        ev.kind = ok ? CRMPI_CST_EV_AUTH_OK : CRMPI_CST_EV_AUTH_FAILED;
        break;
    }
    case CRMP__ENVELOPE__BODY_ARTIFACT: {
        /* Answered at once: the state machine sees only the Result that follows. */
        int rc = coord_gone(c, w) ? -EBADMSG : crmpi_coord_on_artifact(c, w, &msg, env->artifact);
        crmpi_wire_free(env);
        if (!rc)
            return;
        crmpi_warn("worker %u: artifact of a unit it does not run", w->slot);
        ev.kind = CRMPI_CST_EV_BAD_MESSAGE;
        break;
    }
    case CRMP__ENVELOPE__BODY_RESULT:
        crmpi_coord_artifacts_result(c, w, env->result->unit);
        c->result = env;
        ev.kind = CRMPI_CST_EV_RESULT;
        ev.u.result.unit = env->result->unit;
        ev.u.result.failed = env->result->final && env->result->final->status == CR_STATUS_FAILED;
        break;
    default:
        crmpi_wire_free(env);
        ev.kind = CRMPI_CST_EV_BAD_MESSAGE;
        break;
    }
    /* A worker has one request at a time: a new one replaces what a broken peer left. */
    crmpi_transport_drop(&c->net, w->req);
    w->req = msg;
    coord_feed(c, ev);
    coord_after_request(c, w);
}

static void coord_drain_messages(struct coord *c)
{
    for (;;) {
        nng_msg *msg;
        if (crmpi_transport_recv(&c->net, &msg))
            return;
        coord_on_message(c, msg);
    }
}

/* ---- processes ------------------------------------------------------------------ */

static int coord_is_worker(pid_t pid, void *arg)
{
    const struct coord *c = arg;
    /* Not a worker, but not a stray either: the fixtures' process ends last. */
    if (c->fixtures.pid == pid)
        return 1;
    for (size_t i = 0; i < c->n_workers; ++i)
        if (c->workers[i]->pid == pid)
            return 1;
    return 0;
}

/*
 * Children of ours that are not live workers are test sandboxes (or what
 * tests forked) whose worker died: the coordinator is their subreaper, and
 * sandboxes call setsid(), so no process group reaches them.
 */
static void coord_reap_zombies(struct coord *c)
{
    crmpi_proc_strays(0, coord_is_worker, c);
}

void crmpi_coord_reap_orphans(struct coord *c)
{
    crmpi_proc_strays(1, coord_is_worker, c);
}

static void coord_reap(struct coord *c, struct coord_worker *w)
{
    int status = 0;
    if (waitpid(w->pid, &status, 0) < 0)
        status = 0;
    else
        crmpi_leftovers_remove_worker(w->pid);
    crmpi_testenv_forget_worker(w->pid);
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->pidfd = -1;
    w->reaped_pid = w->pid;
    w->pid = 0;
    /* Its sandboxes are ours now (we are their subreaper): end them. */
    crmpi_coord_reap_orphans(c);
    struct crmpi_cst_event ev = { .kind = CRMPI_CST_EV_EXITED, .worker = w->slot,
                                  .u.status = status };
    /*
     * Dead in its worker fixture (exec isolation runs it in the worker): not
     * its test's doing.  Its replacements are born with the failure, so that
     * every test they get fails with it, as in fork isolation.
     */
    char note[sizeof(c->dir) + 64];
    crmpi_fixtures_note_path(note, sizeof(note), c->dir, w->slot);
    ev.in_fixture = crmpi_fixtures_worker_died(note, w->slot, w->reaped_pid, status,
            c->fixture_crash_env, sizeof(c->fixture_crash_env));
    coord_feed(c, ev);
}

/* ---- the loop ------------------------------------------------------------------ */

static void coord_handle_wake(struct coord *c)
{
    struct crmpi_wake_rec recs[64];
    int n;
    while ((n = crmpi_wakepipe_read(&c->wake, recs, 64)) >= 0) {
        for (int i = 0; i < n; ++i) {
            if (recs[i].kind == CRMPI_WAKE_CHILD)
                c->child_exited = 1;
            if (recs[i].kind == CRMPI_WAKE_PIPE) {
                struct coord_worker *w = coord_worker_by_pipe(c, recs[i].value);
                if (w)
                    coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_PIPE_CLOSED,
                                                             .worker = w->slot });
            }
        }
    }
    if (crmpi_wakepipe_signal() && !c->st.interrupted) {
        crmpi_coord_live_interrupted(c, coord_now_ms());
        coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_SIGNAL,
                                                 .u.sig = crmpi_wakepipe_signal() });
    }
}

int crmpi_coord_loop(struct coord *c)
{
    struct pollfd *fds = NULL;
    uint32_t *fd_worker = NULL;     /* the worker of each pidfd in fds */
    int rc = 0;
    coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_START });
    /*
     * While the first worker starts (the coordinator has nothing else to
     * do): our executable's hash, which every hello is checked against.  A
     * large test binary takes tens of milliseconds to read.
     */
    int hrc = crmpi_exe_hash(c->exe_hash);
    if (hrc) {
        crmpi_error("cannot read the test executable %s: %s", c->exe, strerror(-hrc));
        coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_INTERNAL_ERROR,
                                                 .u.err = hrc });
    }
    while (!c->ended) {
        struct pollfd *nf = realloc(fds, (4 + c->n_workers) * sizeof(*fds));
        if (nf)
            fds = nf;
        uint32_t *nw = nf ? realloc(fd_worker, (4 + c->n_workers) * sizeof(*nw)) : NULL;
        if (!nw) {
            rc = -ENOMEM;
            break;
        }
        fd_worker = nw;
        size_t nfds = 0;
        int unwatched = 0;
        fds[nfds++] = (struct pollfd) { .fd = c->recv_fd, .events = POLLIN };
        fds[nfds++] = (struct pollfd) { .fd = crmpi_wakepipe_fd(&c->wake), .events = POLLIN };
        for (size_t i = 0; i < c->n_workers; ++i) {
            if (!c->workers[i]->pid)
                continue;
            if (c->workers[i]->pidfd < 0) {
                unwatched = 1;
                continue;
            }
            fd_worker[nfds] = (uint32_t) i;
            fds[nfds++] = (struct pollfd) { .fd = c->workers[i]->pidfd, .events = POLLIN };
        }
        size_t js_at = nfds;        /* make's jobserver, while tokens are wanted */
        if (crmpi_jobserver_fd(&c->js) >= 0)
            fds[nfds++] = (struct pollfd) { .fd = crmpi_jobserver_fd(&c->js), .events = POLLIN };
        size_t slot_at = nfds;      /* the runner's word that our slot is free */
        if (c->slot_fd >= 0 && !c->slot_came)
            fds[nfds++] = (struct pollfd) { .fd = c->slot_fd, .events = POLLIN };

        int64_t now = coord_now_ms();
        int64_t due = crmpi_cst_next_deadline(&c->st, now);
        int timeout = due < 0 ? -1 : due - now > 60000 ? 60000 : (int) (due - now);
        /* Without pidfds, exits are seen through SIGCHLD and a look now and then. */
        if (unwatched && (timeout < 0 || timeout > 500))
            timeout = 500;
        int n = poll(fds, nfds, crmpi_coord_live_timeout(c, timeout));
        crmpi_coord_live_tick(c);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            crmpi_error("poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && fds[1].revents)
            coord_handle_wake(c);
        if (n > 0 && fds[0].revents)
            coord_drain_messages(c);
        /* Processes a test left behind end up ours when they exit: reap them. */
        int looked = c->child_exited;
        if (c->child_exited) {
            c->child_exited = 0;
            coord_reap_zombies(c);
        }
        if (n > 0 && js_at < slot_at && fds[js_at].revents)
            for (int t = crmpi_coord_take_tokens(c); t > 0; --t)
                coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_TOKEN });
        if (n > 0 && slot_at < nfds && fds[slot_at].revents && !c->ended
                && crmpi_coord_slot_came(c))
            coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_SLOT });
        for (size_t k = 2; k < js_at && n > 0 && !c->ended; ++k) {
            struct coord_worker *w = c->workers[fd_worker[k]];
            if (fds[k].revents && w->pid) {
                /* Collect what it said before dying, then its death. */
                coord_drain_messages(c);
                coord_reap(c, w);
            }
        }
        for (size_t i = 0; i < c->n_workers && unwatched && (looked || !n) && !c->ended; ++i) {
            struct coord_worker *w = c->workers[i];
            if (w->pid && w->pidfd < 0 && crmpi_proc_exited(w->pid, w->pidfd)) {
                coord_drain_messages(c);
                coord_reap(c, w);
            }
        }
        now = coord_now_ms();
        due = crmpi_cst_next_deadline(&c->st, now);
        if (!c->ended && due >= 0 && due <= now)
            coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_TICK });
    }
    free(fds);
    free(fd_worker);
    if (rc && !c->ended) {
        /* The loop cannot go on: the run is over, counted as such; the clean-up kills. */
        coord_feed(c, (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_INTERNAL_ERROR, .u.err = rc });
    }
    return rc;
}
