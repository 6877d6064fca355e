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
#include "durations.h"
#include "nng_api.h"
#include "options.h"
#include "proc.h"
#include "report.h"
#include "schedule.h"
#include "testindex.h"
#include "wakepipe.h"
#include "wire.h"

/* How long finished workers get to exit before they are killed. */
#define COORD_EXIT_GRACE_MS 5000
/* A unit that takes its worker down this many times is reported crashed. */
#define COORD_MAX_ATTEMPTS 2

enum coord_unit_state { COORD_PENDING, COORD_RUNNING, COORD_DONE };

struct coord_unit {
    struct crmpi_report_unit r;
    Crmp__Envelope *env;        /* owned: the Result that r.result points into */
    enum coord_unit_state state;
    int attempts;               /* workers it took down */
};

/* A job being handed out: its units go, in order, to the worker that took it. */
struct coord_job {
    size_t *units;              /* borrowed from the schedule, or owned (requeued) */
    size_t n;
    size_t next;                /* next unit to hand out */
    struct coord_job *owned_next;   /* list of owned (requeued) jobs */
};

struct coord_worker {
    int alive;                  /* until reaped, or its connection closed (remote) */
    int remote;                 /* connected through --mproc-listen, not ours to spawn */
    int authed;                 /* passed the token challenge (when one is needed) */
    Crmp__Envelope *hello;      /* owned: its hello, until it authenticates */
    uint8_t wnonce[CRMPI_NONCE_LEN];
    uint8_t cnonce[CRMPI_NONCE_LEN];
    pid_t pid;                  /* local workers; 0 once reaped */
    int pidfd;                  /* -1 once reaped */
    unsigned slot;
    uint32_t pipe;              /* nng pipe id, 0 before its hello */
    long unit;                  /* in flight, -1 for none */
    struct coord_job *job;      /* the job its units come from */
    nng_msg *waiting;           /* owned: its request, held until work exists */
    int64_t last_beat_ms;       /* its last heartbeat (or hello) */
    int dropped;                /* killed or disconnected by us, not yet gone */
    uint64_t busy_ns;           /* time spent on units it finished */
    unsigned units_done;
};

struct coord {
    struct criterion_test_set *set;
    struct crmpi_testindex index;   /* of set */
    const struct crmpi_options *opts;
    char dir[64];
    char url[128];
    char exe[PATH_MAX];
    char **argv;
    struct crmpi_proc_env env;  /* the workers' */

    nng_socket sock;
    int sock_open;
    int recv_fd;
    struct crmpi_wakepipe wake;

    struct coord_worker **workers;  /* owned, each owned: pointers stay valid */
    size_t n_workers;
    unsigned restarts;

    struct coord_unit *units;
    size_t n_units;
    int have_units;
    uint8_t fingerprint[32];
    struct crmpi_jobs schedule;     /* the order */
    struct coord_job *jobs;         /* one per scheduled job, handed out from q_head */
    size_t q_head, q_len;
    struct coord_job **requeued;    /* jobs to hand out first (LIFO) */
    size_t n_requeued;
    struct coord_job *owned_jobs;   /* requeued jobs, for freeing */
    size_t done;

    char *durations_path;       /* owned; NULL: not recorded */
    struct crmpi_durations history;
    int64_t started_ms;

    int stopping;               /* no more assignments */
    const char *stop_reason;
    int fatal;                  /* the run cannot complete */
    int startup_failed;         /* no worker could start: nothing to report */
    int child_exited;           /* SIGCHLD since the last look */
    int startup_status;         /* exit status of a worker dead before its hello, or -1 */
    int exit_status;            /* exit the process with it, when not 0 */

    struct crmpi_report report;
    int report_started;

    struct crmpi_token token;   /* len 0: no authentication */
    nng_tls_config *tls;
};

static inline int64_t coord_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* coordinator.c: starts a local worker (a new entry in c->workers).  Returns 0 or -errno. */
int crmpi_coord_spawn(struct coord *c);

/* coordinator.c: runs until every unit is done or the run stops.  Returns 0 or -errno. */
int crmpi_coord_loop(struct coord *c);

/* coordinator.c: ends and reaps our children that are not workers (see crmpi_proc_strays). */
void crmpi_coord_reap_orphans(struct coord *c);

/*
 * coord_sched.c: loads the recorded durations (c->durations_path,
 * c->history), reads the scheduling annotations, marks other shards' units
 * done and builds c->schedule and c->jobs.  Returns 0 or -ENOMEM.
 */
int crmpi_coord_sched_build(struct coord *c);

/* summary.c: what is written and printed once the run is over. */
void crmpi_summary_save_history(const struct coord *c);
void crmpi_summary_print_slowest(const struct coord *c);
void crmpi_summary_print_efficiency(const struct coord *c, int64_t makespan_ms);

#endif /* !CRMPI_COORD_I_H_ */
