#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "zygote.h"

#define CRMP_EXPORT __attribute__((visibility("default")))

/* Messages on a proxy's connection, one byte each (plus a status). */
#define ZYG_STOPPED 'S'     /* zygote -> proxy: the test process stopped */
#define ZYG_CONT 'C'        /* proxy -> zygote: the runner continued me */
#define ZYG_EXIT 'X'        /* zygote -> proxy: it ended; a wait status follows */

#define ZYG_MAX_FDS 32

/*
 * What the proxy sends; its inherited descriptors (BoxFort's maps and
 * arenas, by number) travel alongside with SCM_RIGHTS.
 */
struct zyg_request {
    pid_t proxy;
    pid_t worker;
    char map[256];      /* BoxFort's BXFI_MAP, naming the shared map of this sandbox */
    int n_fds;
    int fd_numbers[ZYG_MAX_FDS];
};

struct zyg_exit {
    char tag;
    int status;
};

typedef void (*zyg_ctor)(void);

/*
 * Worker state, inherited by the proxies (forks of the worker): only
 * async-signal-safe work happens there, so everything is prepared here.
 */
static struct {
    pid_t pid;                      /* the zygote, 0 when none */
    struct sockaddr_un addr;
    char dir[64];                   /* ours to remove; empty when in_dir was given */
    zyg_ctor ctors[16];             /* libcriterion's .init_array */
    size_t n_ctors;
    int (*main_fn)(int, char **, char **);
    int (*real_execve)(const char *, char *const[], char *const[]);
    struct rlimit nofile;           /* the limit tests must see */
} Z;

/* Set in a test process only: the pids it must see as its own and parent's. */
static pid_t zyg_pretend_pid, zyg_pretend_ppid;

CRMP_EXPORT pid_t getpid(void)
{
    return zyg_pretend_pid ? zyg_pretend_pid : (pid_t) syscall(SYS_getpid);
}

CRMP_EXPORT pid_t getppid(void)
{
    return zyg_pretend_ppid ? zyg_pretend_ppid : (pid_t) syscall(SYS_getppid);
}

/* ---- finding BoxFort's start-up ---------------------------------------------- */

static int zyg_find_ctors(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    (void) data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libcriterion.so"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        const ElfW(Dyn) *dyn = (const ElfW(Dyn) *) (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        ElfW(Addr) array = 0;
        size_t bytes = 0;
        for (; dyn->d_tag != DT_NULL; ++dyn) {
            if (dyn->d_tag == DT_INIT_ARRAY)
                array = dyn->d_un.d_ptr;
            else if (dyn->d_tag == DT_INIT_ARRAYSZ)
                bytes = dyn->d_un.d_val;
        }
        if (!array || !bytes || bytes / sizeof(zyg_ctor) > sizeof(Z.ctors) / sizeof(Z.ctors[0]))
            return 1;
        const zyg_ctor *fns = (const zyg_ctor *) (info->dlpi_addr + array);
        for (size_t k = 0; k < bytes / sizeof(zyg_ctor); ++k)
            if (fns[k] && fns[k] != (zyg_ctor) -1)
                Z.ctors[Z.n_ctors++] = fns[k];
        return 1;
    }
    return 1;
}

/* ---- the test process ------------------------------------------------------------ */

/*
 * Puts the proxy's descriptors (received as fds[]) at the numbers they had
 * there, and closes everything else but stdio, as after BoxFort's exec.
 */
static void zyg_restore_fds(const struct zyg_request *req, const int *fds)
{
    int top = 3;
    for (int i = 0; i < req->n_fds; ++i) {
        top = fds[i] >= top ? fds[i] + 1 : top;
        top = req->fd_numbers[i] >= top ? req->fd_numbers[i] + 1 : top;
    }
    int tmp[ZYG_MAX_FDS];
    for (int i = 0; i < req->n_fds; ++i)
        tmp[i] = fcntl(fds[i], F_DUPFD, top);
    int high = top + req->n_fds;
    close_range(3, (unsigned) top - 1, 0);
    close_range((unsigned) high, ~0u, 0);
    for (int i = 0; i < req->n_fds; ++i) {
        if (tmp[i] >= 0) {
            dup2(tmp[i], req->fd_numbers[i]);
            close(tmp[i]);
        }
    }
}

