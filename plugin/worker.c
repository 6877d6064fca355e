#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <criterion/logging.h>
#include <criterion/options.h>
#include <criterion/parameterized.h>

#include "crit.h"
#include "auth.h"
#include "diag.h"
#include "hooks.h"
#include "nng_api.h"
#include "proc.h"
#include "units.h"
#include "forkrun.h"
#include "wire.h"
#include "worker.h"
#include "zygote.h"

/*
 * A unit wrapped as a one-test suite, laid out the way Criterion's ordered
 * set expects: each node header is immediately followed by its payload.
 */
struct worker_node {
    struct worker_node *older;      /* our own list, for freeing */
    struct criterion_ordered_set_node suite_node;
    struct criterion_suite_set suite_set;
    struct criterion_ordered_set tests;
    struct criterion_ordered_set_node test_node;
    struct criterion_test test;
    struct criterion_test_extra_data data;
};

_Static_assert(offsetof(struct worker_node, suite_set)
        == offsetof(struct worker_node, suite_node) + sizeof(struct criterion_ordered_set_node),
        "the suite payload must follow its node");
_Static_assert(offsetof(struct worker_node, test)
        == offsetof(struct worker_node, test_node) + sizeof(struct criterion_ordered_set_node),
        "the test payload must follow its node");

static struct worker_state {
    int active;                     /* inside crmpi_worker_run */
    int failed;                     /* lost or refused by the coordinator */
    unsigned slot;
    nng_socket sock;
    struct criterion_test_set *set;
    struct criterion_ordered_set *orig_suites;
    struct criterion_ordered_set dyn_suites_storage;
    struct crmpi_units units;
    struct worker_node *newest;     /* the unit the runner is on */
    long current;                   /* the unit being run, -1 when none */
    long pending;                   /* assigned, not started yet, -1 when none */
    pid_t sandbox;                  /* the process running it, when known */
    int forked;                     /* the unit runs in fork isolation */
    int saved_out, saved_err;       /* the worker's own stdout/stderr, -1 when not capturing */
    int cap_out, cap_err;           /* memfds the current test writes to, or -1 */
    struct timespec started;

    Crmp__Event **events;           /* captured for the current unit */
    size_t n_events, cap_events;
    unsigned warnings, errors;

    struct crmpi_token token;       /* len 0: none */
    uint8_t nonce[CRMPI_NONCE_LEN];
    nng_tls_config *tls;

    /* Parameter of the unit being run (see worker_param_one). */
    struct criterion_test_params (*param_fn)(void);
    int param_index;
    struct criterion_test_params param_all;
} W = { .current = -1, .pending = -1, .saved_out = -1, .saved_err = -1, .cap_out = -1, .cap_err = -1 };

/* Set before the worker closes its socket on purpose. */
static atomic_int worker_closing;

/* ---- a parameterized unit runs exactly one parameter ------------------- */

static void worker_param_cleanup(struct criterion_test_params *one)
{
    (void) one;
    if (W.param_all.cleanup)
        W.param_all.cleanup(&W.param_all);
    W.param_all = (struct criterion_test_params) { 0 };
}

/*
 * Stands in for the test's generator: the runner iterates what we return,
 * so return the one parameter this unit is about.  The runner copies the
 * parameter's bytes into the sandbox, exactly as for the whole array.
 */
static struct criterion_test_params worker_param_one(void)
{
    W.param_all = W.param_fn();
    struct criterion_test_params one = {
        .size = W.param_all.size,
        .length = 0,
        .cleanup = worker_param_cleanup,
    };
    if ((size_t) W.param_index < W.param_all.length) {
        one.params = (char *) W.param_all.params + (size_t) W.param_index * W.param_all.size;
        one.length = 1;
    }
    return one;
}

/* ---- captured logger events ---------------------------------------------- */

static char *worker_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void worker_stats_free(Crmp__TestStats *s)
{
    if (!s)
        return;
    free(s->file);
    free(s->message);
    free(s);
}

static void worker_assert_free(Crmp__AssertStats *a)
{
    if (!a)
        return;
    free(a->message);
    free(a->file);
    free(a);
}

static void worker_param_free(Crmp__LogParam *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->data.data);
    free(p);
}

static void worker_event_free(Crmp__Event *e)
{
    worker_stats_free(e->stats);
    worker_assert_free(e->assert);
    worker_param_free(e->p1);
    worker_param_free(e->p2);
    free(e->text);
    free(e->text2);
    free(e);
}

static Crmp__TestStats *worker_stats_snapshot(const struct criterion_test_stats *ts)
{
    if (!ts)
        return NULL;
    Crmp__TestStats *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    crmp__test_stats__init(s);
    s->status = ts->test_status;
    s->passed_asserts = ts->passed_asserts;
    s->failed_asserts = ts->failed_asserts;
    s->signal = ts->signal;
    s->exit_code = ts->exit_code;
    s->elapsed_time = ts->elapsed_time;
    s->timed_out = ts->timed_out;
    s->crashed = ts->crashed;
    s->progress = ts->progress;
    s->file = worker_strdup(ts->file);
    s->message = worker_strdup(ts->message);
    return s;
}

static Crmp__AssertStats *worker_assert_snapshot(const struct criterion_assert_stats *as)
{
    if (!as)
        return NULL;
    Crmp__AssertStats *a = malloc(sizeof(*a));
    if (!a)
        return NULL;
    crmp__assert_stats__init(a);
    a->message = worker_strdup(as->message);
    a->passed = as->passed;
    a->line = as->line;
    a->file = worker_strdup(as->file);
    return a;
}

static Crmp__LogParam *worker_param_snapshot(const struct cr_log_assert_param *p)
{
    if (!p)
        return NULL;
    Crmp__LogParam *lp = malloc(sizeof(*lp));
    if (!lp)
        return NULL;
    crmp__log_param__init(lp);
    lp->name = worker_strdup(p->name);
    lp->kind = (int32_t) p->kind;
    lp->data.len = p->size;
    lp->data.data = malloc(p->size ? p->size : 1);
    if (lp->data.data && p->size)
        memcpy(lp->data.data, p->data, p->size);
    return lp;
}

