/*
 * The coordinator's side of the test environment (plugin/testenv.h): which
 * CRITERION_MPROC_SLOT each worker gets, and the lines that follow a test's
 * block: [LEAK] lists the processes it left running, [KEPT] names its kept
 * CRITERION_MPROC_TMPDIR, [ARTIFACTS] says what of its artifacts was left out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "coord_i.h"
#include "runnerlink.h"

/*
 * Under the criterion-mproc runner, several binaries' coordinators run at
 * once, each with local slots 0..N-1: the runner gives each program a base
 * (its own slot times N) so that slots stay unique across the whole pool.
 */
static unsigned coord_slot_base(void)
{
    const char *base = getenv(CRMPI_ENV_RUNNER_SLOT_BASE);
    return base ? (unsigned) strtoul(base, NULL, 10) : 0;
}

/*
 * Local workers take the lowest of 0..N-1 that no live local worker holds,
 * so a replacement takes its predecessor's; remote ones take the lowest
 * from N up that no live remote worker holds: unique within the run at any
 * time, whichever host they are on.  Both are offset by the runner's base.
 */
unsigned crmpi_coord_test_slot(const struct coord *c, const struct coord_worker *w)
{
    unsigned base = coord_slot_base();
    unsigned first = w->remote ? c->opts->workers : 0;
    for (unsigned slot = first;; ++slot) {
        int taken = 0;
        for (size_t i = 0; i < c->n_workers && !taken; ++i) {
            const struct coord_worker *o = c->workers[i];
            taken = o != w && o->remote == w->remote && o->test_slot == base + slot
                && c->st.workers[o->slot].state != CRMPI_CST_W_GONE
                && (o->remote ? o->pipe != 0 : o->pid != 0);
        }
        if (!taken)
            return base + slot;
    }
}

void crmpi_coord_testenv_print(const struct crmpi_report_unit *u)
{
    const Crmp__Result *res = u->result;
    if (!res)
        return;
    if (res->n_leaked) {
        unsigned n = res->has_leaked_count ? res->leaked_count : (unsigned) res->n_leaked;
        fprintf(stderr, "[LEAK] %s::%s: left %u process%s running:", u->test->category,
                u->test->name, n, n == 1 ? "" : "es");
        for (size_t i = 0; i < res->n_leaked; ++i)
            fprintf(stderr, "%s %s", i ? ";" : "", res->leaked[i]);
        fprintf(stderr, "%s\n", n > res->n_leaked ? "; ..." : "");
    }
    if (res->kept_tmpdir)
        fprintf(stderr, "[KEPT] %s::%s: %s\n", u->test->category, u->test->name, res->kept_tmpdir);
    crmpi_coord_artifacts_print(u);
    fflush(stderr);
}
