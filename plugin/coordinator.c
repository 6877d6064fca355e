/*
 * The coordinator's policy and loop: which unit goes to which worker, what
 * happens when one dies, hangs or misbehaves, and the poll loop that turns
 * the world (nng messages, pidfds, the wake pipe) into those decisions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crit.h"
#include "coord_i.h"
#include "diag.h"
#include "transport.h"

/* Whether local worker w has exited (it is not reaped here). */
static int coord_exited(const struct coord_worker *w)
{
    return crmpi_proc_exited(w->pid, w->pidfd);
}

/* ---- set-up ---------------------------------------------------------------- */

/*
 * A new, zeroed worker entry, appended.  Entries never move: code holding a
 * worker may start another one (the array of pointers grows, not them).
 */
static struct coord_worker *coord_new_worker(struct coord *c)
{
    struct coord_worker **grown = realloc(c->workers, (c->n_workers + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    c->workers = grown;
    struct coord_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    *w = (struct coord_worker) { .slot = (unsigned) c->n_workers, .pidfd = -1, .unit = -1 };
    c->workers[c->n_workers++] = w;
    return w;
}

int crmpi_coord_spawn(struct coord *c)
{
    struct coord_worker *w = coord_new_worker(c);
    if (!w)
        return -ENOMEM;
    int rc = crmpi_proc_spawn_worker(c->exe, c->argv, &c->env, w->slot, &w->pid, &w->pidfd);
    if (rc)
        return rc;
    w->alive = 1;
    return 0;
}

/* ---- replies ----------------------------------------------------------------- */

/* Answers the request req (consumed) with env. */
static int coord_reply(struct coord *c, nng_msg *req, const Crmp__Envelope *env)
{
    return crmpi_transport_reply(c->sock, req, env);
}


static void coord_reply_stop(struct coord *c, nng_msg *req, const char *reason)
{
    Crmp__Stop stop = CRMP__STOP__INIT;
    stop.reason = (char *) reason;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_STOP);
    env.stop = &stop;
    coord_reply(c, req, &env);
}

static void coord_reply_heartbeat(struct coord *c, nng_msg *req)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HEARTBEAT);
    env.heartbeat = &hb;
    coord_reply(c, req, &env);
}

static void coord_reply_reject(struct coord *c, nng_msg *req, const char *reason)
{
    Crmp__Reject rej = CRMP__REJECT__INIT;
    rej.reason = (char *) reason;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_REJECT);
    env.reject = &rej;
    coord_reply(c, req, &env);
}

static int coord_work_queued(const struct coord *c)
{
    return c->n_requeued || c->q_head < c->q_len;
}

/* A worker finishes its job (a group runs in one worker) before a new one. */
static long coord_next_unit(struct coord *c, struct coord_worker *w)
{
    if (!w->job || w->job->next >= w->job->n) {
        w->job = NULL;
        if (c->n_requeued)
            w->job = c->requeued[--c->n_requeued];
        else if (c->q_head < c->q_len)
            w->job = &c->jobs[c->q_head++];
        else
            return -1;
    }
    return (long) w->job->units[w->job->next++];
}

static int coord_all_done(const struct coord *c)
{
    return c->have_units && c->done == c->n_units;
}

/* Gives worker w its next unit, holds its request, or tells it to stop. */
static void coord_dispatch(struct coord *c, struct coord_worker *w, nng_msg *req)
{
    if (c->stopping || coord_all_done(c)) {
        coord_reply_stop(c, req, c->stop_reason);
        return;
    }
    long id = coord_next_unit(c, w);
    if (id < 0) {
        w->waiting = req;       /* others still run: one may come back */
        return;
    }
    Crmp__Assign assign = CRMP__ASSIGN__INIT;
    assign.unit = (uint32_t) id;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_ASSIGN);
    env.assign = &assign;
    c->units[id].state = COORD_RUNNING;
    w->unit = id;
    crmpi_debug("worker %u takes %s::%s%s", w->slot, c->units[id].r.test->category,
            c->units[id].r.test->name, c->units[id].r.param >= 0 ? " (one parameter)" : "");
    if (coord_reply(c, req, &env)) {
        crmpi_warn("worker %u: cannot send its next test", w->slot);
        /* Its connection is going; the death path requeues the unit. */
    }
}

