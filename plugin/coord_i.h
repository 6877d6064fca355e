/*
 * What the coordinator's files share: the run's state (struct coord) and the
 * functions one file offers the others.  coordinator.c holds the policy, the
 * message handlers and the loop; coord_run.c sets a run up, reports it and
 * tears it down; coord_sched.c makes the order; summary.c prints what comes
 * after.
 */
#ifndef CRMPI_COORD_I_H_
#define CRMPI_COORD_I_H_

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <criterion/criterion.h>

#include "auth.h"
#include "coord_state.h"
#include "durations.h"
#include "fixtures.h"
#include "jobserver.h"
#include "nng_api.h"
#include "options.h"
#include "proc.h"
#include "report.h"
#include "schedule.h"
#include "testindex.h"
#include "transport.h"
#include "wakepipe.h"
#include "wire.h"
#include "wire_units.h"

/* How long finished workers get to exit before they are killed. */
#define COORD_EXIT_GRACE_MS 5000
/* A listener that no worker reached says so this often. */
#define COORD_WAIT_NOTE_MS 5000
/* A unit that takes its worker down this many times is reported crashed. */
#define COORD_MAX_ATTEMPTS 2
/* Past a unit's own timeout, how long its worker has to report before it is killed. */
#define COORD_TIMEOUT_GRACE_MS 10000

/* What the shell keeps of a unit; its state is the state machine's (c->st). */
struct coord_unit {
    struct crmpi_report_unit r;
    Crmp__Envelope *env;        /* owned: the Result that r.result points into */
    Crmp__Envelope **tries;     /* owned, each owned: its earlier failed tries (--mproc-retries) */
    unsigned n_tries;           /* beside art_try: 56 bytes a unit, not 64 */
    unsigned art_try;           /* the try whose artifacts are in its directory; 0: none yet */
};

/* What the shell keeps of a worker; its state is the state machine's (c->st). */
struct coord_worker {
    int remote;                 /* connected through --mproc-listen, not ours to spawn */
    Crmp__Envelope *hello;      /* owned: its hello, until accepted or refused */
    struct crmpi_wire_units hello_units;    /* owned: the hello's units (wire_units.h), as long */
    nng_msg *req;               /* owned: its request being answered, or held */
    uint8_t wnonce[CRMPI_NONCE_LEN];
    uint8_t cnonce[CRMPI_NONCE_LEN];
    pid_t pid;                  /* local workers; 0 once reaped */
    pid_t reaped_pid;           /* the pid it had, kept for messages once reaped */
    int pidfd;                  /* -1 once reaped */
    unsigned slot;              /* its id in the state machine */
    unsigned test_slot;         /* its CRITERION_MPROC_SLOT (crmpi_coord_test_slot) */
    uint32_t pipe;              /* nng pipe id, 0 before its hello */
    uint64_t busy_ns;           /* time spent on units it finished */
    int got_globals;            /* remote: the global fixtures' values went with an Assign */
    unsigned units_done;
    uint32_t art_unit;          /* unit + 1 whose artifacts it is sending; 0: none */
    uint64_t art_bytes;         /* bytes of them taken so far */
    int art_failed;             /* they could not be written: no more are taken */
};

struct crmpi_coord_live;

struct coord {
    struct criterion_test_set *set;
    struct crmpi_testindex index;   /* of set; freed once the first list is adopted */
    const struct crmpi_options *opts;
    const char *artifacts_root;     /* crmpi_coord_artifacts_lookup(opts), once */
    char dir[64];
    char url[128];
    char exe[PATH_MAX];
    uint8_t exe_hash[32];       /* crmpi_exe_hash() of this process, set once the first worker starts */
    char **argv;
    struct crmpi_proc_env env;  /* the workers' */

    struct crmpi_transport net;     /* the socket, and the aios it sends and receives on */
    int sock_open;
    int recv_fd;
    struct crmpi_wakepipe wake;

    struct crmpi_cst st;            /* the policy: every decision is its */
    struct coord_worker **workers;  /* owned, each owned; index = state machine id */
    size_t n_workers;

