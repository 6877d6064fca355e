/*
 * Unit tests for plugin/coord_state.c, the coordinator's policy.
 *
 * Like nng's req_test.c drives its protocol, each row drives the state
 * machine through a set-up script of events, then feeds one event and
 * compares the actions it returns (in order) and the state it leaves.
 * Rows are text so that a fault reads as a sentence:
 *
 *   config   "workers=2 units=3 jobs=0|1|2"   (see t_config)
 *   set-up   "start; spawned 0; hello 0; units"
 *   event    "exit 0 sig 15"
 *   actions  "note:retry w0 u0, spawn w2, note:replacement w2"
 *   state    "u0=q/1 restarts=1"             (tokens that must all be in the dump)
 *
 * Events: start | spawned W | spawn-failed W | hello W [auth|noauth|badlist|badexe]
 * [fp=N] [n=K] | auth-ok W | auth-failed W | units | adopt-failed W | result W U
 * [fail] | beat W|- | fixture W|- in|out | bad W | exit W (sig N|status N) [fixture] |
 * closed W | tick T |
 * signal N | error | remote | at T (sets the clock, no event).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "coord_state.h"

/* ---- the harness --------------------------------------------------------------- */

struct t_world {
    struct crmpi_cst st;
    int64_t now;
    size_t n_units;
    size_t job_units[64];
    struct crmpi_cst_job jobs[64];
    size_t n_jobs;
    struct crmpi_cst_unit_info info[64];
    char out[2048];         /* the last event's actions, formatted */
    char why[160];          /* the last event's last reason (STOP, REJECT, KILL, a note) */
    int rc;                 /* the last event's return */
};

/* "workers=2 restarts=8 attempts=2 hb=ms ff=1 remote=1 grace=ms tgrace=ms waitnote=ms wait=ms slow=ms units=N
 *  jobs=0,1|2 nocount=1,2 trivial=1,2 resolved=1,2 timeout=U:ms js=1 later=1" */
static void t_config(struct t_world *t, const char *spec)
{
    struct crmpi_cst_config cfg = {
        .workers = 2, .max_restarts = 8, .max_attempts = 2,
        .exit_grace_ms = 5000, .timeout_grace_ms = 1000,
    };
    t->n_units = 3;
    const char *jobs = "0|1|2";
    const char *nocount = "", *trivial = "", *resolved = "";
    unsigned retries = 0;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        cr_assert(eq, "bad config token %s", tok);
        *eq = '\0';
        const char *v = eq + 1;
        long n = atol(v);
        if (!strcmp(tok, "workers")) cfg.workers = (unsigned) n;
        else if (!strcmp(tok, "restarts")) cfg.max_restarts = (unsigned) n;
        else if (!strcmp(tok, "attempts")) cfg.max_attempts = (unsigned) n;
        else if (!strcmp(tok, "hb")) cfg.heartbeat_ms = n;
        else if (!strcmp(tok, "ff")) cfg.fail_fast = (int) n;
        else if (!strcmp(tok, "remote")) cfg.remote = (int) n;
        else if (!strcmp(tok, "grace")) cfg.exit_grace_ms = n;
        else if (!strcmp(tok, "tgrace")) cfg.timeout_grace_ms = n;
        else if (!strcmp(tok, "waitnote")) cfg.wait_note_ms = n;
        else if (!strcmp(tok, "wait")) cfg.wait_workers_ms = n;
        else if (!strcmp(tok, "slow")) cfg.slow_ms = n;
        else if (!strcmp(tok, "js")) cfg.jobserver = (int) n;
        else if (!strcmp(tok, "later")) cfg.slot_later = (int) n;
        else if (!strcmp(tok, "units")) t->n_units = (size_t) n;
        else if (!strcmp(tok, "retries")) retries = (unsigned) n;
        else if (!strcmp(tok, "jobs")) jobs = spec + (v - buf);
        else if (!strcmp(tok, "nocount")) nocount = spec + (v - buf);
        else if (!strcmp(tok, "trivial")) trivial = spec + (v - buf);
        else if (!strcmp(tok, "resolved")) resolved = spec + (v - buf);
        else if (!strcmp(tok, "timeout")) {
            unsigned u = (unsigned) n;
            const char *ms = strchr(v, ':');
            cr_assert(ms && u < 64);
            t->info[u].timeout_ms = atol(ms + 1);
        } else
            cr_assert_fail("unknown config %s", tok);
    }
    for (size_t i = 0; i < t->n_units; ++i) {
        t->info[i].counted = 1;
        t->info[i].retries = retries;
    }
    for (const char *p = nocount; *p && *p != ' '; ++p)
        if (*p >= '0' && *p <= '9')
            t->info[strtoul(p, (char **) &p, 10)].counted = 0, --p;
    for (const char *p = trivial; *p && *p != ' '; ++p)
        if (*p >= '0' && *p <= '9')
            t->info[strtoul(p, (char **) &p, 10)].trivial = 1, --p;
    for (const char *p = resolved; *p && *p != ' '; ++p)
        if (*p >= '0' && *p <= '9')
            t->info[strtoul(p, (char **) &p, 10)].resolved = 1, --p;
    /* jobs: units separated by ',', jobs by '|'; "none" for no job at all. */
    size_t k = 0;
    t->n_jobs = 0;
    if (strncmp(jobs, "none", 4)) {
        t->jobs[0] = (struct crmpi_cst_job) { &t->job_units[0], 0 };
        t->n_jobs = 1;
        for (const char *p = jobs; *p && *p != ' '; ++p) {
            if (*p == '|') {
                t->jobs[t->n_jobs++] = (struct crmpi_cst_job) { &t->job_units[k], 0 };
            } else if (*p >= '0' && *p <= '9') {
                t->job_units[k++] = strtoul(p, (char **) &p, 10);
                ++t->jobs[t->n_jobs - 1].n;
                --p;
            }
        }
    }
    cr_assert_eq(crmpi_cst_init(&t->st, &cfg), 0);
}

