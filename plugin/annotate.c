#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "annotate.h"
#include "junit.h"

char *crmpi_annotate_escape(const char *in, int property, char *out, size_t size)
{
    size_t o = 0;
    if (!size)
        return out;
    for (const char *p = in ? in : ""; *p; ++p) {
        const char *esc = *p == '%' ? "%25" : *p == '\r' ? "%0D" : *p == '\n' ? "%0A"
                : property && *p == ':' ? "%3A" : property && *p == ',' ? "%2C" : NULL;
        size_t len = esc ? 3 : 1;
        if (o + len >= size)
            break;
        if (esc)
            memcpy(out + o, esc, 3);
        else
            out[o] = *p;
        o += len;
    }
    out[o] = '\0';
    return out;
}

int crmpi_annotate_enabled(const char *mode, const char *github_actions)
{
    if (mode && !strcmp(mode, "off"))
        return 0;
    if (mode && !strcmp(mode, "on"))
        return 1;
    return github_actions && !strcmp(github_actions, "true");
}

static void annotate_one(FILE *f, const char *file, unsigned line, const char *suite,
        const char *test, const char *message)
{
    char efile[1024], title[1024], emsg[4096];
    char raw_title[512];
    snprintf(raw_title, sizeof(raw_title), "%s::%s", suite, test);
    fprintf(f, "::error file=%s,line=%u,title=%s::%s\n",
            crmpi_annotate_escape(file, 1, efile, sizeof(efile)), line,
            crmpi_annotate_escape(raw_title, 1, title, sizeof(title)),
            crmpi_annotate_escape(message, 0, emsg, sizeof(emsg)));
}

void crmpi_annotate_unit(FILE *f, const struct crmpi_report_unit *u)
{
    const Crmp__Result *res = u->result;
    if (!res)
        return;
    enum crmpi_junit_kind kind = crmpi_junit_kind_of(res);
    if (kind != CRMPI_JUNIT_FAIL && kind != CRMPI_JUNIT_ERROR)
        return;
    char name[300];
    if (u->param >= 0)
        snprintf(name, sizeof(name), "%s[%d]", u->test->name, u->param);
    else
        snprintf(name, sizeof(name), "%s", u->test->name);
    size_t n = 0;
    /* Oldest first: the list is newest first. */
    for (size_t i = res->n_asserts; i-- > 0;) {
        const Crmp__AssertStats *a = res->asserts[i];
        if (a->passed)
            continue;
        annotate_one(f, a->file ? a->file : u->test->data->file_, a->line, u->test->category, name,
                a->message && *a->message ? a->message : "Assertion Failed");
        ++n;
    }
    if (!n) {
        char message[256];
        crmpi_junit_message(u, res, message, sizeof(message));
        annotate_one(f, u->test->data->file_, (unsigned) u->test->data->line_, u->test->category,
                name, message);
    }
    fflush(f);
}
