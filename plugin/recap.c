#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "recap.h"

/* Criterion cuts paths at either slash, on every platform. */
static int recap_sep(char c)
{
    return c == '/' || c == '\\';
}

/* The base name as Criterion's --short-filename prints it: a trailing slash is kept. */
static const char *recap_base(const char *file)
{
    const char *start = file;
    for (const char *c = file; *c; ++c)
        if (recap_sep(*c) && c[1])
            start = c + 1;
    return start;
}

static const char *recap_path(const char *file, int short_filename)
{
    if (!file || !*file)
        return NULL;
    return short_filename ? recap_base(file) : file;
}

/*
 * Criterion 2.4.1 prints a failed assertion's absolute path relative to its
 * working directory, with a walk that is not a true relative path: past the
 * first component that differs, it climbs one "../" per later mismatch of
 * the two paths compared character by character, so that /p/b/sub against
 * /p/src/sub/t.c gives ../src/sub/t.c.  The recap must name the file the
 * console named, so it takes the same walk (checked against libcriterion's
 * output, see test/recap_test.c).  Writes at most len bytes to out.
 */
void crmpi_recap_relative(const char *cwd, const char *path, char *out, size_t len)
{
    if (!strcmp(cwd, "/")) {
        snprintf(out, len, "%s", path);
        return;
    }
    const char *c = cwd, *p = path, *comp = path, *tail = NULL;
    unsigned ups = 0;
    while (*c && *p) {
        if (*c != *p) {
            ++ups;
            while (*c && !recap_sep(*c))
                ++c;
            while (*p && !recap_sep(*p))
                ++p;
            if (!tail)
                tail = comp;    /* the path from its first differing component */
            if (!*c || !*p)
                break;
        }
        if (recap_sep(*p))
            comp = p + 1;
        ++c;
        ++p;
    }
    const char *up = "../";
    if (!tail) {                /* one path is a prefix of the other */
        if (recap_sep(*p))
            up = "./";
        else
            while (!recap_sep(*p))
                --p;            /* path starts with a slash: this stops */
        ups = 1;
        tail = p;
    }
    size_t used = 0;
    if (len)
        *out = '\0';
    for (unsigned i = 0; i < ups && used < len; ++i)
        used += (size_t) snprintf(out + used, len - used, "%s", up);
    /* Then tail's components, one slash between them. */
    const char *slash = "";
    for (const char *t = tail; *t && used < len;) {
        size_t n = 0;
        while (t[n] && !recap_sep(t[n]))
            ++n;
        if (n) {
            used += (size_t) snprintf(out + used, len - used, "%s%.*s", slash, (int) n, t);
            slash = "/";
        }
        t += n + (t[n] != '\0');
    }
}

/*
 * A failed assertion's path as Criterion's console printed it: the base
 * name, or an absolute path made relative to the working directory (as is
 * when that is unknown).  buf (size len) holds the latter.
 */
static const char *recap_assert_path(const char *file, int short_filename, char *buf,
        size_t len)
{
    char cwd[PATH_MAX];
    if (!file || !*file || short_filename || *file != '/' || !getcwd(cwd, sizeof(cwd)))
        return recap_path(file, short_filename);
    crmpi_recap_relative(cwd, file, buf, len);
    return buf;
}

/* The first failed assertion: the list is Criterion's, newest first. */
static const Crmp__AssertStats *recap_first_failed(const Crmp__Result *r)
{
    for (size_t i = r->n_asserts; i-- > 0;)
        if (!r->asserts[i]->passed)
            return r->asserts[i];
    return NULL;
}

/* The unit's first event of this kind, or NULL. */
static const Crmp__Event *recap_event(const Crmp__Result *r, Crmp__Event__Kind kind)
{
    for (size_t i = 0; i < r->n_events; ++i)
        if (r->events[i]->kind == kind)
            return r->events[i];
    return NULL;
}

/*
 * What Criterion's console flagged, nothing else: a [FAIL] line (a crash,
 * a timeout, or a failed status when the test ended: a failure found later,
 * in a C++ fini, leaves Criterion's count at "passed"), or a warning that
 * the test's setup or teardown crashed or exited.
 */
int crmpi_recap_describe(const struct crmpi_report_unit *u, int short_filename,
        const char **status, char *detail, size_t len)
{
    const Crmp__Result *r = u->result;
    if (!r)
        return 0;
    const Crmp__Event *crash = recap_event(r, CRMP__EVENT__KIND__TEST_CRASH);
    const Crmp__Event *post = recap_event(r, CRMP__EVENT__KIND__POST_TEST);
    *detail = '\0';
    if (crash) {
        const Crmp__TestStats *st = crash->stats ? crash->stats : r->final;
        int sig = st ? st->signal : 0;
        const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;
        const char *file = st ? recap_path(st->file, short_filename) : NULL;
        *status = "CRASH";
        int n = abbrev ? snprintf(detail, len, "SIG%s", abbrev)
                       : snprintf(detail, len, "signal %d", sig);
        if (file && st->progress && n >= 0 && (size_t) n < len)
            snprintf(detail + n, len - (size_t) n, " after %s:%u", file, st->progress);
    } else if (recap_event(r, CRMP__EVENT__KIND__TEST_TIMEOUT)) {
        *status = "TIMEOUT";
        snprintf(detail, len, "timed out");
    } else if (post && post->stats && post->stats->status == CR_STATUS_FAILED) {
        const Crmp__AssertStats *a = recap_first_failed(r);
        char rel[PATH_MAX];
        const char *afile = a ? recap_assert_path(a->file, short_filename, rel, sizeof(rel))
                              : NULL;
        *status = "FAIL";
        if (afile)
            snprintf(detail, len, "%s:%u", afile, a->line);
        else if (post->stats->exit_code)
            snprintf(detail, len, "exit status %d", post->stats->exit_code);
        else if (recap_event(r, CRMP__EVENT__KIND__THEORY_FAIL))
            snprintf(detail, len, "theory failed");
        else if (r->n_leaked || (r->has_leaked_count && r->leaked_count))
            snprintf(detail, len, "left processes running");     /* --mproc-leaks=fail */
    } else if (recap_event(r, CRMP__EVENT__KIND__OTHER_CRASH)) {
        *status = "CRASH";
        snprintf(detail, len, "crashed in its setup or teardown");
    } else if (recap_event(r, CRMP__EVENT__KIND__ABNORMAL_EXIT)) {
        *status = "CRASH";
        snprintf(detail, len, "exited in its setup or teardown");
    } else {
        return 0;
    }
    return 1;
}

