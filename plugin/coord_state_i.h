/*
 * What coord_state.c, coord_state_view.c and coord_slots.c share of the state machine's
 * insides: small predicates over its state.
 */
#ifndef CRMPI_COORD_STATE_I_H_
#define CRMPI_COORD_STATE_I_H_

#include "coord_state.h"

static inline int cst_alive(const struct crmpi_cst_worker *w)
{
    return w->state != CRMPI_CST_W_GONE;
}

static inline size_t cst_alive_local(const struct crmpi_cst *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_workers; ++i)
        n += cst_alive(&st->workers[i]) && !st->workers[i].remote;
    return n;
}

static inline int cst_all_done(const struct crmpi_cst *st)
{
    return st->have_units && st->done == st->n_units;
}

static inline int cst_work_queued(const struct crmpi_cst *st)
{
    return st->n_requeued || st->q_head < st->n_jobs;
}

/* Only remote workers can come, and none has brought the test list yet. */
static inline int cst_waiting(const struct crmpi_cst *st)
{
    return st->phase == CRMPI_CST_RUNNING_PHASE && st->cfg.remote && !st->cfg.workers
        && !st->have_units;
}

/* Counted units that were queued or running: they did not run to the end. */
static inline size_t cst_not_run(const struct crmpi_cst *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_units; ++i) {
        const struct crmpi_cst_unit *u = &st->units[i];
        n += u->info.counted && (u->state == CRMPI_CST_QUEUED || u->state == CRMPI_CST_RUNNING);
    }
    return n;
}

#endif /* !CRMPI_COORD_STATE_I_H_ */
