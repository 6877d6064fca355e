#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "diag.h"
#include "options.h"
#include "criterion-mproc.h"
#include "proc.h"
#include "reaper.h"
#include "testenv.h"
#include "worker.h"

extern char **environ;

size_t crmpi_proc_utoa(char *buf, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; ++i)
        buf[i] = tmp[n - 1 - i];
    return n;
}

int crmpi_proc_children(pid_t pid, crmpi_proc_child_fn *fn, void *arg)
{
    /* "/proc/<pid>/task/<pid>/children", without snprintf: async-signal-safe. */
    char path[64] = "/proc/";
    size_t len = 6;
    len += crmpi_proc_utoa(path + len, (unsigned long) pid);
    for (const char *s = "/task/"; *s; ++s)
        path[len++] = *s;
    len += crmpi_proc_utoa(path + len, (unsigned long) pid);
    for (const char *s = "/children"; *s; ++s)
        path[len++] = *s;
    path[len] = '\0';

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[4096];
    unsigned long cur = 0;
    int in_number = 0, rc = 0;
    ssize_t n;
    while (!rc && (n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n && !rc; ++i) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                cur = cur * 10 + (unsigned long) (buf[i] - '0');
                in_number = 1;
            } else if (in_number) {
                rc = fn((pid_t) cur, arg);
                cur = 0;
                in_number = 0;
            }
        }
    }
    if (!rc && in_number)
        rc = fn((pid_t) cur, arg);
    close(fd);
    return rc;
}

static int proc_kill_child(pid_t child, void *arg)
{
    (void) arg;
    kill(-child, SIGKILL);
    kill(child, SIGKILL);
    return 0;
}

