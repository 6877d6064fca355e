/*
 * The runner's pool.
 *
 * N slots are N tokens of a GNU make jobserver the runner serves on a fifo
 * (or the one an outer `make -jN` already advertises): one implicit, N-1 in
 * the fifo.  A program is started only with a token in hand, as make does;
 * inside a Criterion binary the plugin's coordinator runs its first worker
 * on that token and takes one more from the fifo for each further test it
 * runs at once (plugin/jobserver.c).  So never more than N tests run in
 * total, and a binary with work left takes any token another one frees.
 *
 * A binary's start-up (its coordinator, its first worker, the test list)
 * takes a slot's time for no test.  So up to N Criterion binaries more are
 * started before a slot is free for them: each waits, started up, for the
 * runner's byte on a pipe of its own (CRITERION_MPROC_SLOT_FD), and the
 * slots go to them oldest first as they free up.  Their timeouts and times
 * count from then.  A binary started on a slot gets its byte at once.
 *
 * That pipe is a socket: a binary's coordinator writes a byte back on it
 * when its last test is handed out, and its slot then serves another
 * program while it ends (its workers' exits, its reports).
 *
 * Output: each program writes to a pipe of its own.  The plugin, told by
 * CRITERION_MPROC_RUNNER that a runner reads it, ends each finished test's
 * block with a record separator (0x1e), so whole blocks are relayed as they
 * come; anything else is relayed whole when its program ends.  When the
 * runner draws a status line or prints a recap (runner_live.c), the plugin
 * also sends records just before its marks, which are kept, not relayed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "jobserver.h"
#include "proc.h"
#include "runner.h"
#include "runner_live.h"
#include "runnerlink.h"
#include "wakepipe.h"

#define RPOOL_FRAME_END CRMPI_RUNNERLINK_MARK

/* What a running program holds of the N slots. */
enum rpool_slot {
    RPOOL_SLOT_NONE,        /* none yet: started early, it waits for the byte on slot_fd */
    RPOOL_SLOT_IMPLICIT,    /* the one this process was given (by make, or by being run) */
    RPOOL_SLOT_TOKEN,       /* a token the runner took for it */
    RPOOL_SLOT_BACK,        /* it gave its slot back before its end: it is only ending */
};

struct rpool_child {
    struct crmpi_rtest *t;
    enum rpool_slot slot;
    int slot_fd;            /* our end of the socket its slot is announced on and comes back
                               on (Criterion binaries); -1: none, or closed */
    int slot_rfd;           /* the program's end of it, while it is started */
    unsigned long seq;      /* start order: slots go to the oldest waiting */
    size_t index;           /* in the list: names its stats and JUnit files */
    unsigned pslot;         /* among the running programs: its test slots start at pslot*N */
    pid_t pid;              /* 0: not running */
    int pidfd, out;         /* -1 once closed */
    char *buf;              /* output not yet relayed; owned */
    size_t len, cap;
    double spawned;         /* monotonic seconds */
    double started;         /* since it has a slot; 0: not yet */
    double deadline;        /* monotonic seconds; 0: none */
    int timed_out;
};

struct rpool {
    const struct crmpi_rpool_opts *o;
    struct crmpi_rtotals *t;
    size_t n_tests;
    const struct crmpi_rtest *base;     /* the list's first test */
    struct rpool_child *run;    /* the programs started: up to N with a slot, N waiting, and
                                   those that gave their slot back and end */
    size_t n_run;
    unsigned long seq;          /* programs started so far */
    int implicit_free;          /* our own slot is on no program */
    size_t n_tokened;           /* programs on a token of ours (js.n_held - spare) */
    char dir[PATH_MAX];         /* private temporary directory */
    struct crmpi_jobserver js;  /* the tokens taken */
    int js_own;                 /* the fifo of our own jobserver, held open; -1: make's */
    char makeflags[PATH_MAX + 64];  /* "MAKEFLAGS=..." for our own; "" under make */
    const struct crmpi_rtest *last_shown;
    char shown_last;            /* the last byte relayed */
    struct crmpi_wakepipe wake;
    int stopping;               /* signals seen */
};

static double rpool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rpool_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;     /* stderr gone: nothing better to do with output */
        }
        p += w;
        n -= (size_t) w;
    }
}

