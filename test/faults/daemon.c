/*
 * A test that leaves processes behind on request (FAULT_DAEMON=1): an
 * ordinary child, and a double-forked setsid() daemon that ignores SIGTERM,
 * then hangs.  For run_faults.py's coordinator-sigkill-daemon case: after
 * the coordinator is SIGKILLed, both must be gone within 3 s.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

static void daemon_ready(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/daemon.ready", getenv("FAULT_DIR"));
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
}

Test(daemon, leaves_a_child_and_a_daemon)
{
    if (!getenv("FAULT_DAEMON") || !getenv("FAULT_DIR"))
        return;
    /* An ordinary child first: it exists once fork() returns. */
    if (fork() == 0)
        for (;;)
            pause();
    if (fork() == 0) {
        if (fork() == 0) {
            setsid();
            signal(SIGTERM, SIG_IGN);
            if (fork() == 0) {
                /* The daemon itself says it runs: the case waits for this. */
                daemon_ready();
                for (;;)
                    pause();
            }
        }
        _exit(0);
    }
    for (;;)
        pause();
}