static void coord_wake_waiting(struct coord *c)
{
    for (size_t i = 0; i < c->n_workers; ++i) {
        struct coord_worker *w = c->workers[i];
        if (!w->waiting)
            continue;
        if (!c->stopping && !coord_all_done(c) && !coord_work_queued(c))
            return;
        nng_msg *req = w->waiting;
        w->waiting = NULL;
        coord_dispatch(c, w, req);
    }
}

/* ---- units ------------------------------------------------------------------- */

/*
 * Puts a dead worker's unfinished work back at the front of the queue:
 * first (when not NULL) the unit it was running, then the rest of its job.
 */
static int coord_requeue(struct coord *c, struct coord_worker *w, const size_t *first)
{
    size_t rest = w->job ? w->job->n - w->job->next : 0;
    size_t n = rest + (first != NULL);
    if (!n) {
        w->job = NULL;
        return 0;
    }
    struct coord_job *job = calloc(1, sizeof(*job));
    size_t *units = calloc(n, sizeof(*units));
    if (!job || !units) {
        free(job);
        free(units);
        return -ENOMEM;
    }
    size_t k = 0;
    if (first)
        units[k++] = *first;
    for (size_t i = 0; i < rest; ++i)
        units[k++] = w->job->units[w->job->next + i];
    *job = (struct coord_job) { .units = units, .n = n, .owned_next = c->owned_jobs };
    c->owned_jobs = job;
    c->requeued[c->n_requeued++] = job;
    w->job = NULL;
    return 0;
}

static int coord_find_test(struct coord *c, const Crmp__Unit *u, struct coord_unit *out)
{
    struct criterion_suite_set *ss;
    struct criterion_test *t;
    if (crmpi_testindex_find(&c->index, u->suite, u->name, &ss, &t))
        return -ENOENT;
    out->r = (struct crmpi_report_unit) { .suite = ss, .test = t, .param = u->param };
    return 0;
}

/* Adopts the unit list of the first worker that said hello. */
static int coord_adopt_units(struct coord *c, const Crmp__Hello *hello, char *why, size_t whylen)
{
    size_t n = hello->n_units;
    c->units = calloc(n ? n : 1, sizeof(*c->units));
    c->requeued = calloc(n ? n : 1, sizeof(*c->requeued));
    if (!c->units || !c->requeued) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; ++i) {
        if (coord_find_test(c, hello->units[i], &c->units[i])) {
            snprintf(why, whylen, "the worker runs a test this binary does not have: %s::%s",
                    hello->units[i]->suite, hello->units[i]->name);
            return -ENOENT;
        }
    }
    c->n_units = n;
    memcpy(c->fingerprint, hello->fingerprint.data, sizeof(c->fingerprint));
    c->have_units = 1;
    if (crmpi_coord_sched_build(c)) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    while (c->n_workers < c->opts->workers)
        if (crmpi_coord_spawn(c))
            break;
    crmpi_debug("%zu units to run in %zu jobs", n, c->q_len);
    return 0;
}

static struct coord_worker *coord_worker_by_pipe(struct coord *c, uint32_t pipe)
{
    for (size_t i = 0; i < c->n_workers; ++i)
        if (c->workers[i]->pipe == pipe && c->workers[i]->alive)
            return c->workers[i];
    return NULL;
}

/* A worker that connected from elsewhere: known by its connection only. */
static struct coord_worker *coord_add_remote(struct coord *c, uint32_t pipe)
{
    struct coord_worker *w = coord_new_worker(c);
    if (!w)
        return NULL;
    w->alive = 1;
    w->remote = 1;
    w->pipe = pipe;
    crmpi_info("remote worker %u connected", w->slot);
    return w;
}

