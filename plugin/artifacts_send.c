#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts.h"
#include "artifacts_send.h"

struct send_walk {
    uint32_t unit;
    crmpi_artifacts_send_fn send;
    void *arg;
    struct crmpi_artifacts_notes *notes;
    struct crmpi_artifacts_budget budget;
    uint8_t *buf;               /* CRMPI_ARTIFACTS_CHUNK bytes */
    int enough;                 /* the receiver wants no more */
};

static void send_note(struct send_walk *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A note; names in it are made printable (a test chooses them: no escape sequence reaches a terminal). */
static void send_note(struct send_walk *s, const char *fmt, ...)
{
    struct crmpi_artifacts_notes *n = s->notes;
    if (n->n >= CRMPI_ARTIFACTS_NOTES_MAX) {
        ++n->more;
        return;
    }
    char **grown = realloc(n->v, (n->n + 1) * sizeof(*grown));
    if (!grown) {
        ++n->more;
        return;
    }
    n->v = grown;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&n->v[n->n], fmt, ap);
    va_end(ap);
    if (rc < 0) {
        ++n->more;
        return;
    }
    for (char *c = n->v[n->n]; *c; ++c)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
            *c = '?';
    ++n->n;
}

void crmpi_artifacts_notes_finish(struct crmpi_artifacts_notes *notes)
{
    if (!notes->more)
        return;
    char **grown = realloc(notes->v, (notes->n + 1) * sizeof(*grown));
    if (!grown)
        return;
    notes->v = grown;
    if (asprintf(&notes->v[notes->n], "and %u more", notes->more) >= 0)
        ++notes->n;
}

void crmpi_artifacts_notes_free(struct crmpi_artifacts_notes *notes)
{
    for (size_t i = 0; i < notes->n; ++i)
        free(notes->v[i]);
    free(notes->v);
    *notes = (struct crmpi_artifacts_notes) { 0 };
}

static int send_one(struct send_walk *s, const char *path, mode_t mode, int dir, uint64_t offset,
        const uint8_t *data, size_t len, int last)
{
    Crmp__Artifact a = CRMP__ARTIFACT__INIT;
    a.unit = s->unit;
    a.path = (char *) path;
    a.mode = mode & 0777;
    a.has_dir = dir;
    a.dir = dir;
    a.offset = offset;
    a.has_data = len > 0;
    a.data.data = (uint8_t *) data;
    a.data.len = len;
    a.has_last = last;
    a.last = last;
    return s->send(s->arg, &a, &s->enough);
}

/*
 * Sends the regular file name (in dfd) of size size, as path: at most size
 * bytes, what it holds now when it shrank.  Returns 0 or send's error.
 */
static int send_file(struct send_walk *s, int dfd, const char *name, const char *path,
        const struct stat *st)
{
    /* O_NONBLOCK: a fifo put in the file's place since fstatat never blocks the worker. */
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat now;
    if (fd < 0 || fstat(fd, &now) || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino) {
        send_note(s, "%s not collected: %s", path, fd < 0 ? strerror(errno) : "it changed");
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (!crmpi_artifacts_budget_take(&s->budget, (uint64_t) st->st_size)) {
        close(fd);
        return 0;
    }
    uint64_t off = 0, size = (uint64_t) st->st_size;
    int rc = 0;
    do {
        size_t want = size - off < CRMPI_ARTIFACTS_CHUNK ? (size_t) (size - off) : CRMPI_ARTIFACTS_CHUNK;
        ssize_t got = want ? pread(fd, s->buf, want, (off_t) off) : 0;
        if (got < 0) {
            send_note(s, "%s cut at %llu bytes: %s", path, (unsigned long long) off, strerror(errno));
            got = 0;
        }
        int last = got == 0 || off + (uint64_t) got >= size;
        rc = send_one(s, path, st->st_mode, 0, off, s->buf, (size_t) got, last);
        off += (uint64_t) got;
        if (last)
            break;
    } while (!rc && !s->enough);
    close(fd);
    return rc;
}

static int send_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names in dfd, sorted (the order files are taken in under the cap); NULL with *n 0 on error. */
static char **send_names(int dfd, size_t *n)
{
    *n = 0;
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char **v = NULL;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (*n == cap) {
            char **grown = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));
            if (!grown)
                break;
            v = grown;
        }
        if (!(v[*n] = strdup(e->d_name)))
            break;
        ++*n;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof(*v), send_cmp);
    return v;
}

