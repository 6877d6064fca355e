/*
 * The runner's status line and recap (see runner_live.h).  progress.c
 * writes the line, termline.c draws it, recap.c prints the recap's lines:
 * this file only keeps what the pool and the records say about each
 * program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "progress.h"
#include "recap.h"
#include "runner_live.h"
#include "runnerlink.h"
#include "termline.h"

/* A test of a Criterion binary running now, as its START record said. */
struct rlive_unit {
    unsigned long n;
    char *suite;                /* owned: "LABEL/SUITE" */
    char *name;                 /* owned */
    int64_t started_ms;
};

/* A test the recap lists, as its DONE (or LEAK) record said. */
struct rlive_fail {
    unsigned long n;
    char *name;                 /* owned: "PROGRAM/SUITE::TEST" */
    char *detail;               /* owned */
    char status[16];
    int leak;                   /* a LEAK line, listed after the failures */
};

enum rlive_state { RLIVE_QUEUED, RLIVE_RUNNING, RLIVE_FINISHED };

struct rlive_prog {
    enum rlive_state state;
    const char *label;          /* borrowed from the list: the name's last component */
    int64_t started_ms;
    size_t done, total;         /* tests reported, and to be (total: when have_total) */
    int have_total;
    size_t passed, failed, crashed;     /* while it runs; then the pool's totals have them */
    struct rlive_unit *running; /* owned */
    size_t n_running, cap_running;
    struct rlive_fail *fails;   /* owned */
    size_t n_fails, cap_fails;
};

struct crmpi_rlive {
    const struct crmpi_rlist *l;        /* borrowed */
    unsigned slots;
    struct rlive_prog *progs;           /* owned, one per program of l */
    const struct crmpi_rtotals *t;      /* borrowed, from _begin */
    struct crmpi_termline term;
    int on;                     /* the line is drawn */
    int recap;
    int64_t begun_ms, ended_ms, drawn_ms;
    size_t done_finished;       /* tests reported by the programs that ended */
    uint64_t tests_ms, longest_ms;      /* the tests' wall times, for the efficiency line */
    struct crmpi_progress_test *scratch;        /* owned: the running tests of a draw */
    int64_t *left_ms;                   /* owned: per program, for the ETA */
    size_t cap_scratch;
};

static int64_t rlive_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int crmpi_rlive_color(char *const *crit_args)
{
    const char *no_color = getenv("NO_COLOR"), *ascii = getenv("CRITERION_USE_ASCII");
    int color = !(no_color && *no_color) && !(ascii && !strcmp(ascii, "1"));
    for (char *const *a = crit_args; a && *a; ++a) {
        if (!strcmp(*a, "--ascii"))
            color = 0;
        else if (!strncmp(*a, "--color=", 8))
            color = color && strcmp(*a + 8, "never");
    }
    return color;
}

int crmpi_rlive_new(const struct crmpi_rlive_opts *o, const struct crmpi_rlist *l,
        unsigned slots, struct crmpi_rlive **out)
{
    *out = NULL;
    struct crmpi_termline term;
    int on = crmpi_termline_start(&term, STDERR_FILENO, getenv("TERM"), o->progress, o->color);
    int recap = o->recap == CRMPI_RLIVE_RECAP_ON
            || (o->recap == CRMPI_RLIVE_RECAP_AUTO && isatty(STDERR_FILENO));
    if (!on && !recap)
        return 0;
    struct crmpi_rlive *lv = calloc(1, sizeof(*lv));
    if (!lv || !(lv->progs = calloc(l->n ? l->n : 1, sizeof(*lv->progs)))
            || !(lv->left_ms = calloc(l->n ? l->n : 1, sizeof(*lv->left_ms)))) {
        crmpi_rlive_free(lv);
        return -ENOMEM;
    }
    *lv = (struct crmpi_rlive) { .l = l, .slots = slots, .progs = lv->progs, .term = term,
                                 .on = on, .recap = recap, .left_ms = lv->left_ms };
    for (size_t i = 0; i < l->n; ++i) {
        const char *slash = strrchr(l->v[i].name, '/');
        lv->progs[i].label = slash && slash[1] ? slash + 1 : l->v[i].name;
    }
    *out = lv;
    return 0;
}

static void rlive_drop_running(struct rlive_prog *p)
{
    for (size_t i = 0; i < p->n_running; ++i) {
        free(p->running[i].suite);
        free(p->running[i].name);
    }
    p->n_running = 0;
}