static void coord_finish_unit(struct coord *c, size_t id, Crmp__Envelope *env)
{
    struct coord_unit *u = &c->units[id];
    u->env = env;
    u->r.result = env->result;
    u->state = COORD_DONE;
    ++c->done;
    crmpi_report_unit(&c->report, &u->r);

    const Crmp__TestStats *fin = env->result->final;
    if (criterion_options.fail_fast && fin && fin->status == CR_STATUS_FAILED && !c->stopping) {
        c->stopping = 1;
        c->stop_reason = "--fail-fast";
    }
}

/*
 * Reports a unit that took its workers down as a crash: what Criterion
 * itself prints for a test killed by a signal.
 */
static int coord_synthesize_crash(struct coord *c, size_t id, int sig)
{
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
    res.unit = (uint32_t) id;
    res.events = events;
    res.n_events = 2;
    res.final = &st;
    res.counters = &counters;
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
    coord_finish_unit(c, id, owned);
    return 0;
}

/* ---- messages ---------------------------------------------------------------- */

static void coord_drop_worker(struct coord *c, struct coord_worker *w, const char *why)
{
    (void) c;
    if (w->dropped)
        return;
    w->dropped = 1;
    crmpi_warn("worker %u (pid %ld) dropped: %s", w->slot, (long) w->pid, why);
    if (w->remote) {
        /* Its pipe's removal is reported by nng: the unit is requeued there. */
        nng_pipe p = { .id = w->pipe };
        crmpi_nng.nng_pipe_close(p);
        return;
    }
    /* Its death is noticed through its pidfd; the unit is requeued there. */
    crmpi_kill_tree(w->pid);
}

/*
 * A worker that was just sent a Reject: it holds no test and never will.  A
 * remote one must get to read the Reject, so its connection stays until it
 * closes it; a local one is ours to end.
 */
static void coord_refused(struct coord *c, struct coord_worker *w, const char *why)
{
    if (!w->remote) {
        coord_drop_worker(c, w, why);
        return;
    }
    crmpi_wire_free(w->hello);
    w->hello = NULL;
    w->alive = 0;
}

/* The hello of an authenticated (or local, token-less) worker. */
static void coord_accept(struct coord *c, nng_msg *req, struct coord_worker *w,
        const Crmp__Hello *h)
{
    char why[512];
    w->last_beat_ms = coord_now_ms();
    if (!c->have_units && !crmpi_testindex_same(&c->index, h)) {
        snprintf(why, sizeof(why), "worker %u has a different test list (%zu tests): "
                "not the same binary", w->slot, h->n_units);
        crmpi_warn("%s", why);
        coord_reply_reject(c, req, why);
        coord_refused(c, w, why);
        return;
    }
    if (!c->have_units) {
        if (coord_adopt_units(c, h, why, sizeof(why))) {
            crmpi_error("%s", why);
            c->fatal = 1;
            c->stopping = 1;
            coord_reply_reject(c, req, why);
            return;
        }
    } else if (h->n_units != c->n_units
            || memcmp(h->fingerprint.data, c->fingerprint, sizeof(c->fingerprint))) {
        snprintf(why, sizeof(why), "worker %u has a different test list (%zu tests, "
                "expected %zu): not the same binary", w->slot, h->n_units, c->n_units);
        crmpi_warn("%s", why);
        coord_reply_reject(c, req, why);
        coord_refused(c, w, why);
        return;
    }
    coord_dispatch(c, w, req);
}

