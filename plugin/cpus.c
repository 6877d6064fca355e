#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

/* Reads a small text file whole; NUL-terminated.  Returns 0 or -errno. */
static int cpus_read(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        if (n == 0 || (len += (size_t) n) == cap - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    return 0;
}

/* A whole-file reader for /proc texts that may exceed any fixed buffer. */
static char *cpus_slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(text);
        return NULL;
    }
    return text;
}

static long cpus_affinity(void)
{
    for (int ncpu = 1024; ncpu <= 1 << 20; ncpu *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (!set)
            return -ENOMEM;
        size_t size = CPU_ALLOC_SIZE(ncpu);
        int rc = sched_getaffinity(0, size, set);
        long n = rc == 0 ? CPU_COUNT_S(size, set) : -errno;
        CPU_FREE(set);
        if (n != -EINVAL)
            return n;
    }
    return -EINVAL;
}

static long cpus_ceil_div(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return -EINVAL;
    long long n = (quota + period - 1) / period;
    return n > LONG_MAX ? LONG_MAX : (long) n;
}

static int cpus_parse_ll(const char *s, long long *out, const char **end)
{
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (e == s || errno)
        return -EINVAL;
    *out = v;
    *end = e;
    return 0;
}

static int cpus_blank(const char *s)
{
    return s[strspn(s, " \t\n")] == '\0';
}

long crmpi_cpus_quota_v2(const char *cpu_max)
{
    const char *p = cpu_max + strspn(cpu_max, " \t");
    long long quota, period = 100000;
    if (!strncmp(p, "max", 3)) {
        p += 3;
        if (*p != '\0' && *p != ' ' && *p != '\n')
            return -EINVAL;
        if (*p == ' ' && (cpus_parse_ll(p, &period, &p) || period <= 0))
            return -EINVAL;
        return cpus_blank(p) ? 0 : -EINVAL;
    }
    if (cpus_parse_ll(p, &quota, &p))
        return -EINVAL;
    if (*p == ' ' && cpus_parse_ll(p, &period, &p))
        return -EINVAL;
    if (!cpus_blank(p))
        return -EINVAL;
    return cpus_ceil_div(quota, period);
}

long crmpi_cpus_quota_v1(const char *quota_txt, const char *period_txt)
{
    long long quota, period;
    const char *end;
    if (cpus_parse_ll(quota_txt, &quota, &end) || !cpus_blank(end))
        return -EINVAL;
    if (quota == -1)
        return 0;
    if (cpus_parse_ll(period_txt, &period, &end) || !cpus_blank(end))
        return -EINVAL;
    return cpus_ceil_div(quota, period);
}

/* Whether the comma-separated list (up to end) holds word. */
static int cpus_list_has(const char *list, const char *end, const char *word)
{
    size_t wlen = strlen(word);
    while (list < end) {
        const char *comma = memchr(list, ',', (size_t) (end - list));
        const char *stop = comma ? comma : end;
        if ((size_t) (stop - list) == wlen && !memcmp(list, word, wlen))
            return 1;
        list = stop + 1;
    }
    return 0;
}

/*
 * The mount of the CPU controller in mountinfo: v1 "cgroup" with "cpu" in
 * its super options, or else the "cgroup2" one.  Copies its root and mount
 * point (fields 4 and 5).
 */
