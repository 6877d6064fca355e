/*
 * The coordinator's policy as a pure state machine: which unit goes to which
 * worker, what happens when a worker dies or hangs, when replacements are
 * started, when the run stops and with which status.
 *
 * It does no I/O, reads no clock and has no globals.  The shell around it
 * (plugin/coordinator.c) turns the world into events — a worker started, said
 * hello, sent a result, exited, a tick of the clock, a signal — and performs
 * the actions each event returns, in the order they are returned.  Time comes
 * in the events (monotonic milliseconds).  Workers and units are plain ids:
 * a worker id is its slot (the index of its entry, never reused), a unit id
 * its index in the run's unit list.
 *
 * Requests: a worker speaks only in requests.  An event that carries one
 * (hello, auth, result, heartbeat, fixture) is answered by exactly one action naming
 * that worker — ASSIGN, STOP, HEARTBEAT, CHALLENGE, REJECT, or HOLD (the
 * request is kept and answered later, when work exists), or DISCARD (freed
 * unanswered: its worker is being dropped).  A held request is answered by a
 * later ASSIGN/STOP for that worker, or DISCARDed when the worker goes.
 *
 * Tokens: with a make jobserver (cfg.jobserver), a local worker runs a unit
 * only on a slot: the free one (the token make gave this process, whose
 * coordinator runs no test itself) or a token.  A worker keeps its slot from
 * one unit to the next and gives it up when it has none to run, when it
 * goes, or when the run ends; a token that nobody waits for is given back
 * at once.  So at END every token taken was given back.  With
 * cfg.slot_later the free slot is not ours until SLOT: the runner started
 * this process before it had a slot for it, so that the start-up is done by
 * then; until SLOT no unit runs and no token is asked for (the runner hands
 * out its slots in its own order).  And once the free slot is on no worker
 * with no unit queued (the last one was handed out), it goes back to the
 * runner (GIVE_SLOT) rather than idle through the process's end (the
 * workers' exits, the reports): a unit that comes back after runs on a
 * token.
 */
#ifndef CRMPI_COORD_STATE_H_
#define CRMPI_COORD_STATE_H_

#include <stddef.h>
#include <stdint.h>

#define CRMPI_CST_NONE UINT32_MAX

struct crmpi_cst_config {
    unsigned workers;           /* local workers asked for (may be 0 with remote) */
    unsigned max_restarts;      /* replacements over the whole run */
    unsigned max_attempts;      /* a unit that takes down this many workers is a crash */
    int remote;                 /* remote workers may connect (--mproc-listen) */
    int fail_fast;              /* the first failure stops dispatch */
    int64_t heartbeat_ms;       /* silence after which a worker is hung; 0: off */
    int64_t timeout_grace_ms;   /* past a unit's own timeout before its worker is killed */
    int64_t exit_grace_ms;      /* finished workers get this long to exit */
    int64_t wait_note_ms;       /* a listener no worker reached says so this often; 0: never */
    int64_t wait_workers_ms;    /* ... and gives up after this long (--mproc-wait-workers); 0: never */
    int64_t slow_ms;            /* a unit running this long is said slow, again at each multiple; 0: off */
    int jobserver;              /* a make jobserver is shared: see TOKEN below */
    int slot_later;             /* with jobserver: the free slot comes with SLOT */
};

/* ---- events -------------------------------------------------------------- */