/* Appends a new event of kind to the current unit; NULL outside a unit. */
static Crmp__Event *worker_event(Crmp__Event__Kind kind)
{
    if (W.current < 0)
        return NULL;
    if (W.n_events == W.cap_events) {
        size_t ncap = W.cap_events ? W.cap_events * 2 : 16;
        Crmp__Event **nv = realloc(W.events, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        W.events = nv;
        W.cap_events = ncap;
    }
    Crmp__Event *e = malloc(sizeof(*e));
    if (!e)
        return NULL;
    crmp__event__init(e);
    e->kind = kind;
    W.events[W.n_events++] = e;
    return e;
}

static void worker_event_stats(Crmp__Event__Kind kind, struct criterion_test_stats *ts)
{
    Crmp__Event *e = worker_event(kind);
    if (e)
        e->stats = worker_stats_snapshot(ts);
}

static void worker_event_assert(Crmp__Event__Kind kind, struct criterion_assert_stats *as,
        const char *text, const char *text2)
{
    Crmp__Event *e = worker_event(kind);
    if (!e)
        return;
    e->assert = worker_assert_snapshot(as);
    e->text = worker_strdup(text);
    e->text2 = worker_strdup(text2);
}

/*
 * The sandbox running the current test: the one child of our main thread
 * (the runner runs one test at a time here, and forks from that thread).
 */
static pid_t worker_current_sandbox(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long) getpid(), (long) getpid());
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f) {
        /* A fork-mode worker's zygote is a child too: not the one. */
        while (fscanf(f, "%ld", &pid) == 1 && pid == (long) crmpi_zygote_pid())
            pid = 0;
        fclose(f);
    }
    return (pid_t) pid;
}

/*
 * A test that timed out or crashed may leave processes it forked behind,
 * in its process group (the sandbox is a session leader): Criterion kills
 * only the sandbox.  SIGTERM the group, give it a grace period, then
 * SIGKILL what is left.
 */
static void worker_end_sandbox_group(pid_t pgid)
{
    if (pgid <= 0 || kill(-pgid, SIGTERM))
        return;
    for (int i = 0; i < 50; ++i) {
        struct timespec tick = { .tv_nsec = 20 * 1000 * 1000 };
        if (kill(-pgid, 0))
            return;
        nanosleep(&tick, NULL);
    }
    kill(-pgid, SIGKILL);
}

static void wlog_pre_init(struct criterion_suite *suite, struct criterion_test *test)
{
    /* Criterion's sandbox, in exec mode; a forked unit's process is known already. */
    if (!W.forked)
        W.sandbox = worker_current_sandbox();
    Crmp__Event *e = worker_event(CRMP__EVENT__KIND__PRE_INIT);
    if (!e)
        return;
    e->has_disabled = 1;
    e->disabled = test->data->disabled || (suite->data && suite->data->disabled);
}

static void wlog_pre_test(struct criterion_suite *suite, struct criterion_test *test)
{
    (void) suite;
    (void) test;
    worker_event(CRMP__EVENT__KIND__PRE_TEST);
}

static void wlog_assert(struct criterion_assert_stats *as)
{
    worker_event_assert(CRMP__EVENT__KIND__ASSERT, as, NULL, NULL);
}

static void wlog_theory_fail(struct criterion_theory_stats *ths)
{
    Crmp__Event *e = worker_event(CRMP__EVENT__KIND__THEORY_FAIL);
    if (!e)
        return;
    e->stats = worker_stats_snapshot(ths->stats);
    e->text = worker_strdup(ths->formatted_args);
}

static void wlog_test_timeout(struct criterion_test_stats *ts)
{
    worker_event_stats(CRMP__EVENT__KIND__TEST_TIMEOUT, ts);
}

static void wlog_test_crash(struct criterion_test_stats *ts)
{
    worker_event_stats(CRMP__EVENT__KIND__TEST_CRASH, ts);
}

static void wlog_test_abort(struct criterion_test_stats *ts, const char *msg)
{
    Crmp__Event *e = worker_event(CRMP__EVENT__KIND__TEST_ABORT);
    if (!e)
        return;
    e->stats = worker_stats_snapshot(ts);
    e->text = worker_strdup(msg);
}

static void wlog_other_crash(struct criterion_test_stats *ts)
{
    /* The runner counts this one as a warning in the global statistics. */
    ++W.warnings;
    worker_event_stats(CRMP__EVENT__KIND__OTHER_CRASH, ts);
}

static void wlog_abnormal_exit(struct criterion_test_stats *ts)
{
    worker_event_stats(CRMP__EVENT__KIND__ABNORMAL_EXIT, ts);
}

static void wlog_post_test(struct criterion_test_stats *ts)
{
    worker_event_stats(CRMP__EVENT__KIND__POST_TEST, ts);
}

static void wlog_post_fini(struct criterion_test_stats *ts)
{
    worker_event_stats(CRMP__EVENT__KIND__POST_FINI, ts);
}

static void wlog_message(enum criterion_severity severity, const char *msg)
{
    if (severity == CR_LOG_WARNING)
        ++W.warnings;
    if (severity == CR_LOG_ERROR)
        ++W.errors;
    Crmp__Event *e = worker_event(CRMP__EVENT__KIND__MESSAGE);
    if (!e)
        return;
    e->has_severity = 1;
    e->severity = (int32_t) severity;
    e->text = worker_strdup(msg);
}

static void wlog_assert_sub(struct criterion_assert_stats *as, const char *repr,
        const char *message)
{
    worker_event_assert(CRMP__EVENT__KIND__ASSERT_SUB, as, repr, message);
}

static void wlog_assert_formatted(struct criterion_assert_stats *as, const char *formatted)
{
    worker_event_assert(CRMP__EVENT__KIND__ASSERT_FORMATTED, as, formatted, NULL);
}

static void wlog_assert_param(struct criterion_assert_stats *as, struct cr_log_assert_param *p)
{
    Crmp__Event *e = worker_event(CRMP__EVENT__KIND__ASSERT_PARAM);
    if (!e)
        return;
    e->assert = worker_assert_snapshot(as);
    e->p1 = worker_param_snapshot(p);
}

static void wlog_assert_param_eq(struct criterion_assert_stats *as,
        struct cr_log_assert_param *p1, struct cr_log_assert_param *p2)
{
    Crmp__Event *e = worker_event(CRMP__EVENT__KIND__ASSERT_PARAM_EQ);
    if (!e)
        return;
    e->assert = worker_assert_snapshot(as);
    e->p1 = worker_param_snapshot(p1);
    e->p2 = worker_param_snapshot(p2);
}

/* Whole-run and suite events belong to the coordinator: not captured. */
static struct criterion_logger worker_logger = {
    .log_pre_init = wlog_pre_init,
    .log_pre_test = wlog_pre_test,
    .log_assert = wlog_assert,
    .log_theory_fail = wlog_theory_fail,
    .log_test_timeout = wlog_test_timeout,
    .log_test_crash = wlog_test_crash,
    .log_test_abort = wlog_test_abort,
    .log_other_crash = wlog_other_crash,
    .log_abnormal_exit = wlog_abnormal_exit,
    .log_post_test = wlog_post_test,
    .log_post_fini = wlog_post_fini,
    .log_message = wlog_message,
    .log_assert_sub = wlog_assert_sub,
    .log_assert_formatted = wlog_assert_formatted,
    .log_assert_param = wlog_assert_param,
    .log_assert_param_eq = wlog_assert_param_eq,
};