static void t_format(struct t_world *t, const struct crmpi_cst_action *a, size_t n)
{
    static const char *const notes[] = {
        [CRMPI_CST_NOTE_WORKERS] = "workers", [CRMPI_CST_NOTE_RETRY] = "retry",
        [CRMPI_CST_NOTE_CRASHED] = "crashed", [CRMPI_CST_NOTE_DIED_IDLE] = "died-idle",
        [CRMPI_CST_NOTE_REPLACEMENT] = "replacement", [CRMPI_CST_NOTE_SPAWN_FAILED] = "spawn-failed",
        [CRMPI_CST_NOTE_STARTUP_FAILED] = "startup-failed", [CRMPI_CST_NOTE_ALL_DIED] = "all-died",
        [CRMPI_CST_NOTE_REMOTE_LOST] = "remote-lost", [CRMPI_CST_NOTE_STOPPED] = "stopped",
        [CRMPI_CST_NOTE_REMOTE_FIXTURE] = "remote-fixture",
        [CRMPI_CST_NOTE_WAITING] = "waiting", [CRMPI_CST_NOTE_NO_WORKERS] = "no-workers",
    };
    char *o = t->out;
    size_t left = sizeof(t->out);
    *o = '\0';
    for (size_t i = 0; i < n; ++i) {
        char w[16] = "", u[16] = "", extra[48] = "";
        /* PRINT and CRASH name the unit; which worker sent it does not matter here. */
        if (a[i].worker != CRMPI_CST_NONE && a[i].kind != CRMPI_CST_ACT_PRINT
                && a[i].kind != CRMPI_CST_ACT_CRASH)
            snprintf(w, sizeof(w), " w%u", a[i].worker);
        else if (a[i].kind == CRMPI_CST_ACT_HEARTBEAT)
            snprintf(w, sizeof(w), " -");
        if (a[i].unit != CRMPI_CST_NONE)
            snprintf(u, sizeof(u), " u%u", a[i].unit);
        if (a[i].kind == CRMPI_CST_ACT_CRASH)
            snprintf(extra, sizeof(extra), " sig%d", a[i].value);
        /* Tries (--mproc-retries): "try2" past the first, "again" for a failed try, "last". */
        if (a[i].kind == CRMPI_CST_ACT_PRINT || a[i].kind == CRMPI_CST_ACT_CRASH) {
            size_t e = strlen(extra);
            if (a[i].try_no > 1)
                e += (size_t) snprintf(extra + e, sizeof(extra) - e, " try%u", a[i].try_no);
            snprintf(extra + e, sizeof(extra) - e, "%s%s", a[i].again ? " again" : "",
                    a[i].last_try ? " last" : "");
        }
        if (a[i].kind == CRMPI_CST_ACT_SLOW)
            snprintf(extra, sizeof(extra), " %ds", a[i].value);
        int len;
        if (a[i].kind == CRMPI_CST_ACT_NOTE) {
            switch (a[i].note) {
            case CRMPI_CST_NOTE_WORKERS:
            case CRMPI_CST_NOTE_STARTUP_FAILED:
            case CRMPI_CST_NOTE_ALL_DIED:
            case CRMPI_CST_NOTE_WAITING:
            case CRMPI_CST_NOTE_NO_WORKERS:
                snprintf(extra, sizeof(extra), " %d", a[i].value);
                break;
            case CRMPI_CST_NOTE_STOPPED:
                snprintf(extra, sizeof(extra), " %d/%zu", a[i].value, a[i].total);
                break;
            default:
                break;
            }
            len = snprintf(o, left, "%snote:%s%s%s%s", i ? ", " : "", notes[a[i].note], w, u,
                    extra);
        } else {
            len = snprintf(o, left, "%s%s%s%s%s", i ? ", " : "", crmpi_cst_act_name(a[i].kind),
                    w, u, extra);
        }
        cr_assert(len > 0 && (size_t) len < left);
        o += len;
        left -= (size_t) len;
    }
}

static void t_feed(struct t_world *t, struct crmpi_cst_event ev)
{
    const struct crmpi_cst_action *a;
    size_t n;
    ev.now_ms = t->now;
    t->rc = crmpi_cst_event(&t->st, &ev, &a, &n);
    t_format(t, a, n);
    *t->why = '\0';
    for (size_t i = 0; i < n; ++i)
        if (*a[i].why)
            snprintf(t->why, sizeof(t->why), "%s", a[i].why);
}

/* One event in the text form above. */
static void t_event(struct t_world *t, const char *text)
{
    char buf[128], verb[32] = "", a1[32] = "", a2[32] = "", a3[32] = "", a4[32] = "";
    snprintf(buf, sizeof(buf), "%s", text);
    sscanf(buf, "%31s %31s %31s %31s %31s", verb, a1, a2, a3, a4);
    uint32_t w = (uint32_t) strtoul(a1, NULL, 10);
    struct crmpi_cst_event ev = { .worker = w };
    static uint8_t fps[16][32];
    for (size_t i = 0; i < 16; ++i)
        fps[i][0] = (uint8_t) i;
    if (!strcmp(verb, "at")) {
        t->now = atol(a1);
        t->out[0] = '\0';
        t->rc = 0;
        return;
    } else if (!strcmp(verb, "remote")) {
        uint32_t id;
        t->rc = crmpi_cst_add_remote(&t->st, &id);
        snprintf(t->out, sizeof(t->out), "w%u", id);
        return;
    } else if (!strcmp(verb, "start")) {
        ev.kind = CRMPI_CST_EV_START;
    } else if (!strcmp(verb, "spawned")) {
        ev.kind = CRMPI_CST_EV_SPAWNED;
    } else if (!strcmp(verb, "spawn-failed")) {
        ev.kind = CRMPI_CST_EV_SPAWN_FAILED;
        ev.u.err = -EAGAIN;
    } else if (!strcmp(verb, "hello")) {
        ev.kind = CRMPI_CST_EV_HELLO;
        ev.u.hello.list_ok = 1;
        ev.u.hello.exe_ok = 1;
        ev.u.hello.n_units = t->n_units;
        ev.u.hello.fingerprint = fps[0];
        for (const char *opt = a2; *opt; opt = opt == a2 ? a3 : "") {
            if (!strcmp(opt, "auth"))
                ev.u.hello.auth = CRMPI_CST_AUTH_CHALLENGE;
            else if (!strcmp(opt, "noauth"))
                ev.u.hello.auth = CRMPI_CST_AUTH_MISSING;
            else if (!strcmp(opt, "badlist"))
                ev.u.hello.list_ok = 0;
            else if (!strcmp(opt, "badexe"))
                ev.u.hello.exe_ok = 0;
            else if (!strncmp(opt, "fp=", 3))
                ev.u.hello.fingerprint = fps[atoi(opt + 3) % 16];
            else if (!strncmp(opt, "n=", 2))
                ev.u.hello.n_units = (size_t) atol(opt + 2);
        }
    } else if (!strcmp(verb, "auth-ok")) {
        ev.kind = CRMPI_CST_EV_AUTH_OK;
    } else if (!strcmp(verb, "auth-failed")) {
        ev.kind = CRMPI_CST_EV_AUTH_FAILED;
    } else if (!strcmp(verb, "units")) {
        ev.kind = CRMPI_CST_EV_UNITS;
        ev.worker = 0;
        if (*a1)
            ev.worker = w;
        ev.u.units.n_units = t->n_units;
        ev.u.units.jobs = t->jobs;
        ev.u.units.n_jobs = t->n_jobs;
        ev.u.units.info = t->info;
    } else if (!strcmp(verb, "adopt-failed")) {
        ev.kind = CRMPI_CST_EV_ADOPT_FAILED;
        ev.u.err = -ENOMEM;
    } else if (!strcmp(verb, "result")) {
        ev.kind = CRMPI_CST_EV_RESULT;
        ev.u.result.unit = (uint32_t) atol(a2);
        ev.u.result.failed = !strcmp(a3, "fail");
    } else if (!strcmp(verb, "beat")) {
        ev.kind = CRMPI_CST_EV_HEARTBEAT;
        if (!strcmp(a1, "-"))
            ev.worker = CRMPI_CST_NONE;
    } else if (!strcmp(verb, "fixture")) {
        ev.kind = CRMPI_CST_EV_FIXTURE;
        if (!strcmp(a1, "-"))
            ev.worker = CRMPI_CST_NONE;
        ev.in_fixture = !strcmp(a2, "in");
    } else if (!strcmp(verb, "bad")) {
        ev.kind = CRMPI_CST_EV_BAD_MESSAGE;
    } else if (!strcmp(verb, "exit")) {
        ev.kind = CRMPI_CST_EV_EXITED;
        int v = atoi(a3);
        ev.u.status = !strcmp(a2, "sig") ? v : (v & 0xff) << 8;
        ev.in_fixture = !strcmp(a4, "fixture");
    } else if (!strcmp(verb, "closed")) {
        ev.kind = CRMPI_CST_EV_PIPE_CLOSED;
    } else if (!strcmp(verb, "tick")) {
        t->now = atol(a1);
        ev.kind = CRMPI_CST_EV_TICK;
    } else if (!strcmp(verb, "signal")) {
        ev.kind = CRMPI_CST_EV_SIGNAL;
        ev.u.sig = atoi(a1);
    } else if (!strcmp(verb, "slot")) {
        ev.kind = CRMPI_CST_EV_SLOT;
    } else if (!strcmp(verb, "token")) {
        ev.kind = CRMPI_CST_EV_TOKEN;
    } else if (!strcmp(verb, "error")) {
        ev.kind = CRMPI_CST_EV_INTERNAL_ERROR;
        ev.u.err = -ENOMEM;
    } else {
        cr_assert_fail("unknown event \"%s\"", text);
    }
    t_feed(t, ev);
}

