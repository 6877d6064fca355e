/*
 * nng's own floor under the coordinator's CPU per result (issue 10), for
 * bench/coord_cpu.py to print beside its figure: the CPU time (user +
 * system, all threads, getrusage) a server process spends per request and
 * reply, with nothing of ours in it.
 *
 *     nng_floor [-n ROUND_TRIPS] [-c CLIENTS] [-q REQ_BYTES] [-p REP_BYTES] [-g GAP_US]
 *               [-s SERVER]
 *
 * CLIENTS processes (default 8, as coord_cpu.py's workers) make ROUND_TRIPS
 * (default 20000) round trips in all, each a REQ_BYTES request (default 87,
 * an empty test's Result in fork isolation, as strace shows it) answered
 * with REP_BYTES (default 13, its Assign).  With GAP_US, each client sleeps
 * that long between its round trips, as a worker runs its test: a server
 * that is woken for every message costs more than one kept busy.  -s runs
 * only the server of that name (to strace or profile it alone).  Four
 * servers, one after the other, each line "name us sys csw" (CPU, system
 * CPU, context switches per round trip):
 *
 *   nng-rep      nng REQ/REP over ipc, the server a cooked REP socket in
 *                blocking nng_recvmsg/nng_sendmsg: the least nng does.
 *   nng-rep-raw  the same, the server a raw REP socket that polls nng's
 *                NNG_OPT_RECVFD, receives what waits and answers it, as the
 *                coordinator did until 2026-12.
 *   nng-rep-ctx  a cooked REP socket with a context per client, woken
 *                through an eventfd, as the coordinator does now
 *                (plugin/transport.c).
 *   socketpair   AF_UNIX stream socketpairs and poll: what the kernel costs.
 *
 * nng is not fork-safe: its clients are this program again (exec), started
 * once the server listens.  The first round trip of each client
 * (connecting) is not counted.
 *
 * This program links libnng, as a benchmark may; the plugin dlopen()s it
 * (plugin/nng_api.c), which changes nothing per message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

extern char **environ;

#define FLOOR_MAX_CLIENTS 64
#define FLOOR_MAX_BYTES 4096

struct floor_cfg {
    int trips;      /* counted round trips, all clients together */
    int clients;
    size_t req, rep;
    int gap_us;     /* each client's pause between its round trips */
};

struct floor_cpu {
    double all, sys;    /* seconds */
    long csw;           /* context switches, voluntary or not */
};

static void floor_die(const char *what, int rv)
{
    fprintf(stderr, "nng_floor: %s: %s\n", what, rv > 0 ? nng_strerror(rv) : strerror(-rv));
    exit(1);
}

static struct floor_cpu floor_now(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    double u = r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6;
    double s = r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
    return (struct floor_cpu) { u + s, s, r.ru_nvcsw + r.ru_nivcsw };
}

static void floor_print(const char *name, const struct floor_cfg *cfg, struct floor_cpu a,
        struct floor_cpu b)
{
    printf("%s %.2f %.2f %.2f\n", name, (b.all - a.all) / cfg->trips * 1e6,
            (b.sys - a.sys) / cfg->trips * 1e6, (double) (b.csw - a.csw) / cfg->trips);
    fflush(stdout);
}

/* Client k's share of the counted round trips, plus its first (uncounted) one. */
static int floor_share(const struct floor_cfg *cfg, int k)
{
    return cfg->trips / cfg->clients + (k < cfg->trips % cfg->clients) + 1;
}

/* Waits until fd polls readable (or a signal came). */
static void floor_wait_readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
        floor_die("poll", -errno);
}

static void floor_wait_clients(int n, const pid_t *pids)
{
    for (int k = 0; k < n; ++k) {
        int st;
        if (waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            floor_die("a client failed", -ECHILD);
    }
}

/* ---- nng ------------------------------------------------------------------------- */

/* `nng_floor --client URL TRIPS REQ_BYTES GAP_US`: one client's round trips, then exits. */
static int floor_nng_client(const char *url, int trips, size_t req, int gap_us)
{
    nng_socket s;
    int rv = nng_req0_open(&s);
    if (!rv)
        rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 1);
    if (!rv)
        rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (!rv)
        rv = nng_dial(s, url, NULL, 0);
    for (int i = trips; !rv && i > 0; --i) {
        nng_msg *m;
        rv = nng_msg_alloc(&m, req);
        if (rv)
            break;
        memset(nng_msg_body(m), 'q', req);
        if (gap_us)
            usleep((useconds_t) gap_us);
        rv = nng_sendmsg(s, m, 0);
        if (rv) {
            nng_msg_free(m);
            break;
        }
        rv = nng_recvmsg(s, &m, 0);
        if (!rv)
            nng_msg_free(m);
    }
    if (rv)
        fprintf(stderr, "nng_floor: client: %s\n", nng_strerror(rv));
    nng_close(s);
    return rv != 0;
}

