#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "crit.h"
#include "critproto.pb-c.h"
#include "crit_release.h"
#include "forkrun.h"

/*
 * Criterion's client states.  A test nested in a running one (each data
 * point of a theory) pushes two more bits: a state of FK_MAX or more means
 * "inside a nested test".
 */
enum { FK_SETUP = 0, FK_MAIN = 1, FK_TEARDOWN = 2, FK_END = 3, FK_MAX = 4,
       FK_ABORT = 4, FK_TIMEOUT = 5, FK_SKIP = 6 };

#define FK_MAX_DEPTH 16


static const char *const fk_hook_sections[CRMPI_FK_HOOK_COUNT] = {
    [CRMPI_FK_PRE_INIT] = CRMPI_CRIT_SECTION_PRE_INIT,
    [CRMPI_FK_PRE_TEST] = CRMPI_CRIT_SECTION_PRE_TEST,
    [CRMPI_FK_ASSERT] = CRMPI_CRIT_SECTION_ASSERT,
    [CRMPI_FK_THEORY_FAIL] = CRMPI_CRIT_SECTION_THEORY_FAIL,
    [CRMPI_FK_TEST_CRASH] = CRMPI_CRIT_SECTION_TEST_CRASH,
    [CRMPI_FK_POST_TEST] = CRMPI_CRIT_SECTION_POST_TEST,
    [CRMPI_FK_POST_FINI] = CRMPI_CRIT_SECTION_POST_FINI,
};

int crmpi_forkrun_hooks_collect(struct crmpi_forkrun_hooks *h)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < CRMPI_FK_HOOK_COUNT; ++i) {
        int rc = crmpi_hooks_collect(fk_hook_sections[i], &h->lists[i]);
        if (rc) {
            crmpi_forkrun_hooks_free(h);
            return rc;
        }
    }
    return 0;
}

void crmpi_forkrun_hooks_free(struct crmpi_forkrun_hooks *h)
{
    for (int i = 0; i < CRMPI_FK_HOOK_COUNT; ++i)
        crmpi_hooks_free(&h->lists[i]);
}

#define fk_log(fr, fn, ...)                                                   \
    do {                                                                      \
        if ((fr)->logger && (fr)->logger->fn)                                 \
            (fr)->logger->fn(__VA_ARGS__);                                    \
    } while (0)

/* The new assertion API's logger members (none on 2.3: never called there). */
#define fk_alog(fr, fn, ...)                                                  \
    do {                                                                      \
        if ((fr)->logger) {                                                   \
            struct crmpi_crit_assert_log fk_alog_ = crmpi_crit_assert_log_of((fr)->logger); \
            if (fk_alog_.fn)                                                  \
                fk_alog_.fn(__VA_ARGS__);                                     \
        }                                                                     \
    } while (0)

static void fk_report(struct crmpi_forkrun *fr, int kind, void *arg)
{
    if (fr->hooks)
        crmpi_hooks_call(&fr->hooks->lists[kind], arg);
}

void crmpi_forkrun_begin(struct crmpi_forkrun *fr, struct criterion_test *test,
        struct criterion_suite *suite, struct criterion_logger *logger,
        const struct crmpi_forkrun_hooks *hooks, int64_t pid)
{
    *fr = (struct crmpi_forkrun) {
        .test = test,
        .suite = suite,
        .logger = logger,
        .hooks = hooks,
        .pid = pid,
    };
    fr->ts = (struct criterion_test_stats) {
        .test = test,
        .progress = test->data->line_,
        .file = test->data->file_,
    };
    fr->ss = (struct criterion_suite_stats) { .suite = suite };
}

/* ---- the statistics (Criterion's stats.c) ---------------------------------- */

static void fk_stat_pre_init(struct crmpi_forkrun *fr)
{
    fr->ss.tests = &fr->ts;
    ++fr->ss.nb_tests;
    if (fr->ts.test_status == CR_STATUS_SKIPPED)
        ++fr->ss.tests_skipped;
}

