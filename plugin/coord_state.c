/*
 * The coordinator's policy (see coord_state.h).  Every function here only
 * reads and writes the state it is given and appends actions.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "coord_slots.h"
#include "coord_state.h"
#include "coord_state_i.h"

/* A job put back: what a dead worker left of its own. */
struct crmpi_cst_owned_job {
    struct crmpi_cst_job job;
    size_t *units;
    struct crmpi_cst_owned_job *next;
};

/* ---- set-up -------------------------------------------------------------------- */

int crmpi_cst_init(struct crmpi_cst *st, const struct crmpi_cst_config *cfg)
{
    *st = (struct crmpi_cst) { .cfg = *cfg, .startup_status = -1, .end_deadline_ms = -1,
                               .free_slot = CRMPI_CST_NONE,
                               .slot_pending = cfg->jobserver && cfg->slot_later };
    if (!st->cfg.max_attempts)
        st->cfg.max_attempts = 1;
    st->cap_acts = 16 + 4 * (size_t) cfg->workers;
    st->acts = calloc(st->cap_acts, sizeof(*st->acts));
    if (!st->acts) {
        st->cap_acts = 0;
        return -ENOMEM;
    }
    return 0;
}

void crmpi_cst_destroy(struct crmpi_cst *st)
{
    for (struct crmpi_cst_owned_job *j = st->owned, *next; j; j = next) {
        next = j->next;
        free(j->units);
        free(j);
    }
    free(st->requeued);
    free(st->units);
    free(st->workers);
    free(st->acts);
    *st = (struct crmpi_cst) { 0 };
}

static int cst_new_worker(struct crmpi_cst *st, int remote, uint32_t *id)
{
    if (st->n_workers == st->cap_workers) {
        size_t cap = st->cap_workers ? 2 * st->cap_workers : 8;
        struct crmpi_cst_worker *grown = realloc(st->workers, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        st->workers = grown;
        st->cap_workers = cap;
    }
    *id = (uint32_t) st->n_workers;
    st->workers[st->n_workers++] = (struct crmpi_cst_worker) {
        .state = CRMPI_CST_W_STARTING, .remote = remote, .unit = CRMPI_CST_NONE,
    };
    return 0;
}

int crmpi_cst_add_remote(struct crmpi_cst *st, uint32_t *w)
{
    return cst_new_worker(st, 1, w);
}

/* ---- dispatch ------------------------------------------------------------------- */

/* A worker finishes its job (a group runs in one worker) before it takes another. */
static uint32_t cst_next_unit(struct crmpi_cst *st, struct crmpi_cst_worker *w)
{
    if (!w->job || w->job_next >= w->job->n) {
        w->job = NULL;
        w->job_next = 0;
        if (st->n_requeued)
            w->job = &st->requeued[--st->n_requeued]->job;
        else if (st->q_head < st->n_jobs)
            w->job = &st->jobs[st->q_head++];
        else
            return CRMPI_CST_NONE;
    }
    return (uint32_t) w->job->units[w->job_next++];
}

/* ---- jobserver slots (bookkeeping in coord_slots.c) --------------------------------- */

static int cst_wake_held(struct crmpi_cst *st, int64_t now);

/* Asks for the tokens the workers still wanted will start on (one each, once). */
static int cst_ask_for_workers(struct crmpi_cst *st)
{
    int rc = 0;
    for (unsigned n = crmpi_slots_ask(st); !rc && n; --n)
        rc = crmpi_cst_act(st, CRMPI_CST_ACT_TAKE_TOKEN, CRMPI_CST_NONE, CRMPI_CST_NONE);
    return rc;
}

/* A spare token nobody waits for starts a wanted worker, which runs on it. */
static int cst_spawn_on_spare(struct crmpi_cst *st)
{
    int rc = 0, replacement;
    while (!rc && crmpi_slots_spare_starts(st, &replacement)) {
        uint32_t nw;
        rc = cst_new_worker(st, 0, &nw);
        if (rc)
            break;
        --st->spare;
        st->workers[nw].token = 1;
        rc = crmpi_cst_act(st, CRMPI_CST_ACT_SPAWN, nw, CRMPI_CST_NONE);
        if (!rc && replacement)
            rc = crmpi_cst_note(st, CRMPI_CST_NOTE_REPLACEMENT, nw, CRMPI_CST_NONE, (int) ++st->restarts);
    }
    return rc;
}

/*
 * Spare tokens go to the requests held for a slot, the rest back to the
 * jobserver; the runner's free slot, with no unit queued for it, back to
 * the runner.
 */
static int cst_pass_on_slots(struct crmpi_cst *st, int64_t now)
{
    int rc = cst_wake_held(st, now);
    if (!rc)
        rc = cst_spawn_on_spare(st);
    if (!rc && !cst_work_queued(st) && crmpi_slots_give_free(st))
        rc = crmpi_cst_act(st, CRMPI_CST_ACT_GIVE_SLOT, CRMPI_CST_NONE, CRMPI_CST_NONE);
    while (!rc && crmpi_slots_give_spare(st))
        rc = crmpi_cst_act(st, CRMPI_CST_ACT_GIVE_TOKEN, CRMPI_CST_NONE, CRMPI_CST_NONE);
    return rc ? rc : cst_ask_for_workers(st);
}

static int cst_release_slot(struct crmpi_cst *st, uint32_t id, int64_t now)
{
    return crmpi_slots_release(st, id) ? cst_pass_on_slots(st, now) : 0;
}

/* Whether w has a unit to run next: the rest of its job, or the queue's. */
static int cst_work_for(const struct crmpi_cst *st, const struct crmpi_cst_worker *w)
{
    return (w->job && w->job_next < w->job->n) || st->n_requeued || st->q_head < st->n_jobs;
}

/* Answers w's request: its next unit, Stop, or a hold until work (or a slot) exists. */
static int cst_dispatch(struct crmpi_cst *st, uint32_t id, int64_t now)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    if (st->stopping || cst_all_done(st) || st->phase != CRMPI_CST_RUNNING_PHASE) {
        w->held = 0;
        int rc = crmpi_cst_act_why(st, CRMPI_CST_ACT_STOP, id, "%s",
                st->stop_reason ? st->stop_reason : "");
        return rc ? rc : cst_release_slot(st, id, now);
    }
    if (cst_work_for(st, w) && !crmpi_slots_take(st, id)) {
        int rc = w->held ? 0 : crmpi_cst_act(st, CRMPI_CST_ACT_HOLD, id, CRMPI_CST_NONE);
        w->held = 1;
        if (!rc && crmpi_slots_wait(st, id))
            rc = crmpi_cst_act(st, CRMPI_CST_ACT_TAKE_TOKEN, CRMPI_CST_NONE, CRMPI_CST_NONE);
        return rc;
    }
    uint32_t u = cst_next_unit(st, w);
    if (u == CRMPI_CST_NONE) {
        /* Others still run: a unit may come back.  A request held already stays so. */
        int rc = w->held ? 0 : crmpi_cst_act(st, CRMPI_CST_ACT_HOLD, id, CRMPI_CST_NONE);
        w->held = 1;
        return rc ? rc : cst_release_slot(st, id, now);
    }
    w->held = 0;
    w->unit = u;
    st->units[u] = (struct crmpi_cst_unit) {
        .state = CRMPI_CST_RUNNING, .worker = id, .attempts = st->units[u].attempts,
        .tries = st->units[u].tries,
        .started_ms = now, .info = st->units[u].info,
    };
    ++st->running;
    return crmpi_cst_act(st, CRMPI_CST_ACT_ASSIGN, id, u);
}