static void coord_on_hello(struct coord *c, nng_msg *req, uint32_t pipe, Crmp__Envelope *env)
{
    const Crmp__Hello *h = env->hello;
    struct coord_worker *w = NULL;
    if (h->slot < c->n_workers && !c->workers[h->slot]->remote
            && c->workers[h->slot]->pid == (pid_t) h->pid && !c->workers[h->slot]->pipe)
        w = c->workers[h->slot];
    else
        w = coord_add_remote(c, pipe);
    if (!w) {
        crmpi_wire_free(env);
        coord_reply_reject(c, req, "out of memory");
        return;
    }
    w->pipe = pipe;

    if (!c->token.len) {
        w->authed = 1;
        coord_accept(c, req, w, h);
        crmpi_wire_free(env);
        return;
    }
    if (!h->has_nonce || crmpi_nonce(w->cnonce)) {
        crmpi_warn("worker %u did not offer authentication: refused", w->slot);
        crmpi_wire_free(env);
        coord_reply_reject(c, req, "this coordinator requires a token "
                "(CRITERION_MPROC_TOKEN or --mproc-token-file)");
        coord_refused(c, w, "no token");
        return;
    }
    memcpy(w->wnonce, h->nonce.data, CRMPI_NONCE_LEN);
    uint8_t proof[CRMPI_PROOF_LEN];
    if (crmpi_auth_proof(&c->token, "crmp-coordinator", w->wnonce, w->cnonce, proof)) {
        crmpi_wire_free(env);
        coord_reply_reject(c, req, "internal error");
        return;
    }
    w->hello = env;     /* kept until the worker proves the token */
    Crmp__Challenge ch = CRMP__CHALLENGE__INIT;
    ch.nonce.data = w->cnonce;
    ch.nonce.len = CRMPI_NONCE_LEN;
    ch.proof.data = proof;
    ch.proof.len = CRMPI_PROOF_LEN;
    Crmp__Envelope out;
    crmpi_wire_init(&out, CRMP__ENVELOPE__BODY_CHALLENGE);
    out.challenge = &ch;
    coord_reply(c, req, &out);
}

static void coord_on_auth(struct coord *c, nng_msg *req, struct coord_worker *w,
        const Crmp__Auth *a)
{
    if (w->authed || !w->hello) {
        coord_reply_reject(c, req, "unexpected authentication");
        coord_drop_worker(c, w, "authenticated twice");
        return;
    }
    if (!crmpi_auth_verify(&c->token, "crmp-worker", w->cnonce, w->wnonce, a->proof.data,
            a->proof.len)) {
        crmpi_warn("worker %u failed authentication: refused", w->slot);
        coord_reply_reject(c, req, "authentication failed: wrong token");
        crmpi_wire_free(w->hello);
        w->hello = NULL;
        coord_refused(c, w, "wrong token");
        return;
    }
    w->authed = 1;
    Crmp__Envelope *hello = w->hello;
    w->hello = NULL;
    coord_accept(c, req, w, hello->hello);
    crmpi_wire_free(hello);
}

static void coord_on_result(struct coord *c, nng_msg *req, struct coord_worker *w,
        Crmp__Envelope *env)
{
    uint32_t id = env->result->unit;
    if (w->unit < 0 || (uint32_t) w->unit != id) {
        char why[128];
        snprintf(why, sizeof(why), "sent a result for test %u it was not running", id);
        crmpi_wire_free(env);
        crmpi_nng.nng_msg_free(req);
        coord_drop_worker(c, w, why);
        return;
    }
    w->unit = -1;
    w->busy_ns += env->result->wall_ns;
    ++w->units_done;
    coord_finish_unit(c, id, env);
    coord_dispatch(c, w, req);
    if (c->stopping || coord_all_done(c))
        coord_wake_waiting(c);
}

