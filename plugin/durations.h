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
 * Saving takes an flock on "<path>.lock", merges with what is there (units
 * this run did not execute keep their entry; units the binary no longer has
 * are dropped, so the file never grows without bound) and replaces the file
 * with rename(2), so readers never see half a file.
 */
#ifndef CRMPI_DURATIONS_H_
#define CRMPI_DURATIONS_H_

#include <stddef.h>
#include <stdint.h>

#define CRMPI_DURATIONS_HEADER "# criterion-mproc durations v1\n"
#define CRMPI_DURATIONS_MAX_FILE (64u * 1024u * 1024u)

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
 * Loads path.  Returns 0, -ENOENT when there is no file, -EBADMSG when it
 * is corrupt or foreign, or another negative errno code; *out is empty on
 * error.
 */
int crmpi_durations_load(const char *path, struct crmpi_durations *out);

/* The entry for a unit, or NULL. */
const struct crmpi_duration *crmpi_durations_find(const struct crmpi_durations *db,
        const char *suite, const char *name, int param);

/*
 * Saves fresh (this run's measurements) into path, merged as described
 * above.  known lists every unit the binary has (entries of earlier runs
 * survive only for those; ns and status of known are ignored).  Creates the
 * parent directory when missing.  Returns 0 or a negative errno code.
 */
int crmpi_durations_save(const char *path, const struct crmpi_durations *fresh,
        const struct crmpi_durations *known);

/* Sorts db by (suite, name, param), as _find and _save expect. */
void crmpi_durations_sort(struct crmpi_durations *db);

void crmpi_durations_free(struct crmpi_durations *db);

#endif /* !CRMPI_DURATIONS_H_ */