/* Answers held requests while there is an answer other than "wait". */
static int cst_wake_held(struct crmpi_cst *st, int64_t now)
{
    for (size_t i = 0; i < st->n_workers; ++i) {
        if (!st->workers[i].held)
            continue;
        if (!st->stopping && !cst_all_done(st) && st->phase == CRMPI_CST_RUNNING_PHASE
                && !cst_work_queued(st))
            return 0;
        int rc = cst_dispatch(st, (uint32_t) i, now);
        if (rc)
            return rc;
    }
    return 0;
}

/* Puts back, at the front, a job of first (when not NONE) and rest[0..n_rest). */
static int cst_push_job(struct crmpi_cst *st, uint32_t first, const size_t *rest, size_t n_rest)
{
    size_t n = n_rest + (first != CRMPI_CST_NONE);
    if (!n)
        return 0;
    if (st->n_requeued == st->cap_requeued) {
        /* Grown when used: most runs put nothing back (issue 10: not 8 bytes a unit up front). */
        size_t cap = st->cap_requeued ? 2 * st->cap_requeued : 16;
        struct crmpi_cst_owned_job **grown = realloc(st->requeued, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        st->requeued = grown;
        st->cap_requeued = cap;
    }
    struct crmpi_cst_owned_job *j = calloc(1, sizeof(*j));
    size_t *units = calloc(n, sizeof(*units));
    if (!j || !units) {
        free(j);
        free(units);
        return -ENOMEM;
    }
    size_t k = 0;
    if (first != CRMPI_CST_NONE)
        units[k++] = first;
    for (size_t i = 0; i < n_rest; ++i)
        units[k++] = rest[i];
    *j = (struct crmpi_cst_owned_job) { .job = { units, n }, .units = units, .next = st->owned };
    st->owned = j;
    st->requeued[st->n_requeued++] = j;
    return 0;
}

/* Puts back, at the front, first (when not NONE) and the rest of w's job. */
static int cst_requeue(struct crmpi_cst *st, struct crmpi_cst_worker *w, uint32_t first)
{
    size_t rest = w->job ? w->job->n - w->job_next : 0;
    int rc = cst_push_job(st, first, rest ? w->job->units + w->job_next : NULL, rest);
    if (rc)
        return rc;
    w->job = NULL;
    w->job_next = 0;
    return 0;
}

/* ---- retries ------------------------------------------------------------------------ */

/* Whether u's failed try runs again: tries left, and the run goes on. */
static int cst_may_retry(const struct crmpi_cst *st, const struct crmpi_cst_unit *u)
{
    return u->tries < u->info.retries && !st->stopping && st->phase == CRMPI_CST_RUNNING_PHASE;
}

/* u's failed try runs again, on whichever worker asks first (the rest of its job stays put). */
static int cst_retry(struct crmpi_cst *st, uint32_t u)
{
    struct crmpi_cst_unit *cu = &st->units[u];
    if (cu->state == CRMPI_CST_RUNNING)
        --st->running;
    ++cu->tries;
    cu->state = CRMPI_CST_QUEUED;
    cu->worker = CRMPI_CST_NONE;
    return cst_push_job(st, u, NULL, 0);
}

/*
 * The run stops with u waiting for another try: its last failed try is its
 * result (a unit with a result is never counted as not run).
 */
static int cst_settle_tries(struct crmpi_cst *st, uint32_t u)
{
    struct crmpi_cst_unit *cu = &st->units[u];
    if (!cu->tries || cu->state == CRMPI_CST_DONE || cu->state == CRMPI_CST_EXCLUDED)
        return 0;
    struct crmpi_cst_action *a;
    CST_PUSH(st, a, CRMPI_CST_ACT_PRINT, CRMPI_CST_NONE);
    a->unit = u;
    a->try_no = cu->tries;
    a->last_try = 1;
    if (cu->state == CRMPI_CST_RUNNING)
        --st->running;
    cu->state = CRMPI_CST_DONE;
    cu->worker = CRMPI_CST_NONE;
    ++st->done;
    return 0;
}

/* ---- the end ----------------------------------------------------------------------- */

static int cst_kill(struct crmpi_cst *st, uint32_t id, const char *why)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    if (w->dropped || !cst_alive(w))
        return 0;
    w->dropped = 1;
    return crmpi_cst_act_why(st, CRMPI_CST_ACT_KILL, id, "%s", why);
}

