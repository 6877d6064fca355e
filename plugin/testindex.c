#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crit.h"
#include "testindex.h"

struct crmpi_testindex_slot {
    uint64_t hash;                      /* 0: empty */
    struct criterion_suite_set *ss;
    struct criterion_test *test;
};

/* FNV-1a over "suite\0name", never 0 (0 marks an empty slot). */
static uint64_t testindex_hash(const char *suite, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *) suite; *p; ++p)
        h = (h ^ *p) * 1099511628211ull;
    h *= 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *) name; *p; ++p)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

/* The slot that holds suite::name, or the empty one where it would go. */
static struct crmpi_testindex_slot *testindex_probe(const struct crmpi_testindex *ix, uint64_t h,
        const char *suite, const char *name)
{
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t) h & mask;; i = (i + 1) & mask) {
        struct crmpi_testindex_slot *s = &ix->slots[i];
        if (!s->hash)
            return s;
        if (s->hash == h && !strcmp(s->test->name, name) && !strcmp(s->ss->suite.name, suite))
            return s;
    }
}

int crmpi_testindex_init(struct crmpi_testindex *ix, struct criterion_test_set *set)
{
    *ix = (struct crmpi_testindex) { .set = set };
    /* Not "n": FOREACH_SET's own variable. */
    size_t count = 0;
    FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            ++count;
            ix->n_plain += t->data->kind_ != CR_TEST_PARAMETERIZED;
        }
    }
    /* At most half full: short probes. */
    size_t cap = 16;
    while (cap < 2 * count)
        cap *= 2;
    ix->slots = calloc(cap, sizeof(*ix->slots));
    if (!ix->slots)
        return -ENOMEM;
    ix->cap = cap;
    FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            uint64_t h = testindex_hash(ss->suite.name, t->name);
            struct crmpi_testindex_slot *s = testindex_probe(ix, h, ss->suite.name, t->name);
            /* A name twice: the first one, as a scan of the set finds. */
            if (!s->hash)
                *s = (struct crmpi_testindex_slot) { .hash = h, .ss = ss, .test = t };
        }
    }
    return 0;
}

void crmpi_testindex_free(struct crmpi_testindex *ix)
{
    free(ix->slots);
    *ix = (struct crmpi_testindex) { 0 };
}

int crmpi_testindex_find(const struct crmpi_testindex *ix, const char *suite, const char *name,
        struct criterion_suite_set **ss, struct criterion_test **test)
{
    if (!ix->cap)
        return -ENOENT;
    const struct crmpi_testindex_slot *s = testindex_probe(ix,
            testindex_hash(suite, name), suite, name);
    if (!s->hash)
        return -ENOENT;
    *ss = s->ss;
    *test = s->test;
    return 0;
}

/*
 * Whether a worker's unit list names exactly the tests of our own set: a
 * worker running another binary must never define what this run runs.
 * (Parameter counts are checked through the fingerprint by later workers.)
 */
int crmpi_testindex_same(const struct crmpi_testindex *ix, const struct crmpi_wire_units *list)
{
    size_t theirs = 0, off = 0;
    struct crmpi_wire_unit u;
    const struct criterion_test *prev = NULL;
    while (crmpi_wire_units_next(list, &off, &u)) {
        struct criterion_suite_set *ss;
        struct criterion_test *t;
        if (crmpi_testindex_find(ix, u.suite, u.name, &ss, &t))
            return 0;
        /* One test for one name: the same test is the same name. */
        if (t != prev && t->data->kind_ != CR_TEST_PARAMETERIZED)
            ++theirs;
        prev = t;
    }
    /*
     * Every plain test must be there.  A parameterized test may be absent:
     * a generator can yield no parameter (parameter counts are checked
     * through the fingerprint of every later worker).
     */
    return theirs == ix->n_plain;
}
