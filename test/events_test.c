/*
 * Unit tests for plugin/events.c: what a worker's logger records of a test
 * crosses the wire (encoded and decoded as a Result) and comes back, in
 * the coordinator, as the same logger calls with the same values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crit.h"
#include "events.h"
#include "wire.h"

/* ---- a recording logger (the coordinator's side) ------------------------------- */

#define T_MAX 32

static struct t_call {
    int kind;
    struct criterion_test_stats ts;
    char ts_message[64], ts_file[64];
    struct criterion_assert_stats as;
    char as_message[64], as_file[64];
    char text[64], text2[64];
    int severity;
    struct cr_log_assert_param p1, p2;
    char p1_data[16], p2_data[16], p1_name[16], p2_name[16];
} t_calls[T_MAX];
static size_t t_n;

static struct t_call *t_next(int kind)
{
    cr_assert_lt(t_n, T_MAX);
    struct t_call *c = &t_calls[t_n++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    return c;
}

static void t_keep(char *into, const char *s)
{
    snprintf(into, 64, "%s", s ? s : "(null)");
}

static void t_keep_ts(struct t_call *c, const struct criterion_test_stats *ts)
{
    c->ts = *ts;
    t_keep(c->ts_message, ts->message);
    t_keep(c->ts_file, ts->file);
}

static void t_keep_as(struct t_call *c, const struct criterion_assert_stats *as)
{
    c->as = *as;
    t_keep(c->as_message, as->message);
    t_keep(c->as_file, as->file);
}

static void t_keep_p(struct cr_log_assert_param *into, char *data, char *name,
        const struct cr_log_assert_param *p)
{
    *into = *p;
    snprintf(name, 16, "%s", p->name);
    memcpy(data, p->data, p->size < 16 ? p->size : 16);
}

static void r_pre_init(struct criterion_suite *s, struct criterion_test *t) { (void) s; (void) t; t_next(CRMP__EVENT__KIND__PRE_INIT); }
static void r_pre_test(struct criterion_suite *s, struct criterion_test *t) { (void) s; (void) t; t_next(CRMP__EVENT__KIND__PRE_TEST); }
static void r_assert(struct criterion_assert_stats *as) { t_keep_as(t_next(CRMP__EVENT__KIND__ASSERT), as); }
static void r_theory_fail(struct criterion_theory_stats *th)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__THEORY_FAIL);
    t_keep_ts(c, th->stats);
    t_keep(c->text, th->formatted_args);
}
static void r_timeout(struct criterion_test_stats *ts) { t_keep_ts(t_next(CRMP__EVENT__KIND__TEST_TIMEOUT), ts); }
static void r_crash(struct criterion_test_stats *ts) { t_keep_ts(t_next(CRMP__EVENT__KIND__TEST_CRASH), ts); }
static void r_abort(struct criterion_test_stats *ts, const char *msg)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__TEST_ABORT);
    t_keep_ts(c, ts);
    t_keep(c->text, msg);
}
static void r_other_crash(struct criterion_test_stats *ts) { t_keep_ts(t_next(CRMP__EVENT__KIND__OTHER_CRASH), ts); }
static void r_abnormal(struct criterion_test_stats *ts) { t_keep_ts(t_next(CRMP__EVENT__KIND__ABNORMAL_EXIT), ts); }
static void r_post_test(struct criterion_test_stats *ts) { t_keep_ts(t_next(CRMP__EVENT__KIND__POST_TEST), ts); }
static void r_post_fini(struct criterion_test_stats *ts) { t_keep_ts(t_next(CRMP__EVENT__KIND__POST_FINI), ts); }
static void r_message(enum criterion_severity sev, const char *msg)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__MESSAGE);
    c->severity = (int) sev;
    t_keep(c->text, msg);
}
static void r_assert_sub(struct criterion_assert_stats *as, const char *repr, const char *msg)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__ASSERT_SUB);
    t_keep_as(c, as);
    t_keep(c->text, repr);
    t_keep(c->text2, msg);
}
static void r_assert_formatted(struct criterion_assert_stats *as, const char *f)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__ASSERT_FORMATTED);
    t_keep_as(c, as);
    t_keep(c->text, f);
}
static void r_assert_param(struct criterion_assert_stats *as, struct cr_log_assert_param *p)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__ASSERT_PARAM);
    t_keep_as(c, as);
    t_keep_p(&c->p1, c->p1_data, c->p1_name, p);
}
static void r_assert_param_eq(struct criterion_assert_stats *as, struct cr_log_assert_param *p1,
        struct cr_log_assert_param *p2)
{
    struct t_call *c = t_next(CRMP__EVENT__KIND__ASSERT_PARAM_EQ);
    t_keep_as(c, as);
    t_keep_p(&c->p1, c->p1_data, c->p1_name, p1);
    t_keep_p(&c->p2, c->p2_data, c->p2_name, p2);
}

