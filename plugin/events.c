#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "crit.h"
#include "events.h"

#define events_call(logger, fn, ...)                                          \
    do {                                                                      \
        if ((logger) && (logger)->fn)                                         \
            (logger)->fn(__VA_ARGS__);                                        \
    } while (0)

#define events_alog(alog, fn, ...)                                            \
    do {                                                                      \
        if ((alog).fn)                                                        \
            (alog).fn(__VA_ARGS__);                                           \
    } while (0)

/* ---- the worker's side: Criterion's structures to wire events -------------------- */

static char *events_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void crmpi_events_test_stats_free(Crmp__TestStats *s)
{
    if (!s)
        return;
    free(s->file);
    free(s->message);
    free(s);
}

void crmpi_events_assert_stats_free(Crmp__AssertStats *a)
{
    if (!a)
        return;
    free(a->message);
    free(a->file);
    free(a);
}

static void events_param_free(Crmp__LogParam *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->data.data);
    free(p);
}

static void events_event_free(Crmp__Event *e)
{
    crmpi_events_test_stats_free(e->stats);
    crmpi_events_assert_stats_free(e->assert);
    events_param_free(e->p1);
    events_param_free(e->p2);
    free(e->text);
    free(e->text2);
    free(e);
}

Crmp__TestStats *crmpi_events_test_stats(const struct criterion_test_stats *ts)
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
    s->file = events_strdup(ts->file);
    s->message = events_strdup(ts->message);
    return s;
}

Crmp__AssertStats *crmpi_events_assert_stats(const struct criterion_assert_stats *as)
{
    if (!as)
        return NULL;
    Crmp__AssertStats *a = malloc(sizeof(*a));
    if (!a)
        return NULL;
    crmp__assert_stats__init(a);
    a->message = events_strdup(as->message);
    a->passed = as->passed;
    a->line = as->line;
    a->file = events_strdup(as->file);
    return a;
}

static Crmp__LogParam *events_param(const struct cr_log_assert_param *p)
{
    if (!p)
        return NULL;
    Crmp__LogParam *lp = malloc(sizeof(*lp));
    if (!lp)
        return NULL;
    crmp__log_param__init(lp);
    lp->name = events_strdup(p->name);
    lp->kind = (int32_t) p->kind;
    lp->data.len = p->size;
    lp->data.data = malloc(p->size ? p->size : 1);
    if (lp->data.data && p->size)
        memcpy(lp->data.data, p->data, p->size);
    return lp;
}

/* Where the logger records: set by crmpi_events_record. */
static struct crmpi_events *events_sink;

/* Appends a new event of kind to the sink; NULL when none (or out of memory). */
static Crmp__Event *events_add(Crmp__Event__Kind kind)
{
    struct crmpi_events *ev = events_sink;
    if (!ev)
        return NULL;
    if (ev->n == ev->cap) {
        size_t ncap = ev->cap ? ev->cap * 2 : 16;
        Crmp__Event **nv = realloc(ev->v, ncap * sizeof(*nv));
        if (!nv) {
            ++ev->lost;
            return NULL;
        }
        ev->v = nv;
        ev->cap = ncap;
    }
    Crmp__Event *e = malloc(sizeof(*e));
    if (!e) {
        ++ev->lost;
        return NULL;
    }
    crmp__event__init(e);
    e->kind = kind;
    uint64_t at[2];
    if (ev->output_at && ev->output_at(ev->arg, at)) {
        e->has_out_at = e->has_err_at = 1;
        e->out_at = at[0];
        e->err_at = at[1];
    }
    ev->v[ev->n++] = e;
    return e;
}

static void events_add_stats(Crmp__Event__Kind kind, struct criterion_test_stats *ts)
{
    Crmp__Event *e = events_add(kind);
    if (e)
        e->stats = crmpi_events_test_stats(ts);
}

static void events_add_assert(Crmp__Event__Kind kind, struct criterion_assert_stats *as,
        const char *text, const char *text2)
{
    Crmp__Event *e = events_add(kind);
    if (!e)
        return;
    e->assert = crmpi_events_assert_stats(as);
    e->text = events_strdup(text);
    e->text2 = events_strdup(text2);
}

static void events_log_pre_init(struct criterion_suite *suite, struct criterion_test *test)
{
    struct crmpi_events *ev = events_sink;
    if (ev && ev->on_pre_init)
        ev->on_pre_init(ev->arg);
    Crmp__Event *e = events_add(CRMP__EVENT__KIND__PRE_INIT);
    if (!e)
        return;
    e->has_disabled = 1;
    e->disabled = crmpi_crit_disabled(suite, test) != 0;
}