enum crmpi_cst_ev_kind {
    CRMPI_CST_EV_START,         /* the run begins */
    CRMPI_CST_EV_SPAWNED,       /* local worker w runs (answer to SPAWN) */
    CRMPI_CST_EV_SPAWN_FAILED,  /* local worker w could not be started: err */
    CRMPI_CST_EV_HELLO,         /* worker w said hello (request) */
    CRMPI_CST_EV_AUTH_OK,       /* worker w proved the token (request) */
    CRMPI_CST_EV_AUTH_FAILED,   /* worker w's proof was wrong (request) */
    CRMPI_CST_EV_UNITS,         /* the unit list was adopted (answer to ADOPT) */
    CRMPI_CST_EV_ADOPT_FAILED,  /* it could not be: err (answer to ADOPT) */
    CRMPI_CST_EV_RESULT,        /* worker w finished unit (request) */
    CRMPI_CST_EV_HEARTBEAT,     /* from worker w, or CRMPI_CST_NONE for an unknown peer (request) */
    CRMPI_CST_EV_BAD_MESSAGE,   /* worker w sent garbage or an unexpected message (request) */
    CRMPI_CST_EV_EXITED,        /* local worker w was reaped: status as from waitpid */
    CRMPI_CST_EV_PIPE_CLOSED,   /* worker w's connection closed */
    CRMPI_CST_EV_TICK,          /* time passed */
    CRMPI_CST_EV_SIGNAL,        /* SIGINT or SIGTERM: sig */
    CRMPI_CST_EV_INTERNAL_ERROR,/* the shell failed (ENOMEM, poll): err */
    CRMPI_CST_EV_TOKEN,         /* a jobserver token came (answer to TAKE_TOKEN) */
    CRMPI_CST_EV_SLOT,          /* the free slot is ours now (cfg.slot_later) */
    CRMPI_CST_EV_FIXTURE,       /* a heartbeat from w (or CRMPI_CST_NONE) that says it enters
                                   (in_fixture) or left its worker fixtures' setups (request) */
};

/* What the shell knows about a hello's unit list (checked against its own tests). */
enum crmpi_cst_auth {
    CRMPI_CST_AUTH_NONE,        /* no token required */
    CRMPI_CST_AUTH_CHALLENGE,   /* token required, the worker offered a nonce */
    CRMPI_CST_AUTH_MISSING,     /* token required, the worker offered nothing */
};

/* One per unit for the whole run: the flags are bytes (16 bytes, not 24; issue 10). */
struct crmpi_cst_unit_info {
    int64_t timeout_ms;         /* the unit's own timeout (Criterion's rule); 0: none */
    unsigned retries;           /* a failed try runs again, this many times at most (--mproc-retries) */
    uint8_t counted;            /* counted among "did not run" if it never runs (not filtered out) */
    uint8_t trivial;            /* filtered out or disabled: Criterion skips it at once, so it
                                   is no reason to start a worker */
    uint8_t resolved;           /* disabled or filtered out: in no job, DONE from the start, the
                                   shell reports it itself (see ACT_PRINT_RESOLVED) */
};

struct crmpi_cst_job {
    const size_t *units;        /* borrowed: unit ids, run in this order by one worker */
    size_t n;
};

struct crmpi_cst_event {
    enum crmpi_cst_ev_kind kind;
    int64_t now_ms;             /* monotonic; every event carries it */
    uint32_t worker;
    int in_fixture;             /* EXITED: it died in its worker fixture, not in a test;
                                   FIXTURE: it enters them (0: they returned) */
    union {
        int err;                /* SPAWN_FAILED, ADOPT_FAILED, INTERNAL_ERROR: -errno */
        int status;             /* EXITED: wait status */
        int sig;                /* SIGNAL */
        struct {
            enum crmpi_cst_auth auth;
            int list_ok;        /* its tests are this binary's (only looked at for the first) */
            int exe_ok;         /* its executable's content is ours (crmpi_exe_hash) */
            size_t n_units;
            const uint8_t *fingerprint; /* 32 bytes, copied */
        } hello;
        struct {
            uint32_t unit;
            int failed;         /* the unit failed (for --fail-fast) */
        } result;
        struct {
            size_t n_units;
            const struct crmpi_cst_job *jobs;   /* borrowed until the machine is destroyed */
            size_t n_jobs;
            const struct crmpi_cst_unit_info *info; /* n_units, copied */
        } units;
    } u;
};

