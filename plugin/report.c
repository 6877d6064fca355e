#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/options.h>

#include "crit.h"
#include "events.h"
#include "outputs.h"
#include "report.h"
#include "runnerlink.h"

#define report_call(r, fn, ...)                                               \
    do {                                                                      \
        if ((r)->logger && (r)->logger->fn)                                   \
            (r)->logger->fn(__VA_ARGS__);                                     \
    } while (0)

static const char *const report_sections[CRMPI_HOOK_COUNT] = {
    [CRMPI_HOOK_PRE_ALL] = CRMPI_CRIT_SECTION_PRE_ALL,
    [CRMPI_HOOK_PRE_SUITE] = CRMPI_CRIT_SECTION_PRE_SUITE,
    [CRMPI_HOOK_POST_SUITE] = CRMPI_CRIT_SECTION_POST_SUITE,
    [CRMPI_HOOK_POST_ALL] = CRMPI_CRIT_SECTION_POST_ALL,
};

int crmpi_report_begin(struct crmpi_report *r, struct criterion_test_set *set)
{
    /* Looked up once: getenv per printed unit was 1 % of the coordinator's work. */
    *r = (struct crmpi_report) { .set = set, .logger = criterion_options.logger,
                                 .framed = getenv(CRMPI_ENV_RUNNER) != NULL };
    for (int i = 0; i < CRMPI_HOOK_COUNT; ++i) {
        int rc = crmpi_hooks_collect(report_sections[i], &r->hooks[i]);
        if (rc)
            return rc;
    }
    crmpi_hooks_call(&r->hooks[CRMPI_HOOK_PRE_ALL], set);
    report_call(r, log_pre_all, set);
    return 0;
}

