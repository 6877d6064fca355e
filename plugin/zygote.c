#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "crit.h"
#include "diag.h"
#include "elfpatch.h"
#include "forkrun.h"
#include "reaper.h"
#include "criterion-mproc.h"
#include "fixtures.h"
#include "forkpin.h"
#include "testenv.h"
#include "zygote.h"


/*
 * What the zygote tells its worker: READY once, then for every test process
 * SPARE, with the spare's socket (the worker sends it its test directly),
 * and EXITED when it has ended.
 */
#define ZYG_READY 'R'       /* value: 0, or -errno when it cannot serve */
#define ZYG_SPARE 'S'       /* value: the spare's pid; its socket travels along */
#define ZYG_EXITED 'X'      /* value: the spare's wait status */
/*
 * What the worker says of each spare announced, one byte: its test is on
 * its way (GO), and the zygote forks the next spare while that test runs.
 * Or, at its first test, instead (struct zyg_fixture_request): run the
 * worker fixtures.  The zygote answers when that spare has ended, unused:
 * -1 as they begin, then 0, or 1 and the message as text.
 */
#define ZYG_GO 'G'
#define ZYG_FIXTURES 'F'
#define ZYG_FIXTURE_MSG_MAX 1024

#define ZYG_FDS 4           /* stdout, stderr, channel, arena */

struct zyg_reply {
    char tag;
    int value;
};

#define ZYG_NAME_MAX 256

/*
 * A test to run, by value: the zygote was born before Criterion built its
 * test set, so nothing of the worker's heap means anything to it.  What the
 * structures point to (functions, fixtures, file names) is the binary's own
 * static data, the same in both; names are carried along in case a custom
 * main made them up.  The parameter's bytes follow.
 */
struct zyg_request {
    struct criterion_test test;
    struct criterion_test_extra_data data;
    struct criterion_suite suite;
    struct criterion_test_extra_data suite_data;
    int has_suite_data;
    char name[ZYG_NAME_MAX], category[ZYG_NAME_MAX], suite_name[ZYG_NAME_MAX];
    /* The runner's options, which Criterion copies into its sandboxes. */
    struct criterion_options options;
    void *arena_addr;
    size_t arena_len;
    uint32_t param_size;
    uint8_t has_arena;
    /* The environment set since the zygote was born (crmpi_testenv_pack), fixtures' values too. */
    char env[8192];
};

struct zyg_fixture_request {
    char tag;                   /* ZYG_FIXTURES */
    char env[8192];             /* crmpi_testenv_pack's, as far as it goes */
};

/* The worker's side. */
static struct {
    pid_t pid;                  /* the zygote, 0 when none */
    int sock;                   /* our end of the pair, -1 when none */
    int tried;                  /* crmpi_zygote_start was called */
    pid_t spare;                /* the next test process, 0 until announced */
    int spare_sock;             /* where its test goes, -1 when none */
    struct rlimit nofile;       /* the limit tests must see */
    int fixtures;               /* the worker fixtures ran (or crashed) in the zygote */
    char *running;              /* shared with it: the setup it runs (crmpi_fixtures_running_in) */
    char fixture_failed[ZYG_FIXTURE_MSG_MAX];   /* their failure, "" when none */
} zyg_worker = { .sock = -1, .spare_sock = -1 };

/* ---- inside the test process ------------------------------------------------------ */

/* Where the test's messages go: the channel's descriptor, in a test process only. */
static int zyg_chan = -1;

/*
 * The test's captured stdout and stderr, kept on descriptors of their own
 * (close-on-exec) where the test's redirections do not move them: each
 * message says how much output precedes it (see CRMPI_FORKRUN_AT).  Set in
 * a test process whose descriptors are in place.
 */
enum { ZYG_OUT_FD = 4, ZYG_ERR_FD = 5 };
static int zyg_output_kept;

/* libcriterion's, found by the zygote (the plugin does not link it). */
static struct {
    void (*redirect_stdin)(void);
    int (*diff_init)(void);         /* libgit2's, for the new assertions' diffs */
    int (*diff_term)(void);
    const struct criterion_test **current_test;     /* declared const in its header */
    const struct criterion_suite **current_suite;
} zyg_crit;

/* The signals whose disposition the zygote inherited or set: a test gets them back to default. */
static int zyg_changed_signals[NSIG];
static int zyg_n_changed_signals;