/* Writes on stderr, the status line put aside first. */
static void rpool_out(struct rpool *p, const char *s, size_t len)
{
    crmpi_rlive_aside(p->o->live);
    rpool_write_all(2, s, len);
    p->shown_last = s[len - 1];
}

/*
 * In s[0..len), the text before a mark: when it ends with a record of t's
 * plugin, the record goes to the status line and what comes before it is
 * returned; otherwise all of it.
 */
static size_t rpool_take_record(struct rpool *p, const struct crmpi_rtest *t, const char *s,
        size_t len)
{
    const char *rec = p->o->live && t->is_criterion ? memrchr(s, CRMPI_RUNNERLINK_RECORD, len)
                                                    : NULL;
    if (rec && !crmpi_rlive_record(p->o->live, (size_t) (t - p->base), rec + 1,
                       len - (size_t) (rec + 1 - s)))
        return (size_t) (rec - s);
    return len;
}

/* Writes data[0..n) to stderr without frame marks and records, under its program's name. */
static void rpool_show(struct rpool *p, const struct crmpi_rtest *t, const char *data, size_t n)
{
    const char *s = data, *end = data + n;
    while (s < end) {
        const char *mark = memchr(s, RPOOL_FRAME_END, (size_t) (end - s));
        size_t len = (size_t) ((mark ? mark : end) - s);
        if (mark)
            len = rpool_take_record(p, t, s, len);
        if (len && p->n_tests > 1 && p->last_shown != t) {
            char head[PATH_MAX + 16];
            int hl = snprintf(head, sizeof(head), "==> %s <==\n", t->name);
            rpool_out(p, head, (size_t) hl < sizeof(head) ? (size_t) hl : sizeof(head) - 1);
            p->last_shown = t;
        }
        if (len)
            rpool_out(p, s, len);
        s = mark ? mark + 1 : end;
    }
}

/* ---- the jobserver ------------------------------------------------------------------ */

/*
 * Under `make -jN` the runner is one more client of make's jobserver (its
 * programs inherit MAKEFLAGS); otherwise it serves one of its own, with
 * N-1 tokens in a fifo, and tells its programs so.
 */
static int rpool_jobserver_open(struct rpool *p)
{
    const char *outer = getenv("MAKEFLAGS");
    int rc = crmpi_jobserver_open(&p->js, outer);
    if (!rc) {
        crmpi_info("runner: taking job slots from make's jobserver");
        return 0;
    }
    if (rc != -ENOENT)
        crmpi_warn("MAKEFLAGS advertises a jobserver that cannot be used here (%s): "
                   "the runner serves its own", strerror(-rc));

    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof(p->dir), "%s/criterion-mproc-runner.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(p->dir)) {
        rc = -errno;
        p->dir[0] = '\0';
        return rc;
    }
    char fifo[PATH_MAX + 16];
    snprintf(fifo, sizeof(fifo), "%s/jobserver", p->dir);
    if (mkfifo(fifo, 0600) < 0)
        return -errno;
    /* Both ends held for the whole run: never EOF, never ENXIO. */
    p->js_own = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (p->js_own < 0)
        return -errno;
    for (unsigned i = 1; i < p->o->slots; ++i)
        if (write(p->js_own, "+", 1) != 1)
            return -errno;
    snprintf(p->makeflags, sizeof(p->makeflags), "MAKEFLAGS=-j%u --jobserver-auth=fifo:%s",
            p->o->slots, fifo);
    return crmpi_jobserver_open(&p->js, p->makeflags + strlen("MAKEFLAGS="));
}

/*
 * A slot for one more program: 1 with *slot set, 0 when none is free yet
 * (the fifo is then watched).  Our own slot first, then a token.
 */
static int rpool_slot_take(struct rpool *p, enum rpool_slot *slot)
{
    if (p->implicit_free) {
        p->implicit_free = 0;
        *slot = RPOOL_SLOT_IMPLICIT;
        return 1;
    }
    if (p->js.n_held == p->n_tokened) {
        if (!p->js.wanted)
            crmpi_jobserver_want(&p->js);
        int rc = crmpi_jobserver_read(&p->js);
        if (rc < 0)
            crmpi_warn("the job slots' fifo failed (%s): one program at a time", strerror(-rc));
        if (rc <= 0)
            return 0;
    }
    ++p->n_tokened;
    *slot = RPOOL_SLOT_TOKEN;
    return 1;
}