void crmpi_rlive_free(struct crmpi_rlive *lv)
{
    if (!lv)
        return;
    crmpi_rlive_end(lv);
    for (size_t i = 0; lv->progs && i < lv->l->n; ++i) {
        struct rlive_prog *p = &lv->progs[i];
        rlive_drop_running(p);
        free(p->running);
        for (size_t k = 0; k < p->n_fails; ++k) {
            free(p->fails[k].name);
            free(p->fails[k].detail);
        }
        free(p->fails);
    }
    free(lv->progs);
    free(lv->scratch);
    free(lv->left_ms);
    free(lv);
}

const char *crmpi_rlive_env(const struct crmpi_rlive *lv)
{
    if (!lv)
        return NULL;
    return lv->recap ? "records,recap" : "records";
}

/* ---- the line ----------------------------------------------------------------------- */

/* What is left, from the programs' last durations (unknown ones at their mean); -1: none known. */
static int64_t rlive_eta(struct crmpi_rlive *lv, int64_t now)
{
    double known_s = 0;
    size_t known = 0, n = 0;
    for (size_t i = 0; i < lv->l->n; ++i) {
        if (lv->l->v[i].expected_s >= 0) {
            known_s += lv->l->v[i].expected_s;
            ++known;
        }
    }
    if (!known)
        return -1;
    for (size_t i = 0; i < lv->l->n; ++i) {
        const struct rlive_prog *p = &lv->progs[i];
        double expected_s = lv->l->v[i].expected_s >= 0 ? lv->l->v[i].expected_s
                                                        : known_s / (double) known;
        if (p->state == RLIVE_FINISHED)
            continue;
        lv->left_ms[n++] = (int64_t) (expected_s * 1000)
                - (p->state == RLIVE_RUNNING ? now - p->started_ms : 0);
    }
    return crmpi_progress_eta(lv->left_ms, n, lv->slots);
}

/* The running tests of every program, or the program itself when none is known to run. */
static size_t rlive_running(struct crmpi_rlive *lv, int64_t now)
{
    size_t want = 0, n = 0;
    for (size_t i = 0; i < lv->l->n; ++i)
        want += lv->progs[i].state == RLIVE_RUNNING ? lv->progs[i].n_running + 1 : 0;
    if (want > lv->cap_scratch) {
        struct crmpi_progress_test *grown = realloc(lv->scratch, want * sizeof(*grown));
        if (!grown)
            return 0;       /* the line shows no running test this time */
        lv->scratch = grown;
        lv->cap_scratch = want;
    }
    for (size_t i = 0; i < lv->l->n; ++i) {
        const struct rlive_prog *p = &lv->progs[i];
        if (p->state != RLIVE_RUNNING)
            continue;
        for (size_t k = 0; k < p->n_running; ++k)
            lv->scratch[n++] = (struct crmpi_progress_test) {
                .suite = p->running[k].suite, .name = p->running[k].name,
                .elapsed_ms = now - p->running[k].started_ms,
            };
        if (!p->n_running)
            lv->scratch[n++] = (struct crmpi_progress_test) {
                .suite = p->label, .elapsed_ms = now - p->started_ms,
            };
    }
    return n;
}

static void rlive_draw(struct crmpi_rlive *lv, int64_t now)
{
    struct crmpi_progress_view v = {
        .done = lv->done_finished, .total = lv->done_finished, .eta_ms = rlive_eta(lv, now),
        .elapsed_ms = now - lv->begun_ms, .passed = lv->t->passing, .failed = lv->t->failing,
        .crashed = lv->t->crashing,
    };
    for (size_t i = 0; i < lv->l->n; ++i) {
        const struct rlive_prog *p = &lv->progs[i];
        if (p->state == RLIVE_FINISHED)
            continue;
        v.done += p->done;
        v.passed += p->passed;
        v.failed += p->failed;
        v.crashed += p->crashed;
        if (p->have_total)
            v.total += p->total;
        else if (lv->l->v[i].is_criterion)
            v.total_partial = 1;        /* its count comes once it has enumerated */
        else
            v.total += 1;
    }
    v.n_running = rlive_running(lv, now);
    v.running = lv->scratch;
    crmpi_termline_show_progress(&lv->term, &v);
    lv->drawn_ms = now;
}

/* Before a diagnostic the line goes; after it, it comes back. */
static void rlive_around(void *arg, int after)
{
    struct crmpi_rlive *lv = arg;
    if (after)
        rlive_draw(lv, rlive_now_ms());
    else
        crmpi_termline_erase(&lv->term);
}

void crmpi_rlive_begin(struct crmpi_rlive *lv, const struct crmpi_rtotals *t)
{
    if (!lv)
        return;
    lv->t = t;
    lv->begun_ms = rlive_now_ms();
    if (lv->on)
        crmpi_diag_set_around(rlive_around, lv);
}