/* Runs "e1; e2; ..." each of which must succeed. */
static void t_script(struct t_world *t, const char *script)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", script);
    for (char *save, *e = strtok_r(buf, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
        while (*e == ' ')
            ++e;
        if (!*e)
            continue;
        t_event(t, e);
        cr_assert_eq(t->rc, 0, "set-up event \"%s\" failed: %d", e, t->rc);
    }
}

/* The state as space-separated tokens, with a leading and trailing space. */
static void t_dump(const struct t_world *t, char *out, size_t size)
{
    static const char *const ws[] = { "starting", "auth", "adopting", "ready", "gone" };
    static const char *const ph[] = { "running", "ending", "ended" };
    const struct crmpi_cst *st = &t->st;
    size_t o = (size_t) snprintf(out, size, " phase=%s restarts=%u done=%zu", ph[st->phase],
            st->restarts, st->done);
    for (size_t i = 0; i < st->n_units && o < size; ++i) {
        const struct crmpi_cst_unit *u = &st->units[i];
        if (u->state == CRMPI_CST_RUNNING)
            o += (size_t) snprintf(out + o, size - o, " u%zu=run@w%u", i, u->worker);
        else if (u->state == CRMPI_CST_QUEUED && u->attempts)
            o += (size_t) snprintf(out + o, size - o, " u%zu=q/%u", i, u->attempts);
        else
            o += (size_t) snprintf(out + o, size - o, " u%zu=%s", i,
                    u->state == CRMPI_CST_QUEUED ? "q" : u->state == CRMPI_CST_DONE ? "done"
                    : "excl");
        if (u->tries)
            o += (size_t) snprintf(out + o, size - o, " u%zu:tries=%u", i, u->tries);
    }
    for (size_t i = 0; i < st->n_workers && o < size; ++i) {
        const struct crmpi_cst_worker *w = &st->workers[i];
        o += (size_t) snprintf(out + o, size - o, " w%zu=%s", i, ws[w->state]);
        if (w->held)
            o += (size_t) snprintf(out + o, size - o, " w%zu:held", i);
        if (w->dropped)
            o += (size_t) snprintf(out + o, size - o, " w%zu:dropped", i);
        if (w->token)
            o += (size_t) snprintf(out + o, size - o, " w%zu:token", i);
        if (st->free_slot == i)
            o += (size_t) snprintf(out + o, size - o, " free=w%zu", i);
    }
    if (o < size)
        o += (size_t) snprintf(out + o, size - o, " tokens=%u wanted=%u%s", st->tokens,
                st->tokens_wanted, st->slot_gone ? " slot-gone" : "");
    struct crmpi_cst_outcome oc;
    crmpi_cst_outcome(st, &oc);
    if (o < size)
        o += (size_t) snprintf(out + o, size - o, " exit=%d notrun=%zu total=%zu%s%s%s%s ",
                oc.exit_status, oc.not_run, oc.total, oc.fatal ? " fatal" : "",
                oc.startup_failed ? " startup-failed" : "", oc.fail_fast ? " fail-fast" : "",
                oc.interrupted ? " interrupted" : "");
    cr_assert(o < size);
}

static void t_expect_state(const struct t_world *t, const char *tokens, const char *row)
{
    char dump[4096], buf[512], needle[64];
    t_dump(t, dump, sizeof(dump));
    snprintf(buf, sizeof(buf), "%s", tokens);
    for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        snprintf(needle, sizeof(needle), " %s ", tok);
        cr_expect(strstr(dump, needle), "%s: state lacks \"%s\":\n%s", row, tok, dump);
    }
}

/* ---- the table ----------------------------------------------------------------- */

struct t_row {
    const char *name;
    const char *config;
    const char *setup;
    const char *event;
    const char *actions;
    const char *state;
    int rc;                 /* what the event returns */
};

/* Two workers said hello: w0 runs u0, w1 runs u1, u2 waits. */
#define FLOW "start; spawned 0; hello 0; units; spawned 1; hello 1"
/* ... and all three finished: w0 and w1 were told to stop. */
#define FLOW_DONE FLOW "; result 0 0; result 1 1; result 0 2"