/* A program that held slot ended: the slot is free again, a token goes back. */
static void rpool_slot_put(struct rpool *p, enum rpool_slot slot)
{
    if (slot == RPOOL_SLOT_IMPLICIT)
        p->implicit_free = 1;
    else if (slot == RPOOL_SLOT_TOKEN)
        --p->n_tokened;
    while (p->js.n_held > p->n_tokened && !crmpi_jobserver_give(&p->js))
        ;
}

/* ---- programs ----------------------------------------------------------------------- */

static void rpool_env_free(char **env)
{
    for (char **e = env; e && *e; ++e)
        free(*e);
    free(env);
}

/* Whether entry "NAME=..." names a variable that list[0..n) sets. */
static int rpool_env_set_in(char *const *list, size_t n, const char *entry)
{
    size_t len = strcspn(entry, "=");
    for (size_t i = 0; i < n; ++i)
        if (list[i] && !strncmp(list[i], entry, len) && list[i][len] == '=')
            return 1;
    return 0;
}

/*
 * The environment of c's program: what the runner sets (the jobserver, the
 * slot, and for Criterion binaries the plugin), then the test's own
 * variables, then ours for every other name.  Owned: rpool_env_free.
 */
/* How many variables rpool_env sets itself at most (a new RPOOL_SETENV counts here). */
#define RPOOL_ENV_SET 10

static char **rpool_env(struct rpool *p, const struct rpool_child *c)
{
    extern char **environ;
    size_t n_ours = 0, n_own = 0;
    while (environ[n_ours])
        ++n_ours;
    while (c->t->env && c->t->env[n_own])
        ++n_own;
    /* The runner's own below: at most RPOOL_ENV_SET, then the NULL at the end. */
    char **env = calloc(n_ours + n_own + RPOOL_ENV_SET + 1, sizeof(char *));
    if (!env)
        return NULL;
    size_t n = 0;
    int failed = 0;
#define RPOOL_SETENV(...) \
    (failed |= asprintf(&env[n], __VA_ARGS__) < 0 ? (env[n] = NULL, 1) : 0, ++n)
    const char *preload = getenv("LD_PRELOAD");
    unsigned slot_base = c->pslot * p->o->slots;
    /* Per-binary files are named after the program, its last path component. */
    const char *slash = strrchr(c->t->name, '/');
    const char *base = slash ? slash + 1 : c->t->name;
    if (p->makeflags[0])
        RPOOL_SETENV("%s", p->makeflags);
    if (c->t->is_criterion) {
        RPOOL_SETENV("%s=%u", CRMPI_ENV_RUNNER_SLOT_BASE, slot_base);
        RPOOL_SETENV("%s=%d", CRMPI_ENV_RUNNER_SLOT_FD, c->slot_rfd);
        RPOOL_SETENV("LD_PRELOAD=%s%s%s", p->o->plugin, preload ? ":" : "", preload ? preload : "");
        RPOOL_SETENV("CRITERION_MPROC=%u", p->o->slots);
        RPOOL_SETENV("%s=%s/stats.%zu", CRMPI_ENV_RUNNER, p->dir, c->index);
        if (crmpi_rlive_env(p->o->live))
            RPOOL_SETENV("%s=%s", CRMPI_ENV_RUNNER_LIVE, crmpi_rlive_env(p->o->live));
        if (p->o->junit)
            RPOOL_SETENV("CRITERION_MPROC_JUNIT=%s/junit.%zu.xml", p->dir, c->index);
        /* Tests of two binaries may share SUITE/TEST names: each binary collects in its own. */
        if (p->o->artifacts)
            RPOOL_SETENV("CRITERION_MPROC_ARTIFACTS_DIR=%s/%s", p->o->artifacts, base);
        if (p->o->report_dir) {
            const char *d = p->o->report_dir;
            RPOOL_SETENV("CRITERION_OUTPUTS=tap:%s/%s.tap,xml:%s/%s.xml,json:%s/%s.json", d, base,
                    d, base, d, base);
        }
    } else {
        RPOOL_SETENV("CRITERION_MPROC_SLOT=%u", slot_base);
    }
#undef RPOOL_SETENV
    size_t n_set = n;
    CRMPI_ASSERT(n_set <= RPOOL_ENV_SET);
    for (size_t i = 0; i < n_own; ++i)
        if (!rpool_env_set_in(env, n_set, c->t->env[i]))
            failed |= !(env[n++] = strdup(c->t->env[i]));
    for (size_t i = 0; i < n_ours; ++i)
        if (!rpool_env_set_in(env, n, environ[i]))
            failed |= !(env[n++] = strdup(environ[i]));
    if (failed) {
        for (size_t i = 0; i < n; ++i)
            free(env[i]);
        free(env);
        return NULL;
    }
    return env;
}