    struct coord_unit *units;
    size_t n_units;
    int have_units;
    struct crmpi_jobs schedule;     /* the order */
    struct crmpi_cst_job *jobs;     /* owned array over schedule's units, for the state machine */
    struct crmpi_cst_unit_info *unit_info;  /* owned; NULL once the state machine copied it */

    char *durations_path;       /* owned; NULL: not recorded */
    struct crmpi_durations history;
    int64_t started_ms;

    /* The shell's own: events produced while performing actions, fed next. */
    struct crmpi_cst_event *pending;
    size_t n_pending, cap_pending;
    nng_msg *hb_req;            /* the heartbeat being answered */
    Crmp__Envelope *result;     /* owned: the result being fed, until printed */
    int ended;                  /* the state machine said END */
    int child_exited;           /* SIGCHLD since the last look */

    struct crmpi_report report;
    int report_started;
    int annotate;               /* GitHub annotations for final failures (annotate.h) */

    struct crmpi_token token;   /* len 0: no authentication */
    struct crmpi_jobserver js;  /* make's, when it shares one (MAKEFLAGS) */
    int slot_fd;                /* the runner's socket: "+" from it when our slot is free,
                                   "-" to it when we give the slot back; -1: none */
    int slot_came;              /* its "+" was read: no longer watched */
    nng_tls_config *tls;

    struct crmpi_coord_live *live;  /* owned: what is said while tests run (coord_live.c) */

    /* The global fixtures (and this host's node ones), in a process of their own. */
    struct crmpi_fixture_host fixtures;
    struct crmpi_fixture_kv globals;    /* owned: what they published, for remote workers */
    /* "CRITERION_MPROC_FIXTURE_FAILED=why" once a local worker died in its worker fixture:
       its replacements are born with it; "" before. */
    char fixture_crash_env[1100];
};

static inline int64_t coord_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * coordinator.c: runs the state machine from its START to its END, turning
 * the world into its events and performing its actions.  Returns 0, or
 * -errno when the loop itself failed (the run is then over, its workers
 * killed, the failure recorded in c->st as an internal error).
 */
int crmpi_coord_loop(struct coord *c);

/*
 * coord_tokens.c: opens the make jobserver MAKEFLAGS advertises, into c->js.
 * Returns 1 when the workers share it, 0 when there is none or it cannot be
 * used (said once).
 */
int crmpi_coord_jobserver_open(struct coord *c);

/*
 * coord_tokens.c: the descriptor the runner named in CRITERION_MPROC_SLOT_FD
 * (it writes one byte there when it has a slot for this program), made
 * close-on-exec; -1 when there is none (the slot is ours from the start).
 */
int crmpi_coord_slot_fd(void);

/* coord_tokens.c: a token back to make's jobserver (a failure is said). */
void crmpi_coord_give_token(struct coord *c);

/* coord_tokens.c: how many tokens make has for us now (0 after a failure, said). */
int crmpi_coord_take_tokens(struct coord *c);

/*
 * coord_tokens.c: reads the runner's slot socket when it is readable.
 * Returns 1 when our slot came (or the runner is gone: nobody holds it back
 * any more), 0 when there was nothing to read.
 */
int crmpi_coord_slot_came(struct coord *c);

/* coord_tokens.c: our free slot back to the runner (a runner gone: said, and harmless). */
void crmpi_coord_give_slot(struct coord *c);

/* coordinator.c: ends and reaps our children that are not workers (see crmpi_proc_strays). */
void crmpi_coord_reap_orphans(struct coord *c);

/*
 * coord_sched.c: loads the recorded durations (c->durations_path,
 * c->history), reads the scheduling annotations, leaves other shards' units
 * out and builds c->schedule, c->jobs (units[] borrowed from c->schedule)
 * and c->unit_info.  Returns 0 or -ENOMEM.
 */
int crmpi_coord_sched_build(struct coord *c);

/* coord_testenv.c: the CRITERION_MPROC_SLOT worker w gets (w is in c->workers). */
unsigned crmpi_coord_test_slot(const struct coord *c, const struct coord_worker *w);