static int cst_maybe_ended(struct crmpi_cst *st)
{
    if (st->phase != CRMPI_CST_ENDING || crmpi_cst_alive(st))
        return 0;
    st->phase = CRMPI_CST_ENDED;
    return crmpi_cst_act(st, CRMPI_CST_ACT_END, CRMPI_CST_NONE, CRMPI_CST_NONE);
}

/*
 * No more work goes out: held requests get Stop, busy workers are killed
 * when the run was stopped (their units are not counted), and workers get
 * exit_grace_ms to leave.
 */
static int cst_begin_end(struct crmpi_cst *st, int64_t now)
{
    if (st->phase != CRMPI_CST_RUNNING_PHASE)
        return cst_maybe_ended(st);
    st->phase = CRMPI_CST_ENDING;
    st->end_deadline_ms = now + st->cfg.exit_grace_ms;
    int rc = cst_wake_held(st, now);
    for (size_t i = 0; i < st->n_workers && !rc && st->stopping; ++i)
        if (st->workers[i].unit != CRMPI_CST_NONE)
            rc = cst_kill(st, (uint32_t) i, st->stop_reason);
    for (size_t u = 0; u < st->n_units && !rc && st->stopping; ++u)
        if (st->units[u].state == CRMPI_CST_QUEUED)
            rc = cst_settle_tries(st, (uint32_t) u);
    if (!rc && st->stopping && st->have_units) {
        size_t not_run = cst_not_run(st);
        if (not_run) {
            struct crmpi_cst_action *a;
            CST_PUSH(st, a, CRMPI_CST_ACT_NOTE, CRMPI_CST_NONE);
            a->note = CRMPI_CST_NOTE_STOPPED;
            a->value = (int) not_run;
            a->total = st->counted_total;
            snprintf(a->why, sizeof(a->why), "%s", st->stop_reason);
        }
    }
    return rc ? rc : cst_maybe_ended(st);
}

static int cst_stop(struct crmpi_cst *st, const char *reason, int64_t now)
{
    if (!st->stopping) {
        st->stopping = 1;
        st->stop_reason = reason;
    }
    return cst_begin_end(st, now);
}

static int cst_fatal(struct crmpi_cst *st, const char *reason, int64_t now)
{
    st->fatal = 1;
    return cst_stop(st, reason, now);
}

/* ---- hello and authentication ------------------------------------------------------- */

/* w was just sent a Reject: a local one is ours to end; a remote one closes itself. */
static int cst_refuse(struct crmpi_cst *st, uint32_t id, const char *why)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    w->refused = 1;
    if (w->remote) {
        w->state = CRMPI_CST_W_GONE;
        return 0;
    }
    return cst_kill(st, id, why);
}

static int cst_reject(struct crmpi_cst *st, uint32_t id, const char *why)
{
    int rc = crmpi_cst_act_why(st, CRMPI_CST_ACT_REJECT, id, "%s", why);
    return rc ? rc : cst_refuse(st, id, why);
}

/* Answers id's request unanswered and drops the worker. */
static int cst_drop(struct crmpi_cst *st, uint32_t id, const char *why)
{
    int rc = crmpi_cst_act(st, CRMPI_CST_ACT_DISCARD, id, CRMPI_CST_NONE);
    return rc ? rc : cst_kill(st, id, why);
}

/* Same test names are not enough: a different binary could turn a failing run into a pass. */
static int cst_reject_exe(struct crmpi_cst *st, uint32_t id)
{
    char why[160];
    snprintf(why, sizeof(why), "worker %u runs a different executable (same tests, other "
            "content): not the same binary", id);
    return cst_reject(st, id, why);
}

