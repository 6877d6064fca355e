#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/logging.h>
#include <criterion/options.h>
/* criterion.h first: 2.3.3's parameterized.h defines Test() its own way. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "abandon.h"
#include "artifacts_send.h"
#include "crit.h"
#include "critglob.h"
#include "diag.h"
#include "options.h"
#include "events.h"
#include "fixtures.h"
#include "forkmode.h"
#include "hooks.h"
#include "leaks.h"
#include "proc.h"
#include "reaper.h"
#include "session.h"
#include "testenv.h"
#include "testfault.h"
#include "units.h"
#include "wire.h"
#include "worker.h"
#include "worker_i.h"
#include "zygote.h"

/* A unit handed to the runner, in our own list for freeing. */
struct worker_node {
    struct worker_node *older;
    struct crmpi_crit_unit_node unit;
};

static struct worker_state {
    int active;                     /* inside crmpi_worker_run */
    int failed;                     /* lost or refused by the coordinator */
    unsigned slot;
    struct crmpi_session session;
    struct criterion_test_set *set;
    struct criterion_ordered_set *orig_suites;
    struct criterion_ordered_set dyn_suites_storage;
    struct crmpi_units units;
    struct worker_node *newest;     /* the unit the runner is on */
    struct worker_node *bootstrap;  /* the empty first suite, where cr_malloc is late */
    long current;                   /* the unit being run, -1 when none */
    long pending;                   /* assigned, not started yet, -1 when none */
    volatile pid_t sandbox;         /* the process running it, when known */
    int forked;                     /* the unit runs in fork isolation */
    int fixtures_begun;             /* the worker fixtures were set up, or tried */
    char *fixture_note;             /* owned: where a setup that crashes is named, or NULL */
    int saved_out, saved_err;       /* the worker's own stdout/stderr, -1 when not capturing */
    int cap_out, cap_err;           /* memfds the current test writes to, or -1 */
    const uint64_t *replay_at;      /* fork mode's replay: where its record says the output was */
    struct timespec started;
    struct crmpi_events events;     /* of the current unit */
    int artifacts;                  /* the coordinator wants artifacts (the last Assign said) */
    uint64_t artifacts_max;         /* at most this many bytes a test */

    /* Parameter of the unit being run (see worker_param_one). */
    struct criterion_test_params (*param_fn)(void);
    int param_index;
    struct criterion_test_params param_all;
} worker_state = { .current = -1, .pending = -1, .saved_out = -1, .saved_err = -1,
                   .cap_out = -1, .cap_err = -1 };

/* ---- a parameterized unit runs exactly one parameter ------------------- */

static void worker_param_cleanup(struct criterion_test_params *one)
{
    (void) one;
    if (worker_state.param_all.cleanup)
        worker_state.param_all.cleanup(&worker_state.param_all);
    worker_state.param_all = (struct criterion_test_params) { 0 };
}

/*
 * Stands in for the test's generator: the runner iterates what we return,
 * so return the one parameter this unit is about.  The runner copies the
 * parameter's bytes into the sandbox, exactly as for the whole array.
 */
static struct criterion_test_params worker_param_one(void)
{
    struct worker_state *w = &worker_state;
    w->param_all = w->param_fn();
    struct criterion_test_params one = {
        .size = w->param_all.size,
        .length = 0,
        .cleanup = worker_param_cleanup,
    };
    if ((size_t) w->param_index < w->param_all.length) {
        one.params = (char *) w->param_all.params + (size_t) w->param_index * w->param_all.size;
        one.length = 1;
    }
    return one;
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
    struct worker_state *w = &worker_state;
    if (w->saved_out < 0 || criterion_options.logging_threshold == CRITERION_LOG_LEVEL_QUIET)
        return;
    fflush(stdout);
    fflush(stderr);
    w->cap_out = memfd_create("crmp-stdout", MFD_CLOEXEC);
    w->cap_err = memfd_create("crmp-stderr", MFD_CLOEXEC);
    if (w->cap_out < 0 || w->cap_err < 0 || dup2(w->cap_out, STDOUT_FILENO) < 0
            || dup2(w->cap_err, STDERR_FILENO) < 0) {
        /* Without a capture, output goes straight through. */
        if (dup2(w->saved_out, STDOUT_FILENO) < 0 || dup2(w->saved_err, STDERR_FILENO) < 0)
            crmpi_warn("worker %u: cannot restore stdout/stderr: %s", w->slot, strerror(errno));
        if (w->cap_out >= 0)
            close(w->cap_out);
        if (w->cap_err >= 0)
            close(w->cap_err);
        w->cap_out = w->cap_err = -1;
    }
}