/* ---- actions -------------------------------------------------------------- */

enum crmpi_cst_act_kind {
    CRMPI_CST_ACT_ASSIGN,       /* answer w's request: run unit */
    CRMPI_CST_ACT_STOP,         /* answer w's request: no more work (why: the reason, may be "") */
    CRMPI_CST_ACT_HEARTBEAT,    /* answer w's heartbeat (w may be CRMPI_CST_NONE) */
    CRMPI_CST_ACT_CHALLENGE,    /* answer w's hello with the token challenge */
    CRMPI_CST_ACT_REJECT,       /* answer w's request with a refusal: why */
    CRMPI_CST_ACT_HOLD,         /* keep w's request until work exists */
    CRMPI_CST_ACT_DISCARD,      /* free w's request (or held one) unanswered */
    CRMPI_CST_ACT_ADOPT,        /* make w's hello's unit list the run's: answer UNITS or ADOPT_FAILED */
    CRMPI_CST_ACT_SPAWN,        /* start local worker w: answer SPAWNED or SPAWN_FAILED */
    CRMPI_CST_ACT_KILL,         /* end worker w (local: its process tree; remote: its connection): why */
    CRMPI_CST_ACT_PRINT,        /* report unit's result (the one worker w sent) */
    CRMPI_CST_ACT_CRASH,        /* report unit as crashed by sig (it took its workers down) */
    CRMPI_CST_ACT_PRINT_RESOLVED,   /* report every resolved unit (once, after the first dispatch) */
    CRMPI_CST_ACT_NOTE,         /* a diagnostic: note, with w, unit, value */
    CRMPI_CST_ACT_END,          /* every worker is gone: the run is over (see crmpi_cst_outcome) */
    CRMPI_CST_ACT_SLOW,         /* unit, on w, has run value seconds: a multiple of slow_ms was reached */
    CRMPI_CST_ACT_TAKE_TOKEN,   /* read one more token from the jobserver: answer TOKEN */
    CRMPI_CST_ACT_GIVE_TOKEN,   /* write one token back to the jobserver */
    CRMPI_CST_ACT_GIVE_SLOT,    /* cfg.slot_later: the free slot goes back to the runner (once) */
};

enum crmpi_cst_note {
    CRMPI_CST_NOTE_WORKERS,         /* value workers will run the units (info) */
    CRMPI_CST_NOTE_RETRY,           /* w died (value: wait status) running unit: run again (warn) */
    CRMPI_CST_NOTE_CRASHED,         /* unit took down value workers: reported crashed (warn) */
    CRMPI_CST_NOTE_DIED_IDLE,       /* w exited unexpectedly, status value (warn) */
    CRMPI_CST_NOTE_REPLACEMENT,     /* replacement w started, value restarts so far (info) */
    CRMPI_CST_NOTE_SPAWN_FAILED,    /* w could not start: value -errno (error) */
    CRMPI_CST_NOTE_STARTUP_FAILED,  /* no worker could start: exit status value (error) */
    CRMPI_CST_NOTE_ALL_DIED,        /* every worker died, restarts used up: value tests not run (error) */
    CRMPI_CST_NOTE_REMOTE_LOST,     /* remote w disconnected while running unit (warn) */
    CRMPI_CST_NOTE_REMOTE_FIXTURE,  /* remote w died in its worker fixture: unit runs again (warn) */
    CRMPI_CST_NOTE_WAITING,         /* a listener no worker reached: value s waited so far (warn) */
    CRMPI_CST_NOTE_NO_WORKERS,      /* ... gave up after value s (error) */
    CRMPI_CST_NOTE_STOPPED,         /* the run stopped early (why): value of total tests did not run (warn) */
};

