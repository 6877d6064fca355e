#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/options.h>

#include "crit.h"
#include "auth.h"
#include "coordinator.h"
#include "criterion-mproc.h"
#include "diag.h"
#include "durations.h"
#include "hooks.h"
#include "nng_api.h"
#include "outputs.h"
#include "proc.h"
#include "report.h"
#include "schedule.h"
#include "units.h"
#include "wire.h"
#include "worker.h"

extern char **environ;

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
    const struct crmpi_options *opts;
    char dir[64];
    char url[128];
    char exe[PATH_MAX];
    char **argv;
    char **envp;                /* owned array; strings borrowed or owned (see coord_env) */
    char *env_owned[9];

    nng_socket sock;
    int sock_open;
    int recv_fd;
    int wake[2];

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

static volatile sig_atomic_t coord_signal;
static int coord_wake_fd = -1;

static int64_t coord_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void coord_on_signal(int sig)
{
    coord_signal = sig;
    if (coord_wake_fd >= 0) {
        char c = 's';
        ssize_t n = write(coord_wake_fd, &c, 1);
        (void) n;
    }
}

static void coord_on_sigchld(int sig)
{
    (void) sig;
    int saved = errno;
    if (coord_wake_fd >= 0) {
        char c = 'c';
        ssize_t n = write(coord_wake_fd, &c, 1);
        (void) n;
    }
    errno = saved;
}

/* Whether local worker w has exited (it is not reaped here). */
static int coord_exited(const struct coord_worker *w)
{
    if (w->pidfd >= 0) {
        struct pollfd p = { .fd = w->pidfd, .events = POLLIN };
        return poll(&p, 1, 0) == 1;
    }
    siginfo_t info = { 0 };
    return !waitid(P_PID, (id_t) w->pid, &info, WEXITED | WNOHANG | WNOWAIT) && info.si_pid;
}

/* The handlers a run installs (SIGINT, SIGTERM: stop; SIGCHLD: wake), and what they replaced. */
struct coord_signals {
    struct sigaction old_int, old_term, old_chld;
};

static void coord_signals_install(struct coord_signals *saved)
{
    struct sigaction stop = { .sa_handler = coord_on_signal };
    struct sigaction chld = { .sa_handler = coord_on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset(&stop.sa_mask);
    sigemptyset(&chld.sa_mask);
    sigaction(SIGINT, &stop, &saved->old_int);
    sigaction(SIGTERM, &stop, &saved->old_term);
    sigaction(SIGCHLD, &chld, &saved->old_chld);
}

static void coord_signals_restore(const struct coord_signals *saved)
{
    sigaction(SIGINT, &saved->old_int, NULL);
    sigaction(SIGTERM, &saved->old_term, NULL);
    sigaction(SIGCHLD, &saved->old_chld, NULL);
}

static void coord_on_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) ev;
    struct coord *c = arg;
    /* Runs on an nng thread: hand the pipe id to the event loop. */
    uint32_t id = (uint32_t) crmpi_nng.nng_pipe_id(p);
    char buf[1 + sizeof(id)] = { 'p' };
    memcpy(buf + 1, &id, sizeof(id));
    ssize_t n = write(c->wake[1], buf, sizeof(buf));
    (void) n;
}

/* ---- set-up ---------------------------------------------------------------- */

static int coord_env(struct coord *c)
{
    static const char *const dropped[] = {
        "BXFI_MAP=", "CRITERION_OUTPUTS=", "CRITERION_ENABLE_TAP=", "CRITERION_MPROC",
        "CRITERION_JOBS=",
    };
    size_t n = 0;
    while (environ[n])
        ++n;
    c->envp = calloc(n + 11, sizeof(*c->envp));
    if (!c->envp)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        int keep = 1;
        for (size_t d = 0; d < sizeof(dropped) / sizeof(dropped[0]); ++d)
            if (!strncmp(environ[i], dropped[d], strlen(dropped[d])))
                keep = 0;
        if (keep)
            c->envp[k++] = environ[i];
    }
    if (asprintf(&c->env_owned[0], "%s=worker", CRMPI_ENV_ROLE) < 0)
        c->env_owned[0] = NULL;
    if (asprintf(&c->env_owned[1], "%s=%s", CRMPI_ENV_URL, c->url) < 0)
        c->env_owned[1] = NULL;
    if (asprintf(&c->env_owned[2], "%s=%ld", CRMPI_ENV_PARENT, (long) getpid()) < 0)
        c->env_owned[2] = NULL;
    if (!c->env_owned[0] || !c->env_owned[1] || !c->env_owned[2])
        return -ENOMEM;
    c->envp[k++] = c->env_owned[0];
    c->envp[k++] = c->env_owned[1];
    c->envp[k++] = c->env_owned[2];
    /* Local workers prove the token like remote ones. */
    if (c->token.len && asprintf(&c->env_owned[3], "CRITERION_MPROC_TOKEN=%.*s",
            (int) c->token.len, (const char *) c->token.bytes) >= 0)
        c->envp[k++] = c->env_owned[3];
    if (c->opts->tls_ca && asprintf(&c->env_owned[4], "%s=%s", CRMPI_ENV_TLS_CA,
            c->opts->tls_ca) >= 0)
        c->envp[k++] = c->env_owned[4];
    if (asprintf(&c->env_owned[5], "%s=%u", CRMPI_ENV_CONNECT_TIMEOUT,
            c->opts->connect_timeout) >= 0)
        c->envp[k++] = c->env_owned[5];
    if (c->opts->fork_isolation && asprintf(&c->env_owned[6], "%s=fork", CRMPI_ENV_ISOLATION) >= 0)
        c->envp[k++] = c->env_owned[6];
    /* Workers do not see --mproc-verbose (their arguments are Criterion's): tell them. */
    if (c->opts->verbose && asprintf(&c->env_owned[7], "%s=%d", CRMPI_ENV_VERBOSE,
            c->opts->verbose) >= 0)
        c->envp[k++] = c->env_owned[7];
    /* Slot goes last: coord_spawn rewrites it for each worker. */
    c->envp[k] = NULL;
    return 0;
}

static int coord_listen(struct coord *c)
{
    int rc = crmpi_nng_load();
    if (rc)
        return rc;
    rc = crmpi_nng.nng_rep0_open_raw(&c->sock);
    if (rc)
        goto err;
    c->sock_open = 1;
    rc = crmpi_nng.nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CRMPI_WIRE_MAX_MSG);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, coord_on_pipe_event, c);
    if (!rc)
        rc = crmpi_nng.nng_listen(c->sock, c->url, NULL, 0);
    if (!rc)
        rc = crmpi_nng.nng_socket_get_int(c->sock, NNG_OPT_RECVFD, &c->recv_fd);
    if (rc)
        goto err;
    return 0;

err:
    crmpi_error("cannot listen on %s: %s", c->url, crmpi_nng_strerror(rc));
    return -EIO;
}

/* Loopback hosts need no token; anything else reachable from outside does. */
static int coord_url_is_loopback(const char *url)
{
    if (!strncmp(url, "ipc://", 6))
        return 1;
    const char *h = strstr(url, "://");
    if (!h)
        return 0;
    h += 3;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost:", 10) || !strncmp(h, "[::1]:", 6);
}

/* A whole (small, text) file as a string; NULL with errno set. */
static char *coord_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int ok = mem != NULL;
    char chunk[4096];
    size_t n;
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0 && len < (1u << 20))
        ok = fwrite(chunk, 1, n, mem) == n;
    ok = ok && !ferror(f);
    fclose(f);
    if (mem)
        fclose(mem);
    if (!ok) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    return buf;
}