/* The hello of an authenticated (or token-less) worker. */
static int cst_accept(struct crmpi_cst *st, uint32_t id, int64_t now)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    char why[160];
    w->last_beat_ms = now;
    if (!st->have_units) {
        if (!w->list_ok) {
            snprintf(why, sizeof(why), "worker %u has a different test list (%zu test%s): "
                    "not the same binary", id, w->list_n, w->list_n == 1 ? "" : "s");
            return cst_reject(st, id, why);
        }
        /* Before adopting: a foreign first worker must not set the fingerprint. */
        if (!w->exe_ok)
            return cst_reject_exe(st, id);
        w->state = CRMPI_CST_W_ADOPTING;
        return crmpi_cst_act(st, CRMPI_CST_ACT_ADOPT, id, CRMPI_CST_NONE);
    }
    if (w->list_n != st->n_units || memcmp(w->fingerprint, st->fingerprint, 32)) {
        snprintf(why, sizeof(why), "worker %u has a different test list (%zu test%s, "
                "expected %zu test%s): not the same binary", id, w->list_n,
                w->list_n == 1 ? "" : "s", st->n_units, st->n_units == 1 ? "" : "s");
        return cst_reject(st, id, why);
    }
    if (!w->exe_ok)
        return cst_reject_exe(st, id);
    w->state = CRMPI_CST_W_READY;
    w->hello_ok = 1;
    return cst_dispatch(st, id, now);
}

static int cst_on_hello(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    uint32_t id = ev->worker;
    struct crmpi_cst_worker *w = &st->workers[id];
    if (w->state != CRMPI_CST_W_STARTING)
        return cst_drop(st, id, "said hello twice");
    w->list_n = ev->u.hello.n_units;
    w->list_ok = ev->u.hello.list_ok;
    w->exe_ok = ev->u.hello.exe_ok;
    if (ev->u.hello.fingerprint)
        memcpy(w->fingerprint, ev->u.hello.fingerprint, 32);
    switch (ev->u.hello.auth) {
    case CRMPI_CST_AUTH_MISSING:
        return cst_reject(st, id, "this coordinator requires a token "
                "(CRITERION_MPROC_TOKEN or --mproc-token-file)");
    case CRMPI_CST_AUTH_CHALLENGE:
        w->state = CRMPI_CST_W_AUTH;
        return crmpi_cst_act(st, CRMPI_CST_ACT_CHALLENGE, id, CRMPI_CST_NONE);
    case CRMPI_CST_AUTH_NONE:
        break;
    }
    return cst_accept(st, id, ev->now_ms);
}

static int cst_on_auth(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    uint32_t id = ev->worker;
    struct crmpi_cst_worker *w = &st->workers[id];
    if (w->state != CRMPI_CST_W_AUTH) {
        int rc = crmpi_cst_act_why(st, CRMPI_CST_ACT_REJECT, id, "unexpected authentication");
        return rc ? rc : cst_kill(st, id, "authenticated twice");
    }
    if (ev->kind == CRMPI_CST_EV_AUTH_FAILED)
        return cst_reject(st, id, "authentication failed: wrong token");
    return cst_accept(st, id, ev->now_ms);
}

static int cst_on_units(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    uint32_t id = ev->worker;
    struct crmpi_cst_worker *w = &st->workers[id];
    if (w->state != CRMPI_CST_W_ADOPTING || st->have_units)
        return -EINVAL;
    size_t n = ev->u.units.n_units;
    st->units = calloc(n ? n : 1, sizeof(*st->units));
    if (!st->units)
        return -ENOMEM;
    st->n_units = n;
    for (size_t i = 0; i < n; ++i)
        st->units[i] = (struct crmpi_cst_unit) {
            .state = CRMPI_CST_EXCLUDED, .worker = CRMPI_CST_NONE, .info = ev->u.units.info[i],
        };
    size_t runnable = 0, real = 0;
    for (size_t j = 0; j < ev->u.units.n_jobs; ++j)
        for (size_t k = 0; k < ev->u.units.jobs[j].n; ++k) {
            size_t u = ev->u.units.jobs[j].units[k];
            if (u >= n || st->units[u].state != CRMPI_CST_EXCLUDED)
                return -EINVAL;
            st->units[u].state = CRMPI_CST_QUEUED;
            ++runnable;
            real += !st->units[u].info.trivial;
            st->counted_total += st->units[u].info.counted != 0;
        }
    size_t resolved = 0;
    for (size_t i = 0; i < n; ++i)
        if (st->units[i].state == CRMPI_CST_EXCLUDED && st->units[i].info.resolved) {
            st->units[i].state = CRMPI_CST_DONE;
            ++resolved;
        }
    st->done = n - runnable;
    st->jobs = ev->u.units.jobs;
    st->n_jobs = ev->u.units.n_jobs;
    memcpy(st->fingerprint, w->fingerprint, 32);
    st->have_units = 1;
    w->state = CRMPI_CST_W_READY;
    w->hello_ok = 1;

    /*
     * Never more workers than units that really run: 512 asked, 4 units, 4
     * workers; filtered-out and disabled ones take no time and need none.
     */
    st->want = st->cfg.workers;
    if (st->want > real)
        st->want = real ? (unsigned) real : 1;
    int rc = cst_dispatch(st, id, ev->now_ms);
    /* With a jobserver, the others start on tokens as they come (crmpi_slots_workers_wanted). */
    while (!rc && !st->cfg.jobserver && cst_alive_local(st) < st->want) {
        uint32_t nw;
        rc = cst_new_worker(st, 0, &nw);
        if (!rc)
            rc = crmpi_cst_act(st, CRMPI_CST_ACT_SPAWN, nw, CRMPI_CST_NONE);
    }
    if (!rc)
        rc = cst_ask_for_workers(st);
    if (!rc)
        rc = crmpi_cst_note(st, CRMPI_CST_NOTE_WORKERS, CRMPI_CST_NONE, CRMPI_CST_NONE,
                (int) st->want);
    /* After the first dispatch and the spawns: nobody waits on this report. */
    if (!rc && resolved)
        rc = crmpi_cst_act(st, CRMPI_CST_ACT_PRINT_RESOLVED, CRMPI_CST_NONE, CRMPI_CST_NONE);
    if (!rc && cst_all_done(st))
        rc = cst_begin_end(st, ev->now_ms);
    return rc;
}

