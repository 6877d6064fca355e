/*
 * The test binary of test/live.py: a few quick tests and one that blocks
 * until the driver releases it, so that the driver sees a test running
 * for as long as it needs, without sleeping.
 *
 * live::blocked opens the FIFO named by CRMP_LIVE_FIFO and reads one byte:
 * opening tells the driver it runs (its writer's open returns), the byte
 * (or the writer closing) lets it end.  Without the variable it passes at
 * once.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

Test(live, blocked)
{
    const char *fifo = getenv("CRMP_LIVE_FIFO");
    if (!fifo)
        return;
    int fd = open(fifo, O_RDONLY);
    cr_assert(fd >= 0, "cannot open %s", fifo);
    char c;
    cr_assert(read(fd, &c, 1) >= 0);
    close(fd);
}

Test(live, quick_a) { cr_assert(1); }
Test(live, quick_b) { cr_assert(1); }
Test(live, quick_c) { cr_assert(1); }
Test(live, quick_d) { cr_assert(1); }
Test(live, failing) { cr_expect(0, "fails on purpose"); }
