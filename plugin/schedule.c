#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

static int sched_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/* Median of the recorded durations; 0 when nothing is recorded. */
static uint64_t sched_median(const struct crmpi_sched_unit *units, size_t n, int *any)
{
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
        k += units[i].has_history != 0;
    *any = k > 0;
    if (!k)
        return 0;
    uint64_t *v = malloc(k * sizeof(*v));
    if (!v)
        return 0;
    k = 0;
    for (size_t i = 0; i < n; ++i)
        if (units[i].has_history)
            v[k++] = units[i].est_ns;
    qsort(v, k, sizeof(*v), sched_cmp_u64);
    uint64_t m = v[k / 2];
    free(v);
    return m;
}

static int sched_cmp_job(const void *a, const void *b, void *use_durations)
{
    const struct crmpi_job *x = a, *y = b;
    int sched_use_durations = *(const int *) use_durations;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->failed_last != y->failed_last)
        return x->failed_last ? -1 : 1;
    if (sched_use_durations && x->est_ns != y->est_ns)
        return x->est_ns > y->est_ns ? -1 : 1;
    return (x->units[0] > y->units[0]) - (x->units[0] < y->units[0]);
}

void crmpi_jobs_free(struct crmpi_jobs *jobs)
{
    for (size_t i = 0; i < jobs->n; ++i)
        free(jobs->v[i].units);
    free(jobs->v);
    *jobs = (struct crmpi_jobs) { 0 };
}

static struct crmpi_job *sched_find_group(struct crmpi_jobs *jobs, const char *group)
{
    for (size_t i = 0; i < jobs->n; ++i)
        if (jobs->v[i].group && !strcmp(jobs->v[i].group, group))
            return &jobs->v[i];
    return NULL;
}

int crmpi_schedule_build(struct crmpi_sched_unit *units, size_t n, struct crmpi_jobs *out)
{
    *out = (struct crmpi_jobs) { 0 };
    int any_history;
    uint64_t median = sched_median(units, n, &any_history);
    for (size_t i = 0; i < n; ++i)
        if (!units[i].has_history)
            units[i].est_ns = median;

    out->v = calloc(n ? n : 1, sizeof(*out->v));
    if (!out->v)
        return -ENOMEM;

    for (size_t i = 0; i < n; ++i) {
        const struct crmpi_sched_unit *u = &units[i];
        struct crmpi_job *job = u->group ? sched_find_group(out, u->group) : NULL;
        if (!job) {
            job = &out->v[out->n++];
            *job = (struct crmpi_job) { .priority = u->priority, .group = u->group };
            job->units = malloc(sizeof(*job->units));
        } else {
            size_t *grown = realloc(job->units, (job->n + 1) * sizeof(*grown));
            if (!grown) {
                crmpi_jobs_free(out);
                return -ENOMEM;
            }
            job->units = grown;
        }
        if (!job->units) {
            crmpi_jobs_free(out);
            return -ENOMEM;
        }
        job->units[job->n++] = i;
        if (u->priority < job->priority)
            job->priority = u->priority;
        job->failed_last |= u->failed_last;
        job->est_ns += u->est_ns;
    }

    qsort_r(out->v, out->n, sizeof(*out->v), sched_cmp_job, &any_history);
    return 0;
}

/* FNV-1a, 64 bits: stable across runs, machines and versions. */
static uint64_t sched_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int crmpi_shard_owns(const char *suite, const char *name, int param, unsigned index,
        unsigned count)
{
    uint64_t h = 14695981039346656037ull;
    h = sched_hash(h, suite, strlen(suite) + 1);
    h = sched_hash(h, name, strlen(name) + 1);
    h = sched_hash(h, &param, sizeof(param));
    return count && h % count == index;
}

struct sched_est {
    uint64_t ns;
    size_t idx;
};

static int sched_cmp_est(const void *a, const void *b)
{
    const struct sched_est *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns > y->ns ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

int crmpi_shard_balance(const uint64_t *est_ns, size_t n, unsigned count, unsigned *shard_of)
{
    if (!count)
        return -EINVAL;
    struct sched_est *order = malloc((n ? n : 1) * sizeof(*order));
    uint64_t *load = calloc(count, sizeof(*load));
    if (!order || !load) {
        free(order);
        free(load);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; ++i)
        order[i] = (struct sched_est) { est_ns[i], i };
    qsort(order, n, sizeof(*order), sched_cmp_est);
    for (size_t i = 0; i < n; ++i) {
        unsigned best = 0;
        for (unsigned s = 1; s < count; ++s)
            if (load[s] < load[best])
                best = s;
        load[best] += order[i].ns;
        shard_of[order[i].idx] = best;
    }
    free(order);
    free(load);
    return 0;
}
