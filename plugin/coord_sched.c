#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crit.h"
#include "critglob.h"
#include "coord_i.h"
#include "criterion-mproc.h"
#include "diag.h"
#include "hooks.h"
#include "units.h"

struct coord_sched_annotations {
    const struct crmp_schedule **v;
    size_t n;
};

/* An entry of version 1: struct crmp_schedule before retries. */
struct coord_sched_v1 {
    int version;
    const char *suite;
    const char *test;
    int priority;
    const char *group;
};

/*
 * Entries follow each other at their own version's size (a binary may mix
 * objects built against either header): each is read at its stride.  A v1
 * entry is read as a v2 one whose retries are 0 (copied: never read past it).
 */
static int coord_sched_collect_annotation(void *start, size_t size, void *arg)
{
    struct coord_sched_annotations *a = arg;
    for (size_t off = 0; off + sizeof(struct coord_sched_v1) <= size;) {
        const struct crmp_schedule *e = (const void *) ((const char *) start + off);
        size_t stride = e->version == 1 ? sizeof(struct coord_sched_v1) : sizeof(*e);
        if ((e->version != 1 && e->version != CRMP_SCHEDULE_VERSION) || off + stride > size) {
            crmpi_warn("ignoring scheduling annotations of an unknown version");
            return 0;
        }
        off += stride;
        if (!e->suite)
            continue;
        struct crmp_schedule *copy = calloc(1, sizeof(*copy));
        const struct crmp_schedule **grown = copy ? realloc(a->v, (a->n + 1) * sizeof(*grown)) : NULL;
        if (!grown) {
            free(copy);
            return -ENOMEM;
        }
        memcpy(copy, e, stride);
        a->v = grown;
        a->v[a->n++] = copy;
    }
    return 0;
}

static void coord_sched_annotate(const struct coord_sched_annotations *a, const struct crmpi_report_unit *u,
        struct crmpi_sched_unit *su)
{
    const struct crmp_schedule *suite = NULL, *test = NULL;
    for (size_t i = 0; i < a->n; ++i) {
        if (strcmp(a->v[i]->suite, u->test->category))
            continue;
        if (!a->v[i]->test)
            suite = a->v[i];
        else if (!strcmp(a->v[i]->test, u->test->name))
            test = a->v[i];
    }
    su->priority = test && test->priority ? test->priority : suite ? suite->priority : 0;
    su->group = test && test->group ? test->group : suite ? suite->group : NULL;
    su->retries = test && test->retries ? test->retries : suite ? suite->retries : 0;
}

static char *coord_sched_default_durations_path(const struct coord *c)
{
    const char *base = strrchr(c->exe, '/');
    char *path = NULL;
    if (asprintf(&path, ".criterion-mproc/%s.durations", base ? base + 1 : c->exe) < 0)
        return NULL;
    return path;
}

static void coord_sched_load_history(struct coord *c)
{
    const char *path = c->opts->durations ? c->opts->durations : getenv("CRITERION_MPROC_DURATIONS");
    if (path && (!strcmp(path, "none") || !*path))
        return;
    c->durations_path = path ? strdup(path) : coord_sched_default_durations_path(c);
    if (!c->durations_path)
        return;
    int rc = crmpi_durations_load(c->durations_path, &c->history);
    if (rc && rc != -ENOENT)
        crmpi_warn("durations file %s: %s", c->durations_path, crmpi_durations_strerror(rc));
    if (rc == CRMPI_DURATIONS_FOREIGN) {
        /* Not ours: never replaced, so no save is attempted (and no second warning). */
        free(c->durations_path);
        c->durations_path = NULL;
    }
}

/*
 * Static sharding: marks the units of other shards as not ours.  Balanced
 * by the recorded durations when the user named a durations file (every
 * shard must see the same one), hash-based otherwise.
 */
static int coord_sched_select_shard(struct coord *c, const struct crmpi_sched_unit *su, int *mine)
{
    const struct crmpi_options *o = c->opts;
    if (!o->shard_count) {
        for (size_t i = 0; i < c->n_units; ++i)
            mine[i] = 1;
        return 0;
    }
    int explicit_file = o->durations || getenv("CRITERION_MPROC_DURATIONS");
    if (explicit_file && c->history.n) {
        uint64_t *est = calloc(c->n_units ? c->n_units : 1, sizeof(*est));
        unsigned *shard = calloc(c->n_units ? c->n_units : 1, sizeof(*shard));
        int rc = est && shard ? 0 : -ENOMEM;
        for (size_t i = 0; i < c->n_units && !rc; ++i)
            est[i] = su[i].est_ns;
        if (!rc)
            rc = crmpi_shard_balance(est, c->n_units, o->shard_count, shard);
        for (size_t i = 0; i < c->n_units && !rc; ++i)
            mine[i] = shard[i] == o->shard_index;
        free(est);
        free(shard);
        return rc;
    }
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct crmpi_report_unit *u = &c->units[i].r;
        mine[i] = crmpi_shard_owns(u->test->category, u->test->name, u->param,
                o->shard_index, o->shard_count);
    }
    return 0;
}

/*
 * --mproc-rerun-failed: only the units the last recorded run saw fail (a
 * crash and a timeout are failures too); with none recorded, all of them.
 * Like another shard's, a unit left out is never run nor reported.
 */
