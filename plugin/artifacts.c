#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "artifacts.h"

int crmpi_artifacts_path_ok(const char *path)
{
    size_t len = path ? strlen(path) : 0;
    if (!len || len > CRMPI_ARTIFACTS_PATH_MAX || path[len - 1] == '/')
        return 0;
    unsigned depth = 0;
    for (const char *c = path; *c;) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t) (end - c) : strlen(c);
        /* "a//b", "/a", "a/" and the components that climb or stay. */
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        for (size_t i = 0; i < n; ++i)
            if ((unsigned char) c[i] < 0x20 || c[i] == 0x7f)
                return 0;
        if (++depth > CRMPI_ARTIFACTS_DEPTH_MAX)
            return 0;
        c += n;
        if (*c == '/')
            ++c;
    }
    return 1;
}

int crmpi_artifacts_parse_size(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; ++s) {
        if (v > ((1ull << 62) - 9) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t) (*s - '0');
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; ++s; break;
    case 'm': case 'M': shift = 20; ++s; break;
    case 'g': case 'G': shift = 30; ++s; break;
    default: break;
    }
    if (shift && s[0] == 'i' && s[1] == 'B')
        s += 2;
    else if (*s == 'B')
        ++s;
    if (*s || v > (1ull << 62) >> shift)
        return -EINVAL;
    *out = v << shift;
    return 0;
}

const char *crmpi_artifacts_fmt_size(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = { "KiB", "MiB", "GiB" };
    if (n < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long) n);
        return buf;
    }
    double v = (double) n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        ++u;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

void crmpi_artifacts_budget_init(struct crmpi_artifacts_budget *b, uint64_t max)
{
    *b = (struct crmpi_artifacts_budget) { .max = max };
}

int crmpi_artifacts_budget_take(struct crmpi_artifacts_budget *b, uint64_t n)
{
    if (n <= b->max - b->taken) {
        b->taken += n;
        ++b->files;
        return 1;
    }
    b->left_bytes += n;
    ++b->left_files;
    return 0;
}

/* Appends name as one path component; 0 or -ENAMETOOLONG. */
static int artifacts_component(const char *name, char *buf, size_t len, size_t *at)
{
    if (!name || !*name)
        name = "_";
    for (const char *c = name; *c; ++c) {
        char ch = (*c == '/' || (c == name && *c == '.')) ? '_' : *c;
        if (*at + 1 >= len)
            return -ENAMETOOLONG;
        buf[(*at)++] = ch;
    }
    buf[*at] = '\0';
    return 0;
}

int crmpi_artifacts_unit_dir(const char *suite, const char *test, int param, char *buf,
        size_t len)
{
    size_t at = 0;
    if (!len)
        return -ENAMETOOLONG;
    buf[0] = '\0';
    if (artifacts_component(suite, buf, len, &at))
        return -ENAMETOOLONG;
    if (at + 1 >= len)
        return -ENAMETOOLONG;
    buf[at++] = '/';
    buf[at] = '\0';
    if (artifacts_component(test, buf, len, &at))
        return -ENAMETOOLONG;
    if (param >= 0) {
        int n = snprintf(buf + at, len - at, "[%d]", param);
        if (n < 0 || (size_t) n >= len - at)
            return -ENAMETOOLONG;
    }
    return 0;
}
