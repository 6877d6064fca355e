/*
 * The state machine seen from outside (see coord_state.h): how a run ended,
 * when it next needs a tick, and the names of its events and actions for
 * diagnostics and table tests.  Nothing here changes the state.
 */
#include <stdint.h>
#include <stdlib.h>

#include "coord_state.h"
#include "coord_state_i.h"

size_t crmpi_cst_alive(const struct crmpi_cst *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_workers; ++i)
        n += cst_alive(&st->workers[i]);
    return n;
}

void crmpi_cst_outcome(const struct crmpi_cst *st, struct crmpi_cst_outcome *out)
{
    *out = (struct crmpi_cst_outcome) {
        .ended = st->phase == CRMPI_CST_ENDED,
        .interrupted = st->interrupted,
        .fail_fast = st->fail_fast_hit,
        .fatal = st->fatal,
        .startup_failed = st->startup_failed,
        .exit_status = -1,
        .total = st->counted_total,
        .not_run = cst_not_run(st),
        .stop_reason = st->stopping ? st->stop_reason : NULL,
    };
    if (st->interrupted)
        out->exit_status = 128 + st->interrupted;
    else if (st->startup_failed)
        out->exit_status = st->startup_status > 0 ? st->startup_status : 1;
    else if (st->fail_fast_hit)
        out->exit_status = 1;       /* Criterion's --fail-fast, --always-succeed or not */
    else if (st->fatal || out->not_run)
        out->exit_status = 1;       /* never a silent success with tests missing */
}

int64_t crmpi_cst_next_deadline(const struct crmpi_cst *st, int64_t now_ms)
{
    int64_t next = -1;
#define CST_EARLIER(t) do { int64_t t_ = (t); if (next < 0 || t_ < next) next = t_; } while (0)
    if (st->phase == CRMPI_CST_ENDING)
        CST_EARLIER(st->end_deadline_ms);
    if (cst_waiting(st) && st->cfg.wait_note_ms)
        CST_EARLIER(st->next_wait_note_ms);
    if (cst_waiting(st) && st->cfg.wait_workers_ms)
        CST_EARLIER(st->waiting_since_ms + st->cfg.wait_workers_ms);
    for (size_t i = 0; i < st->n_workers; ++i) {
        const struct crmpi_cst_worker *w = &st->workers[i];
        if (!cst_alive(w) || w->dropped)
            continue;
        if (st->cfg.heartbeat_ms && w->hello_ok)
            CST_EARLIER(w->last_beat_ms + st->cfg.heartbeat_ms + 1);
        if (w->unit != CRMPI_CST_NONE && st->units[w->unit].info.timeout_ms > 0)
            CST_EARLIER(st->units[w->unit].started_ms + st->units[w->unit].info.timeout_ms
                    + st->cfg.timeout_grace_ms + 1);
        if (w->unit != CRMPI_CST_NONE && st->cfg.slow_ms)
            CST_EARLIER(st->units[w->unit].started_ms
                    + st->cfg.slow_ms * (int64_t) (st->units[w->unit].slow_said + 1));
    }
#undef CST_EARLIER
    return next < 0 ? -1 : next < now_ms ? now_ms : next;
}

const char *crmpi_cst_act_name(enum crmpi_cst_act_kind k)
{
    static const char *const names[] = {
        [CRMPI_CST_ACT_ASSIGN] = "assign", [CRMPI_CST_ACT_STOP] = "stop",
        [CRMPI_CST_ACT_HEARTBEAT] = "heartbeat", [CRMPI_CST_ACT_CHALLENGE] = "challenge",
        [CRMPI_CST_ACT_REJECT] = "reject", [CRMPI_CST_ACT_HOLD] = "hold",
        [CRMPI_CST_ACT_DISCARD] = "discard", [CRMPI_CST_ACT_ADOPT] = "adopt",
        [CRMPI_CST_ACT_SPAWN] = "spawn", [CRMPI_CST_ACT_KILL] = "kill",
        [CRMPI_CST_ACT_PRINT] = "print", [CRMPI_CST_ACT_CRASH] = "crash",
        [CRMPI_CST_ACT_PRINT_RESOLVED] = "print-resolved",
        [CRMPI_CST_ACT_NOTE] = "note", [CRMPI_CST_ACT_END] = "end",
        [CRMPI_CST_ACT_SLOW] = "slow",
        [CRMPI_CST_ACT_TAKE_TOKEN] = "take", [CRMPI_CST_ACT_GIVE_TOKEN] = "give",
        [CRMPI_CST_ACT_GIVE_SLOT] = "give-slot",
    };
    return (unsigned) k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *crmpi_cst_ev_name(enum crmpi_cst_ev_kind k)
{
    static const char *const names[] = {
        [CRMPI_CST_EV_START] = "start", [CRMPI_CST_EV_SPAWNED] = "spawned",
        [CRMPI_CST_EV_SPAWN_FAILED] = "spawn-failed", [CRMPI_CST_EV_HELLO] = "hello",
        [CRMPI_CST_EV_AUTH_OK] = "auth-ok", [CRMPI_CST_EV_AUTH_FAILED] = "auth-failed",
        [CRMPI_CST_EV_UNITS] = "units", [CRMPI_CST_EV_ADOPT_FAILED] = "adopt-failed",
        [CRMPI_CST_EV_RESULT] = "result", [CRMPI_CST_EV_HEARTBEAT] = "heartbeat",
        [CRMPI_CST_EV_BAD_MESSAGE] = "bad-message", [CRMPI_CST_EV_EXITED] = "exited",
        [CRMPI_CST_EV_PIPE_CLOSED] = "pipe-closed", [CRMPI_CST_EV_TICK] = "tick",
        [CRMPI_CST_EV_SIGNAL] = "signal", [CRMPI_CST_EV_INTERNAL_ERROR] = "internal-error",
        [CRMPI_CST_EV_TOKEN] = "token", [CRMPI_CST_EV_SLOT] = "slot",
        [CRMPI_CST_EV_FIXTURE] = "fixture",
    };
    return (unsigned) k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}