static void worker_events_clear(void)
{
    for (size_t i = 0; i < W.n_events; ++i)
        worker_event_free(W.events[i]);
    W.n_events = 0;
    W.warnings = W.errors = 0;
}

/* ---- the test's own output ------------------------------------------------ */

/* Beyond this, a test's output is cut (with a note): results stay small. */
#define WORKER_MAX_OUTPUT (1u << 20)

/*
 * Points stdout and stderr at fresh memory files before a test, so that the
 * sandbox (which inherits them) writes there; the coordinator prints it with
 * the test's result.  Not when Criterion silences test output (quiet mode).
 */
static void worker_capture_begin(void)
{
    if (W.saved_out < 0 || criterion_options.logging_threshold == CRITERION_LOG_LEVEL_QUIET)
        return;
    fflush(stdout);
    fflush(stderr);
    W.cap_out = memfd_create("crmp-stdout", MFD_CLOEXEC);
    W.cap_err = memfd_create("crmp-stderr", MFD_CLOEXEC);
    if (W.cap_out < 0 || W.cap_err < 0 || dup2(W.cap_out, STDOUT_FILENO) < 0
            || dup2(W.cap_err, STDERR_FILENO) < 0) {
        dup2(W.saved_out, STDOUT_FILENO);
        dup2(W.saved_err, STDERR_FILENO);
        if (W.cap_out >= 0)
            close(W.cap_out);
        if (W.cap_err >= 0)
            close(W.cap_err);
        W.cap_out = W.cap_err = -1;
    }
}

/* Reads a capture back into a malloc'd buffer (caller frees) and closes it. */
static void worker_capture_take(int *fd, ProtobufCBinaryData *into, protobuf_c_boolean *has)
{
    if (*fd < 0)
        return;
    off_t size = lseek(*fd, 0, SEEK_END);
    static const char cut[] = "\n[criterion-mproc: output cut at 1 MiB]\n";
    size_t keep = size > 0 ? (size_t) size : 0;
    int truncated = keep > WORKER_MAX_OUTPUT;
    if (truncated)
        keep = WORKER_MAX_OUTPUT;
    if (keep) {
        uint8_t *buf = malloc(keep + (truncated ? sizeof(cut) : 0));
        ssize_t n = buf ? pread(*fd, buf, keep, 0) : -1;
        if (n > 0) {
            if (truncated)
                memcpy(buf + n, cut, sizeof(cut) - 1);
            into->data = buf;
            into->len = (size_t) n + (truncated ? sizeof(cut) - 1 : 0);
            *has = 1;
        } else {
            free(buf);
        }
    }
    close(*fd);
    *fd = -1;
}

static void worker_capture_end(Crmp__Result *res)
{
    if (W.cap_out < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    dup2(W.saved_out, STDOUT_FILENO);
    dup2(W.saved_err, STDERR_FILENO);
    worker_capture_take(&W.cap_out, &res->out, &res->has_out);
    worker_capture_take(&W.cap_err, &res->err, &res->has_err);
}

/* ---- talking to the coordinator ------------------------------------------ */

static uint64_t worker_elapsed_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t) (now.tv_sec - W.started.tv_sec) * 1000000000u
        + (uint64_t) (now.tv_nsec - W.started.tv_nsec);
}

/*
 * Sends env and waits for the coordinator's answer.  On success returns 0
 * and the caller owns *reply.  Errors are returned after a message.
 */
static int worker_exchange(const Crmp__Envelope *env, Crmp__Envelope **reply)
{
    uint8_t *buf;
    size_t len;
    nng_msg *msg = NULL;
    int rc = crmpi_wire_encode(env, &buf, &len);
    if (rc) {
        crmpi_error("worker %u: cannot encode a %s: %s", W.slot,
                crmpi_wire_body_name(env->body_case), strerror(-rc));
        return rc;
    }
    rc = crmpi_nng.nng_msg_alloc(&msg, len);
    if (rc) {
        free(buf);
        goto err_nng;
    }
    memcpy(crmpi_nng.nng_msg_body(msg), buf, len);
    free(buf);
    rc = crmpi_nng.nng_sendmsg(W.sock, msg, 0);
    if (rc) {
        crmpi_nng.nng_msg_free(msg);
        goto err_nng;
    }
    rc = crmpi_nng.nng_recvmsg(W.sock, &msg, 0);
    if (rc)
        goto err_nng;
    rc = crmpi_wire_decode(crmpi_nng.nng_msg_body(msg), crmpi_nng.nng_msg_len(msg), reply);
    crmpi_nng.nng_msg_free(msg);
    if (rc)
        crmpi_error("worker %u: bad message from the coordinator: %s", W.slot, strerror(-rc));
    return rc;

err_nng:
    crmpi_error("worker %u: lost the coordinator: %s", W.slot, crmpi_nng_strerror(rc));
    return -ECONNRESET;
}

static double worker_timeout_of(const struct crmpi_unit *u)
{
    return crmpi_unit_timeout(u->suite, u->test);
}

static struct worker_node *worker_node_new(const struct crmpi_unit *unit)
{
    struct worker_node *node = calloc(1, sizeof(*node));
    if (!node)
        return NULL;
    node->suite_set.suite = unit->suite->suite;
    node->test = *unit->test;
    node->data = *unit->test->data;
    node->test.data = &node->data;
    /* The runner then computes the same timeout from the test's own. */
    double timeout = worker_timeout_of(unit);
    if (timeout > 0)
        node->data.timeout = timeout;
    if (unit->param >= 0) {
        W.param_fn = unit->test->data->param_;
        W.param_index = unit->param;
        node->data.param_ = worker_param_one;
    }
    const struct criterion_ordered_set tests = {
        .first = &node->test_node,
        .size = 1,
    };
    memcpy(&node->tests, &tests, sizeof(tests));
    node->suite_set.tests = &node->tests;
    node->older = W.newest;
    return node;
}

static void worker_follow(Crmp__Envelope *reply);
static void worker_dispatch(void);