static int cpus_find_mount(const char *mountinfo, int want_v2, char *root, char *point, size_t len)
{
    for (const char *line = mountinfo; line && *line;) {
        const char *eol = strchr(line, '\n');
        const char *end = eol ? eol : line + strlen(line);
        const char *sep = strstr(line, " - ");
        if (sep && sep < end) {
            const char *fstype = sep + 3;
            const char *fsend = memchr(fstype, ' ', (size_t) (end - fstype));
            const char *source = fsend ? fsend + 1 : end;
            const char *srcend = memchr(source, ' ', (size_t) (end - source));
            const char *super = srcend ? srcend + 1 : end;
            size_t flen = (size_t) ((fsend ? fsend : end) - fstype);
            int v1_cpu = flen == 6 && !memcmp(fstype, "cgroup", 6)
                    && cpus_list_has(super, end, "cpu");
            int v2 = flen == 7 && !memcmp(fstype, "cgroup2", 7);
            char r[PATH_MAX], p[PATH_MAX];
            if ((want_v2 ? v2 : v1_cpu)
                    && sscanf(line, "%*s %*s %*s %4095s %4095s", r, p) == 2) {
                if (strlen(r) >= len || strlen(p) >= len)
                    return -ENAMETOOLONG;
                strcpy(root, r);
                strcpy(point, p);
                return 0;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return -ENOENT;
}

/* The path of this process in the hierarchy (v2: "0::", v1: with "cpu"). */
static int cpus_find_path(const char *cgroup_txt, int v2, char *path, size_t len)
{
    for (const char *line = cgroup_txt; line && *line;) {
        const char *eol = strchr(line, '\n');
        const char *end = eol ? eol : line + strlen(line);
        const char *c1 = memchr(line, ':', (size_t) (end - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (end - c1 - 1)) : NULL;
        if (c2) {
            int match = v2 ? (c1 == line + 1 && line[0] == '0' && c2 == c1 + 1)
                           : cpus_list_has(c1 + 1, c2, "cpu");
            size_t plen = (size_t) (end - c2 - 1);
            if (match) {
                if (plen >= len)
                    return -ENAMETOOLONG;
                memcpy(path, c2 + 1, plen);
                path[plen] = '\0';
                return 0;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return -ENOENT;
}

int crmpi_cpus_cgroup_dir(const char *cgroup_txt, const char *mountinfo_txt,
        char *out, char *mount, size_t len, int *v2)
{
    char root[PATH_MAX], path[PATH_MAX];
    int rc = -ENOENT;
    /* A v1 cpu controller, where mounted, is the one that holds the quota. */
    for (int want_v2 = 0; want_v2 <= 1 && rc; want_v2++) {
        rc = cpus_find_mount(mountinfo_txt, want_v2, root, mount, len < PATH_MAX ? len : PATH_MAX);
        if (!rc)
            rc = cpus_find_path(cgroup_txt, want_v2, path, sizeof(path));
        *v2 = want_v2;
    }
    if (rc)
        return rc;

    /* The mount shows the hierarchy from `root` down; a path outside it
     * (another cgroup namespace) leaves only the mount point to read. */
    const char *rel = path;
    size_t rlen = strlen(root);
    if (strcmp(root, "/")) {
        if (!strncmp(path, root, rlen) && (path[rlen] == '/' || path[rlen] == '\0'))
            rel = path + rlen;
        else
            rel = "";
    }
    int n = snprintf(out, len, "%s%s", mount, strcmp(rel, "/") ? rel : "");
    return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

/* The quota set in one directory, in CPUs; 0 when none or unreadable. */
static long cpus_quota_at(const char *dir, int v2)
{
    char file[PATH_MAX + 32], a[64], b[64];
    long q;
    if (v2) {
        snprintf(file, sizeof(file), "%s/cpu.max", dir);
        if (cpus_read(file, a, sizeof(a)))
            return 0;
        q = crmpi_cpus_quota_v2(a);
    } else {
        snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
        if (cpus_read(file, a, sizeof(a)))
            return 0;
        snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
        if (cpus_read(file, b, sizeof(b)))
            return 0;
        q = crmpi_cpus_quota_v1(a, b);
    }
    return q > 0 ? q : 0;
}

long crmpi_cpus_quota_in(const char *dir, const char *mount, int v2)
{
    char cur[PATH_MAX];
    size_t mlen = strlen(mount);
    long best = 0;
    if (strlen(dir) >= sizeof(cur))
        return 0;
    strcpy(cur, dir);
    for (;;) {
        long q = cpus_quota_at(cur, v2);
        if (q > 0 && (best == 0 || q < best))
            best = q;
        char *slash = strrchr(cur, '/');
        if (strlen(cur) <= mlen || !slash || slash == cur)
            break;
        *slash = '\0';
        if (strlen(cur) < mlen)
            break;
    }
    return best;
}

long crmpi_cpus_usable(void)
{
    long n = cpus_affinity();
    if (n < 1) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
            n = 1;
    }

    char *cgroup_txt = cpus_slurp("/proc/self/cgroup");
    char *mountinfo = cgroup_txt ? cpus_slurp("/proc/self/mountinfo") : NULL;
    char dir[PATH_MAX], mount[PATH_MAX];
    int v2;
    if (mountinfo && !crmpi_cpus_cgroup_dir(cgroup_txt, mountinfo, dir, mount, sizeof(dir), &v2)) {
        long quota = crmpi_cpus_quota_in(dir, mount, v2);
        if (quota > 0 && quota < n)
            n = quota;
    }
    free(mountinfo);
    free(cgroup_txt);
    return n;
}
