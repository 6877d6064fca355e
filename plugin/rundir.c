#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

#define RUNDIR_LOCAL ".criterion-mproc"

/* mkdtemp under base, into out.  Returns 0, -ENAMETOOLONG or -errno. */
static int rundir_make(const char *base, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/" CRMPI_RUNDIR_NAME, base);
    if (n < 0 || (size_t) n >= outlen)
        return -ENAMETOOLONG;
    if (!mkdtemp(out)) {
        int rc = -errno;
        *out = '\0';
        return rc;
    }
    return 0;
}

/* The local fallback: ./.criterion-mproc, absolute when that fits. */
static int rundir_make_local(char *out, size_t outlen)
{
    if (mkdir(RUNDIR_LOCAL, 0700) && errno != EEXIST)
        return -errno;
    char cwd[PATH_MAX], base[PATH_MAX + sizeof(RUNDIR_LOCAL) + 1];
    if (getcwd(cwd, sizeof(cwd))) {
        snprintf(base, sizeof(base), "%s/%s", strcmp(cwd, "/") ? cwd : "", RUNDIR_LOCAL);
        if (!rundir_make(base, out, outlen))
            return 0;
    }
    return rundir_make(RUNDIR_LOCAL, out, outlen);
}

int crmpi_runtime_dir(const char *tmpdir, const char *tmp, char *out, size_t outlen,
        char *warn, size_t warnlen)
{
    *warn = '\0';
    int rc = -ENOENT;
    if (tmpdir && *tmpdir) {
        rc = rundir_make(tmpdir, out, outlen);
        /* A long TMPDIR is a known limit of ipc paths, not a fault: quietly /tmp. */
        if (!rc)
            return 0;
        if (rc != -ENAMETOOLONG)
            snprintf(warn, warnlen, "TMPDIR %s is unusable (%s)", tmpdir, strerror(-rc));
    }
    int rc_tmp = rundir_make(tmp, out, outlen);
    if (!rc_tmp) {
        if (*warn) {
            size_t len = strlen(warn);
            snprintf(warn + len, warnlen - len, ": using %s", tmp);
        }
        return 0;
    }
    size_t len = strlen(warn);
    snprintf(warn + len, warnlen - len, "%s%s is unusable (%s)", len ? "; " : "", tmp,
            strerror(-rc_tmp));
    rc = rundir_make_local(out, outlen);
    len = strlen(warn);
    if (!rc)
        snprintf(warn + len, warnlen - len, ": using ./%s", RUNDIR_LOCAL);
    else
        snprintf(warn + len, warnlen - len, "; ./%s is unusable (%s)", RUNDIR_LOCAL,
                strerror(-rc));
    return rc;
}

void crmpi_runtime_dir_remove(const char *dir)
{
    if (!*dir)
        return;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash)
        return;
    *slash = '\0';
    const char *base = strrchr(parent, '/');
    if (!strcmp(base ? base + 1 : parent, RUNDIR_LOCAL))
        rmdir(parent);
}