/* A parameterized test's parameter, and its function (see criterion_internal_test_main). */
static void *zyg_param;
static void (*zyg_param_fn)(void *);

/*
 * libcriterion's test-side nanomsg calls, in a test process: the one
 * socket a test opens to its runner becomes the channel, every message is
 * a record on it, and every acknowledgement an OK.
 */
static int zyg_nn_socket(int domain, int protocol)
{
    (void) domain;
    (void) protocol;
    return 0;
}

static int zyg_nn_connect(int s, const char *addr)
{
    (void) s;
    (void) addr;
    return 1;
}

static int zyg_nn_send(int s, const void *buf, size_t len, int flags)
{
    (void) s;
    (void) flags;
    if (len > INT_MAX - sizeof(uint32_t)) {
        errno = EMSGSIZE;
        return -1;
    }
    uint32_t n = (uint32_t) len;
    uint64_t at[2];
    struct stat out, err;
    size_t at_len = 0;
    if (zyg_output_kept && !fstat(ZYG_OUT_FD, &out) && !fstat(ZYG_ERR_FD, &err)) {
        n |= CRMPI_FORKRUN_AT;
        at[0] = (uint64_t) out.st_size;
        at[1] = (uint64_t) err.st_size;
        at_len = sizeof(at);
    }
    struct iovec iov[3] = { { &n, sizeof(n) }, { at, at_len }, { (void *) buf, len } };
    size_t left = sizeof(n) + at_len + len;
    while (left) {
        ssize_t w = writev(zyg_chan, iov, 3);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        left -= (size_t) w;
        for (int i = 0; i < 3 && w; ++i) {
            size_t take = (size_t) w < iov[i].iov_len ? (size_t) w : iov[i].iov_len;
            iov[i].iov_base = (char *) iov[i].iov_base + take;
            iov[i].iov_len -= take;
            w -= (ssize_t) take;
        }
    }
    return (int) len;
}

/* An acknowledgement with status OK (field 1, varint 0). */
static const unsigned char zyg_ack[] = { 0x08, 0x00 };

static int zyg_nn_recv(int s, void *buf, size_t len, int flags)
{
    (void) s;
    (void) flags;
    if (len == (size_t) -1) {       /* NN_MSG: the library allocates, here a constant */
        *(const void **) buf = zyg_ack;
    } else {
        memcpy(buf, zyg_ack, len < sizeof(zyg_ack) ? len : sizeof(zyg_ack));
    }
    return (int) sizeof(zyg_ack);
}

static int zyg_nn_freemsg(void *msg)
{
    (void) msg;
    return 0;
}

static int zyg_nn_close(int s)
{
    (void) s;
    return 0;
}

static const struct crmpi_elf_redirect zyg_redirects[] = {
    { "nn_socket", (void *) zyg_nn_socket },
    { "nn_connect", (void *) zyg_nn_connect },
    { "nn_send", (void *) zyg_nn_send },
    { "nn_recv", (void *) zyg_nn_recv },
    { "nn_freemsg", (void *) zyg_nn_freemsg },
    { "nn_close", (void *) zyg_nn_close },
};

static void zyg_param_trampoline(void)
{
    zyg_param_fn(zyg_param);
}

static void (*zyg_real_test_main)(void (*)(void));

/*
 * Criterion's test trampoline calls this with the test's body.  For a
 * parameterized test, Criterion fetches the parameter from the exec'd
 * sandbox's context; a forked test process has none, so the body gets the
 * parameter the worker sent (its test copy says "not parameterized").
 * Everywhere else it is Criterion's own.
 */
CRMP_API void criterion_internal_test_main(void (*fn)(void))
{
    if (zyg_param && fn) {
        zyg_param_fn = (void (*)(void *)) fn;
        zyg_real_test_main(zyg_param_trampoline);
        return;
    }
    zyg_real_test_main(fn);
}

__attribute__((constructor)) static void zyg_init(void)
{
    *(void **) &zyg_real_test_main = dlsym(RTLD_NEXT, CRMPI_CRIT_TEST_MAIN);
}

/* A request as received: the message, its descriptors. */
struct zyg_received {
    ssize_t len;
    int fds[ZYG_FDS];
    int n_fds;
    int flags;
};

