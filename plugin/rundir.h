/*
 * The run's private directory (its ipc socket lives there).  Plain Criterion
 * runs whatever TMPDIR is, so the plugin must too: a missing, read-only or
 * too long TMPDIR falls back on /tmp, then on the current directory's
 * .criterion-mproc/, with one warning.
 */
#ifndef CRMPI_RUNDIR_H_
#define CRMPI_RUNDIR_H_

#include <stddef.h>

/* The last component, made with mkdtemp(3). */
#define CRMPI_RUNDIR_NAME "criterion-mproc.XXXXXX"

/*
 * Creates a fresh private directory (mode 0700) under the first usable of:
 * tmpdir (the value of TMPDIR, may be NULL), tmp ("/tmp" but for tests),
 * and ./.criterion-mproc (created when missing; absolute when it fits).  A
 * base is skipped when the resulting path would not fit in outlen (ipc
 * socket paths are short).  Writes the path to out.  Returns 0, with warn
 * holding one line when a base that was asked for (TMPDIR, or /tmp) was
 * unusable and empty otherwise; or a negative errno code (the last failure)
 * with a message in warn.
 */
int crmpi_runtime_dir(const char *tmpdir, const char *tmp, char *out, size_t outlen,
        char *warn, size_t warnlen);

/*
 * Removes dir (one crmpi_runtime_dir made) with the files left in it, and
 * ./.criterion-mproc above it when it fell back there, unless something
 * else lives there (durations).  Safe on "".
 */
void crmpi_runtime_dir_remove(const char *dir);

#endif /* !CRMPI_RUNDIR_H_ */