static struct criterion_logger t_recorder = {
    .log_pre_init = r_pre_init, .log_pre_test = r_pre_test, .log_assert = r_assert,
    .log_theory_fail = r_theory_fail, .log_test_timeout = r_timeout, .log_test_crash = r_crash,
    .log_test_abort = r_abort, .log_other_crash = r_other_crash,
    .log_abnormal_exit = r_abnormal, .log_post_test = r_post_test, .log_post_fini = r_post_fini,
    .log_message = r_message,
};

/* The new assertion API's members, where the release's logger has them. */
static const struct crmpi_crit_assert_log r_assert_log = {
    .sub = r_assert_sub, .formatted = r_assert_formatted, .param = r_assert_param,
    .param_eq = r_assert_param_eq,
};

/* ---- the round trip -------------------------------------------------------------- */

static struct criterion_test_extra_data t_data = { .line_ = 1 };
static struct criterion_test t_test = { .name = "t", .category = "s", .data = &t_data };
static struct criterion_suite t_suite = { .name = "s" };

static int t_pre_init_seen;
static void t_on_pre_init(void *arg)
{
    ++*(int *) arg;
}

/* Sends what ev recorded through the wire and replays it into t_recorder. */
static void t_round_trip(struct crmpi_events *ev)
{
    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    Crmp__Result res = CRMP__RESULT__INIT;
    res.events = ev->v;
    res.n_events = ev->n;
    res.counters = &counters;
    crmpi_wire_result_mark(&res);       /* as a worker does before sending */
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_RESULT);
    env.result = &res;
    uint8_t *buf;
    size_t len;
    cr_assert_eq(crmpi_wire_encode(&env, &buf, &len), 0);
    Crmp__Envelope *back;
    cr_assert_eq(crmpi_wire_decode(buf, len, &back), 0);
    free(buf);
    t_n = 0;
    for (size_t i = 0; i < back->result->n_events; ++i)
        crmpi_events_replay(&t_recorder, &t_suite, &t_test, back->result->events[i]);
    crmpi_wire_free(back);
}

/* Statistics equal to the final ones travel once: the events say final_stats instead. */
Test(events, share_final)
{
    struct crmpi_events ev = { 0 };
    struct criterion_logger *lg = crmpi_events_logger();
    struct criterion_test_stats ts = {
        .test = &t_test, .test_status = CR_STATUS_PASSED, .elapsed_time = 0.5f, .progress = 9,
        .file = "f.c",
    };
    crmpi_events_record(&ev);
    lg->log_post_test(&ts);
    ts.passed_asserts = 1;             /* a fini assertion: POST_FINI differs from POST_TEST */
    lg->log_post_fini(&ts);
    lg->log_pre_test(&t_suite, &t_test);
    crmpi_events_record(NULL);
    cr_assert_eq(ev.n, 3);
    Crmp__TestStats *final = crmpi_events_test_stats(&ts);
    cr_assert_not_null(final);

    crmpi_events_share_final(&ev, final);
    cr_assert_not_null(ev.v[0]->stats, "POST_TEST's statistics differ: kept");
    cr_assert_not(ev.v[0]->has_final_stats);
    cr_assert_null(ev.v[1]->stats, "POST_FINI's are the final ones: not copied");
    cr_assert(ev.v[1]->has_final_stats && ev.v[1]->final_stats);
    cr_assert_not(ev.v[2]->has_final_stats, "no statistics: nothing to share");

    free(final->file);
    final->file = NULL;     /* no longer equal: nothing more shared */
    crmpi_events_share_final(&ev, final);
    cr_assert_not_null(ev.v[0]->stats);
    crmpi_events_share_final(&ev, NULL);
    crmpi_events_test_stats_free(final);
    crmpi_events_free(&ev);
}