static int report_announce(struct crmpi_report *r, struct criterion_suite_set *ss)
{
    for (size_t i = 0; i < r->n_announced; ++i)
        if (r->announced[i] == ss)
            return 0;
    const struct criterion_suite_set **grown =
        realloc(r->announced, (r->n_announced + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    r->announced = grown;
    r->announced[r->n_announced++] = ss;
    crmpi_hooks_call(&r->hooks[CRMPI_HOOK_PRE_SUITE], ss);
    report_call(r, log_pre_suite, ss);
    return 0;
}

/* Writes bytes [*done, at) of a captured stream to f; *done becomes at. */
static void report_output_upto(const ProtobufCBinaryData *data, int has, uint64_t at,
        size_t *done, FILE *f)
{
    size_t len = has ? data->len : 0;
    size_t to = at < len ? (size_t) at : len;
    if (to <= *done)
        return;
    fwrite(data->data + *done, 1, to - *done, f);
    fflush(f);
    *done = to;
}

/*
 * Where the output stands before event i of res: what the event carries
 * (the decoder checked it is in range and never goes back), the place of
 * an earlier event when it carries none.  A result with no position at all
 * (output not captured) puts it all where it goes in most tests: once the
 * test started (after PRE_TEST, or PRE_INIT when the setup failed).
 */
static void report_output_before(const Crmp__Result *res, size_t i, size_t start,
        int positioned, uint64_t at[2])
{
    const Crmp__Event *e = res->events[i];
    if (!positioned) {
        if (i >= start)
            at[0] = at[1] = UINT64_MAX;
        return;
    }
    if (e->has_out_at)
        at[0] = e->out_at;
    if (e->has_err_at)
        at[1] = e->err_at;
}

void crmpi_report_unit(struct crmpi_report *r, const struct crmpi_report_unit *u)
{
    report_announce(r, u->suite);
    /*
     * What the test wrote itself goes where it was written in a serial run:
     * each event comes after the output the test had written when it
     * happened (stdout first where the two streams cannot be told apart).
     */
    const Crmp__Result *res = u->result;
    int positioned = 0;
    for (size_t i = 0; i < res->n_events; ++i)
        positioned |= res->events[i]->has_out_at || res->events[i]->has_err_at;
    size_t start = 0;
    for (size_t i = 0; i < res->n_events; ++i) {
        if (res->events[i]->kind == CRMP__EVENT__KIND__PRE_TEST) {
            start = i + 1;
            break;
        }
        if (res->events[i]->kind == CRMP__EVENT__KIND__PRE_INIT)
            start = i + 1;
    }
    uint64_t at[2] = { 0, 0 };
    size_t done[2] = { 0, 0 };
    for (size_t i = 0; i < res->n_events; ++i) {
        report_output_before(res, i, start, positioned, at);
        report_output_upto(&res->out, res->has_out, at[0], &done[0], stdout);
        report_output_upto(&res->err, res->has_err, at[1], &done[1], stderr);
        crmpi_events_replay(r->logger, &u->suite->suite, u->test, res->events[i]);
    }
    report_output_upto(&res->out, res->has_out, UINT64_MAX, &done[0], stdout);
    report_output_upto(&res->err, res->has_err, UINT64_MAX, &done[1], stderr);
    fflush(stderr);
    if (r->framed)
        crmpi_runnerlink_frame();
}

static const Crmp__Counters report_skipped_counters = {
    PROTOBUF_C_MESSAGE_INIT(&crmp__counters__descriptor), .nb_tests = 1, .tests_skipped = 1,
};

static const Crmp__Result report_skipped_result = {
    PROTOBUF_C_MESSAGE_INIT(&crmp__result__descriptor),
    .counters = (Crmp__Counters *) &report_skipped_counters, .has_disabled = 1, .disabled = 1,
};

const Crmp__Result *crmpi_report_skipped_result(void)
{
    return &report_skipped_result;
}

void crmpi_report_skipped(struct crmpi_report *r, const struct crmpi_report_unit *u)
{
    report_announce(r, u->suite);
    u->test->data->disabled = true;
    report_call(r, log_pre_init, &u->suite->suite, u->test);
}

/* ---- the statistics tree ----------------------------------------------------- */

static void report_free_stats(struct criterion_global_stats *gs)
{
    if (!gs)
        return;
    for (struct criterion_suite_stats *ss = gs->suites, *sn; ss; ss = sn) {
        sn = ss->next;
        for (struct criterion_test_stats *ts = ss->tests, *tn; ts; ts = tn) {
            tn = ts->next;
            for (struct criterion_assert_stats *a = ts->asserts, *an; a; a = an) {
                an = a->next;
                free(a);
            }
            free(ts);
        }
        free(ss);
    }
    free(gs);
}

static struct criterion_test_stats *report_test_stats(const struct crmpi_report_unit *u)
{
    const Crmp__Result *res = u->result;
    struct criterion_test_stats *ts = malloc(sizeof(*ts));
    if (!ts)
        return NULL;
    crmpi_events_fill_test_stats(ts, u->test, res->final);
    struct criterion_assert_stats **tail = &ts->asserts;
    for (size_t i = 0; i < res->n_asserts; ++i) {
        struct criterion_assert_stats *a = malloc(sizeof(*a));
        if (!a)
            return ts;      /* partial asserts: freed with the tree */
        crmpi_events_fill_assert(a, res->asserts[i]);
        *tail = a;
        tail = &a->next;
    }
    return ts;
}

static void report_add_counters(struct criterion_suite_stats *ss,
        struct criterion_global_stats *gs, const Crmp__Counters *c)
{
    ss->nb_tests += c->nb_tests;
    ss->nb_asserts += c->nb_asserts;
    ss->tests_skipped += c->tests_skipped;
    ss->tests_failed += c->tests_failed;
    ss->tests_crashed += c->tests_crashed;
    ss->tests_passed += c->tests_passed;
    ss->asserts_failed += c->asserts_failed;
    ss->asserts_passed += c->asserts_passed;
    gs->nb_tests += c->nb_tests;
    gs->nb_asserts += c->nb_asserts;
    gs->tests_skipped += c->tests_skipped;
    gs->tests_failed += c->tests_failed;
    gs->tests_crashed += c->tests_crashed;
    gs->tests_passed += c->tests_passed;
    gs->asserts_failed += c->asserts_failed;
    gs->asserts_passed += c->asserts_passed;
    crmpi_crit_stats_add_issues(gs, c->warnings, c->errors);
}


/*
 * Builds the tree in the order Criterion's serial runner leaves it: suites
 * and tests are pushed to the front as they run, so both lists end up
 * reversed with respect to the run order.
 */
static struct criterion_global_stats *report_build(const struct crmpi_report *r,
        const struct crmpi_report_unit *units, size_t n_units)
{
    struct criterion_global_stats *gs = calloc(1, sizeof(*gs));
    if (!gs)
        return NULL;
    size_t k = 0;
    FOREACH_SET(struct criterion_suite_set *set_ss, r->set->suites) {
        if (!set_ss->tests)
            continue;
        struct criterion_suite_stats *ss = calloc(1, sizeof(*ss));
        if (!ss)
            goto err;
        ss->suite = &set_ss->suite;
        ss->next = gs->suites;
        gs->suites = ss;
        ++gs->nb_suites;
        /* Units are in set order: this suite's are the next ones. */
        for (; k < n_units && units[k].suite == set_ss; ++k) {
            if (units[k].skipped) {
                /* What Criterion's runner records of a disabled test: counted, skipped. */
                struct criterion_test_stats *ts = calloc(1, sizeof(*ts));
                if (!ts)
                    goto err;
                *ts = (struct criterion_test_stats) { .test = units[k].test,
                    .test_status = CR_STATUS_SKIPPED, .progress = units[k].test->data->line_,
                    .file = units[k].test->data->file_, .next = ss->tests };
                ss->tests = ts;
                report_add_counters(ss, gs, &report_skipped_counters);
                continue;
            }
            if (!units[k].result)
                continue;
            if (units[k].result->final) {
                struct criterion_test_stats *ts = report_test_stats(&units[k]);
                if (!ts)
                    goto err;
                ts->next = ss->tests;
                ss->tests = ts;
            }
            report_add_counters(ss, gs, units[k].result->counters);
        }
    }
    return gs;

err:
    report_free_stats(gs);
    return NULL;
}

int crmpi_report_end(struct crmpi_report *r, const struct crmpi_report_unit *units,
        size_t n_units)
{
    /* Suites that never produced a unit still get their header, as in -j1. */
    FOREACH_SET(struct criterion_suite_set *ss, r->set->suites) {
        if (ss->tests)
            report_announce(r, ss);
    }

    r->stats = report_build(r, units, n_units);
    if (!r->stats)
        return -ENOMEM;

    for (struct criterion_suite_stats *ss = r->stats->suites; ss; ss = ss->next)
        crmpi_hooks_call(&r->hooks[CRMPI_HOOK_POST_SUITE], ss);
    crmpi_hooks_call(&r->hooks[CRMPI_HOOK_POST_ALL], r->stats);
    crmpi_outputs_write(r->stats);
    report_call(r, log_post_all, r->stats);
    fflush(stderr);
    crmpi_runnerlink_write_stats(r->stats);

    return crmpi_crit_verdict(r->stats);
}

void crmpi_report_free(struct crmpi_report *r)
{
    for (int i = 0; i < CRMPI_HOOK_COUNT; ++i)
        crmpi_hooks_free(&r->hooks[i]);
    free(r->announced);
    report_free_stats(r->stats);
    *r = (struct crmpi_report) { 0 };
}