void crmpi_rlive_end(struct crmpi_rlive *lv)
{
    if (!lv)
        return;
    if (!lv->ended_ms)
        lv->ended_ms = rlive_now_ms();
    if (!lv->on)
        return;
    crmpi_termline_erase(&lv->term);
    crmpi_diag_set_around(NULL, NULL);
    lv->on = 0;
}

void crmpi_rlive_aside(struct crmpi_rlive *lv)
{
    if (lv && lv->on)
        crmpi_termline_erase(&lv->term);
}

int crmpi_rlive_timeout(const struct crmpi_rlive *lv, int timeout_ms)
{
    if (!lv || !lv->on)
        return timeout_ms;
    return timeout_ms < 0 || timeout_ms > CRMPI_PROGRESS_REDRAW_MS ? CRMPI_PROGRESS_REDRAW_MS
                                                                   : timeout_ms;
}

void crmpi_rlive_tick(struct crmpi_rlive *lv)
{
    int64_t now = rlive_now_ms();
    if (lv && lv->on && now - lv->drawn_ms >= CRMPI_PROGRESS_REDRAW_MS)
        rlive_draw(lv, now);
}

/* ---- the pool's events -------------------------------------------------------------- */

void crmpi_rlive_started(struct crmpi_rlive *lv, size_t index)
{
    if (!lv)
        return;
    lv->progs[index].state = RLIVE_RUNNING;
    lv->progs[index].started_ms = rlive_now_ms();
}

void crmpi_rlive_finished(struct crmpi_rlive *lv, size_t index)
{
    if (!lv)
        return;
    struct rlive_prog *p = &lv->progs[index];
    const struct crmpi_rtest *t = &lv->l->v[index];
    if (t->judged) {
        /* Counted as one test by its exit status; its time is a test's. */
        p->done = p->done ? p->done : 1;
        uint64_t ms = t->took_s > 0 ? (uint64_t) (t->took_s * 1000) : 0;
        lv->tests_ms += ms;
        lv->longest_ms = ms > lv->longest_ms ? ms : lv->longest_ms;
    }
    p->state = RLIVE_FINISHED;
    lv->done_finished += p->done;
    rlive_drop_running(p);
    /* The counts it ends with are drawn at once, the last ones above all. */
    if (lv->on)
        rlive_draw(lv, rlive_now_ms());
}

/* Makes room for one more of n elements of size bytes in *v (capacity *cap); 0 or -ENOMEM. */
static int rlive_room(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t grown_cap = *cap ? 2 * *cap : 8;
    void *grown = realloc(*v, grown_cap * size);
    if (!grown)
        return -ENOMEM;
    *v = grown;
    *cap = grown_cap;
    return 0;
}

/* Keeps unit n of p as running since now (again, when it is tried once more). */
static int rlive_unit_start(struct rlive_prog *p, const struct crmpi_runnerlink_rec *r)
{
    for (size_t k = 0; k < p->n_running; ++k) {
        if (p->running[k].n == r->n) {
            p->running[k].started_ms = rlive_now_ms();
            return 0;
        }
    }
    if (rlive_room((void **) &p->running, &p->cap_running, p->n_running, sizeof(*p->running)))
        return -ENOMEM;
    struct rlive_unit *u = &p->running[p->n_running];
    *u = (struct rlive_unit) { .n = r->n, .started_ms = rlive_now_ms() };
    if (asprintf(&u->suite, "%s/%s", p->label, r->suite) < 0)
        return -ENOMEM;
    if (!(u->name = strdup(r->name))) {
        free(u->suite);
        return -ENOMEM;
    }
    ++p->n_running;
    return 0;
}

/* A line of the recap for unit r->n of program index: its failure, or its leak. */
static int rlive_add_line(struct crmpi_rlive *lv, size_t index,
        const struct crmpi_runnerlink_rec *r, int leak)
{
    struct rlive_prog *p = &lv->progs[index];
    if (rlive_room((void **) &p->fails, &p->cap_fails, p->n_fails, sizeof(*p->fails)))
        return -ENOMEM;
    struct rlive_fail *f = &p->fails[p->n_fails];
    *f = (struct rlive_fail) { .n = r->n, .leak = leak };
    snprintf(f->status, sizeof(f->status), "%s", leak ? "LEAK" : r->status);
    if (asprintf(&f->name, "%s/%s::%s", lv->l->v[index].name, r->suite, r->name) < 0)
        return -ENOMEM;
    if (!(f->detail = strdup(r->detail))) {
        free(f->name);
        return -ENOMEM;
    }
    ++p->n_fails;
    return 0;
}