static void coord_on_message(struct coord *c, nng_msg *msg)
{
    uint32_t pipe = (uint32_t) crmpi_nng.nng_pipe_id(crmpi_nng.nng_msg_get_pipe(msg));
    Crmp__Envelope *env;
    int rc = crmpi_wire_decode(crmpi_nng.nng_msg_body(msg), crmpi_nng.nng_msg_len(msg), &env);
    struct coord_worker *w = coord_worker_by_pipe(c, pipe);

    if (rc) {
        char why[128];
        snprintf(why, sizeof(why), "malformed message (%s)", strerror(-rc));
        if (w) {
            crmpi_nng.nng_msg_free(msg);
            coord_drop_worker(c, w, why);
        } else {
            crmpi_warn("peer dropped: %s", why);
            coord_reply_reject(c, msg, why);
        }
        return;
    }

    switch (env->body_case) {
    case CRMP__ENVELOPE__BODY_HEARTBEAT:
        /* Only a worker that said hello (and proved the token) counts. */
        if (w && w->authed)
            w->last_beat_ms = coord_now_ms();
        crmpi_wire_free(env);
        coord_reply_heartbeat(c, msg);
        return;
    case CRMP__ENVELOPE__BODY_HELLO:
        if (w) {
            crmpi_wire_free(env);
            crmpi_nng.nng_msg_free(msg);
            coord_drop_worker(c, w, "said hello twice");
            return;
        }
        coord_on_hello(c, msg, pipe, env);     /* takes env */
        return;
    case CRMP__ENVELOPE__BODY_AUTH:
        if (!w) {
            crmpi_wire_free(env);
            coord_reply_reject(c, msg, "authentication before hello");
            return;
        }
        coord_on_auth(c, msg, w, env->auth);
        crmpi_wire_free(env);
        return;
    case CRMP__ENVELOPE__BODY_RESULT:
        if (!w || !w->authed) {
            crmpi_wire_free(env);
            coord_reply_reject(c, msg, "a result before hello");
            return;
        }
        coord_on_result(c, msg, w, env);   /* takes env */
        return;
    default: {
        char why[128];
        snprintf(why, sizeof(why), "unexpected %s message", crmpi_wire_body_name(env->body_case));
        crmpi_wire_free(env);
        if (w) {
            crmpi_nng.nng_msg_free(msg);
            coord_drop_worker(c, w, why);
        } else {
            coord_reply_reject(c, msg, why);
        }
        return;
    }
    }
}

static void coord_drain_messages(struct coord *c)
{
    for (;;) {
        nng_msg *msg;
        int rc = crmpi_nng.nng_recvmsg(c->sock, &msg, NNG_FLAG_NONBLOCK);
        if (rc)
            return;
        coord_on_message(c, msg);
    }
}

/* ---- worker deaths ------------------------------------------------------------ */

static size_t coord_alive(const struct coord *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_workers; ++i)
        n += c->workers[i]->alive != 0;
    return n;
}

static int coord_work_left(const struct coord *c)
{
    return !c->stopping && (!c->have_units || c->done < c->n_units);
}