/*
 * Where the test's output stands as an event is recorded.  Criterion's
 * runner logs an event while the test waits for its acknowledgement, and
 * the events after the test's end once it has ended: the capture files'
 * sizes right now say how much of the output precedes the event.  A
 * fork-mode replay comes after the fact: each record says where it was sent.
 */
static int worker_output_at(void *arg, uint64_t at[2])
{
    (void) arg;
    struct worker_state *w = &worker_state;
    if (w->cap_out < 0)
        return 0;
    if (w->replay_at) {
        at[0] = w->replay_at[0];
        at[1] = w->replay_at[1];
        return 1;
    }
    struct stat out, err;
    if (fstat(w->cap_out, &out) || fstat(w->cap_err, &err))
        return 0;
    at[0] = (uint64_t) out.st_size;
    at[1] = (uint64_t) err.st_size;
    return 1;
}

void crmpi_worker_unit_output_at(const uint64_t *at)
{
    worker_state.replay_at = at;
}

/*
 * Reads a capture back into a malloc'd buffer (the result owns it) and
 * closes it.  Returns how many bytes of the output it kept (the buffer may
 * add a note that the rest was cut).
 */
static size_t worker_capture_take(int *fd, ProtobufCBinaryData *into, protobuf_c_boolean *has)
{
    size_t kept = 0;
    if (*fd < 0)
        return 0;
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
            kept = (size_t) n;
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
    return kept;
}

static void worker_capture_end(Crmp__Result *res)
{
    struct worker_state *w = &worker_state;
    if (w->cap_out < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    if (dup2(w->saved_out, STDOUT_FILENO) < 0 || dup2(w->saved_err, STDERR_FILENO) < 0)
        crmpi_warn("worker %u: cannot restore stdout/stderr: %s", w->slot, strerror(errno));
    size_t kept[2];
    kept[0] = worker_capture_take(&w->cap_out, &res->out, &res->has_out);
    kept[1] = worker_capture_take(&w->cap_err, &res->err, &res->has_err);
    size_t len[2] = { res->has_out ? res->out.len : 0, res->has_err ? res->err.len : 0 };
    crmpi_events_clamp_output(&w->events, kept, len);
}

/* ---- the current unit --------------------------------------------------------- */

unsigned crmpi_worker_slot(void)
{
    return worker_state.slot;
}

static void worker_set_current(long id)
{
    worker_state.current = id;
    worker_state.replay_at = NULL;
    crmpi_events_record(id >= 0 ? &worker_state.events : NULL);
}

void crmpi_worker_unit_begin(long id)
{
    struct worker_state *w = &worker_state;
    const struct crmpi_unit *u = &w->units.v[id];
    worker_set_current(id);
    w->sandbox = 0;
    /* A disabled test never runs: nothing to capture, no directory. */
    if (!crmpi_crit_disabled(&u->suite->suite, u->test)) {
        crmpi_testenv_unit_begin(u->suite->suite.name, u->test->name);
        worker_capture_begin();
    }
    clock_gettime(CLOCK_MONOTONIC, &w->started);
}

void crmpi_worker_unit_sandbox(pid_t pid)
{
    worker_state.sandbox = pid;
    worker_state.forked = 1;
}

double crmpi_worker_unit_elapsed(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - worker_state.started.tv_sec)
        + (double) (now.tv_nsec - worker_state.started.tv_nsec) / 1e9;
}

void crmpi_worker_unit_abandon(void)
{
    Crmp__Result discard = CRMP__RESULT__INIT;
    worker_capture_end(&discard);
    free(discard.out.data);
    free(discard.err.data);
    crmpi_testenv_unit_discard();
    crmpi_events_clear(&worker_state.events);
    worker_set_current(-1);
    worker_state.sandbox = 0;
    worker_state.forked = 0;
}

