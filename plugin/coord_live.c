/*
 * What the coordinator says while tests run, beside the finished tests'
 * blocks: a test running past --mproc-slow (the state machine's SLOW
 * action); when the run is interrupted, the tests that were running then;
 * and on a terminal, the live status line under the blocks (progress.c
 * writes it, termline.c draws it).  The line steps aside for everything
 * else written while it is up: a block, a [SLOW] line, a diagnostic.  Under
 * the criterion-mproc runner, the same facts go to the runner as records
 * (runnerlink.h), for the line and recap it draws over all its programs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord_i.h"
#include "crit.h"
#include "diag.h"
#include "progress.h"
#include "recap.h"
#include "runnerlink.h"
#include "termline.h"

struct coord_live_running {
    uint32_t unit;
    uint32_t worker;
    int64_t elapsed_ms;
};

struct crmpi_coord_live {
    struct coord_live_running *interrupted;     /* owned: running when the signal came */
    size_t n_interrupted;

    struct crmpi_termline term;
    int on;                     /* the status line is drawn */
    int64_t drawn_ms;           /* when it last was */
    size_t printed, passed, failed, crashed;
    size_t total;               /* 0 until the units are known */
    int64_t *est_ms;            /* owned, per unit: from the durations database; -1 unknown */
    int64_t *left_ms;           /* owned, per unit: scratch for the ETA */
    struct crmpi_progress_test *running;        /* owned: scratch, one per worker */
    size_t cap_running;
    int link;                   /* records for the runner: crmpi_runnerlink_wanted() */
    int link_total;             /* the TOTAL record is out */
};

static void coord_live_around(void *arg, int after);

/* Whether the plugin's own lines may be coloured: Criterion's --color (and --ascii), and NO_COLOR. */
static int coord_live_color(void)
{
    const char *no_color = getenv("NO_COLOR");
    return crmpi_crit_color() && !criterion_options.use_ascii && !(no_color && *no_color);
}

int crmpi_coord_live_begin(struct coord *c)
{
    struct crmpi_coord_live *l = c->live = calloc(1, sizeof(*c->live));
    if (!l)
        return -ENOMEM;
    l->on = crmpi_termline_start(&l->term, STDERR_FILENO, getenv("TERM"), c->opts->progress,
            coord_live_color());
    if (l->on)
        crmpi_diag_set_around(coord_live_around, c);
    l->link = crmpi_runnerlink_wanted();
    return 0;
}

void crmpi_coord_live_end(struct coord *c)
{
    struct crmpi_coord_live *l = c->live;
    if (!l || !l->on)
        return;
    crmpi_termline_erase(&l->term);
    crmpi_diag_set_around(NULL, NULL);
    l->on = 0;
}

void crmpi_coord_live_free(struct coord *c)
{
    if (!c->live)
        return;
    crmpi_coord_live_end(c);
    free(c->live->interrupted);
    free(c->live->est_ms);
    free(c->live->left_ms);
    free(c->live->running);
    free(c->live);
    c->live = NULL;
}

/* ---- the status line ---------------------------------------------------------------- */

/* The units this run reports: all but those excluded (another shard's, filtered out). */
static size_t coord_live_count(const struct coord *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_units; ++i)
        n += c->st.units[i].state != CRMPI_CST_EXCLUDED;
    return n;
}

/* What each unit is expected to take, once the units are known: unknown ones at the mean. */
static int coord_live_estimates(struct coord *c)
{
    struct crmpi_coord_live *l = c->live;
    l->est_ms = calloc(c->n_units ? c->n_units : 1, sizeof(*l->est_ms));
    l->left_ms = calloc(c->n_units ? c->n_units : 1, sizeof(*l->left_ms));
    if (!l->est_ms || !l->left_ms)
        return -ENOMEM;
    int64_t known_total = 0;
    size_t known = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct crmpi_report_unit *u = &c->units[i].r;
        const struct crmpi_duration *d = crmpi_durations_find(&c->history, u->test->category,
                u->test->name, u->param);
        l->est_ms[i] = d ? (int64_t) (d->ns / 1000000) : -1;
        if (d) {
            known_total += l->est_ms[i];
            ++known;
        }
    }
    l->total = coord_live_count(c);
    for (size_t i = 0; i < c->n_units && known; ++i)
        if (l->est_ms[i] < 0)
            l->est_ms[i] = known_total / (int64_t) known;
    return 0;
}

