/*
 * libFuzzer target for the replay of a fork-isolated test process's channel
 * (plugin/forkrun.c): whatever bytes test code leaves there, the replay
 * ends in 0, -EBADMSG or -ENOMEM, keeps its statistics consistent, and
 * never crashes, hangs or leaks.
 *
 * Input: one byte choosing how the process ended (low bits: exit, signal or
 * timeout; high bits: the code, whose lowest bit also makes the test expect
 * SIGABRT), then the channel's bytes (records with or without the output's
 * position).  The test process's pid is the one its first record claims,
 * as in a real run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "critproto.pb-c.h"
#include "forkrun.h"

static size_t sink;

static void touch(const char *s)
{
    sink += s ? strlen(s) : 1;
}

static void touch_stats(struct criterion_test_stats *ts)
{
    touch(ts->file);
    touch(ts->message);
    for (struct criterion_assert_stats *a = ts->asserts; a; a = a->next) {
        touch(a->message);
        touch(a->file);
    }
}

static void touch_param(struct cr_log_assert_param *p)
{
    touch(p->name);
    const uint8_t *d = p->data;
    for (size_t i = 0; i < p->size; ++i)
        sink += d[i];
}

static void f_pre_init(struct criterion_suite *s, struct criterion_test *t) { touch(s->name); touch(t->name); }
static void f_pre_test(struct criterion_suite *s, struct criterion_test *t) { touch(s->name); touch(t->name); }
static void f_assert(struct criterion_assert_stats *a) { touch(a->message); touch(a->file); }
static void f_theory_fail(struct criterion_theory_stats *t) { touch(t->formatted_args); touch_stats(t->stats); }
static void f_stats(struct criterion_test_stats *s) { touch_stats(s); }
static void f_abort(struct criterion_test_stats *s, const char *m) { touch_stats(s); touch(m); }
static void f_message(enum criterion_severity sev, const char *m) { sink += (size_t) sev; touch(m); }
static void f_sub(struct criterion_assert_stats *a, const char *r, const char *m) { f_assert(a); touch(r); touch(m); }
static void f_formatted(struct criterion_assert_stats *a, const char *m) { f_assert(a); touch(m); }
static void f_param(struct criterion_assert_stats *a, struct cr_log_assert_param *p) { f_assert(a); touch_param(p); }
static void f_param_eq(struct criterion_assert_stats *a, struct cr_log_assert_param *p1,
        struct cr_log_assert_param *p2) { f_assert(a); touch_param(p1); touch_param(p2); }

static struct criterion_logger f_logger = {
    .log_pre_init = f_pre_init,
    .log_pre_test = f_pre_test,
    .log_assert = f_assert,
    .log_theory_fail = f_theory_fail,
    .log_test_timeout = f_stats,
    .log_test_crash = f_stats,
    .log_test_abort = f_abort,
    .log_other_crash = f_stats,
    .log_abnormal_exit = f_stats,
    .log_post_test = f_stats,
    .log_post_fini = f_stats,
    .log_message = f_message,
    .log_assert_sub = f_sub,
    .log_assert_formatted = f_formatted,
    .log_assert_param = f_param,
    .log_assert_param_eq = f_param_eq,
};

static int64_t first_pid(const uint8_t *data, size_t size)
{
    uint32_t n;
    if (size < sizeof(n))
        return 0;
    memcpy(&n, data, sizeof(n));
    size_t at = (n & CRMPI_FORKRUN_AT) ? 2 * sizeof(uint64_t) : 0;     /* where the output was */
    n &= ~CRMPI_FORKRUN_AT;
    if (at > size - sizeof(n) || n > size - sizeof(n) - at)
        return 0;
    CrmpiCrit__Message *m = crmpi_crit__message__unpack(NULL, n, data + sizeof(n) + at);
    int64_t pid = m && m->id_case == CRMPI_CRIT__MESSAGE__ID_PID ? m->pid : 0;
    if (m)
        crmpi_crit__message__free_unpacked(m, NULL);
    return pid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct criterion_test_extra_data tdata = { .line_ = 1, .file_ = "fuzz.c" };
    static struct criterion_test test = { .name = "t", .category = "s", .data = &tdata };
    static struct criterion_suite suite = { .name = "s" };
    if (!size)
        return 0;
    unsigned how = data[0] & 3, code = data[0] >> 2;
    ++data;
    --size;
    tdata.signal = (code & 1) ? 6 : 0;     /* a test that expects SIGABRT, or none */

    struct crmpi_forkrun fr;
    crmpi_forkrun_begin(&fr, &test, &suite, &f_logger, NULL, first_pid(data, size));
    int rc = crmpi_forkrun_feed(&fr, data, size);
    if (rc && rc != -EBADMSG && rc != -ENOMEM)
        abort();
    int status = how == 1 ? (int) (code % 31 + 1) : W_EXITCODE(code, 0);
    crmpi_forkrun_death(&fr, status, how == 2, 0.25);

    /* The statistics add up as Criterion's do. */
    size_t failed = 0, passed_listed = 0;
    for (struct criterion_assert_stats *a = fr.ts.asserts; a; a = a->next)
        a->passed ? ++passed_listed : ++failed;
    if ((size_t) fr.ts.failed_asserts != failed || fr.ss.asserts_failed != failed)
        abort();
    /* (A test may announce itself more than once: Criterion counts it again too.) */
    if (fr.ss.tests && fr.ss.tests != &fr.ts)
        abort();
    touch_stats(&fr.ts);
    crmpi_forkrun_end(&fr);
    return 0;
}