/* ---- results ---------------------------------------------------------------------- */

/* u is over: failed (or crashed) feeds --fail-fast. */
static void cst_unit_done(struct crmpi_cst *st, uint32_t u, int failed)
{
    if (st->units[u].state == CRMPI_CST_RUNNING)
        --st->running;
    st->units[u].state = CRMPI_CST_DONE;
    st->units[u].worker = CRMPI_CST_NONE;
    ++st->done;
    if (failed && st->cfg.fail_fast && !st->stopping) {
        st->stopping = 1;
        st->stop_reason = "--fail-fast";
        st->fail_fast_hit = 1;
    }
}

static int cst_on_result(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    uint32_t id = ev->worker, u = ev->u.result.unit;
    struct crmpi_cst_worker *w = &st->workers[id];
    if (!cst_alive(w))
        return crmpi_cst_act(st, CRMPI_CST_ACT_DISCARD, id, CRMPI_CST_NONE);  /* late: ignored */
    if (w->state != CRMPI_CST_W_READY)
        return cst_reject(st, id, "a result before hello");
    if (w->unit == CRMPI_CST_NONE || w->unit != u) {
        char why[96];
        snprintf(why, sizeof(why), "sent a result for test %u it was not running", u);
        return cst_drop(st, id, why);
    }
    w->unit = CRMPI_CST_NONE;
    ++w->units_done;
    unsigned try_no = st->units[u].tries + 1;
    int again = ev->u.result.failed && cst_may_retry(st, &st->units[u]);
    int rc = 0;
    if (again)
        rc = cst_retry(st, u);
    else
        cst_unit_done(st, u, ev->u.result.failed);
    /*
     * Dispatch first, to this worker and to a held one that can take the
     * failed try: a slow reader of the report must stall neither.
     */
    if (!rc)
        rc = w->dropped ? crmpi_cst_act(st, CRMPI_CST_ACT_DISCARD, id, CRMPI_CST_NONE)
                        : cst_dispatch(st, id, ev->now_ms);
    if (!rc && again)
        rc = cst_wake_held(st, ev->now_ms);
    if (!rc) {
        struct crmpi_cst_action *a;
        CST_PUSH(st, a, CRMPI_CST_ACT_PRINT, id);
        a->unit = u;
        a->try_no = try_no;
        a->again = again;
    }
    if (!rc && (st->stopping || cst_all_done(st)))
        rc = cst_begin_end(st, ev->now_ms);
    return rc;
}

/* ---- deaths ---------------------------------------------------------------------- */

/* Starts replacements while work waits and the restart budget lasts. */
static int cst_after_death(struct crmpi_cst *st, int64_t now)
{
    if (st->phase != CRMPI_CST_RUNNING_PHASE || st->stopping)
        return cst_maybe_ended(st);
    size_t alive = crmpi_cst_alive(st);
    if (!st->have_units) {
        /*
         * Workers that die before their first word (a bad --filter, a binary
         * that cannot start): another would die the same way.  With none
         * left, end as the serial run would have.
         */
        if (alive || st->cfg.remote)
            return 0;
        st->startup_failed = 1;
        int rc = crmpi_cst_note(st, CRMPI_CST_NOTE_STARTUP_FAILED, CRMPI_CST_NONE, CRMPI_CST_NONE,
                st->startup_status > 0 ? st->startup_status : 1);
        return rc ? rc : cst_fatal(st, "the workers could not start", now);
    }
    int rc = 0;
    size_t at_once = crmpi_slots_replace_at_once(st, alive);
    while (!rc && cst_work_queued(st) && cst_alive_local(st) < at_once
            && st->restarts < st->cfg.max_restarts + st->fixture_deaths) {
        uint32_t nw;
        ++st->restarts;
        rc = cst_new_worker(st, 0, &nw);
        if (!rc)
            rc = crmpi_cst_act(st, CRMPI_CST_ACT_SPAWN, nw, CRMPI_CST_NONE);
        if (!rc)
            rc = crmpi_cst_note(st, CRMPI_CST_NOTE_REPLACEMENT, nw, CRMPI_CST_NONE, (int) st->restarts);
        ++alive;
    }
    if (!rc && !alive && !st->cfg.remote && !cst_all_done(st)) {
        rc = crmpi_cst_note(st, CRMPI_CST_NOTE_ALL_DIED, CRMPI_CST_NONE, CRMPI_CST_NONE,
                (int) cst_not_run(st));
        if (!rc)
            rc = cst_fatal(st, "every worker died", now);
    }
    return rc;
}

