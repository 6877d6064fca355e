/*
 * Processes: starting local workers (posix_spawn with an explicit
 * environment), watching them (pidfd, or waitid where there is none), and
 * ending process trees.  Criterion's sandboxes call setsid(): killing a
 * worker's process group does not reach them, so a worker's sandboxes are
 * found through /proc (crmpi_proc_children, the one reader of it) and killed
 * one by one, session and all.
 */
#ifndef CRMPI_PROC_H_
#define CRMPI_PROC_H_

#include <stddef.h>
#include <sys/types.h>

struct crmpi_options;
struct crmpi_token;

/* Writes the decimal of v into buf (24 bytes; no terminator); returns its length.  Async-signal-safe. */
size_t crmpi_proc_utoa(char *buf, unsigned long v);

/*
 * Calls fn(child, arg) for each child of pid's main thread (BoxFort forks
 * from it), as /proc/PID/task/PID/children lists them, until fn returns
 * non-zero.  Returns that value, 0 when every child was visited, or -errno
 * when the list cannot be read.  Async-signal-safe (open/read only) when fn
 * is.
 */
typedef int crmpi_proc_child_fn(pid_t child, void *arg);
int crmpi_proc_children(pid_t pid, crmpi_proc_child_fn *fn, void *arg);

/*
 * SIGKILLs pid, its process group, and every child of its main thread with
 * the child's own process group (its test and whatever the test forked).
 * pid is stopped first so that it starts no new child meanwhile.
 * Async-signal-safe (open/read/kill only): usable from a signal handler.
 */
void crmpi_kill_tree(pid_t pid);

/*
 * Our children that is_ours(pid, arg) does not claim are strays: test
 * sandboxes (or what tests forked) whose worker died, which we reap as the
 * subreaper.  With kill set, ends and reaps them all; otherwise reaps,
 * without waiting, those that have exited.
 */
void crmpi_proc_strays(int kill, int (*is_ours)(pid_t pid, void *arg), void *arg);

/*
 * The environment of the workers we spawn: ours, less what must not leak
 * into a worker, plus the variables that make it one.  vars is the
 * NULL-terminated array to pass to exec; its strings are borrowed from
 * environ up to n_borrowed, owned after.
 */
struct crmpi_proc_env {
    char **vars;
    size_t n, cap, n_borrowed;
    int token_fd;       /* owned; -1: none.  Inherited by each worker spawned */
};

/*
 * Builds e (zeroed or freed before) for workers of the coordinator at url.
 * token (may be NULL or empty) is passed on, on a descriptor (see
 * crmpi_token_to_fd), for local workers to prove.
 * Returns 0 or -ENOMEM; e is to be freed with crmpi_proc_env_free either way.
 */
int crmpi_proc_worker_env(struct crmpi_proc_env *e, const char *url,
        const struct crmpi_token *token, const struct crmpi_options *opts);

/* Frees what e owns; tolerates a zeroed or half-built e. */
void crmpi_proc_env_free(struct crmpi_proc_env *e);

/*
 * Starts worker id (the state machine's) with the test-visible slot (see
 * plugin/testenv.h): exe with argv and e's environment plus both and the
 * "NAME=value" strings of extra (NULL-terminated, at most
 * CRMPI_PROC_EXTRA_MAX of them; extra may be NULL), in a
 * process group of its own (one kill reaches it and its sandboxes), with
 * the signals a new process expects.  Sets *pid, and *pidfd to a pidfd that
 * becomes readable when it exits (-1 where the kernel has none: SIGCHLD and
 * crmpi_proc_exited then).  Returns 0 or -errno, after saying why; nothing
 * is left running on failure.
 */
#define CRMPI_PROC_EXTRA_MAX 3
int crmpi_proc_spawn_worker(const char *exe, char *const argv[], struct crmpi_proc_env *e,
        unsigned id, unsigned slot, const char *const *extra, pid_t *pid, int *pidfd);

/* What a spawned process gets besides its argv and environment. */
struct crmpi_proc_spawn_io {
    int keep_fd;        /* inherited as it is (close-on-exec cleared); -1: none */
    int output_fd;      /* its stdout and stderr, with /dev/null as stdin; -1: ours */
    const char *cwd;    /* NULL: ours */
};

/*
 * posix_spawn of exe in a process group of its own, with the default
 * action for SIGINT, SIGTERM and SIGPIPE and no signal blocked.  Sets *pid;
 * returns 0 or -errno.  Nothing is left running on failure.
 */
int crmpi_proc_spawn(const char *exe, char *const argv[], char *const envp[],
        const struct crmpi_proc_spawn_io *io, pid_t *pid);

/* Whether pid (watched by pidfd, or -1) has exited; it is not reaped. */
int crmpi_proc_exited(pid_t pid, int pidfd);

#endif /* !CRMPI_PROC_H_ */
