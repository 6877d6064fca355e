/*
 * Which libcriterion is loaded, and what that release does differently:
 * the per-release half of crit.h (which includes this file and lists the
 * Criterion facts every release shares).
 *
 * Every release since 2.3.3 installs libcriterion.so.3, so neither the
 * soname nor the version the plugin was built against tells them apart.  The
 * plugin copies Criterion's structures by value and replays its private
 * formats, so it identifies the loaded library at start-up (the release
 * string the library carries, the size of its criterion_options) and the
 * rest of the plugin asks this table, never the build-time version.
 */
#ifndef CRMPI_CRIT_RELEASE_H_
#define CRMPI_CRIT_RELEASE_H_

#include <stddef.h>

/* How the release's JSON writer spells a failed assertion's message. */
enum crmpi_json_style {
    /*
     * 2.3.3, 2.4.1: printed raw; one entry per message line, continuation
     * lines indented by two spaces; a message with no line is "(null)".
     */
    CRMPI_JSON_RAW_LINES,
    /*
     * 2.4.2 and later: one string, escaped per RFC 8259 except that bytes
     * >= 0x80 are sign-extended ("\uffffffc3"); no message is "(no message)".
     */
    CRMPI_JSON_ESCAPED,
};

struct crmpi_release {
    const char *name;               /* "2.4.1" */
    size_t options_size;            /* sizeof(struct criterion_options) there */
    enum crmpi_json_style json;
    /*
     * 2.4.2 and later: an eq() whose actual and expected stringify to the
     * same bytes logs "@@@ <no difference -- ...>" instead of a diff.
     */
    unsigned equal_params_no_difference : 1;
    /* criterion/new/assert.h exists (2.4 and later). */
    unsigned new_assert_api : 1;
    /*
     * The runner makes cr_malloc usable only after the PRE_ALL hook (2.3.3):
     * the worker calls the parameter generators at its first PRE_SUITE.
     */
    unsigned alloc_after_pre_all : 1;
    /*
     * Fork isolation reproduces the release's results (2.4 and later);
     * otherwise --mproc-isolation=fork runs in exec mode, said once.
     */
    unsigned fork_isolation : 1;
    /*
     * Report paths: "-" is stdout and a directory gets "<exe>.<ext>" in it
     * (2.4 and later); 2.3.3 writes "-" to stderr and opens any path as is.
     */
    unsigned output_paths_24 : 1;
};

/*
 * The loaded release, identified once (thread-unsafe first call, made
 * before any thread starts); NULL when libcriterion is absent or unknown.
 */
const struct crmpi_release *crmpi_release_loaded(void);

/*
 * What was found, for the refusal line: "release 2.5.0, criterion_options
 * of 160 bytes, in /usr/lib/.../libcriterion.so.3" (static storage).
 */
const char *crmpi_release_found(void);

/*
 * Whether the executable itself carries Criterion's release string: a
 * Criterion linked statically (a first call, before crmpi_release_loaded).
 */
int crmpi_release_in_executable(void);

/* The releases the plugin knows, as "2.3.3, 2.4.1, 2.4.2, 2.4.3". */
const char *crmpi_release_supported(void);

/*
 * The table lookup behind crmpi_release_loaded, for tests: NULL unless both
 * the name and the size (0: not checked) match a known release.
 */
const struct crmpi_release *crmpi_release_lookup(const char *name, size_t options_size);

#endif /* !CRMPI_CRIT_RELEASE_H_ */