double crmpi_recap_lower_bound_ns(const struct crmpi_recap_efficiency *eff)
{
    double bound = (double) eff->total_ns / (double) (eff->workers ? eff->workers : 1);
    return (double) eff->longest_ns > bound ? (double) eff->longest_ns : bound;
}

void crmpi_recap_test_name(const struct crmpi_report_unit *u, char *buf, size_t size)
{
    if (u->param >= 0)
        snprintf(buf, size, "%s [param %d]", u->test->name, u->param);
    else
        snprintf(buf, size, "%s", u->test->name);
}

void crmpi_recap_print_head(FILE *f, size_t listed)
{
    fprintf(f, "criterion-mproc: %zu test%s failed, crashed or timed out:\n", listed,
            listed == 1 ? "" : "s");
}

void crmpi_recap_print_line(FILE *f, const char *status, const char *name, const char *detail)
{
    fprintf(f, "criterion-mproc:   %-7s %s%s%s\n", status, name, *detail ? "  " : "", detail);
}

void crmpi_recap_print_efficiency(FILE *f, const struct crmpi_recap_efficiency *eff)
{
    double makespan = (double) eff->makespan_ms * 1e6;
    fprintf(f, "criterion-mproc: %.1fs on %zu worker%s, lower bound %.1fs: efficiency %.0f%%\n",
            makespan / 1e9, eff->workers, eff->workers == 1 ? "" : "s",
            crmpi_recap_lower_bound_ns(eff) / 1e9,
            makespan > 0 ? 100.0 * crmpi_recap_lower_bound_ns(eff) / makespan : 100.0);
}

void crmpi_recap_print_leaks_head(FILE *f, size_t leaked)
{
    fprintf(f, "criterion-mproc: %zu test%s left processes running:\n", leaked,
            leaked == 1 ? "" : "s");
}

int crmpi_recap_leaked(const Crmp__Result *r, char *detail, size_t len)
{
    size_t used = 0;
    *detail = '\0';
    if (!r || !r->n_leaked)
        return 0;
    for (size_t i = 0; i < r->n_leaked && used < len; ++i) {
        int k = snprintf(detail + used, len - used, "%s%s", i ? "; " : "", r->leaked[i]);
        used += k > 0 ? (size_t) k : 0;
    }
    unsigned n = r->has_leaked_count ? r->leaked_count : (unsigned) r->n_leaked;
    if (n > r->n_leaked && used < len)
        snprintf(detail + used, len - used, "; ...");
    return 1;
}

/* The tests that left processes running ([LEAK] in their blocks), after the failures. */
static void recap_print_leaks(FILE *f, const struct crmpi_report_unit *units, size_t n,
        char *detail, size_t len)
{
    size_t leaked = 0;
    for (size_t i = 0; i < n; ++i)
        leaked += units[i].result && units[i].result->n_leaked;
    if (!leaked)
        return;
    crmpi_recap_print_leaks_head(f, leaked);
    for (size_t i = 0; i < n; ++i) {
        const struct crmpi_report_unit *u = &units[i];
        if (!crmpi_recap_leaked(u->result, detail, len))
            continue;
        char test[512], name[1024];
        crmpi_recap_test_name(u, test, sizeof(test));
        snprintf(name, sizeof(name), "%s::%s", u->test->category, test);
        crmpi_recap_print_line(f, "LEAK", name, detail);
    }
}

size_t crmpi_recap_print(FILE *f, const struct crmpi_report_unit *units, size_t n,
        int short_filename, const struct crmpi_recap_efficiency *eff)
{
    const char *status;
    char detail[PATH_MAX + 64];
    size_t listed = 0;
    for (size_t i = 0; i < n; ++i)
        listed += crmpi_recap_describe(&units[i], short_filename, &status, detail, sizeof(detail));
    if (listed)
        crmpi_recap_print_head(f, listed);
    for (size_t i = 0; listed && i < n; ++i) {
        const struct crmpi_report_unit *u = &units[i];
        if (!crmpi_recap_describe(u, short_filename, &status, detail, sizeof(detail)))
            continue;
        char test[512], name[1024];
        crmpi_recap_test_name(u, test, sizeof(test));
        snprintf(name, sizeof(name), "%s::%s", u->test->category, test);
        crmpi_recap_print_line(f, status, name, detail);
    }
    recap_print_leaks(f, units, n, detail, sizeof(detail));
    if (eff)
        crmpi_recap_print_efficiency(f, eff);
    fflush(f);
    return listed;
}
