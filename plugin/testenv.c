#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "criterion-mproc.h"
#include "diag.h"
#include "options.h"
#include "testenv.h"

extern char **environ;

/* What a fork-mode test process takes from its worker: set after the zygote was born. */
static const char *const testenv_passed[] = {
    CRMPI_ENV_TEST_SLOT "=",
    CRMPI_ENV_TEST_WORKERS "=",
    CRMPI_ENV_TEST_TMPDIR "=",
    CRMPI_ENV_TEST_ARTIFACTS "=",
    /* What global fixtures published, received after the zygote was born (remote workers). */
    CRMP_GLOBAL_PREFIX,
};

/*
 * A live test directory is "crmp-t<worker pid>-<test>-XXXXXX", its artifact
 * directory "crmp-t<worker pid>-<test>.artifacts-XXXXXX" (the same prefix:
 * crmpi_testenv_forget_worker finds both); a kept one "crmp-kept-<test>-XXXXXX".
 */
#define TESTENV_LIVE_PREFIX "crmp-t"
#define TESTENV_KEPT_PREFIX "crmp-kept-"
/* Of the test's name in its directory's: enough to recognise it. */
#define TESTENV_NAME_MAX 80

static struct {
    unsigned keep;              /* enum crmpi_keep_tmp */
    unsigned leaks;             /* enum crmpi_leaks_policy */
    char dir[PATH_MAX];         /* the current test's; "" when none */
    char art[PATH_MAX];         /* its artifact directory; "" when none */
    char name[TESTENV_NAME_MAX + 1];    /* its name, as in its directory's */
    char kept[PATH_MAX];        /* the last kept one */
    /* The last test's directories, not kept: removed by crmpi_testenv_unit_clean; "" when none. */
    char gone[2][PATH_MAX];
    /*
     * Emptied directories of earlier tests, renamed into the next test's
     * instead of being removed: where freed blocks are discarded online (ext4
     * -o discard) an rmdir costs 2 to 3 ms, a rename 30 us.  "" when none.
     */
    char spare[2][PATH_MAX];
} testenv;

int crmpi_testenv_set_slot(unsigned slot)
{
    char value[16];
    snprintf(value, sizeof(value), "%u", slot);
    const char *now = getenv(CRMPI_ENV_TEST_SLOT);
    if (now && !strcmp(now, value))
        return 0;
    return setenv(CRMPI_ENV_TEST_SLOT, value, 1) ? -errno : 0;
}

static int testenv_is_passed(const char *var)
{
    for (size_t i = 0; i < sizeof(testenv_passed) / sizeof(testenv_passed[0]); ++i)
        if (!strncmp(var, testenv_passed[i], strlen(testenv_passed[i])))
            return 1;
    return 0;
}

long crmpi_testenv_pack(char *buf, size_t cap)
{
    size_t used = 0;
    for (char **v = environ; *v; ++v) {
        if (!testenv_is_passed(*v))
            continue;
        size_t len = strlen(*v) + 1;
        if (used + len + 1 > cap)
            return -ENOSPC;
        memcpy(buf + used, *v, len);
        used += len;
    }
    if (used + 1 > cap)
        return -ENOSPC;
    buf[used++] = '\0';
    return (long) used;
}

void crmpi_testenv_apply(const char *buf, size_t len)
{
    if (!len || buf[len - 1] != '\0')
        return;
    for (size_t at = 0; at < len && buf[at];) {
        size_t n = strlen(buf + at);
        const char *eq = strchr(buf + at, '=');
        if (eq && testenv_is_passed(buf + at)) {
            char name[128];
            size_t nl = (size_t) (eq - (buf + at));
            if (nl < sizeof(name)) {
                memcpy(name, buf + at, nl);
                name[nl] = '\0';
                setenv(name, eq + 1, 1);
            }
        }
        at += n + 1;
    }
}

void crmpi_testenv_set_keep(unsigned keep)
{
    testenv.keep = keep;
}

void crmpi_testenv_set_leaks(unsigned policy)
{
    testenv.leaks = policy;
}

unsigned crmpi_testenv_leaks(void)
{
    return testenv.leaks;
}

/* Where test directories go: $TMPDIR when it is a usable directory, else /tmp. */
static const char *testenv_root(void)
{
    const char *t = getenv("TMPDIR");
    struct stat st;
    if (t && t[0] == '/' && strlen(t) < PATH_MAX - 2 * TESTENV_NAME_MAX && !stat(t, &st)
            && S_ISDIR(st.st_mode) && !access(t, W_OK | X_OK))
        return t;
    return "/tmp";
}

/* The two kinds of a test's directories: index of gone[] and spare[]. */
enum { TESTENV_GONE_DIR, TESTENV_GONE_ART };

/* What getdents64 returns (the kernel's layout). */
struct testenv_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/*
 * Removes name (in the directory parent_fd) and all below it, never
 * following a link.  Async-signal-safe (system calls and the stack only):
 * a worker abandoned by its coordinator removes its test's directory from a
 * signal handler.
 */
