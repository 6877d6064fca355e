/*
 * Test artifacts (README "Test environment", "Artifacts"): what a test
 * leaves in its CRITERION_MPROC_ARTIFACTS directory is sent by its worker
 * over the coordinator's connection (Artifact messages, plugin/mproc.proto)
 * and written under --mproc-artifacts=DIR/<suite>/<test>/ by the
 * coordinator.
 *
 * This file holds the pure pieces both ends and the decoder share: the
 * rules for a path from the wire, the size option, the per-test cap and the
 * directory name of a unit.  No I/O.
 */
#ifndef CRMPI_ARTIFACTS_H_
#define CRMPI_ARTIFACTS_H_

#include <stddef.h>
#include <stdint.h>

/* --mproc-artifacts-max by default: what one test (one try) may leave. */
#define CRMPI_ARTIFACTS_DEFAULT_MAX (64ull * 1024 * 1024)
/* A file is sent in pieces of this size: messages stay far below CRMPI_WIRE_MAX_MSG. */
#define CRMPI_ARTIFACTS_CHUNK (1u << 20)
/* A relative path from the wire: at most this long, this many components deep. */
#define CRMPI_ARTIFACTS_PATH_MAX 1024u
#define CRMPI_ARTIFACTS_DEPTH_MAX 32u
/* Notes ("symlink x not followed") a Result carries at most; more are counted. */
#define CRMPI_ARTIFACTS_NOTES_MAX 8u

/*
 * Whether path names a place inside the artifact directory: relative,
 * '/'-separated, no empty, "." or ".." component, no control character, at
 * most CRMPI_ARTIFACTS_PATH_MAX bytes and CRMPI_ARTIFACTS_DEPTH_MAX deep.
 * 1 or 0; NULL is not.
 */
int crmpi_artifacts_path_ok(const char *path);

/*
 * Parses a size: decimal bytes with an optional K, M or G suffix (powers of
 * 1024; a trailing "iB" or "B" is accepted).  Returns 0 and sets *out, or
 * -EINVAL (not a size, or beyond 2^62).
 */
int crmpi_artifacts_parse_size(const char *s, uint64_t *out);

/* Formats n bytes for a message ("512 B", "1.5 MiB") into buf; returns buf. */
const char *crmpi_artifacts_fmt_size(uint64_t n, char *buf, size_t len);

/*
 * The cap of one test's artifacts: what is taken and what was left out.
 * crmpi_artifacts_budget_take says whether a file of size n fits (and
 * counts it as taken, or as left out).
 */
struct crmpi_artifacts_budget {
    uint64_t max;
    uint64_t taken;             /* bytes of the files taken */
    unsigned files;             /* files taken */
    uint64_t left_bytes;        /* bytes of the files left out */
    unsigned left_files;        /* files left out */
};

void crmpi_artifacts_budget_init(struct crmpi_artifacts_budget *b, uint64_t max);
int crmpi_artifacts_budget_take(struct crmpi_artifacts_budget *b, uint64_t n);

/*
 * The directory of one unit under DIR, relative: "<suite>/<test>" or, for
 * one parameter of a parameterized test, "<suite>/<test>[N]" (the JUnit
 * report's name).  A '/' or a leading '.' in a name becomes '_' (a name is
 * one component, never "." or "..").  Returns 0, or -ENAMETOOLONG.
 */
int crmpi_artifacts_unit_dir(const char *suite, const char *test, int param, char *buf,
        size_t len);

#endif /* !CRMPI_ARTIFACTS_H_ */