/* The --mproc-listen listener, with TLS for tls+tcp://. */
static int coord_listen_remote(struct coord *c)
{
    const struct crmpi_options *o = c->opts;
    char err[256];
    int rc = crmpi_token_load(o->token_file, o->token_file ? NULL : getenv(CRMPI_ENV_TOKEN),
            &c->token, err, sizeof(err));
    if (rc) {
        crmpi_error("%s", err);
        return rc;
    }
    if (!c->token.len && !coord_url_is_loopback(o->listen)) {
        crmpi_error("refusing to listen on %s without a token: set %s or --mproc-token-file",
                o->listen, CRMPI_ENV_TOKEN);
        return -EPERM;
    }
    nng_listener l;
    rc = crmpi_nng.nng_listener_create(&l, c->sock, o->listen);
    if (!rc && !strncmp(o->listen, "tls+tcp://", 10)) {
        if (!o->tls_cert || !o->tls_key) {
            crmpi_error("%s needs --mproc-tls-cert and --mproc-tls-key", o->listen);
            return -EINVAL;
        }
        char *cert = coord_read_file(o->tls_cert), *key = coord_read_file(o->tls_key);
        if (!cert || !key) {
            crmpi_error("cannot read %s: %s", !cert ? o->tls_cert : o->tls_key, strerror(errno));
            free(cert);
            free(key);
            return -EINVAL;
        }
        rc = crmpi_nng.nng_tls_config_alloc(&c->tls, NNG_TLS_MODE_SERVER);
        if (!rc)
            rc = crmpi_nng.nng_tls_config_own_cert(c->tls, cert, key, NULL);
        if (!rc)
            rc = crmpi_nng.nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, c->tls);
        free(cert);
        free(key);
    }
    if (!rc)
        rc = crmpi_nng.nng_listener_start(l, 0);
    if (rc) {
        crmpi_error("cannot listen on %s: %s", o->listen, crmpi_nng_strerror(rc));
        return -EIO;
    }
    crmpi_info("accepting remote workers on %s%s", o->listen,
            c->token.len ? " (token required)" : "");
    return 0;
}

/*
 * A new, zeroed worker entry, appended.  Entries never move: code holding a
 * worker may start another one (the array of pointers grows, not them).
 */
static struct coord_worker *coord_new_worker(struct coord *c)
{
    struct coord_worker **grown = realloc(c->workers, (c->n_workers + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    c->workers = grown;
    struct coord_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    *w = (struct coord_worker) { .slot = (unsigned) c->n_workers, .pidfd = -1, .unit = -1 };
    c->workers[c->n_workers++] = w;
    return w;
}

static int coord_spawn(struct coord *c)
{
    struct coord_worker *w = coord_new_worker(c);
    if (!w)
        return -ENOMEM;

    char slot_env[64];
    snprintf(slot_env, sizeof(slot_env), "%s=%u", CRMPI_ENV_SLOT, w->slot);
    size_t k = 0;
    while (c->envp[k])
        ++k;
    c->envp[k] = slot_env;

    posix_spawnattr_t attr;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_init(&attr);
    /* Own process group: one kill reaches the worker and its test sandboxes. */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
            | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&w->pid, c->exe, NULL, &attr, c->argv, c->envp);
    posix_spawnattr_destroy(&attr);
    c->envp[k] = NULL;
    if (rc) {
        w->pid = 0;
        crmpi_error("cannot start a worker (%s): %s", c->exe, strerror(rc));
        return -rc;
    }
    /*
     * A pidfd makes the exit pollable; where there is none (old kernels,
     * valgrind) SIGCHLD wakes the loop and coord_exited asks waitid.
     */
    w->pidfd = pidfd_open(w->pid, 0);
    if (w->pidfd < 0 && errno != ENOSYS) {
        rc = -errno;
        crmpi_error("cannot watch worker %u: %s", w->slot, strerror(errno));
        crmpi_kill_tree(w->pid);
        waitpid(w->pid, NULL, 0);
        w->pid = 0;
        return rc;
    }
    w->alive = 1;
    crmpi_debug("worker %u started, pid %ld", w->slot, (long) w->pid);
    return 0;
}

/* ---- replies ----------------------------------------------------------------- */

/* Answers the request req (consumed) with env. */
static int coord_reply(struct coord *c, nng_msg *req, const Crmp__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    nng_msg *msg;
    int rc = crmpi_wire_encode(env, &buf, &len);
    if (rc)
        goto out;
    rc = crmpi_nng.nng_msg_alloc(&msg, len);
    if (rc) {
        free(buf);
        rc = -ENOMEM;
        goto out;
    }
    memcpy(crmpi_nng.nng_msg_body(msg), buf, len);
    free(buf);
    /* Raw REP: the request's header routes the reply back to its sender. */
    rc = crmpi_nng.nng_msg_header_append(msg, crmpi_nng.nng_msg_header(req),
            crmpi_nng.nng_msg_header_len(req));
    if (!rc)
        rc = crmpi_nng.nng_sendmsg(c->sock, msg, 0);
    if (rc) {
        crmpi_nng.nng_msg_free(msg);
        rc = -EIO;
    }
out:
    crmpi_nng.nng_msg_free(req);
    return rc;
}

static void coord_reply_stop(struct coord *c, nng_msg *req, const char *reason)
{
    Crmp__Stop stop = CRMP__STOP__INIT;
    stop.reason = (char *) reason;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_STOP);
    env.stop = &stop;
    coord_reply(c, req, &env);
}

static void coord_reply_heartbeat(struct coord *c, nng_msg *req)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HEARTBEAT);
    env.heartbeat = &hb;
    coord_reply(c, req, &env);
}

static void coord_reply_reject(struct coord *c, nng_msg *req, const char *reason)
{
    Crmp__Reject rej = CRMP__REJECT__INIT;
    rej.reason = (char *) reason;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_REJECT);
    env.reject = &rej;
    coord_reply(c, req, &env);
}

static int coord_work_queued(const struct coord *c)
{
    return c->n_requeued || c->q_head < c->q_len;
}

/* A worker finishes its job (a group runs in one worker) before a new one. */
static long coord_next_unit(struct coord *c, struct coord_worker *w)
{
    if (!w->job || w->job->next >= w->job->n) {
        w->job = NULL;
        if (c->n_requeued)
            w->job = c->requeued[--c->n_requeued];
        else if (c->q_head < c->q_len)
            w->job = &c->jobs[c->q_head++];
        else
            return -1;
    }
    return (long) w->job->units[w->job->next++];
}

static int coord_all_done(const struct coord *c)
{
    return c->have_units && c->done == c->n_units;
}

/* Gives worker w its next unit, holds its request, or tells it to stop. */
static void coord_dispatch(struct coord *c, struct coord_worker *w, nng_msg *req)
{
    if (c->stopping || coord_all_done(c)) {
        coord_reply_stop(c, req, c->stop_reason);
        return;
    }
    long id = coord_next_unit(c, w);
    if (id < 0) {
        w->waiting = req;       /* others still run: one may come back */
        return;
    }
    Crmp__Assign assign = CRMP__ASSIGN__INIT;
    assign.unit = (uint32_t) id;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_ASSIGN);
    env.assign = &assign;
    c->units[id].state = COORD_RUNNING;
    w->unit = id;
    crmpi_debug("worker %u takes %s::%s%s", w->slot, c->units[id].r.test->category,
            c->units[id].r.test->name, c->units[id].r.param >= 0 ? " (one parameter)" : "");
    if (coord_reply(c, req, &env)) {
        crmpi_warn("worker %u: cannot send its next test", w->slot);
        /* Its connection is going; the death path requeues the unit. */
    }
}

static void coord_wake_waiting(struct coord *c)
{
    for (size_t i = 0; i < c->n_workers; ++i) {
        struct coord_worker *w = c->workers[i];
        if (!w->waiting)
            continue;
        if (!c->stopping && !coord_all_done(c) && !coord_work_queued(c))
            return;
        nng_msg *req = w->waiting;
        w->waiting = NULL;
        coord_dispatch(c, w, req);
    }
}

