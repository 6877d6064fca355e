/*
 * Resource limits: plain Criterion runs under a tight `ulimit` where a
 * coordinator and its workers cannot (each worker is a process with nng's
 * dozen threads and two dozen descriptors).  Rather than report passing
 * tests as crashed, the plugin checks the limits before it starts and, when
 * they are too tight, stops with one line that names the limit.
 */
#ifndef CRMPI_RLIMITS_H_
#define CRMPI_RLIMITS_H_

#include <stddef.h>
#include <stdint.h>

#define CRMPI_RLIM_NONE UINT64_MAX   /* unlimited */

/* The soft limits that matter, as `ulimit` shows them. */
struct crmpi_rlimits {
    uint64_t as_kib;      /* RLIMIT_AS in KiB (ulimit -v) */
    uint64_t nofile;      /* RLIMIT_NOFILE (ulimit -n) */
    uint64_t nproc;       /* RLIMIT_NPROC (ulimit -u): threads count too */
    uint64_t nproc_used;  /* threads the user runs now (0 when nproc does not matter) */
    int nproc_exempt;     /* root: RLIMIT_NPROC is not enforced */
    long ncpu;            /* online CPUs (nng's thread pools scale with it) */
};

/* Reads this process's limits. */
void crmpi_rlimits_get(struct crmpi_rlimits *out);

/*
 * The finite limits among those above, "ulimit -v 120000, ulimit -n 20",
 * in buf (empty when none is set).
 */
void crmpi_rlimits_describe(const struct crmpi_rlimits *l, char *buf, size_t len);

/* Address space below which workers cannot start BoxFort sandboxes. */
#define CRMPI_RLIMITS_MIN_AS_KIB 65536u

/* Descriptors one worker needs (measured: 23 at rest, with margin). */
#define CRMPI_RLIMITS_MIN_NOFILE 32u

/*
 * Threads and processes a run with `workers` local workers needs at least
 * (the coordinator, each worker with nng's threads, a test process each).
 */
uint64_t crmpi_rlimits_nproc_needed(long ncpu, unsigned workers);

/*
 * The pre-flight check, pure: returns 0 when a run with `workers` local
 * workers fits in l, or -ENOMEM / -EMFILE / -EAGAIN with one line naming the limit
 * and what is needed in msg.
 */
int crmpi_rlimits_check(const struct crmpi_rlimits *l, unsigned workers, char *msg, size_t len);

#endif /* !CRMPI_RLIMITS_H_ */
