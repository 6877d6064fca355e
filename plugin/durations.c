#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durations.h"

static int dur_cmp_key(const char *s1, const char *n1, int p1, const char *s2,
        const char *n2, int p2)
{
    int c = strcmp(s1, s2);
    if (!c)
        c = strcmp(n1, n2);
    if (!c)
        c = (p1 > p2) - (p1 < p2);
    return c;
}

static int dur_cmp(const void *a, const void *b)
{
    const struct crmpi_duration *x = a, *y = b;
    return dur_cmp_key(x->suite, x->name, x->param, y->suite, y->name, y->param);
}

void crmpi_durations_sort(struct crmpi_durations *db)
{
    if (db->n)
        qsort(db->v, db->n, sizeof(*db->v), dur_cmp);
}

void crmpi_durations_free(struct crmpi_durations *db)
{
    for (size_t i = 0; i < db->n; ++i) {
        free(db->v[i].suite);
        free(db->v[i].name);
    }
    free(db->v);
    *db = (struct crmpi_durations) { 0 };
}

/* A name field: non-empty, printable, no tab. */
static int dur_valid_name(const char *s, size_t len)
{
    if (!len)
        return 0;
    for (size_t i = 0; i < len; ++i)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int dur_parse_line(const char *line, size_t len, struct crmpi_duration *d)
{
    const char *field[5];
    size_t flen[5];
    size_t k = 0;
    const char *start = line;
    for (size_t i = 0; i <= len; ++i) {
        if (i == len || line[i] == '\t') {
            if (k == 5)
                return -EBADMSG;
            field[k] = start;
            flen[k] = (size_t) (line + i - start);
            ++k;
            start = line + i + 1;
        }
    }
    if (k != 5 || flen[0] == 0 || flen[0] > 20 || flen[1] != 1)
        return -EBADMSG;

    uint64_t ns = 0;
    for (size_t i = 0; i < flen[0]; ++i) {
        if (field[0][i] < '0' || field[0][i] > '9' || ns > (UINT64_MAX - 9) / 10)
            return -EBADMSG;
        ns = ns * 10 + (uint64_t) (field[0][i] - '0');
    }
    char status = field[1][0];
    if (status != 'P' && status != 'F' && status != 'S')
        return -EBADMSG;
    if (!dur_valid_name(field[2], flen[2]) || !dur_valid_name(field[3], flen[3]))
        return -EBADMSG;

    long param = 0;
    size_t i = 0;
    int neg = flen[4] > 0 && field[4][0] == '-';
    i = (size_t) neg;
    if (i == flen[4] || flen[4] > 11)
        return -EBADMSG;
    for (; i < flen[4]; ++i) {
        if (field[4][i] < '0' || field[4][i] > '9')
            return -EBADMSG;
        param = param * 10 + (field[4][i] - '0');
    }
    if (neg)
        param = -param;
    if (param < -1 || param > INT_MAX)
        return -EBADMSG;

    d->suite = strndup(field[2], flen[2]);
    d->name = strndup(field[3], flen[3]);
    if (!d->suite || !d->name) {
        free(d->suite);
        free(d->name);
        return -ENOMEM;
    }
    d->param = (int) param;
    d->ns = ns;
    d->status = status;
    return 0;
}

int crmpi_durations_parse(const char *buf, size_t len, struct crmpi_durations *out)
{
    *out = (struct crmpi_durations) { 0 };
    size_t hlen = strlen(CRMPI_DURATIONS_HEADER);
    if (len > CRMPI_DURATIONS_MAX_FILE || len < hlen || memcmp(buf, CRMPI_DURATIONS_HEADER, hlen))
        return -EBADMSG;

    size_t cap = 0;
    int rc = 0;
    const char *p = buf + hlen, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        if (!nl) {
            rc = -EBADMSG;      /* a truncated last line */
            goto err;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct crmpi_duration *nv = realloc(out->v, ncap * sizeof(*nv));
            if (!nv) {
                rc = -ENOMEM;
                goto err;
            }
            out->v = nv;
            cap = ncap;
        }
        rc = dur_parse_line(p, (size_t) (nl - p), &out->v[out->n]);
        if (rc)
            goto err;
        ++out->n;
        p = nl + 1;
    }
    crmpi_durations_sort(out);
    for (size_t i = 1; i < out->n; ++i) {
        if (!dur_cmp(&out->v[i - 1], &out->v[i])) {
            rc = -EBADMSG;      /* the same unit twice */
            goto err;
        }
    }
    return 0;

err:
    crmpi_durations_free(out);
    return rc;
}

/*
 * Opens path for reading without ever blocking (a FIFO or a device named as
 * the durations file must not hang the run) and checks it is a regular file
 * of a sane size.  Returns the descriptor and fills *st, or a negative code:
 * -ENOENT, CRMPI_DURATIONS_FOREIGN for anything that is not a regular file.
 */
static int dur_open_regular(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st)) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return CRMPI_DURATIONS_FOREIGN;
    }
    return fd;
}

static int dur_read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EBADMSG;
        got += (size_t) n;
    }
    return 0;
}