/* ---- units ------------------------------------------------------------------- */

/* ---- scheduling --------------------------------------------------------------- */

struct coord_annotations {
    const struct crmp_schedule **v;
    size_t n;
};

static int coord_collect_annotation(void *start, size_t size, void *arg)
{
    struct coord_annotations *a = arg;
    const struct crmp_schedule *e = start;
    for (size_t i = 0; i < size / sizeof(*e); ++i) {
        if (e[i].version != CRMP_SCHEDULE_VERSION || !e[i].suite) {
            crmpi_warn("ignoring a scheduling annotation of an unknown version");
            continue;
        }
        const struct crmp_schedule **grown = realloc(a->v, (a->n + 1) * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        a->v = grown;
        a->v[a->n++] = &e[i];
    }
    return 0;
}

static void coord_annotate(const struct coord_annotations *a, const struct crmpi_report_unit *u,
        struct crmpi_sched_unit *su)
{
    const struct crmp_schedule *suite = NULL, *test = NULL;
    for (size_t i = 0; i < a->n; ++i) {
        if (strcmp(a->v[i]->suite, u->test->category))
            continue;
        if (!a->v[i]->test)
            suite = a->v[i];
        else if (!strcmp(a->v[i]->test, u->test->name))
            test = a->v[i];
    }
    su->priority = test && test->priority ? test->priority : suite ? suite->priority : 0;
    su->group = test && test->group ? test->group : suite ? suite->group : NULL;
}

static char *coord_default_durations_path(const struct coord *c)
{
    const char *base = strrchr(c->exe, '/');
    char *path = NULL;
    if (asprintf(&path, ".criterion-mproc/%s.durations", base ? base + 1 : c->exe) < 0)
        return NULL;
    return path;
}

static void coord_load_history(struct coord *c)
{
    const char *path = c->opts->durations ? c->opts->durations : getenv("CRITERION_MPROC_DURATIONS");
    if (path && (!strcmp(path, "none") || !*path))
        return;
    c->durations_path = path ? strdup(path) : coord_default_durations_path(c);
    if (!c->durations_path)
        return;
    int rc = crmpi_durations_load(c->durations_path, &c->history);
    if (rc == -EBADMSG)
        crmpi_warn("durations file %s is corrupt or not ours: ignored (it will be rewritten)",
                c->durations_path);
    else if (rc && rc != -ENOENT)
        crmpi_warn("cannot read durations file %s: %s", c->durations_path, strerror(-rc));
}

/*
 * Static sharding: marks the units of other shards as not ours.  Balanced
 * by the recorded durations when the user named a durations file (every
 * shard must see the same one), hash-based otherwise.
 */
static int coord_select_shard(struct coord *c, const struct crmpi_sched_unit *su, int *mine)
{
    const struct crmpi_options *o = c->opts;
    if (!o->shard_count) {
        for (size_t i = 0; i < c->n_units; ++i)
            mine[i] = 1;
        return 0;
    }
    int explicit_file = o->durations || getenv("CRITERION_MPROC_DURATIONS");
    if (explicit_file && c->history.n) {
        uint64_t *est = calloc(c->n_units ? c->n_units : 1, sizeof(*est));
        unsigned *shard = calloc(c->n_units ? c->n_units : 1, sizeof(*shard));
        int rc = est && shard ? 0 : -ENOMEM;
        for (size_t i = 0; i < c->n_units && !rc; ++i)
            est[i] = su[i].est_ns;
        if (!rc)
            rc = crmpi_shard_balance(est, c->n_units, o->shard_count, shard);
        for (size_t i = 0; i < c->n_units && !rc; ++i)
            mine[i] = shard[i] == o->shard_index;
        free(est);
        free(shard);
        return rc;
    }
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct crmpi_report_unit *u = &c->units[i].r;
        mine[i] = crmpi_shard_owns(u->test->category, u->test->name, u->param,
                o->shard_index, o->shard_count);
    }
    return 0;
}

static int coord_schedule(struct coord *c)
{
    struct coord_annotations ann = { 0 };
    size_t n = c->n_units ? c->n_units : 1;
    struct crmpi_sched_unit *su = calloc(n, sizeof(*su));
    struct crmpi_sched_unit *mine_su = calloc(n, sizeof(*mine_su));
    size_t *index = calloc(n, sizeof(*index));
    int *mine = calloc(n, sizeof(*mine));
    int rc = su && mine_su && index && mine
        ? crmpi_sections_foreach("crmp_sched", coord_collect_annotation, &ann) : -ENOMEM;
    if (rc)
        goto out;

    coord_load_history(c);
    uint64_t known_total = 0;
    size_t known = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct crmpi_report_unit *u = &c->units[i].r;
        const struct crmpi_duration *d = crmpi_durations_find(&c->history, u->test->category,
                u->test->name, u->param);
        if (d) {
            su[i].has_history = 1;
            su[i].est_ns = d->ns;
            su[i].failed_last = d->status == 'F';
            known_total += d->ns;
            ++known;
        }
        coord_annotate(&ann, u, &su[i]);
    }
    /* Shard balancing needs estimates for the unknown too: their mean. */
    for (size_t i = 0; i < c->n_units; ++i)
        if (!su[i].has_history && known)
            su[i].est_ns = known_total / known;
    rc = coord_select_shard(c, su, mine);
    if (rc)
        goto out;

    size_t k = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        if (!mine[i]) {
            /* Another shard's: never run, never reported here. */
            c->units[i].state = COORD_DONE;
            ++c->done;
            continue;
        }
        mine_su[k] = su[i];
        if (!mine_su[k].has_history)
            mine_su[k].est_ns = 0;
        index[k++] = i;
    }
    rc = crmpi_schedule_build(mine_su, k, &c->schedule);
    if (rc)
        goto out;
    for (size_t j = 0; j < c->schedule.n; ++j)
        for (size_t u = 0; u < c->schedule.v[j].n; ++u)
            c->schedule.v[j].units[u] = index[c->schedule.v[j].units[u]];
    c->jobs = calloc(c->schedule.n ? c->schedule.n : 1, sizeof(*c->jobs));
    if (!c->jobs) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c->schedule.n; ++i)
        c->jobs[i] = (struct coord_job) { .units = c->schedule.v[i].units, .n = c->schedule.v[i].n };
    c->q_len = c->schedule.n;

out:
    free(ann.v);
    free(su);
    free(mine_su);
    free(index);
    free(mine);
    return rc;
}

/*
 * Puts a dead worker's unfinished work back at the front of the queue:
 * first (when not NULL) the unit it was running, then the rest of its job.
 */
static int coord_requeue(struct coord *c, struct coord_worker *w, const size_t *first)
{
    size_t rest = w->job ? w->job->n - w->job->next : 0;
    size_t n = rest + (first != NULL);
    if (!n) {
        w->job = NULL;
        return 0;
    }
    struct coord_job *job = calloc(1, sizeof(*job));
    size_t *units = calloc(n, sizeof(*units));
    if (!job || !units) {
        free(job);
        free(units);
        return -ENOMEM;
    }
    size_t k = 0;
    if (first)
        units[k++] = *first;
    for (size_t i = 0; i < rest; ++i)
        units[k++] = w->job->units[w->job->next + i];
    *job = (struct coord_job) { .units = units, .n = n, .owned_next = c->owned_jobs };
    c->owned_jobs = job;
    c->requeued[c->n_requeued++] = job;
    w->job = NULL;
    return 0;
}

static int coord_find_test(struct coord *c, const Crmp__Unit *u, struct coord_unit *out)
{
    FOREACH_SET(struct criterion_suite_set *ss, c->set->suites) {
        if (!ss->tests || strcmp(ss->suite.name, u->suite))
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            if (!strcmp(t->name, u->name)) {
                out->r = (struct crmpi_report_unit) { .suite = ss, .test = t, .param = u->param };
                return 0;
            }
        }
    }
    return -ENOENT;
}