/* Checks that the coordinator knows the token, then proves that we do. */
static void worker_answer_challenge(const Crmp__Challenge *ch)
{
    W.current = -1;
    if (!W.token.len) {
        crmpi_error("worker %u: the coordinator requires a token: set %s or use "
                "--mproc-token-file", W.slot, CRMPI_ENV_TOKEN);
        W.failed = 1;
        return;
    }
    if (!crmpi_auth_verify(&W.token, "crmp-coordinator", W.nonce, ch->nonce.data,
            ch->proof.data, ch->proof.len)) {
        crmpi_error("worker %u: the coordinator does not know the token: refusing it", W.slot);
        W.failed = 1;
        return;
    }
    uint8_t proof[CRMPI_PROOF_LEN];
    if (crmpi_auth_proof(&W.token, "crmp-worker", ch->nonce.data, W.nonce, proof)) {
        W.failed = 1;
        return;
    }
    Crmp__Auth auth = CRMP__AUTH__INIT;
    auth.proof.data = proof;
    auth.proof.len = sizeof(proof);
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_AUTH);
    env.auth = &auth;
    Crmp__Envelope *next;
    if (worker_exchange(&env, &next))
        W.failed = 1;
    else
        worker_follow(next);
}

/*
 * Acts on the coordinator's answer: an Assign makes the runner's next suite
 * the assigned unit; anything else ends this worker's run.  Takes ownership
 * of reply.
 */
static void worker_follow(Crmp__Envelope *reply)
{
    switch (reply->body_case) {
    case CRMP__ENVELOPE__BODY_ASSIGN: {
        uint32_t id = reply->assign->unit;
        if (id >= W.units.n) {
            crmpi_error("worker %u: coordinator assigned unit %u of %zu", W.slot,
                    id, W.units.n);
            W.failed = 1;
            break;
        }
        W.pending = id;     /* see worker_dispatch */
        break;
    }
    case CRMP__ENVELOPE__BODY_STOP:
        W.current = -1;
        break;
    case CRMP__ENVELOPE__BODY_CHALLENGE:
        worker_answer_challenge(reply->challenge);
        break;
    case CRMP__ENVELOPE__BODY_REJECT:
        crmpi_error("worker %u: refused by the coordinator: %s", W.slot, reply->reject->reason);
        W.failed = 1;
        W.current = -1;
        break;
    default:
        crmpi_error("worker %u: unexpected %s from the coordinator", W.slot,
                crmpi_wire_body_name(reply->body_case));
        W.failed = 1;
        W.current = -1;
        break;
    }
    crmpi_wire_free(reply);
}

static int worker_hello(void)
{
    int rc;
    Crmp__Unit *units = calloc(W.units.n ? W.units.n : 1, sizeof(*units));
    Crmp__Unit **uptrs = calloc(W.units.n ? W.units.n : 1, sizeof(*uptrs));
    uint8_t fp_bytes[32];
    struct crmpi_fingerprint fp;

    if (!units || !uptrs) {
        rc = -ENOMEM;
        goto out;
    }
    rc = crmpi_fingerprint_begin(&fp);
    if (rc)
        goto out;
    for (size_t i = 0; i < W.units.n && !rc; ++i) {
        const struct crmpi_unit *u = &W.units.v[i];
        crmp__unit__init(&units[i]);
        units[i].suite = (char *) u->suite->suite.name;
        units[i].name = (char *) u->test->name;
        units[i].param = u->param;
        uptrs[i] = &units[i];
        rc = crmpi_fingerprint_add(&fp, units[i].suite, units[i].name, u->param);
    }
    int rc_end = crmpi_fingerprint_end(&fp, fp_bytes);
    if (rc || (rc = rc_end))
        goto out;

    Crmp__Hello hello = CRMP__HELLO__INIT;
    hello.pid = (uint32_t) getpid();
    hello.slot = W.slot;
    hello.fingerprint.data = fp_bytes;
    hello.fingerprint.len = sizeof(fp_bytes);
    hello.n_units = W.units.n;
    hello.units = uptrs;
    if (W.token.len && !crmpi_nonce(W.nonce)) {
        hello.has_nonce = 1;
        hello.nonce.data = W.nonce;
        hello.nonce.len = sizeof(W.nonce);
    }
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HELLO);
    env.hello = &hello;

    Crmp__Envelope *reply;
    rc = worker_exchange(&env, &reply);
    if (!rc)
        worker_follow(reply);

out:
    free(uptrs);
    free(units);
    return rc;
}

void crmpi_worker_on_pre_all(struct criterion_test_set *set)
{
    if (!W.active)
        return;

    /* Now, after the --filter pass and with cr_malloc ready: take over. */
    W.orig_suites = set->suites;
    set->suites = &W.dyn_suites_storage;

    int rc = crmpi_units_enumerate(W.orig_suites, &W.units);
    if (rc) {
        crmpi_error("worker %u: cannot enumerate the tests: %s", W.slot, strerror(-rc));
        W.failed = 1;
        return;
    }
    if (worker_hello())
        W.failed = 1;
    else
        worker_dispatch();
}

static void worker_counters(Crmp__Counters *c, const struct criterion_suite_stats *ss)
{
    c->nb_tests = (uint32_t) ss->nb_tests;
    c->nb_asserts = (uint32_t) ss->nb_asserts;
    c->tests_skipped = (uint32_t) ss->tests_skipped;
    c->tests_failed = (uint32_t) ss->tests_failed;
    c->tests_crashed = (uint32_t) ss->tests_crashed;
    c->tests_passed = (uint32_t) ss->tests_passed;
    c->asserts_failed = (uint32_t) ss->asserts_failed;
    c->asserts_passed = (uint32_t) ss->asserts_passed;
    c->warnings = W.warnings;
    c->errors = W.errors;
}

/*
 * Fault injection for the plugin's own tests: with CRMP_TEST_FAULT
 * set to "garbage:PATH", the first worker of the run to create PATH sends
 * bytes that are no message instead of its first result.  Unset (always, in
 * real use) it does nothing.
 */