static void coord_sched_select_failed(const struct coord *c, const struct crmpi_sched_unit *su,
        int *mine)
{
    size_t failed = 0;
    for (size_t i = 0; i < c->n_units; ++i)
        failed += mine[i] && su[i].failed_last;
    if (!failed) {
        fprintf(stderr, "criterion-mproc: --mproc-rerun-failed: no failed test recorded%s%s: "
                "running them all\n", c->durations_path ? " in " : "",
                c->durations_path ? c->durations_path : " (durations are off)");
        return;
    }
    for (size_t i = 0; i < c->n_units; ++i)
        mine[i] = mine[i] && su[i].failed_last;
    fprintf(stderr, "criterion-mproc: --mproc-rerun-failed: running the %zu test%s that failed "
            "last time\n", failed, failed == 1 ? "" : "s");
}

/*
 * What the policy needs to know of a unit: its timeout, whether --filter
 * left it out (then it is not counted among the tests that did not run), and
 * whether it is over at once (filtered out or disabled: no worker for it).
 */
static struct crmpi_cst_unit_info coord_sched_unit_info(const struct crmpi_report_unit *u,
        struct crmpi_critglob *filter)
{
    double t = crmpi_crit_timeout_of(&u->suite->suite, u->test);
    int counted = 1;
    if (filter) {
        /* Criterion's own language: what the workers' runners left out. */
        counted = crmpi_critglob_match(filter, u->test->data->identifier_) != 0;
    } else if (criterion_options.pattern) {
        /* A pattern Criterion refuses (the workers said so) or critglob leaves to it. */
        char name[512];
        snprintf(name, sizeof(name), "%s/%s", u->test->category, u->test->name);
        counted = !fnmatch(criterion_options.pattern, name, FNM_EXTMATCH);
    }
    return (struct crmpi_cst_unit_info) { .timeout_ms = (int64_t) (t * 1000), .counted = counted,
                                          .trivial = !counted || u->test->data->disabled };
}

int crmpi_coord_sched_build(struct coord *c)
{
    struct coord_sched_annotations ann = { 0 };
    struct crmpi_critglob *filter = NULL;
    size_t n = c->n_units ? c->n_units : 1;
    struct crmpi_sched_unit *su = calloc(n, sizeof(*su));
    struct crmpi_sched_unit *mine_su = calloc(n, sizeof(*mine_su));
    size_t *index = calloc(n, sizeof(*index));
    int *mine = calloc(n, sizeof(*mine));
    int rc = su && mine_su && index && mine
        ? crmpi_sections_foreach("crmp_sched", coord_sched_collect_annotation, &ann) : -ENOMEM;
    if (rc)
        goto out;

    coord_sched_load_history(c);
    uint64_t known_total = 0;
    size_t known = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct crmpi_report_unit *u = &c->units[i].r;
        const struct crmpi_duration *d = crmpi_durations_find(&c->history, u->test->category,
                u->test->name, u->param);
        if (d) {
            su[i].has_history = 1;
            su[i].est_ns = d->ns;
            su[i].failed_last = d->status == 'F';
            known_total += d->ns;
            ++known;
        }
        coord_sched_annotate(&ann, u, &su[i]);
    }
    /* Shard balancing needs estimates for the unknown too: their mean. */
    for (size_t i = 0; i < c->n_units; ++i)
        if (!su[i].has_history && known)
            su[i].est_ns = known_total / known;
    rc = coord_sched_select_shard(c, su, mine);
    if (rc)
        goto out;
    if (c->opts->rerun_failed)
        coord_sched_select_failed(c, su, mine);

    size_t k = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        if (!mine[i])
            continue;       /* another shard's: in no job, never run, never reported here */
        if (c->units[i].r.skipped)
            continue;       /* ours, never run: reported here (unit_info's resolved) */
        mine_su[k] = su[i];
        if (!mine_su[k].has_history)
            mine_su[k].est_ns = 0;
        index[k++] = i;
    }
    rc = crmpi_schedule_build(mine_su, k, &c->schedule);
    if (rc)
        goto out;
    for (size_t j = 0; j < c->schedule.n; ++j)
        for (size_t u = 0; u < c->schedule.v[j].n; ++u)
            c->schedule.v[j].units[u] = index[c->schedule.v[j].units[u]];
    c->jobs = calloc(c->schedule.n ? c->schedule.n : 1, sizeof(*c->jobs));
    c->unit_info = calloc(c->n_units ? c->n_units : 1, sizeof(*c->unit_info));
    if (!c->jobs || !c->unit_info) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c->schedule.n; ++i)
        c->jobs[i] = (struct crmpi_cst_job) { .units = c->schedule.v[i].units,
                                              .n = c->schedule.v[i].n };
    if (criterion_options.pattern)
        (void) crmpi_critglob_compile(criterion_options.pattern, &filter);
    for (size_t i = 0; i < c->n_units; ++i) {
        c->unit_info[i] = coord_sched_unit_info(&c->units[i].r, filter);
        c->unit_info[i].retries = su[i].retries ? su[i].retries : c->opts->retries;
        /* Another shard's skipped unit is never reported here; ours is, without running. */
        c->units[i].r.skipped = mine[i] && c->units[i].r.skipped;
        c->unit_info[i].resolved = c->units[i].r.skipped;
        if (c->units[i].r.skipped)
            c->units[i].r.result = crmpi_report_skipped_result();
    }

out:
    crmpi_critglob_free(filter);
    for (size_t i = 0; i < ann.n; ++i)
        free((void *) ann.v[i]);
    free(ann.v);
    free(su);
    free(mine_su);
    free(index);
    free(mine);
    return rc;
}