/* What is left to run, from the estimates; -1 without any. */
static int64_t coord_live_eta(struct coord *c, int64_t now)
{
    struct crmpi_coord_live *l = c->live;
    size_t n = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct crmpi_cst_unit *su = &c->st.units[i];
        if (l->est_ms[i] < 0)
            return -1;
        if (su->state == CRMPI_CST_QUEUED)
            l->left_ms[n++] = l->est_ms[i];
        else if (su->state == CRMPI_CST_RUNNING)
            l->left_ms[n++] = l->est_ms[i] - (now - su->started_ms);
    }
    size_t alive = crmpi_cst_alive(&c->st);
    return crmpi_progress_eta(l->left_ms, n, alive ? (unsigned) alive : 1);
}

static void coord_live_draw(struct coord *c, int64_t now)
{
    struct crmpi_coord_live *l = c->live;
    if (!c->have_units || !c->st.have_units)
        return;
    if (!l->est_ms && coord_live_estimates(c)) {
        l->on = 0;      /* out of memory: the run goes on without its line */
        return;
    }
    if (l->cap_running < c->st.n_workers) {
        struct crmpi_progress_test *grown = realloc(l->running,
                c->st.n_workers * sizeof(*grown));
        if (!grown)
            return;
        l->running = grown;
        l->cap_running = c->st.n_workers;
    }
    struct crmpi_progress_view v = {
        .done = l->printed, .total = l->total, .passed = l->passed, .failed = l->failed,
        .crashed = l->crashed, .elapsed_ms = now - c->started_ms, .eta_ms = coord_live_eta(c, now),
        .running = l->running,
    };
    for (size_t i = 0; i < c->st.n_workers; ++i) {
        const struct crmpi_cst_worker *w = &c->st.workers[i];
        if (w->state == CRMPI_CST_W_GONE || w->unit == CRMPI_CST_NONE)
            continue;
        const struct criterion_test *t = c->units[w->unit].r.test;
        l->running[v.n_running++] = (struct crmpi_progress_test) {
            .suite = t->category, .name = t->name,
            .elapsed_ms = now - c->st.units[w->unit].started_ms,
        };
    }
    crmpi_termline_show_progress(&l->term, &v);
    l->drawn_ms = now;
}

int crmpi_coord_live_timeout(const struct coord *c, int timeout)
{
    if (!c->live || !c->live->on)
        return timeout;
    return timeout < 0 || timeout > CRMPI_PROGRESS_REDRAW_MS ? CRMPI_PROGRESS_REDRAW_MS : timeout;
}

/* The runner learns how many units will be reported as soon as they are known. */
static void coord_live_link_total(struct coord *c)
{
    struct crmpi_coord_live *l = c->live;
    if (!l || !l->link || l->link_total || !c->have_units || !c->st.have_units)
        return;
    l->link_total = 1;
    const struct crmpi_runnerlink_rec r = { .kind = CRMPI_RUNNERLINK_TOTAL,
                                            .n = coord_live_count(c) };
    crmpi_runnerlink_send(&r);
}

void crmpi_coord_live_tick(struct coord *c)
{
    struct crmpi_coord_live *l = c->live;
    int64_t now = coord_now_ms();
    coord_live_link_total(c);
    if (l && l->on && now - l->drawn_ms >= CRMPI_PROGRESS_REDRAW_MS)
        coord_live_draw(c, now);
}

/* Before anything else is written: the line goes.  After: it comes back. */
static void coord_live_around(void *arg, int after)
{
    struct coord *c = arg;
    if (!c->live || !c->live->on)
        return;
    if (after)
        coord_live_draw(c, coord_now_ms());
    else
        crmpi_termline_erase(&c->live->term);
}

void crmpi_coord_live_before_print(struct coord *c)
{
    coord_live_around(c, 0);
}

void crmpi_coord_live_started(struct coord *c, uint32_t unit)
{
    if (!c->live || !c->live->link)
        return;
    coord_live_link_total(c);
    const struct crmpi_report_unit *u = &c->units[unit].r;
    char name[512];
    crmpi_recap_test_name(u, name, sizeof(name));
    const struct crmpi_runnerlink_rec r = { .kind = CRMPI_RUNNERLINK_START, .n = unit,
                                            .suite = u->test->category, .name = name };
    crmpi_runnerlink_send(&r);
}

