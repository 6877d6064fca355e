/*
 * Unit tests for plugin/forkpin.c: after crmpi_forkpin_start, a forked child
 * writes the program's data without a page fault (fork copied the page);
 * without it, the same write faults (copy on write), which shows that the
 * count sees it.  Each Criterion test is a process of its
 * own, so one pins and the other does not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "forkpin.h"

/* Written by the children: pages of .data of their own, which nothing else writes. */
#define FORKPIN_PAGES 8
static volatile char forkpin_pages[FORKPIN_PAGES][4096] __attribute__((aligned(4096))) = { { 1 } };

static void forkpin_write(char c)
{
    for (int i = 0; i < FORKPIN_PAGES; ++i)
        forkpin_pages[i][0] = c;
}

static long forkpin_minflt(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return -1;
    return ru.ru_minflt;
}

/*
 * The page faults a child takes writing forkpin_pages, or -1.  A stray
 * one or two are not the writes': code the child runs for the first time
 * (fork copies no page tables for code).
 */
static __attribute__((noinline)) int forkpin_child_faults(void)
{
    /* Its calls bound here, not by the child (a lazy binding writes the GOT, by .data). */
    forkpin_minflt();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        long before = forkpin_minflt();
        forkpin_write(2);
        long after = forkpin_minflt();
        _exit(before < 0 || after < 0 ? 255 : after - before > 100 ? 100 : (int) (after - before));
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

Test(forkpin, copy_on_write_faults_without)
{
    forkpin_write(3);       /* the parent's own copies, as in the zygote */
    int n = forkpin_child_faults();
    cr_assert_geq(n, FORKPIN_PAGES, "each write to a shared page faults: %d faults", n);
}

Test(forkpin, pinned_pages_copied_at_fork)
{
    forkpin_write(3);
    size_t bytes;
    int fd = crmpi_forkpin_start(&bytes);
    if (fd == -ENOSYS || fd == -EPERM || fd == -ENOMEM || fd == -EOPNOTSUPP)
        cr_skip_test("io_uring buffer registration refused here: %s", strerror(-fd));
    cr_assert_geq(fd, 16, "a descriptor past the test process's own: %d (%s)", fd,
            fd < 0 ? strerror(-fd) : "");
    cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    cr_assert_geq(bytes, sizeof(forkpin_pages), "at least the pages written: %zu bytes", bytes);
    int n = forkpin_child_faults();
    cr_assert_leq(n, 2, "the child wrote %d pages with %d faults", FORKPIN_PAGES, n);
    for (int i = 0; i < FORKPIN_PAGES; ++i)
        cr_assert_eq(forkpin_pages[i][0], 3, "the parent's copies are its own");
    close(fd);
}