/* Stops at the first child that is not the zygote (a fork-mode worker's zygote is a child too). */
static int worker_sandbox_child(pid_t child, void *arg)
{
    if (child == crmpi_zygote_pid())
        return 0;
    *(pid_t *) arg = child;
    return 1;
}

/*
 * The sandbox running the current test: the one child of our main thread
 * (the runner runs one test at a time here, and forks from that thread).
 * 0 when there is none or /proc cannot tell.
 */
static pid_t worker_current_sandbox(void)
{
    pid_t sandbox = 0;
    if (crmpi_proc_children(getpid(), worker_sandbox_child, &sandbox) < 0)
        return 0;
    return sandbox;
}

/*
 * A test that timed out or crashed may leave processes it forked behind,
 * in its process group (the sandbox is a session leader): Criterion kills
 * only the sandbox.  SIGTERM the group, give it a grace period, then
 * SIGKILL what is left.
 */
/*
 * As a subreaper, we inherit what a test's processes left when their parent
 * died: reap those of the test's group, or they live on as zombies (and
 * kill(-pgid, 0) never says the group is gone).  The test process itself was
 * reaped by its own parent (BoxFort or the zygote) before we get here.
 */
static void worker_reap_group(pid_t pgid)
{
    while (waitpid(-pgid, NULL, WNOHANG) > 0)
        continue;
}

void crmpi_worker_end_group(pid_t pgid)
{
    if (pgid <= 0 || kill(-pgid, SIGTERM))
        return;
    for (int i = 0; i < 50; ++i) {
        struct timespec tick = { .tv_nsec = 20 * 1000 * 1000 };
        worker_reap_group(pgid);
        if (kill(-pgid, 0))
            return;
        nanosleep(&tick, NULL);
    }
    kill(-pgid, SIGKILL);
    for (int i = 0; i < 50 && !kill(-pgid, 0); ++i) {
        struct timespec tick = { .tv_nsec = 20 * 1000 * 1000 };
        worker_reap_group(pgid);
        nanosleep(&tick, NULL);
    }
}

/* The exec-mode sandbox of the current unit, when the runner announces it. */
static void worker_on_pre_init(void *arg)
{
    (void) arg;
    if (!worker_state.forked)
        worker_state.sandbox = worker_current_sandbox();
}


/* ---- following the coordinator ---------------------------------------------------- */

/* What the global fixtures published (a remote worker's first Assign): into our environment. */
static void worker_take_globals(const Crmp__Assign *a)
{
    struct crmpi_fixture_kv kv = { 0 };
    int rc = 0;
    for (size_t i = 0; !rc && i < a->n_globals; ++i)
        rc = crmpi_fixture_kv_add(&kv, a->globals[i]->key, a->globals[i]->value);
    if (!rc)
        rc = crmpi_fixture_kv_to_env(&kv);
    if (rc)
        crmpi_warn("worker %u: cannot take the global fixtures' values: %s", worker_state.slot,
                strerror(-rc));
    crmpi_fixture_kv_free(&kv);
    if (a->fixture_failed && !crmpi_fixtures_failed())
        setenv(CRMP_FIXTURE_FAILED_ENV, a->fixture_failed, 1);
}

/*
 * Acts on the coordinator's answer: an Assign makes the assigned unit the
 * next to run (see worker_dispatch); anything else ends this worker's run.
 * Takes ownership of reply.
 */