struct crmpi_cst_action {
    enum crmpi_cst_act_kind kind;
    uint32_t worker;
    uint32_t unit;
    int value;                  /* CRASH: signal; NOTE: see the note; SLOW: seconds running */
    enum crmpi_cst_note note;
    size_t total;               /* NOTE_STOPPED: units this run had to run */
    char why[160];              /* STOP, REJECT, KILL, NOTE_STOPPED: a reason ("" if none) */
    /*
     * PRINT, CRASH: which try of the unit this is (1: the first), and
     * whether it was a failed try that runs again (the unit is queued: not
     * its result yet).  PRINT with last_try: the run stopped before the
     * next try; the unit's result is its last failed try (printed already).
     */
    unsigned try_no;
    int again;
    int last_try;
};

/* ---- state, readable by the shell and the tests ------------------------------ */

enum crmpi_cst_unit_state {
    CRMPI_CST_QUEUED,
    CRMPI_CST_RUNNING,
    CRMPI_CST_DONE,             /* reported (a result, or a synthesized crash) */
    CRMPI_CST_EXCLUDED,         /* another shard's: never run, never reported */
};

enum crmpi_cst_worker_state {
    CRMPI_CST_W_STARTING,       /* spawn asked, or started and not heard from */
    CRMPI_CST_W_AUTH,           /* challenged, waiting for its proof */
    CRMPI_CST_W_ADOPTING,       /* its unit list is being adopted */
    CRMPI_CST_W_READY,          /* takes work */
    CRMPI_CST_W_GONE,           /* exited, disconnected, or refused */
};

struct crmpi_cst_unit {
    enum crmpi_cst_unit_state state;
    uint32_t worker;            /* RUNNING: on this worker */
    unsigned attempts;          /* workers it took down */
    unsigned tries;             /* failed tries that were run again (--mproc-retries) */
    int64_t started_ms;
    unsigned slow_said;         /* multiples of slow_ms said since started_ms */
    struct crmpi_cst_unit_info info;
};

struct crmpi_cst_worker {
    enum crmpi_cst_worker_state state;
    int remote;
    int held;                   /* its request waits for work */
    int dropped;                /* killed by us: its exit is expected */
    int refused;                /* rejected: never takes work */
    int hello_ok;               /* its hello (or proof) was accepted once */
    /*
     * It said it runs its worker fixtures' setups (EV_FIXTURE): a remote
     * one whose connection closes now died there.  A local one's death is
     * put down to a setup by the shell, which reads its note (EXITED's
     * in_fixture): without one, its replacement could not be born with the
     * failure and would die the same way, for free.
     */
    int in_fixture;
    uint32_t unit;              /* running, or CRMPI_CST_NONE */
    int64_t last_beat_ms;       /* 0 until its hello */
    size_t job_next;            /* next unit of its job */
    const struct crmpi_cst_job *job;
    size_t list_n;              /* its hello's unit count, kept through authentication */
    int list_ok;
    int exe_ok;                 /* kept through authentication, like list_ok */
    uint8_t fingerprint[32];
    unsigned units_done;
    int token;                  /* runs on a jobserver token (else on the free slot, or none) */
    int wants_slot;             /* its request is held for a slot, not for work */
};

enum crmpi_cst_phase {
    CRMPI_CST_RUNNING_PHASE,    /* dispatching */
    CRMPI_CST_ENDING,           /* no more work given out: waiting for workers to exit */
    CRMPI_CST_ENDED,            /* END returned */
};

struct crmpi_cst_outcome {
    int ended;
    int interrupted;            /* signal number, 0 if none */
    int fail_fast;              /* --fail-fast stopped the run */
    int fatal;                  /* the run could not complete (internal error, all died) */
    int startup_failed;         /* no worker ever started: nothing to report */
    int exit_status;            /* the process's status when it must not be Criterion's: -1 */
    size_t total;               /* units this run had to run (counted ones) */
    size_t not_run;             /* of those, never reported */
    const char *stop_reason;    /* static; NULL when the run was not stopped */
};

struct crmpi_cst_owned_job;

