#include <criterion/stats.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diag.h"
#include "runnerlink.h"

void crmpi_runnerlink_frame(void)
{
    if (!getenv(CRMPI_ENV_RUNNER))
        return;
    /* A lost mark only delays the relay of this block to the next one. */
    while (write(STDERR_FILENO, "\x1e", 1) < 0 && errno == EINTR)
        ;
}

void crmpi_runnerlink_write_stats(const struct criterion_global_stats *stats)
{
    const char *path = getenv(CRMPI_ENV_RUNNER);
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "we");
    if (!f) {
        crmpi_warn("cannot write the run's counts for the runner to %s", path);
        return;
    }
    /* As the Synthesis counts: a skipped test was not tested. */
    fprintf(f, "%zu %zu %zu %zu %zu\n", stats->nb_tests - stats->tests_skipped, stats->tests_passed,
            stats->tests_failed, stats->tests_crashed, stats->tests_skipped);
    if (fclose(f))
        crmpi_warn("cannot write the run's counts for the runner to %s", path);
}

int crmpi_runnerlink_read_stats(const char *path, struct crmpi_runnerlink_stats *s)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int n = fscanf(f, "%lu %lu %lu %lu %lu", &s->tested, &s->passing, &s->failing,
            &s->crashing, &s->skipped);
    fclose(f);
    return n == 5 ? 0 : -EINVAL;
}