static void worker_follow(Crmp__Envelope *reply)
{
    struct worker_state *w = &worker_state;
    while (reply) {
        Crmp__Envelope *next = NULL;
        switch (reply->body_case) {
        case CRMP__ENVELOPE__BODY_ASSIGN: {
            uint32_t id = reply->assign->unit;
            if (id >= w->units.n) {
                crmpi_error("worker %u: coordinator assigned unit %u of %zu", w->slot,
                        id, w->units.n);
                w->failed = 1;
                break;
            }
            w->pending = id;
            worker_take_globals(reply->assign);
            crmpi_testenv_set_keep(reply->assign->keep_tmp);
            crmpi_testenv_set_leaks(reply->assign->leaks);
            w->artifacts = reply->assign->has_artifacts_max;
            w->artifacts_max = reply->assign->artifacts_max;
            int rc = reply->assign->has_slot ? crmpi_testenv_set_slot(reply->assign->slot) : 0;
            if (rc)
                crmpi_warn("worker %u: cannot set %s: %s", w->slot, CRMPI_ENV_TEST_SLOT,
                        strerror(-rc));
            break;
        }
        case CRMP__ENVELOPE__BODY_STOP:
            break;
        case CRMP__ENVELOPE__BODY_LIST_WANTED:
            if (crmpi_session_hello(&w->session, &w->units, 1, &next))
                w->failed = 1;
            break;
        case CRMP__ENVELOPE__BODY_CHALLENGE:
            if (crmpi_session_answer(&w->session, reply->challenge, &next))
                w->failed = 1;
            break;
        case CRMP__ENVELOPE__BODY_REJECT:
            crmpi_error("worker %u: refused by the coordinator: %s", w->slot,
                    reply->reject->reason);
            w->failed = 1;
            break;
        default:
            crmpi_error("worker %u: unexpected %s from the coordinator", w->slot,
                    crmpi_wire_body_name(reply->body_case));
            w->failed = 1;
            break;
        }
        crmpi_wire_free(reply);
        reply = next;
    }
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
    c->warnings = worker_state.events.warnings;
    c->errors = worker_state.events.errors;
}

/* One piece of the current test's artifacts to the coordinator, answered by an ArtifactTaken. */
static int worker_send_artifact(void *arg, const Crmp__Artifact *a, int *enough)
{
    struct worker_state *w = arg;
    Crmp__Envelope env, *reply = NULL;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_ARTIFACT);
    env.artifact = (Crmp__Artifact *) a;
    int rc = crmpi_session_exchange(&w->session, &env, &reply);
    if (rc)
        return rc;
    if (reply->body_case == CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN) {
        *enough = reply->artifact_taken->enough;
    } else {
        crmpi_error("worker %u: unexpected %s from the coordinator", w->slot,
                crmpi_wire_body_name(reply->body_case));
        rc = -EPROTO;
    }
    crmpi_wire_free(reply);
    return rc;
}

/*
 * What the test left in CRITERION_MPROC_ARTIFACTS, to the coordinator before
 * its Result (when it wants them; the directory goes after the test either
 * way).  What was left out is said in notes.  Returns 0, or -errno when
 * the connection failed.
 */
static int worker_artifacts(struct crmpi_artifacts_notes *notes)
{
    struct worker_state *w = &worker_state;
    const char *dir = crmpi_testenv_artifacts();
    if (!w->artifacts || !dir)
        return 0;
    int rc = crmpi_artifacts_collect(dir, (uint32_t) w->current, w->artifacts_max,
            worker_send_artifact, w, notes);
    crmpi_artifacts_notes_finish(notes);
    return rc;
}

/* --mproc-leaks=fail: a test that passed but left processes running fails. */
static void worker_fail_for_leaks(Crmp__Result *result)
{
    Crmp__Counters *c = result->counters;
    if (c->tests_passed) {
        --c->tests_passed;
        ++c->tests_failed;
    }
    if (result->final && result->final->status == CR_STATUS_PASSED)
        result->final->status = CR_STATUS_FAILED;
    for (size_t i = 0; i < result->n_events; ++i) {
        Crmp__TestStats *st = result->events[i]->stats;
        if (st && st->status == CR_STATUS_PASSED)
            st->status = CR_STATUS_FAILED;
    }
}