static void testenv_rmtree_at(int parent_fd, const char *name, int depth)
{
    if (!unlinkat(parent_fd, name, 0) || errno == ENOENT || depth > 32)
        return;
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    /* A test that took its own write permission away still gets its directory removed. */
    fchmod(fd, S_IRWXU);
    /* Entries removed while reading may hide others: read again until a pass finds none. */
    for (int removed = 1; removed;) {
        removed = 0;
        lseek(fd, 0, SEEK_SET);
        char buf[1024] __attribute__((aligned(8)));
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
            for (long off = 0; off < n;) {
                const struct testenv_dirent64 *d = (const void *) (buf + off);
                off += d->d_reclen;
                if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
                    continue;
                testenv_rmtree_at(fd, d->d_name, depth + 1);
                removed = 1;
            }
        }
    }
    close(fd);
    unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/* Removes the tree at path; 0, or -EEXIST when something is left. */
static int testenv_rmtree(const char *path)
{
    testenv_rmtree_at(AT_FDCWD, path, 0);
    return access(path, F_OK) ? 0 : -EEXIST;
}

int crmpi_testenv_rmtree(const char *path)
{
    return testenv_rmtree(path);
}

void crmpi_testenv_abandon(void)
{
    if (testenv.dir[0])
        testenv_rmtree_at(AT_FDCWD, testenv.dir, 0);
    if (testenv.art[0])
        testenv_rmtree_at(AT_FDCWD, testenv.art, 0);
    for (int i = 0; i < 2; ++i) {
        if (testenv.gone[i][0])
            testenv_rmtree_at(AT_FDCWD, testenv.gone[i], 0);
        if (testenv.spare[i][0])
            testenv_rmtree_at(AT_FDCWD, testenv.spare[i], 0);
    }
}

/*
 * Whether path is still as mkdtemp made it: a directory of ours, mode 0700,
 * empty.  A test that changed its mode or left anything in it (even a
 * process that writes there later finds it gone, as before) does not pass
 * it on.
 */
static int testenv_reusable(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int empty = !fstat(fd, &st) && st.st_uid == geteuid() && (st.st_mode & 07777) == S_IRWXU;
    char buf[512] __attribute__((aligned(8)));
    long n;
    while (empty && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n && empty;) {
            const struct testenv_dirent64 *d = (const void *) (buf + off);
            off += d->d_reclen;
            empty = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
        }
    }
    close(fd);
    return empty;
}

/* Replaces the XXXXXX that template ends with by random characters. */
static void testenv_fill_suffix(char *template)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[6];
    char *x = template + strlen(template) - sizeof(r);
    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t) sizeof(r)) {
        /* Unique enough: the rename below refuses a name that exists. */
        static unsigned long counter;
        unsigned long v = (unsigned long) getpid() * 2654435761UL + ++counter;
        for (size_t i = 0; i < sizeof(r); ++i, v /= 62)
            r[i] = (unsigned char) (v % 62);
    }
    for (size_t i = 0; i < sizeof(r); ++i)
        x[i] = chars[r[i] % (sizeof(chars) - 1)];
}

/*
 * Makes a fresh empty directory named after template (ending in XXXXXX, as
 * mkdtemp's): the spare directory of kind i renamed, never onto an existing
 * name, or a new one.  0 or -errno.
 */
static int testenv_make(char *template, int i)
{
    if (testenv.spare[i][0]) {
        char name[PATH_MAX];
        memcpy(name, template, strlen(template) + 1);
        for (int tries = 0; tries < 4; ++tries) {
            testenv_fill_suffix(name);
            if (!renameat2(AT_FDCWD, testenv.spare[i], AT_FDCWD, name, RENAME_NOREPLACE)) {
                memcpy(template, name, strlen(name) + 1);
                testenv.spare[i][0] = '\0';
                return 0;
            }
            if (errno != EEXIST)
                break;
        }
        /* A file system without RENAME_NOREPLACE, say: no spares there. */
        testenv_rmtree(testenv.spare[i]);
        testenv.spare[i][0] = '\0';
    }
    return mkdtemp(template) ? 0 : -errno;
}

const char *crmpi_testenv_artifacts(void)
{
    return testenv.art[0] ? testenv.art : NULL;
}

/* The artifact directory goes (collected or not), and its variable with it. */
static void testenv_artifacts_discard(void)
{
    if (testenv.art[0] && testenv_rmtree(testenv.art))
        crmpi_warn("cannot remove the artifact directory %s", testenv.art);
    testenv.art[0] = '\0';
    unsetenv(CRMPI_ENV_TEST_ARTIFACTS);
}

static void testenv_current_discard(void);