static void events_log_pre_test(struct criterion_suite *suite, struct criterion_test *test)
{
    (void) suite;
    (void) test;
    events_add(CRMP__EVENT__KIND__PRE_TEST);
}

static void events_log_assert(struct criterion_assert_stats *as)
{
    events_add_assert(CRMP__EVENT__KIND__ASSERT, as, NULL, NULL);
}

static void events_log_theory_fail(struct criterion_theory_stats *ths)
{
    Crmp__Event *e = events_add(CRMP__EVENT__KIND__THEORY_FAIL);
    if (!e)
        return;
    e->stats = crmpi_events_test_stats(ths->stats);
    e->text = events_strdup(ths->formatted_args);
}

static void events_log_test_timeout(struct criterion_test_stats *ts)
{
    events_add_stats(CRMP__EVENT__KIND__TEST_TIMEOUT, ts);
}

static void events_log_test_crash(struct criterion_test_stats *ts)
{
    events_add_stats(CRMP__EVENT__KIND__TEST_CRASH, ts);
}

static void events_log_test_abort(struct criterion_test_stats *ts, const char *msg)
{
    Crmp__Event *e = events_add(CRMP__EVENT__KIND__TEST_ABORT);
    if (!e)
        return;
    e->stats = crmpi_events_test_stats(ts);
    e->text = events_strdup(msg);
}

static void events_log_other_crash(struct criterion_test_stats *ts)
{
    /* The runner counts this one as a warning in the global statistics. */
    if (events_sink)
        ++events_sink->warnings;
    events_add_stats(CRMP__EVENT__KIND__OTHER_CRASH, ts);
}

static void events_log_abnormal_exit(struct criterion_test_stats *ts)
{
    events_add_stats(CRMP__EVENT__KIND__ABNORMAL_EXIT, ts);
}

static void events_log_post_test(struct criterion_test_stats *ts)
{
    events_add_stats(CRMP__EVENT__KIND__POST_TEST, ts);
}

static void events_log_post_fini(struct criterion_test_stats *ts)
{
    events_add_stats(CRMP__EVENT__KIND__POST_FINI, ts);
}

static void events_log_message(enum criterion_severity severity, const char *msg)
{
    if (events_sink && severity == CR_LOG_WARNING)
        ++events_sink->warnings;
    if (events_sink && severity == CR_LOG_ERROR)
        ++events_sink->errors;
    Crmp__Event *e = events_add(CRMP__EVENT__KIND__MESSAGE);
    if (!e)
        return;
    e->has_severity = 1;
    e->severity = (int32_t) severity;
    e->text = events_strdup(msg);
}

static void events_log_assert_sub(struct criterion_assert_stats *as, const char *repr,
        const char *message)
{
    events_add_assert(CRMP__EVENT__KIND__ASSERT_SUB, as, repr, message);
}

static void events_log_assert_formatted(struct criterion_assert_stats *as, const char *formatted)
{
    events_add_assert(CRMP__EVENT__KIND__ASSERT_FORMATTED, as, formatted, NULL);
}

static void events_log_assert_param(struct criterion_assert_stats *as, struct cr_log_assert_param *p)
{
    Crmp__Event *e = events_add(CRMP__EVENT__KIND__ASSERT_PARAM);
    if (!e)
        return;
    e->assert = crmpi_events_assert_stats(as);
    e->p1 = events_param(p);
}

static void events_log_assert_param_eq(struct criterion_assert_stats *as,
        struct cr_log_assert_param *p1, struct cr_log_assert_param *p2)
{
    Crmp__Event *e = events_add(CRMP__EVENT__KIND__ASSERT_PARAM_EQ);
    if (!e)
        return;
    e->assert = crmpi_events_assert_stats(as);
    e->p1 = events_param(p1);
    e->p2 = events_param(p2);
}

/* Whole-run and suite events belong to the coordinator: not captured. */
static struct criterion_logger events_logger_storage = {
    .log_pre_init = events_log_pre_init,
    .log_pre_test = events_log_pre_test,
    .log_assert = events_log_assert,
    .log_theory_fail = events_log_theory_fail,
    .log_test_timeout = events_log_test_timeout,
    .log_test_crash = events_log_test_crash,
    .log_test_abort = events_log_test_abort,
    .log_other_crash = events_log_other_crash,
    .log_abnormal_exit = events_log_abnormal_exit,
    .log_post_test = events_log_post_test,
    .log_post_fini = events_log_post_fini,
    .log_message = events_log_message,
};

