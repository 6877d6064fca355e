/*
 * One line at the bottom of a terminal, drawn and erased in place, and the
 * colours the plugin's own lines use.  The capabilities come from terminfo
 * (libtinfo) for TERM, read once: nothing of terminfo stays loaded, so a
 * test binary that uses curses itself is left alone.
 */
#ifndef CRMPI_TERMLINE_H_
#define CRMPI_TERMLINE_H_

#include <stddef.h>

#include "options.h"
#include "progress.h"

enum crmpi_termline_color {
    CRMPI_TERMLINE_GREEN,
    CRMPI_TERMLINE_RED,
    CRMPI_TERMLINE_YELLOW,
    CRMPI_TERMLINE_MAGENTA,
    CRMPI_TERMLINE_NCOLORS,
};

struct crmpi_termline {
    int fd;
    int can_draw;               /* fd is a terminal that can go back to the line's start */
    int shown;                  /* a line is on the screen */
    size_t shown_cols;          /* its width, to blank it without clr_eol */
    char cr[16];                /* carriage_return */
    char el[32];                /* clr_eol; "" when the terminal has none */
    char color[CRMPI_TERMLINE_NCOLORS][32];     /* set_a_foreground; "" without colours */
    char reset[32];             /* exit_attribute_mode */
};

/*
 * Reads TERM's capabilities for fd.  color: whether the plugin's lines may
 * be coloured (Criterion's --color, NO_COLOR); without it, or without such
 * capabilities, the colours are "".  Drawing needs fd to be a terminal and
 * TERM to say how to go back to the line's start.  Never fails: a terminal
 * it cannot use is one it does not draw on (can_draw 0).
 */
void crmpi_termline_open(struct crmpi_termline *t, int fd, const char *term, int color);

/*
 * crmpi_termline_open, then whether mode draws the status line there:
 * auto when fd is a terminal that term (not "dumb") describes, bar on any
 * terminal, none never.
 */
int crmpi_termline_start(struct crmpi_termline *t, int fd, const char *term,
        enum crmpi_progress_mode mode, int color);

/* Columns of fd's terminal (TIOCGWINSZ, asked each time: it follows resizes); 80 if unknown. */
unsigned crmpi_termline_width(const struct crmpi_termline *t);

/* Replaces the line on the screen with text (cols visible columns; no newline). */
void crmpi_termline_show(struct crmpi_termline *t, const char *text, size_t cols);

/* Shows v's line (crmpi_progress_format, which reorders v->running) fitted to the width, coloured. */
void crmpi_termline_show_progress(struct crmpi_termline *t, const struct crmpi_progress_view *v);

/* Takes the line off the screen, leaving the cursor where it began. */
void crmpi_termline_erase(struct crmpi_termline *t);

#endif /* !CRMPI_TERMLINE_H_ */