void crmpi_worker_unit_result(const struct criterion_suite_stats *ss)
{
    struct worker_state *w = &worker_state;
    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    worker_counters(&counters, ss);
    /* What the test left running goes now: it is this test's, not the next one's. */
    struct crmpi_leaks leaks = { 0 };
    long n_leaked = crmpi_leaks_end(crmpi_zygote_pid(), w->sandbox, &leaks);
    if (n_leaked < 0)
        crmpi_warn("worker %u: out of memory describing a test's leftover processes", w->slot);

    /* The test's time ends here, before its artifacts travel. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* Its processes are gone: what it left in its artifact directory is final. */
    struct crmpi_artifacts_notes notes = { 0 };
    int rc = worker_artifacts(&notes);

    Crmp__Result result = CRMP__RESULT__INIT;
    worker_capture_end(&result);
    result.artifact_notes = notes.v;
    result.n_artifact_notes = notes.n;
    result.unit = (uint32_t) w->current;
    result.events = w->events.v;
    result.n_events = w->events.n;
    result.counters = &counters;
    /* A test a fixture failed for never ran: its directory holds nothing worth keeping. */
    result.kept_tmpdir = (char *) crmpi_testenv_unit_end(!crmpi_fixtures_failed()
            && (counters.tests_failed || counters.tests_crashed
                || (leaks.n && crmpi_testenv_leaks() == CRMPI_LEAKS_FAIL)));
    result.wall_ns = (uint64_t) (now.tv_sec - w->started.tv_sec) * 1000000000u
        + (uint64_t) (now.tv_nsec - w->started.tv_nsec);

    /* The one test of this suite: its final statistics and assertions. */
    const struct criterion_test_stats *ts = ss->tests;
    size_t n_asserts = 0;
    for (const struct criterion_assert_stats *a = ts ? ts->asserts : NULL; a; a = a->next)
        ++n_asserts;
    Crmp__AssertStats **asserts = calloc(n_asserts ? n_asserts : 1, sizeof(*asserts));
    if (!rc && !asserts)
        rc = -ENOMEM;
    for (const struct criterion_assert_stats *a = ts ? ts->asserts : NULL; !rc && a; a = a->next)
        if (!(asserts[result.n_asserts++] = crmpi_events_assert_stats(a)))
            rc = -ENOMEM;
    result.asserts = asserts;
    result.final = crmpi_events_test_stats(ts);
    if (!rc && ((ts && !result.final) || w->events.lost))
        rc = -ENOMEM;
    if (leaks.n && crmpi_testenv_leaks() != CRMPI_LEAKS_IGNORE) {
        result.leaked = leaks.cmds;
        result.n_leaked = leaks.n;
        result.has_leaked_count = 1;
        result.leaked_count = (uint32_t) (n_leaked > (long) leaks.n ? n_leaked : (long) leaks.n);
        if (crmpi_testenv_leaks() == CRMPI_LEAKS_FAIL)
            worker_fail_for_leaks(&result);
    }

    /* Each fact once, no zeros: a smaller message for the coordinator to take apart. */
    crmpi_events_share_final(&w->events, result.final);
    crmpi_wire_result_mark(&result);
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_RESULT);
    env.result = &result;

    worker_set_current(-1);
    w->sandbox = 0;
    w->forked = 0;
    Crmp__Envelope *reply = NULL;
    int sent = 0;
    if (rc == -ENOMEM)
        crmpi_error("worker %u: out of memory", w->slot);
    else if (rc)
        ;   /* the connection failed sending the artifacts: said already */
    else if (crmpi_session_fault_garbage())
        rc = crmpi_session_send_garbage(&w->session);
    else
        sent = !(rc = crmpi_session_send(&w->session, &env));

    /*
     * While the coordinator answers, off the path from this test's end to
     * the next one's start: what the result no longer needs goes, and the
     * test's directories (removing them is a journal update, a millisecond
     * on some file systems; keeping one was decided above).  In fork
     * isolation they go once the next test process has its test
     * (crmpi_forkmode_run), or when no next test comes.
     */
    for (size_t i = 0; asserts && i < result.n_asserts; ++i)
        crmpi_events_assert_stats_free(asserts[i]);
    free(asserts);
    free(result.out.data);
    free(result.err.data);
    crmpi_events_test_stats_free(result.final);
    crmpi_events_clear(&w->events);
    crmpi_leaks_free(&leaks);
    crmpi_artifacts_notes_free(&notes);
    if (!crmpi_zygote_ready())
        crmpi_testenv_unit_clean();

    if (sent)
        rc = crmpi_session_receive(&w->session, &reply);
    if (rc)
        w->failed = 1;
    else
        worker_follow(reply);
    if (w->pending < 0 || w->failed)
        crmpi_testenv_unit_clean();
}