/* Starts the clients of url, once the server listens there. */
static void floor_nng_spawn(const struct floor_cfg *cfg, const char *url, pid_t *pids)
{
    for (int k = 0; k < cfg->clients; ++k) {
        char trips[16], req[16], gap[16];
        snprintf(trips, sizeof(trips), "%d", floor_share(cfg, k));
        snprintf(req, sizeof(req), "%zu", cfg->req);
        snprintf(gap, sizeof(gap), "%d", cfg->gap_us);
        char *argv[] = { "nng_floor", "--client", (char *) url, trips, req, gap, NULL };
        int rv = posix_spawn(&pids[k], "/proc/self/exe", NULL, NULL, argv, environ);
        if (rv)
            floor_die("posix_spawn", -rv);
    }
}

/* Starts the clients once the server listens (rv: how that went). */
static void floor_nng_start(const struct floor_cfg *cfg, const char *url, int rv, pid_t *pids)
{
    if (rv)
        floor_die("listen", rv);
    floor_nng_spawn(cfg, url, pids);
}

/* Answers req (consumed) with cfg->rep bytes, its header copied (raw) or not. */
static void floor_nng_answer(const struct floor_cfg *cfg, nng_socket s, nng_msg *req, int raw)
{
    nng_msg *rep;
    int rv = nng_msg_alloc(&rep, cfg->rep);
    if (!rv && raw)
        rv = nng_msg_header_append(rep, nng_msg_header(req), nng_msg_header_len(req));
    if (rv)
        floor_die("nng_msg_alloc", rv);
    memset(nng_msg_body(rep), 'p', cfg->rep);
    nng_msg_free(req);
    if ((rv = nng_sendmsg(s, rep, 0)) != 0)
        floor_die("nng_sendmsg", rv);
}

/* Prints the server's CPU since t0, waits for its clients, closes s. */
static void floor_nng_end(const struct floor_cfg *cfg, const char *name, struct floor_cpu t0,
        nng_socket s, const pid_t *pids)
{
    floor_print(name, cfg, t0, floor_now());
    floor_wait_clients(cfg->clients, pids);
    nng_close(s);
}

/* Serves every client's round trips on a cooked REP socket; prints the CPU of the counted ones. */
static void floor_nng_cooked(const struct floor_cfg *cfg, const char *url)
{
    pid_t pids[FLOOR_MAX_CLIENTS];
    nng_socket s;
    int rv = nng_rep0_open(&s);
    if (!rv)
        rv = nng_listen(s, url, NULL, 0);
    floor_nng_start(cfg, url, rv, pids);
    struct floor_cpu t0 = { 0, 0, 0 };
    for (int i = 0; i < cfg->trips + cfg->clients; ++i) {
        if (i == cfg->clients)
            t0 = floor_now();
        nng_msg *m;
        if ((rv = nng_recvmsg(s, &m, 0)) != 0)
            floor_die("nng_recvmsg", rv);
        floor_nng_answer(cfg, s, m, 0);
    }
    floor_nng_end(cfg, "nng-rep", t0, s, pids);
}

/* The same on a raw REP socket, polling its receive descriptor as the coordinator does. */
static void floor_nng_raw(const struct floor_cfg *cfg, const char *url)
{
    pid_t pids[FLOOR_MAX_CLIENTS];
    nng_socket s;
    int fd = -1;
    int rv = nng_rep0_open_raw(&s);
    if (!rv)
        rv = nng_listen(s, url, NULL, 0);
    if (!rv)
        rv = nng_socket_get_int(s, NNG_OPT_RECVFD, &fd);
    floor_nng_start(cfg, url, rv, pids);
    struct floor_cpu t0 = { 0, 0, 0 };
    int done = 0;
    while (done < cfg->trips + cfg->clients) {
        floor_wait_readable(fd);
        nng_msg *m;
        while (nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK) == 0) {
            if (done++ == cfg->clients)
                t0 = floor_now();
            floor_nng_answer(cfg, s, m, 1);
        }
    }
    floor_nng_end(cfg, "nng-rep-raw", t0, s, pids);
}

