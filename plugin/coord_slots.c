#include "coord_slots.h"

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