/*
 * Whether a worker's unit list names exactly the tests of our own set: a
 * worker running another binary must never define what this run runs.
 * (Parameter counts are checked through the fingerprint by later workers.)
 */
static int coord_same_tests(struct coord *c, const Crmp__Hello *hello)
{
    size_t ours = 0, theirs = 0;
    FOREACH_SET(struct criterion_suite_set *ss, c->set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            ours += t->data->kind_ != CR_TEST_PARAMETERIZED;
        }
    }
    for (size_t i = 0; i < hello->n_units; ++i) {
        const Crmp__Unit *u = hello->units[i];
        struct coord_unit probe;
        if (coord_find_test(c, u, &probe))
            return 0;
        const Crmp__Unit *prev = i ? hello->units[i - 1] : NULL;
        int first = !prev || strcmp(prev->suite, u->suite) || strcmp(prev->name, u->name);
        if (first && probe.r.test->data->kind_ != CR_TEST_PARAMETERIZED)
            ++theirs;
    }
    /*
     * Every plain test must be there.  A parameterized test may be absent:
     * a generator can yield no parameter (parameter counts are checked
     * through the fingerprint of every later worker).
     */
    return theirs == ours;
}

/* Adopts the unit list of the first worker that said hello. */
static int coord_adopt_units(struct coord *c, const Crmp__Hello *hello, char *why, size_t whylen)
{
    size_t n = hello->n_units;
    c->units = calloc(n ? n : 1, sizeof(*c->units));
    c->requeued = calloc(n ? n : 1, sizeof(*c->requeued));
    if (!c->units || !c->requeued) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; ++i) {
        if (coord_find_test(c, hello->units[i], &c->units[i])) {
            snprintf(why, whylen, "the worker runs a test this binary does not have: %s::%s",
                    hello->units[i]->suite, hello->units[i]->name);
            return -ENOENT;
        }
    }
    c->n_units = n;
    memcpy(c->fingerprint, hello->fingerprint.data, sizeof(c->fingerprint));
    c->have_units = 1;
    if (coord_schedule(c)) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    while (c->n_workers < c->opts->workers)
        if (coord_spawn(c))
            break;
    crmpi_debug("%zu units to run in %zu jobs", n, c->q_len);
    return 0;
}

static struct coord_worker *coord_worker_by_pipe(struct coord *c, uint32_t pipe)
{
    for (size_t i = 0; i < c->n_workers; ++i)
        if (c->workers[i]->pipe == pipe && c->workers[i]->alive)
            return c->workers[i];
    return NULL;
}

/* A worker that connected from elsewhere: known by its connection only. */
static struct coord_worker *coord_add_remote(struct coord *c, uint32_t pipe)
{
    struct coord_worker *w = coord_new_worker(c);
    if (!w)
        return NULL;
    w->alive = 1;
    w->remote = 1;
    w->pipe = pipe;
    crmpi_info("remote worker %u connected", w->slot);
    return w;
}

static void coord_finish_unit(struct coord *c, size_t id, Crmp__Envelope *env)
{
    struct coord_unit *u = &c->units[id];
    u->env = env;
    u->r.result = env->result;
    u->state = COORD_DONE;
    ++c->done;
    crmpi_report_unit(&c->report, &u->r);

    const Crmp__TestStats *fin = env->result->final;
    if (criterion_options.fail_fast && fin && fin->status == CR_STATUS_FAILED && !c->stopping) {
        c->stopping = 1;
        c->stop_reason = "--fail-fast";
    }
}

/*
 * Reports a unit that took its workers down as a crash: what Criterion
 * itself prints for a test killed by a signal.
 */
static int coord_synthesize_crash(struct coord *c, size_t id, int sig)
{
    struct coord_unit *u = &c->units[id];
    Crmp__TestStats st = CRMP__TEST_STATS__INIT;
    st.status = CR_STATUS_FAILED;
    st.signal = sig;
    st.crashed = 1;
    st.progress = u->r.test->data->line_;
    st.file = (char *) u->r.test->data->file_;

    Crmp__Event pre = CRMP__EVENT__INIT, crash = CRMP__EVENT__INIT;
    pre.kind = CRMP__EVENT__KIND__PRE_INIT;
    crash.kind = CRMP__EVENT__KIND__TEST_CRASH;
    crash.stats = &st;
    Crmp__Event *events[] = { &pre, &crash };

    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    counters.nb_tests = 1;
    counters.tests_failed = 1;
    counters.tests_crashed = 1;

    Crmp__Result res = CRMP__RESULT__INIT;
    res.unit = (uint32_t) id;
    res.events = events;
    res.n_events = 2;
    res.final = &st;
    res.counters = &counters;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_RESULT);
    env.result = &res;

    /* Round-trip through the codec: one ownership rule for every result. */
    uint8_t *buf;
    size_t len;
    Crmp__Envelope *owned;
    int rc = crmpi_wire_encode(&env, &buf, &len);
    if (rc)
        return rc;
    rc = crmpi_wire_decode(buf, len, &owned);
    free(buf);
    if (rc)
        return rc;
    coord_finish_unit(c, id, owned);
    return 0;
}

/* ---- messages ---------------------------------------------------------------- */

static void coord_drop_worker(struct coord *c, struct coord_worker *w, const char *why)
{
    (void) c;
    if (w->dropped)
        return;
    w->dropped = 1;
    crmpi_warn("worker %u (pid %ld) dropped: %s", w->slot, (long) w->pid, why);
    if (w->remote) {
        /* Its pipe's removal is reported by nng: the unit is requeued there. */
        nng_pipe p = { .id = w->pipe };
        crmpi_nng.nng_pipe_close(p);
        return;
    }
    /* Its death is noticed through its pidfd; the unit is requeued there. */
    crmpi_kill_tree(w->pid);
}

/*
 * A worker that was just sent a Reject: it holds no test and never will.  A
 * remote one must get to read the Reject, so its connection stays until it
 * closes it; a local one is ours to end.
 */
static void coord_refused(struct coord *c, struct coord_worker *w, const char *why)
{
    if (!w->remote) {
        coord_drop_worker(c, w, why);
        return;
    }
    crmpi_wire_free(w->hello);
    w->hello = NULL;
    w->alive = 0;
}

/* The hello of an authenticated (or local, token-less) worker. */
static void coord_accept(struct coord *c, nng_msg *req, struct coord_worker *w,
        const Crmp__Hello *h)
{
    char why[512];
    w->last_beat_ms = coord_now_ms();
    if (!c->have_units && !coord_same_tests(c, h)) {
        snprintf(why, sizeof(why), "worker %u has a different test list (%zu tests): "
                "not the same binary", w->slot, h->n_units);
        crmpi_warn("%s", why);
        coord_reply_reject(c, req, why);
        coord_refused(c, w, why);
        return;
    }
    if (!c->have_units) {
        if (coord_adopt_units(c, h, why, sizeof(why))) {
            crmpi_error("%s", why);
            c->fatal = 1;
            c->stopping = 1;
            coord_reply_reject(c, req, why);
            return;
        }
    } else if (h->n_units != c->n_units
            || memcmp(h->fingerprint.data, c->fingerprint, sizeof(c->fingerprint))) {
        snprintf(why, sizeof(why), "worker %u has a different test list (%zu tests, "
                "expected %zu): not the same binary", w->slot, h->n_units, c->n_units);
        crmpi_warn("%s", why);
        coord_reply_reject(c, req, why);
        coord_refused(c, w, why);
        return;
    }
    coord_dispatch(c, w, req);
}

