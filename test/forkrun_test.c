/*
 * Unit tests for plugin/forkrun.c: the replay of a fork-isolated test
 * process's messages does what Criterion's runner does with them.  The
 * streams are built here with the same schema (plugin/critproto.proto); the
 * end-to-end tests (test/semantics) compare real runs with -j1.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "critproto.pb-c.h"
#include "forkrun.h"

#define T_PID 4242

/* ---- a stream builder ------------------------------------------------------- */

struct t_stream {
    uint8_t buf[8192];
    size_t len;
};

/* Where the output stood for the records t_put writes from now on; NULL: records say nothing. */
static const uint64_t *t_at;

static void t_put(struct t_stream *s, CrmpiCrit__Body *body, int64_t pid)
{
    CrmpiCrit__Message m = CRMPI_CRIT__MESSAGE__INIT;
    m.has_version = 1;
    m.version = 1;
    m.id_case = CRMPI_CRIT__MESSAGE__ID_PID;
    m.pid = pid;
    m.data = body;
    uint32_t n = (uint32_t) crmpi_crit__message__get_packed_size(&m);
    size_t at_len = t_at ? 2 * sizeof(uint64_t) : 0;
    cr_assert_leq(s->len + sizeof(n) + at_len + n, sizeof(s->buf));
    uint32_t head = n | (t_at ? CRMPI_FORKRUN_AT : 0);
    memcpy(s->buf + s->len, &head, sizeof(head));
    if (t_at)
        memcpy(s->buf + s->len + sizeof(n), t_at, at_len);
    crmpi_crit__message__pack(&m, s->buf + s->len + sizeof(n) + at_len);
    s->len += sizeof(n) + at_len + n;
}

static void t_phase_from(struct t_stream *s, CrmpiCrit__Phase__Kind kind, int64_t ts,
        const char *message, int64_t pid)
{
    CrmpiCrit__Phase ph = CRMPI_CRIT__PHASE__INIT;
    ph.has_phase = 1;
    ph.phase = kind;
    ph.name = (char *) "t";
    ph.has_timestamp = 1;
    ph.timestamp = ts;
    ph.message = (char *) message;
    CrmpiCrit__Body b = CRMPI_CRIT__BODY__INIT;
    b.value_case = CRMPI_CRIT__BODY__VALUE_PHASE;
    b.phase = &ph;
    t_put(s, &b, pid);
}

static void t_phase(struct t_stream *s, CrmpiCrit__Phase__Kind kind, int64_t ts, const char *message)
{
    t_phase_from(s, kind, ts, message, T_PID);
}

static void t_assert(struct t_stream *s, int passed, const char *message, int line)
{
    CrmpiCrit__Assert a = CRMPI_CRIT__ASSERT__INIT;
    a.message = (char *) message;
    a.has_passed = 1;
    a.passed = passed;
    a.file = (char *) "t.c";
    a.has_line = 1;
    a.line = line;
    CrmpiCrit__Body b = CRMPI_CRIT__BODY__INIT;
    b.value_case = CRMPI_CRIT__BODY__VALUE_ASSERT;
    b.assert = &a;
    t_put(s, &b, T_PID);
}

static void t_statistic(struct t_stream *s, const char *key, int64_t num)
{
    CrmpiCrit__Statistic st = CRMPI_CRIT__STATISTIC__INIT;
    st.key = (char *) key;
    st.value_case = CRMPI_CRIT__STATISTIC__VALUE_NUM;
    st.num = num;
    CrmpiCrit__Body b = CRMPI_CRIT__BODY__INIT;
    b.value_case = CRMPI_CRIT__BODY__VALUE_STATISTIC;
    b.statistic = &st;
    t_put(s, &b, T_PID);
}

static void t_log(struct t_stream *s, int severity, const char *message)
{
    CrmpiCrit__Log lg = CRMPI_CRIT__LOG__INIT;
    lg.has_severity = 1;
    lg.severity = severity;
    lg.message = (char *) message;
    CrmpiCrit__Body b = CRMPI_CRIT__BODY__INIT;
    b.value_case = CRMPI_CRIT__BODY__VALUE_LOG;
    b.log = &lg;
    t_put(s, &b, T_PID);
}

/* ---- a logger that records its calls ------------------------------------------ */

static char t_calls[2048];