static const struct t_row t_rows[] = {
    /* Retries (--mproc-retries, .retries): a failed try runs again, the final try decides. */
    { "retry: a failed try is queued again, whoever asks first runs it", "retries=1", FLOW,
      "result 0 0 fail", "assign w0 u0, print u0 again", "u0=run@w0 u0:tries=1 done=0", 0 },
    { "retry: a passing second try is the result (flaky)", "retries=1", FLOW "; result 0 0 fail",
      "result 0 0", "assign w0 u2, print u0 try2", "u0=done u0:tries=1 done=1", 0 },
    { "retry: a failing last try is the result, no third", "retries=1", FLOW "; result 0 0 fail",
      "result 0 0 fail", "assign w0 u2, print u0 try2", "u0=done done=1", 0 },
    { "retry: two retries give three tries", "retries=2",
      FLOW "; result 0 0 fail; result 0 0 fail", "result 0 0 fail",
      "assign w0 u2, print u0 try3", "u0=done u0:tries=2", 0 },
    { "retry: none asked, a failure is the result", "", FLOW, "result 0 0 fail",
      "assign w0 u2, print u0", "u0=done done=1", 0 },
    { "retry: a pass is never retried", "retries=3", FLOW, "result 0 0",
      "assign w0 u2, print u0", "u0=done done=1", 0 },
    { "retry: the rest of a group's job stays with its worker", "retries=1 units=3 jobs=0,1|2",
      "start; spawned 0; hello 0; units; spawned 1; hello 1", "result 0 0 fail",
      "assign w0 u1, print u0 again", "u0=q u0:tries=1 u1=run@w0 u2=run@w1", 0 },
    { "retry: a held worker takes the failed try, before it is printed (10)",
      "retries=1 units=3 jobs=0,1|2",
      "start; spawned 0; hello 0; units; spawned 1; hello 1; result 1 2", "result 0 0 fail",
      "assign w0 u1, assign w1 u0, print u0 again", "u0=run@w1 u1=run@w0 w1=ready", 0 },
    /* A local worker that died in its worker fixture (exec isolation runs it there). */
    { "fixture: a worker dead in its worker fixture costs its test no attempt, the run no restart",
      "attempts=1 restarts=0", FLOW, "exit 0 sig 11 fixture", "spawn w2, note:replacement w2",
      "u0=q u1=run@w1 restarts=1 w0=gone", 0 },
    { "fixture: its test runs on the replacement (which reports the failure)",
      "attempts=1 restarts=0", FLOW "; exit 0 sig 11 fixture; spawned 2", "hello 2",
      "assign w2 u0", "u0=run@w2", 0 },
    { "fixture: a worker dead in its fixture before its first test is no idle death",
      "restarts=0", "start; spawned 0; hello 0; units; spawned 1", "exit 1 sig 11 fixture",
      "spawn w2, note:replacement w2", "w1=gone", 0 },
    { "fixture: a clean exit is not put down to a fixture", "", FLOW_DONE,
      "exit 1 status 0 fixture", "", "w1=gone", 0 },
    { "retry: a try that crashes its worker runs again, as a try", "retries=1 attempts=1", FLOW,
      "exit 0 sig 9", "note:retry w0 u0, crash u0 sig9 again, spawn w2, note:replacement w2",
      "u0=q u0:tries=1 w0=gone", 0 },
    { "retry: a crash on the last try is the result", "retries=1 attempts=1",
      FLOW "; exit 0 sig 9; spawned 2; hello 2", "exit 2 sig 9",
      "note:crashed w2 u0, crash u0 sig9 try2, spawn w3, note:replacement w3", "u0=done", 0 },
    { "retry: a failed try does not trip --fail-fast", "retries=1 ff=1", FLOW, "result 0 0 fail",
      "assign w0 u0, print u0 again", "phase=running u0=run@w0", 0 },
    { "retry: the failing last try trips --fail-fast", "retries=1 ff=1", FLOW "; result 0 0 fail",
      "result 0 0 fail", "stop w0, print u0 try2, kill w1, note:stopped 2/3",
      "u0=done fail-fast", 0 },
    { "retry: stopped before the next try, the last failed one is the result",
      "retries=1 units=3 jobs=0,1|2", "start; spawned 0; hello 0; units; spawned 1; hello 1; "
      "result 0 0 fail", "signal 2", "kill w0, kill w1, print u0 last, note:stopped 2/3",
      "u0=done done=1 interrupted", 0 },
    { "retry: killed during its next try, the last failed one is the result", "retries=1",
      FLOW "; result 0 0 fail; signal 2", "exit 0 sig 9", "print u0 last", "u0=done", 0 },
    /* The ordinary flow. */
    { "start spawns one worker first", "", "", "start", "spawn w0", "w0=starting phase=running", 0 },
    { "spawned says nothing", "", "start", "spawned 0", "", "w0=starting", 0 },
    { "first hello adopts its list", "", "start; spawned 0", "hello 0", "adopt w0", "w0=adopting", 0 },
    { "units: work for the first, then the others", "", "start; spawned 0; hello 0", "units",
      "assign w0 u0, spawn w1, note:workers 2", "u0=run@w0 u1=q w0=ready w1=starting", 0 },
    { "second hello gets the next unit", "", "start; spawned 0; hello 0; units; spawned 1",
      "hello 1", "assign w1 u1", "u1=run@w1 w1=ready", 0 },
    { "result: next unit replied before the finished one is printed (10)", "", FLOW,
      "result 0 0", "assign w0 u2, print u0", "u0=done u2=run@w0 done=1", 0 },
    { "no work yet: the request is held", "", FLOW "; result 0 0", "result 1 1",
      "hold w1, print u1", "w1:held u2=run@w0", 0 },
    { "last result: stop for it and for the held", "", FLOW "; result 0 0; result 1 1",
      "result 0 2", "stop w0, print u2, stop w1", "phase=ending done=3 notrun=0", 0 },
    { "last worker out ends the run", "", FLOW_DONE "; exit 0 status 0", "exit 1 status 0",
      "end", "phase=ended exit=-1 notrun=0 total=3", 0 },
    { "heartbeat from an unknown peer is answered", "", FLOW, "beat -", "heartbeat -", "", 0 },
    { "heartbeat from a worker is answered", "", FLOW, "beat 1", "heartbeat w1", "", 0 },
    { "a group goes, in order, to the worker that took it", "jobs=0,1|2", FLOW, "result 0 0",
      "assign w0 u1, print u0", "u1=run@w0 u2=run@w1", 0 },
    { "a group is not split when another asks", "jobs=0,1,2",
      "start; spawned 0; hello 0; units; spawned 1", "hello 1", "hold w1",
      "u0=run@w0 w1:held", 0 },
    { "nothing to run: stop at once", "units=2 jobs=none", "start; spawned 0; hello 0", "units",
      "stop w0, note:workers 1", "phase=ending u0=excl u1=excl", 0 },
    { "another shard's units are never run", "units=3 jobs=2", "start; spawned 0; hello 0",
      "units", "assign w0 u2, note:workers 1", "u0=excl u1=excl total=1", 0 },
    { "skipped units (disabled, filtered) are done at once, reported after the dispatch",
      "units=3 jobs=2 resolved=0,1 nocount=0,1", "start; spawned 0; hello 0", "units",
      "assign w0 u2, note:workers 1, print-resolved", "u0=done u1=done u2=run@w0 done=2 total=1",
      0 },
    { "only skipped units: reported, and the run ends", "units=2 jobs=none resolved=0,1",
      "start; spawned 0; hello 0", "units", "stop w0, note:workers 1, print-resolved",
      "phase=ending u0=done u1=done notrun=0", 0 },
    { "a skipped unit of another shard stays out", "units=3 jobs=2 resolved=1",
      "start; spawned 0; hello 0", "units", "assign w0 u2, note:workers 1, print-resolved",
      "u0=excl u1=done", 0 },

    /* 1: the first worker cannot be spawned. */
    { "1: spawn fails: end at once, non-zero", "", "start", "spawn-failed 0",
      "note:spawn-failed w0, note:startup-failed 1, end",
      "phase=ended startup-failed exit=1", 0 },
    { "1: exits before its hello (EAGAIN): end with its status", "", "start; spawned 0",
      "exit 0 status 3", "note:startup-failed 3, end", "phase=ended startup-failed exit=3", 0 },
    { "1: killed before its hello", "", "start; spawned 0", "exit 0 sig 9",
      "note:startup-failed 137, end", "exit=137", 0 },
    { "1: with remote workers allowed, wait for them", "remote=1", "start", "spawn-failed 0",
      "note:spawn-failed w0", "phase=running", 0 },
    { "1: a later worker cannot be spawned: replaced", "",
      "start; spawned 0; hello 0; units", "spawn-failed 1",
      "note:spawn-failed w1, spawn w2, note:replacement w2", "restarts=1 w1=gone", 0 },
    { "1: every spawn fails and the budget runs out", "restarts=1 workers=2",
      "start; spawned 0; hello 0; units; spawn-failed 1; spawn-failed 2", "exit 0 sig 9",
      "note:retry w0 u0, note:all-died 3, note:stopped 3/3, end", "phase=ended fatal exit=1", 0 },

    /* 3: internal failures end non-zero, with what did not run counted. */
    { "3: internal error stops, kills the busy, counts", "", FLOW, "error",
      "kill w0, kill w1, note:stopped 3/3", "phase=ending fatal exit=1 notrun=3", 0 },
    { "3: ... and ends when they are gone", "", FLOW "; error; exit 0 sig 9", "exit 1 sig 9",
      "end", "phase=ended exit=1 notrun=3 u0=q u1=q", 0 },
    { "3: every worker died, no budget: end, counted", "workers=1 restarts=0",
      "start; spawned 0; hello 0; units", "exit 0 sig 15",
      "note:retry w0 u0, note:all-died 3, note:stopped 3/3, end",
      "phase=ended fatal exit=1 notrun=3", 0 },
    { "3: adoption fails: refused, run over", "", "start; spawned 0; hello 0", "adopt-failed 0",
      "reject w0, kill w0", "fatal exit=1 phase=ending", 0 },
    { "3: an event naming no worker is an error", "", "start", "exit 7 status 0", "", "", -EINVAL },

    /* 4: a worker killed by SIGTERM mid-test. */
    { "4: SIGTERM mid-test: requeued, replaced", "", FLOW, "exit 0 sig 15",
      "note:retry w0 u0, spawn w2, note:replacement w2", "u0=q/1 restarts=1 w0=gone", 0 },
    { "4: the replacement runs it first", "", FLOW "; exit 0 sig 15; spawned 2", "hello 2",
      "assign w2 u0", "u0=run@w2", 0 },
    { "4: second time: crashed, reported, replaced", "",
      FLOW "; exit 0 sig 15; spawned 2; hello 2", "exit 2 sig 15",
      "note:crashed w2 u0, crash u0 sig15, spawn w3, note:replacement w3",
      "u0=done restarts=2", 0 },
    { "4: a held worker takes the requeued unit", "", FLOW "; result 0 0; result 1 1",
      "exit 0 sig 9", "note:retry w0 u2, assign w1 u2", "u2=run@w1 restarts=0", 0 },
    { "4: the rest of a group goes back with it", "jobs=0,1|2", FLOW "; exit 0 sig 15; spawned 2",
      "hello 2", "assign w2 u0", "u1=q", 0 },
    { "4: an idle worker dying is said, nothing requeued", "", FLOW "; result 0 0; result 1 1",
      "exit 1 sig 15", "discard w1, note:died-idle w1", "u2=run@w0", 0 },
    { "4: restart budget used up: no replacement", "restarts=0", FLOW, "exit 0 sig 15",
      "note:retry w0 u0", "u0=q/1 restarts=0", 0 },

    /* 6: hung workers and units past their timeout. */
    { "6: silence past the heartbeat: killed", "hb=20000", "at 0; " FLOW "; at 15000; beat 1",
      "tick 20001", "kill w0", "w0:dropped", 0 },
    { "6: ... its unit is run again when it is gone", "hb=20000",
      "at 0; " FLOW "; at 15000; beat 1; tick 20001", "exit 0 sig 9",
      "note:retry w0 u0, spawn w2, note:replacement w2", "u0=q/1", 0 },
    { "6: a unit past its timeout and grace: killed", "timeout=0:1000 tgrace=500",
      "at 0; " FLOW, "tick 1501", "kill w0", "w0:dropped", 0 },
    { "6: within the grace: left alone", "timeout=0:1000 tgrace=500", "at 0; " FLOW,
      "tick 1500", "", "u0=run@w0", 0 },
    { "6: finished workers that do not leave are killed", "grace=5000",
      "at 0; " FLOW_DONE "; exit 0 status 0", "tick 5000", "kill w1", "phase=ending", 0 },

    /* 13: --mproc-slow says what runs long, once per multiple, on the clock of its unit. */
#define SLOWFLOW "at 0; start; spawned 0; hello 0; units; at 30000; spawned 1; hello 1"
    { "13: a unit running past --mproc-slow is said", "slow=60000", SLOWFLOW, "tick 60000",
      "slow w0 u0 60s", "u0=run@w0 u1=run@w1", 0 },
    { "13: ... not again before the next multiple", "slow=60000", SLOWFLOW "; tick 60000",
      "tick 89999", "", "", 0 },
    { "13: ... each unit on its own clock", "slow=60000", SLOWFLOW "; tick 60000",
      "tick 90000", "slow w1 u1 60s", "", 0 },
    { "13: ... again at each multiple", "slow=60000", SLOWFLOW "; tick 60000; tick 90000",
      "tick 120000", "slow w0 u0 120s", "", 0 },
    { "13: a late tick says it once, with the time it ran", "slow=60000", SLOWFLOW,
      "tick 185000", "slow w0 u0 185s, slow w1 u1 155s", "", 0 },
    { "13: ... and the multiples it skipped are not said again", "slow=60000",
      SLOWFLOW "; tick 185000", "tick 210000", "slow w1 u1 180s", "", 0 },
    { "13: 0 is off", "slow=0", SLOWFLOW, "tick 600000", "", "u0=run@w0", 0 },
    { "13: a finished unit is not said", "slow=60000", SLOWFLOW "; at 59999; result 0 0",
      "tick 60000", "", "u2=run@w0", 0 },
    { "13: a unit run again counts from its new start", "slow=60000 workers=1",
      "at 0; start; spawned 0; hello 0; units; tick 60000; at 70000; exit 0 sig 9; spawned 1;"
      " hello 1; tick 120000", "tick 130000", "slow w1 u0 60s", "u0=run@w1", 0 },
    { "13: the killed worker's unit is not said slow", "slow=60000 hb=20000",
      "at 0; " FLOW "; at 15000; beat 1; tick 20001", "tick 60000",
      "slow w1 u1 60s, kill w1", "w0:dropped", 0 },

    /* 9: worker counts. */
    { "9: never more workers than units", "workers=512 units=4 jobs=0|1|2|3",
      "start; spawned 0; hello 0", "units",
      "assign w0 u0, spawn w1, spawn w2, spawn w3, note:workers 4", "", 0 },
    { "9: filtered-out and disabled units start no worker of their own",
      "workers=512 units=4 jobs=0|1|2|3 trivial=1,2,3", "start; spawned 0; hello 0", "units",
      "assign w0 u0, note:workers 1", "", 0 },
    { "9: ... but the units that really run each get one",
      "workers=512 units=5 jobs=0|1|2|3|4 trivial=0,3", "start; spawned 0; hello 0", "units",
      "assign w0 u0, spawn w1, spawn w2, note:workers 3", "", 0 },
    { "9: filtered units are not counted as not run", "nocount=2", FLOW, "signal 2",
      "kill w0, kill w1, note:stopped 2/2", "notrun=2 total=2", 0 },

    /*
     * 4: a make jobserver: one unit runs on the free slot, each other on a
     * token; a worker past the first starts only on a token in hand.
     */
#define JFLOW "start; spawned 0; hello 0; units; token; spawned 1; hello 1"
#define LFLOW "start; spawned 0; hello 0; units; slot; token; spawned 1; hello 1"
    { "4: the first worker runs on the free slot, a token is asked for the second", "js=1",
      "start; spawned 0; hello 0", "units", "assign w0 u0, take, note:workers 2",
      "free=w0 tokens=0 wanted=1", 0 },
    { "4: the second worker starts only when the token comes, on it", "js=1",
      "start; spawned 0; hello 0; units", "token", "spawn w1",
      "w1=starting w1:token tokens=1 wanted=0", 0 },
    { "4: ... and runs its first unit on it", "js=1",
      "start; spawned 0; hello 0; units; token; spawned 1", "hello 1", "assign w1 u1",
      "u1=run@w1 w1:token tokens=1 wanted=0", 0 },
    { "4: one token asked for each worker wanted, no more", "js=1 workers=3",
      "start; spawned 0; hello 0", "units", "assign w0 u0, take, take, note:workers 3",
      "wanted=2", 0 },
    { "4: ... none past the units queued", "js=1 workers=3 units=2 jobs=0|1",
      "start; spawned 0; hello 0", "units", "assign w0 u0, take, note:workers 2", "wanted=1", 0 },
    { "4: a token that comes when no worker is wanted goes back", "js=1",
      "start; spawned 0; hello 0; units; result 0 0; result 0 1", "token", "give",
      "u2=run@w0 tokens=0 wanted=0", 0 },
    { "4: a worker keeps its token from one unit to the next", "js=1",
      JFLOW, "result 1 1", "assign w1 u2, print u1", "w1:token tokens=1", 0 },
    { "4: no unit left: its token goes back", "js=1", JFLOW "; result 0 0",
      "result 1 1", "hold w1, give, print u1", "w1:held tokens=0 u2=run@w0", 0 },
    { "4: the free slot's worker dies: its replacement starts at once, for the free slot", "js=1",
      JFLOW, "exit 0 sig 9", "note:retry w0 u0, spawn w2, note:replacement w2",
      "u0=q/1 w1:token tokens=1 wanted=0", 0 },
    { "4: ... and takes it", "js=1", JFLOW "; exit 0 sig 9; spawned 2", "hello 2",
      "assign w2 u0", "u0=run@w2 free=w2 tokens=1 wanted=0", 0 },
    { "4: a worker that dies gives its token to its replacement", "js=1", JFLOW, "exit 1 sig 9",
      "note:retry w1 u1, spawn w2, note:replacement w2", "u1=q/1 w2:token tokens=1 wanted=0", 0 },
    { "4: ... within the restart budget, past it the token goes back", "js=1 restarts=0", JFLOW,
      "exit 1 sig 9", "note:retry w1 u1, give", "u1=q/1 tokens=0 wanted=0", 0 },
    { "4: interrupted: the token asked for is not waited for", "js=1",
      "start; spawned 0; hello 0; units", "signal 2", "kill w0, note:stopped 3/3", "wanted=1", 0 },
    { "4: ... and goes back when it comes", "js=1", "start; spawned 0; hello 0; units; signal 2",
      "token", "give", "tokens=0", 0 },
    { "4: every token is back at the end", "js=1",
      JFLOW "; result 1 1; result 0 0; result 1 2; exit 0 status 0", "exit 1 status 0",
      "end", "phase=ended tokens=0 wanted=0", 0 },
    { "4: started before its slot was free (slot_later): nothing runs, nothing else starts, "
      "no token is asked for", "js=1 later=1", "start; spawned 0; hello 0", "units",
      "hold w0, note:workers 2", "w0:held u0=q tokens=0 wanted=0", 0 },
    { "4: ... the slot comes: the first runs on it, a token is asked for the second",
      "js=1 later=1", "start; spawned 0; hello 0; units", "slot", "assign w0 u0, take",
      "u0=run@w0 free=w0 tokens=0 wanted=1", 0 },
    { "4: ... which starts when it comes", "js=1 later=1",
      "start; spawned 0; hello 0; units; slot", "token", "spawn w1",
      "w1:token tokens=1 wanted=0", 0 },
    { "4: slot_later: the free slot goes back to the runner at the last unit handed out",
      "js=1 later=1", LFLOW "; result 0 0", "result 0 2",
      "hold w0, give-slot, print u2", "w0:held u1=run@w1 w1:token tokens=1 slot-gone", 0 },
    { "4: ... a unit that comes back after runs on a token", "js=1 later=1",
      LFLOW "; result 0 0; result 0 2", "exit 1 sig 9",
      "note:retry w1 u1, assign w0 u1", "u1=run@w0 w0:token tokens=1 slot-gone", 0 },
    { "4: ... and the run ends with every token back", "js=1 later=1",
      LFLOW "; result 0 0; result 0 2", "result 1 1",
      "stop w1, stop w0, give, print u1", "tokens=0 wanted=0 slot-gone", 0 },
    { "4: make's free slot (no slot_later) is kept to the end", "js=1",
      JFLOW "; result 0 0", "result 0 2", "hold w0, print u2", "w0:held tokens=1", 0 },
    { "4: without a jobserver the slot is ours from the start", "later=1",
      "start; spawned 0; hello 0", "units", "assign w0 u0, spawn w1, note:workers 2", "", 0 },
    { "4: remote workers need no token", "workers=0 remote=1 js=1",
      "start; remote; hello 0; units; remote", "hello 1", "assign w1 u1", "tokens=0 wanted=0", 0 },

    /* Remote workers. */
    { "remote: only remote workers, first one adopts", "workers=0 remote=1",
      "start; remote; hello 0", "units", "assign w0 u0, note:workers 0", "w0=ready", 0 },
    { "remote: disconnect mid-test runs it elsewhere", "workers=0 remote=1",
      "start; remote; hello 0; units; remote; hello 1", "closed 0",
      "note:remote-lost w0 u0", "u0=q/1 w0=gone", 0 },
    /*
     * A remote worker that dies in its worker fixture: the coordinator
     * cannot read its note, so the worker says when it enters and leaves
     * its setups (its worker host replaces it, born with the failure).
     */
    { "remote fixture: a worker that said it runs its worker fixture and disconnects costs its "
      "test no attempt", "workers=0 remote=1",
      "start; remote; hello 0; units; remote; hello 1; fixture 0 in", "closed 0",
      "note:remote-fixture w0 u0", " u0=q u1=run@w1 w0=gone", 0 },
    { "remote fixture: ... and its test goes to the next worker (the replacement)",
      "workers=0 remote=1", "start; remote; hello 0; units; fixture 0 in; closed 0; remote",
      "hello 1", "assign w1 u0", "u0=run@w1", 0 },
    { "remote fixture: once its setups returned, a disconnection is its test's attempt again",
      "workers=0 remote=1",
      "start; remote; hello 0; units; remote; hello 1; fixture 0 in; fixture 0 out", "closed 0",
      "note:remote-lost w0 u0", "u0=q/1 w0=gone", 0 },
    { "remote fixture: the word is answered like a heartbeat", "workers=0 remote=1",
      "start; remote; hello 0; units", "fixture 0 in", "heartbeat w0", "u0=run@w0", 0 },
    { "remote fixture: ... from an unknown peer too, and changes nothing", "workers=0 remote=1",
      "start; remote; hello 0; units", "fixture - in", "heartbeat -", "u0=run@w0", 0 },
    { "remote fixture: its death lends the local workers no restart", "workers=2 remote=1 restarts=0",
      FLOW "; remote; hello 2; fixture 2 in; closed 2; result 0 0", "exit 0 sig 9",
      "note:retry w0 u2", "u2=q/1 u1=run@w1 restarts=0", 0 },
    { "fixture: a local worker's word is not its death's cause (its note, read by the shell, is)",
      "attempts=2", FLOW "; fixture 0 in", "exit 0 sig 11", "note:retry w0 u0, spawn w2, "
      "note:replacement w2", "u0=q/1 restarts=1", 0 },
    { "remote: a late exit event is ignored", "workers=0 remote=1",
      "start; remote; hello 0; units", "exit 0 status 0", "", "w0=ready", 0 },
    { "listener no worker reaches: says so every 5 s", "workers=0 remote=1 waitnote=5000",
      "start; tick 5000", "tick 10000", "note:waiting 10", "", 0 },
    { "... and nothing between two notes", "workers=0 remote=1 waitnote=5000",
      "start; tick 5000", "tick 7000", "", "", 0 },
    { "... gives up after --mproc-wait-workers, non-zero", "workers=0 remote=1 waitnote=5000 wait=12000",
      "start; tick 10000", "tick 12000", "note:no-workers 12, end", "exit=1", 0 },
    { "... a worker's test list ends the waiting", "workers=0 remote=1 waitnote=5000 wait=12000",
      "start; remote; hello 0; units", "tick 12000", "", "w0=ready", 0 },
    { "local: connection closed mid-test: killed", "", FLOW, "closed 1", "kill w1", "", 0 },
    { "local: connection closed when idle: nothing", "", FLOW_DONE, "closed 1", "", "", 0 },

    /* Authentication. */
    { "auth: hello with a nonce is challenged", "", "start; spawned 0", "hello 0 auth",
      "challenge w0", "w0=auth", 0 },
    { "auth: a good proof adopts", "", "start; spawned 0; hello 0 auth", "auth-ok 0",
      "adopt w0", "w0=adopting", 0 },
    { "auth: a wrong proof is refused", "", "start; spawned 0; hello 0 auth", "auth-failed 0",
      "reject w0, kill w0", "", 0 },
    { "auth: no nonce offered is refused", "", "start; spawned 0", "hello 0 noauth",
      "reject w0, kill w0", "", 0 },
    { "auth: twice is refused", "", FLOW, "auth-ok 1", "reject w1, kill w1", "", 0 },
    { "auth: remote refused is gone at once", "workers=0 remote=1", "start; remote",
      "hello 0 noauth", "reject w0", "w0=gone", 0 },

    /* Fail-fast and interruption. */
    { "fail-fast: first failure stops, busy killed", "ff=1", FLOW, "result 0 0 fail",
      "stop w0, print u0, kill w1, note:stopped 2/3", "fail-fast exit=1 phase=ending", 0 },
    { "fail-fast: a pass goes on", "ff=1", FLOW, "result 0 0", "assign w0 u2, print u0", "", 0 },
    { "fail-fast: a crash counts as a failure", "ff=1 attempts=1", FLOW, "exit 0 sig 11",
      "note:crashed w0 u0, crash u0 sig11, kill w1, note:stopped 2/3", "fail-fast", 0 },
    { "signal: stop, kill the busy", "", FLOW, "signal 15",
      "kill w0, kill w1, note:stopped 3/3", "interrupted exit=143", 0 },
    { "signal: held requests get stop", "", FLOW "; result 0 0; result 1 1", "signal 2",
      "stop w1, kill w0, note:stopped 1/3", "exit=130", 0 },
    { "signal: the killed unit is not counted done", "", FLOW "; signal 2", "exit 0 sig 9",
      "", "u0=q u0=q restarts=0", 0 },

    /* Results that must not count. */
    { "late result from a gone worker: ignored", "", FLOW "; exit 0 sig 9", "result 0 0",
      "discard w0", "u0=q/1 done=0", 0 },
    { "result for a unit not assigned: dropped", "", FLOW, "result 0 1",
      "discard w0, kill w0", "u1=run@w1 done=0", 0 },
    { "result of a dropped (hung) worker that still ran it: kept once", "hb=20000",
      "at 0; " FLOW "; tick 20001", "result 0 0", "discard w0, print u0", "u0=done", 0 },
    { "... and its exit then requeues nothing", "hb=20000",
      "at 0; " FLOW "; tick 20001; result 0 0", "exit 0 sig 9",
      "spawn w2, note:replacement w2", "u0=done u2=q", 0 },
    { "result for a unit that does not exist: dropped", "", FLOW, "result 0 99",
      "discard w0, kill w0", "", 0 },
    { "result before hello: refused", "", "start; spawned 0", "result 0 0",
      "reject w0, kill w0", "", 0 },
    { "garbage: dropped, its unit requeued on exit", "", FLOW "; bad 1", "exit 1 sig 9",
      "note:retry w1 u1, spawn w2, note:replacement w2", "u1=q/1", 0 },

    /* Hellos that must not count. */
    { "hello twice: dropped", "", FLOW, "hello 1", "discard w1, kill w1", "", 0 },
    { "first hello names other tests: refused", "", "start; spawned 0", "hello 0 badlist",
      "reject w0, kill w0", "", 0 },
    { "... and when it is gone, the run ends non-zero", "",
      "start; spawned 0; hello 0 badlist", "exit 0 status 0",
      "note:startup-failed 1, end", "exit=1", 0 },
    { "a later worker with another fingerprint: refused", "",
      "start; spawned 0; hello 0; units; spawned 1", "hello 1 fp=3",
      "reject w1, kill w1", "u1=q", 0 },
    { "first hello from another executable with the same tests: refused, nothing adopted", "",
      "start; spawned 0", "hello 0 badexe", "reject w0, kill w0", "", 0 },
    { "a later worker from another executable with the same tests: refused", "",
      "start; spawned 0; hello 0; units; spawned 1", "hello 1 badexe",
      "reject w1, kill w1", "u1=q", 0 },
    { "another executable behind a token: refused once authenticated", "",
      "start; spawned 0; hello 0 auth badexe", "auth-ok 0", "reject w0, kill w0", "", 0 },
};