static int worker_fault_garbage(void)
{
    const char *f = getenv("CRMP_TEST_FAULT");
    if (!f || strncmp(f, "garbage:", 8))
        return 0;
    int fd = open(f + 8, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static int worker_send_garbage(void)
{
    static const uint8_t junk[] = { 0xff, 0x13, 0x37, 0x00, 0x42, 0x08, 0x99 };
    nng_msg *msg;
    if (crmpi_nng.nng_msg_alloc(&msg, sizeof(junk)))
        return -ENOMEM;
    memcpy(crmpi_nng.nng_msg_body(msg), junk, sizeof(junk));
    if (crmpi_nng.nng_sendmsg(W.sock, msg, 0)) {
        crmpi_nng.nng_msg_free(msg);
        return -EIO;
    }
    /* The coordinator drops us: wait to be killed like any dropped worker. */
    if (!crmpi_nng.nng_recvmsg(W.sock, &msg, 0))
        crmpi_nng.nng_msg_free(msg);
    return -ECONNRESET;
}

/*
 * Sends the result of the current unit, whose one-test suite's statistics
 * are ss, and follows the coordinator's answer.
 */
static void worker_send_result(const struct criterion_suite_stats *ss)
{
    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    worker_counters(&counters, ss);

    Crmp__Result result = CRMP__RESULT__INIT;
    worker_capture_end(&result);
    result.unit = (uint32_t) W.current;
    result.events = W.events;
    result.n_events = W.n_events;
    result.counters = &counters;
    result.wall_ns = worker_elapsed_ns();

    /* The one test of this suite: its final statistics and assertions. */
    const struct criterion_test_stats *ts = ss->tests;
    size_t n_asserts = 0;
    for (const struct criterion_assert_stats *a = ts ? ts->asserts : NULL; a; a = a->next)
        ++n_asserts;
    Crmp__AssertStats **asserts = calloc(n_asserts ? n_asserts : 1, sizeof(*asserts));
    if (!asserts) {
        crmpi_error("worker %u: out of memory", W.slot);
        free(result.out.data);
        free(result.err.data);
        W.failed = 1;
        W.current = -1;
        worker_events_clear();
        return;
    }
    size_t k = 0;
    for (const struct criterion_assert_stats *a = ts ? ts->asserts : NULL; a; a = a->next)
        asserts[k++] = worker_assert_snapshot(a);
    result.asserts = asserts;
    result.n_asserts = n_asserts;
    result.final = worker_stats_snapshot(ts);

    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_RESULT);
    env.result = &result;

    W.current = -1;
    Crmp__Envelope *reply;
    int rc = worker_fault_garbage() ? worker_send_garbage() : worker_exchange(&env, &reply);

    for (size_t i = 0; i < n_asserts; ++i)
        worker_assert_free(asserts[i]);
    free(asserts);
    free(result.out.data);
    free(result.err.data);
    worker_stats_free(result.final);
    worker_events_clear();

    if (rc)
        W.failed = 1;
    else
        worker_follow(reply);
}

void crmpi_worker_on_post_suite(struct criterion_suite_stats *ss)
{
    if (!W.active || W.current < 0)
        return;

    const struct criterion_test_stats *fin = ss->tests;
    if (fin && (fin->timed_out || fin->crashed))
        worker_end_sandbox_group(W.sandbox);
    W.sandbox = 0;
    worker_send_result(ss);
    worker_dispatch();
}

/* ---- running units --------------------------------------------------------- */

/* Gives unit id to Criterion's runner: it runs it next, in exec mode. */
static void worker_queue_for_runner(long id)
{
    struct worker_node *node = worker_node_new(&W.units.v[id]);
    if (!node) {
        crmpi_error("worker %u: out of memory", W.slot);
        W.failed = 1;
        return;
    }
    if (W.newest)
        W.newest->suite_node.next = &node->suite_node;
    else
        W.dyn_suites_storage.first = &node->suite_node;
    W.newest = node;
    W.current = id;
    /* A disabled test never runs: nothing to capture. */
    const struct criterion_suite *su = &W.units.v[id].suite->suite;
    if (!node->data.disabled && !(su->data && su->data->disabled))
        worker_capture_begin();
    clock_gettime(CLOCK_MONOTONIC, &W.started);
}

/* Fork isolation's state in this worker (see plugin/zygote.h). */
static struct {
    int chan;                           /* memfd: the test process's messages, -1 when off */
    int arena_fd;                       /* the runner's arena (not ours), -1 until found */
    struct crmpi_forkrun_hooks hooks;
    int hooks_ok;
} WF = { .chan = -1, .arena_fd = -1 };

/* Whether path (from /proc: a mapping or a descriptor) is Criterion's arena, named name. */
static int worker_is_arena(const char *path, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(path, name, n) && (path[n] == '\0' || path[n] == ' ' || path[n] == '\n');
}

/*
 * Criterion's arena (where cr_malloc'd parameters live): mapped shared in
 * this process as /dev/shm/bxf_arena_<pid>.  Finds its address and length
 * (it may have grown since the last unit) and its descriptor (the runner's,
 * open for the whole run: looked up once).  Returns 0 or -ENOENT.
 */
static int worker_find_arena(void **addr, size_t *len, int *fd)
{
    char name[64];
    snprintf(name, sizeof(name), "/dev/shm/bxf_arena_%ld", (long) getpid());
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return -ENOENT;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) < 3 || !path_at
                || !worker_is_arena(line + path_at, name))
            continue;
        *addr = (void *) lo;
        *len = hi - lo;
        found = 1;
    }
    fclose(maps);
    if (!found)
        return -ENOENT;
    DIR *fds = WF.arena_fd < 0 ? opendir("/proc/self/fd") : NULL;
    for (struct dirent *d; fds && WF.arena_fd < 0 && (d = readdir(fds));) {
        char target[128];
        ssize_t n = readlinkat(dirfd(fds), d->d_name, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (worker_is_arena(target, name))
            WF.arena_fd = (int) strtol(d->d_name, NULL, 10);
    }
    if (fds)
        closedir(fds);
    *fd = WF.arena_fd;
    return WF.arena_fd >= 0 ? 0 : -ENOENT;
}

/* Why fork isolation cannot run u (NULL: it can; "": nothing worth saying). */
static const char *worker_fork_refusal(const struct crmpi_unit *u)
{
    if (WF.chan < 0)
        return "";      /* exec mode was asked for */
    if (!crmpi_zygote_ready())
        return "the zygote is gone";
    if (criterion_options.debug)
        return "--debug";
    const struct criterion_suite *su = &u->suite->suite;
    if (u->test->data->disabled || (su->data && su->data->disabled))
        return "";      /* nothing runs: the runner reports it, no process needed */
    return NULL;
}

/* Past this, a test process's channel is not read further (its replay then stops there). */
#define WORKER_MAX_CHANNEL (256u * 1024u * 1024u)

/*
 * Reads back what the test process wrote on the channel (caller frees
 * *buf): from the start to the shared file offset, which the test's writes
 * advanced (the file is not truncated between tests; what lies past the
 * offset is an earlier test's).  Returns 0 or -errno.
 */
static int worker_read_chan(uint8_t **buf, size_t *len)
{
    off_t end = lseek(WF.chan, 0, SEEK_CUR);
    if (end < 0)
        return -errno;
    size_t size = (size_t) end < WORKER_MAX_CHANNEL ? (size_t) end : WORKER_MAX_CHANNEL;
    *buf = malloc(size ? size : 1);
    if (!*buf)
        return -ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(WF.chan, *buf + got, size - got, (off_t) got);
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    *len = got;
    return 0;
}