/*
 * Worker id is gone (status as from waitpid; a remote one "exits" with its
 * connection).  Its unit runs again, or is reported crashed once it took
 * max_attempts workers down; the rest of its job goes back to the queue.
 */
static int cst_gone(struct crmpi_cst *st, uint32_t id, int status, int in_fixture, int64_t now)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    int was_starting = w->state == CRMPI_CST_W_STARTING && !w->refused;
    int rc = 0;
    w->state = CRMPI_CST_W_GONE;
    if (w->held) {
        w->held = 0;
        rc = crmpi_cst_act(st, CRMPI_CST_ACT_DISCARD, id, CRMPI_CST_NONE);
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    int code = sig ? 128 + sig : WEXITSTATUS(status);
    if (was_starting && !w->remote && !st->have_units)
        st->startup_status = code;

    uint32_t u = w->unit;
    w->unit = CRMPI_CST_NONE;
    /*
     * Its worker fixture's doing, said by the shell: its replacement is free.
     * A remote one's (it said so) is its host's to replace, not ours.
     */
    if (in_fixture && !clean && !w->remote)
        ++st->fixture_deaths;
    if (u == CRMPI_CST_NONE) {
        if (!rc && !clean && !in_fixture && !was_starting && !w->dropped && !w->refused
                && !st->stopping && !cst_all_done(st))
            rc = crmpi_cst_note(st, CRMPI_CST_NOTE_DIED_IDLE, id, CRMPI_CST_NONE, status);
        if (!rc && !st->stopping)
            rc = cst_requeue(st, w, CRMPI_CST_NONE);
    } else if (st->stopping) {
        /* Killed by us: the unit never finished and is not counted (but for an earlier try). */
        st->units[u].state = CRMPI_CST_QUEUED;
        --st->running;
        w->job = NULL;
        if (!rc)
            rc = cst_settle_tries(st, u);
    } else if (in_fixture && !clean) {
        /* Not the test's doing: it runs again (on a worker that reports the failure). */
        st->units[u].state = CRMPI_CST_QUEUED;
        --st->running;
        if (!rc && w->remote)
            rc = crmpi_cst_note(st, CRMPI_CST_NOTE_REMOTE_FIXTURE, id, u, 0);
        if (!rc)
            rc = cst_requeue(st, w, u);
    } else {
        struct crmpi_cst_unit *cu = &st->units[u];
        ++cu->attempts;
        --st->running;
        cu->state = CRMPI_CST_QUEUED;
        if (cu->attempts >= st->cfg.max_attempts) {
            /* A crash is a failed try like any other: with tries left, it runs again. */
            int again = cst_may_retry(st, cu);
            if (!rc)
                rc = crmpi_cst_note(st, again ? CRMPI_CST_NOTE_RETRY : CRMPI_CST_NOTE_CRASHED, id, u,
                        again ? status : (int) cu->attempts);
            if (!rc) {
                struct crmpi_cst_action *a;
                CST_PUSH(st, a, CRMPI_CST_ACT_CRASH, id);
                a->unit = u;
                a->value = sig ? sig : SIGKILL;
                a->try_no = cu->tries + 1;
                a->again = again;
            }
            if (again) {
                cu->attempts = 0;
                ++cu->tries;
            } else {
                cst_unit_done(st, u, 1);
            }
            if (!rc)
                rc = cst_requeue(st, w, again ? u : CRMPI_CST_NONE);
        } else {
            if (!rc)
                rc = crmpi_cst_note(st, w->remote ? CRMPI_CST_NOTE_REMOTE_LOST : CRMPI_CST_NOTE_RETRY,
                        id, u, status);
            if (!rc)
                rc = cst_requeue(st, w, u);
        }
    }
    if (!rc)
        rc = cst_release_slot(st, id, now);
    if (!rc && (st->stopping || cst_all_done(st)))
        rc = cst_begin_end(st, now);
    if (!rc)
        rc = cst_wake_held(st, now);
    if (!rc)
        rc = cst_after_death(st, now);
    return rc;
}

static int cst_on_spawn_failed(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    int rc = crmpi_cst_note(st, CRMPI_CST_NOTE_SPAWN_FAILED, ev->worker, CRMPI_CST_NONE, ev->u.err);
    if (rc)
        return rc;
    return cst_gone(st, ev->worker, 1 << 8, 0, ev->now_ms);
}

