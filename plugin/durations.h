/*
 * The durations database: what each unit took and how it ended, recorded
 * by every --mproc run so that the next one can schedule longest first and
 * put last run's failures up front.
 *
 * A small text file, one unit a line, behind a versioned header:
 *
 *   # criterion-mproc durations v1
 *   <nanoseconds> TAB <P|F|S> TAB <suite> TAB <test> TAB <param>
 *
 * Saving takes an flock on the directory that holds the file (no lock file),
 * refuses to replace a file that is not ours (one that does not start with
 * the header, or is not a regular file), merges with what is there (units
 * this run did not execute keep their entry; units the binary no longer has
 * are dropped, so the file never grows without bound) and replaces the file
 * with rename(2), so readers never see half a file.
 */
#ifndef CRMPI_DURATIONS_H_
#define CRMPI_DURATIONS_H_

#include <stddef.h>
#include <errno.h>
#include <stdint.h>

#define CRMPI_DURATIONS_HEADER "# criterion-mproc durations v1\n"
#define CRMPI_DURATIONS_MAX_FILE (64u * 1024u * 1024u)

/* The path names something that is not a durations file: never touched. */
#define CRMPI_DURATIONS_FOREIGN (-EMEDIUMTYPE)

struct crmpi_duration {
    char *suite;        /* owned */
    char *name;         /* owned */
    int param;
    uint64_t ns;
    char status;        /* 'P' passed, 'F' failed, 'S' skipped */
};

struct crmpi_durations {
    struct crmpi_duration *v;   /* owned; sorted by (suite, name, param) */
    size_t n;
};

/*
 * Parses a database held in buf.  Returns 0, or -EBADMSG for anything that
 * is not exactly the format above (*out is then empty), or -ENOMEM.
 */
int crmpi_durations_parse(const char *buf, size_t len, struct crmpi_durations *out);

/*
 * Loads path without blocking (a FIFO is refused, not opened for good).
 * Returns 0 (also for an empty file), -ENOENT when there is no file,
 * CRMPI_DURATIONS_FOREIGN when it is not a regular file or lacks the header,
 * -EBADMSG when it has the header but is corrupt, or another negative errno
 * code; *out is empty on error.
 */
int crmpi_durations_load(const char *path, struct crmpi_durations *out);

/* A message for a code of _load or _save (static string). */
const char *crmpi_durations_strerror(int rc);

/* The entry for a unit, or NULL. */
const struct crmpi_duration *crmpi_durations_find(const struct crmpi_durations *db,
        const char *suite, const char *name, int param);

/*
 * Saves fresh (this run's measurements) into path, merged as described
 * above.  known lists every unit the binary has (entries of earlier runs
 * survive only for those; ns and status of known are ignored).  Creates the
 * parent directory when missing.  Returns 0, CRMPI_DURATIONS_FOREIGN (the
 * file was left alone), or a negative errno code.
 */
int crmpi_durations_save(const char *path, const struct crmpi_durations *fresh,
        const struct crmpi_durations *known);

/* Sorts db by (suite, name, param), as _find and _save expect. */
void crmpi_durations_sort(struct crmpi_durations *db);

void crmpi_durations_free(struct crmpi_durations *db);

#endif /* !CRMPI_DURATIONS_H_ */