static int fk_stat_assert(struct crmpi_forkrun *fr, const struct criterion_assert_stats *as)
{
    struct criterion_assert_stats *dup = malloc(sizeof(*dup));
    char *message = as->message ? strdup(as->message) : NULL;
    char *file = strdup(as->file);
    if (!dup || (as->message && !message) || !file) {
        free(dup);
        free(message);
        free(file);
        return -ENOMEM;
    }
    *dup = *as;
    dup->message = message;
    dup->file = file;
    dup->next = fr->ts.asserts;
    fr->ts.asserts = dup;
    if (as->passed) {
        ++fr->ss.asserts_passed;
        ++fr->ts.passed_asserts;
    } else {
        ++fr->ss.asserts_failed;
        ++fr->ts.failed_asserts;
    }
    fr->ts.progress = dup->line;
    fr->ts.file = dup->file;
    return 0;
}

static void fk_stat_post_test(struct crmpi_forkrun *fr, double elapsed)
{
    struct criterion_test_stats *ts = &fr->ts;
    ts->elapsed_time = (float) elapsed;
    if (ts->failed_asserts > 0 || ts->timed_out || ts->signal != fr->test->data->signal
            || ts->exit_code != fr->test->data->exit_code)
        ts->test_status = CR_STATUS_FAILED;
    switch (ts->test_status) {
    case CR_STATUS_FAILED:
        ++fr->ss.tests_failed;
        break;
    case CR_STATUS_PASSED:
        ++fr->ss.tests_passed;
        break;
    case CR_STATUS_SKIPPED:
        ++fr->ss.tests_skipped;
        break;
    }
}

static void fk_stat_test_crash(struct crmpi_forkrun *fr)
{
    fr->ts.test_status = CR_STATUS_FAILED;
    fr->ts.crashed = 1;
    ++fr->ss.tests_failed;
    ++fr->ss.tests_crashed;
}

/* A POST_TEST event: statistics, then the report hooks. */
static void fk_post_test(struct crmpi_forkrun *fr, double elapsed)
{
    fk_stat_post_test(fr, elapsed);
    fk_report(fr, CRMPI_FK_POST_TEST, &fr->ts);
}

static void fk_post_fini(struct crmpi_forkrun *fr)
{
    fk_report(fr, CRMPI_FK_POST_FINI, &fr->ts);
}

/* ---- phases (Criterion's client.c) ------------------------------------------- */

static int fk_is_nested(const struct crmpi_forkrun *fr)
{
    return fr->state >= FK_MAX;
}

static void fk_on_setup(struct crmpi_forkrun *fr)
{
    if (fr->state != 0)
        return;     /* a nested test announces nothing */
    fk_stat_pre_init(fr);
    fk_report(fr, CRMPI_FK_PRE_INIT, fr->test);
    fk_log(fr, log_pre_init, fr->suite, fr->test);
}

static void fk_on_main(struct crmpi_forkrun *fr, int64_t timestamp)
{
    if (fk_is_nested(fr))
        return;
    fr->start_ts = timestamp;
    fk_report(fr, CRMPI_FK_PRE_TEST, fr->test);
    fk_log(fr, log_pre_test, fr->suite, fr->test);
}

static void fk_on_teardown(struct crmpi_forkrun *fr, int64_t timestamp)
{
    if (fk_is_nested(fr))
        return;
    fk_post_test(fr, (double) (timestamp - fr->start_ts) / 1e9);
    fk_log(fr, log_post_test, &fr->ts);
}

static void fk_on_end(struct crmpi_forkrun *fr)
{
    if (fk_is_nested(fr))
        return;
    fk_post_fini(fr);
    fk_log(fr, log_post_fini, &fr->ts);
}

static int fk_on_abort(struct crmpi_forkrun *fr, const char *message)
{
    unsigned cur = fr->state & (FK_MAX - 1);
    if (!fk_is_nested(fr)) {
        fr->ts.test_status = CR_STATUS_FAILED;
        fk_log(fr, log_test_abort, &fr->ts, message ? message : "");
        if (cur < FK_TEARDOWN) {
            fk_post_test(fr, 0);
            fk_log(fr, log_post_test, &fr->ts);
        }
        if (cur < FK_END) {
            fk_post_fini(fr);
            fk_log(fr, log_post_fini, &fr->ts);
        }
        return 0;
    }
    /* A data point of a theory failed. */
    char *args = strdup(message ? message : "");
    if (!args)
        return -ENOMEM;
    struct criterion_theory_stats ths = { .formatted_args = args, .stats = &fr->ts };
    fk_report(fr, CRMPI_FK_THEORY_FAIL, &ths);
    fk_log(fr, log_theory_fail, &ths);
    free(args);
    return 0;
}