static void coord_on_hello(struct coord *c, nng_msg *req, uint32_t pipe, Crmp__Envelope *env)
{
    const Crmp__Hello *h = env->hello;
    struct coord_worker *w = NULL;
    if (h->slot < c->n_workers && !c->workers[h->slot]->remote
            && c->workers[h->slot]->pid == (pid_t) h->pid && !c->workers[h->slot]->pipe)
        w = c->workers[h->slot];
    else
        w = coord_add_remote(c, pipe);
    if (!w) {
        crmpi_wire_free(env);
        coord_reply_reject(c, req, "out of memory");
        return;
    }
    w->pipe = pipe;

    if (!c->token.len) {
        w->authed = 1;
        coord_accept(c, req, w, h);
        crmpi_wire_free(env);
        return;
    }
    if (!h->has_nonce || crmpi_nonce(w->cnonce)) {
        crmpi_warn("worker %u did not offer authentication: refused", w->slot);
        crmpi_wire_free(env);
        coord_reply_reject(c, req, "this coordinator requires a token "
                "(CRITERION_MPROC_TOKEN or --mproc-token-file)");
        coord_refused(c, w, "no token");
        return;
    }
    memcpy(w->wnonce, h->nonce.data, CRMPI_NONCE_LEN);
    uint8_t proof[CRMPI_PROOF_LEN];
    if (crmpi_auth_proof(&c->token, "crmp-coordinator", w->wnonce, w->cnonce, proof)) {
        crmpi_wire_free(env);
        coord_reply_reject(c, req, "internal error");
        return;
    }
    w->hello = env;     /* kept until the worker proves the token */
    Crmp__Challenge ch = CRMP__CHALLENGE__INIT;
    ch.nonce.data = w->cnonce;
    ch.nonce.len = CRMPI_NONCE_LEN;
    ch.proof.data = proof;
    ch.proof.len = CRMPI_PROOF_LEN;
    Crmp__Envelope out;
    crmpi_wire_init(&out, CRMP__ENVELOPE__BODY_CHALLENGE);
    out.challenge = &ch;
    coord_reply(c, req, &out);
}

static void coord_on_auth(struct coord *c, nng_msg *req, struct coord_worker *w,
        const Crmp__Auth *a)
{
    if (w->authed || !w->hello) {
        coord_reply_reject(c, req, "unexpected authentication");
        coord_drop_worker(c, w, "authenticated twice");
        return;
    }
    if (!crmpi_auth_verify(&c->token, "crmp-worker", w->cnonce, w->wnonce, a->proof.data,
            a->proof.len)) {
        crmpi_warn("worker %u failed authentication: refused", w->slot);
        coord_reply_reject(c, req, "authentication failed: wrong token");
        crmpi_wire_free(w->hello);
        w->hello = NULL;
        coord_refused(c, w, "wrong token");
        return;
    }
    w->authed = 1;
    Crmp__Envelope *hello = w->hello;
    w->hello = NULL;
    coord_accept(c, req, w, hello->hello);
    crmpi_wire_free(hello);
}

static void coord_on_result(struct coord *c, nng_msg *req, struct coord_worker *w,
        Crmp__Envelope *env)
{
    uint32_t id = env->result->unit;
    if (w->unit < 0 || (uint32_t) w->unit != id) {
        char why[128];
        snprintf(why, sizeof(why), "sent a result for test %u it was not running", id);
        crmpi_wire_free(env);
        crmpi_nng.nng_msg_free(req);
        coord_drop_worker(c, w, why);
        return;
    }
    w->unit = -1;
    w->busy_ns += env->result->wall_ns;
    ++w->units_done;
    coord_finish_unit(c, id, env);
    coord_dispatch(c, w, req);
    if (c->stopping || coord_all_done(c))
        coord_wake_waiting(c);
}

static void coord_on_message(struct coord *c, nng_msg *msg)
{
    uint32_t pipe = (uint32_t) crmpi_nng.nng_pipe_id(crmpi_nng.nng_msg_get_pipe(msg));
    Crmp__Envelope *env;
    int rc = crmpi_wire_decode(crmpi_nng.nng_msg_body(msg), crmpi_nng.nng_msg_len(msg), &env);
    struct coord_worker *w = coord_worker_by_pipe(c, pipe);

    if (rc) {
        char why[128];
        snprintf(why, sizeof(why), "malformed message (%s)", strerror(-rc));
        if (w) {
            crmpi_nng.nng_msg_free(msg);
            coord_drop_worker(c, w, why);
        } else {
            crmpi_warn("peer dropped: %s", why);
            coord_reply_reject(c, msg, why);
        }
        return;
    }

    switch (env->body_case) {
    case CRMP__ENVELOPE__BODY_HEARTBEAT:
        /* Only a worker that said hello (and proved the token) counts. */
        if (w && w->authed)
            w->last_beat_ms = coord_now_ms();
        crmpi_wire_free(env);
        coord_reply_heartbeat(c, msg);
        return;
    case CRMP__ENVELOPE__BODY_HELLO:
        if (w) {
            crmpi_wire_free(env);
            crmpi_nng.nng_msg_free(msg);
            coord_drop_worker(c, w, "said hello twice");
            return;
        }
        coord_on_hello(c, msg, pipe, env);     /* takes env */
        return;
    case CRMP__ENVELOPE__BODY_AUTH:
        if (!w) {
            crmpi_wire_free(env);
            coord_reply_reject(c, msg, "authentication before hello");
            return;
        }
        coord_on_auth(c, msg, w, env->auth);
        crmpi_wire_free(env);
        return;
    case CRMP__ENVELOPE__BODY_RESULT:
        if (!w || !w->authed) {
            crmpi_wire_free(env);
            coord_reply_reject(c, msg, "a result before hello");
            return;
        }
        coord_on_result(c, msg, w, env);   /* takes env */
        return;
    default: {
        char why[128];
        snprintf(why, sizeof(why), "unexpected %s message", crmpi_wire_body_name(env->body_case));
        crmpi_wire_free(env);
        if (w) {
            crmpi_nng.nng_msg_free(msg);
            coord_drop_worker(c, w, why);
        } else {
            coord_reply_reject(c, msg, why);
        }
        return;
    }
    }
}

static void coord_drain_messages(struct coord *c)
{
    for (;;) {
        nng_msg *msg;
        int rc = crmpi_nng.nng_recvmsg(c->sock, &msg, NNG_FLAG_NONBLOCK);
        if (rc)
            return;
        coord_on_message(c, msg);
    }
}

/* ---- worker deaths ------------------------------------------------------------ */

static size_t coord_alive(const struct coord *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_workers; ++i)
        n += c->workers[i]->alive != 0;
    return n;
}

static int coord_work_left(const struct coord *c)
{
    return !c->stopping && (!c->have_units || c->done < c->n_units);
}

static int coord_is_worker(const struct coord *c, pid_t pid)
{
    for (size_t i = 0; i < c->n_workers; ++i)
        if (c->workers[i]->pid == pid)
            return 1;
    return 0;
}

/*
 * Children of ours that are not live workers are test sandboxes (or what
 * tests forked) whose worker died: the coordinator is their subreaper, and
 * sandboxes call setsid(), so no process group reaches them.  With kill
 * set, ends and reaps them all; otherwise reaps, without waiting, those that
 * have exited.
 */
static void coord_strays(struct coord *c, int kill)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long) getpid(), (long) getpid());
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (coord_is_worker(c, (pid_t) pid))
            continue;
        if (kill)
            crmpi_kill_tree((pid_t) pid);
        waitpid((pid_t) pid, NULL, kill ? 0 : WNOHANG);
    }
    fclose(f);
}

static void coord_reap_zombies(struct coord *c)
{
    coord_strays(c, 0);
}

static void coord_reap_orphans(struct coord *c)
{
    coord_strays(c, 1);
}