/* Unit's counts and, when the recap would list it, its line, for the runner. */
static void coord_live_link_done(struct coord *c, uint32_t unit, const Crmp__Counters *counts)
{
    const struct crmpi_report_unit *u = &c->units[unit].r;
    char name[512], detail[CRMPI_RUNNERLINK_RECORD_MAX];
    const char *status = "";
    if (!crmpi_recap_describe(u, criterion_options.short_filename, &status, detail,
                sizeof(detail))) {
        status = "";
        detail[0] = '\0';
    }
    crmpi_recap_test_name(u, name, sizeof(name));
    coord_live_link_total(c);
    struct crmpi_runnerlink_rec r = {
        .kind = CRMPI_RUNNERLINK_DONE, .n = unit, .suite = u->test->category, .name = name,
        .status = status, .detail = detail,
        .wall_ms = u->result ? (unsigned long) (u->result->wall_ns / 1000000) : 0,
    };
    if (counts) {
        r.passed = counts->tests_passed;
        r.failed = counts->tests_failed;
        r.crashed = counts->tests_crashed;
    }
    crmpi_runnerlink_send(&r);
    /* The runner's recap lists the leaks as ours does, after the failures. */
    if (crmpi_recap_leaked(u->result, detail, sizeof(detail))) {
        r = (struct crmpi_runnerlink_rec) { .kind = CRMPI_RUNNERLINK_LEAK, .n = unit,
                                            .suite = u->test->category, .name = name,
                                            .detail = detail };
        crmpi_runnerlink_send(&r);
    }
}

void crmpi_coord_live_printed(struct coord *c, uint32_t unit)
{
    struct crmpi_coord_live *l = c->live;
    const Crmp__Result *res = c->units[unit].r.result;
    if (!l)
        return;
    ++l->printed;
    if (res && res->counters) {
        l->passed += res->counters->tests_passed;
        l->failed += res->counters->tests_failed;
        l->crashed += res->counters->tests_crashed;
    }
    if (l->link)
        coord_live_link_done(c, unit, res ? res->counters : NULL);
    /* Blocks may come faster than the line is redrawn: the next tick brings it back. */
    crmpi_coord_live_tick(c);
}

/* ---- slow tests, interruptions ------------------------------------------------------ */

static const char *coord_live_name(const struct coord *c, uint32_t unit, char *buf, size_t size)
{
    const struct criterion_test *t = c->units[unit].r.test;
    snprintf(buf, size, "%s::%s", t->category, t->name);
    return buf;
}

void crmpi_coord_live_slow(struct coord *c, const struct crmpi_cst_action *a)
{
    const struct crmpi_termline *t = &c->live->term;
    char name[256];
    coord_live_around(c, 0);
    /* Printed whatever stderr is: a CI log must show what hangs. */
    fprintf(stderr, "%s[SLOW]%s %s running for %ds\n", t->color[CRMPI_TERMLINE_YELLOW],
            *t->color[CRMPI_TERMLINE_YELLOW] ? t->reset : "",
            coord_live_name(c, a->unit, name, sizeof(name)), a->value);
    fflush(stderr);
    coord_live_around(c, 1);
}

void crmpi_coord_live_interrupted(struct coord *c, int64_t now_ms)
{
    struct crmpi_coord_live *l = c->live;
    if (!l || l->interrupted || !c->st.running)
        return;
    l->interrupted = calloc(c->st.running, sizeof(*l->interrupted));
    if (!l->interrupted)
        return;     /* the list is a courtesy: the run ends as it would without it */
    for (size_t u = 0; u < c->st.n_units && l->n_interrupted < c->st.running; ++u) {
        const struct crmpi_cst_unit *su = &c->st.units[u];
        if (su->state == CRMPI_CST_RUNNING)
            l->interrupted[l->n_interrupted++] = (struct coord_live_running) {
                .unit = (uint32_t) u, .worker = su->worker, .elapsed_ms = now_ms - su->started_ms,
            };
    }
}

void crmpi_coord_live_print_interrupted(struct coord *c)
{
    const struct crmpi_coord_live *l = c->live;
    for (size_t i = 0; l && i < l->n_interrupted; ++i) {
        char name[256];
        const struct coord_live_running *r = &l->interrupted[i];
        crmpi_warn("was running: %s on worker %u for %.1f s",
                coord_live_name(c, r->unit, name, sizeof(name)), r->worker,
                (double) r->elapsed_ms / 1000.0);
    }
}
