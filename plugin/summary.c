#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_i.h"
#include "crit.h"
#include "diag.h"
#include "junit.h"
#include "recap.h"

static char summary_status_letter(const Crmp__Result *r)
{
    if (!r->final)
        return 'S';
    if (r->final->status == CR_STATUS_FAILED)
        return 'F';
    return r->final->status == CR_STATUS_SKIPPED ? 'S' : 'P';
}

void crmpi_summary_save_history(const struct coord *c)
{
    if (!c->durations_path || !c->have_units)
        return;
    struct crmpi_durations fresh = { calloc(c->n_units ? c->n_units : 1, sizeof(*fresh.v)), 0 };
    struct crmpi_durations known = { calloc(c->n_units ? c->n_units : 1, sizeof(*known.v)), 0 };
    if (!fresh.v || !known.v) {
        free(fresh.v);
        free(known.v);
        return;
    }
    /* Both borrow the names: only the arrays are freed below. */
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct coord_unit *u = &c->units[i];
        struct crmpi_duration d = {
            .suite = (char *) u->r.test->category,
            .name = (char *) u->r.test->name,
            .param = u->r.param,
        };
        known.v[known.n++] = d;
        /* A skipped unit did not run: its earlier entry (a run without --filter) stays. */
        if (u->r.result && !u->r.skipped) {
            d.ns = u->r.result->wall_ns;
            d.status = summary_status_letter(u->r.result);
            fresh.v[fresh.n++] = d;
        }
    }
    crmpi_durations_sort(&fresh);
    int rc = crmpi_durations_save(c->durations_path, &fresh, &known);
    if (rc)
        crmpi_warn("cannot save durations to %s: %s", c->durations_path, strerror(-rc));
    free(fresh.v);
    free(known.v);
}

static int summary_cmp_slow(const void *a, const void *b, void *arg)
{
    const struct coord *c = arg;
    const struct coord_unit *x = &c->units[*(const size_t *) a];
    const struct coord_unit *y = &c->units[*(const size_t *) b];
    uint64_t tx = x->r.result->wall_ns, ty = y->r.result->wall_ns;
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return (x > y) - (x < y);
}

void crmpi_summary_print_slowest(const struct coord *c)
{
    size_t *ids = calloc(c->n_units ? c->n_units : 1, sizeof(*ids));
    if (!ids)
        return;
    size_t n = 0;
    for (size_t i = 0; i < c->n_units; ++i)
        if (c->units[i].r.result)
            ids[n++] = i;
    qsort_r(ids, n, sizeof(*ids), summary_cmp_slow, (void *) c);
    size_t k = n < c->opts->slowest ? n : c->opts->slowest;
    fprintf(stderr, "criterion-mproc: %zu slowest tests:\n", k);
    for (size_t i = 0; i < k; ++i) {
        const struct coord_unit *u = &c->units[ids[i]];
        char param[32] = "";
        if (u->r.param >= 0)
            snprintf(param, sizeof(param), " [param %d]", u->r.param);
        fprintf(stderr, "criterion-mproc: %9.3fs  %s::%s%s\n", u->r.result->wall_ns / 1e9,
                u->r.test->category, u->r.test->name, param);
    }
    free(ids);
}

static void summary_efficiency(const struct coord *c, int64_t makespan_ms,
        struct crmpi_recap_efficiency *eff)
{
    *eff = (struct crmpi_recap_efficiency) { .makespan_ms = makespan_ms, .workers = c->n_workers };
    for (size_t i = 0; i < c->n_units; ++i) {
        if (!c->units[i].r.result)
            continue;
        uint64_t t = c->units[i].r.result->wall_ns;
        eff->total_ns += t;
        eff->longest_ns = t > eff->longest_ns ? t : eff->longest_ns;
    }
}

/* Per-worker busy time and the run's efficiency against its lower bound. */
void crmpi_summary_print_efficiency(const struct coord *c, int64_t makespan_ms)
{
    struct crmpi_recap_efficiency eff;
    summary_efficiency(c, makespan_ms, &eff);
    for (size_t i = 0; i < c->n_workers; ++i)
        crmpi_info("worker %u: %u test%s, busy %.3fs", c->workers[i]->slot,
                c->workers[i]->units_done, c->workers[i]->units_done == 1 ? "" : "s",
                c->workers[i]->busy_ns / 1e9);
    double makespan = (double) makespan_ms * 1e6;
    double bound = crmpi_recap_lower_bound_ns(&eff);
    crmpi_info("makespan %.3fs, lower bound %.3fs (max(total/%zu, longest)), efficiency %.0f%%",
            makespan / 1e9, bound / 1e9, c->n_workers,
            makespan > 0 ? 100.0 * bound / makespan : 100.0);
}

void crmpi_summary_write_junit(const struct coord *c, time_t started)
{
    const char *path = c->opts->junit ? c->opts->junit : getenv("CRITERION_MPROC_JUNIT");
    if (!path || !*path)
        return;
    struct crmpi_junit_unit *ju = calloc(c->n_units ? c->n_units : 1, sizeof(*ju));
    if (!ju) {
        crmpi_warn("cannot write the JUnit report to %s: %s", path, strerror(ENOMEM));
        return;
    }
    for (size_t i = 0; i < c->n_units; ++i)
        ju[i] = (struct crmpi_junit_unit) { .r = &c->units[i].r, .tries = c->units[i].tries,
                                            .n_tries = c->units[i].n_tries };
    int rc = crmpi_junit_write(path, ju, c->n_units, started);
    if (rc)
        crmpi_warn("cannot write the JUnit report to %s: %s", path, strerror(-rc));
    free(ju);
}

void crmpi_summary_print_recap(const struct coord *c, const struct crmpi_report_unit *units,
        int64_t makespan_ms)
{
    struct crmpi_recap_efficiency eff;
    summary_efficiency(c, makespan_ms, &eff);
    crmpi_recap_print(stderr, units, c->n_units, criterion_options.short_filename,
            makespan_ms > CRMPI_RECAP_EFFICIENCY_MS ? &eff : NULL);
}
