#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "recap.h"

static const char *recap_path(const char *file, int short_filename)
{
    if (!file || !*file)
        return NULL;
    const char *slash = short_filename ? strrchr(file, '/') : NULL;
    return slash ? slash + 1 : file;
}

/* The first failed assertion: the list is Criterion's, newest first. */
static const Crmp__AssertStats *recap_first_failed(const Crmp__Result *r)
{
    for (size_t i = r->n_asserts; i-- > 0;)
        if (!r->asserts[i]->passed)
            return r->asserts[i];
    return NULL;
}

static int recap_has_event(const Crmp__Result *r, Crmp__Event__Kind kind)
{
    for (size_t i = 0; i < r->n_events; ++i)
        if (r->events[i]->kind == kind)
            return 1;
    return 0;
}

int crmpi_recap_describe(const struct crmpi_report_unit *u, int short_filename,
        const char **status, char *detail, size_t len)
{
    const Crmp__Result *r = u->result;
    if (!r || !r->final || r->disabled || r->final->status != CR_STATUS_FAILED)
        return 0;
    const Crmp__TestStats *st = r->final;
    const char *file = recap_path(st->file, short_filename);
    *detail = '\0';

    /* Criterion tells a crash outside the test's body apart: so does the recap. */
    if (recap_has_event(r, CRMP__EVENT__KIND__OTHER_CRASH)) {
        *status = "CRASH";
        snprintf(detail, len, "in its setup or teardown");
    } else if (st->timed_out) {
        *status = "TIMEOUT";
        snprintf(detail, len, "timed out");
    } else if (st->crashed || st->signal) {
        const char *abbrev = st->signal > 0 ? sigabbrev_np(st->signal) : NULL;
        *status = "CRASH";
        int n = abbrev ? snprintf(detail, len, "SIG%s", abbrev)
                       : snprintf(detail, len, "signal %d", st->signal);
        if (file && st->progress && n >= 0 && (size_t) n < len)
            snprintf(detail + n, len - (size_t) n, " after %s:%u", file, st->progress);
    } else {
        const Crmp__AssertStats *a = recap_first_failed(r);
        const char *afile = a ? recap_path(a->file, short_filename) : NULL;
        *status = "FAIL";
        if (afile)
            snprintf(detail, len, "%s:%u", afile, a->line);
        else if (st->exit_code)
            snprintf(detail, len, "exit status %d", st->exit_code);
        else if (recap_has_event(r, CRMP__EVENT__KIND__THEORY_FAIL))
            snprintf(detail, len, "theory failed");
    }
    return 1;
}

double crmpi_recap_lower_bound_ns(const struct crmpi_recap_efficiency *eff)
{
    double bound = (double) eff->total_ns / (double) (eff->workers ? eff->workers : 1);
    return (double) eff->longest_ns > bound ? (double) eff->longest_ns : bound;
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
        fprintf(f, "criterion-mproc: %zu test%s did not pass:\n", listed, listed == 1 ? "" : "s");
    for (size_t i = 0; listed && i < n; ++i) {
        const struct crmpi_report_unit *u = &units[i];
        if (!crmpi_recap_describe(u, short_filename, &status, detail, sizeof(detail)))
            continue;
        char param[32] = "";
        if (u->param >= 0)
            snprintf(param, sizeof(param), " [param %d]", u->param);
        fprintf(f, "criterion-mproc:   %-7s %s::%s%s%s%s\n", status, u->test->category,
                u->test->name, param, *detail ? "  " : "", detail);
    }
    if (eff) {
        double makespan = (double) eff->makespan_ms * 1e6;
        fprintf(f, "criterion-mproc: %.1fs on %zu worker%s, lower bound %.1fs: efficiency %.0f%%\n",
                makespan / 1e9, eff->workers, eff->workers == 1 ? "" : "s",
                crmpi_recap_lower_bound_ns(eff) / 1e9,
                makespan > 0 ? 100.0 * crmpi_recap_lower_bound_ns(eff) / makespan : 100.0);
    }
    fflush(f);
    return listed;
}
