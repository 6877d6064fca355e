/*
 * Units: what the queue hands out.  A unit is one test, or one parameter of
 * a parameterized test (each is a separate run with a separate result, as in
 * Criterion).  Workers enumerate units in Criterion's own order; the index in
 * that list is the unit's id on the wire.
 */
#ifndef CRMPI_UNITS_H_
#define CRMPI_UNITS_H_

#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

struct crmpi_unit {
    struct criterion_suite_set *suite;  /* borrowed from the test set */
    struct criterion_test *test;        /* borrowed from the test set */
    int param;                          /* parameter index, -1 for none */
};

struct crmpi_units {
    struct crmpi_unit *v;   /* owned */
    size_t n;
};

/*
 * Enumerates the units of suites in Criterion's run order.  A disabled test
 * is one unit whatever its parameters (Criterion reports it once).  Calls the
 * parameter generators, so it must run where cr_malloc works (inside the
 * runner).  Returns 0 or -ENOMEM; release with crmpi_units_free().
 */
int crmpi_units_enumerate(struct criterion_ordered_set *suites, struct crmpi_units *out);

void crmpi_units_free(struct crmpi_units *units);

/*
 * The units of suites, counted without calling a parameter generator (a
 * worker host has no runner for cr_malloc): 0, unknown, when an enabled
 * test is parameterized.  A bound on the workers worth starting.
 */
size_t crmpi_units_most(struct criterion_ordered_set *suites);

/* SHA-256 over the (suite, name, param) list: equal lists, equal binaries. */
struct crmpi_fingerprint {
    void *ctx;   /* owned EVP_MD_CTX */
};

int crmpi_fingerprint_begin(struct crmpi_fingerprint *fp);
int crmpi_fingerprint_add(struct crmpi_fingerprint *fp, const char *suite,
        const char *name, int param);
/* Writes 32 bytes to out and releases fp (also on error). */
int crmpi_fingerprint_end(struct crmpi_fingerprint *fp, uint8_t out[32]);

/*
 * SHA-256 of what fd reads to its end, streamed (the descriptor's offset
 * moves; the caller keeps fd).  Returns 0 or a negative errno code.
 */
int crmpi_fd_hash(int fd, uint8_t out[32]);

/*
 * SHA-256 of the running executable's content (/proc/self/exe): equal test
 * names are not enough to trust a worker, a different binary with the same
 * names must be refused even on loopback.  Reads the whole file: call once
 * per process.  Returns 0 or a negative errno code.
 */
int crmpi_exe_hash(uint8_t out[32]);

#endif /* !CRMPI_UNITS_H_ */
