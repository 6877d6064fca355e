#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "wakepipe.h"

static volatile sig_atomic_t wakepipe_caught;
static int wakepipe_signal_fd = -1;

int crmpi_wakepipe_open(struct crmpi_wakepipe *wp)
{
    wp->have = 0;
    if (pipe2(wp->fd, O_CLOEXEC | O_NONBLOCK)) {
        wp->fd[0] = wp->fd[1] = -1;
        return -errno;
    }
    return 0;
}

void crmpi_wakepipe_close(struct crmpi_wakepipe *wp)
{
    for (int i = 0; i < 2; ++i) {
        if (wp->fd[i] >= 0)
            close(wp->fd[i]);
        wp->fd[i] = -1;
    }
    wp->have = 0;
}

int crmpi_wakepipe_fd(const struct crmpi_wakepipe *wp)
{
    return wp->fd[0];
}

static void wakepipe_write(int fd, enum crmpi_wake_kind kind, uint32_t value)
{
    uint32_t rec[2] = { (uint32_t) kind, value };
    _Static_assert(sizeof(rec) == CRMPI_WAKEPIPE_REC_LEN, "one record size");
    ssize_t n = write(fd, rec, sizeof(rec));
    (void) n;
}

void crmpi_wakepipe_post(struct crmpi_wakepipe *wp, enum crmpi_wake_kind kind, uint32_t value)
{
    int saved = errno;
    if (wp->fd[1] >= 0)
        wakepipe_write(wp->fd[1], kind, value);
    errno = saved;
}

int crmpi_wakepipe_read(struct crmpi_wakepipe *wp, struct crmpi_wake_rec *out, size_t cap)
{
    enum { REC = CRMPI_WAKEPIPE_REC_LEN, MAX_RECS = 32 };
    uint32_t words[MAX_RECS * REC / sizeof(uint32_t)];
    unsigned char *buf = (unsigned char *) words;
    if (cap > MAX_RECS)
        cap = MAX_RECS;
    if (!cap)
        return 0;
    memcpy(buf, wp->partial, wp->have);
    ssize_t n = read(wp->fd[0], buf + wp->have, cap * REC - wp->have);
    if (n <= 0)
        return -EAGAIN;
    size_t len = wp->have + (size_t) n;
    size_t whole = len / REC;
    for (size_t i = 0; i < whole; ++i) {
        uint32_t rec[2];
        memcpy(rec, buf + i * REC, sizeof(rec));
        out[i] = (struct crmpi_wake_rec) { .kind = (enum crmpi_wake_kind) rec[0], .value = rec[1] };
    }
    wp->have = len - whole * REC;
    memcpy(wp->partial, buf + whole * REC, wp->have);
    return (int) whole;
}

static void wakepipe_on_signal(int sig)
{
    int saved = errno;
    wakepipe_caught = sig;
    if (wakepipe_signal_fd >= 0)
        wakepipe_write(wakepipe_signal_fd, CRMPI_WAKE_SIGNAL, 0);
    errno = saved;
}

static void wakepipe_on_sigchld(int sig)
{
    (void) sig;
    int saved = errno;
    if (wakepipe_signal_fd >= 0)
        wakepipe_write(wakepipe_signal_fd, CRMPI_WAKE_CHILD, 0);
    errno = saved;
}

void crmpi_wakepipe_signals_install(struct crmpi_wakepipe *wp,
        struct crmpi_wakepipe_signals *saved)
{
    wakepipe_signal_fd = wp->fd[1];
    struct sigaction stop = { .sa_handler = wakepipe_on_signal };
    struct sigaction chld = { .sa_handler = wakepipe_on_sigchld,
                              .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset(&stop.sa_mask);
    sigemptyset(&chld.sa_mask);
    sigaction(SIGINT, &stop, &saved->old_int);
    sigaction(SIGTERM, &stop, &saved->old_term);
    sigaction(SIGCHLD, &chld, &saved->old_chld);
}

void crmpi_wakepipe_signals_restore(const struct crmpi_wakepipe_signals *saved)
{
    sigaction(SIGINT, &saved->old_int, NULL);
    sigaction(SIGTERM, &saved->old_term, NULL);
    sigaction(SIGCHLD, &saved->old_chld, NULL);
    wakepipe_signal_fd = -1;
}

int crmpi_wakepipe_signal(void)
{
    return wakepipe_caught;
}
