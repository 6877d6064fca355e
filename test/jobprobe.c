/*
 * Tests that measure how many things run at once, for test/machine.py.
 *
 * Each probe::tN counts itself in $CRMP_PROBE_DIR/state (under a lock) while
 * it runs, and holds until more than $CRMP_PROBE_LIMIT things run together
 * (the limit was broken: no need to wait longer) or $CRMP_PROBE_HOLD_MS
 * (default 300) passed.  The state keeps the most that ever ran together,
 * and the most of those that ran under the plugin ($CRMP_PROBE_PLUGIN set).
 * A probe writes one byte to the fifo $CRMP_PROBE_STARTED, when set, as it
 * starts.  probe::crashes crashes when $CRMP_PROBE_CRASH is set.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct probe_state {
    long running, most, running_plugin, most_plugin;
};

/* Applies delta to the counts under the lock; returns what runs now. */
static long probe_update(const char *dir, int delta, int plugin)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/state", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX))
        abort();
    struct probe_state s = { 0 };
    char buf[128] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0)
        sscanf(buf, "%ld %ld %ld %ld", &s.running, &s.most, &s.running_plugin, &s.most_plugin);
    s.running += delta;
    s.running_plugin += plugin ? delta : 0;
    s.most = s.running > s.most ? s.running : s.most;
    s.most_plugin = s.running_plugin > s.most_plugin ? s.running_plugin : s.most_plugin;
    int len = snprintf(buf, sizeof(buf), "%ld %ld %ld %ld\n", s.running, s.most,
            s.running_plugin, s.most_plugin);
    if (delta && (ftruncate(fd, 0) || pwrite(fd, buf, (size_t) len, 0) != len))
        abort();
    close(fd);      /* and the lock with it */
    return s.running;
}

static long probe_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void probe_run(void)
{
    const char *dir = getenv("CRMP_PROBE_DIR");
    if (!dir)
        return;
    const char *started = getenv("CRMP_PROBE_STARTED");
    long limit = getenv("CRMP_PROBE_LIMIT") ? atol(getenv("CRMP_PROBE_LIMIT")) : 1;
    long hold = getenv("CRMP_PROBE_HOLD_MS") ? atol(getenv("CRMP_PROBE_HOLD_MS")) : 300;
    int plugin = getenv("CRMP_PROBE_PLUGIN") != NULL;
    probe_update(dir, 1, plugin);
    if (started) {
        int fd = open(started, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && write(fd, "s", 1) != 1)
            abort();
        if (fd >= 0)
            close(fd);
    }
    /* The work: a fixed time, cut short once the limit is seen broken. */
    long until = probe_ms() + hold;
    const struct timespec tick = { 0, 5 * 1000 * 1000 };
    while (probe_ms() < until && probe_update(dir, 0, plugin) <= limit)
        nanosleep(&tick, NULL);
    probe_update(dir, -1, plugin);
}

#define PROBE(n) Test(probe, t##n) { probe_run(); }
PROBE(0) PROBE(1) PROBE(2) PROBE(3) PROBE(4) PROBE(5) PROBE(6) PROBE(7)

Test(probe, crashes)
{
    if (getenv("CRMP_PROBE_CRASH"))
        raise(SIGSEGV);
}