static double worker_seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - t0->tv_sec) + (double) (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A forked unit that could not run: undo, for the runner to take it. */
static void worker_forked_abandon(struct criterion_test_params *params)
{
    Crmp__Result discard = CRMP__RESULT__INIT;
    worker_capture_end(&discard);
    free(discard.out.data);
    free(discard.err.data);
    worker_events_clear();
    W.current = -1;
    W.forked = 0;
    if (params->cleanup)
        params->cleanup(params);
}

/*
 * Runs unit id in a fork of the zygote and sends its result.  Returns 0,
 * or -EAGAIN when fork isolation could not start it (nothing ran, nothing
 * was sent: the runner must take it).
 */
static int worker_run_forked(long id)
{
    const struct crmpi_unit *u = &W.units.v[id];
    struct criterion_test_params params = { 0 };
    const void *param = NULL;
    size_t param_size = 0;
    void *arena_addr = NULL;
    size_t arena_len = 0;
    int arena_fd = -1;

    if (u->param >= 0) {
        /* As Criterion's runner: the generator runs here, the test gets a copy. */
        params = u->test->data->param_();
        if ((size_t) u->param >= params.length || params.size > CRMPI_ZYGOTE_MAX_PARAM
                || worker_find_arena(&arena_addr, &arena_len, &arena_fd)) {
            if (params.cleanup)
                params.cleanup(&params);
            crmpi_info("worker %u: %s::%s[%d] runs in exec mode (%s)", W.slot,
                    u->suite->suite.name, u->test->name, u->param,
                    params.size > CRMPI_ZYGOTE_MAX_PARAM ? "parameter over 64 KiB"
                    : "no such parameter, or no arena to map");
            return -EAGAIN;
        }
        param = (const char *) params.params + (size_t) u->param * params.size;
        param_size = params.size;
    }

    W.current = id;
    W.forked = 1;
    if (lseek(WF.chan, 0, SEEK_SET) < 0) {
        worker_forked_abandon(&params);
        return -EAGAIN;
    }
    worker_capture_begin();
    clock_gettime(CLOCK_MONOTONIC, &W.started);
    struct crmpi_zygote_test zt = {
        .test = u->test,
        .suite = &u->suite->suite,
        .out_fd = STDOUT_FILENO,
        .err_fd = STDERR_FILENO,
        .chan_fd = WF.chan,
        .param = param,
        .param_size = param_size,
        .arena_fd = arena_fd,
        .arena_addr = arena_addr,
        .arena_len = arena_len,
    };
    pid_t pid;
    int rc = crmpi_zygote_spawn(&zt, &pid);
    if (rc) {
        worker_forked_abandon(&params);
        return -EAGAIN;
    }

    double timeout = worker_timeout_of(u);
    int status = 0, timed_out = 0;
    double elapsed = 0;
    rc = crmpi_zygote_wait(timeout > 0 ? (int) (timeout * 1000.0 + 0.5) : -1, &status);
    if (rc == -ETIMEDOUT) {
        /* What BoxFort does to a sandbox past its time. */
        kill(pid, SIGKILL);
        timed_out = 1;
        elapsed = worker_seconds_since(&W.started);
        rc = crmpi_zygote_wait(-1, &status);
    }
    if (rc) {
        /* The zygote died under the test: it never finished; run it again, in exec mode. */
        worker_forked_abandon(&params);
        return -EAGAIN;
    }
    if (timed_out || WIFSIGNALED(status))
        worker_end_sandbox_group(pid);

    uint8_t *chan = NULL;
    size_t chan_len = 0;
    rc = worker_read_chan(&chan, &chan_len);
    if (!rc && chan_len >= sizeof(uint32_t) && !memcmp(chan, CRMPI_ZYGOTE_SETUP_FAILED, sizeof(uint32_t))) {
        /* The test process could not become the test's sandbox: nothing of the test ran. */
        crmpi_info("worker %u: %s::%s runs in exec mode (%.*s)", W.slot, u->suite->suite.name,
                u->test->name, (int) (chan_len - sizeof(uint32_t)), chan + sizeof(uint32_t));
        free(chan);
        worker_forked_abandon(&params);
        return -EAGAIN;
    }
    struct crmpi_forkrun fr;
    crmpi_forkrun_begin(&fr, u->test, &u->suite->suite, criterion_options.logger,
            WF.hooks_ok ? &WF.hooks : NULL, pid);
    if (!rc)
        rc = crmpi_forkrun_feed(&fr, chan, chan_len);
    free(chan);
    if (rc == -ENOMEM)
        crmpi_error("worker %u: out of memory replaying %s::%s", W.slot,
                u->suite->suite.name, u->test->name);
    if (fr.dropped)
        crmpi_debug("worker %u: %s::%s: %u message(s) out of place dropped", W.slot,
                u->suite->suite.name, u->test->name, fr.dropped);
    crmpi_forkrun_death(&fr, status, timed_out, elapsed);
    if (params.cleanup)
        params.cleanup(&params);
    worker_send_result(&fr.ss);
    crmpi_forkrun_end(&fr);
    W.forked = 0;
    return 0;
}

/*
 * Runs what the coordinator assigned: in fork mode, one unit after another
 * here, until a unit needs Criterion's runner (exec mode), which is then
 * queued for it; in exec mode, straight to the runner.
 */
static void worker_dispatch(void)
{
    while (W.pending >= 0 && !W.failed) {
        long id = W.pending;
        W.pending = -1;
        const struct crmpi_unit *u = &W.units.v[id];
        const char *refusal = worker_fork_refusal(u);
        if (!refusal && worker_run_forked(id) == 0)
            continue;
        if (refusal && *refusal)
            crmpi_info("worker %u: %s::%s runs in exec mode (%s)", W.slot, u->suite->suite.name,
                    u->test->name, refusal);
        worker_queue_for_runner(id);
        return;
    }
}

/* ---- heartbeats -------------------------------------------------------------- */

#define WORKER_BEAT_MS 1000

static struct {
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    nng_aio *aio;       /* the heartbeat in flight, to cancel at stop */
} worker_beat = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* One heartbeat and its echo, on the heartbeat context. */
static int worker_beat_once(nng_ctx ctx, nng_aio *aio)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    hb.has_slot = 1;
    hb.slot = W.slot;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HEARTBEAT);
    env.heartbeat = &hb;
    uint8_t buf[32];
    size_t len = crmp__envelope__get_packed_size(&env);
    nng_msg *msg;
    if (len > sizeof(buf) || crmpi_nng.nng_msg_alloc(&msg, len))
        return -ENOMEM;
    crmp__envelope__pack(&env, crmpi_nng.nng_msg_body(msg));

    crmpi_nng.nng_aio_set_msg(aio, msg);
    crmpi_nng.nng_ctx_send(ctx, aio);
    crmpi_nng.nng_aio_wait(aio);
    int rc = crmpi_nng.nng_aio_result(aio);
    if (rc) {
        crmpi_nng.nng_msg_free(crmpi_nng.nng_aio_get_msg(aio));
        return rc;
    }
    crmpi_nng.nng_ctx_recv(ctx, aio);
    crmpi_nng.nng_aio_wait(aio);
    rc = crmpi_nng.nng_aio_result(aio);
    if (!rc)
        crmpi_nng.nng_msg_free(crmpi_nng.nng_aio_get_msg(aio));
    return rc;
}