#define T_ROWS (sizeof(t_rows) / sizeof(t_rows[0]))

/*
 * The parameters are row indices: the test process is the binary started
 * again, where pointers into the parent's data would not hold.
 */
ParameterizedTestParameters(coord_state, table)
{
    static size_t index[T_ROWS];
    for (size_t i = 0; i < T_ROWS; ++i)
        index[i] = i;
    return cr_make_param_array(size_t, index, T_ROWS);
}

ParameterizedTest(size_t *ip, coord_state, table)
{
    const struct t_row *row = &t_rows[*ip];
    static struct t_world t;
    memset(&t, 0, sizeof(t));
    t_config(&t, row->config);
    t_script(&t, row->setup);
    if (*row->event)
        t_event(&t, row->event);
    cr_expect_eq(t.rc, row->rc, "%s: returned %d", row->name, t.rc);
    cr_expect_str_eq(t.out, row->actions, "%s: actions\n  got:  %s\n  want: %s", row->name,
            t.out, row->actions);
    t_expect_state(&t, row->state, row->name);
    crmpi_cst_destroy(&t.st);
}

/* The clock waits on the next multiple of --mproc-slow of a running unit. */
/* The reasons a worker is refused with count its tests as people do: "1 test" (issue 10, 9). */
Test(coord_state, a_refusal_counts_tests_in_words)
{
    static struct t_world t;
    memset(&t, 0, sizeof(t));
    t_config(&t, "workers=0 remote=1 units=1 jobs=0");
    t_script(&t, "start; remote; hello 0; units; remote; hello 1 n=2");
    cr_expect(strstr(t.why, "(2 tests, expected 1 test)"), "why: %s", t.why);
    crmpi_cst_destroy(&t.st);
    memset(&t, 0, sizeof(t));
    t_config(&t, "");
    t_script(&t, "start; spawned 0; hello 0 badlist n=1");
    cr_expect(strstr(t.why, "(1 test)"), "why: %s", t.why);
    crmpi_cst_destroy(&t.st);
}