static int coord_is_worker(pid_t pid, void *arg)
{
    const struct coord *c = arg;
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


static void coord_oom(struct coord *c)
{
    crmpi_error("out of memory: stopping the run");
    c->fatal = 1;
    c->stopping = 1;
}

/*
 * A worker is gone (status as from waitpid; a remote one "exits" with its
 * connection): its unit goes back to the queue once, or is reported as
 * crashed the second time; the rest of its job is requeued.
 */
static void coord_worker_gone(struct coord *c, struct coord_worker *w, pid_t pid, int status)
{
    w->alive = 0;
    if (w->waiting) {
        crmpi_nng.nng_msg_free(w->waiting);
        w->waiting = NULL;
    }
    crmpi_wire_free(w->hello);
    w->hello = NULL;

    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    int early = !w->pipe && !w->remote && !clean;
    if (early)
        c->startup_status = sig ? 128 + sig : WEXITSTATUS(status);
    if (w->unit < 0) {
        if (!clean && !early && coord_work_left(c))
            crmpi_warn("worker %u (pid %ld) exited unexpectedly (%s %d)", w->slot, (long) pid,
                    sig ? "signal" : "status", sig ? sig : WEXITSTATUS(status));
        if (coord_requeue(c, w, NULL))
            coord_oom(c);
        coord_wake_waiting(c);
        return;
    }

    size_t id = (size_t) w->unit;
    struct coord_unit *u = &c->units[id];
    w->unit = -1;
    if (c->stopping) {
        /* Killed by us: the unit never finished and is not counted. */
        u->state = COORD_PENDING;
        w->job = NULL;
        return;
    }
    ++u->attempts;
    if (u->attempts >= COORD_MAX_ATTEMPTS) {
        crmpi_warn("%s::%s took down %d workers (last: %s %d): reported as crashed",
                u->r.test->category, u->r.test->name, u->attempts,
                sig ? "signal" : "exit status", sig ? sig : WEXITSTATUS(status));
        if (coord_synthesize_crash(c, id, sig ? sig : SIGKILL)) {
            crmpi_error("cannot record the crash of %s::%s", u->r.test->category, u->r.test->name);
            c->fatal = 1;
            c->stopping = 1;
        }
        if (coord_requeue(c, w, NULL))
            coord_oom(c);
        coord_wake_waiting(c);
        return;
    }
    crmpi_warn("worker %u (pid %ld) died (%s %d) while running %s::%s: running it again",
            w->slot, (long) pid, sig ? "signal" : "exit status", sig ? sig : WEXITSTATUS(status),
            u->r.test->category, u->r.test->name);
    u->state = COORD_PENDING;
    if (coord_requeue(c, w, &id))
        coord_oom(c);
    coord_wake_waiting(c);
}

static void coord_reap(struct coord *c, struct coord_worker *w)
{
    int status = 0;
    if (waitpid(w->pid, &status, 0) < 0)
        status = 0;
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->pidfd = -1;
    pid_t pid = w->pid;
    w->pid = 0;
    /* Its sandboxes are ours now (we are their subreaper): end them. */
    crmpi_coord_reap_orphans(c);
    coord_worker_gone(c, w, pid, status);
}

static void coord_after_deaths(struct coord *c)
{
    if (!coord_work_left(c))
        return;
    size_t alive = coord_alive(c);
    if (!c->have_units && c->startup_status >= 0) {
        /*
         * Workers die before their first word (a bad --filter pattern, a
         * binary that cannot start): another one would die the same way.
         * Once none is left, end as the serial run would have.
         */
        if (!alive && !c->opts->listen) {
            /* A worker that exited said why (as the serial run would); a killed one could not. */
            crmpi_diag(c->startup_status > 128 ? CRMPI_DIAG_ERROR : CRMPI_DIAG_INFO,
                    "the workers could not start (exit status %d)", c->startup_status);
            c->exit_status = c->startup_status ? c->startup_status : 1;
            c->startup_failed = 1;
            c->fatal = 1;
            c->stopping = 1;
        }
        return;
    }
    while (alive < c->opts->workers && c->restarts < c->opts->max_restarts) {
        ++c->restarts;
        if (crmpi_coord_spawn(c))
            break;
        ++alive;
        crmpi_info("started replacement worker %zu (%u of %u restarts)", c->n_workers - 1,
                c->restarts, c->opts->max_restarts);
    }
    if (!alive && !c->opts->listen) {
        crmpi_error("every worker died and --mproc-max-restarts=%u is used up: "
                "%zu tests did not run", c->opts->max_restarts,
                c->have_units ? c->n_units - c->done : 0);
        c->fatal = 1;
        c->stopping = 1;
    }
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
                if (w && w->remote) {
                    /* A host that goes away: its test runs elsewhere. */
                    if (w->unit >= 0 && !c->stopping)
                        crmpi_warn("remote worker %u disconnected mid-test", w->slot);
                    coord_worker_gone(c, w, 0, w->unit >= 0 ? SIGPIPE : 0);
                    coord_after_deaths(c);
                } else if (w && w->unit >= 0 && !c->stopping) {
                    /* An idle worker closes its connection when told to stop. */
                    coord_drop_worker(c, w, "its connection closed");
                }
            }
        }
    }
    if (crmpi_wakepipe_signal() && !c->stopping) {
        c->stopping = 1;
        c->stop_reason = "interrupted";
    }
}