/*
 * A cooked REP socket with a context per client, driven by callbacks: a
 * context's receive callback (on nng's thread) queues it and wakes the
 * poll loop through an eventfd; the loop answers with nng_ctx_send (done at
 * once: a context sends straight onto its pipe) and asks for the next
 * request.  A cooked REP context sends straight
 * onto its pipe (raw REP goes through the socket's queue and two more of
 * nng's threads), and hands a request to the waiting context's callback in
 * the thread that read it (raw REP queues it for nng_recvmsg).
 */
struct floor_ctx {
    nng_ctx ctx;
    nng_aio *rx, *tx;
    int efd;
    pthread_mutex_t *lk;
    struct floor_ctx **ready;   /* the loop's queue, under lk */
    int *n_ready;
};

static void floor_ctx_recv_cb(void *arg)
{
    struct floor_ctx *c = arg;
    pthread_mutex_lock(c->lk);
    int wake = !*c->n_ready;
    c->ready[(*c->n_ready)++] = c;
    pthread_mutex_unlock(c->lk);
    uint64_t one = 1;
    if (wake && write(c->efd, &one, sizeof(one)) < 0)
        floor_die("eventfd", -errno);
}

static void floor_nng_ctx(const struct floor_cfg *cfg, const char *url)
{
    pid_t pids[FLOOR_MAX_CLIENTS];
    struct floor_ctx ctxs[FLOOR_MAX_CLIENTS], *ready[FLOOR_MAX_CLIENTS], *mine[FLOOR_MAX_CLIENTS];
    pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
    int n_ready = 0;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    nng_socket s;
    int rv = efd < 0 ? -errno : nng_rep0_open(&s);
    if (!rv)
        rv = nng_listen(s, url, NULL, 0);
    for (int k = 0; !rv && k < cfg->clients; ++k) {
        ctxs[k] = (struct floor_ctx) { .efd = efd, .lk = &lk, .ready = ready, .n_ready = &n_ready };
        rv = nng_ctx_open(&ctxs[k].ctx, s);
        if (!rv)
            rv = nng_aio_alloc(&ctxs[k].rx, floor_ctx_recv_cb, &ctxs[k]);
        if (!rv)
            rv = nng_aio_alloc(&ctxs[k].tx, NULL, NULL);
        if (!rv)
            nng_ctx_recv(ctxs[k].ctx, ctxs[k].rx);
    }
    floor_nng_start(cfg, url, rv, pids);
    struct floor_cpu t0 = { 0, 0, 0 };
    int done = 0;
    while (done < cfg->trips + cfg->clients) {
        floor_wait_readable(efd);
        uint64_t v;
        if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            floor_die("eventfd", -errno);
        pthread_mutex_lock(&lk);
        int n = n_ready;
        memcpy(mine, ready, (size_t) n * sizeof(*mine));
        n_ready = 0;
        pthread_mutex_unlock(&lk);
        for (int i = 0; i < n; ++i) {
            struct floor_ctx *c = mine[i];
            if ((rv = nng_aio_result(c->rx)) != 0)
                floor_die("nng_ctx_recv", rv);
            if (done++ == cfg->clients)
                t0 = floor_now();
            nng_msg *rep;
            if ((rv = nng_msg_alloc(&rep, cfg->rep)) != 0)
                floor_die("nng_msg_alloc", rv);
            memset(nng_msg_body(rep), 'p', cfg->rep);
            nng_msg_free(nng_aio_get_msg(c->rx));
            nng_aio_set_msg(c->tx, rep);
            nng_ctx_send(c->ctx, c->tx);
            /* Done at once unless the pipe still sends: no callback, no thread. */
            nng_aio_wait(c->tx);
            if ((rv = nng_aio_result(c->tx)) != 0)
                floor_die("nng_ctx_send", rv);
            nng_ctx_recv(c->ctx, c->rx);
        }
    }
    struct floor_cpu t1 = floor_now();
    floor_wait_clients(cfg->clients, pids);
    nng_close(s);
    for (int k = 0; k < cfg->clients; ++k) {
        nng_aio_free(ctxs[k].rx);
        nng_aio_free(ctxs[k].tx);
    }
    close(efd);
    floor_print("nng-rep-ctx", cfg, t0, t1);
}

/* ---- socketpair ------------------------------------------------------------------ */

static int floor_full(int fd, char *buf, size_t n, int writing)
{
    for (size_t at = 0; at < n;) {
        ssize_t r = writing ? write(fd, buf + at, n - at) : read(fd, buf + at, n - at);
        if (r <= 0)
            return -1;
        at += (size_t) r;
    }
    return 0;
}