struct crmpi_cst {
    struct crmpi_cst_config cfg;
    enum crmpi_cst_phase phase;
    int64_t end_deadline_ms;
    int64_t waiting_since_ms;   /* a listener without local workers: since START */
    int64_t next_wait_note_ms;

    struct crmpi_cst_worker *workers;   /* owned; ids index it */
    size_t n_workers, cap_workers;
    unsigned restarts;
    unsigned fixture_deaths;    /* workers that died in their worker fixture: not counted as restarts */
    unsigned want;              /* local workers for this run: min(asked, units to run) */

    int have_units;
    uint8_t fingerprint[32];
    struct crmpi_cst_unit *units;       /* owned */
    size_t n_units;
    size_t done;                /* DONE or EXCLUDED */
    size_t counted_total;
    const struct crmpi_cst_job *jobs;   /* borrowed */
    size_t n_jobs, q_head;
    struct crmpi_cst_owned_job **requeued;  /* owned pointers (LIFO), jobs in the owned list */
    size_t n_requeued, cap_requeued;
    struct crmpi_cst_owned_job *owned;  /* every requeued job, for freeing */
    size_t running;             /* units RUNNING */

    int stopping;
    const char *stop_reason;    /* static */
    int interrupted;
    int fail_fast_hit;
    int fatal;
    int startup_failed;
    int startup_status;         /* exit status of a worker dead before its hello, or -1 */

    /* The jobserver's slots (see Tokens above). */
    uint32_t free_slot;         /* the worker on the free slot, or CRMPI_CST_NONE */
    int slot_pending;           /* cfg.slot_later and no SLOT yet: nothing runs, nothing is asked */
    int slot_gone;              /* GIVE_SLOT done: units run on tokens only */
    unsigned tokens;            /* tokens taken and not given back */
    unsigned spare;             /* of those, on no worker (only within an event) */
    unsigned tokens_wanted;     /* TAKE_TOKEN not answered yet */
    unsigned slot_waiters;      /* workers with wants_slot */

    struct crmpi_cst_action *acts;      /* owned: the last event's actions */
    size_t n_acts, cap_acts;
};

/* ---- calls -------------------------------------------------------------------- */

/* Sets up st (caller-allocated).  Returns 0 or -ENOMEM; release with crmpi_cst_destroy. */
int crmpi_cst_init(struct crmpi_cst *st, const struct crmpi_cst_config *cfg);

/* Releases what st owns; safe on a zeroed or half-built st. */
void crmpi_cst_destroy(struct crmpi_cst *st);

/*
 * Feeds one event.  Returns 0 and sets *acts (owned by st, valid until the
 * next call) and *n to the actions, in the order the shell must perform them;
 * or a negative errno (-ENOMEM; -EINVAL for an event naming no worker we
 * know), after which the shell feeds INTERNAL_ERROR, which cannot fail.
 */
int crmpi_cst_event(struct crmpi_cst *st, const struct crmpi_cst_event *ev,
        const struct crmpi_cst_action **acts, size_t *n);

/* A remote worker connected: a new entry.  Returns 0 and its id in *w, or -ENOMEM. */
int crmpi_cst_add_remote(struct crmpi_cst *st, uint32_t *w);

/* The earliest time a TICK is due, or -1 when nothing waits on the clock. */
int64_t crmpi_cst_next_deadline(const struct crmpi_cst *st, int64_t now_ms);

/* Workers not gone. */
size_t crmpi_cst_alive(const struct crmpi_cst *st);

/* The run's outcome so far (final once END was returned). */
void crmpi_cst_outcome(const struct crmpi_cst *st, struct crmpi_cst_outcome *out);

/* Names, for diagnostics and tests. */
const char *crmpi_cst_act_name(enum crmpi_cst_act_kind k);
const char *crmpi_cst_ev_name(enum crmpi_cst_ev_kind k);

#endif /* !CRMPI_COORD_STATE_H_ */