static int cst_on_pipe_closed(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    struct crmpi_cst_worker *w = &st->workers[ev->worker];
    if (!cst_alive(w))
        return 0;
    /* A host that goes away: its test runs elsewhere (an attempt, but in its worker fixture). */
    if (w->remote)
        return cst_gone(st, ev->worker, w->unit != CRMPI_CST_NONE ? SIGPIPE : 0, w->in_fixture,
                ev->now_ms);
    /* A local one closes when told to stop; mid-test, its process is hung or dying. */
    if (w->unit != CRMPI_CST_NONE && !st->stopping)
        return cst_kill(st, ev->worker, "its connection closed");
    return 0;
}

/* ---- time ----------------------------------------------------------------------- */

/* A listener no worker reaches must neither wait silently nor, when told, forever. */
static int cst_on_tick_waiting(struct crmpi_cst *st, int64_t now)
{
    int waited_s = (int) ((now - st->waiting_since_ms) / 1000);
    if (st->cfg.wait_workers_ms && now - st->waiting_since_ms >= st->cfg.wait_workers_ms) {
        int rc = crmpi_cst_note(st, CRMPI_CST_NOTE_NO_WORKERS, CRMPI_CST_NONE, CRMPI_CST_NONE,
                (int) (st->cfg.wait_workers_ms / 1000));
        st->startup_failed = 1;
        return rc ? rc : cst_fatal(st, "no worker reached the listener", now);
    }
    if (!st->cfg.wait_note_ms || now < st->next_wait_note_ms)
        return 0;
    while (st->next_wait_note_ms <= now)
        st->next_wait_note_ms += st->cfg.wait_note_ms;
    return crmpi_cst_note(st, CRMPI_CST_NOTE_WAITING, CRMPI_CST_NONE, CRMPI_CST_NONE, waited_s);
}

/* A unit running past a multiple of --mproc-slow is said once per multiple, so a CI log shows what hangs. */
static int cst_on_tick_slow(struct crmpi_cst *st, int64_t now)
{
    for (size_t i = 0; i < st->n_workers && st->cfg.slow_ms; ++i) {
        const struct crmpi_cst_worker *w = &st->workers[i];
        if (!cst_alive(w) || w->dropped || w->unit == CRMPI_CST_NONE)
            continue;
        struct crmpi_cst_unit *u = &st->units[w->unit];
        int64_t ran = now - u->started_ms;
        if (ran < st->cfg.slow_ms * (int64_t) (u->slow_said + 1))
            continue;
        /* Ticks that came late skip the multiples they missed: one line, with the time it ran. */
        u->slow_said = (unsigned) (ran / st->cfg.slow_ms);
        struct crmpi_cst_action *a;
        CST_PUSH(st, a, CRMPI_CST_ACT_SLOW, (uint32_t) i);
        a->unit = w->unit;
        a->value = (int) (ran / 1000);
    }
    return 0;
}

static int cst_on_tick(struct crmpi_cst *st, int64_t now)
{
    if (cst_waiting(st))
        return cst_on_tick_waiting(st, now);
    int rc = cst_on_tick_slow(st, now);
    for (size_t i = 0; i < st->n_workers && !rc; ++i) {
        struct crmpi_cst_worker *w = &st->workers[i];
        if (!cst_alive(w) || w->dropped)
            continue;
        char why[96];
        if (st->cfg.heartbeat_ms && w->hello_ok
                && now - w->last_beat_ms > st->cfg.heartbeat_ms) {
            snprintf(why, sizeof(why), "no heartbeat for %lld s: hung",
                    (long long) (st->cfg.heartbeat_ms / 1000));
            rc = cst_kill(st, (uint32_t) i, why);
        } else if (w->unit != CRMPI_CST_NONE && st->units[w->unit].info.timeout_ms > 0
                && now - st->units[w->unit].started_ms
                   > st->units[w->unit].info.timeout_ms + st->cfg.timeout_grace_ms) {
            /* By its name on the next line ("died ... while running"): an index says nothing. */
            snprintf(why, sizeof(why), "its test ran past its timeout and %lld s more",
                    (long long) (st->cfg.timeout_grace_ms / 1000));
            rc = cst_kill(st, (uint32_t) i, why);
        }
    }
    if (rc || st->phase != CRMPI_CST_ENDING || now < st->end_deadline_ms)
        return rc;
    /* Workers that did not leave in time: a remote one is forgotten, a local one killed. */
    for (size_t i = 0; i < st->n_workers && !rc; ++i) {
        struct crmpi_cst_worker *w = &st->workers[i];
        if (!cst_alive(w))
            continue;
        if (w->remote) {
            w->state = CRMPI_CST_W_GONE;
            if (w->held)
                rc = crmpi_cst_act(st, CRMPI_CST_ACT_DISCARD, (uint32_t) i, CRMPI_CST_NONE);
            w->held = 0;
        } else {
            w->dropped = 0;     /* kill again */
            rc = cst_kill(st, (uint32_t) i, "did not exit in time");
        }
    }
    st->end_deadline_ms = now + st->cfg.exit_grace_ms;
    return rc ? rc : cst_maybe_ended(st);
}

/* ---- the entry point ---------------------------------------------------------------- */

static int cst_known(const struct crmpi_cst *st, uint32_t w)
{
    return w < st->n_workers;
}