static int zyg_recv(int sock, void *buf, size_t cap, struct zyg_received *rcv)
{
    union {
        char b[CMSG_SPACE(sizeof(int) * ZYG_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { buf, cap };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                         .msg_controllen = sizeof(ctl.b) };
    do
        rcv->len = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (rcv->len < 0 && errno == EINTR);
    rcv->n_fds = 0;
    rcv->flags = mh.msg_flags;
    if (rcv->len < 0)
        return -errno;
    if (rcv->len == 0)
        return -ECONNRESET;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            rcv->n_fds = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(rcv->fds, CMSG_DATA(c), (size_t) rcv->n_fds * sizeof(int));
        }
    }
    return 0;
}

/* Sends the bytes of iov[] in one message, with n_fds descriptors.  Returns 0 or -errno. */
static int zyg_sendmsg(int sock, struct iovec *iov, int n_iov, const int *fds, int n_fds)
{
    union {
        char b[CMSG_SPACE(sizeof(int) * ZYG_FDS)];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    size_t len = 0;
    for (int i = 0; i < n_iov; ++i)
        len += iov[i].iov_len;
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t) n_iov, .msg_control = ctl.b,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) n_fds) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) n_fds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) n_fds);
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == (ssize_t) len ? 0 : -EMSGSIZE;
}

/* Whether a received request is whole and consistent. */
static int zyg_request_ok(const struct zyg_received *rcv, const struct zyg_request *req)
{
    return rcv->len >= (ssize_t) sizeof(*req) && rcv->n_fds >= 3
        && !(rcv->flags & (MSG_TRUNC | MSG_CTRUNC))
        && (size_t) rcv->len == sizeof(*req) + req->param_size
        && (!req->has_arena || rcv->n_fds >= 4);
}

/* Tells the worker, on the channel, that this process could not become the test's sandbox. */
static _Noreturn void zyg_setup_failed(int chan, const char *what, int err)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), CRMPI_ZYGOTE_SETUP_FAILED "%s: %s", what, strerror(err));
    if (n > 0 && write(chan, msg, (size_t) n < sizeof(msg) ? (size_t) n : sizeof(msg) - 1) < 0)
        _exit(126);
    _exit(126);
}

/*
 * A test process's exit runs every loaded library's destructors, and the
 * first touch of each one's code is a page fault (a fork copies no page
 * tables for code).  The zygote lists them once; a spare takes those faults
 * while it waits for its test, off the test's path.  Only reads: nothing of
 * the libraries runs early.
 */
#define ZYG_MAX_DESTRUCTORS 512
static const volatile char *zyg_destructors[ZYG_MAX_DESTRUCTORS];
static size_t zyg_n_destructors;

static void zyg_note_destructor(uintptr_t fn, void *arg)
{
    (void) arg;
    if (fn && fn != (uintptr_t) -1 && zyg_n_destructors < ZYG_MAX_DESTRUCTORS)
        zyg_destructors[zyg_n_destructors++] = (const volatile char *) fn;
}

/* The zygote's request buffer: allocated once, inherited by every spare. */
static void *zyg_buf;
static size_t zyg_buf_cap;

/*
 * A spare test process: forked ahead of need, it becomes what an exec'd
 * sandbox is before its test (default signal dispositions, a session of its
 * own), then waits for the zygote to hand it a test.
 */
