/*
 * The live status line's text: what is done, what runs, how long it has
 * taken and may still take, fitted to a terminal's width.  Pure functions
 * over plain data (no terminal, no clock), so that the fitting can be
 * tested; plugin/termline.[ch] draws the result, plugin/coord_live.c feeds it.
 */
#ifndef CRMPI_PROGRESS_H_
#define CRMPI_PROGRESS_H_

#include <stddef.h>
#include <stdint.h>

/* The line is redrawn at most this often. */
#define CRMPI_PROGRESS_REDRAW_MS 100

struct crmpi_progress_test {
    const char *suite;          /* borrowed; what runs, alone when name is NULL */
    const char *name;           /* borrowed; NULL: shown as "suite" rather than "suite::name" */
    int64_t elapsed_ms;
};

struct crmpi_progress_view {
    size_t done, total;         /* tests reported, tests this run reports */
    int total_partial;          /* more tests may come: shown "TOTAL+" */
    size_t passed, failed, crashed;     /* as in Criterion's Synthesis */
    int64_t elapsed_ms;         /* since the run began */
    int64_t eta_ms;             /* -1: unknown */
    struct crmpi_progress_test *running;    /* borrowed; reordered by _format */
    size_t n_running;
};

/* Escape sequences around the counts; NULL or "" for none.  They take no column. */
struct crmpi_progress_style {
    const char *pass, *fail, *crash, *reset;
};

/*
 * Writes v's line into buf (size bytes, NUL-terminated): "N/TOTAL" (or "N/TOTAL+"), the
 * counts, the elapsed time, the ETA when known, then as many running tests
 * as fit, longest-running first ("+K" for those left out).  The text takes
 * at most width - 1 columns (the last one would wrap on many terminals);
 * what does not fit is left out from the end, the counts last.  Returns the
 * columns taken.
 */
size_t crmpi_progress_format(const struct crmpi_progress_view *v,
        const struct crmpi_progress_style *style, unsigned width, char *buf, size_t size);

/* A duration for people: "0.4s", "12s", "3m05s", "2h07m".  Writes at most size bytes. */
void crmpi_progress_duration(int64_t ms, char *buf, size_t size);

/*
 * What is left to run on workers workers, when each test left needs
 * left_ms[i]: the larger of the even share and the longest test.
 */
int64_t crmpi_progress_eta(const int64_t *left_ms, size_t n, unsigned workers);

#endif /* !CRMPI_PROGRESS_H_ */
