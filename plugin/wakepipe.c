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
}

int crmpi_wakepipe_fd(const struct crmpi_wakepipe *wp)
{
    return wp->fd[0];
}

static void wakepipe_write(int fd, enum crmpi_wake_kind kind, uint32_t value)
{
    char buf[1 + sizeof(value)] = { (char) kind };
    size_t len = 1;
    if (kind == CRMPI_WAKE_PIPE) {
        memcpy(buf + 1, &value, sizeof(value));
        len += sizeof(value);
    }
    ssize_t n = write(fd, buf, len);
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
    char buf[256];
    size_t want = cap < sizeof(buf) ? cap : sizeof(buf);
    ssize_t n = read(wp->fd[0], buf, want);
    if (n <= 0)
        return -EAGAIN;
    int k = 0;
    for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == CRMPI_WAKE_CHILD || buf[i] == CRMPI_WAKE_SIGNAL) {
            out[k++] = (struct crmpi_wake_rec) { .kind = (enum crmpi_wake_kind) buf[i] };
        } else if (buf[i] == CRMPI_WAKE_PIPE && i + 1 + (ssize_t) sizeof(uint32_t) <= n) {
            uint32_t id;
            memcpy(&id, buf + i + 1, sizeof(id));
            i += sizeof(id);
            out[k++] = (struct crmpi_wake_rec) { .kind = CRMPI_WAKE_PIPE, .value = id };
        }
    }
    return k;
}

static void wakepipe_on_signal(int sig)
{
    wakepipe_caught = sig;
    if (wakepipe_signal_fd >= 0)
        wakepipe_write(wakepipe_signal_fd, CRMPI_WAKE_SIGNAL, 0);
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