void crmpi_kill_tree(pid_t pid)
{
    if (pid <= 0)
        return;
    if (pid != getpid())
        kill(pid, SIGSTOP);
    crmpi_proc_children(pid, proc_kill_child, NULL);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

struct proc_strays {
    int kill;
    int (*is_ours)(pid_t, void *);
    void *arg;
};

static int proc_stray(pid_t child, void *arg)
{
    const struct proc_strays *s = arg;
    if (s->is_ours(child, s->arg))
        return 0;
    if (s->kill)
        crmpi_kill_tree(child);
    /* A sandbox killed with its worker leaves BoxFort's arena file behind. */
    if (waitpid(child, NULL, s->kill ? 0 : WNOHANG) == child)
        crmpi_leftovers_remove_sandbox(child);
    return 0;
}

void crmpi_proc_strays(int kill, int (*is_ours)(pid_t pid, void *arg), void *arg)
{
    struct proc_strays s = { kill, is_ours, arg };
    crmpi_proc_children(getpid(), proc_stray, &s);
}

/* ---- environment ---------------------------------------------------------------- */

/* Keeps room for the id and slot variables and the terminator. */
static int proc_env_reserve(struct crmpi_proc_env *e, size_t more)
{
    if (e->n + more + 3 + CRMPI_PROC_EXTRA_MAX <= e->cap)
        return 0;
    size_t cap = e->n + more + 3 + CRMPI_PROC_EXTRA_MAX + 8;
    char **grown = realloc(e->vars, cap * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    e->vars = grown;
    e->cap = cap;
    return 0;
}

__attribute__((format(printf, 2, 3)))
static int proc_env_add(struct crmpi_proc_env *e, const char *fmt, ...)
{
    if (proc_env_reserve(e, 1))
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&e->vars[e->n], fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -ENOMEM;
    e->vars[++e->n] = NULL;
    return 0;
}

int crmpi_proc_worker_env(struct crmpi_proc_env *e, const char *url,
        const struct crmpi_token *token, const struct crmpi_options *opts)
{
    static const char *const dropped[] = {
        "BXFI_MAP=", "CRITERION_OUTPUTS=", "CRITERION_ENABLE_TAP=", "CRITERION_MPROC",
        "CRITERION_JOBS=",
    };
    /* But what the fixtures published, or the failure every test reports: workers need them. */
    static const char *const kept[] = { CRMP_GLOBAL_PREFIX, CRMP_FIXTURE_FAILED_ENV "=" };
    size_t n = 0;
    while (environ[n])
        ++n;
    *e = (struct crmpi_proc_env) { .token_fd = -1 };
    if (proc_env_reserve(e, n))
        return -ENOMEM;
    for (size_t i = 0; i < n; ++i) {
        int keep = 1;
        for (size_t d = 0; d < sizeof(dropped) / sizeof(dropped[0]); ++d)
            if (!strncmp(environ[i], dropped[d], strlen(dropped[d])))
                keep = 0;
        for (size_t k = 0; k < sizeof(kept) / sizeof(kept[0]); ++k)
            if (!strncmp(environ[i], kept[k], strlen(kept[k])))
                keep = 1;
        if (keep)
            e->vars[e->n++] = environ[i];
    }
    e->vars[e->n] = NULL;
    e->n_borrowed = e->n;

    int rc = proc_env_add(e, "%s=worker", CRMPI_ENV_ROLE);
    if (!rc)
        rc = proc_env_add(e, "%s=%s", CRMPI_ENV_URL, url);
    if (!rc)
        rc = proc_env_add(e, "%s=%ld", CRMPI_ENV_PARENT, (long) getpid());
    if (!rc)
        rc = proc_env_add(e, "%s=%u", CRMPI_ENV_TEST_WORKERS, opts->workers);
    /* Local workers prove the token like remote ones; it never goes in an environment. */
    if (!rc && token && token->len) {
        e->token_fd = crmpi_token_to_fd(token);
        rc = e->token_fd < 0 ? e->token_fd : 0;
        if (!rc)
            rc = proc_env_add(e, "%s=%d", CRMPI_ENV_TOKEN_FD, e->token_fd);
    }
    if (!rc && opts->tls_ca)
        rc = proc_env_add(e, "%s=%s", CRMPI_ENV_TLS_CA, opts->tls_ca);
    if (!rc)
        rc = proc_env_add(e, "%s=%u", CRMPI_ENV_CONNECT_TIMEOUT, opts->connect_timeout);
    if (!rc && opts->fork_isolation)
        rc = proc_env_add(e, "%s=fork", CRMPI_ENV_ISOLATION);
    /* Workers do not see --mproc-verbose (their arguments are Criterion's): tell them. */
    if (!rc && opts->verbose)
        rc = proc_env_add(e, "%s=%d", CRMPI_ENV_VERBOSE, opts->verbose);
    return rc;
}

void crmpi_proc_env_free(struct crmpi_proc_env *e)
{
    for (size_t i = e->n_borrowed; e->vars && i < e->n; ++i)
        free(e->vars[i]);
    /* Zeroed and never built: no descriptor to close (0 is not ours). */
    if (e->vars && e->token_fd >= 0)
        close(e->token_fd);
    free(e->vars);
    *e = (struct crmpi_proc_env) { .token_fd = -1 };
}

/* ---- spawning and watching ----------------------------------------------------------- */

int crmpi_proc_spawn(const char *exe, char *const argv[], char *const envp[],
        const struct crmpi_proc_spawn_io *io, pid_t *pid)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    int rc = posix_spawnattr_init(&attr);
    if (rc)
        return -rc;
    rc = posix_spawn_file_actions_init(&actions);
    if (rc)
        goto out_attr;
    if (io->keep_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&actions, io->keep_fd, io->keep_fd);
    if (!rc && io->output_fd >= 0) {
        rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        if (!rc)
            rc = posix_spawn_file_actions_adddup2(&actions, io->output_fd, 1);
        if (!rc)
            rc = posix_spawn_file_actions_adddup2(&actions, io->output_fd, 2);
    }
    if (!rc && io->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&actions, io->cwd);
    /* Own process group: one kill reaches the worker and its test sandboxes. */
    if (!rc)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                | POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawn(pid, exe, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
out_attr:
    posix_spawnattr_destroy(&attr);
    return -rc;
}

int crmpi_proc_spawn_worker(const char *exe, char *const argv[], struct crmpi_proc_env *e,
        unsigned id, unsigned slot, const char *const *extra, pid_t *pid, int *pidfd)
{
    char id_env[64], slot_env[64];
    snprintf(id_env, sizeof(id_env), "%s=%u", CRMPI_ENV_ID, id);
    snprintf(slot_env, sizeof(slot_env), "%s=%u", CRMPI_ENV_TEST_SLOT, slot);
    /* crmpi_proc_worker_env keeps room for them. */
    size_t n = e->n;
    e->vars[n++] = id_env;
    e->vars[n++] = slot_env;
    for (size_t i = 0; extra && extra[i]; ++i) {
        CRMPI_ASSERT(i < CRMPI_PROC_EXTRA_MAX);
        e->vars[n++] = (char *) extra[i];
    }
    e->vars[n] = NULL;
    const struct crmpi_proc_spawn_io io = { .keep_fd = e->token_fd, .output_fd = -1 };
    int rc = crmpi_proc_spawn(exe, argv, e->vars, &io, pid);
    e->vars[e->n] = NULL;
    *pidfd = -1;
    if (rc) {
        *pid = 0;
        crmpi_error("cannot start a worker (%s): %s", exe, strerror(-rc));
        return rc;
    }
    /*
     * A pidfd makes the exit pollable; where there is none (old kernels,
     * valgrind) SIGCHLD wakes the loop and crmpi_proc_exited asks waitid.
     */
    *pidfd = pidfd_open(*pid, 0);
    if (*pidfd < 0 && errno != ENOSYS) {
        rc = -errno;
        crmpi_error("cannot watch worker %u: %s", id, strerror(errno));
        crmpi_kill_tree(*pid);
        waitpid(*pid, NULL, 0);
        *pid = 0;
        return rc;
    }
    crmpi_debug("worker %u started, pid %ld (slot %u)", id, (long) *pid, slot);
    return 0;
}

int crmpi_proc_exited(pid_t pid, int pidfd)
{
    if (pidfd >= 0) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        return poll(&p, 1, 0) == 1;
    }
    siginfo_t info = { 0 };
    return !waitid(P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) && info.si_pid;
}
