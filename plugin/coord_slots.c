#include "coord_slots.h"
#include "coord_state_i.h"

static void slots_unwait(struct crmpi_cst *st, struct crmpi_cst_worker *w)
{
    if (w->wants_slot) {
        w->wants_slot = 0;
        --st->slot_waiters;
    }
}

int crmpi_slots_take(struct crmpi_cst *st, uint32_t id)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    /* Remote workers load other machines than make's. */
    if (!st->cfg.jobserver || w->remote || w->token || st->free_slot == id)
        return 1;
    if (st->slot_pending)
        return 0;
    if (st->free_slot == CRMPI_CST_NONE && !st->slot_gone) {
        st->free_slot = id;
    } else if (st->spare) {
        --st->spare;
        w->token = 1;
    } else {
        return 0;
    }
    slots_unwait(st, w);
    return 1;
}

int crmpi_slots_wait(struct crmpi_cst *st, uint32_t id)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    /* Until the free slot comes, tokens would run units out of the runner's order. */
    if (w->wants_slot || st->slot_pending)
        return 0;
    w->wants_slot = 1;
    /* Tokens already asked for serve the requests that waited before. */
    if (st->tokens_wanted >= ++st->slot_waiters)
        return 0;
    ++st->tokens_wanted;
    return 1;
}

int crmpi_slots_release(struct crmpi_cst *st, uint32_t id)
{
    struct crmpi_cst_worker *w = &st->workers[id];
    slots_unwait(st, w);
    if (w->token) {
        w->token = 0;
        ++st->spare;
    } else if (st->free_slot == id) {
        st->free_slot = CRMPI_CST_NONE;
    } else {
        return 0;
    }
    return 1;
}

void crmpi_slots_token_came(struct crmpi_cst *st)
{
    if (st->tokens_wanted)
        --st->tokens_wanted;
    ++st->tokens;
    ++st->spare;
}

int crmpi_slots_give_free(struct crmpi_cst *st)
{
    if (!st->cfg.jobserver || !st->cfg.slot_later || st->slot_pending || st->slot_gone
            || st->free_slot != CRMPI_CST_NONE)
        return 0;
    st->slot_gone = 1;
    return 1;
}

int crmpi_slots_give_spare(struct crmpi_cst *st)
{
    if (!st->spare)
        return 0;
    --st->spare;
    --st->tokens;
    return 1;
}

size_t crmpi_slots_workers_wanted(const struct crmpi_cst *st)
{
    if (!st->cfg.jobserver || !st->have_units || st->slot_pending || st->stopping
            || st->phase != CRMPI_CST_RUNNING_PHASE)
        return 0;
    size_t alive = 0, created = 0, asking = st->slot_waiters;
    for (size_t i = 0; i < st->n_workers; ++i) {
        const struct crmpi_cst_worker *w = &st->workers[i];
        if (w->remote)
            continue;
        ++created;
        if (!cst_alive(w))
            continue;
        ++alive;
        asking += w->state != CRMPI_CST_W_READY && w->unit == CRMPI_CST_NONE;
    }
    size_t jobs = st->n_requeued + (st->n_jobs - st->q_head);
    if (alive >= st->want || jobs <= asking)
        return 0;
    /* Past the workers planned, each one is a replacement, out of the restart budget. */
    size_t room = (created < st->want ? st->want - created : 0)
            + (st->restarts < st->cfg.max_restarts ? st->cfg.max_restarts - st->restarts : 0);
    size_t n = st->want - alive < jobs - asking ? st->want - alive : jobs - asking;
    return n < room ? n : room;
}

/* Whether the free slot is ours, on no worker: a worker started at once runs on it. */
static int slots_free_idle(const struct crmpi_cst *st)
{
    return st->free_slot == CRMPI_CST_NONE && !st->slot_gone && !st->slot_pending;
}

unsigned crmpi_slots_ask(struct crmpi_cst *st)
{
    size_t wanted = crmpi_slots_workers_wanted(st);
    /* One of them starts for the idle free slot (crmpi_slots_replace_at_once), on no token. */
    if (wanted && slots_free_idle(st))
        --wanted;
    unsigned n = 0;
    for (; st->tokens_wanted < st->slot_waiters + wanted; ++n)
        ++st->tokens_wanted;
    return n;
}

int crmpi_slots_spare_starts(const struct crmpi_cst *st, int *replacement)
{
    if (!st->spare || !crmpi_slots_workers_wanted(st))
        return 0;
    size_t created = 0;
    for (size_t i = 0; i < st->n_workers; ++i)
        created += !st->workers[i].remote;
    *replacement = created >= st->want;
    return 1;
}

size_t crmpi_slots_replace_at_once(const struct crmpi_cst *st, size_t alive)
{
    if (!st->cfg.jobserver)
        return st->want;
    size_t n = slots_free_idle(st) || !alive;
    for (size_t i = 0; i < st->n_workers; ++i)
        n += cst_alive(&st->workers[i]) && !st->workers[i].remote
                && (st->workers[i].token || st->free_slot == i);
    return n;
}