static int cst_step(struct crmpi_cst *st, const struct crmpi_cst_event *ev)
{
    int64_t now = ev->now_ms;
    struct crmpi_cst_worker *w = NULL;
    switch (ev->kind) {
    case CRMPI_CST_EV_START:
    case CRMPI_CST_EV_TICK:
    case CRMPI_CST_EV_SIGNAL:
    case CRMPI_CST_EV_INTERNAL_ERROR:
    case CRMPI_CST_EV_TOKEN:
    case CRMPI_CST_EV_SLOT:
        break;
    case CRMPI_CST_EV_HEARTBEAT:
    case CRMPI_CST_EV_FIXTURE:
        if (ev->worker == CRMPI_CST_NONE)
            break;
        /* fall through */
    default:
        if (!cst_known(st, ev->worker))
            return -EINVAL;
        w = &st->workers[ev->worker];
    }

    switch (ev->kind) {
    case CRMPI_CST_EV_START: {
        if (st->phase != CRMPI_CST_RUNNING_PHASE || st->n_workers)
            return -EINVAL;
        if (!st->cfg.workers) {
            if (st->cfg.remote) {
                st->waiting_since_ms = now;
                st->next_wait_note_ms = now + st->cfg.wait_note_ms;
                return 0;
            }
            st->startup_failed = 1;
            return cst_fatal(st, "no worker to start", now);
        }
        /* One worker first, the others once it said hello: a binary that cannot start says why once. */
        uint32_t id;
        int rc = cst_new_worker(st, 0, &id);
        return rc ? rc : crmpi_cst_act(st, CRMPI_CST_ACT_SPAWN, id, CRMPI_CST_NONE);
    }
    case CRMPI_CST_EV_SPAWNED:
        return 0;
    case CRMPI_CST_EV_SPAWN_FAILED:
        return cst_on_spawn_failed(st, ev);
    case CRMPI_CST_EV_HELLO:
        return cst_on_hello(st, ev);
    case CRMPI_CST_EV_AUTH_OK:
    case CRMPI_CST_EV_AUTH_FAILED:
        return cst_on_auth(st, ev);
    case CRMPI_CST_EV_UNITS:
        return cst_on_units(st, ev);
    case CRMPI_CST_EV_ADOPT_FAILED: {
        if (w->state != CRMPI_CST_W_ADOPTING)
            return -EINVAL;
        int rc = cst_reject(st, ev->worker,
                ev->u.err == -ENOMEM ? "out of memory" : "the test list cannot be adopted");
        return rc ? rc : cst_fatal(st, "internal error", now);
    }
    case CRMPI_CST_EV_RESULT:
        if (st->have_units && ev->u.result.unit >= st->n_units)
            return cst_drop(st, ev->worker, "sent a result for a test that does not exist");
        return cst_on_result(st, ev);
    case CRMPI_CST_EV_HEARTBEAT:
    case CRMPI_CST_EV_FIXTURE:
        /* Only a worker that said hello (and proved the token) counts. */
        if (w && cst_alive(w) && w->hello_ok) {
            w->last_beat_ms = now;
            if (ev->kind == CRMPI_CST_EV_FIXTURE)
                w->in_fixture = ev->in_fixture != 0;
        }
        return crmpi_cst_act(st, CRMPI_CST_ACT_HEARTBEAT, ev->worker, CRMPI_CST_NONE);
    case CRMPI_CST_EV_BAD_MESSAGE:
        if (!cst_alive(w))
            return crmpi_cst_act(st, CRMPI_CST_ACT_DISCARD, ev->worker, CRMPI_CST_NONE);
        return cst_drop(st, ev->worker, "sent a malformed or unexpected message");
    case CRMPI_CST_EV_EXITED:
        if (!cst_alive(w) || w->remote)
            return cst_maybe_ended(st);
        return cst_gone(st, ev->worker, ev->u.status, ev->in_fixture, now);
    case CRMPI_CST_EV_PIPE_CLOSED:
        return cst_on_pipe_closed(st, ev);
    case CRMPI_CST_EV_TICK:
        return cst_on_tick(st, now);
    case CRMPI_CST_EV_SIGNAL:
        if (!st->interrupted)
            st->interrupted = ev->u.sig;
        return cst_stop(st, "interrupted", now);
    case CRMPI_CST_EV_INTERNAL_ERROR:
        return cst_fatal(st, "internal error", now);
    case CRMPI_CST_EV_TOKEN:
        crmpi_slots_token_came(st);
        return cst_pass_on_slots(st, now);
    case CRMPI_CST_EV_SLOT:
        /* Held requests: the first takes the free slot, the others now ask for tokens. */
        st->slot_pending = 0;
        int rc = cst_wake_held(st, now);
        return rc ? rc : cst_ask_for_workers(st);
    }
    return -EINVAL;
}

int crmpi_cst_event(struct crmpi_cst *st, const struct crmpi_cst_event *ev,
        const struct crmpi_cst_action **acts, size_t *n)
{
    st->n_acts = 0;
    int rc = cst_step(st, ev);
    *acts = st->acts;
    *n = st->n_acts;
    return rc;
}