Test(coord_state, slow_deadline)
{
    static struct t_world t;
    memset(&t, 0, sizeof(t));
    t_config(&t, "slow=60000");
    t_script(&t, SLOWFLOW);
    cr_expect_eq(crmpi_cst_next_deadline(&t.st, 30000), 60000);
    t_script(&t, "tick 60000");
    cr_expect_eq(crmpi_cst_next_deadline(&t.st, 60000), 90000);
    t_script(&t, "tick 90000");
    cr_expect_eq(crmpi_cst_next_deadline(&t.st, 90000), 120000);
    crmpi_cst_destroy(&t.st);
    memset(&t, 0, sizeof(t));
    t_config(&t, "slow=0");
    t_script(&t, SLOWFLOW);
    cr_expect_eq(crmpi_cst_next_deadline(&t.st, 30000), -1, "nothing waits on the clock");
    crmpi_cst_destroy(&t.st);
}

/* ---- random runs ----------------------------------------------------------------- */

/*
 * Many runs driven by random (seeded, repeatable) faults: results, deaths,
 * spawn failures, hangs, signals.  Whatever happens, no unit is reported
 * twice, every request a worker makes is answered once, a worker is only
 * given work it asked for, and the run ends with every unit reported or
 * counted as not run.
 */
struct t_sim {
    int asking[64];         /* its request waits for an answer (held included) */
    uint32_t running[64];
    int alive[64];
    int printed[16];
    int crashes;            /* CRASH actions, tries included */
    int retried;            /* failed tries that ran again */
};