static void coord_oom(struct coord *c)
{
    crmpi_error("out of memory: stopping the run");
    c->fatal = 1;
    c->stopping = 1;
}

/*
 * A worker is gone (status as from waitpid; a remote one "exits" with its
 * connection): its unit goes back to the queue once, or is reported as
 * crashed the second time; the rest of its job is requeued.
 */
static void coord_worker_gone(struct coord *c, struct coord_worker *w, pid_t pid, int status)
{
    w->alive = 0;
    if (w->waiting) {
        crmpi_nng.nng_msg_free(w->waiting);
        w->waiting = NULL;
    }
    crmpi_wire_free(w->hello);
    w->hello = NULL;

    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    int early = !w->pipe && !w->remote && !clean;
    if (early)
        c->startup_status = sig ? 128 + sig : WEXITSTATUS(status);
    if (w->unit < 0) {
        if (!clean && !early && coord_work_left(c))
            crmpi_warn("worker %u (pid %ld) exited unexpectedly (%s %d)", w->slot, (long) pid,
                    sig ? "signal" : "status", sig ? sig : WEXITSTATUS(status));
        if (coord_requeue(c, w, NULL))
            coord_oom(c);
        coord_wake_waiting(c);
        return;
    }

    size_t id = (size_t) w->unit;
    struct coord_unit *u = &c->units[id];
    w->unit = -1;
    if (c->stopping) {
        /* Killed by us: the unit never finished and is not counted. */
        u->state = COORD_PENDING;
        w->job = NULL;
        return;
    }
    ++u->attempts;
    if (u->attempts >= COORD_MAX_ATTEMPTS) {
        crmpi_warn("%s::%s took down %d workers (last: %s %d): reported as crashed",
                u->r.test->category, u->r.test->name, u->attempts,
                sig ? "signal" : "exit status", sig ? sig : WEXITSTATUS(status));
        if (coord_synthesize_crash(c, id, sig ? sig : SIGKILL)) {
            crmpi_error("cannot record the crash of %s::%s", u->r.test->category, u->r.test->name);
            c->fatal = 1;
            c->stopping = 1;
        }
        if (coord_requeue(c, w, NULL))
            coord_oom(c);
        coord_wake_waiting(c);
        return;
    }
    crmpi_warn("worker %u (pid %ld) died (%s %d) while running %s::%s: running it again",
            w->slot, (long) pid, sig ? "signal" : "exit status", sig ? sig : WEXITSTATUS(status),
            u->r.test->category, u->r.test->name);
    u->state = COORD_PENDING;
    if (coord_requeue(c, w, &id))
        coord_oom(c);
    coord_wake_waiting(c);
}

static void coord_reap(struct coord *c, struct coord_worker *w)
{
    int status = 0;
    if (waitpid(w->pid, &status, 0) < 0)
        status = 0;
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->pidfd = -1;
    pid_t pid = w->pid;
    w->pid = 0;
    /* Its sandboxes are ours now (we are their subreaper): end them. */
    coord_reap_orphans(c);
    coord_worker_gone(c, w, pid, status);
}

static void coord_after_deaths(struct coord *c)
{
    if (!coord_work_left(c))
        return;
    size_t alive = coord_alive(c);
    if (!c->have_units && c->startup_status >= 0) {
        /*
         * Workers die before their first word (a bad --filter pattern, a
         * binary that cannot start): another one would die the same way.
         * Once none is left, end as the serial run would have.
         */
        if (!alive && !c->opts->listen) {
            /* A worker that exited said why (as the serial run would); a killed one could not. */
            crmpi_diag(c->startup_status > 128 ? CRMPI_DIAG_ERROR : CRMPI_DIAG_INFO,
                    "the workers could not start (exit status %d)", c->startup_status);
            c->exit_status = c->startup_status ? c->startup_status : 1;
            c->startup_failed = 1;
            c->fatal = 1;
            c->stopping = 1;
        }
        return;
    }
    while (alive < c->opts->workers && c->restarts < c->opts->max_restarts) {
        ++c->restarts;
        if (coord_spawn(c))
            break;
        ++alive;
        crmpi_info("started replacement worker %zu (%u of %u restarts)", c->n_workers - 1,
                c->restarts, c->opts->max_restarts);
    }
    if (!alive && !c->opts->listen) {
        crmpi_error("every worker died and --mproc-max-restarts=%u is used up: "
                "%zu tests did not run", c->opts->max_restarts,
                c->have_units ? c->n_units - c->done : 0);
        c->fatal = 1;
        c->stopping = 1;
    }
}

/* ---- the loop ------------------------------------------------------------------ */

static void coord_handle_wake(struct coord *c)
{
    char buf[256];
    ssize_t n;
    while ((n = read(c->wake[0], buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == 'c')
                c->child_exited = 1;
            if (buf[i] == 'p' && i + 1 + (ssize_t) sizeof(uint32_t) <= n) {
                uint32_t pipe;
                memcpy(&pipe, buf + i + 1, sizeof(pipe));
                i += sizeof(pipe);
                struct coord_worker *w = coord_worker_by_pipe(c, pipe);
                if (w && w->remote) {
                    /* A host that goes away: its test runs elsewhere. */
                    if (w->unit >= 0 && !c->stopping)
                        crmpi_warn("remote worker %u disconnected mid-test", w->slot);
                    coord_worker_gone(c, w, 0, w->unit >= 0 ? SIGPIPE : 0);
                    coord_after_deaths(c);
                } else if (w && w->unit >= 0 && !c->stopping) {
                    /* An idle worker closes its connection when told to stop. */
                    coord_drop_worker(c, w, "its connection closed");
                }
            }
        }
    }
    if (coord_signal && !c->stopping) {
        c->stopping = 1;
        c->stop_reason = "interrupted";
    }
}

static void coord_kill_busy(struct coord *c)
{
    for (size_t i = 0; i < c->n_workers; ++i)
        if (c->workers[i]->pid && c->workers[i]->unit >= 0)
            crmpi_kill_tree(c->workers[i]->pid);
}


/* A worker that stopped sending heartbeats is hung: treat it as dead. */
static void coord_check_heartbeats(struct coord *c)
{
    if (!c->opts->heartbeat)
        return;
    int64_t now = coord_now_ms();
    for (size_t i = 0; i < c->n_workers; ++i) {
        struct coord_worker *w = c->workers[i];
        if (!w->alive || !w->last_beat_ms || w->dropped)
            continue;
        if (now - w->last_beat_ms > (int64_t) c->opts->heartbeat * 1000) {
            char why[96];
            snprintf(why, sizeof(why), "no heartbeat for %u s: hung", c->opts->heartbeat);
            coord_drop_worker(c, w, why);
        }
    }
}

