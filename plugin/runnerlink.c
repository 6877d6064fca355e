#include <criterion/stats.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "runnerlink.h"

#define RLINK_MAGIC "crmp1"
#define RLINK_FIELDS_MAX 11

/* Byte caps of a record's strings: with the head and the tabs, they fit RECORD_MAX. */
#define RLINK_HEAD_MAX 128
#define RLINK_SUITE_MAX 192
#define RLINK_NAME_MAX 320
#define RLINK_STATUS_MAX 16
#define RLINK_DETAIL_MAX 360

_Static_assert(RLINK_HEAD_MAX + RLINK_SUITE_MAX + RLINK_NAME_MAX + RLINK_STATUS_MAX
        + RLINK_DETAIL_MAX + 4 + 2 <= CRMPI_RUNNERLINK_RECORD_MAX, "a record's parts fit");

static void rlink_write(const char *p, size_t len)
{
    /* A lost mark or record only delays a relay, or leaves the runner's line behind. */
    while (len) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t) n;
    }
}

void crmpi_runnerlink_frame(void)
{
    if (!getenv(CRMPI_ENV_RUNNER))
        return;
    rlink_write("\x1e", 1);
}

void crmpi_runnerlink_write_stats(const struct criterion_global_stats *stats)
{
    const char *path = getenv(CRMPI_ENV_RUNNER);
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "we");
    if (!f) {
        crmpi_warn("cannot write the run's counts for the runner to %s", path);
        return;
    }
    /* As the Synthesis counts: a skipped test was not tested. */
    fprintf(f, "%zu %zu %zu %zu %zu\n", stats->nb_tests - stats->tests_skipped, stats->tests_passed,
            stats->tests_failed, stats->tests_crashed, stats->tests_skipped);
    if (fclose(f))
        crmpi_warn("cannot write the run's counts for the runner to %s", path);
}

int crmpi_runnerlink_read_stats(const char *path, struct crmpi_runnerlink_stats *s)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int n = fscanf(f, "%lu %lu %lu %lu %lu", &s->tested, &s->passing, &s->failing,
            &s->crashing, &s->skipped);
    fclose(f);
    return n == 5 ? 0 : -EINVAL;
}

int crmpi_runnerlink_wanted(void)
{
    const char *live = getenv(CRMPI_ENV_RUNNER_LIVE);
    if (!getenv(CRMPI_ENV_RUNNER) || !live || strncmp(live, "records", 7))
        return 0;
    return strcmp(live + 7, ",recap") ? 1 : 2;
}

/* Appends a tab and at most cap bytes of s, its separators made spaces, never half a character. */
static void rlink_put(char *buf, size_t *len, const char *s, size_t cap)
{
    buf[(*len)++] = '\t';
    size_t i = 0;
    for (; s && s[i] && i < cap; ++i) {
        char ch = s[i];
        int sep = ch == '\t' || ch == '\n' || ch == '\r' || ch == CRMPI_RUNNERLINK_MARK
                || ch == CRMPI_RUNNERLINK_RECORD;
        buf[(*len)++] = sep ? ' ' : ch;
    }
    /* Cut inside a UTF-8 sequence: its first bytes go too. */
    while (s && s[i] && i > 0 && ((unsigned char) s[i] & 0xc0) == 0x80) {
        --i;
        --*len;
    }
}

size_t crmpi_runnerlink_format(const struct crmpi_runnerlink_rec *r,
        char buf[CRMPI_RUNNERLINK_RECORD_MAX])
{
    int n = snprintf(buf, RLINK_HEAD_MAX, "%c" RLINK_MAGIC "\t%c\t%lu", CRMPI_RUNNERLINK_RECORD,
            (char) r->kind, r->n);
    if (r->kind == CRMPI_RUNNERLINK_DONE && n > 0 && n < RLINK_HEAD_MAX)
        n += snprintf(buf + n, RLINK_HEAD_MAX - (size_t) n, "\t%lu\t%lu\t%lu\t%lu", r->passed,
                r->failed, r->crashed, r->wall_ms);
    size_t len = n > 0 && n < RLINK_HEAD_MAX ? (size_t) n : 0;
    if (r->kind != CRMPI_RUNNERLINK_TOTAL) {
        rlink_put(buf, &len, r->suite, RLINK_SUITE_MAX);
        rlink_put(buf, &len, r->name, RLINK_NAME_MAX);
    }
    if (r->kind == CRMPI_RUNNERLINK_DONE)
        rlink_put(buf, &len, r->status, RLINK_STATUS_MAX);
    if (r->kind == CRMPI_RUNNERLINK_DONE || r->kind == CRMPI_RUNNERLINK_LEAK)
        rlink_put(buf, &len, r->detail, RLINK_DETAIL_MAX);
    buf[len++] = CRMPI_RUNNERLINK_MARK;
    buf[len] = '\0';
    return len;
}

/* Strict unsigned decimal. */
static int rlink_ulong(const char *s, unsigned long *out)
{
    if (*s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end ? -EINVAL : 0;
}

int crmpi_runnerlink_parse(const char *text, size_t len, struct crmpi_runnerlink_rec *r)
{
    if (len >= sizeof(r->text) || memchr(text, '\0', len))
        return -EINVAL;
    memcpy(r->text, text, len);
    r->text[len] = '\0';
    char *f[RLINK_FIELDS_MAX + 1];
    size_t nf = 0;
    for (char *p = r->text; p && nf <= RLINK_FIELDS_MAX; ++nf) {
        f[nf] = p;
        p = strchr(p, '\t');
        if (p)
            *p++ = '\0';
    }
    if (nf < 3 || strcmp(f[0], RLINK_MAGIC) || strlen(f[1]) != 1 || rlink_ulong(f[2], &r->n))
        return -EINVAL;
    r->kind = (enum crmpi_runnerlink_kind) f[1][0];
    r->passed = r->failed = r->crashed = r->wall_ms = 0;
    r->suite = r->name = r->status = r->detail = "";
    switch (r->kind) {
    case CRMPI_RUNNERLINK_TOTAL:
        return nf == 3 ? 0 : -EINVAL;
    case CRMPI_RUNNERLINK_START:
        if (nf != 5)
            return -EINVAL;
        r->suite = f[3];
        r->name = f[4];
        return 0;
    case CRMPI_RUNNERLINK_LEAK:
        if (nf != 6)
            return -EINVAL;
        r->suite = f[3];
        r->name = f[4];
        r->detail = f[5];
        return 0;
    case CRMPI_RUNNERLINK_DONE:
        if (nf != 11 || rlink_ulong(f[3], &r->passed) || rlink_ulong(f[4], &r->failed)
                || rlink_ulong(f[5], &r->crashed) || rlink_ulong(f[6], &r->wall_ms))
            return -EINVAL;
        r->suite = f[7];
        r->name = f[8];
        r->status = f[9];
        r->detail = f[10];
        return 0;
    }
    return -EINVAL;
}

void crmpi_runnerlink_send(const struct crmpi_runnerlink_rec *r)
{
    char buf[CRMPI_RUNNERLINK_RECORD_MAX];
    size_t len = crmpi_runnerlink_format(r, buf);
    fflush(stdout);
    fflush(stderr);
    rlink_write(buf, len);
}
