/*
 * The order the queue hands work out in.  Pure functions over plain data,
 * so that they can be tested without processes.
 *
 * Work is handed out in jobs: a job is one unit, or every unit of a group
 * (run serially by one worker, in unit order).  Jobs are ordered by
 *   1. priority, lower first (annotations; default 0);
 *   2. failed last time, first (fast feedback);
 *   3. estimated duration, longest first (LPT), when any history exists;
 *   4. Criterion's order (first unit index), which also breaks every tie:
 * the order is deterministic for the same inputs.  Units without history
 * are estimated at the median of those with one, not put last.
 */
#ifndef CRMPI_SCHEDULE_H_
#define CRMPI_SCHEDULE_H_

#include <stddef.h>
#include <stdint.h>

struct crmpi_sched_unit {
    int has_history;        /* est_ns and failed_last come from the database */
    uint64_t est_ns;
    int failed_last;
    int priority;
    const char *group;      /* borrowed; NULL for none */
    unsigned retries;       /* its .retries annotation; 0: none (not used for the order) */
};

struct crmpi_job {
    size_t *units;          /* owned; unit indices in Criterion's order */
    size_t n;
    int priority;           /* the lowest of its units */
    int failed_last;        /* any of its units */
    uint64_t est_ns;        /* the sum of its units */
    const char *group;      /* borrowed */
};

struct crmpi_jobs {
    struct crmpi_job *v;    /* owned, in hand-out order */
    size_t n;
};

/*
 * Builds the jobs for units[0..n), estimating units without history.
 * Returns 0 or -ENOMEM; release with crmpi_jobs_free().
 */
int crmpi_schedule_build(struct crmpi_sched_unit *units, size_t n, struct crmpi_jobs *out);

void crmpi_jobs_free(struct crmpi_jobs *jobs);

/*
 * Static sharding: whether the unit named (suite, name, param) belongs to
 * shard index of count.  Hash-based, so a test keeps its shard when others
 * are added or removed.
 */
int crmpi_shard_owns(const char *suite, const char *name, int param, unsigned index,
        unsigned count);

/*
 * Shards balanced by recorded durations instead: greedy longest-first over
 * the given estimates.  Writes the shard of each unit to shard_of[0..n).
 * Deterministic; returns 0 or -ENOMEM.
 */
int crmpi_shard_balance(const uint64_t *est_ns, size_t n, unsigned count, unsigned *shard_of);

#endif /* !CRMPI_SCHEDULE_H_ */
