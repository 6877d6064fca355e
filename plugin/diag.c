#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diag.h"

static int diag_level = CRMPI_DIAG_WARN;

void crmpi_diag_set_level(int level)
{
    diag_level = level;
}

int crmpi_diag_level(void)
{
    return diag_level;
}

void crmpi_diag(enum crmpi_diag_level level, const char *fmt, ...)
{
    if ((int) level > diag_level)
        return;

    static const char *const tags[] = { "error", "warning", "info", "debug" };
    char line[2048];
    int n = snprintf(line, sizeof(line), "criterion-mproc[%ld]: %s: ",
            (long) getpid(), tags[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t) n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
    va_end(ap);
    /* One write per line: lines from several processes never interleave. */
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void crmpi_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "criterion-mproc: internal error at %s:%d: %s\n",
            file, line, what);
    abort();
}
