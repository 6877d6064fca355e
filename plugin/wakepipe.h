/*
 * The self-pipe that wakes the coordinator's (and the launcher's) poll: signal
 * handlers and nng's threads post records on it, the loop reads them back.
 * Records have one size and are written whole (atomic: under PIPE_BUF); a
 * read that ends inside one keeps its first part for the next (as libuv's
 * signal pipe does), so no record is lost or misread.
 */
#ifndef CRMPI_WAKEPIPE_H_
#define CRMPI_WAKEPIPE_H_

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum crmpi_wake_kind {
    CRMPI_WAKE_SIGNAL = 's',    /* SIGINT or SIGTERM: see crmpi_wakepipe_signal */
    CRMPI_WAKE_CHILD = 'c',     /* SIGCHLD */
    CRMPI_WAKE_PIPE = 'p',      /* an nng pipe was removed; value: its id */
};

struct crmpi_wake_rec {
    enum crmpi_wake_kind kind;
    uint32_t value;
};

/* One record on the pipe. */
#define CRMPI_WAKEPIPE_REC_LEN 8u

struct crmpi_wakepipe {
    int fd[2];                  /* -1 when closed */
    unsigned char partial[CRMPI_WAKEPIPE_REC_LEN];  /* a record's first bytes, read already */
    size_t have;                /* how many */
};

#define CRMPI_WAKEPIPE_INIT { .fd = { -1, -1 } }

/* Opens wp (non-blocking, close-on-exec).  Returns 0 or -errno. */
int crmpi_wakepipe_open(struct crmpi_wakepipe *wp);

/* Closes wp; tolerates one never opened (CRMPI_WAKEPIPE_INIT). */
void crmpi_wakepipe_close(struct crmpi_wakepipe *wp);

/* The descriptor to poll for POLLIN. */
int crmpi_wakepipe_fd(const struct crmpi_wakepipe *wp);

/*
 * Posts a record.  Async-signal-safe, thread-safe, keeps errno.  A full pipe
 * drops it: the loop is awake then anyway.
 */
void crmpi_wakepipe_post(struct crmpi_wakepipe *wp, enum crmpi_wake_kind kind, uint32_t value);

/*
 * Reads records into out (cap of them).  Returns how many (possibly 0), or
 * -EAGAIN once the pipe is empty; read until then.
 */
int crmpi_wakepipe_read(struct crmpi_wakepipe *wp, struct crmpi_wake_rec *out, size_t cap);

/* The handlers a run installs (SIGINT, SIGTERM: stop; SIGCHLD: wake), and what they replaced. */
struct crmpi_wakepipe_signals {
    struct sigaction old_int, old_term, old_chld;
};

/* Installs handlers that post to wp, until crmpi_wakepipe_signals_restore. */
void crmpi_wakepipe_signals_install(struct crmpi_wakepipe *wp,
        struct crmpi_wakepipe_signals *saved);

void crmpi_wakepipe_signals_restore(const struct crmpi_wakepipe_signals *saved);

/* The last SIGINT or SIGTERM received (ever, in this process), or 0. */
int crmpi_wakepipe_signal(void);

#endif /* !CRMPI_WAKEPIPE_H_ */