Test(events, every_kind_round_trips)
{
    struct crmpi_events ev = { .on_pre_init = t_on_pre_init, .arg = &t_pre_init_seen };
    struct criterion_logger *lg = crmpi_events_logger();
    struct criterion_test_stats ts = {
        .test = &t_test, .test_status = CR_STATUS_FAILED, .passed_asserts = 2,
        .failed_asserts = 3, .signal = 11, .exit_code = 7, .elapsed_time = 1.5f,
        .timed_out = true, .crashed = true, .progress = 42, .file = "f.c", .message = "why",
    };
    struct criterion_assert_stats as = { .message = "boom", .passed = false, .line = 12, .file = "a.c" };
    struct criterion_theory_stats th = { .formatted_args = "(1, 2)", .stats = &ts };

    /* Nothing is recorded between tests. */
    lg->log_assert(&as);
    cr_assert_eq(ev.n, 0);

    crmpi_events_record(&ev);
    lg->log_pre_init(&t_suite, &t_test);
    lg->log_pre_test(&t_suite, &t_test);
    lg->log_assert(&as);
    lg->log_theory_fail(&th);
    lg->log_test_timeout(&ts);
    lg->log_test_crash(&ts);
    lg->log_test_abort(&ts, "aborted");
    lg->log_other_crash(&ts);
    lg->log_abnormal_exit(&ts);
    lg->log_post_test(&ts);
    lg->log_post_fini(&ts);
    lg->log_message(CR_LOG_WARNING, "careful");
    lg->log_message(CR_LOG_ERROR, "bad");
    crmpi_events_record(NULL);

    cr_expect_eq(t_pre_init_seen, 1);
    cr_expect_eq(ev.warnings, 2, "other_crash and the warning message count");
    cr_expect_eq(ev.errors, 1);
    cr_assert_eq(ev.n, 13);
    t_round_trip(&ev);
    cr_assert_eq(t_n, 13);
    static const int kinds[] = {
        CRMP__EVENT__KIND__PRE_INIT, CRMP__EVENT__KIND__PRE_TEST, CRMP__EVENT__KIND__ASSERT,
        CRMP__EVENT__KIND__THEORY_FAIL, CRMP__EVENT__KIND__TEST_TIMEOUT,
        CRMP__EVENT__KIND__TEST_CRASH, CRMP__EVENT__KIND__TEST_ABORT,
        CRMP__EVENT__KIND__OTHER_CRASH, CRMP__EVENT__KIND__ABNORMAL_EXIT,
        CRMP__EVENT__KIND__POST_TEST, CRMP__EVENT__KIND__POST_FINI, CRMP__EVENT__KIND__MESSAGE,
        CRMP__EVENT__KIND__MESSAGE,
    };
    for (size_t i = 0; i < t_n; ++i)
        cr_expect_eq(t_calls[i].kind, kinds[i], "call %zu", i);

    /* Test statistics, every field. */
    const struct t_call *c = &t_calls[4];
    cr_expect_eq(c->ts.test, &t_test);
    cr_expect_eq(c->ts.test_status, CR_STATUS_FAILED);
    cr_expect_eq(c->ts.passed_asserts, 2);
    cr_expect_eq(c->ts.failed_asserts, 3);
    cr_expect_eq(c->ts.signal, 11);
    cr_expect_eq(c->ts.exit_code, 7);
    cr_expect_float_eq(c->ts.elapsed_time, 1.5f, 1e-6);
    cr_expect(c->ts.timed_out);
    cr_expect(c->ts.crashed);
    cr_expect_eq(c->ts.progress, 42);
    cr_expect_str_eq(c->ts_message, "why");
    cr_expect_str_eq(c->ts_file, "f.c");

    /* Assertion statistics. */
    c = &t_calls[2];
    cr_expect_str_eq(c->as_message, "boom");
    cr_expect_str_eq(c->as_file, "a.c");
    cr_expect_eq(c->as.line, 12);
    cr_expect_not(c->as.passed);

    cr_expect_str_eq(t_calls[3].text, "(1, 2)");
    cr_expect_eq(t_calls[3].ts.progress, 42);
    cr_expect_str_eq(t_calls[6].text, "aborted");
    cr_expect_eq(t_calls[11].severity, CR_LOG_WARNING);
    cr_expect_str_eq(t_calls[11].text, "careful");
    cr_expect_eq(t_calls[12].severity, CR_LOG_ERROR);

    crmpi_events_free(&ev);
    cr_expect_null(ev.v);
}