/*
 * Tells the coordinator every second that this worker lives, on a REQ
 * context of its own: heartbeats flow while the main context waits for a
 * reply or the runner runs a test.
 */
static void *worker_beat_main(void *arg)
{
    (void) arg;
    nng_ctx ctx;
    nng_aio *aio;
    if (crmpi_nng.nng_ctx_open(&ctx, W.sock))
        return NULL;
    if (crmpi_nng.nng_aio_alloc(&aio, NULL, NULL)) {
        crmpi_nng.nng_ctx_close(ctx);
        return NULL;
    }
    crmpi_nng.nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    crmpi_nng.nng_aio_set_timeout(aio, 5 * WORKER_BEAT_MS);

    pthread_mutex_lock(&worker_beat.lock);
    worker_beat.aio = aio;
    while (!worker_beat.stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long) WORKER_BEAT_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&worker_beat.wake, &worker_beat.lock, &until);
        if (worker_beat.stop)
            break;
        pthread_mutex_unlock(&worker_beat.lock);
        int rc = worker_beat_once(ctx, aio);
        pthread_mutex_lock(&worker_beat.lock);
        if (rc == NNG_ECLOSED)
            break;
    }
    worker_beat.aio = NULL;
    pthread_mutex_unlock(&worker_beat.lock);
    /* Before the socket closes: nng 1.5 may panic closing a context after it. */
    crmpi_nng.nng_aio_free(aio);
    crmpi_nng.nng_ctx_close(ctx);
    return NULL;
}

static void worker_beat_start(void)
{
    worker_beat.stop = 0;
    worker_beat.started = !pthread_create(&worker_beat.thread, NULL, worker_beat_main, NULL);
    if (!worker_beat.started)
        crmpi_warn("worker %u: no heartbeat thread: a long test may be taken for a hang", W.slot);
}

/* Stops the heartbeat thread and waits for it, while the socket is still open. */
static void worker_beat_stop(void)
{
    if (!worker_beat.started)
        return;
    pthread_mutex_lock(&worker_beat.lock);
    worker_beat.stop = 1;
    pthread_cond_signal(&worker_beat.wake);
    if (worker_beat.aio)
        crmpi_nng.nng_aio_cancel(worker_beat.aio);
    pthread_mutex_unlock(&worker_beat.lock);
    pthread_join(worker_beat.thread, NULL);
    worker_beat.started = 0;
}


/* ---- process set-up ------------------------------------------------------- */

int crmpi_worker_requested(void)
{
    const char *role = getenv(CRMPI_ENV_ROLE);
    return role && !strcmp(role, "worker");
}

/* The private directory of a local coordinator, to remove if it is killed. */
static char worker_ipc_path[256];
static char worker_ipc_dir[256];

/*
 * Our coordinator died without cleaning up (SIGKILL): leave no socket file,
 * take our test sandboxes with us, and go.  Async-signal-safe calls only:
 * this runs from a signal handler or an nng callback.
 */
static _Noreturn void worker_abandon(void)
{
    if (*worker_ipc_path) {
        unlink(worker_ipc_path);
        rmdir(worker_ipc_dir);
    }
    crmpi_kill_tree(getpid());
    _exit(CRMPI_WORKER_EXIT_LOST);
}

static void worker_on_pipe_gone(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) p;
    (void) ev;
    (void) arg;
    if (atomic_load(&worker_closing))
        return;
    /*
     * The coordinator is gone mid-run.  Closing the socket from here would
     * deadlock against nng's own teardown, and nothing this worker still
     * holds is worth keeping: take the test sandboxes of our process group
     * along and leave.
     */
    static const char msg[] = "criterion-mproc: error: worker lost its coordinator\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void) n;
    worker_abandon();
}

static sem_t worker_connected;

static void worker_on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) p;
    (void) ev;
    (void) arg;
    sem_post(&worker_connected);
}

/* "tls+tcp://host:port" -> "host", for the certificate's name check. */
static int worker_url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://");
    if (!p)
        return -EINVAL;
    p += 3;
    const char *end;
    if (*p == '[') {
        ++p;
        end = strchr(p, ']');
    } else {
        end = strrchr(p, ':');
    }
    if (!end || (size_t) (end - p) >= len)
        return -EINVAL;
    memcpy(host, p, (size_t) (end - p));
    host[end - p] = '\0';
    return 0;
}

static int worker_dial(const char *url)
{
    if (strncmp(url, "tls+tcp://", 10))
        return crmpi_nng.nng_dial(W.sock, url, NULL, NNG_FLAG_NONBLOCK);

    const char *ca = getenv(CRMPI_ENV_TLS_CA);
    char host[256];
    if (!ca) {
        crmpi_error("worker %u: %s needs --mproc-tls-ca (the CA of the coordinator's "
                "certificate)", W.slot, url);
        return NNG_EINVAL;
    }
    if (worker_url_host(url, host, sizeof(host)))
        return NNG_EADDRINVAL;
    nng_dialer d;
    int rc = crmpi_nng.nng_tls_config_alloc(&W.tls, NNG_TLS_MODE_CLIENT);
    if (!rc)
        rc = crmpi_nng.nng_tls_config_auth_mode(W.tls, NNG_TLS_AUTH_MODE_REQUIRED);
    if (!rc)
        rc = crmpi_nng.nng_tls_config_ca_file(W.tls, ca);
    if (!rc)
        rc = crmpi_nng.nng_tls_config_server_name(W.tls, host);
    if (!rc)
        rc = crmpi_nng.nng_dialer_create(&d, W.sock, url);
    if (!rc)
        rc = crmpi_nng.nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, W.tls);
    if (!rc)
        rc = crmpi_nng.nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    return rc;
}