static const char *send_kind(mode_t m)
{
    return S_ISLNK(m) ? "symlink" : S_ISFIFO(m) ? "fifo" : S_ISSOCK(m) ? "socket"
        : S_ISCHR(m) || S_ISBLK(m) ? "device" : "special file";
}

static int send_dir(struct send_walk *s, int dfd, const char *rel)
{
    size_t n;
    char **names = send_names(dfd, &n);
    int rc = 0;
    for (size_t i = 0; i < n && !rc && !s->enough; ++i) {
        char path[CRMPI_ARTIFACTS_PATH_MAX + 2];
        int len = snprintf(path, sizeof(path), "%s%s%s", rel ? rel : "", rel ? "/" : "", names[i]);
        if (len < 0 || (size_t) len >= sizeof(path) || !crmpi_artifacts_path_ok(path)) {
            send_note(s, "%s%s%s not collected: its name", rel ? rel : "", rel ? "/" : "", names[i]);
            continue;
        }
        struct stat st;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW)) {
            send_note(s, "%s not collected: %s", path, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            rc = send_file(s, dfd, names[i], path, &st);
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                send_note(s, "%s/ not collected: %s", path, strerror(errno));
                continue;
            }
            rc = send_one(s, path, st.st_mode, 1, 0, NULL, 0, 1);
            if (!rc && !s->enough)
                rc = send_dir(s, sub, path);
            close(sub);
        } else {
            send_note(s, "%s %s %s", send_kind(st.st_mode), path,
                    S_ISLNK(st.st_mode) ? "not followed" : "skipped");
        }
    }
    for (size_t i = 0; i < n; ++i)
        free(names[i]);
    free(names);
    return rc;
}

int crmpi_artifacts_collect(const char *dir, uint32_t unit, uint64_t max,
        crmpi_artifacts_send_fn send, void *arg, struct crmpi_artifacts_notes *notes)
{
    struct send_walk s = { .unit = unit, .send = send, .arg = arg, .notes = notes };
    crmpi_artifacts_budget_init(&s.budget, max);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        send_note(&s, "the directory is gone: %s", strerror(errno));
        return 0;
    }
    s.buf = malloc(CRMPI_ARTIFACTS_CHUNK);
    int rc = 0;
    if (!s.buf)
        send_note(&s, "not collected: out of memory");
    else
        rc = send_dir(&s, dfd, NULL);
    close(dfd);
    free(s.buf);
    if (s.budget.left_files) {
        /* The note that matters most goes first, whatever else was said. */
        char cap[32], left[32];
        if (notes->n == CRMPI_ARTIFACTS_NOTES_MAX) {
            free(notes->v[--notes->n]);
            ++notes->more;
        }
        send_note(&s, "over the %s cap: %u file%s (%s) left out",
                crmpi_artifacts_fmt_size(max, cap, sizeof(cap)), s.budget.left_files,
                s.budget.left_files == 1 ? "" : "s",
                crmpi_artifacts_fmt_size(s.budget.left_bytes, left, sizeof(left)));
        if (notes->n > 1) {
            char *last = notes->v[notes->n - 1];
            memmove(notes->v + 1, notes->v, (notes->n - 1) * sizeof(*notes->v));
            notes->v[0] = last;
        }
    }
    if (s.enough && !rc)
        send_note(&s, "the coordinator took no more");
    return rc;
}