static void t_sim_check(struct t_sim *s, const struct crmpi_cst_action *a, size_t n, int seed)
{
    for (size_t i = 0; i < n; ++i) {
        uint32_t w = a[i].worker;
        switch (a[i].kind) {
        case CRMPI_CST_ACT_ASSIGN:
            cr_assert(s->asking[w], "seed %d: w%u given u%u unasked", seed, w, a[i].unit);
            s->asking[w] = 0;
            s->running[w] = a[i].unit;
            break;
        case CRMPI_CST_ACT_STOP:
        case CRMPI_CST_ACT_REJECT:
        case CRMPI_CST_ACT_DISCARD:
            cr_assert(s->asking[w] || a[i].kind != CRMPI_CST_ACT_STOP,
                    "seed %d: w%u stopped unasked", seed, w);
            s->asking[w] = 0;
            break;
        case CRMPI_CST_ACT_PRINT:
        case CRMPI_CST_ACT_CRASH:
            s->crashes += a[i].kind == CRMPI_CST_ACT_CRASH;
            /* A failed try that runs again is not the unit's result. */
            s->retried += a[i].again;
            if (a[i].again)
                break;
            cr_assert_eq(s->printed[a[i].unit]++, 0, "seed %d: u%u reported twice", seed,
                    a[i].unit);
            break;
        case CRMPI_CST_ACT_SPAWN:
            s->alive[w] = 1;
            s->running[w] = CRMPI_CST_NONE;
            break;
        default:
            break;
        }
    }
}