static _Noreturn void zyg_spare_main(int sock, pid_t zygote)
{
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    for (int i = 0; i < zyg_n_changed_signals; ++i)
        sigaction(zyg_changed_signals[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != zygote)
        _exit(127);

    for (size_t i = 0; i < zyg_n_destructors; ++i)
        (void) *zyg_destructors[i];
    /* What Criterion's sandbox does first that needs nothing of the test: before it is known. */
    setrlimit(RLIMIT_NOFILE, &zyg_worker.nofile);
    if (zyg_crit.diff_init)
        zyg_crit.diff_init();
    struct zyg_received rcv;
    if (zyg_recv(sock, zyg_buf, zyg_buf_cap, &rcv))
        _exit(0);       /* not needed after all */
    const struct zyg_request *req = zyg_buf;
    if (!zyg_request_ok(&rcv, req)) {
        /* Never the test's doing: let the worker run it in exec mode. */
        if (rcv.n_fds >= 3)
            zyg_setup_failed(rcv.fds[2], "malformed request", EPROTO);
        _exit(127);
    }
    const void *param = req->param_size ? (const char *) zyg_buf + sizeof(*req) : NULL;
    int *fds = rcv.fds;
    int n_fds = rcv.n_fds;

    if (req->has_arena && n_fds > 3) {
        /* As in the exec'd sandbox: the runner's arena, at its address, copy-on-write. */
        void *at = mmap(req->arena_addr, req->arena_len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_FIXED_NOREPLACE, fds[3], 0);
        if (at != req->arena_addr)
            zyg_setup_failed(fds[2], "cannot map Criterion's arena", errno);
    }
    if (dup2(fds[0], STDOUT_FILENO) < 0 || dup2(fds[1], STDERR_FILENO) < 0)
        zyg_setup_failed(fds[2], "cannot set up stdout and stderr", errno);
    /* Nothing of the worker's or the zygote's: only stdio, the channel and stdout/stderr kept. */
    int chan = fds[2];
    if (chan != 3) {
        if (dup3(chan, 3, O_CLOEXEC) < 0)
            zyg_setup_failed(chan, "cannot set up the channel", errno);
        chan = 3;
    }
    zyg_output_kept = dup3(STDOUT_FILENO, ZYG_OUT_FD, O_CLOEXEC) == ZYG_OUT_FD
        && dup3(STDERR_FILENO, ZYG_ERR_FD, O_CLOEXEC) == ZYG_ERR_FD;
    close_range(zyg_output_kept ? ZYG_ERR_FD + 1 : ZYG_OUT_FD, ~0u, 0);
    zyg_chan = chan;
    /* A stdin of its own: after close_range, which would close its pipe. */
    zyg_crit.redirect_stdin();

    struct zyg_request r = *req;
    crmpi_testenv_apply(r.env, sizeof(r.env));
    r.test.name = r.name;
    r.test.category = r.category;
    r.test.data = &r.data;
    r.suite.name = r.suite_name;
    r.suite.data = r.has_suite_data ? &r.suite_data : NULL;
    criterion_options = r.options;
    if (param) {
        zyg_param = (void *) param;
        r.data.param_ = NULL;
    }
    *zyg_crit.current_test = &r.test;
    *zyg_crit.current_suite = &r.suite;
    if (r.test.test)
        r.test.test();
    if (zyg_crit.diff_term)
        zyg_crit.diff_term();
    exit(0);
}

/* ---- the zygote -------------------------------------------------------------------- */

/* The test process being served and the spare forked ahead, for the exit path. */
static volatile pid_t zyg_serving, zyg_ahead;

/* The worker is gone: take the test process along, and the spare.  Async-signal-safe. */
static void zyg_on_orphaned(int sig)
{
    (void) sig;
    pid_t p = zyg_serving;
    if (p > 0) {
        kill(-p, SIGKILL);
        kill(p, SIGKILL);
    }
    p = zyg_ahead;
    if (p > 0)
        kill(p, SIGKILL);
    _exit(0);
}

static int zyg_send(int fd, char tag, int value)
{
    struct zyg_reply r = { tag, value };
    ssize_t n;
    do
        n = send(fd, &r, sizeof(r), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t) sizeof(r) ? 0 : -1;
}

/* A spare forked, not announced yet: the zygote holds its socket's other end. */
struct zyg_spare {
    pid_t pid;                  /* 0 when none */
    int sock;
};

/*
 * Forks a spare into *s.  The zygote holds no other spare's socket then
 * (a spare that held one would keep it from seeing its worker close it).
 * Returns 0, or -1 (*s left empty).
 */
static int zyg_fork_spare(int worker_sock, struct zyg_spare *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        return -1;
    pid_t zygote = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(worker_sock);
        zyg_spare_main(sv[1], zygote);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    s->pid = zyg_ahead = pid;
    s->sock = sv[0];
    return 0;
}

/* A spare no test will have (the run ends, or the fixtures ran after it): it ends on EOF. */
static void zyg_drop_spare(struct zyg_spare *s)
{
    if (s->pid <= 0)
        return;
    close(s->sock);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    s->pid = zyg_ahead = 0;
    s->sock = -1;
}

/*
 * The worker's word on the spare just announced, blocking: ZYG_GO, or
 * ZYG_FIXTURES with its request in *req (*len bytes), or 0 when the worker
 * is gone or said something else (the spare then ends with its socket).
 */
static char zyg_worker_word(int sock, struct zyg_fixture_request *req, size_t *len)
{
    ssize_t n;
    do
        n = recv(sock, req, sizeof(*req), 0);
    while (n < 0 && errno == EINTR);
    if (n < 1 || (req->tag != ZYG_GO && req->tag != ZYG_FIXTURES))
        return 0;
    *len = (size_t) n;
    return req->tag;
}

/*
 * The worker's request to run the worker fixtures here
 * (crmpi_zygote_run_fixtures), with its test environment (the slot, what
 * the global fixtures published): every spare forked after sees them.
 */
static void zyg_take_fixtures(int sock, const struct zyg_fixture_request *req, size_t len)
{
    crmpi_testenv_apply(req->env, len - offsetof(struct zyg_fixture_request, env));
    char msg[ZYG_FIXTURE_MSG_MAX];
    if (zyg_send(sock, ZYG_FIXTURES, -1))
        return;
    int failed = crmpi_fixtures_setup(CRMP_FIXTURE_WORKER, CRMP_FIXTURE_WORKER, msg,
            sizeof(msg)) != 0;
    if (!zyg_send(sock, ZYG_FIXTURES, failed) && failed)
        send(sock, msg, strlen(msg) + 1, MSG_NOSIGNAL);
}

/*
 * Serves test processes until the worker is gone.  Each is forked ahead:
 * announced with its socket, then, once the worker says its test is on
 * its way, the next spare is forked while that test runs, so that it has
 * set itself up by the time the worker needs it.  When the test process
 * has ended, the worker hears so, then of the next spare.
 */
static void zyg_serve(int worker_sock)
{
    struct zyg_spare next = { 0, -1 };
    static struct zyg_fixture_request req;      /* 8 KiB: not on the stack the forks copy */
    for (;;) {
        if (!next.pid && zyg_fork_spare(worker_sock, &next))
            break;
        pid_t pid = next.pid;
        struct zyg_reply r = { ZYG_SPARE, pid };
        struct iovec iov = { &r, sizeof(r) };
        int rc = zyg_sendmsg(worker_sock, &iov, 1, &next.sock, 1);
        close(next.sock);
        next.sock = -1;
        next.pid = 0;
        zyg_serving = pid;
        zyg_ahead = 0;
        if (rc) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        size_t len = 0;
        char word = zyg_worker_word(worker_sock, &req, &len);
        /* Not forked now, the next spare is forked after this one ends, as a last try. */
        if (word == ZYG_GO)
            zyg_fork_spare(worker_sock, &next);
        int status;
        pid_t w;
        do
            w = waitpid(pid, &status, 0);
        while (w < 0 && errno == EINTR);
        zyg_serving = 0;
        if (zyg_send(worker_sock, ZYG_EXITED, w == pid ? status : W_EXITCODE(127, 0)) || !word)
            break;
        if (word == ZYG_FIXTURES)
            zyg_take_fixtures(worker_sock, &req, len);
    }
    zyg_drop_spare(&next);
}

static _Noreturn void zyg_main(int sock, pid_t worker)
{
    struct sigaction sa = { .sa_handler = zyg_on_orphaned };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* As after an exec: every handler back to default in the test (ignored ones too). */
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction old;
        if (sig != SIGKILL && sig != SIGSTOP && !sigaction(sig, NULL, &old)
                && (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)))
            zyg_changed_signals[zyg_n_changed_signals++] = sig;
    }
    if (getppid() != worker)
        _exit(0);
    prctl(PR_SET_NAME, "crmp-zygote");

    /* The test side uses all of them: a missing one would reach real nanomsg. */
    int rc = crmpi_elf_redirect(CRMPI_CRIT_LIBRARY, zyg_redirects,
            sizeof(zyg_redirects) / sizeof(zyg_redirects[0]));
    *(void **) &zyg_crit.redirect_stdin = dlsym(RTLD_DEFAULT, CRMPI_CRIT_REDIRECT_STDIN);
    zyg_crit.current_test = dlsym(RTLD_DEFAULT, CRMPI_CRIT_CURRENT_TEST);
    zyg_crit.current_suite = dlsym(RTLD_DEFAULT, CRMPI_CRIT_CURRENT_SUITE);
    *(void **) &zyg_crit.diff_init = dlsym(RTLD_DEFAULT, CRMPI_CRIT_DIFF_INIT);
    *(void **) &zyg_crit.diff_term = dlsym(RTLD_DEFAULT, CRMPI_CRIT_DIFF_TERM);
    if (!rc && (!zyg_crit.redirect_stdin || !zyg_crit.current_test || !zyg_crit.current_suite))
        rc = -ENOENT;
    /*
     * Every sandbox starts libgit2 (Criterion's diff engine), which starts
     * OpenSSL and libssh2: milliseconds, which is much of what Criterion
     * pays per test.  Started once here, a test's own start is a reference
     * count (its state is libgit2's initialized state either way).
     * OpenSSL's exit-time clean-up (freeing its tables) would then run in
     * every test process, for nothing a test can see: it is left out.
     */
    if (!rc && zyg_crit.diff_init) {
        OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
        zyg_crit.diff_init();
    }
    crmpi_elf_destructors(zyg_note_destructor, NULL);
    zyg_buf_cap = sizeof(struct zyg_request) + CRMPI_ZYGOTE_MAX_PARAM;
    zyg_buf = malloc(zyg_buf_cap);
    if (!zyg_buf)
        rc = -ENOMEM;
    if (!rc) {
        /* Last: what is pinned must be mapped already.  Refused, forks copy on write as always. */
        size_t pinned;
        int pin = crmpi_forkpin_start(&pinned);
        if (pin < 0)
            crmpi_debug("zygote: pages not pinned (%s): test processes copy them on write",
                    strerror(-pin));
        else
            crmpi_debug("zygote: %zu KiB pinned, copied at each fork", pinned / 1024);
    }
    if (!zyg_send(sock, ZYG_READY, rc) && !rc)
        zyg_serve(sock);
    /* The worker has ended (crmpi_zygote_finish): so do its fixtures. */
    crmpi_fixtures_teardown();
    _exit(0);
}