static int coord_loop(struct coord *c)
{
    struct pollfd *fds = NULL;
    int64_t deadline = -1;
    int killed_busy = 0;

    for (;;) {
        if (c->stopping || coord_all_done(c)) {
            if (!killed_busy && c->stopping) {
                coord_kill_busy(c);
                killed_busy = 1;
            }
            coord_wake_waiting(c);
            if (deadline < 0)
                deadline = coord_now_ms() + COORD_EXIT_GRACE_MS;
            if (!coord_alive(c))
                break;
            if (coord_now_ms() >= deadline) {
                for (size_t i = 0; i < c->n_workers; ++i)
                    if (c->workers[i]->remote)
                        c->workers[i]->alive = 0;
                for (size_t i = 0; i < c->n_workers; ++i)
                    if (c->workers[i]->pid) {
                        crmpi_warn("worker %u did not exit in time: killed", c->workers[i]->slot);
                        crmpi_kill_tree(c->workers[i]->pid);
                    }
                deadline = coord_now_ms() + COORD_EXIT_GRACE_MS;
            }
        }

        struct pollfd *nf = realloc(fds, (2 + c->n_workers) * sizeof(*fds));
        if (!nf) {
            free(fds);
            return -ENOMEM;
        }
        fds = nf;
        size_t nfds = 0;
        fds[nfds++] = (struct pollfd) { .fd = c->recv_fd, .events = POLLIN };
        fds[nfds++] = (struct pollfd) { .fd = c->wake[0], .events = POLLIN };
        for (size_t i = 0; i < c->n_workers; ++i)
            if (c->workers[i]->pid && c->workers[i]->pidfd >= 0)
                fds[nfds++] = (struct pollfd) { .fd = c->workers[i]->pidfd, .events = POLLIN };

        int timeout = deadline < 0 ? -1 : (int) (deadline - coord_now_ms());
        if (timeout < -1)
            timeout = 0;
        if (c->opts->heartbeat && (timeout < 0 || timeout > 500))
            timeout = 500;
        int n = poll(fds, nfds, timeout);
        if (n < 0 && errno != EINTR) {
            crmpi_error("poll: %s", strerror(errno));
            free(fds);
            return -errno;
        }
        coord_handle_wake(c);
        coord_drain_messages(c);
        coord_check_heartbeats(c);
        /* Processes a test left behind end up ours when they exit: reap them. */
        if (c->child_exited) {
            c->child_exited = 0;
            coord_reap_zombies(c);
        }

        int died = 0;
        for (size_t i = 0; i < c->n_workers; ++i) {
            struct coord_worker *w = c->workers[i];
            if (!w->pid)
                continue;
            if (coord_exited(w)) {
                /* Collect what it said before dying, then its death. */
                coord_drain_messages(c);
                coord_reap(c, w);
                died = 1;
            }
        }
        if (died)
            coord_after_deaths(c);
    }
    free(fds);
    return 0;
}

/* ---- after the run ---------------------------------------------------------------- */

static char coord_status_letter(const Crmp__Result *r)
{
    if (!r->final)
        return 'S';
    if (r->final->status == CR_STATUS_FAILED)
        return 'F';
    return r->final->status == CR_STATUS_SKIPPED ? 'S' : 'P';
}

static void coord_save_history(struct coord *c)
{
    if (!c->durations_path || !c->have_units)
        return;
    struct crmpi_durations fresh = { calloc(c->n_units ? c->n_units : 1, sizeof(*fresh.v)), 0 };
    struct crmpi_durations known = { calloc(c->n_units ? c->n_units : 1, sizeof(*known.v)), 0 };
    if (!fresh.v || !known.v) {
        free(fresh.v);
        free(known.v);
        return;
    }
    /* Both borrow the names: only the arrays are freed below. */
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct coord_unit *u = &c->units[i];
        struct crmpi_duration d = {
            .suite = (char *) u->r.test->category,
            .name = (char *) u->r.test->name,
            .param = u->r.param,
        };
        known.v[known.n++] = d;
        if (u->state == COORD_DONE && u->r.result) {
            d.ns = u->r.result->wall_ns;
            d.status = coord_status_letter(u->r.result);
            fresh.v[fresh.n++] = d;
        }
    }
    crmpi_durations_sort(&fresh);
    int rc = crmpi_durations_save(c->durations_path, &fresh, &known);
    if (rc)
        crmpi_warn("cannot save durations to %s: %s", c->durations_path, strerror(-rc));
    free(fresh.v);
    free(known.v);
}

static int coord_cmp_slow(const void *a, const void *b, void *arg)
{
    const struct coord *c = arg;
    const struct coord_unit *x = &c->units[*(const size_t *) a];
    const struct coord_unit *y = &c->units[*(const size_t *) b];
    uint64_t tx = x->r.result->wall_ns, ty = y->r.result->wall_ns;
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return (x > y) - (x < y);
}

static void coord_print_slowest(const struct coord *c)
{
    size_t *ids = calloc(c->n_units ? c->n_units : 1, sizeof(*ids));
    if (!ids)
        return;
    size_t n = 0;
    for (size_t i = 0; i < c->n_units; ++i)
        if (c->units[i].r.result)
            ids[n++] = i;
    qsort_r(ids, n, sizeof(*ids), coord_cmp_slow, (void *) c);
    size_t k = n < c->opts->slowest ? n : c->opts->slowest;
    fprintf(stderr, "criterion-mproc: %zu slowest tests:\n", k);
    for (size_t i = 0; i < k; ++i) {
        const struct coord_unit *u = &c->units[ids[i]];
        char param[32] = "";
        if (u->r.param >= 0)
            snprintf(param, sizeof(param), " [param %d]", u->r.param);
        fprintf(stderr, "criterion-mproc: %9.3fs  %s::%s%s\n", u->r.result->wall_ns / 1e9,
                u->r.test->category, u->r.test->name, param);
    }
    free(ids);
}

/* Per-worker busy time and the run's efficiency against its lower bound. */
static void coord_print_efficiency(const struct coord *c, int64_t makespan_ms)
{
    uint64_t total = 0, longest = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        if (!c->units[i].r.result)
            continue;
        uint64_t t = c->units[i].r.result->wall_ns;
        total += t;
        longest = t > longest ? t : longest;
    }
    for (size_t i = 0; i < c->n_workers; ++i)
        crmpi_info("worker %u: %u tests, busy %.3fs", c->workers[i]->slot,
                c->workers[i]->units_done, c->workers[i]->busy_ns / 1e9);
    double bound = (double) total / (double) (c->n_workers ? c->n_workers : 1);
    if ((double) longest > bound)
        bound = (double) longest;
    double makespan = (double) makespan_ms * 1e6;
    crmpi_info("makespan %.3fs, lower bound %.3fs (max(total/%zu, longest)), efficiency %.0f%%",
            makespan / 1e9, bound / 1e9, c->n_workers,
            makespan > 0 ? 100.0 * bound / makespan : 100.0);
}

/* ---- the run -------------------------------------------------------------------- */

static void coord_cleanup(struct coord *c)
{
    for (size_t i = 0; i < c->n_workers; ++i) {
        struct coord_worker *w = c->workers[i];
        if (w->pid) {
            crmpi_kill_tree(w->pid);
            waitpid(w->pid, NULL, 0);
        }
        if (w->pidfd >= 0)
            close(w->pidfd);
        if (w->waiting)
            crmpi_nng.nng_msg_free(w->waiting);
        crmpi_wire_free(w->hello);
        w->pid = 0;
    }
    coord_reap_orphans(c);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (size_t i = 0; i < c->n_workers; ++i)
        free(c->workers[i]);
    free(c->workers);
    if (c->sock_open)
        crmpi_nng.nng_close(c->sock);
    if (c->tls)
        crmpi_nng.nng_tls_config_free(c->tls);
    for (size_t i = 0; i < c->n_units; ++i)
        crmpi_wire_free(c->units[i].env);
    free(c->units);
    free(c->jobs);
    crmpi_jobs_free(&c->schedule);
    crmpi_token_free(&c->token);
    for (struct coord_job *j = c->owned_jobs, *next; j; j = next) {
        next = j->owned_next;
        free(j->units);
        free(j);
    }
    free(c->requeued);
    crmpi_durations_free(&c->history);
    free(c->durations_path);
    for (size_t i = 0; i < sizeof(c->env_owned) / sizeof(c->env_owned[0]); ++i)
        free(c->env_owned[i]);
    free(c->envp);
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    if (*c->dir) {
        /* The queue's socket, and anything a worker left there. */
        DIR *d = opendir(c->dir);
        for (struct dirent *e; d && (e = readdir(d));)
            if (e->d_name[0] != '.')
                unlinkat(dirfd(d), e->d_name, 0);
        if (d)
            closedir(d);
        rmdir(c->dir);
    }
}