static void t_call(const char *what)
{
    strncat(t_calls, what, sizeof(t_calls) - strlen(t_calls) - 2);
    strcat(t_calls, " ");
}

static void l_pre_init(struct criterion_suite *s, struct criterion_test *t) { (void) s; (void) t; t_call("pre_init"); }
static void l_pre_test(struct criterion_suite *s, struct criterion_test *t) { (void) s; (void) t; t_call("pre_test"); }
static void l_assert(struct criterion_assert_stats *a) { t_call(a->passed ? "assert+" : "assert-"); }
static void l_theory_fail(struct criterion_theory_stats *t) { t_call("theory_fail"); t_call(t->formatted_args); }
static void l_timeout(struct criterion_test_stats *s) { (void) s; t_call("timeout"); }
static void l_crash(struct criterion_test_stats *s) { (void) s; t_call("crash"); }
static void l_abort(struct criterion_test_stats *s, const char *m) { (void) s; t_call("abort"); t_call(m); }
static void l_other_crash(struct criterion_test_stats *s) { (void) s; t_call("other_crash"); }
static void l_abnormal(struct criterion_test_stats *s) { (void) s; t_call("abnormal_exit"); }
static void l_post_test(struct criterion_test_stats *s) { (void) s; t_call("post_test"); }
static void l_post_fini(struct criterion_test_stats *s) { (void) s; t_call("post_fini"); }
static void l_message(enum criterion_severity sev, const char *m) { (void) sev; t_call("message"); t_call(m); }

static struct criterion_logger t_logger = {
    .log_pre_init = l_pre_init,
    .log_pre_test = l_pre_test,
    .log_assert = l_assert,
    .log_theory_fail = l_theory_fail,
    .log_test_timeout = l_timeout,
    .log_test_crash = l_crash,
    .log_test_abort = l_abort,
    .log_other_crash = l_other_crash,
    .log_abnormal_exit = l_abnormal,
    .log_post_test = l_post_test,
    .log_post_fini = l_post_fini,
    .log_message = l_message,
};

static struct criterion_test_extra_data t_data = { .line_ = 7, .file_ = "t.c" };
static struct criterion_test t_test = { .name = "t", .category = "s", .data = &t_data };
static struct criterion_suite t_suite = { .name = "s" };

static struct crmpi_forkrun fr;

static void t_setup(void)
{
    t_calls[0] = '\0';
    t_at = NULL;
    t_data.signal = 0;
    t_data.exit_code = 0;
    crmpi_forkrun_begin(&fr, &t_test, &t_suite, &t_logger, NULL, T_PID);
}

static void t_teardown(void)
{
    crmpi_forkrun_end(&fr);
}

TestSuite(forkrun, .init = t_setup, .fini = t_teardown);

/* A test that got as far as its body. */
static void t_started(struct t_stream *s)
{
    t_phase(s, CRMPI_CRIT__PHASE__KIND__SETUP, 1000, NULL);
    t_phase(s, CRMPI_CRIT__PHASE__KIND__MAIN, 2000, NULL);
}

/* The phases of a test that runs through, one failed expectation. */
static void t_normal_test(struct t_stream *s)
{
    t_started(s);
    t_assert(s, 0, "one is not two", 12);
    t_statistic(s, ".asserts_passed", 3);
    t_phase(s, CRMPI_CRIT__PHASE__KIND__TEARDOWN, 2000002000, NULL);
    t_phase(s, CRMPI_CRIT__PHASE__KIND__END, 2000003000, NULL);
}

Test(forkrun, failed_expectation)
{
    struct t_stream s = { .len = 0 };
    t_normal_test(&s);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, W_EXITCODE(0, 0), 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test assert- post_test post_fini ");
    cr_assert_eq(fr.ts.test_status, CR_STATUS_FAILED);
    cr_assert_eq(fr.ts.failed_asserts, 1);
    cr_assert_eq(fr.ts.passed_asserts, 3);
    cr_assert_eq(fr.ts.progress, 12u);
    cr_assert_str_eq(fr.ts.file, "t.c");
    cr_assert_float_eq(fr.ts.elapsed_time, 2.0, 1e-6);
    cr_assert_eq(fr.ss.tests, &fr.ts);
    cr_assert_eq(fr.ss.nb_tests, 1u);
    cr_assert_eq(fr.ss.tests_failed, 1u);
    cr_assert_eq(fr.ss.asserts_failed, 1u);
    cr_assert_eq(fr.ss.asserts_passed, 3u);
    cr_assert_eq(fr.ss.nb_asserts, 3u);
    cr_assert_not_null(fr.ts.asserts);
    cr_assert_str_eq(fr.ts.asserts->message, "one is not two");
    cr_assert_eq(fr.dropped, 0u);
}