/* In a fork of the zygote: become what the exec'd sandbox would have been. */
static _Noreturn void zyg_become_test(const struct zyg_request *req, const int *fds)
{
    /* An exec'd sandbox starts with default handlers and no inherited fds. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    zyg_restore_fds(req, fds);
    setrlimit(RLIMIT_NOFILE, &Z.nofile);
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);

    zyg_pretend_pid = req->proxy;
    zyg_pretend_ppid = req->worker;
    if (*req->map)
        setenv("BXFI_MAP", req->map, 1);
    /* BoxFort's constructor now finds the map named after the proxy and patches main. */
    for (size_t i = 0; i < Z.n_ctors; ++i)
        Z.ctors[i]();
    char *argv[] = { (char *) "boxfort-worker", NULL };
    extern char **environ;
    exit(Z.main_fn(1, argv, environ));
}

/* ---- the zygote ------------------------------------------------------------------ */

static int zyg_send(int fd, const void *buf, size_t len)
{
    ssize_t n;
    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t) len ? 0 : -1;
}

/* The test process being served, for the zygote's exit path. */
static volatile pid_t zyg_serving;

/*
 * The worker is gone (its parent-death signal): leave no test process and
 * no socket behind.  Async-signal-safe calls only.
 */
static void zyg_on_orphaned(int sig)
{
    (void) sig;
    if (zyg_serving > 0) {
        kill(-zyg_serving, SIGKILL);
        kill(zyg_serving, SIGKILL);
    }
    unlink(Z.addr.sun_path);
    if (*Z.dir)
        rmdir(Z.dir);
    _exit(0);
}

/* Serves one proxy: forks its test process and relays until it ends. */
static void zyg_serve_one(int conn, int sigfd)
{
    struct zyg_request req;
    int fds[ZYG_MAX_FDS];
    union {
        char buf[CMSG_SPACE(sizeof(int) * ZYG_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { &req, sizeof(req) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf) };
    ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
    if (n != (ssize_t) sizeof(req) || req.n_fds < 0 || req.n_fds > ZYG_MAX_FDS)
        return;
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            got = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds, CMSG_DATA(c), (size_t) got * sizeof(int));
        }
    }
    if (got != req.n_fds) {
        for (int i = 0; i < got; ++i)
            close(fds[i]);
        return;
    }
    pid_t test = fork();
    if (test == 0)
        zyg_become_test(&req, fds);
    for (int i = 0; i < got; ++i)
        close(fds[i]);
    if (test < 0)
        return;
    zyg_serving = test;

    for (;;) {
        struct pollfd fds[2] = { { .fd = conn, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) > 0)
                ;
            int status;
            pid_t r = waitpid(test, &status, WNOHANG | WUNTRACED);
            if (r == test && WIFSTOPPED(status)) {
                char tag = ZYG_STOPPED;
                if (zyg_send(conn, &tag, 1))
                    break;
            } else if (r == test) {
                struct zyg_exit ex = { ZYG_EXIT, status };
                zyg_send(conn, &ex, sizeof(ex));
                kill(-test, SIGKILL);       /* what the test left in its group */
                zyg_serving = 0;
                return;
            }
        }
        if (fds[0].revents) {
            char tag;
            n = recv(conn, &tag, 1, 0);
            if (n == 1 && tag == ZYG_CONT) {
                kill(test, SIGCONT);
                continue;
            }
            break;      /* the proxy is gone: a timeout killed it, or its worker */
        }
    }
    kill(-test, SIGKILL);
    kill(test, SIGKILL);
    waitpid(test, NULL, 0);
    zyg_serving = 0;
}