/* The zygote's worker fixture failed: its message follows. */
static void zyg_fixture_message(void)
{
    char *msg = zyg_worker.fixture_failed;
    ssize_t n;
    do
        n = recv(zyg_worker.sock, msg, sizeof(zyg_worker.fixture_failed) - 1, 0);
    while (n < 0 && errno == EINTR);
    msg[n > 0 ? n : 0] = '\0';
    if (!msg[0])
        snprintf(msg, sizeof(zyg_worker.fixture_failed), "worker fixture failed");
}

/* The zygote died in a worker fixture's setup: that is the failure. */
static void zyg_fixture_crashed(void)
{
    int status = 0;
    char *msg = zyg_worker.fixture_failed;
    size_t cap = sizeof(zyg_worker.fixture_failed);
    if (waitpid(zyg_worker.pid, &status, 0) == zyg_worker.pid)
        zyg_worker.pid = 0;
    char what[CRMPI_FIXTURE_RUNNING_MAX] = "worker fixture setup";
    if (zyg_worker.running && zyg_worker.running[0])
        snprintf(what, sizeof(what), "%.*s", CRMPI_FIXTURE_RUNNING_MAX - 1, zyg_worker.running);
    crmpi_fixtures_crash_message(msg, cap, what, status);
}

int crmpi_zygote_start(void)
{
    zyg_worker.tried = 1;
    if (getrlimit(RLIMIT_NOFILE, &zyg_worker.nofile))
        return -errno;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
        int e = errno;
        crmpi_warn("fork isolation unavailable (%s): tests run in exec mode", strerror(e));
        return -e;
    }
    if (crmpi_fixtures_any(CRMP_FIXTURE_WORKER)) {
        zyg_worker.running = mmap(NULL, CRMPI_FIXTURE_RUNNING_MAX, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (zyg_worker.running == MAP_FAILED)
            zyg_worker.running = NULL;
    }
    /* Nothing buffered may be written twice, by the zygote's tests. */
    fflush(NULL);
    pid_t worker = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        if (zyg_worker.running)
            crmpi_fixtures_running_in(zyg_worker.running, CRMPI_FIXTURE_RUNNING_MAX);
        /* Every test process is forked from here: none may hold the worker's token. */
        crmpi_token_forget_inherited();
        zyg_main(sv[1], worker);
    }
    int e = errno;
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        crmpi_warn("fork isolation unavailable (%s): tests run in exec mode", strerror(e));
        return -e;
    }
    zyg_worker.pid = pid;
    zyg_worker.sock = sv[0];
    struct zyg_reply r;
    ssize_t n;
    do
        n = recv(zyg_worker.sock, &r, sizeof(r), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t) sizeof(r) || r.tag != ZYG_READY || r.value) {
        crmpi_warn("fork isolation unavailable (%s): tests run in exec mode",
                n == (ssize_t) sizeof(r) && r.value ? "libcriterion's nanomsg calls not found"
                : "the zygote did not start");
        crmpi_zygote_stop();
        return -ENOSYS;
    }
    /*
     * Criterion's sandboxes (exec mode, for what fork mode cannot serve)
     * close every descriptor up to the soft limit before they exec: keep
     * the worker's low; test processes get the original back.
     */
    struct rlimit low = zyg_worker.nofile;
    if (low.rlim_cur > 1024) {
        low.rlim_cur = 1024;
        setrlimit(RLIMIT_NOFILE, &low);
    }
    crmpi_debug("zygote %ld serves fork isolation", (long) pid);
    return 0;
}

