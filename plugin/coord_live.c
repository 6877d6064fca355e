/*
 * What the coordinator says while tests run, beside the finished tests'
 * blocks: a test running past --mproc-slow (the state machine's SLOW action)
 * and, when the run is interrupted, the tests that were running then.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "coord_i.h"
#include "diag.h"

struct coord_live_running {
    uint32_t unit;
    uint32_t worker;
    int64_t elapsed_ms;
};

struct crmpi_coord_live {
    struct coord_live_running *interrupted;     /* owned: running when the signal came */
    size_t n_interrupted;
};

int crmpi_coord_live_begin(struct coord *c)
{
    c->live = calloc(1, sizeof(*c->live));
    return c->live ? 0 : -ENOMEM;
}

void crmpi_coord_live_free(struct coord *c)
{
    if (!c->live)
        return;
    free(c->live->interrupted);
    free(c->live);
    c->live = NULL;
}

static const char *coord_live_name(const struct coord *c, uint32_t unit, char *buf, size_t size)
{
    const struct criterion_test *t = c->units[unit].r.test;
    snprintf(buf, size, "%s::%s", t->category, t->name);
    return buf;
}

void crmpi_coord_live_slow(struct coord *c, const struct crmpi_cst_action *a)
{
    char name[256];
    /* Printed whatever stderr is: a CI log must show what hangs. */
    fprintf(stderr, "[SLOW] %s running for %ds\n", coord_live_name(c, a->unit, name, sizeof(name)),
            a->value);
    fflush(stderr);
}

void crmpi_coord_live_interrupted(struct coord *c, int64_t now_ms)
{
    struct crmpi_coord_live *l = c->live;
    if (!l || l->interrupted || !c->st.running)
        return;
    l->interrupted = calloc(c->st.running, sizeof(*l->interrupted));
    if (!l->interrupted)
        return;     /* the list is a courtesy: the run ends as it would without it */
    for (size_t u = 0; u < c->st.n_units && l->n_interrupted < c->st.running; ++u) {
        const struct crmpi_cst_unit *su = &c->st.units[u];
        if (su->state == CRMPI_CST_RUNNING)
            l->interrupted[l->n_interrupted++] = (struct coord_live_running) {
                .unit = (uint32_t) u, .worker = su->worker, .elapsed_ms = now_ms - su->started_ms,
            };
    }
}

void crmpi_coord_live_print_interrupted(struct coord *c)
{
    const struct crmpi_coord_live *l = c->live;
    for (size_t i = 0; l && i < l->n_interrupted; ++i) {
        char name[256];
        const struct coord_live_running *r = &l->interrupted[i];
        crmpi_warn("was running: %s on worker %u for %.1f s",
                coord_live_name(c, r->unit, name, sizeof(name)), r->worker,
                (double) r->elapsed_ms / 1000.0);
    }
}