static void fk_on_timeout(struct crmpi_forkrun *fr, double elapsed)
{
    if (fk_is_nested(fr))
        return;
    fr->ts.timed_out = 1;
    fk_post_test(fr, elapsed);
    fk_post_fini(fr);
    fk_log(fr, log_test_timeout, &fr->ts);
}

static int fk_on_skip(struct crmpi_forkrun *fr, const char *message)
{
    if (fk_is_nested(fr))
        return 0;
    fr->ts.test_status = CR_STATUS_SKIPPED;
    free((char *) fr->ts.message);
    fr->ts.message = NULL;
    if (message && !(fr->ts.message = strdup(message)))
        return -ENOMEM;
    fk_post_test(fr, 0);
    fk_post_fini(fr);
    fk_log(fr, log_post_test, &fr->ts);
    return 0;
}

static const unsigned fk_kind_to_state[] = {
    [CRMPI_CRIT__PHASE__KIND__SETUP] = FK_SETUP,
    [CRMPI_CRIT__PHASE__KIND__MAIN] = FK_MAIN,
    [CRMPI_CRIT__PHASE__KIND__TEARDOWN] = FK_TEARDOWN,
    [CRMPI_CRIT__PHASE__KIND__END] = FK_END,
    [CRMPI_CRIT__PHASE__KIND__ABORT] = FK_ABORT,
    [CRMPI_CRIT__PHASE__KIND__TIMEOUT] = FK_TIMEOUT,
    [CRMPI_CRIT__PHASE__KIND__SKIP] = FK_SKIP,
};

/*
 * A phase change.  Where Criterion's runner answers a change it does not
 * expect with an error (and the test process then aborts), the message is
 * dropped: the process here was not waiting for an answer.
 */
static int fk_phase(struct crmpi_forkrun *fr, const CrmpiCrit__Phase *ph, double elapsed)
{
    if (!ph->has_phase || ph->phase < CRMPI_CRIT__PHASE__KIND__SETUP
            || ph->phase > CRMPI_CRIT__PHASE__KIND__SKIP)
        return -EBADMSG;
    unsigned next = fk_kind_to_state[ph->phase];
    unsigned cur = fr->state & (FK_MAX - 1);

    if (next == FK_SETUP) {
        if (fr->state != 0 && fr->state != FK_MAIN)
            return -EBADMSG;        /* a nested test outside the main phase */
        if (fr->state & (0x3u << (FK_MAX_DEPTH - 1) * 2))
            return -EBADMSG;        /* nested too deep */
    } else if (cur == FK_END) {
        return -EBADMSG;            /* the test has already ended */
    } else if (cur < FK_END && next <= FK_END && next != cur + 1) {
        return -EBADMSG;            /* out of order */
    }

    int rc = 0;
    switch (next) {
    case FK_SETUP: fk_on_setup(fr); break;
    case FK_MAIN: fk_on_main(fr, ph->timestamp); break;
    case FK_TEARDOWN: fk_on_teardown(fr, ph->timestamp); break;
    case FK_END: fk_on_end(fr); break;
    case FK_ABORT: rc = fk_on_abort(fr, ph->message); break;
    case FK_TIMEOUT: fk_on_timeout(fr, elapsed); break;
    case FK_SKIP: rc = fk_on_skip(fr, ph->message); break;
    }

    if (next >= FK_END)
        fr->state = (fr->state >> 2) ? fr->state >> 2 : FK_END;
    else if (next == FK_SETUP)
        fr->state <<= 2;
    else
        ++fr->state;
    return rc;
}

/* ---- assertions, messages, statistics -------------------------------------------- */

/* Criterion's line for an eq() whose two sides print the same. */
static const char fk_no_difference[] =
    "@@@ <no difference -- this is a user bug in the object stringifier>";

static void fk_param(struct cr_log_assert_param *p, const CrmpiCrit__ParamEntry *e)
{
    *p = (struct cr_log_assert_param) { .name = e->name ? e->name : "", .data = (void *) "" };
    if (e->data_case == CRMPI_CRIT__PARAM_ENTRY__DATA_RAW) {
        p->kind = CR_LOG_PARAM_RAW;
        p->size = e->raw.len;
        p->data = e->raw.data ? (void *) e->raw.data : (void *) "";
    } else if (e->data_case == CRMPI_CRIT__PARAM_ENTRY__DATA_STR && e->str) {
        p->kind = CR_LOG_PARAM_STR;
        p->size = strlen(e->str);
        p->data = e->str;
    }
}

