/*
 * The shell's side of --mproc-retries (the policy is the state machine's):
 * a failed try that runs again is kept with its unit and printed as a try;
 * a test that passes on a later try is FLAKY.  Each test stays one result in
 * every report (its final try); the JUnit report also carries its tries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crit.h"
#include "coord_i.h"
#include "diag.h"
#include "junit.h"

/* Criterion's line prefixes are four characters wide, like its own "[FAIL]". */
static const struct criterion_prefix_data retry_prefix_try = { "TRY ", "\33[0;33m" };
static const struct criterion_prefix_data retry_prefix_flaky = { "FLKY", "\33[0;33m" };

static unsigned retry_max_tries(const struct coord *c, uint32_t id)
{
    return id < c->st.n_units ? c->st.units[id].info.retries + 1 : 1;
}

static void retry_param(const struct coord_unit *u, char *buf, size_t size)
{
    *buf = '\0';
    if (u->r.param >= 0)
        snprintf(buf, size, " [param %d]", u->r.param);
}

void crmpi_coord_try_keep(struct coord *c, uint32_t id, unsigned try_no)
{
    struct coord_unit *u = &c->units[id];
    Crmp__Envelope *env = c->result;
    if (!env)
        return;
    Crmp__Envelope **grown = realloc(u->tries, (u->n_tries + 1) * sizeof(*grown));
    if (!grown) {
        crmpi_error("out of memory: try %u of %s::%s is not kept", try_no, u->r.test->category,
                u->r.test->name);
        return;     /* c->result is freed by the caller's clean-up */
    }
    u->tries = grown;
    u->tries[u->n_tries++] = env;
    c->result = NULL;
    char param[32];
    retry_param(u, param, sizeof(param));
    criterion_plog(CRITERION_IMPORTANT, &retry_prefix_try, "%s::%s%s: try %u of %u failed, "
            "running it again\n", u->r.test->category, u->r.test->name, param, try_no,
            retry_max_tries(c, id));
    struct crmpi_report_unit r = u->r;
    r.result = env->result;
    crmpi_report_unit(&c->report, &r);
    crmpi_coord_testenv_print(&r);
}

void crmpi_coord_try_last(struct coord *c, uint32_t id)
{
    struct coord_unit *u = &c->units[id];
    if (!u->n_tries || u->env)
        return;
    /* Printed already, as a try: now it is the result. */
    u->env = u->tries[--u->n_tries];
    u->r.result = u->env->result;
}

void crmpi_coord_try_final(struct coord *c, uint32_t id)
{
    struct coord_unit *u = &c->units[id];
    if (!u->n_tries || !u->r.result || crmpi_junit_kind_of(u->r.result) != CRMPI_JUNIT_PASS)
        return;
    char param[32];
    retry_param(u, param, sizeof(param));
    criterion_plog(CRITERION_IMPORTANT, &retry_prefix_flaky, "%s::%s%s: FLAKY, passed on try "
            "%u of %u\n", u->r.test->category, u->r.test->name, param, u->n_tries + 1,
            retry_max_tries(c, id));
}

int crmpi_coord_flaky_verdict(const struct coord *c)
{
    size_t flaky = 0;
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct coord_unit *u = &c->units[i];
        flaky += u->n_tries && u->r.result && crmpi_junit_kind_of(u->r.result) == CRMPI_JUNIT_PASS;
    }
    if (!flaky)
        return 0;
    fprintf(stderr, "criterion-mproc: %zu flaky test%s (passed on a later try)%s\n", flaky,
            flaky == 1 ? "" : "s", c->opts->flaky_fails ? ": the run fails (--mproc-flaky-fails)"
            : "");
    /* With the recap's layout: one line each, with the try that passed. */
    for (size_t i = 0; i < c->n_units; ++i) {
        const struct coord_unit *u = &c->units[i];
        if (!u->n_tries || !u->r.result || crmpi_junit_kind_of(u->r.result) != CRMPI_JUNIT_PASS)
            continue;
        char param[32];
        retry_param(u, param, sizeof(param));
        fprintf(stderr, "criterion-mproc:   %-7s %s::%s%s  passed on try %u of %u\n", "FLAKY",
                u->r.test->category, u->r.test->name, param, u->n_tries + 1,
                retry_max_tries(c, (uint32_t) i));
    }
    return c->opts->flaky_fails ? 1 : 0;
}

void crmpi_coord_tries_free(struct coord_unit *u)
{
    for (unsigned i = 0; i < u->n_tries; ++i)
        crmpi_wire_free(u->tries[i]);
    free(u->tries);
    u->tries = NULL;
    u->n_tries = 0;
}