int crmpi_testenv_unit_begin(const char *suite, const char *name)
{
    testenv_current_discard();
    size_t n = 0;
    for (const char *s = suite; s && *s && n < TESTENV_NAME_MAX; ++s)
        testenv.name[n++] = *s;
    for (const char *s = "."; n < TESTENV_NAME_MAX && *s; ++s)
        testenv.name[n++] = *s;
    for (const char *s = name; s && *s && n < TESTENV_NAME_MAX; ++s)
        testenv.name[n++] = *s;
    testenv.name[n] = '\0';
    /* Anything but a plain character could make the name a path, or unreadable. */
    for (char *c = testenv.name; *c; ++c)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *c))
            *c = '_';
    snprintf(testenv.dir, sizeof(testenv.dir), "%s/" TESTENV_LIVE_PREFIX "%ld-%s-XXXXXX",
            testenv_root(), (long) getpid(), testenv.name);
    snprintf(testenv.art, sizeof(testenv.art), "%s/" TESTENV_LIVE_PREFIX "%ld-%s.artifacts-XXXXXX",
            testenv_root(), (long) getpid(), testenv.name);
    int rc = 0;
    const char *what = testenv.dir;
    if ((rc = testenv_make(testenv.dir, TESTENV_GONE_DIR)))
        testenv.dir[0] = testenv.art[0] = '\0';
    else if (setenv(CRMPI_ENV_TEST_TMPDIR, testenv.dir, 1))
        rc = -errno;
    else if (what = testenv.art, (rc = testenv_make(testenv.art, TESTENV_GONE_ART)))
        testenv.art[0] = '\0';
    else if (setenv(CRMPI_ENV_TEST_ARTIFACTS, testenv.art, 1))
        rc = -errno;
    if (rc) {
        crmpi_warn("cannot make the directories of %s::%s (%s): %s", suite, name,
                what[0] ? what : "under $TMPDIR", strerror(-rc));
        testenv_current_discard();
    }
    return rc;
}

/* Removes the last test's directory testenv.gone[i], if any, or keeps it empty for the next test. */
static void testenv_gone_remove(int i)
{
    static const char *const what[] = { "test directory", "artifact directory" };
    if (!testenv.gone[i][0])
        return;
    if (!testenv.spare[i][0] && testenv_reusable(testenv.gone[i]))
        memcpy(testenv.spare[i], testenv.gone[i], strlen(testenv.gone[i]) + 1);
    else if (testenv_rmtree(testenv.gone[i]))
        crmpi_warn("cannot remove the %s %s", what[i], testenv.gone[i]);
    testenv.gone[i][0] = '\0';
}

/* A directory of the test that ended goes to testenv.gone[i], for crmpi_testenv_unit_clean. */
static void testenv_to_clean(char *path, int i, const char *var)
{
    testenv_gone_remove(i);
    memcpy(testenv.gone[i], path, strlen(path) + 1);
    path[0] = '\0';
    unsetenv(var);
}

void crmpi_testenv_unit_clean(void)
{
    testenv_gone_remove(TESTENV_GONE_ART);
    testenv_gone_remove(TESTENV_GONE_DIR);
}

const char *crmpi_testenv_unit_end(int failed)
{
    /* Collected by now, or not wanted. */
    if (testenv.art[0])
        testenv_to_clean(testenv.art, TESTENV_GONE_ART, CRMPI_ENV_TEST_ARTIFACTS);
    if (!testenv.dir[0])
        return NULL;
    int keep = testenv.keep == CRMPI_KEEP_TMP_ALWAYS
        || (testenv.keep == CRMPI_KEEP_TMP_FAILED && failed);
    if (keep) {
        /* Renamed onto a fresh empty directory: unique, and no longer this worker's to clean. */
        snprintf(testenv.kept, sizeof(testenv.kept), "%s/" TESTENV_KEPT_PREFIX "%s-XXXXXX",
                testenv_root(), testenv.name);
        if (mkdtemp(testenv.kept) && !rename(testenv.dir, testenv.kept)) {
            testenv.dir[0] = '\0';
            unsetenv(CRMPI_ENV_TEST_TMPDIR);
            return testenv.kept;
        }
        crmpi_warn("cannot keep %s as %s: %s", testenv.dir, testenv.kept, strerror(errno));
        rmdir(testenv.kept);
    }
    testenv_to_clean(testenv.dir, TESTENV_GONE_DIR, CRMPI_ENV_TEST_TMPDIR);
    return NULL;
}

/* The current test's directories go now. */
static void testenv_current_discard(void)
{
    testenv_artifacts_discard();
    if (testenv.dir[0] && testenv_rmtree(testenv.dir))
        crmpi_warn("cannot remove the test directory %s", testenv.dir);
    testenv.dir[0] = '\0';
    unsetenv(CRMPI_ENV_TEST_TMPDIR);
}

void crmpi_testenv_close(void)
{
    crmpi_testenv_unit_clean();
    for (int i = 0; i < 2; ++i) {
        if (testenv.spare[i][0] && testenv_rmtree(testenv.spare[i]))
            crmpi_warn("cannot remove the directory %s", testenv.spare[i]);
        testenv.spare[i][0] = '\0';
    }
}

void crmpi_testenv_unit_discard(void)
{
    crmpi_testenv_unit_clean();
    testenv_current_discard();
}

void crmpi_testenv_forget_worker(pid_t pid)
{
    char prefix[64];
    int plen = snprintf(prefix, sizeof(prefix), TESTENV_LIVE_PREFIX "%ld-", (long) pid);
    const char *root = testenv_root();
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t) plen))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", root, e->d_name) < (int) sizeof(path))
            testenv_rmtree(path);
    }
    closedir(d);
}