Test(forkrun, crash_in_main)
{
    struct t_stream s = { .len = 0 };
    t_started(&s);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, SIGSEGV, 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test crash ");
    cr_assert(fr.ts.crashed);
    cr_assert_eq(fr.ts.signal, SIGSEGV);
    cr_assert_eq(fr.ss.tests_crashed, 1u);
    cr_assert_eq(fr.ss.tests_failed, 1u);
}

Test(forkrun, expected_signal_passes)
{
    t_data.signal = SIGABRT;
    struct t_stream s = { .len = 0 };
    t_started(&s);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, SIGABRT, 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test post_test post_fini ");
    cr_assert_eq(fr.ts.test_status, CR_STATUS_PASSED);
    cr_assert_eq(fr.ss.tests_passed, 1u);
}

Test(forkrun, crash_in_setup_is_a_warning)
{
    struct t_stream s = { .len = 0 };
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__SETUP, 1, NULL);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, SIGSEGV, 0, 0);
    cr_assert_str_eq(t_calls, "pre_init other_crash ");
    cr_assert(fr.ts.crashed);
}

Test(forkrun, exit_in_teardown_is_abnormal)
{
    struct t_stream s = { .len = 0 };
    t_started(&s);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__TEARDOWN, 3, NULL);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, W_EXITCODE(5, 0), 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test post_test abnormal_exit ");
}

Test(forkrun, exit_code_in_main)
{
    t_data.exit_code = 7;
    struct t_stream s = { .len = 0 };
    t_started(&s);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, W_EXITCODE(7, 0), 0, 0);
    cr_assert_eq(fr.ts.exit_code, 7);
    cr_assert_eq(fr.ts.test_status, CR_STATUS_PASSED);
}

Test(forkrun, timeout)
{
    struct t_stream s = { .len = 0 };
    t_started(&s);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, SIGKILL, 1, 0.5);
    cr_assert_str_eq(t_calls, "pre_init pre_test timeout ");
    cr_assert(fr.ts.timed_out);
    cr_assert_eq(fr.ts.test_status, CR_STATUS_FAILED);
    cr_assert_float_eq(fr.ts.elapsed_time, 0.5, 1e-6);
    cr_assert_eq(fr.ts.signal, 0, "a timeout is no crash");
}

Test(forkrun, skip_keeps_its_message)
{
    struct t_stream s = { .len = 0 };
    t_started(&s);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__SKIP, 3, "not today");
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, W_EXITCODE(0, 0), 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test post_test ");
    cr_assert_eq(fr.ts.test_status, CR_STATUS_SKIPPED);
    cr_assert_str_eq(fr.ts.message, "not today");
    cr_assert_eq(fr.ss.tests_skipped, 1u);
}

Test(forkrun, abort_in_main)
{
    struct t_stream s = { .len = 0 };
    t_started(&s);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__ABORT, 3, "caught an exception");
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, W_EXITCODE(0, 0), 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test abort caught an exception post_test post_fini ");
    cr_assert_eq(fr.ts.test_status, CR_STATUS_FAILED);
}

Test(forkrun, theory_data_points)
{
    struct t_stream s = { .len = 0 };
    t_started(&s);
    /* one data point passes, the next fails */
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__SETUP, 3, NULL);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__MAIN, 4, NULL);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__TEARDOWN, 5, NULL);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__END, 6, NULL);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__SETUP, 7, NULL);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__MAIN, 8, NULL);
    t_assert(&s, 0, "a=1", 30);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__ABORT, 9, "(1)");
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__TEARDOWN, 10, NULL);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__END, 11, NULL);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    crmpi_forkrun_death(&fr, W_EXITCODE(0, 0), 0, 0);
    cr_assert_str_eq(t_calls, "pre_init pre_test assert- theory_fail (1) post_test post_fini ");
    cr_assert_eq(fr.dropped, 0u);
    cr_assert_eq(fr.ts.test_status, CR_STATUS_FAILED);
}