/*
 * Whether argv[i] sets Criterion's own parallelism (-jN, -j N, --jobs=N,
 * --jobs N): the pool sets it, and the plugin refuses both.  Returns how
 * many words it takes, or 0.
 */
static int rpool_jobs_words(char *const argv[], size_t i)
{
    const char *a = argv[i];
    if (!strcmp(a, "-j") || !strcmp(a, "--jobs"))
        return argv[i + 1] ? 2 : 1;
    return !strncmp(a, "--jobs=", 7) || (!strncmp(a, "-j", 2) && a[2] >= '0' && a[2] <= '9');
}

/*
 * argv of t, with the Criterion arguments after it when it is Criterion's,
 * and without a -j of its own there.  The strings are borrowed.
 */
static char **rpool_argv(const struct rpool *p, const struct crmpi_rtest *t)
{
    size_t n = 0, n_extra = 0;
    while (t->argv[n])
        ++n;
    while (t->is_criterion && p->o->crit_args && p->o->crit_args[n_extra])
        ++n_extra;
    char **argv = calloc(n + n_extra + 1, sizeof(char *));
    if (!argv)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        int skip = i && t->is_criterion ? rpool_jobs_words(t->argv, i) : 0;
        if (skip)
            i += (size_t) skip - 1;
        else
            argv[k++] = t->argv[i];
    }
    for (size_t i = 0; i < n_extra; ++i)
        argv[k++] = p->o->crit_args[i];
    return argv;
}

/* c has its slot: its timeout and its time count from now. */
static void rpool_clock_start(struct rpool *p, struct rpool_child *c)
{
    c->started = rpool_now();
    if (c->t->timeout_s > 0 && p->o->timeout_multiplier > 0)
        c->deadline = c->started + c->t->timeout_s * p->o->timeout_multiplier;
}

/* Closes what tells c about its slot (at its end, or once it gave it back). */
static void rpool_slot_fd_close(struct rpool_child *c)
{
    if (c->slot_fd >= 0)
        close(c->slot_fd);
    c->slot_fd = -1;
}

/* Tells c its slot is free: one byte on its socket. */
static void rpool_slot_say(struct rpool_child *c)
{
    ssize_t w;
    do
        w = send(c->slot_fd, "+", 1, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
}

/* Starts c's program, with c->slot set (RPOOL_SLOT_NONE: it waits for one). */
static int rpool_start(struct rpool *p, struct rpool_child *c)
{
    int fds[2], sfds[2] = { -1, -1 };
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    if (c->t->is_criterion && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sfds) < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    c->slot_rfd = sfds[0];
    char **env = rpool_env(p, c), **argv = rpool_argv(p, c->t);
    int rc = -ENOMEM;
    if (env && argv) {
        const struct crmpi_proc_spawn_io io = { .keep_fd = sfds[0], .output_fd = fds[1],
                                                .cwd = c->t->cwd };
        rc = crmpi_proc_spawn(argv[0], argv, env, &io, &c->pid);
    }
    rpool_env_free(env);
    free(argv);
    close(fds[1]);
    if (sfds[0] >= 0)
        close(sfds[0]);
    c->slot_rfd = -1;
    c->slot_fd = sfds[1];
    if (!rc && c->slot != RPOOL_SLOT_NONE && c->slot_fd >= 0)
        rpool_slot_say(c);
    if (rc) {
        close(fds[0]);
        rpool_slot_fd_close(c);
        c->pid = 0;
        return rc;
    }
    c->out = fds[0];
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    c->pidfd = pidfd_open(c->pid, 0);
    if (c->pidfd < 0) {
        rc = -errno;
        crmpi_kill_tree(c->pid);
        waitpid(c->pid, NULL, 0);
        close(c->out);
        rpool_slot_fd_close(c);
        c->pid = 0;
        return rc;
    }
    c->spawned = rpool_now();
    if (c->slot != RPOOL_SLOT_NONE)
        rpool_clock_start(p, c);
    if (p->o->verbose)
        crmpi_info("runner: started %s (pid %ld)%s", c->t->name, (long) c->pid,
                c->slot == RPOOL_SLOT_NONE ? ", before its slot" : "");
    return 0;
}

/*
 * Free slots go to the programs that wait for one, oldest first: one byte
 * on each one's pipe.  One that cannot hear it (its coordinator ended
 * early) gives its slot back when it ends.
 */
static void rpool_grant(struct rpool *p)
{
    for (;;) {
        struct rpool_child *oldest = NULL;
        for (size_t i = 0; i < p->n_run; ++i)
            if (p->run[i].slot == RPOOL_SLOT_NONE && p->run[i].pid
                    && (!oldest || p->run[i].seq < oldest->seq))
                oldest = &p->run[i];
        if (!oldest || !rpool_slot_take(p, &oldest->slot))
            return;
        rpool_slot_say(oldest);
        rpool_clock_start(p, oldest);
        crmpi_rlive_started(p->o->live, oldest->index);
        if (p->o->verbose)
            crmpi_info("runner: %s has its slot", oldest->t->name);
    }
}

/* How many programs wait for a slot. */
static size_t rpool_n_waiting(const struct rpool *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_run; ++i)
        n += p->run[i].slot == RPOOL_SLOT_NONE;
    return n;
}