static void fk_assert_result(struct crmpi_forkrun *fr, struct criterion_assert_stats *as,
        const CrmpiCrit__AssertResult *res)
{
    fk_alog(fr, sub, as, res->repr ? res->repr : "", res->message);
    switch (res->value_case) {
    case CRMPI_CRIT__ASSERT_RESULT__VALUE_PARAMS: {
        const CrmpiCrit__ParamList *pl = res->params;
        size_t j = 0;
        if (pl->n_list == 0 && !res->message) {
            fk_alog(fr, formatted, as,
                    fk_no_difference);
            return;
        }
        if (pl->n_list >= 2 && pl->list[0]->name && pl->list[1]->name
                && !strcmp(pl->list[0]->name, "actual") && !strcmp(pl->list[1]->name, "expected")) {
            struct cr_log_assert_param actual, expected;
            fk_param(&actual, pl->list[0]);
            fk_param(&expected, pl->list[1]);
            const struct crmpi_release *rel = crmpi_release_loaded();
            if (rel && rel->equal_params_no_difference && actual.size == expected.size
                    && !memcmp(actual.data, expected.data, actual.size))
                fk_alog(fr, formatted, as,
                        fk_no_difference);
            else
                fk_alog(fr, param_eq, as, &actual, &expected);
            j = 2;
        }
        for (; j < pl->n_list; ++j) {
            struct cr_log_assert_param p;
            fk_param(&p, pl->list[j]);
            fk_alog(fr, param, as, &p);
        }
        return;
    }
    case CRMPI_CRIT__ASSERT_RESULT__VALUE_FORMATTED:
        if ((!res->formatted || !res->formatted[0]) && !res->message) {
            fk_alog(fr, formatted, as, "@@@ <no message>");
            return;
        }
        fk_alog(fr, formatted, as, res->formatted ? res->formatted : "");
        return;
    default:
        fk_alog(fr, formatted, as,
                "@@@ <no message or difference -- this is a user bug in the object stringifier>");
        return;
    }
}

static int fk_assert(struct crmpi_forkrun *fr, const CrmpiCrit__Assert *a)
{
    struct criterion_assert_stats as = {
        .message = a->message ? a->message : "",
        .passed = a->passed,
        .line = a->has_line ? (unsigned) a->line : 0,
        .file = a->file ? a->file : "unknown",
    };
    int rc = fk_stat_assert(fr, &as);
    if (rc)
        return rc;
    fk_report(fr, CRMPI_FK_ASSERT, &as);
    fk_log(fr, log_assert, &as);
    for (size_t i = 0; i < a->n_results; ++i)
        fk_assert_result(fr, &as, a->results[i]);
    return 0;
}

static void fk_statistic(struct crmpi_forkrun *fr, const CrmpiCrit__Statistic *st)
{
    if (!st->key || strcmp(st->key, ".asserts_passed")
            || st->value_case != CRMPI_CRIT__STATISTIC__VALUE_NUM)
        return;
    fr->ts.passed_asserts += (int) st->num;
    fr->ss.asserts_passed += (size_t) st->num;
    fr->ss.nb_asserts += (size_t) st->num;
}

static int fk_message(struct crmpi_forkrun *fr, const CrmpiCrit__Message *m)
{
    if (!m->has_version || m->version != 1 || !m->data)
        return -EBADMSG;
    /* Only the test process talks to its runner: what it forked does not. */
    if (m->id_case != CRMPI_CRIT__MESSAGE__ID_PID || m->pid != fr->pid)
        return -EBADMSG;
    const CrmpiCrit__Body *b = m->data;
    switch (b->value_case) {
    case CRMPI_CRIT__BODY__VALUE_BIRTH:
        return 0;
    case CRMPI_CRIT__BODY__VALUE_PHASE:
        return fk_phase(fr, b->phase, 0);
    case CRMPI_CRIT__BODY__VALUE_ASSERT:
        return fk_assert(fr, b->assert);
    case CRMPI_CRIT__BODY__VALUE_LOG: {
        int sev = b->log->has_severity ? b->log->severity : 0;
        if (sev < CR_LOG_INFO || sev > CR_LOG_ERROR)
            return -EBADMSG;
        fk_log(fr, log_message, (enum criterion_severity) sev,
                b->log->message ? b->log->message : "");
        return 0;
    }
    case CRMPI_CRIT__BODY__VALUE_STATISTIC:
        fk_statistic(fr, b->statistic);
        return 0;
    default:
        return -EBADMSG;    /* a death comes from the runner, never from a test */
    }
}