/*
 * coord_live.c: what is said while tests run.  _begin returns 0 or -ENOMEM;
 * _free is safe when _begin was not called; _end takes the status line off
 * for good (before the Synthesis).  _slow prints a SLOW action's line;
 * _interrupted keeps the tests running at a signal, which
 * _print_interrupted lists after the run's interruption line.  The loop
 * polls no longer than _timeout says and calls _tick after each poll;
 * a unit's block is printed between _before_print and _printed.  Under a
 * runner that asks (runnerlink.h), _tick, _started (a unit went to a
 * worker) and _printed also send it the records of its status line and
 * recap.
 */
int crmpi_coord_live_begin(struct coord *c);
void crmpi_coord_live_end(struct coord *c);
void crmpi_coord_live_free(struct coord *c);
int crmpi_coord_live_timeout(const struct coord *c, int timeout);
void crmpi_coord_live_tick(struct coord *c);
void crmpi_coord_live_before_print(struct coord *c);
void crmpi_coord_live_printed(struct coord *c, uint32_t unit);
void crmpi_coord_live_started(struct coord *c, uint32_t unit);
void crmpi_coord_live_slow(struct coord *c, const struct crmpi_cst_action *a);
void crmpi_coord_live_interrupted(struct coord *c, int64_t now_ms);
void crmpi_coord_live_print_interrupted(struct coord *c);

/* coord_testenv.c: after a unit's block, what the test left (processes, a kept directory). */
void crmpi_coord_testenv_print(const struct crmpi_report_unit *u);

/*
 * coord_artifacts.c: --mproc-artifacts.  _root is DIR (the option, or
 * CRITERION_MPROC_ARTIFACTS_DIR), NULL when none.  _on_artifact writes one
 * piece from worker w and answers *req (taken) with an ArtifactTaken;
 * -EBADMSG (nothing answered) when w is not running that unit or no
 * artifacts were asked for.  _result: w's Result for unit came (before the
 * state machine sees it).  _print: the [ARTIFACTS] line after a unit's block.
 */
const char *crmpi_coord_artifacts_root(const struct coord *c);
/* DIR as the options and the environment say, looked up once per run (into artifacts_root). */
const char *crmpi_coord_artifacts_lookup(const struct crmpi_options *o);
int crmpi_coord_on_artifact(struct coord *c, struct coord_worker *w, nng_msg **req,
        const Crmp__Artifact *a);
void crmpi_coord_artifacts_result(struct coord *c, struct coord_worker *w, uint32_t unit);
void crmpi_coord_artifacts_print(const struct crmpi_report_unit *u);

/* summary.c: what is written and printed once the run is over. */
void crmpi_summary_save_history(const struct coord *c);
void crmpi_summary_print_slowest(const struct coord *c);
void crmpi_summary_print_efficiency(const struct coord *c, int64_t makespan_ms);
/*
 * coord_retry.c: the tries of --mproc-retries.  try_keep takes c->result as
 * failed try try_no of unit id and prints it as a try; try_last makes the
 * last kept try the unit's result (the run stopped before the next);
 * try_final says FLAKY after a unit's result passed on a later try;
 * flaky_verdict says how many were flaky and returns 1 when that fails the
 * run (--mproc-flaky-fails); tries_free frees a unit's tries.
 */
void crmpi_coord_try_keep(struct coord *c, uint32_t id, unsigned try_no);
void crmpi_coord_try_last(struct coord *c, uint32_t id);
void crmpi_coord_try_final(struct coord *c, uint32_t id);
int crmpi_coord_flaky_verdict(const struct coord *c);
void crmpi_coord_tries_free(struct coord_unit *u);

/* --mproc-junit (or CRITERION_MPROC_JUNIT): the JUnit report of a run that began at started. */
void crmpi_summary_write_junit(const struct coord *c, time_t started);
/* The recap of units (c->n_units, as reported), with the efficiency line past 10 s. */
void crmpi_summary_print_recap(const struct coord *c, const struct crmpi_report_unit *units,
        int64_t makespan_ms);

#endif /* !CRMPI_COORD_I_H_ */