/* How many programs hold a slot or wait for one (not those only ending). */
static size_t rpool_n_live(const struct rpool *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_run; ++i)
        n += p->run[i].slot != RPOOL_SLOT_BACK;
    return n;
}

/* c's coordinator wrote on its socket: its slot back ("-"), or its end. */
static void rpool_slot_back(struct rpool *p, struct rpool_child *c)
{
    char b;
    ssize_t n;
    do
        n = recv(c->slot_fd, &b, 1, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    rpool_slot_fd_close(c);
    if (n != 1 || b != '-')
        return;     /* its end: the slot is free again when it is reaped */
    rpool_slot_put(p, c->slot);
    c->slot = RPOOL_SLOT_BACK;
    if (p->o->verbose)
        crmpi_info("runner: %s gave its slot back", c->t->name);
}

/*
 * Past this much unrelayed output, what a program wrote so far is relayed
 * up to its last line end: a program that prints without end is not held
 * in memory, at the price of its output being cut between whole lines.
 */
#define RPOOL_HOLD_MAX (1u << 20)

/* Relays buf[0..n) and keeps the rest for later. */
static void rpool_relay(struct rpool *p, struct rpool_child *c, size_t n)
{
    rpool_show(p, c->t, c->buf, n);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/*
 * Reads what c wrote and relays the blocks it has ended.  At end of file
 * (or a read error) closes c's end of the pipe: poll then ignores it until
 * the program's exit, however long a descendant keeps its copy.
 */
static void rpool_drain(struct rpool *p, struct rpool_child *c)
{
    while (c->out >= 0) {
        if (c->cap - c->len < 65536) {
            size_t cap = c->cap ? 2 * c->cap : 131072;
            char *buf = realloc(c->buf, cap);
            if (!buf)
                return;     /* kept for later: a full buffer only delays the relay */
            c->buf = buf;
            c->cap = cap;
        }
        ssize_t got = read(c->out, c->buf + c->len, c->cap - c->len);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (got <= 0) {
            close(c->out);
            c->out = -1;
            return;
        }
        c->len += (size_t) got;
        char *last = c->t->is_criterion ? memrchr(c->buf, RPOOL_FRAME_END, c->len) : NULL;
        if (!last && c->len > RPOOL_HOLD_MAX)
            last = memrchr(c->buf, '\n', c->len);
        if (last)
            rpool_relay(p, c, (size_t) (last - c->buf) + 1);
        else if (c->len > RPOOL_HOLD_MAX)
            rpool_relay(p, c, c->len);      /* one endless line */
    }
}

/* Reads the counts the plugin left for c's program; 0, or -ENOENT. */
static int rpool_read_stats(const struct rpool *p, const struct rpool_child *c,
        struct crmpi_runnerlink_stats *s)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/stats.%zu", p->dir, c->index);
    int rc = crmpi_runnerlink_read_stats(path, s);
    unlink(path);
    return rc;
}

static void rpool_line(struct rpool *p, const struct crmpi_rtest *t, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void rpool_line(struct rpool *p, const struct crmpi_rtest *t, const char *fmt, ...)
{
    char line[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    rpool_show(p, t, line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
}

/* c's program ended with wait status ws: its output, its verdict, the totals. */
static void rpool_finish(struct rpool *p, struct rpool_child *c, int ws)
{
    rpool_drain(p, c);     /* what is left: a descendant may hold the pipe open */
    p->shown_last = '\n';
    rpool_show(p, c->t, c->buf, c->len);
    if (p->shown_last != '\n')
        rpool_show(p, c->t, "\n", 1);     /* the runner's own lines start on a line */
    c->len = 0;

    struct crmpi_rtotals *t = p->t;
    struct crmpi_runnerlink_stats s;
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    int ok = code == 0;
    c->t->took_s = rpool_now() - (c->started > 0 ? c->started : c->spawned);
    if (c->t->is_criterion && !c->timed_out && !rpool_read_stats(p, c, &s)) {
        t->tested += s.tested;
        t->passing += s.passing;
        t->failing += s.failing;
        t->crashing += s.crashing;
        t->skipped += s.skipped;
    } else if (!c->t->is_criterion && code == 77) {
        ok = 1;
        ++t->skipped;
        c->t->skipped = c->t->judged = 1;
        rpool_line(p, c->t, "[SKIP] %s\n", c->t->name);
    } else {
        /* A program, or a Criterion binary that ended before its plugin could count. */
        c->t->judged = 1;
        if (c->timed_out)
            snprintf(c->t->verdict, sizeof(c->t->verdict), "timed out after %gs",
                    c->t->timeout_s * p->o->timeout_multiplier);
        else if (WIFSIGNALED(ws))
            snprintf(c->t->verdict, sizeof(c->t->verdict), "signal %d (%s)", WTERMSIG(ws),
                    strsignal(WTERMSIG(ws)));
        else if (!ok)
            snprintf(c->t->verdict, sizeof(c->t->verdict), "exit status %d", code);
        ++t->tested;
        if (ok)
            ++t->passing;
        else
            ++t->failing;
        if (!ok && (c->timed_out || WIFSIGNALED(ws)))
            ++t->crashing;
        if (!ok)
            c->t->recap_status = c->timed_out ? "TIMEOUT" : WIFSIGNALED(ws) ? "CRASH" : "FAIL";
        if (c->timed_out)
            rpool_line(p, c->t, "[FAIL] %s: timed out after %gs\n", c->t->name,
                    c->t->timeout_s * p->o->timeout_multiplier);
        else if (WIFSIGNALED(ws))
            rpool_line(p, c->t, "[FAIL] %s: CRASH! (signal %d, %s)\n", c->t->name,
                    WTERMSIG(ws), strsignal(WTERMSIG(ws)));
        else if (ok)
            rpool_line(p, c->t, "[PASS] %s\n", c->t->name);
        else
            rpool_line(p, c->t, "[FAIL] %s: exit status %d\n", c->t->name, code);
    }
    if (!ok || c->timed_out) {
        ++t->programs_failed;
        c->t->failed = 1;
    }
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    if (c->out >= 0)
        close(c->out);
    close(c->pidfd);
    rpool_slot_fd_close(c);
    rpool_slot_put(p, c->slot);
    c->slot = RPOOL_SLOT_NONE;
    c->pid = 0;
    crmpi_rlive_finished(p->o->live, c->index);
}

/* ---- the loop ----------------------------------------------------------------------- */

/* Passes sig on to every program (each has a process group of its own). */
static void rpool_signal_all(struct rpool *p, int sig, int hard)
{
    for (size_t i = 0; i < p->n_run; ++i) {
        if (hard)
            crmpi_kill_tree(p->run[i].pid);
        else
            kill(-p->run[i].pid, sig);
    }
}

/* Removes run[i] (ended) from the running set. */
static void rpool_drop(struct rpool *p, size_t i)
{
    p->run[i] = p->run[--p->n_run];
}

/* The lowest program slot no running program holds. */
static unsigned rpool_free_pslot(const struct rpool *p)
{
    for (unsigned s = 0;; ++s) {
        size_t i = 0;
        while (i < p->n_run && p->run[i].pslot != s)
            ++i;
        if (i == p->n_run)
            return s;
    }
}

static int rpool_loop(struct rpool *p, struct crmpi_rtest **order, size_t n)
{
    size_t next = 0;
    size_t cap = 2 * (size_t) p->o->slots;     /* N on a slot, N waiting for one */
    struct pollfd *fds = calloc(3 * (n ? n : 1) + 2, sizeof(*fds));
    if (!fds)
        return -ENOMEM;
    int serial = 0;     /* a non-parallel program runs: start nothing else */

    for (;;) {
        if (!p->stopping)
            rpool_grant(p);
        while (!p->stopping && !serial && next < n && rpool_n_live(p) < cap) {
            struct crmpi_rtest *t = order[next];
            if (!t->is_parallel && p->n_run)
                break;
            /* No slot free: a Criterion binary starts up meanwhile (at most N wait so). */
            enum rpool_slot slot = RPOOL_SLOT_NONE;
            size_t waiting = rpool_n_waiting(p);
            if ((waiting || !rpool_slot_take(p, &slot))
                    && !(t->is_criterion && t->is_parallel && waiting < p->o->slots))
                break;
            struct rpool_child *c = &p->run[p->n_run];
            *c = (struct rpool_child) { .t = t, .index = (size_t) (t - p->base), .pidfd = -1, .out = -1,
                                        .pslot = rpool_free_pslot(p), .slot = slot,
                                        .slot_fd = -1, .slot_rfd = -1, .seq = p->seq++ };
            ++next;
            int rc = rpool_start(p, c);
            if (rc) {
                crmpi_error("%s: cannot start: %s", t->name, strerror(-rc));
                ++p->t->not_started;
                ++p->t->programs_failed;
                t->failed = 1;
                t->recap_status = "FAIL";
                snprintf(t->verdict, sizeof(t->verdict), "cannot start: %s", strerror(-rc));
                crmpi_rlive_finished(p->o->live, c->index);
                rpool_slot_put(p, slot);
                continue;
            }
            ++p->n_run;
            serial = !t->is_parallel;
            if (slot != RPOOL_SLOT_NONE)    /* a waiting one runs from its slot on */
                crmpi_rlive_started(p->o->live, c->index);
        }
        if (!p->n_run && (next == n || p->stopping))
            break;

        size_t nf = 0;
        double now = rpool_now(), wait_s = 1.0;
        for (size_t i = 0; i < p->n_run; ++i) {
            fds[nf++] = (struct pollfd) { .fd = p->run[i].out, .events = POLLIN };
            fds[nf++] = (struct pollfd) { .fd = p->run[i].pidfd, .events = POLLIN };
            int has_slot = p->run[i].slot == RPOOL_SLOT_IMPLICIT
                    || p->run[i].slot == RPOOL_SLOT_TOKEN;
            fds[nf++] = (struct pollfd) { .fd = has_slot ? p->run[i].slot_fd : -1,
                                          .events = POLLIN };
            if (p->run[i].deadline > 0 && p->run[i].deadline - now < wait_s)
                wait_s = p->run[i].deadline - now;
        }
        fds[nf++] = (struct pollfd) { .fd = crmpi_wakepipe_fd(&p->wake), .events = POLLIN };
        int want_token = !p->stopping && (rpool_n_waiting(p)
                || (!serial && next < n && rpool_n_live(p) < cap && order[next]->is_parallel));
        fds[nf++] = (struct pollfd) { .fd = want_token ? crmpi_jobserver_fd(&p->js) : -1,
                                      .events = POLLIN };
        int ms = crmpi_rlive_timeout(p->o->live, wait_s <= 0 ? 0 : (int) (wait_s * 1000) + 1);
        if (poll(fds, nf, ms) < 0 && errno != EINTR) {
            free(fds);
            return -errno;
        }
        crmpi_rlive_tick(p->o->live);

        /*
         * Only a signal's own record counts: a program's SIGCHLD after the
         * first SIGINT is no second one (it made the runner SIGKILL the
         * others while they were ending: runner-interrupt).
         */
        struct crmpi_wake_rec recs[16];
        int got = fds[nf - 2].revents ? crmpi_wakepipe_read(&p->wake, recs, 16) : 0;
        for (int i = 0; i < got; ++i) {
            if (recs[i].kind != CRMPI_WAKE_SIGNAL || !crmpi_wakepipe_signal())
                continue;
            p->t->interrupted = crmpi_wakepipe_signal();
            rpool_signal_all(p, p->t->interrupted, p->stopping++ > 0);
        }

        now = rpool_now();
        for (size_t i = 0; i < p->n_run;) {
            struct rpool_child *c = &p->run[i];
            if (fds[3 * i].revents)
                rpool_drain(p, c);
            if (fds[3 * i + 2].revents)
                rpool_slot_back(p, c);  /* at its end, the pidfd still says when the program ends */
            if (c->deadline > 0 && now >= c->deadline && !c->timed_out) {
                c->timed_out = 1;
                crmpi_kill_tree(c->pid);
            }
            int ws;
            if (fds[3 * i + 1].revents && waitpid(c->pid, &ws, WNOHANG) == c->pid) {
                serial = serial && c->t->is_parallel;
                rpool_finish(p, c, ws);
                /* fds[] was built for the old order: the moved entry waits a round. */
                rpool_drop(p, i);
                break;
            }
            ++i;
        }
    }
    free(fds);
    p->t->not_started += n - next;
    return 0;
}

/* Longest last time first, unknown ones before all; ties keep the list's order. */
static int rpool_cmp_expected(const void *a, const void *b)
{
    const struct crmpi_rtest *x = *(struct crmpi_rtest *const *) a;
    const struct crmpi_rtest *y = *(struct crmpi_rtest *const *) b;
    double ex = x->expected_s < 0 ? 1e300 : x->expected_s;
    double ey = y->expected_s < 0 ? 1e300 : y->expected_s;
    if (ex != ey)
        return ex < ey ? 1 : -1;
    return x < y ? -1 : x > y;
}

/*
 * Parallel programs first, longest first (a long program started last
 * stretches the run, as a long test does); those that must run alone after.
 */
static struct crmpi_rtest **rpool_order(struct crmpi_rlist *l)
{
    struct crmpi_rtest **order = malloc((l->n ? l->n : 1) * sizeof(*order));
    if (!order)
        return NULL;
    size_t k = 0, n_parallel = 0;
    for (int pass = 1; pass >= 0; --pass) {
        for (size_t i = 0; i < l->n; ++i)
            if (l->v[i].is_parallel == pass)
                order[k++] = &l->v[i];
        if (pass)
            n_parallel = k;
    }
    qsort(order, n_parallel, sizeof(*order), rpool_cmp_expected);
    return order;
}

int crmpi_rpool_run(struct crmpi_rlist *l, const struct crmpi_rpool_opts *o,
        struct crmpi_rtotals *t)
{
    struct rpool p = { .o = o, .t = t, .n_tests = l->n, .base = l->v, .js = CRMPI_JOBSERVER_INIT, .js_own = -1,
                    .implicit_free = 1 };
    struct crmpi_wakepipe_signals saved;
    *t = (struct crmpi_rtotals) { .programs = l->n };
    struct crmpi_rtest **order = rpool_order(l);
    p.run = calloc(l->n ? l->n : 1, sizeof(*p.run));
    int rc = -ENOMEM;
    if (!order || !p.run)
        goto out;
    if ((rc = crmpi_wakepipe_open(&p.wake)))
        goto out;
    if ((rc = rpool_jobserver_open(&p))) {
        crmpi_error("cannot set up the job slots: %s", strerror(-rc));
        goto out_wake;
    }
    crmpi_wakepipe_signals_install(&p.wake, &saved);
    crmpi_rlive_begin(o->live, t);
    rc = rpool_loop(&p, order, l->n);
    crmpi_rlive_end(o->live);
    crmpi_wakepipe_signals_restore(&saved);
    if (!rc && o->junit && crmpi_runner_junit_write(l, p.dir, o->junit))
        ++t->programs_failed;       /* a report asked for and not written fails the run */
out_wake:
    crmpi_wakepipe_close(&p.wake);
out:
    crmpi_jobserver_close(&p.js);
    if (p.js_own >= 0)
        close(p.js_own);
    if (p.dir[0]) {
        char file[PATH_MAX + 32];
        snprintf(file, sizeof(file), "%s/jobserver", p.dir);
        unlink(file);
        for (size_t i = 0; i < l->n; ++i) {
            snprintf(file, sizeof(file), "%s/junit.%zu.xml", p.dir, i);
            unlink(file);
        }
        rmdir(p.dir);
    }
    free(p.run);
    free(order);
    return rc;
}