int crmpi_zygote_ready(void)
{
    return zyg_worker.pid > 0;
}

int crmpi_zygote_tried(void)
{
    return zyg_worker.tried;
}

pid_t crmpi_zygote_pid(void)
{
    return zyg_worker.pid > 0 ? zyg_worker.pid : 0;
}


void crmpi_zygote_finish(void)
{
    if (!zyg_worker.fixtures || zyg_worker.pid <= 0) {
        crmpi_zygote_stop();
        return;
    }
    /* Its spare ends with our end of its socket; then the zygote runs the teardowns. */
    if (zyg_worker.spare_sock >= 0)
        close(zyg_worker.spare_sock);
    zyg_worker.spare_sock = -1;
    close(zyg_worker.sock);
    zyg_worker.sock = -1;
    while (waitpid(zyg_worker.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    zyg_worker.pid = 0;
}

/* The zygote said something else than expected, or nothing: fork isolation is over. */
static int zyg_lost(void)
{
    crmpi_warn("fork isolation: the zygote is gone: tests run in exec mode from now on");
    crmpi_zygote_stop();
    /*
     * Its test processes are ours now (we are their subreaper) and no sandbox
     * of ours runs yet: end them before the exec-mode runner starts its own.
     */
    crmpi_subreaper_kill_all(2000);
    return -EPIPE;
}

/* Reads the zygote's next message (and the descriptor of a SPARE).  Returns 0 or -1. */
static int zyg_next(struct zyg_reply *r, int *fd)
{
    struct zyg_received rcv;
    if (zyg_recv(zyg_worker.sock, r, sizeof(*r), &rcv) || rcv.len != (ssize_t) sizeof(*r)) {
        for (int i = 0; i < rcv.n_fds; ++i)
            close(rcv.fds[i]);
        return -1;
    }
    *fd = -1;
    for (int i = 0; i < rcv.n_fds; ++i) {
        if (*fd < 0 && r->tag == ZYG_SPARE)
            *fd = rcv.fds[i];
        else
            close(rcv.fds[i]);
    }
    return r->tag == ZYG_SPARE && *fd < 0 ? -1 : 0;
}

int crmpi_zygote_run_fixtures(const char **failed)
{
    *failed = NULL;
    if (zyg_worker.pid <= 0)
        return 0;
    struct zyg_fixture_request req = { .tag = ZYG_FIXTURES };
    long len = crmpi_testenv_pack(req.env, sizeof(req.env));
    if (len < 0)
        return 0;
    size_t size = offsetof(struct zyg_fixture_request, env) + (size_t) len;
    struct zyg_reply r;
    int fd;
    /* The spare forked before them must not run a test: it ends, then the zygote reads us. */
    if (send(zyg_worker.sock, &req, size, MSG_NOSIGNAL) != (ssize_t) size
            || (zyg_worker.spare_sock < 0
                && (zyg_next(&r, &zyg_worker.spare_sock) || r.tag != ZYG_SPARE))) {
        zyg_lost();
        return 0;
    }
    close(zyg_worker.spare_sock);
    zyg_worker.spare_sock = -1;
    if (zyg_next(&r, &fd) || r.tag != ZYG_EXITED) {
        zyg_lost();
        return 0;
    }
    ssize_t n;
    int began = 0;
    for (;;) {
        do
            n = recv(zyg_worker.sock, &r, sizeof(r), 0);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(r) || r.tag != ZYG_FIXTURES || r.value >= 0)
            break;
        began = 1;
    }
    if (!began) {
        zyg_lost();
        return 0;
    }
    zyg_worker.fixtures = 1;
    if (n != (ssize_t) sizeof(r) || r.tag != ZYG_FIXTURES) {
        zyg_fixture_crashed();
        zyg_lost();
    } else if (r.value > 0) {
        zyg_fixture_message();
    }
    *failed = zyg_worker.fixture_failed[0] ? zyg_worker.fixture_failed : NULL;
    return 1;
}

int crmpi_zygote_spawn(const struct crmpi_zygote_test *t, pid_t *pid)
{
    if (zyg_worker.pid <= 0)
        return -ENOSYS;
    if (t->param_size > CRMPI_ZYGOTE_MAX_PARAM)
        return -EMSGSIZE;
    struct zyg_request req = {
        .test = *t->test,
        .data = *t->test->data,
        .suite = *t->suite,
        .has_suite_data = t->suite->data != NULL,
        .options = criterion_options,
        .arena_addr = t->arena_addr,
        .arena_len = t->arena_len,
        .param_size = (uint32_t) (t->param ? t->param_size : 0),
        .has_arena = t->arena_fd >= 0,
    };
    if (t->suite->data)
        req.suite_data = *t->suite->data;
    if (crmpi_testenv_pack(req.env, sizeof(req.env)) < 0)
        return -E2BIG;
    const char *names[] = { t->test->name, t->test->category, t->suite->name };
    char *into[] = { req.name, req.category, req.suite_name };
    for (int i = 0; i < 3; ++i) {
        if (!names[i] || strlen(names[i]) >= ZYG_NAME_MAX)
            return -ENAMETOOLONG;
        strcpy(into[i], names[i]);
    }
    if (zyg_worker.spare_sock < 0) {
        struct zyg_reply r;
        if (zyg_next(&r, &zyg_worker.spare_sock) || r.tag != ZYG_SPARE)
            return zyg_lost();
        zyg_worker.spare = r.value;
    }
    int fds[ZYG_FDS] = { t->out_fd, t->err_fd, t->chan_fd, t->arena_fd };
    struct iovec iov[2] = { { &req, sizeof(req) }, { (void *) t->param, req.param_size } };
    int rc = zyg_sendmsg(zyg_worker.spare_sock, iov, req.param_size ? 2 : 1, fds, req.has_arena ? 4 : 3);
    close(zyg_worker.spare_sock);
    zyg_worker.spare_sock = -1;
    if (rc)
        return zyg_lost();      /* the spare died before its test */
    /* The zygote forks the next spare now, while this test runs; its loss is found by the wait. */
    char go = ZYG_GO;
    while (send(zyg_worker.sock, &go, 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
    *pid = zyg_worker.spare;
    return 0;
}

int crmpi_zygote_wait(int timeout_ms, int *status)
{
    if (zyg_worker.pid <= 0)
        return -ENOSYS;
    struct pollfd p = { .fd = zyg_worker.sock, .events = POLLIN };
    int rc;
    do
        rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return -ETIMEDOUT;
    struct zyg_reply r;
    int fd;
    if (zyg_next(&r, &fd) || r.tag != ZYG_EXITED)
        return zyg_lost();
    *status = r.value;
    return 0;
}

void crmpi_zygote_stop(void)
{
    if (zyg_worker.spare_sock >= 0) {
        close(zyg_worker.spare_sock);
        zyg_worker.spare_sock = -1;
    }
    if (zyg_worker.sock >= 0) {
        close(zyg_worker.sock);
        zyg_worker.sock = -1;
    }
    if (zyg_worker.pid > 0) {
        kill(zyg_worker.pid, SIGKILL);
        waitpid(zyg_worker.pid, NULL, 0);
        zyg_worker.pid = 0;
    }
}