static void floor_socketpair(const struct floor_cfg *cfg)
{
    pid_t pids[FLOOR_MAX_CLIENTS];
    struct pollfd fds[FLOOR_MAX_CLIENTS];
    int sock[FLOOR_MAX_CLIENTS];
    int left[FLOOR_MAX_CLIENTS];    /* round trips client k has still to make */
    char buf[FLOOR_MAX_BYTES];
    memset(buf, 'p', sizeof(buf));
    for (int k = 0; k < cfg->clients; ++k) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
            floor_die("socketpair", -errno);
        pids[k] = fork();
        if (pids[k] < 0)
            floor_die("fork", -errno);
        if (!pids[k]) {
            for (int j = 0; j < k; ++j)
                close(sock[j]);
            close(sv[0]);
            int bad = 0;
            for (int i = floor_share(cfg, k); !bad && i > 0; --i)
                bad = (cfg->gap_us && usleep((useconds_t) cfg->gap_us)) || floor_full(sv[1], buf, cfg->req, 1) || floor_full(sv[1], buf, cfg->rep, 0);
            _exit(bad);
        }
        close(sv[1]);
        sock[k] = sv[0];
        fds[k] = (struct pollfd) { .fd = sv[0], .events = POLLIN };
        left[k] = floor_share(cfg, k);
    }
    struct floor_cpu t0 = { 0, 0, 0 };
    int done = 0;
    while (done < cfg->trips + cfg->clients) {
        if (poll(fds, (nfds_t) cfg->clients, -1) < 0 && errno != EINTR)
            floor_die("poll", -errno);
        for (int k = 0; k < cfg->clients; ++k) {
            if (!(fds[k].revents & POLLIN))
                continue;
            if (floor_full(sock[k], buf, cfg->req, 0) || floor_full(sock[k], buf, cfg->rep, 1))
                floor_die("socketpair round trip", -EPIPE);
            if (!--left[k])
                fds[k].fd = -1;     /* it exits: its end is not a request */
            if (done++ == cfg->clients)
                t0 = floor_now();
        }
    }
    floor_print("socketpair", cfg, t0, floor_now());
    for (int k = 0; k < cfg->clients; ++k)
        close(sock[k]);
    floor_wait_clients(cfg->clients, pids);
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--client"))
        return floor_nng_client(argv[2], atoi(argv[3]), (size_t) strtoul(argv[4], NULL, 10),
                atoi(argv[5]));
    struct floor_cfg cfg = { .trips = 20000, .clients = 8, .req = 87, .rep = 13 };
    const char *only = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:c:q:p:g:s:")) != -1) {
        if (opt == 's') {
            only = optarg;
            continue;
        }
        long v = strtol(optarg, NULL, 10);
        if (opt == 'n')
            cfg.trips = (int) v;
        else if (opt == 'c')
            cfg.clients = (int) v;
        else if (opt == 'q')
            cfg.req = (size_t) v;
        else if (opt == 'p')
            cfg.rep = (size_t) v;
        else if (opt == 'g')
            cfg.gap_us = (int) v;
        else
            return 2;
    }
    if (cfg.trips < 1 || cfg.clients < 1 || cfg.clients > FLOOR_MAX_CLIENTS
            || cfg.gap_us < 0 || cfg.gap_us > 1000000 || cfg.req < 1 || cfg.req > FLOOR_MAX_BYTES || cfg.rep < 1 || cfg.rep > FLOOR_MAX_BYTES) {
        fprintf(stderr, "usage: nng_floor [-n ROUND_TRIPS] [-c CLIENTS 1..%d] [-q REQ_BYTES] "
                "[-p REP_BYTES] [-g GAP_US] [-s SERVER] (bytes 1..%d)\n", FLOOR_MAX_CLIENTS, FLOOR_MAX_BYTES);
        return 2;
    }
    /* The socketpair first: its clients fork (no exec) before this process starts nng's threads. */
    if (!only || !strcmp(only, "socketpair"))
        floor_socketpair(&cfg);
    char dir[] = "/tmp/nng_floor.XXXXXX", url[64];
    if (!mkdtemp(dir))
        floor_die("mkdtemp", -errno);
    static const struct {
        const char *name;
        void (*serve)(const struct floor_cfg *, const char *);
    } servers[] = { { "nng-rep", floor_nng_cooked }, { "nng-rep-raw", floor_nng_raw },
                    { "nng-rep-ctx", floor_nng_ctx } };
    for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); ++i) {
        if (only && strcmp(only, servers[i].name))
            continue;
        snprintf(url, sizeof(url), "ipc://%s/%zu", dir, i);
        servers[i].serve(&cfg, url);
        unlink(url + 6);
    }
    rmdir(dir);
    return 0;
}