int crmpi_durations_load(const char *path, struct crmpi_durations *out)
{
    *out = (struct crmpi_durations) { 0 };
    struct stat st;
    int fd = dur_open_regular(path, &st);
    if (fd < 0)
        return fd;
    int rc;
    char *buf = NULL;
    size_t hlen = strlen(CRMPI_DURATIONS_HEADER);
    char head[sizeof(CRMPI_DURATIONS_HEADER)];
    /* Only a file that starts with our header is ours (an empty one too). */
    if (st.st_size == 0) {
        rc = 0;
        goto out;
    }
    if ((uint64_t) st.st_size < hlen || dur_read_all(fd, head, hlen)
            || memcmp(head, CRMPI_DURATIONS_HEADER, hlen)) {
        rc = CRMPI_DURATIONS_FOREIGN;
        goto out;
    }
    if ((uint64_t) st.st_size > CRMPI_DURATIONS_MAX_FILE) {
        rc = -EBADMSG;
        goto out;
    }
    buf = malloc((size_t) st.st_size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(buf, head, hlen);
    rc = dur_read_all(fd, buf + hlen, (size_t) st.st_size - hlen);
    if (!rc)
        rc = crmpi_durations_parse(buf, (size_t) st.st_size, out);
out:
    free(buf);
    close(fd);
    return rc;
}

const char *crmpi_durations_strerror(int rc)
{
    if (rc == CRMPI_DURATIONS_FOREIGN)
        return "not a durations file (left untouched; durations not recorded)";
    if (rc == -EBADMSG)
        return "corrupt (it will be rewritten)";
    return strerror(-rc);
}

const struct crmpi_duration *crmpi_durations_find(const struct crmpi_durations *db,
        const char *suite, const char *name, int param)
{
    size_t lo = 0, hi = db->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct crmpi_duration *d = &db->v[mid];
        int c = dur_cmp_key(suite, name, param, d->suite, d->name, d->param);
        if (!c)
            return d;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int dur_mkdir_parent(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0777) && errno != EEXIST)
            rc = -errno;
    }
    free(dir);
    return rc;
}

static int dur_write_entry(FILE *f, const struct crmpi_duration *d)
{
    return fprintf(f, "%llu\t%c\t%s\t%s\t%d\n", (unsigned long long) d->ns, d->status,
            d->suite, d->name, d->param) < 0 ? -EIO : 0;
}

/*
 * Serialises concurrent saves: an flock on the directory that holds the
 * file, so no lock file is created (none to follow through a symlink, none
 * left behind) and the lock survives the rename that replaces the file.
 * Returns the locked descriptor, or -1 when the directory cannot be opened
 * (saving then goes unlocked: the rename still keeps the file whole, two
 * runs at once may only lose one's entries).
 */
static int dur_lock_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -1;
    char *slash = strrchr(dir, '/');
    const char *name = ".";
    if (slash == dir)
        name = "/";
    else if (slash) {
        *slash = '\0';
        name = dir;
    }
    int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) && errno == EINTR)
        ;
    return fd;
}

static int dur_write_file(FILE *f, const struct crmpi_durations *fresh,
        const struct crmpi_durations *known, const struct crmpi_durations *old)
{
    int rc = fputs(CRMPI_DURATIONS_HEADER, f) < 0 ? -EIO : 0;
    for (size_t i = 0; i < known->n && !rc; ++i) {
        const struct crmpi_duration *k = &known->v[i];
        const struct crmpi_duration *d = crmpi_durations_find(fresh, k->suite, k->name, k->param);
        if (!d)
            d = crmpi_durations_find(old, k->suite, k->name, k->param);
        if (d)
            rc = dur_write_entry(f, d);
    }
    if (fflush(f) || fsync(fileno(f)))
        rc = rc ? rc : -errno;
    return rc;
}

int crmpi_durations_save(const char *path, const struct crmpi_durations *fresh,
        const struct crmpi_durations *known)
{
    int rc = dur_mkdir_parent(path);
    if (rc)
        return rc;

    char *tmp_path = NULL;
    FILE *f = NULL;
    struct crmpi_durations old = { 0 };
    int lock_fd = dur_lock_dir(path);

    /* Under the lock: a file that is not ours is never replaced. */
    rc = crmpi_durations_load(path, &old);
    if (rc && rc != -ENOENT && rc != -EBADMSG)
        goto out;       /* foreign, or unreadable: not known to be ours */
    struct stat st;
    mode_t mode = 0644;
    if (rc != -ENOENT && !stat(path, &st))
        mode = st.st_mode & 07777;
    rc = 0;

    /* O_EXCL with a random name: never opens what someone planted there. */
    if (asprintf(&tmp_path, "%s.tmp.XXXXXX", path) < 0) {
        tmp_path = NULL;
        rc = -ENOMEM;
        goto out;
    }
    int fd = mkostemp(tmp_path, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (fchmod(fd, mode)) {
        rc = -errno;
        close(fd);
        goto out_unlink;
    }
    f = fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        close(fd);
        goto out_unlink;
    }
    rc = dur_write_file(f, fresh, known, &old);
    if (fclose(f) && !rc)
        rc = -errno;
    if (!rc && rename(tmp_path, path))
        rc = -errno;
out_unlink:
    if (rc)
        unlink(tmp_path);
out:
    crmpi_durations_free(&old);
    if (lock_fd >= 0)
        close(lock_fd);
    free(tmp_path);
    return rc;
}
