#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"

static int diag_level = CRMPI_DIAG_WARN;
static int diag_fd = -1;        /* -1: standard error */
static void (*diag_around)(void *arg, int after);
static void *diag_around_arg;

void crmpi_diag_set_around(void (*fn)(void *arg, int after), void *arg)
{
    diag_around = fn;
    diag_around_arg = arg;
}

void crmpi_diag_set_fd(int fd)
{
    diag_fd = fd;
}

int crmpi_diag_fd(void)
{
    return diag_fd >= 0 ? diag_fd : STDERR_FILENO;
}

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
    if (diag_fd >= 0) {
        size_t len = strnlen(line, sizeof(line) - 1);
        line[len] = '\n';
        ssize_t w = write(diag_fd, line, len + 1);
        (void) w;
        return;
    }
    if (diag_around)
        diag_around(diag_around_arg, 0);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
    if (diag_around)
        diag_around(diag_around_arg, 1);
}

void crmpi_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "criterion-mproc: internal error at %s:%d: %s\n",
            file, line, what);
    abort();
}