static _Noreturn void zyg_main(int listener, pid_t worker)
{
    struct sigaction sa = { .sa_handler = zyg_on_orphaned };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != worker)
        zyg_on_orphaned(SIGTERM);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        _exit(1);
    for (;;) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(1);
        }
        zyg_serve_one(conn, sigfd);
        close(conn);
    }
}

int crmpi_zygote_start(const char *in_dir)
{
    dl_iterate_phdr(zyg_find_ctors, NULL);
    *(void **) &Z.main_fn = dlsym(RTLD_DEFAULT, "main");
    *(void **) &Z.real_execve = dlsym(RTLD_NEXT, "execve");
    if (!Z.n_ctors || !Z.main_fn || !Z.real_execve) {
        crmpi_warn("fork isolation unavailable (%s): tests run in exec mode",
                !Z.n_ctors ? "no libcriterion constructors" : !Z.main_fn
                ? "main is not exported" : "no execve");
        return -ENOSYS;
    }
    DIR *tasks = opendir("/proc/self/task");
    int threads = 0;
    for (struct dirent *d; tasks && (d = readdir(tasks));)
        threads += d->d_name[0] != '.';
    if (tasks)
        closedir(tasks);
    if (threads != 1) {
        crmpi_warn("fork isolation unavailable (%d threads at start-up): tests run in exec mode",
                threads);
        return -EBUSY;
    }

    if (getrlimit(RLIMIT_NOFILE, &Z.nofile))
        return -errno;
    Z.addr.sun_family = AF_UNIX;
    if (in_dir && strlen(in_dir) + 32 < sizeof(Z.addr.sun_path)) {
        /* The coordinator's private directory: it removes what is left. */
        snprintf(Z.addr.sun_path, sizeof(Z.addr.sun_path), "%s/zygote-%ld", in_dir, (long) getpid());
    } else {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || strlen(tmp) > 40)
            tmp = "/tmp";
        snprintf(Z.dir, sizeof(Z.dir), "%s/crmp-zygote.XXXXXX", tmp);
        if (!mkdtemp(Z.dir)) {
            crmpi_warn("fork isolation unavailable (%s): tests run in exec mode", strerror(errno));
            *Z.dir = '\0';
            return -errno;
        }
        snprintf(Z.addr.sun_path, sizeof(Z.addr.sun_path), "%s/s", Z.dir);
    }
    int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &Z.addr, sizeof(Z.addr)) || listen(lfd, 8)) {
        int e = errno;
        if (lfd >= 0)
            close(lfd);
        if (*Z.dir)
            rmdir(Z.dir);
        *Z.dir = '\0';
        crmpi_warn("fork isolation unavailable (%s): tests run in exec mode", strerror(e));
        return -e;
    }
    pid_t worker = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(lfd);
        crmpi_zygote_stop();
        return -e;
    }
    if (pid == 0)
        zyg_main(lfd, worker);
    close(lfd);
    Z.pid = pid;
    /*
     * BoxFort's child closes every descriptor up to the soft limit before it
     * would exec (20000 close() calls where the limit is 20000, per test):
     * keep the worker's limit low; test processes get the original back.
     */
    struct rlimit low = Z.nofile;
    if (low.rlim_cur > 1024) {
        low.rlim_cur = 1024;
        setrlimit(RLIMIT_NOFILE, &low);
    }
    crmpi_debug("zygote %ld serves fork isolation", (long) pid);
    return 0;
}

void crmpi_zygote_stop(void)
{
    if (Z.pid > 0) {
        kill(Z.pid, SIGKILL);
        waitpid(Z.pid, NULL, 0);
        Z.pid = 0;
    }
    if (*Z.addr.sun_path)
        unlink(Z.addr.sun_path);
    if (*Z.dir) {
        rmdir(Z.dir);
        *Z.dir = '\0';
    }
}

const char *crmpi_zygote_socket(void)
{
    return Z.pid > 0 ? Z.addr.sun_path : NULL;
}

/* ---- the proxy: BoxFort's child, where it would exec -------------------------- */

/*
 * Runs in a fork of a multi-threaded worker: async-signal-safe calls only.
 * Returns only when the zygote cannot be reached (then the real exec runs).
 */