int crmpi_forkrun_feed(struct crmpi_forkrun *fr, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= sizeof(uint32_t)) {
        uint32_t n;
        memcpy(&n, buf + off, sizeof(n));
        off += sizeof(n);
        uint64_t at[2] = { fr->at[0], fr->at[1] };
        if (n & CRMPI_FORKRUN_AT) {
            n &= ~CRMPI_FORKRUN_AT;
            if (len - off < sizeof(at))
                return -EBADMSG;
            memcpy(at, buf + off, sizeof(at));
            off += sizeof(at);
        }
        if (n > CRMPI_FORKRUN_MAX_RECORD || n > len - off)
            return -EBADMSG;
        CrmpiCrit__Message *m = crmpi_crit__message__unpack(NULL, n, buf + off);
        off += n;
        if (!m) {
            ++fr->dropped;
            continue;
        }
        /* The position counts for the events of this message, and on only if it is taken. */
        uint64_t before[2] = { fr->at[0], fr->at[1] };
        memcpy(fr->at, at, sizeof(at));
        int rc = fk_message(fr, m);
        crmpi_crit__message__free_unpacked(m, NULL);
        if (rc == -ENOMEM)
            return rc;
        if (rc) {
            ++fr->dropped;
            memcpy(fr->at, before, sizeof(before));
        }
    }
    return off == len ? 0 : -EBADMSG;
}

/* ---- the process's end --------------------------------------------------------- */

void crmpi_forkrun_death(struct crmpi_forkrun *fr, int status, int timed_out, double elapsed)
{
    if (timed_out) {
        CrmpiCrit__Phase timeout = CRMPI_CRIT__PHASE__INIT;
        timeout.has_phase = 1;
        timeout.phase = CRMPI_CRIT__PHASE__KIND__TIMEOUT;
        fk_phase(fr, &timeout, elapsed);
    }
    int crashed = !timed_out && WIFSIGNALED(status);
    int code = timed_out ? 0 : crashed ? WTERMSIG(status)
             : WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    unsigned cur = fr->state & (FK_MAX - 1);

    if (crashed) {
        if (cur != FK_MAIN) {
            fk_log(fr, log_other_crash, &fr->ts);
            if (fr->state < FK_MAIN)
                fk_stat_test_crash(fr);
            return;
        }
        fr->ts.signal = code;
        if (fr->test->data->signal == 0) {
            fk_stat_test_crash(fr);
            fk_report(fr, CRMPI_FK_TEST_CRASH, &fr->ts);
            fk_log(fr, log_test_crash, &fr->ts);
        } else {
            fk_post_test(fr, 0);
            fk_log(fr, log_post_test, &fr->ts);
            fk_post_fini(fr);
            fk_log(fr, log_post_fini, &fr->ts);
        }
        return;
    }
    if (cur == FK_TEARDOWN || fr->state == FK_SETUP) {
        fk_log(fr, log_abnormal_exit, &fr->ts);
        if (fr->state == FK_SETUP)
            fk_stat_test_crash(fr);
        return;
    }
    fr->ts.exit_code = code;
    if (fr->state == FK_MAIN) {
        fk_post_test(fr, 0);
        fk_log(fr, log_post_test, &fr->ts);
        fk_post_fini(fr);
        fk_log(fr, log_post_fini, &fr->ts);
    }
}

void crmpi_forkrun_end(struct crmpi_forkrun *fr)
{
    for (struct criterion_assert_stats *a = fr->ts.asserts, *next; a; a = next) {
        next = a->next;
        free((char *) a->message);
        free((char *) a->file);
        free(a);
    }
    fr->ts.asserts = NULL;
    free((char *) fr->ts.message);
    fr->ts.message = NULL;
}
