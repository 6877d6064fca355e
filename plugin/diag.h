/*
 * The plugin's own diagnostics: stderr only, one prefix, behind a verbosity
 * switch.  Never stdout: people pipe TAP from there.
 */
#ifndef CRMPI_DIAG_H_
#define CRMPI_DIAG_H_

enum crmpi_diag_level {
    CRMPI_DIAG_ERROR = 0,   /* always shown */
    CRMPI_DIAG_WARN = 1,    /* always shown */
    CRMPI_DIAG_INFO = 2,    /* --mproc-verbose */
    CRMPI_DIAG_DEBUG = 3,   /* --mproc-verbose=2 */
};

void crmpi_diag_set_level(int level);

/*
 * Where messages go: fd (a worker's own standard error, while its fd 2
 * captures a test's output), or standard error again with -1.
 */
void crmpi_diag_set_fd(int fd);

/* Where messages go now (2 when no fd was set).  Async-signal-safe. */
int crmpi_diag_fd(void);
int crmpi_diag_level(void);

/*
 * A function called around each message written to standard error, with
 * after 0 before it and 1 after it (the live status line steps aside); NULL
 * for none.
 */
void crmpi_diag_set_around(void (*fn)(void *arg, int after), void *arg);

void crmpi_diag(enum crmpi_diag_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define crmpi_error(...) crmpi_diag(CRMPI_DIAG_ERROR, __VA_ARGS__)
#define crmpi_warn(...)  crmpi_diag(CRMPI_DIAG_WARN, __VA_ARGS__)
#define crmpi_info(...)  crmpi_diag(CRMPI_DIAG_INFO, __VA_ARGS__)
#define crmpi_debug(...) crmpi_diag(CRMPI_DIAG_DEBUG, __VA_ARGS__)

/* Programmer bugs only: a broken invariant inside the plugin. */
#define CRMPI_ASSERT(cond)                                                  \
    do {                                                                    \
        if (!(cond))                                                        \
            crmpi_panic(__FILE__, __LINE__, #cond);                         \
    } while (0)

_Noreturn void crmpi_panic(const char *file, int line, const char *what);

#endif /* !CRMPI_DIAG_H_ */