/* ---- feeding Criterion's runner ------------------------------------------------------ */

/* Gives unit id to Criterion's runner: it runs it next, in exec mode. */
static void worker_queue_for_runner(long id)
{
    struct worker_state *w = &worker_state;
    const struct crmpi_unit *u = &w->units.v[id];
    struct worker_node *node = calloc(1, sizeof(*node));
    if (!node) {
        crmpi_error("worker %u: out of memory", w->slot);
        w->failed = 1;
        return;
    }
    /* The runner's sandbox starts at once: the last test's directories go first. */
    crmpi_testenv_unit_clean();
    crmpi_crit_unit_node_init(&node->unit, &u->suite->suite, u->test,
            crmpi_crit_timeout_of(&u->suite->suite, u->test));
    if (crmpi_fixtures_failed())
        crmpi_fixtures_fail_test(&node->unit.test, &node->unit.data);
    if (u->param >= 0) {
        w->param_fn = u->test->data->param_;
        w->param_index = u->param;
        node->unit.data.param_ = worker_param_one;
    }
    crmpi_crit_unit_node_append(&w->dyn_suites_storage, w->newest ? &w->newest->unit : NULL,
            &node->unit);
    node->older = w->newest;
    w->newest = node;
    crmpi_worker_unit_begin(id);
}

/*
 * Before the first test: the worker fixtures, unless the zygote ran them
 * (fork isolation) or a wider fixture failed.  A failure fails every test.
 */
static void worker_fixtures_begin(void)
{
    struct worker_state *w = &worker_state;
    if (w->fixtures_begun)
        return;
    w->fixtures_begun = 1;
    const char *failed;
    char msg[1024];
    /* Claimed in criterion_initialize, unless a custom main went round the plugin's. */
    int rc = crmpi_fixtures_claim();
    if (rc < 0)
        crmpi_warn("worker %u: cannot read the fixtures: %s", w->slot, strerror(-rc));
    if (crmpi_fixtures_failed() || !crmpi_fixtures_any(CRMP_FIXTURE_WORKER))
        return;
    if (crmpi_zygote_run_fixtures(&failed)) {
        if (failed)
            crmpi_fixtures_set_failed(failed);
        return;
    }
    /*
     * A crash takes this worker down: the note tells whoever waits for it
     * (the coordinator, or the worker host on another host) which setup it
     * was, and a coordinator on another host, which cannot read the note,
     * hears from us first that a death now is the fixture's.
     */
    if (crmpi_session_fixture(&w->session, 1)) {
        w->failed = 1;
        return;
    }
    if (crmpi_fixtures_setup_noted(w->fixture_note, msg, sizeof(msg)))
        crmpi_fixtures_set_failed(msg);
    if (crmpi_session_fixture(&w->session, 0))
        w->failed = 1;
}

/*
 * Runs what the coordinator assigned: in fork mode, one unit after another
 * here, until a unit needs Criterion's runner (exec mode), which is then
 * queued for it; in exec mode, straight to the runner.
 */
static void worker_dispatch(void)
{
    struct worker_state *w = &worker_state;
    if (w->pending >= 0 && !w->failed)
        worker_fixtures_begin();
    while (w->pending >= 0 && !w->failed) {
        long id = w->pending;
        w->pending = -1;
        const struct crmpi_unit *u = &w->units.v[id];
        /* A test a fixture failed for fails in Criterion's runner, with the message. */
        const char *refusal = crmpi_fixtures_failed() ? "" : crmpi_forkmode_refusal(u);
        if (!refusal && crmpi_forkmode_run(id, u) == 0)
            continue;
        if (refusal && *refusal)
            crmpi_info("worker %u: %s::%s runs in exec mode (%s)", w->slot, u->suite->suite.name,
                    u->test->name, refusal);
        worker_queue_for_runner(id);
        return;
    }
}