static void zyg_proxy(char *const envp[])
{
    /* Far above BoxFort's descriptors, so that it does not hide one. */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    if (connect(fd, (struct sockaddr *) &Z.addr, sizeof(Z.addr))) {
        close(fd);
        return;
    }
    struct zyg_request req = { .proxy = (pid_t) syscall(SYS_getpid),
                               .worker = (pid_t) syscall(SYS_getppid) };
    for (size_t i = 0; envp && envp[i]; ++i) {
        if (!strncmp(envp[i], "BXFI_MAP=", 9)) {
            size_t len = strlen(envp[i] + 9);
            if (len >= sizeof(req.map)) {
                close(fd);
                return;
            }
            memcpy(req.map, envp[i] + 9, len + 1);
        }
    }
    /* What BoxFort left open for the sandbox: its maps and arenas. */
    int fds[ZYG_MAX_FDS];
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        close(fd);
        return;
    }
    char dents[4096];
    long got;
    while ((got = syscall(SYS_getdents64, dir, dents, sizeof(dents))) > 0) {
        for (long off = 0; off < got;) {
            const struct zyg_dirent64 {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (const void *) (dents + off);
            off += d->reclen;
            int num = 0;
            const char *c = d->name;
            if (*c < '0' || *c > '9')
                continue;
            for (; *c >= '0' && *c <= '9'; ++c)
                num = num * 10 + (*c - '0');
            /* stdio too: a worker points it at the test's output capture. */
            if (num == fd || num == dir)
                continue;
            if (req.n_fds == ZYG_MAX_FDS) {
                close(dir);
                close(fd);
                return;     /* more than we can carry: exec instead */
            }
            req.fd_numbers[req.n_fds] = num;
            fds[req.n_fds++] = num;
        }
    }
    close(dir);
    union {
        char buf[CMSG_SPACE(sizeof(int) * ZYG_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = { &req, sizeof(req) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (req.n_fds) {
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) req.n_fds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) req.n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) req.n_fds);
    }
    ssize_t sent;
    do
        sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent != (ssize_t) sizeof(req)) {
        close(fd);
        return;
    }
    for (;;) {
        struct zyg_exit ex;
        ssize_t n = recv(fd, &ex, sizeof(ex), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 1 && ex.tag == ZYG_STOPPED) {
            /* BoxFort's handshake: the runner waits for us to stop, then continues us. */
            raise(SIGSTOP);
            char tag = ZYG_CONT;
            if (zyg_send(fd, &tag, 1))
                _exit(127);
            continue;
        }
        if (n == (ssize_t) sizeof(ex) && ex.tag == ZYG_EXIT) {
            if (WIFSIGNALED(ex.status)) {
                int sig = WTERMSIG(ex.status);
                struct rlimit none = { 0, 0 };
                setrlimit(RLIMIT_CORE, &none);
                struct sigaction dfl = { .sa_handler = SIG_DFL };
                sigemptyset(&dfl.sa_mask);
                sigaction(sig, &dfl, NULL);
                sigset_t set;
                sigemptyset(&set);
                sigaddset(&set, sig);
                sigprocmask(SIG_UNBLOCK, &set, NULL);
                raise(sig);
                _exit(128 + sig);
            }
            _exit(WEXITSTATUS(ex.status));
        }
        _exit(127);     /* the zygote died under us */
    }
}

/*
 * BoxFort execs the sandbox with execve(exe, {"boxfort-worker", NULL}, env):
 * in a fork-mode worker, that exec is replaced (see above); anything else
 * passes through.
 */
CRMP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    const char *arg0 = argv[0];
    if (Z.pid > 0 && arg0 && !strcmp(arg0, "boxfort-worker"))
        zyg_proxy(envp);

    int (*next)(const char *, char *const[], char *const[]) = Z.real_execve;
    if (!next)
        *(void **) &next = dlsym(RTLD_NEXT, "execve");
    return next(path, argv, envp);
}
