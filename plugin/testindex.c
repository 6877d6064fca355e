#include <errno.h>
#include <string.h>

#include "crit.h"
#include "testindex.h"

int crmpi_testindex_init(struct crmpi_testindex *ix, struct criterion_test_set *set)
{
    ix->set = set;
    return 0;
}

void crmpi_testindex_free(struct crmpi_testindex *ix)
{
    ix->set = NULL;
}

int crmpi_testindex_find(const struct crmpi_testindex *ix, const char *suite, const char *name,
        struct criterion_suite_set **ss_out, struct criterion_test **test)
{
    FOREACH_SET(struct criterion_suite_set *ss, ix->set->suites) {
        if (!ss->tests || strcmp(ss->suite.name, suite))
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            if (!strcmp(t->name, name)) {
                *ss_out = ss;
                *test = t;
                return 0;
            }
        }
    }
    return -ENOENT;
}

/*
 * Whether a worker's unit list names exactly the tests of our own set: a
 * worker running another binary must never define what this run runs.
 * (Parameter counts are checked through the fingerprint by later workers.)
 */
int crmpi_testindex_same(const struct crmpi_testindex *ix, const Crmp__Hello *hello)
{
    size_t ours = 0, theirs = 0;
    FOREACH_SET(struct criterion_suite_set *ss, ix->set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            ours += t->data->kind_ != CR_TEST_PARAMETERIZED;
        }
    }
    for (size_t i = 0; i < hello->n_units; ++i) {
        const Crmp__Unit *u = hello->units[i];
        struct criterion_suite_set *ss;
        struct criterion_test *t;
        if (crmpi_testindex_find(ix, u->suite, u->name, &ss, &t))
            return 0;
        const Crmp__Unit *prev = i ? hello->units[i - 1] : NULL;
        int first = !prev || strcmp(prev->suite, u->suite) || strcmp(prev->name, u->name);
        if (first && t->data->kind_ != CR_TEST_PARAMETERIZED)
            ++theirs;
    }
    /*
     * Every plain test must be there.  A parameterized test may be absent:
     * a generator can yield no parameter (parameter counts are checked
     * through the fingerprint of every later worker).
     */
    return theirs == ours;
}