/* Unit n of p is done: it runs no more, its counts add up, the recap may list it. */
static int rlive_unit_done(struct crmpi_rlive *lv, size_t index,
        const struct crmpi_runnerlink_rec *r)
{
    struct rlive_prog *p = &lv->progs[index];
    for (size_t k = 0; k < p->n_running; ++k) {
        if (p->running[k].n == r->n) {
            free(p->running[k].suite);
            free(p->running[k].name);
            p->running[k] = p->running[--p->n_running];
            break;
        }
    }
    ++p->done;
    p->passed += r->passed;
    p->failed += r->failed;
    p->crashed += r->crashed;
    lv->tests_ms += r->wall_ms;
    lv->longest_ms = r->wall_ms > lv->longest_ms ? r->wall_ms : lv->longest_ms;
    return *r->status ? rlive_add_line(lv, index, r, 0) : 0;
}

int crmpi_rlive_record(struct crmpi_rlive *lv, size_t index, const char *text, size_t len)
{
    if (!lv)
        return -EINVAL;
    struct crmpi_runnerlink_rec r;
    if (crmpi_runnerlink_parse(text, len, &r))
        return -EINVAL;
    struct rlive_prog *p = &lv->progs[index];
    int rc = 0;
    switch (r.kind) {
    case CRMPI_RUNNERLINK_TOTAL:
        p->total = r.n;
        p->have_total = 1;
        break;
    case CRMPI_RUNNERLINK_START:
        rc = rlive_unit_start(p, &r);
        break;
    case CRMPI_RUNNERLINK_DONE:
        rc = rlive_unit_done(lv, index, &r);
        break;
    case CRMPI_RUNNERLINK_LEAK:
        rc = rlive_add_line(lv, index, &r, 1);
        break;
    }
    if (rc)
        crmpi_warn("out of memory: the status line or recap misses a test of %s",
                lv->l->v[index].name);
    return 0;
}

/* ---- the recap ---------------------------------------------------------------------- */

static int rlive_cmp_fail(const void *a, const void *b)
{
    const struct rlive_fail *x = a, *y = b;
    return (x->n > y->n) - (x->n < y->n);
}

void crmpi_rlive_print_recap(const struct crmpi_rlive *lv, FILE *f)
{
    if (!lv || !lv->recap)
        return;
    size_t listed = 0, leaked = 0;
    for (size_t i = 0; i < lv->l->n; ++i) {
        struct rlive_prog *p = &lv->progs[i];
        for (size_t k = 0; k < p->n_fails; ++k)
            leaked += p->fails[k].leak;
        listed += p->n_fails + (lv->l->v[i].recap_status != NULL);
        /* In Criterion's order, as the binary's own recap lists them. */
        qsort(p->fails, p->n_fails, sizeof(*p->fails), rlive_cmp_fail);
    }
    listed -= leaked;
    if (listed)
        crmpi_recap_print_head(f, listed);
    for (size_t i = 0; i < lv->l->n; ++i) {
        struct rlive_prog *p = &lv->progs[i];
        for (size_t k = 0; k < p->n_fails; ++k)
            if (!p->fails[k].leak)
                crmpi_recap_print_line(f, p->fails[k].status, p->fails[k].name,
                        p->fails[k].detail);
        if (lv->l->v[i].recap_status)
            crmpi_recap_print_line(f, lv->l->v[i].recap_status, lv->l->v[i].name,
                    lv->l->v[i].verdict);
    }
    /* Then the tests that left processes running, as the plugin's recap lists them. */
    if (leaked)
        crmpi_recap_print_leaks_head(f, leaked);
    for (size_t i = 0; leaked && i < lv->l->n; ++i)
        for (size_t k = 0; k < lv->progs[i].n_fails; ++k)
            if (lv->progs[i].fails[k].leak)
                crmpi_recap_print_line(f, "LEAK", lv->progs[i].fails[k].name,
                        lv->progs[i].fails[k].detail);
    int64_t makespan_ms = (lv->ended_ms ? lv->ended_ms : rlive_now_ms()) - lv->begun_ms;
    if (makespan_ms >= CRMPI_RECAP_EFFICIENCY_MS) {
        const struct crmpi_recap_efficiency eff = {
            .makespan_ms = makespan_ms, .total_ns = lv->tests_ms * 1000000,
            .longest_ns = lv->longest_ms * 1000000, .workers = lv->slots,
        };
        crmpi_recap_print_efficiency(f, &eff);
    }
    fflush(f);
}