Test(coord_state, random_runs)
{
    int complete = 0, crashed = 0, stopped = 0, retried = 0;
    for (int seed = 1; seed <= 300; ++seed) {
        srand((unsigned) seed);
        static struct t_world t;
        memset(&t, 0, sizeof(t));
        char cfg[128];
        snprintf(cfg, sizeof(cfg), "workers=%d restarts=%d units=6 jobs=0|1,2|3|4|5 ff=%d hb=5000 "
                "retries=%d", 1 + rand() % 4, rand() % 4, rand() % 5 == 0, rand() % 3);
        t_config(&t, cfg);
        struct t_sim s;
        memset(&s, 0, sizeof(s));
        for (size_t i = 0; i < 64; ++i)
            s.running[i] = CRMPI_CST_NONE;
        struct crmpi_cst_event ev = { .kind = CRMPI_CST_EV_START };
        const struct crmpi_cst_action *a;
        size_t n;
        int steps = 0;
        uint8_t fp[32] = { 0 };
        while (t.st.phase != CRMPI_CST_ENDED) {
            cr_assert(++steps < 2000, "seed %d: the run does not end", seed);
            ev.now_ms = t.now;
            cr_assert_eq(crmpi_cst_event(&t.st, &ev, &a, &n), 0, "seed %d", seed);
            t_sim_check(&s, a, n, seed);
            if (t.st.phase == CRMPI_CST_ENDED)
                break;
            /* An ADOPT is answered at once, as the shell does. */
            int adopting = 0;
            for (size_t i = 0; i < n; ++i)
                adopting |= a[i].kind == CRMPI_CST_ACT_ADOPT;
            if (adopting) {
                ev = (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_UNITS, .worker = ev.worker };
                ev.u.units.n_units = t.n_units;
                ev.u.units.jobs = t.jobs;
                ev.u.units.n_jobs = t.n_jobs;
                ev.u.units.info = t.info;
                continue;
            }
            /* Pick something that can happen now. */
            t.now += rand() % 3000;
            uint32_t w = (uint32_t) (rand() % (int) t.st.n_workers);
            const struct crmpi_cst_worker *sw = &t.st.workers[w];
            int dice = rand() % 100;
            ev = (struct crmpi_cst_event) { .kind = CRMPI_CST_EV_TICK, .worker = w };
            if (sw->state == CRMPI_CST_W_GONE || !s.alive[w]) {
                ev.kind = CRMPI_CST_EV_TICK;
            } else if (dice < 8) {
                ev.kind = CRMPI_CST_EV_EXITED;
                ev.u.status = rand() % 2 ? SIGKILL : SIGTERM;
                s.alive[w] = 0;
                s.asking[w] = 0;
            } else if (sw->state == CRMPI_CST_W_STARTING && dice < 11) {
                ev.kind = CRMPI_CST_EV_SPAWN_FAILED;
                ev.u.err = -EAGAIN;
                s.alive[w] = 0;
            } else if (sw->state == CRMPI_CST_W_STARTING) {
                ev.kind = CRMPI_CST_EV_HELLO;
                ev.u.hello = (__typeof__(ev.u.hello)) { .list_ok = 1, .exe_ok = 1, .n_units = t.n_units,
                                                        .fingerprint = fp };
                s.asking[w] = 1;
            } else if (dice == 8) {
                ev.kind = CRMPI_CST_EV_SIGNAL;
                ev.u.sig = SIGINT;
            } else if (dice < 60 && s.running[w] != CRMPI_CST_NONE && !s.asking[w]) {
                ev.kind = CRMPI_CST_EV_RESULT;
                ev.u.result.unit = s.running[w];
                ev.u.result.failed = rand() % 3 == 0;
                s.running[w] = CRMPI_CST_NONE;
                s.asking[w] = 1;
            } else if (dice < 70) {
                ev.kind = CRMPI_CST_EV_HEARTBEAT;
            } else if (t.st.phase == CRMPI_CST_ENDING && !sw->held) {
                /* Told to stop (or killed): it leaves. */
                ev.kind = CRMPI_CST_EV_EXITED;
                ev.u.status = 0;
                s.alive[w] = 0;
                s.asking[w] = 0;
            }
            if (ev.kind == CRMPI_CST_EV_EXITED || ev.kind == CRMPI_CST_EV_SPAWN_FAILED)
                s.running[w] = CRMPI_CST_NONE;
        }
        struct crmpi_cst_outcome oc;
        crmpi_cst_outcome(&t.st, &oc);
        size_t reported = 0;
        for (size_t u = 0; u < t.n_units; ++u)
            reported += s.printed[u];
        if (!oc.startup_failed)
            cr_assert_eq(reported + oc.not_run, oc.total, "seed %d: %zu reported, %zu not run, "
                    "of %zu", seed, reported, oc.not_run, oc.total);
        cr_assert(oc.not_run == 0 || oc.exit_status != 0 || oc.stop_reason,
                "seed %d: tests missing, exit 0", seed);
        cr_assert(oc.not_run == 0 || oc.exit_status > 0, "seed %d: %zu not run, exit %d", seed,
                oc.not_run, oc.exit_status);
        complete += !oc.startup_failed && reported == oc.total;
        stopped += oc.not_run != 0;
        crashed += s.crashes;
        retried += s.retried;
        crmpi_cst_destroy(&t.st);
    }
    /* The dice must reach every ending: complete runs, crashes, runs stopped early. */
    cr_expect(complete > 30 && crashed > 5 && stopped > 30 && retried > 30,
            "complete %d, crashed %d, stopped %d, retried %d", complete, crashed, stopped, retried);
}