Test(events, new_assertion_api_round_trips)
{
    struct criterion_logger *lg = crmpi_events_logger();
    struct crmpi_crit_assert_log alog = crmpi_crit_assert_log_of(lg);
    if (!alog.sub)
        cr_skip_test("this release's logger has no member for the new assertion API");
    crmpi_crit_assert_log_install(&t_recorder, &r_assert_log);
    struct crmpi_events ev = { 0 };
    struct criterion_assert_stats as = { .message = "boom", .passed = false, .line = 12, .file = "a.c" };
    struct cr_log_assert_param p1 = { .name = "x", .kind = CR_LOG_PARAM_STR, .data = "abc", .size = 3 };
    struct cr_log_assert_param p2 = { .name = "y", .kind = CR_LOG_PARAM_RAW, .data = "\x01\x02", .size = 2 };

    crmpi_events_record(&ev);
    alog.sub(&as, "repr", "sub");
    alog.formatted(&as, "formatted");
    alog.param(&as, &p1);
    alog.param_eq(&as, &p1, &p2);
    crmpi_events_record(NULL);
    cr_assert_eq(ev.n, 4);
    t_round_trip(&ev);
    cr_assert_eq(t_n, 4);
    static const int kinds[] = {
        CRMP__EVENT__KIND__ASSERT_SUB, CRMP__EVENT__KIND__ASSERT_FORMATTED,
        CRMP__EVENT__KIND__ASSERT_PARAM, CRMP__EVENT__KIND__ASSERT_PARAM_EQ,
    };
    for (size_t i = 0; i < t_n; ++i)
        cr_expect_eq(t_calls[i].kind, kinds[i], "call %zu", i);
    cr_expect_str_eq(t_calls[0].text, "repr");
    cr_expect_str_eq(t_calls[0].text2, "sub");
    cr_expect_str_eq(t_calls[1].text, "formatted");
    cr_expect_str_eq(t_calls[1].as_message, "boom");

    /* Parameters: a string comes back terminated, raw data byte for byte. */
    const struct t_call *c = &t_calls[3];
    cr_expect_str_eq(c->p1_name, "x");
    cr_expect_eq(c->p1.kind, CR_LOG_PARAM_STR);
    cr_expect_eq(c->p1.size, 3);
    cr_expect_arr_eq(c->p1_data, "abc", 3);
    cr_expect_str_eq(c->p2_name, "y");
    cr_expect_eq(c->p2.kind, CR_LOG_PARAM_RAW);
    cr_expect_eq(c->p2.size, 2);
    cr_expect_arr_eq(c->p2_data, "\x01\x02", 2);

    crmpi_events_free(&ev);
    cr_expect_null(ev.v);
}

Test(events, disabled_pre_init_marks_the_coordinators_test)
{
    struct criterion_test_extra_data data = { .disabled = true };
    struct criterion_test test = { .name = "t", .category = "s", .data = &data };
    struct crmpi_events ev = { 0 };
    crmpi_events_record(&ev);
    crmpi_events_logger()->log_pre_init(&t_suite, &test);
    crmpi_events_record(NULL);
    cr_assert_eq(ev.n, 1);
    t_data.disabled = false;
    t_round_trip(&ev);
    cr_expect(t_data.disabled, "the filter's verdict did not reach the coordinator's copy");
    t_data.disabled = false;
    crmpi_events_free(&ev);
}

Test(events, statistics_round_trip)
{
    struct criterion_test_stats ts = { .test_status = CR_STATUS_SKIPPED, .progress = 9,
                                       .message = "skipped", .file = "x.c" };
    Crmp__TestStats *w = crmpi_events_test_stats(&ts);
    cr_assert_not_null(w);
    struct criterion_test_stats back;
    crmpi_events_fill_test_stats(&back, &t_test, w);
    cr_expect_eq(back.test, &t_test);
    cr_expect_eq(back.test_status, CR_STATUS_SKIPPED);
    cr_expect_eq(back.progress, 9);
    cr_expect_str_eq(back.message, "skipped");
    crmpi_events_test_stats_free(w);
    cr_expect_null(crmpi_events_test_stats(NULL));

    struct criterion_assert_stats as = { .message = "m", .passed = true, .line = 3, .file = "f" };
    Crmp__AssertStats *a = crmpi_events_assert_stats(&as);
    cr_assert_not_null(a);
    struct criterion_assert_stats ab;
    crmpi_events_fill_assert(&ab, a);
    cr_expect_str_eq(ab.message, "m");
    cr_expect(ab.passed);
    cr_expect_eq(ab.line, 3);
    cr_expect_str_eq(ab.file, "f");
    crmpi_events_assert_stats_free(a);
    crmpi_events_fill_assert(&ab, NULL);
    cr_expect_str_eq(ab.message, "");
}

/* ---- where the test's output stood at each event ---------------------------------------- */

/* A capture that grows as the test "writes"; t_capturing 0: nothing is captured. */
static uint64_t t_written[2];
static int t_capturing;

static int t_output_at(void *arg, uint64_t at[2])
{
    (void) arg;
    at[0] = t_written[0];
    at[1] = t_written[1];
    return t_capturing;
}