/* Enumerates the units (parameter generators included), says hello, runs the first. */
static void worker_start(void)
{
    struct worker_state *w = &worker_state;
    int rc = crmpi_units_enumerate(w->orig_suites, &w->units);
    if (rc) {
        crmpi_error("worker %u: cannot enumerate the tests: %s", w->slot, strerror(-rc));
        w->failed = 1;
        return;
    }
    /*
     * Slot 0 is the worker the coordinator starts first, whose list it
     * adopts: sending it now saves the ListWanted round trip.  Every other
     * worker sends a fixed-size hello, whatever the number of tests.
     */
    Crmp__Envelope *reply;
    crmpi_testfault_before_hello(w->slot);
    if (crmpi_session_hello(&w->session, &w->units, w->slot == 0, &reply)) {
        w->failed = 1;
        return;
    }
    worker_follow(reply);
    worker_dispatch();
}

void crmpi_worker_on_pre_all(struct criterion_test_set *set)
{
    struct worker_state *w = &worker_state;
    if (!w->active)
        return;

    /* Now, after the --filter pass: take over. */
    w->orig_suites = set->suites;
    set->suites = &w->dyn_suites_storage;

    const struct crmpi_release *rel = crmpi_release_loaded();
    if (!rel || !rel->alloc_after_pre_all) {
        worker_start();
        return;
    }
    /*
     * cr_malloc, which parameter generators call, works only once the runner
     * has made its arena, after this hook: the runner first walks an empty
     * suite, and its PRE_SUITE starts the run (the next suite it reads is
     * the first unit, appended after it).
     */
    w->bootstrap = calloc(1, sizeof(*w->bootstrap));
    if (!w->bootstrap) {
        crmpi_error("worker %u: out of memory", w->slot);
        w->failed = 1;
        return;
    }
    crmpi_crit_empty_suite_init(&w->bootstrap->unit);
    crmpi_crit_unit_node_append(&w->dyn_suites_storage, NULL, &w->bootstrap->unit);
    w->newest = w->bootstrap;
}

void crmpi_worker_on_pre_suite(struct criterion_suite_set *set)
{
    struct worker_state *w = &worker_state;
    if (w->active && w->bootstrap && set == &w->bootstrap->unit.suite_set)
        worker_start();
}

void crmpi_worker_on_post_suite(struct criterion_suite_stats *ss)
{
    struct worker_state *w = &worker_state;
    if (!w->active || w->current < 0)
        return;
    if (w->bootstrap && ss->suite == &w->bootstrap->unit.suite_set.suite)
        return;

    const struct criterion_test_stats *fin = ss->tests;
    if (fin && (fin->timed_out || fin->crashed))
        crmpi_worker_end_group(w->sandbox);
    crmpi_worker_unit_result(ss);
    worker_dispatch();
}

/* ---- process set-up ------------------------------------------------------- */

int crmpi_worker_requested(void)
{
    const char *role = getenv(CRMPI_ENV_ROLE);
    return role && !strcmp(role, "worker");
}

/* Hooks that must fire once per run fire in the coordinator, not here. */
static void worker_silence_run_hooks(void)
{
    static const char *const sections[] = { CRMPI_CRIT_SECTION_PRE_ALL,
        CRMPI_CRIT_SECTION_PRE_SUITE, CRMPI_CRIT_SECTION_POST_SUITE, CRMPI_CRIT_SECTION_POST_ALL };
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); ++i) {
        struct crmpi_hook_list list;
        if (crmpi_hooks_collect(sections[i], &list)) {
            crmpi_warn("worker %u: cannot switch the %s hooks off: they may run twice",
                    worker_state.slot, sections[i]);
            continue;
        }
        crmpi_hooks_disable(&list);
        crmpi_hooks_free(&list);
    }
}