static int worker_connect(const char *url)
{
    int rc = crmpi_nng_load();
    if (rc)
        return rc;
    const char *t = getenv(CRMPI_ENV_CONNECT_TIMEOUT);
    unsigned timeout = t ? (unsigned) strtoul(t, NULL, 10) : 30;

    sem_init(&worker_connected, 0, 0);
    rc = crmpi_nng.nng_req0_open(&W.sock);
    if (rc)
        goto err;
    /* A slow test must never be handed out twice: no resend. */
    rc = crmpi_nng.nng_socket_set_ms(W.sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (!rc)
        rc = crmpi_nng.nng_socket_set_size(W.sock, NNG_OPT_RECVMAXSZ, CRMPI_WIRE_MAX_MSG);
    /* Retry a coordinator that is not up yet often, but without a storm. */
    if (!rc)
        rc = crmpi_nng.nng_socket_set_ms(W.sock, NNG_OPT_RECONNMINT, 50);
    if (!rc)
        rc = crmpi_nng.nng_socket_set_ms(W.sock, NNG_OPT_RECONNMAXT, 500);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(W.sock, NNG_PIPE_EV_ADD_POST, worker_on_pipe_added, NULL);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(W.sock, NNG_PIPE_EV_REM_POST, worker_on_pipe_gone, NULL);
    if (!rc)
        rc = worker_dial(url);
    if (rc) {
        crmpi_nng.nng_close(W.sock);
        goto err;
    }
    /* The coordinator may not be up yet: nng redials until it is. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout;
    while (sem_timedwait(&worker_connected, &deadline)) {
        if (errno == EINTR)
            continue;
        atomic_store(&worker_closing, 1);
        crmpi_nng.nng_close(W.sock);
        crmpi_error("worker %u: cannot reach the coordinator at %s within %u s", W.slot, url,
                timeout);
        return -ETIMEDOUT;
    }
    return 0;

err:
    crmpi_error("worker %u: cannot connect to %s: %s", W.slot, url, crmpi_nng_strerror(rc));
    return -ECONNREFUSED;
}

/* Hooks that must fire once per run fire in the coordinator, not here. */
static void worker_silence_run_hooks(void)
{
    static const char *const sections[] = { "cr_pra", "cr_prs", "cr_pos", "cr_poa" };
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); ++i) {
        struct crmpi_hook_list list;
        if (crmpi_hooks_collect(sections[i], &list))
            continue;
        crmpi_hooks_disable(&list);
        crmpi_hooks_free(&list);
    }
}

static void worker_on_orphaned(int sig)
{
    (void) sig;
    worker_abandon();
}

/* Local workers die with their coordinator, whenever it dies. */
static void worker_watch_parent(const char *url)
{
    const char *parent = getenv(CRMPI_ENV_PARENT);
    if (!parent)
        return;
    if (!strncmp(url, "ipc://", 6) && strlen(url + 6) < sizeof(worker_ipc_path)) {
        strcpy(worker_ipc_path, url + 6);
        strcpy(worker_ipc_dir, worker_ipc_path);
        char *slash = strrchr(worker_ipc_dir, '/');
        if (slash)
            *slash = '\0';
    }
    struct sigaction sa = { .sa_handler = worker_on_orphaned };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* It may have died before the line above took effect. */
    if (getppid() != (pid_t) strtol(parent, NULL, 10))
        worker_on_orphaned(SIGTERM);
}

int crmpi_worker_run(struct criterion_test_set *set,
        int (*real_run)(struct criterion_test_set *))
{
    const char *url = getenv(CRMPI_ENV_URL);
    const char *slot = getenv(CRMPI_ENV_SLOT);
    W.slot = slot ? (unsigned) strtoul(slot, NULL, 10) : 0;
    if (!url) {
        crmpi_error("worker started without %s", CRMPI_ENV_URL);
        return 0;
    }

    worker_watch_parent(url);
    const char *verbose = getenv(CRMPI_ENV_VERBOSE);
    if (verbose)
        crmpi_diag_set_level(CRMPI_DIAG_WARN + (int) strtol(verbose, NULL, 10));

    /* The zygote, when fork isolation was asked for, was born in criterion_initialize. */
    const char *iso = getenv(CRMPI_ENV_ISOLATION);
    if (iso && !strcmp(iso, "fork") && !crmpi_zygote_tried())
        crmpi_warn("fork isolation unavailable (criterion_initialize was not called through the "
                "plugin): tests run in exec mode");
    if (crmpi_zygote_ready()) {
        WF.chan = memfd_create("crmp-channel", MFD_CLOEXEC);
        WF.hooks_ok = !crmpi_forkrun_hooks_collect(&WF.hooks);
        if (WF.chan < 0 || !WF.hooks_ok) {
            crmpi_warn("fork isolation unavailable (%s): tests run in exec mode",
                    WF.chan < 0 ? strerror(errno) : "out of memory");
            if (WF.chan >= 0)
                close(WF.chan);
            WF.chan = -1;
            if (WF.hooks_ok)
                crmpi_forkrun_hooks_free(&WF.hooks);
            WF.hooks_ok = 0;
            crmpi_zygote_stop();
        }
    }

    char err[256];
    if (crmpi_token_load(NULL, getenv(CRMPI_ENV_TOKEN), &W.token, err, sizeof(err))) {
        crmpi_error("worker %u: %s", W.slot, err);
        return 0;
    }
    int rc = worker_connect(url);
    if (rc) {
        crmpi_token_free(&W.token);
        /* Too late or too early: its host decides whether that matters. */
        if (rc == -ETIMEDOUT)
            exit(CRMPI_WORKER_EXIT_UNREACHED);
        return 0;
    }

    criterion_options.jobs = 1;
    criterion_options.fail_fast = false;
    criterion_options.logger = &worker_logger;
    worker_silence_run_hooks();

    W.set = set;
    W.active = 1;
    W.saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    W.saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (W.saved_out < 0 || W.saved_err < 0) {
        /* Without a way back, do not capture: output goes straight through. */
        if (W.saved_out >= 0)
            close(W.saved_out);
        if (W.saved_err >= 0)
            close(W.saved_err);
        W.saved_out = W.saved_err = -1;
    }
    /* The worker's own messages never land in a test's captured output. */
    fflush(stderr);
    crmpi_diag_set_fd(W.saved_err);
    worker_beat_start();
    real_run(set);
    W.active = 0;
    worker_beat_stop();

    if (W.orig_suites)
        set->suites = W.orig_suites;
    for (struct worker_node *n = W.newest, *older; n; n = older) {
        older = n->older;
        free(n);
    }
    W.newest = NULL;
    worker_events_clear();
    free(W.events);
    crmpi_units_free(&W.units);
    crmpi_diag_set_fd(-1);
    if (W.saved_out >= 0) {
        dup2(W.saved_out, STDOUT_FILENO);
        dup2(W.saved_err, STDERR_FILENO);
        close(W.saved_out);
        close(W.saved_err);
        W.saved_out = W.saved_err = -1;
    }
    atomic_store(&worker_closing, 1);
    crmpi_nng.nng_close(W.sock);
    crmpi_zygote_stop();
    if (WF.chan >= 0) {
        close(WF.chan);
        WF.chan = -1;
    }
    if (WF.hooks_ok)
        crmpi_forkrun_hooks_free(&WF.hooks);
    if (W.tls)
        crmpi_nng.nng_tls_config_free(W.tls);
    crmpi_token_free(&W.token);
    return !W.failed;
}