int crmpi_coordinator_run(struct criterion_test_set *set, const struct crmpi_options *opts,
        char **argv, int *exit_status)
{
    *exit_status = -1;
    struct coord c = { .set = set, .opts = opts, .argv = argv, .wake = { -1, -1 }, .recv_fd = -1,
                       .startup_status = -1 };
    struct coord_signals saved;
    int result = 0;

    ssize_t len = readlink("/proc/self/exe", c.exe, sizeof(c.exe) - 1);
    if (len <= 0) {
        crmpi_error("cannot find the test executable: %s", strerror(errno));
        return 0;
    }
    c.exe[len] = '\0';

    const char *tmp = getenv("TMPDIR");
    /* ipc paths are limited to ~100 bytes: fall back on /tmp if TMPDIR is long. */
    if (!tmp || strlen(tmp) > 40)
        tmp = "/tmp";
    snprintf(c.dir, sizeof(c.dir), "%s/criterion-mproc.XXXXXX", tmp);
    if (!mkdtemp(c.dir)) {
        crmpi_error("cannot create a private directory in %s: %s", tmp, strerror(errno));
        *c.dir = '\0';
        return 0;
    }
    snprintf(c.url, sizeof(c.url), "ipc://%s/queue", c.dir);

    if (pipe2(c.wake, O_CLOEXEC | O_NONBLOCK)) {
        crmpi_error("pipe: %s", strerror(errno));
        goto out;
    }
    coord_wake_fd = c.wake[1];
    coord_signals_install(&saved);

    if (coord_listen(&c) || (opts->listen && coord_listen_remote(&c)) || coord_env(&c))
        goto out_signals;

    if (crmpi_report_begin(&c.report, set)) {
        crmpi_error("cannot prepare the report");
        goto out_signals;
    }
    c.report_started = 1;

    /* Sandboxes of a worker that dies become our children: see coord_reap_orphans. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    c.started_ms = coord_now_ms();
    /*
     * One worker first, the others once it said hello: a binary whose
     * workers cannot start (a bad --filter pattern) then says why once.
     */
    if (opts->workers)
        coord_spawn(&c);
    if (!c.n_workers && !opts->listen) {
        c.fatal = 1;
    } else {
        crmpi_info("%zu workers on %s", c.n_workers, c.url);
        coord_loop(&c);
    }

    char why[64];
    if (coord_signal) {
        snprintf(why, sizeof(why), "interrupted by signal %d", (int) coord_signal);
        c.stop_reason = why;
    }
    if (c.stopping && c.stop_reason && c.have_units && c.done < c.n_units) {
        crmpi_warn("run stopped early (%s): %zu of %zu tests did not run", c.stop_reason,
                c.n_units - c.done, c.n_units);
        crmpi_outputs_mark_incomplete(c.stop_reason);
    }

    /* Workers that could not start: nothing ran, nothing to report. */
    if (c.startup_failed)
        goto out_signals;

    struct crmpi_report_unit *runits = calloc(c.n_units ? c.n_units : 1, sizeof(*runits));
    if (!runits) {
        crmpi_error("out of memory");
        goto out_signals;
    }
    for (size_t i = 0; i < c.n_units; ++i)
        runits[i] = c.units[i].r;
    int64_t makespan_ms = coord_now_ms() - c.started_ms;
    int ok = crmpi_report_end(&c.report, runits, c.n_units);
    free(runits);
    result = ok == 1 && !c.fatal;
    coord_save_history(&c);
    if (opts->slowest)
        coord_print_slowest(&c);
    /* Criterion's --fail-fast ends the process with 1, --always-succeed or not. */
    if (c.stop_reason && !strcmp(c.stop_reason, "--fail-fast"))
        c.exit_status = 1;
    if (crmpi_diag_level() >= CRMPI_DIAG_INFO)
        coord_print_efficiency(&c, makespan_ms);

out_signals:
    coord_signals_restore(&saved);
    coord_wake_fd = -1;
out:
    if (c.report_started)
        crmpi_report_free(&c.report);
    coord_cleanup(&c);
    if (coord_signal)
        *exit_status = 128 + coord_signal;
    else if (c.exit_status)
        *exit_status = c.exit_status;
    return result;
}

/* ---- worker hosts (--mproc-connect) -------------------------------------------- */

int crmpi_launcher_run(const struct crmpi_options *opts, char **argv)
{
    struct coord c = { .opts = opts, .argv = argv, .wake = { -1, -1 }, .recv_fd = -1 };
    struct coord_signals saved;
    int status = 1;
    char err[256];

    ssize_t len = readlink("/proc/self/exe", c.exe, sizeof(c.exe) - 1);
    if (len <= 0 || (size_t) len >= sizeof(c.url)) {
        crmpi_error("cannot find the test executable");
        return 1;
    }
    c.exe[len] = '\0';
    if (strlen(opts->connect) >= sizeof(c.url)) {
        crmpi_error("--mproc-connect: URL too long");
        return CRMPI_EXIT_USAGE;
    }
    strcpy(c.url, opts->connect);
    if (crmpi_token_load(opts->token_file, opts->token_file ? NULL : getenv(CRMPI_ENV_TOKEN),
            &c.token, err, sizeof(err))) {
        crmpi_error("%s", err);
        return CRMPI_EXIT_USAGE;
    }
    if (pipe2(c.wake, O_CLOEXEC | O_NONBLOCK) || coord_env(&c))
        goto out;
    coord_wake_fd = c.wake[1];
    coord_signals_install(&saved);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    for (unsigned i = 0; i < opts->workers; ++i)
        if (coord_spawn(&c))
            break;

    /* Wait for our workers; they end when their coordinator says so. */
    int failed = c.n_workers < opts->workers;
    size_t unreached = 0;
    size_t alive = c.n_workers;
    while (alive) {
        struct pollfd fds[1 + CRMPI_MAX_WORKERS];
        size_t nfds = 0;
        fds[nfds++] = (struct pollfd) { .fd = c.wake[0], .events = POLLIN };
        for (size_t i = 0; i < c.n_workers; ++i)
            if (c.workers[i]->pid && c.workers[i]->pidfd >= 0)
                fds[nfds++] = (struct pollfd) { .fd = c.workers[i]->pidfd, .events = POLLIN };
        if (poll(fds, nfds, -1) < 0 && errno != EINTR)
            break;
        char buf[64];
        while (read(c.wake[0], buf, sizeof(buf)) > 0)
            ;
        if (coord_signal) {
            for (size_t i = 0; i < c.n_workers; ++i)
                if (c.workers[i]->pid)
                    crmpi_kill_tree(c.workers[i]->pid);
        }
        for (size_t i = 0; i < c.n_workers; ++i) {
            struct coord_worker *w = c.workers[i];
            if (!w->pid || !coord_exited(w))
                continue;
            int st = 0;
            waitpid(w->pid, &st, 0);
            if (w->pidfd >= 0)
                close(w->pidfd);
            w->pidfd = -1;
            w->pid = 0;
            w->alive = 0;
            --alive;
            if (WIFEXITED(st) && WEXITSTATUS(st) == CRMPI_WORKER_EXIT_UNREACHED) {
                /* Fine if a sibling served the run: it may have ended first. */
                ++unreached;
            } else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
                failed = 1;
                if (!coord_signal)
                    crmpi_error("worker %u ended with %s %d", w->slot,
                            WIFSIGNALED(st) ? "signal" : "status",
                            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            }
        }
        coord_reap_orphans(&c);
    }
    if (unreached && unreached == c.n_workers) {
        crmpi_error("no worker could reach the coordinator at %s", opts->connect);
        failed = 1;
    }
    status = failed ? 1 : 0;
    coord_signals_restore(&saved);
    coord_wake_fd = -1;

out:
    coord_cleanup(&c);
    crmpi_token_free(&c.token);
    if (coord_signal)
        return 128 + coord_signal;
    return status;
}
