/*
 * What coord_state.c, coord_state_acts.c, coord_state_view.c and coord_slots.c share of the
 * state machine's insides: small predicates over its state, and the actions it answers with.
 */
#ifndef CRMPI_COORD_STATE_I_H_
#define CRMPI_COORD_STATE_I_H_

#include "coord_state.h"

/*
 * The actions an event answers with (coord_state_acts.c).  crmpi_cst_push appends one and
 * returns it (NULL: out of memory); the others append one and return 0, or -ENOMEM, after
 * which the event fails as a whole.
 */
struct crmpi_cst_action *crmpi_cst_push(struct crmpi_cst *st, enum crmpi_cst_act_kind kind,
        uint32_t w);
int crmpi_cst_act(struct crmpi_cst *st, enum crmpi_cst_act_kind kind, uint32_t w, uint32_t unit);
int crmpi_cst_act_why(struct crmpi_cst *st, enum crmpi_cst_act_kind kind, uint32_t w,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int crmpi_cst_note(struct crmpi_cst *st, enum crmpi_cst_note note, uint32_t w, uint32_t unit,
        int value);

/* Appends an action to a; returns -ENOMEM from the calling function on failure. */
#define CST_PUSH(st, a, kind, w)                        \
    do {                                                \
        if (!((a) = crmpi_cst_push((st), (kind), (w)))) \
            return -ENOMEM;                             \
    } while (0)

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
