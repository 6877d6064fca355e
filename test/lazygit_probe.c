/*
 * plugin/lazygit.c in a plain program (no sandbox: criterion_initialize is
 * refused in one).  Exits 0 when libcriterion's start of libgit2 was noted,
 * not made, and then made exactly once ("flush") or never ("never"), the
 * shutdown in criterion_finalize balancing it either way.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crit.h"
#include "lazygit.h"

#define PROBE_CHECK(cond)                                               \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "lazygit_probe: %s: failed: %s\n", mode, #cond); \
            return 1;                                                   \
        }                                                               \
    } while (0)

int main(int argc, char *argv[])
{
    const char *mode = argc > 1 ? argv[1] : "";
    int (*shutdown)(void);
    *(void **) &shutdown = dlsym(RTLD_DEFAULT, CRMPI_CRIT_DIFF_TERM);
    if (!shutdown) {
        fprintf(stderr, "lazygit_probe: no libgit2 in this Criterion: skipped\n");
        return 77;
    }
    PROBE_CHECK(crmpi_lazygit_install() == 0);
    PROBE_CHECK(!crmpi_lazygit_pending());
    struct criterion_test_set *set = criterion_initialize();
    PROBE_CHECK(crmpi_lazygit_pending());
    if (!strcmp(mode, "flush")) {
        crmpi_lazygit_flush();
        PROBE_CHECK(!crmpi_lazygit_pending());
    }
    criterion_finalize(set);
    /* libgit2's own count: back at zero, so one more shutdown finds it stopped (< 0). */
    PROBE_CHECK(shutdown() < 0);
    return 0;
}