struct criterion_logger *crmpi_events_logger(void)
{
    static int installed;
    if (!installed) {
        /* Members of the new assertion API: a no-op where the release has none. */
        static const struct crmpi_crit_assert_log assert_log = {
            .sub = events_log_assert_sub,
            .formatted = events_log_assert_formatted,
            .param = events_log_assert_param,
            .param_eq = events_log_assert_param_eq,
        };
        crmpi_crit_assert_log_install(&events_logger_storage, &assert_log);
        installed = 1;
    }
    return &events_logger_storage;
}

void crmpi_events_record(struct crmpi_events *into)
{
    events_sink = into;
}

void crmpi_events_clear(struct crmpi_events *ev)
{
    for (size_t i = 0; i < ev->n; ++i)
        events_event_free(ev->v[i]);
    ev->n = 0;
    ev->warnings = ev->errors = ev->lost = 0;
}

static uint64_t events_clamp_one(uint64_t at, uint64_t floor, size_t kept, size_t len)
{
    if (at > kept)
        at = len;
    return at < floor ? floor : at;
}

static int events_str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int events_stats_eq(const Crmp__TestStats *a, const Crmp__TestStats *b)
{
    return a->status == b->status && a->passed_asserts == b->passed_asserts
        && a->failed_asserts == b->failed_asserts && a->signal == b->signal
        && a->exit_code == b->exit_code
        && !memcmp(&a->elapsed_time, &b->elapsed_time, sizeof(a->elapsed_time))
        && a->timed_out == b->timed_out && a->crashed == b->crashed
        && a->progress == b->progress && events_str_eq(a->file, b->file)
        && events_str_eq(a->message, b->message);
}

void crmpi_events_share_final(struct crmpi_events *ev, const Crmp__TestStats *final)
{
    for (size_t i = 0; final && i < ev->n; ++i) {
        Crmp__Event *e = ev->v[i];
        if (!e->stats || !events_stats_eq(e->stats, final))
            continue;
        crmpi_events_test_stats_free(e->stats);
        e->stats = NULL;
        e->has_final_stats = e->final_stats = 1;
    }
}

void crmpi_events_clamp_output(struct crmpi_events *ev, const size_t kept[2], const size_t len[2])
{
    uint64_t floor[2] = { 0, 0 };
    for (size_t i = 0; i < ev->n; ++i) {
        Crmp__Event *e = ev->v[i];
        if (e->has_out_at)
            floor[0] = e->out_at = events_clamp_one(e->out_at, floor[0], kept[0], len[0]);
        if (e->has_err_at)
            floor[1] = e->err_at = events_clamp_one(e->err_at, floor[1], kept[1], len[1]);
    }
}

void crmpi_events_free(struct crmpi_events *ev)
{
    if (events_sink == ev)
        events_sink = NULL;
    crmpi_events_clear(ev);
    free(ev->v);
    ev->v = NULL;
    ev->cap = 0;
}

/* ---- the coordinator's side: wire events to Criterion's structures -------------- */

void crmpi_events_fill_test_stats(struct criterion_test_stats *ts, struct criterion_test *test,
        const Crmp__TestStats *s)
{
    *ts = (struct criterion_test_stats) { .test = test };
    if (!s)
        return;
    ts->test_status = (enum criterion_test_status) s->status;
    ts->passed_asserts = s->passed_asserts;
    ts->failed_asserts = s->failed_asserts;
    ts->signal = s->signal;
    ts->exit_code = s->exit_code;
    ts->elapsed_time = s->elapsed_time;
    ts->timed_out = s->timed_out;
    ts->crashed = s->crashed;
    ts->progress = s->progress;
    ts->file = s->file;
    ts->message = s->message;
}

void crmpi_events_fill_assert(struct criterion_assert_stats *as, const Crmp__AssertStats *a)
{
    *as = (struct criterion_assert_stats) { .message = "", .file = "unknown" };
    if (!a)
        return;
    as->message = a->message ? a->message : "";
    as->passed = a->passed;
    as->line = a->line;
    as->file = a->file ? a->file : "unknown";
}

/*
 * The logger prints a string parameter with %s: give it a terminated copy
 * (*owned, to free after the call); raw data goes by pointer and size.
 */
