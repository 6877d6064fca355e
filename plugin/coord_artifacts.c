/*
 * The coordinator's side of test artifacts (plugin/artifacts.h): writes the
 * Artifact pieces a worker sends before a test's Result under
 * --mproc-artifacts=DIR/<suite>/<test>/, one try after another, and prints
 * the [ARTIFACTS] line of what was left out.
 *
 * Local and remote workers send the same way, over their connection: one
 * path, tested once, and the cap and the path rules are enforced here
 * whoever sent them (a local worker could have moved the files itself, but
 * then a remote one would be the only user of the wire path).
 *
 * Every name below DIR is opened with O_NOFOLLOW, component by component:
 * a path from the wire is checked by the decoder (no "..", no absolute
 * path), and no link, wherever it came from, leads out of DIR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts.h"
#include "coord_i.h"
#include "diag.h"
#include "testenv.h"
#include "transport.h"

const char *crmpi_coord_artifacts_lookup(const struct crmpi_options *o)
{
    const char *dir = o->artifacts ? o->artifacts : getenv("CRITERION_MPROC_ARTIFACTS_DIR");
    return dir && *dir ? dir : NULL;
}

const char *crmpi_coord_artifacts_root(const struct coord *c)
{
    return c->artifacts_root;
}

/* DIR/<suite>/<test>[N] of unit id, into buf. */
static int coord_art_path(const struct coord *c, uint32_t id, const char *suffix, char *buf,
        size_t len)
{
    const struct crmpi_report_unit *u = &c->units[id].r;
    char rel[PATH_MAX];
    if (crmpi_artifacts_unit_dir(u->test->category, u->test->name, u->param, rel, sizeof(rel)))
        return -ENAMETOOLONG;
    int n = snprintf(buf, len, "%s/%s%s", crmpi_coord_artifacts_root(c), rel, suffix);
    return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

/*
 * A try of unit id begins to leave artifacts (or ended without any): what
 * an earlier run left in its directory goes; what an earlier try of this
 * run left moves to <test>.try<N>; what this same try left on a worker that
 * died goes (the try runs again from the start).
 */
static void coord_art_prepare(struct coord *c, uint32_t id)
{
    struct coord_unit *u = &c->units[id];
    unsigned try_no = c->st.units[id].tries + 1;
    char dir[PATH_MAX];
    if (coord_art_path(c, id, "", dir, sizeof(dir)))
        return;
    if (u->art_try && u->art_try < try_no && !access(dir, F_OK)) {
        char old[PATH_MAX + 32];
        snprintf(old, sizeof(old), "%s.try%u", dir, u->art_try);
        crmpi_testenv_rmtree(old);
        if (rename(dir, old))
            crmpi_warn("cannot move %s to %s: %s", dir, old, strerror(errno));
    }
    if (crmpi_testenv_rmtree(dir))
        crmpi_warn("cannot empty %s for the artifacts of %s::%s", dir,
                u->r.test->category, u->r.test->name);
    u->art_try = try_no;
}

/* Opens (making it) the directory name in dfd, never through a link; closes dfd.  -errno on error. */
static int coord_art_enter(int dfd, const char *name, mode_t mode)
{
    if (mkdirat(dfd, name, mode) && errno != EEXIST) {
        int rc = -errno;
        close(dfd);
        return rc;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = fd < 0 ? -errno : fd;
    close(dfd);
    return rc;
}

/* Opens DIR/<suite>/<test>[N] of unit id, making what is missing.  An fd, or -errno. */
static int coord_art_open_unit(const struct coord *c, uint32_t id)
{
    const struct crmpi_report_unit *u = &c->units[id].r;
    char rel[PATH_MAX];
    if (crmpi_artifacts_unit_dir(u->test->category, u->test->name, u->param, rel, sizeof(rel)))
        return -ENAMETOOLONG;
    const char *root = crmpi_coord_artifacts_root(c);
    /* DIR itself is the user's: made as mkdir -p would, links in it followed. */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", root);
    for (char *s = path + 1; *s; ++s) {
        if (*s != '/')
            continue;
        *s = '\0';
        mkdir(path, 0777);
        *s = '/';
    }
    if (mkdir(path, 0777) && errno != EEXIST)
        return -errno;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *slash = strchr(rel, '/');
    *slash = '\0';
    fd = coord_art_enter(fd, rel, 0777);
    return fd < 0 ? fd : coord_art_enter(fd, slash + 1, 0777);
}

/* Writes one piece under the unit's directory udfd.  0 or -errno. */
static int coord_art_write(int udfd, const Crmp__Artifact *a)
{
    char path[CRMPI_ARTIFACTS_PATH_MAX + 1];
    snprintf(path, sizeof(path), "%s", a->path);
    int dfd = openat(udfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    char *name = path;
    /* Directories on the way are made as the worker will send them: owner rwx, so files go in. */
    for (char *slash; (slash = strchr(name, '/')); name = slash + 1) {
        *slash = '\0';
        if ((dfd = coord_art_enter(dfd, name, 0700)) < 0)
            return dfd;
    }
    int rc = 0;
    if (a->has_dir && a->dir) {
        int fd = coord_art_enter(dfd, name, 0700);
        if (fd < 0)
            return fd;
        rc = fchmod(fd, (mode_t) a->mode | 0700) ? -errno : 0;
        close(fd);
        return rc;
    }
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
            | (a->offset == 0 ? O_TRUNC : 0), 0600);
    if (fd < 0)
        rc = -errno;
    close(dfd);
    if (rc)
        return rc;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        rc = -EINVAL;
    for (size_t done = 0; !rc && a->has_data && done < a->data.len;) {
        ssize_t n = pwrite(fd, a->data.data + done, a->data.len - done, (off_t) (a->offset + done));
        if (n <= 0)
            rc = n < 0 ? -errno : -EIO;
        else
            done += (size_t) n;
    }
    /* Writable by its owner until the last piece is in; then the test's own bits. */
    if (!rc && fchmod(fd, (mode_t) a->mode | (a->has_last && a->last ? 0 : 0600)))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    return rc;
}

int crmpi_coord_on_artifact(struct coord *c, struct coord_worker *w, nng_msg **req,
        const Crmp__Artifact *a)
{
    if (!crmpi_coord_artifacts_root(c) || a->unit >= c->n_units
            || c->st.workers[w->slot].unit != a->unit)
        return -EBADMSG;
    struct coord_unit *u = &c->units[a->unit];
    Crmp__ArtifactTaken taken = CRMP__ARTIFACT_TAKEN__INIT;
    if (w->art_unit != a->unit + 1) {
        /* The first piece of this try. */
        w->art_unit = a->unit + 1;
        w->art_bytes = 0;
        w->art_failed = 0;
        coord_art_prepare(c, a->unit);
    }
    uint64_t len = a->has_data ? a->data.len : 0;
    uint64_t max = c->opts->artifacts_max;
    if (w->art_failed || len > max - w->art_bytes || a->offset > max - len) {
        taken.enough = 1;
    } else {
        w->art_bytes += len;
        int fd = coord_art_open_unit(c, a->unit);
        int rc = fd < 0 ? fd : coord_art_write(fd, a);
        if (fd >= 0)
            close(fd);
        if (rc) {
            char where[PATH_MAX];
            if (coord_art_path(c, a->unit, "", where, sizeof(where)))
                snprintf(where, sizeof(where), "%s", crmpi_coord_artifacts_root(c));
            crmpi_warn("cannot write the artifacts of %s::%s in %s (%s): %s; no more are taken",
                    u->r.test->category, u->r.test->name, where, a->path, strerror(-rc));
            w->art_failed = 1;
            taken.enough = 1;
        }
    }
    taken.has_enough = taken.enough;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN);
    env.artifact_taken = &taken;
    nng_msg *m = *req;
    *req = NULL;
    int rc = crmpi_transport_reply(&c->net, m, &env);
    if (rc)
        crmpi_debug("cannot answer a worker: %s", strerror(-rc));
    return 0;
}

void crmpi_coord_artifacts_result(struct coord *c, struct coord_worker *w, uint32_t unit)
{
    if (crmpi_coord_artifacts_root(c) && unit < c->n_units
            && c->st.workers[w->slot].unit == unit && w->art_unit != unit + 1)
        coord_art_prepare(c, unit);     /* a try that left nothing: its directory is empty too */
    w->art_unit = 0;
}

void crmpi_coord_artifacts_print(const struct crmpi_report_unit *u)
{
    const Crmp__Result *res = u->result;
    if (!res || !res->n_artifact_notes)
        return;
    fprintf(stderr, "[ARTIFACTS] %s::%s", u->test->category, u->test->name);
    if (u->param >= 0)
        fprintf(stderr, "[%d]", u->param);
    for (size_t i = 0; i < res->n_artifact_notes; ++i) {
        fputs(i ? "; " : ": ", stderr);
        /* A remote worker's words: printable, or '?'. */
        for (const char *s = res->artifact_notes[i]; *s; ++s)
            fputc((unsigned char) *s < 0x20 || *s == 0x7f ? '?' : *s, stderr);
    }
    fputc('\n', stderr);
}