int crmpi_worker_run(struct criterion_test_set *set,
        int (*real_run)(struct criterion_test_set *))
{
    struct worker_state *w = &worker_state;
    const char *url = getenv(CRMPI_ENV_URL);
    const char *id = getenv(CRMPI_ENV_ID);
    w->slot = id ? (unsigned) strtoul(id, NULL, 10) : 0;
    /* The coordinator's, not the tests': out of the environment they inherit. */
    const char *note = getenv(CRMPI_ENV_FIXTURE_NOTE);
    if (note && !w->fixture_note)
        w->fixture_note = strdup(note);
    unsetenv(CRMPI_ENV_FIXTURE_NOTE);
    if (!url) {
        crmpi_error("worker started without %s", CRMPI_ENV_URL);
        return 0;
    }

    crmpi_abandon_watch(url, w->fixture_note);
    const char *verbose = getenv(CRMPI_ENV_VERBOSE);
    if (verbose)
        crmpi_diag_set_level(CRMPI_DIAG_WARN + (int) strtol(verbose, NULL, 10));

    /* The zygote, when fork isolation was asked for, was born in criterion_initialize. */
    const char *iso = getenv(CRMPI_ENV_ISOLATION);
    if (iso && !strcmp(iso, "fork") && !crmpi_zygote_tried())
        crmpi_warn("fork isolation unavailable (criterion_initialize was not called through the "
                "plugin): tests run in exec mode");
    /* A failure was said, and leaves exec mode: the run goes on. */
    (void) crmpi_forkmode_init();

    int rc = crmpi_session_open(&w->session, w->slot, url, crmpi_abandon_on_lost);
    if (rc) {
        crmpi_session_close(&w->session);
        crmpi_forkmode_fini();
        /* Too late or too early: its host decides whether that matters. */
        if (rc == -ETIMEDOUT)
            exit(CRMPI_WORKER_EXIT_UNREACHED);
        return 0;
    }

    criterion_options.jobs = 1;
    criterion_options.fail_fast = false;
    w->events.on_pre_init = worker_on_pre_init;
    w->events.output_at = worker_output_at;
    criterion_options.logger = crmpi_events_logger();
    worker_silence_run_hooks();

    w->set = set;
    w->active = 1;
    w->saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    w->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (w->saved_out < 0 || w->saved_err < 0) {
        /* Without a way back, do not capture: output goes straight through. */
        if (w->saved_out >= 0)
            close(w->saved_out);
        if (w->saved_err >= 0)
            close(w->saved_err);
        w->saved_out = w->saved_err = -1;
    }
    /* The worker's own messages never land in a test's captured output. */
    fflush(stderr);
    crmpi_diag_set_fd(w->saved_err);
    crmpi_session_beat_start(&w->session);
    /*
     * Criterion's --filter pass derives a copy of its pattern per character of
     * every test name (on 20,000 tests, most of a worker's start-up): the same
     * decision, taken here in one pass, leaves it nothing to do.  A pattern
     * critglob leaves to Criterion (an error: its message and exit status)
     * stays Criterion's.
     */
    const char *pattern = criterion_options.pattern;
    if (pattern && !crmpi_critglob_apply(set, pattern))
        criterion_options.pattern = NULL;
    real_run(set);
    criterion_options.pattern = pattern;
    w->active = 0;
    crmpi_session_beat_stop(&w->session);

    if (w->orig_suites)
        set->suites = w->orig_suites;
    for (struct worker_node *n = w->newest, *older; n; n = older) {
        older = n->older;
        free(n);
    }
    w->newest = NULL;
    w->bootstrap = NULL;        /* freed above, the oldest node */
    crmpi_events_free(&w->events);
    crmpi_units_free(&w->units);
    crmpi_diag_set_fd(-1);
    if (w->saved_out >= 0) {
        if (dup2(w->saved_out, STDOUT_FILENO) < 0 || dup2(w->saved_err, STDERR_FILENO) < 0)
            crmpi_warn("worker %u: cannot restore stdout/stderr: %s", w->slot, strerror(errno));
        close(w->saved_out);
        close(w->saved_err);
        w->saved_out = w->saved_err = -1;
    }
    crmpi_session_close(&w->session);
    crmpi_testenv_close();
    free(w->fixture_note);
    w->fixture_note = NULL;
    /* This process's worker fixtures, then the zygote's (crmpi_zygote_finish). */
    crmpi_fixtures_teardown();
    crmpi_forkmode_fini();
    return !w->failed;
}