static void events_fill_param(struct cr_log_assert_param *p, const Crmp__LogParam *lp,
        char **owned)
{
    *p = (struct cr_log_assert_param) { .name = "", .data = (void *) "" };
    *owned = NULL;
    if (!lp)
        return;
    p->name = lp->name ? lp->name : "";
    p->size = lp->data.len;
    p->kind = (enum cr_log_assert_param_kind) lp->kind;
    if (p->kind == CR_LOG_PARAM_STR) {
        *owned = strndup((const char *) lp->data.data, lp->data.len);
        p->data = *owned ? *owned : (void *) "";
        p->size = strlen(p->data);
    } else {
        p->data = lp->data.data;
    }
}

/*
 * Criterion's console logger splits a message into lines with strtok_r and
 * reads the first without checking there is one: a message of newlines only
 * (every release; on 2.3.3 an empty one too) is a SIGSEGV, which serially
 * kills the whole run.  Its line would print nothing (2.4 returns early on an
 * empty message): the coordinator leaves such a call out, and lives on.  A
 * user's logger gets every message, as serially.
 */
static int events_message_kills_logger(const struct criterion_logger *logger, const char *text)
{
    return !text[strspn(text, "\n")] && crmpi_crit_owns((const void *) logger->log_message);
}

void crmpi_events_replay(struct criterion_logger *logger, struct criterion_suite *suite,
        struct criterion_test *test, const Crmp__Event *e)
{
    struct criterion_test_stats ts;
    struct criterion_assert_stats as;
    struct cr_log_assert_param p1, p2;
    char *owned1, *owned2;
    crmpi_events_fill_test_stats(&ts, test, e->stats);
    crmpi_events_fill_assert(&as, e->assert);
    events_fill_param(&p1, e->p1, &owned1);
    events_fill_param(&p2, e->p2, &owned2);
    const char *text = e->text ? e->text : "";
    const char *text2 = e->text2;
    /* All NULL on a release without the new assertion API: nothing to replay. */
    struct crmpi_crit_assert_log alog = logger ? crmpi_crit_assert_log_of(logger)
                                               : (struct crmpi_crit_assert_log) { 0 };

    switch (e->kind) {
    case CRMP__EVENT__KIND__PRE_INIT:
        /* --filter disables in the worker's copy of the data; mirror it. */
        if (e->has_disabled && e->disabled)
            test->data->disabled = true;
        events_call(logger, log_pre_init, suite, test);
        break;
    case CRMP__EVENT__KIND__PRE_TEST:
        events_call(logger, log_pre_test, suite, test);
        break;
    case CRMP__EVENT__KIND__ASSERT:
        events_call(logger, log_assert, &as);
        break;
    case CRMP__EVENT__KIND__THEORY_FAIL: {
        struct criterion_theory_stats th = { .formatted_args = text, .stats = &ts };
        events_call(logger, log_theory_fail, &th);
        break;
    }
    case CRMP__EVENT__KIND__TEST_TIMEOUT:
        events_call(logger, log_test_timeout, &ts);
        break;
    case CRMP__EVENT__KIND__TEST_CRASH:
        events_call(logger, log_test_crash, &ts);
        break;
    case CRMP__EVENT__KIND__TEST_ABORT:
        events_call(logger, log_test_abort, &ts, text);
        break;
    case CRMP__EVENT__KIND__OTHER_CRASH:
        events_call(logger, log_other_crash, &ts);
        break;
    case CRMP__EVENT__KIND__ABNORMAL_EXIT:
        events_call(logger, log_abnormal_exit, &ts);
        break;
    case CRMP__EVENT__KIND__POST_TEST:
        events_call(logger, log_post_test, &ts);
        break;
    case CRMP__EVENT__KIND__POST_FINI:
        events_call(logger, log_post_fini, &ts);
        break;
    case CRMP__EVENT__KIND__MESSAGE:
        if (logger && events_message_kills_logger(logger, text))
            break;
        events_call(logger, log_message, (enum criterion_severity) e->severity, text);
        break;
    case CRMP__EVENT__KIND__ASSERT_SUB:
        events_alog(alog, sub, &as, text, text2);
        break;
    case CRMP__EVENT__KIND__ASSERT_FORMATTED:
        events_alog(alog, formatted, &as, text);
        break;
    case CRMP__EVENT__KIND__ASSERT_PARAM:
        events_alog(alog, param, &as, &p1);
        break;
    case CRMP__EVENT__KIND__ASSERT_PARAM_EQ:
        events_alog(alog, param_eq, &as, &p1, &p2);
        break;
    default:
        break;
    }
    free(owned1);
    free(owned2);
}