static void coord_kill_busy(struct coord *c)
{
    for (size_t i = 0; i < c->n_workers; ++i)
        if (c->workers[i]->pid && c->workers[i]->unit >= 0)
            crmpi_kill_tree(c->workers[i]->pid);
}


/* A worker that stopped sending heartbeats is hung: treat it as dead. */
static void coord_check_heartbeats(struct coord *c)
{
    if (!c->opts->heartbeat)
        return;
    int64_t now = coord_now_ms();
    for (size_t i = 0; i < c->n_workers; ++i) {
        struct coord_worker *w = c->workers[i];
        if (!w->alive || !w->last_beat_ms || w->dropped)
            continue;
        if (now - w->last_beat_ms > (int64_t) c->opts->heartbeat * 1000) {
            char why[96];
            snprintf(why, sizeof(why), "no heartbeat for %u s: hung", c->opts->heartbeat);
            coord_drop_worker(c, w, why);
        }
    }
}

int crmpi_coord_loop(struct coord *c)
{
    struct pollfd *fds = NULL;
    int64_t deadline = -1;
    int killed_busy = 0;

    for (;;) {
        if (c->stopping || coord_all_done(c)) {
            if (!killed_busy && c->stopping) {
                coord_kill_busy(c);
                killed_busy = 1;
            }
            coord_wake_waiting(c);
            if (deadline < 0)
                deadline = coord_now_ms() + COORD_EXIT_GRACE_MS;
            if (!coord_alive(c))
                break;
            if (coord_now_ms() >= deadline) {
                for (size_t i = 0; i < c->n_workers; ++i)
                    if (c->workers[i]->remote)
                        c->workers[i]->alive = 0;
                for (size_t i = 0; i < c->n_workers; ++i)
                    if (c->workers[i]->pid) {
                        crmpi_warn("worker %u did not exit in time: killed", c->workers[i]->slot);
                        crmpi_kill_tree(c->workers[i]->pid);
                    }
                deadline = coord_now_ms() + COORD_EXIT_GRACE_MS;
            }
        }

        struct pollfd *nf = realloc(fds, (2 + c->n_workers) * sizeof(*fds));
        if (!nf) {
            free(fds);
            return -ENOMEM;
        }
        fds = nf;
        size_t nfds = 0;
        fds[nfds++] = (struct pollfd) { .fd = c->recv_fd, .events = POLLIN };
        fds[nfds++] = (struct pollfd) { .fd = crmpi_wakepipe_fd(&c->wake), .events = POLLIN };
        for (size_t i = 0; i < c->n_workers; ++i)
            if (c->workers[i]->pid && c->workers[i]->pidfd >= 0)
                fds[nfds++] = (struct pollfd) { .fd = c->workers[i]->pidfd, .events = POLLIN };

        int timeout = deadline < 0 ? -1 : (int) (deadline - coord_now_ms());
        if (timeout < -1)
            timeout = 0;
        if (c->opts->heartbeat && (timeout < 0 || timeout > 500))
            timeout = 500;
        int n = poll(fds, nfds, timeout);
        if (n < 0 && errno != EINTR) {
            crmpi_error("poll: %s", strerror(errno));
            free(fds);
            return -errno;
        }
        coord_handle_wake(c);
        coord_drain_messages(c);
        coord_check_heartbeats(c);
        /* Processes a test left behind end up ours when they exit: reap them. */
        if (c->child_exited) {
            c->child_exited = 0;
            coord_reap_zombies(c);
        }

        int died = 0;
        for (size_t i = 0; i < c->n_workers; ++i) {
            struct coord_worker *w = c->workers[i];
            if (!w->pid)
                continue;
            if (coord_exited(w)) {
                /* Collect what it said before dying, then its death. */
                coord_drain_messages(c);
                coord_reap(c, w);
                died = 1;
            }
        }
        if (died)
            coord_after_deaths(c);
    }
    free(fds);
    return 0;
}
