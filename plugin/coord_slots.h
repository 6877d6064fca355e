/*
 * The make jobserver's slots, as the coordinator's state machine counts
 * them (see Tokens in coord_state.h): which worker runs on the free slot or
 * on a token, which requests wait for one, how many tokens were taken and
 * asked for.  Bookkeeping only, no actions: coord_state.c turns what these
 * return into HOLD, TAKE_TOKEN and GIVE_TOKEN.
 */
#ifndef CRMPI_COORD_SLOTS_H_
#define CRMPI_COORD_SLOTS_H_

#include "coord_state.h"

/* Whether worker id has a slot to run a unit on, giving it a spare one if it has none. */
int crmpi_slots_take(struct crmpi_cst *st, uint32_t id);

/* Worker id's request waits for a slot: 1 when one more token must be asked for. */
int crmpi_slots_wait(struct crmpi_cst *st, uint32_t id);

/* Worker id has no unit to run, or is gone: 1 when a slot became spare. */
int crmpi_slots_release(struct crmpi_cst *st, uint32_t id);

/* A token came: it is spare until a waiting request takes it. */
void crmpi_slots_token_came(struct crmpi_cst *st);

/*
 * The free slot is on no worker and the caller has no unit for it: 1 when
 * it goes back to the runner that gave it (cfg.slot_later, once per run).
 */
int crmpi_slots_give_free(struct crmpi_cst *st);

/*
 * With a jobserver, a worker past the first starts only on a token in
 * hand: one started to wait for a slot would spend its start-up's CPU and
 * memory for nothing while the slots are busy.  How many more workers are
 * wanted now: queued jobs that no worker about to ask (waiting for a slot,
 * or still starting) will take, up to cst.want and the restart budget.
 */
size_t crmpi_slots_workers_wanted(const struct crmpi_cst *st);

/* How many more tokens to ask for (counted as asked): the waiting requests', the wanted workers'. */
unsigned crmpi_slots_ask(struct crmpi_cst *st);

/* Whether a spare token starts a wanted worker; *replacement: past the workers planned. */
int crmpi_slots_spare_starts(const struct crmpi_cst *st, int *replacement);

/*
 * After a death, how many local workers may run without a token in hand:
 * with a jobserver, those on a slot and one for the free slot when it is
 * idle (or when none is alive); without, all the workers wanted.
 */
size_t crmpi_slots_replace_at_once(const struct crmpi_cst *st, size_t alive);

/* Takes one spare token to give back: 1, or 0 when none is spare. */
int crmpi_slots_give_spare(struct crmpi_cst *st);

#endif /* !CRMPI_COORD_SLOTS_H_ */
