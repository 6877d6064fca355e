/*
 * Finding a test of this binary by suite and name: how the coordinator maps
 * the units a worker lists onto its own test set.
 */
#ifndef CRMPI_TESTINDEX_H_
#define CRMPI_TESTINDEX_H_

#include <criterion/criterion.h>

#include "wire_units.h"

struct crmpi_testindex_slot;

/* An open-addressing hash table of the set's tests by suite and name. */
struct crmpi_testindex {
    struct criterion_test_set *set;     /* borrowed */
    struct crmpi_testindex_slot *slots; /* owned; cap of them, a power of two */
    size_t cap;
    size_t n_plain;                     /* tests that are not parameterized */
};

/* Indexes set (borrowed: it must outlive ix).  Returns 0 or -ENOMEM. */
int crmpi_testindex_init(struct crmpi_testindex *ix, struct criterion_test_set *set);

/* Frees what ix owns; tolerates a zeroed one. */
void crmpi_testindex_free(struct crmpi_testindex *ix);

/*
 * The test suite::name of the set, and its suite; returns -ENOENT (and sets
 * nothing) when the set has none.
 */
int crmpi_testindex_find(const struct crmpi_testindex *ix, const char *suite, const char *name,
        struct criterion_suite_set **ss, struct criterion_test **test);

/*
 * Whether a worker's unit list names exactly the tests of the set: every
 * plain test, and nothing the set lacks.
 */
int crmpi_testindex_same(const struct crmpi_testindex *ix, const struct crmpi_wire_units *list);

#endif /* !CRMPI_TESTINDEX_H_ */