Test(events, each_event_says_where_the_output_was)
{
    struct crmpi_events ev = { .output_at = t_output_at };
    struct criterion_logger *lg = crmpi_events_logger();
    struct criterion_assert_stats as = { .message = "boom", .line = 12, .file = "a.c" };
    struct criterion_test_stats ts = { .test = &t_test, .file = "a.c" };
    t_capturing = 0;
    crmpi_events_record(&ev);
    lg->log_pre_init(&t_suite, &t_test);
    t_capturing = 1;
    t_written[0] = 0;
    t_written[1] = 10;
    lg->log_assert(&as);
    t_written[1] = 25;
    t_written[0] = 4;
    lg->log_test_crash(&ts);
    crmpi_events_record(NULL);
    cr_assert_eq(ev.n, 3);
    cr_assert(!ev.v[0]->has_out_at && !ev.v[0]->has_err_at, "nothing captured, no position");
    cr_assert(ev.v[1]->has_out_at && ev.v[1]->has_err_at);
    cr_assert_eq(ev.v[1]->out_at, 0u);
    cr_assert_eq(ev.v[1]->err_at, 10u);
    cr_assert_eq(ev.v[2]->out_at, 4u);
    cr_assert_eq(ev.v[2]->err_at, 25u);
    crmpi_events_free(&ev);
}

Test(events, positions_are_clamped_to_what_is_sent)
{
    struct crmpi_events ev = { .output_at = t_output_at };
    struct criterion_logger *lg = crmpi_events_logger();
    struct criterion_assert_stats as = { .message = "boom", .line = 12, .file = "a.c" };
    t_capturing = 1;
    crmpi_events_record(&ev);
    uint64_t said[][2] = { { 2, 50 }, { 1, 40 }, { 7, 60 }, { 9, 200 } };
    for (size_t i = 0; i < 4; ++i) {
        t_written[0] = said[i][0];
        t_written[1] = said[i][1];
        lg->log_assert(&as);
    }
    crmpi_events_record(NULL);
    /* 8 bytes of stdout kept whole; 100 of stderr kept out of more, and a note after them. */
    size_t kept[2] = { 8, 100 }, len[2] = { 8, 130 };
    crmpi_events_clamp_output(&ev, kept, len);
    /* Never back (a test that truncated its own output), never past: the note comes first. */
    uint64_t want[][2] = { { 2, 50 }, { 2, 50 }, { 7, 60 }, { 8, 130 } };
    for (size_t i = 0; i < 4; ++i) {
        cr_expect_eq(ev.v[i]->out_at, want[i][0], "event %zu: stdout at %llu", i,
                (unsigned long long) ev.v[i]->out_at);
        cr_expect_eq(ev.v[i]->err_at, want[i][1], "event %zu: stderr at %llu", i,
                (unsigned long long) ev.v[i]->err_at);
    }
    crmpi_events_free(&ev);
}

/* ---- messages Criterion's console logger cannot take -------------------------------------- */

/*
 * Criterion's own console logger, as its options say at load time: in a
 * test's sandbox, Criterion later copies in its runner's options, whose
 * pointers are the runner's.
 */
static struct criterion_logger *t_criterions_logger;

__attribute__((constructor)) static void t_find_criterions_logger(void)
{
    t_criterions_logger = criterion_options.logger;
}

Test(events, a_message_without_a_line_spares_criterions_logger)
{
    /* It dies (SIGSEGV) on such a message if it gets it. */
    struct criterion_logger *own = t_criterions_logger;
    cr_assert_not_null(own);
    cr_assert(crmpi_crit_owns((const void *) own->log_message));
    Crmp__Event e = CRMP__EVENT__INIT;
    e.kind = CRMP__EVENT__KIND__MESSAGE;
    e.has_severity = 1;
    e.severity = CR_LOG_WARNING;
    const char *no_line[] = { "\n", "\n\n", "", NULL };
    for (size_t i = 0; i < sizeof(no_line) / sizeof(no_line[0]); ++i) {
        e.text = (char *) no_line[i];
        crmpi_events_replay(own, &t_suite, &t_test, &e);
    }
    /* A user's logger gets them all, as serially. */
    t_n = 0;
    for (size_t i = 0; i < sizeof(no_line) / sizeof(no_line[0]); ++i) {
        e.text = (char *) no_line[i];
        crmpi_events_replay(&t_recorder, &t_suite, &t_test, &e);
    }
    cr_assert_eq(t_n, 4);
    cr_assert_str_eq(t_calls[1].text, "\n\n");
    cr_assert(!crmpi_crit_owns((const void *) t_recorder.log_message));
}