Test(forkrun, log_messages)
{
    struct t_stream s = { .len = 0 };
    t_log(&s, CR_LOG_WARNING, "careful");
    t_log(&s, 9, "no such severity");
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    cr_assert_str_eq(t_calls, "message careful ");
    cr_assert_eq(fr.dropped, 1u);
}

Test(forkrun, out_of_order_and_foreign_messages_are_dropped)
{
    struct t_stream s = { .len = 0 };
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__SETUP, 1, NULL);
    t_phase_from(&s, CRMPI_CRIT__PHASE__KIND__MAIN, 2, NULL, T_PID + 1); /* another process */
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__TEARDOWN, 3, NULL);             /* skips MAIN */
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__END, 4, NULL);                  /* skips two */
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    cr_assert_eq(fr.dropped, 3u);
    cr_assert_str_eq(t_calls, "pre_init ");
}

Test(forkrun, cut_record_stops_the_replay)
{
    struct t_stream s = { .len = 0 };
    t_normal_test(&s);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len - 3), -EBADMSG);
    cr_assert_str_eq(t_calls, "pre_init pre_test assert- post_test ");
}

Test(forkrun, garbage_record_is_dropped)
{
    struct t_stream s = { .len = 0 };
    static const uint8_t junk[] = { 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff };
    memcpy(s.buf, junk, sizeof(junk));
    s.len = sizeof(junk);
    t_phase(&s, CRMPI_CRIT__PHASE__KIND__SETUP, 1, NULL);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    cr_assert_eq(fr.dropped, 1u);
    cr_assert_str_eq(t_calls, "pre_init ");
}

Test(forkrun, oversized_length_is_refused)
{
    uint8_t buf[8] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4 };
    cr_assert_eq(crmpi_forkrun_feed(&fr, buf, sizeof(buf)), -EBADMSG);
    cr_assert_str_eq(t_calls, "");
}

/* ---- where the test's output stood at each record ------------------------------------ */

/* The replay's position at each assertion the logger sees (stderr's), in order. */
static uint64_t t_err_at[8];
static size_t t_n_err_at;

static void l_assert_at(struct criterion_assert_stats *a)
{
    (void) a;
    if (t_n_err_at < sizeof(t_err_at) / sizeof(t_err_at[0]))
        t_err_at[t_n_err_at++] = fr.at[1];
}

Test(forkrun, records_say_where_the_output_was)
{
    struct criterion_logger logger = t_logger;
    logger.log_assert = l_assert_at;
    fr.logger = &logger;
    t_n_err_at = 0;
    struct t_stream s = { .len = 0 };
    uint64_t at[2] = { 0, 0 };
    t_at = at;
    t_started(&s);
    at[0] = 5;
    at[1] = 17;
    t_assert(&s, 0, "first", 10);
    t_at = NULL;                    /* a record that says nothing: the last position holds */
    t_assert(&s, 0, "second", 11);
    t_at = at;
    at[1] = 40;
    t_phase_from(&s, CRMPI_CRIT__PHASE__KIND__TEARDOWN, 3, NULL, T_PID + 1);   /* dropped */
    at[1] = 30;
    t_assert(&s, 0, "third", 12);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len), 0);
    cr_assert_eq(fr.dropped, 1u);
    cr_assert_eq(t_n_err_at, 3u);
    cr_assert_eq(t_err_at[0], 17u);
    cr_assert_eq(t_err_at[1], 17u);
    cr_assert_eq(t_err_at[2], 30u);
    cr_assert_eq(fr.at[0], 5u);
    cr_assert_eq(fr.at[1], 30u);
}

Test(forkrun, position_cut_short_stops_the_replay)
{
    struct t_stream s = { .len = 0 };
    uint64_t at[2] = { 1, 2 };
    t_at = at;
    t_started(&s);
    uint32_t head = 4u | CRMPI_FORKRUN_AT;
    memcpy(s.buf + s.len, &head, sizeof(head));
    memcpy(s.buf + s.len + sizeof(head), at, 10);
    cr_assert_eq(crmpi_forkrun_feed(&fr, s.buf, s.len + sizeof(head) + 10), -EBADMSG);
    cr_assert_str_eq(t_calls, "pre_init pre_test ");
}
