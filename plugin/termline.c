/*
 * The status line's terminal (see termline.h).  Writes go straight to the
 * file descriptor, one write(2) per change, after stdio's buffers are
 * flushed, so that the line and the blocks printed through stdio never mix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

#include "dlsyms.h"
#include "termline.h"

/*
 * libtinfo, loaded when a terminal is first looked up (see dlsyms.h): most
 * coordinators never draw, and workers and test processes never look.
 */
static struct {
    TERMINAL **cur_term;
    __typeof__(&setupterm) setupterm;
    __typeof__(&set_curterm) set_curterm;
    __typeof__(&del_curterm) del_curterm;
    __typeof__(&tigetstr) tigetstr;
    __typeof__(&tigetnum) tigetnum;
    __typeof__(&tiparm) tiparm;
} termline_ti;

/* 0 once libtinfo is loaded, or -ENOENT after saying why. */
static int termline_ti_load(void)
{
    static int state;
    static const struct crmpi_dlsym syms[] = {
        CRMPI_DLSYM(termline_ti, cur_term, cur_term),
        CRMPI_DLSYM(termline_ti, setupterm, setupterm),
        CRMPI_DLSYM(termline_ti, set_curterm, set_curterm),
        CRMPI_DLSYM(termline_ti, del_curterm, del_curterm),
        CRMPI_DLSYM(termline_ti, tigetstr, tigetstr),
        CRMPI_DLSYM(termline_ti, tigetnum, tigetnum),
        CRMPI_DLSYM(termline_ti, tiparm, tiparm),
    };
    /* The soname of the ncurses this was built against (ncurses 6). */
    return crmpi_dlsyms(&state, "the status line", "libtinfo.so.6", syms,
            sizeof(syms) / sizeof(syms[0]), &termline_ti);
}

/* Copies a capability into dst, "" when the terminal lacks it. */
static void termline_cap(char *dst, size_t size, const char *cap)
{
    snprintf(dst, size, "%s", cap && cap != (const char *) -1 ? cap : "");
}

void crmpi_termline_open(struct crmpi_termline *t, int fd, const char *term, int color)
{
    *t = (struct crmpi_termline) { .fd = fd };
    if (!term || !*term || termline_ti_load())
        return;
    /* Our own TERMINAL, dropped before returning: the program's cur_term is put back. */
    TERMINAL *saved = *termline_ti.cur_term;
    int err = 0;
    if (termline_ti.setupterm((char *) term, fd, &err) != OK) {
        termline_ti.set_curterm(saved);
        return;
    }
    TERMINAL *mine = *termline_ti.cur_term;
    termline_cap(t->cr, sizeof(t->cr), termline_ti.tigetstr("cr"));
    termline_cap(t->el, sizeof(t->el), termline_ti.tigetstr("el"));
    const char *setaf = termline_ti.tigetstr("setaf");
    if (color && setaf && setaf != (const char *) -1 && termline_ti.tigetnum("colors") >= 8) {
        static const int numbers[CRMPI_TERMLINE_NCOLORS] = {
            [CRMPI_TERMLINE_GREEN] = COLOR_GREEN, [CRMPI_TERMLINE_RED] = COLOR_RED,
            [CRMPI_TERMLINE_YELLOW] = COLOR_YELLOW, [CRMPI_TERMLINE_MAGENTA] = COLOR_MAGENTA,
        };
        for (int i = 0; i < CRMPI_TERMLINE_NCOLORS; ++i)
            termline_cap(t->color[i], sizeof(t->color[i]),
                    termline_ti.tiparm(setaf, numbers[i]));
        termline_cap(t->reset, sizeof(t->reset), termline_ti.tigetstr("sgr0"));
        if (!*t->reset)
            memset(t->color, 0, sizeof(t->color));
    }
    termline_ti.set_curterm(saved);
    termline_ti.del_curterm(mine);
    t->can_draw = isatty(fd) && *t->cr;
}

int crmpi_termline_start(struct crmpi_termline *t, int fd, const char *term,
        enum crmpi_progress_mode mode, int color)
{
    crmpi_termline_open(t, fd, term, color);
    switch (mode) {
    case CRMPI_PROGRESS_AUTO:
        return t->can_draw && strcmp(term, "dumb");
    case CRMPI_PROGRESS_BAR:
        return t->can_draw;
    case CRMPI_PROGRESS_NONE:
        break;
    }
    return 0;
}

unsigned crmpi_termline_width(const struct crmpi_termline *t)
{
    struct winsize ws;
    if (ioctl(t->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static void termline_write(const struct crmpi_termline *t, const char *s, size_t len)
{
    while (len) {
        ssize_t n = write(t->fd, s, len);
        if (n <= 0)
            return;     /* a terminal that went away: the line is a courtesy */
        s += n;
        len -= (size_t) n;
    }
}

/* Writes cr, then what blanks the old line (clr_eol, or spaces and cr again), then text. */
static void termline_put(struct crmpi_termline *t, const char *text, size_t cols)
{
    char buf[4096];
    size_t len = (size_t) snprintf(buf, sizeof(buf), "%s", t->cr);
    if (*t->el) {
        len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s", t->el);
    } else if (t->shown) {
        for (size_t i = 0; i < t->shown_cols && len < sizeof(buf) - 1; ++i)
            buf[len++] = ' ';
        len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s", t->cr);
    }
    if (len < sizeof(buf))
        len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s", text);
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    fflush(stdout);
    fflush(stderr);
    termline_write(t, buf, len);
    t->shown = *text != '\0';
    t->shown_cols = cols;
}

void crmpi_termline_show(struct crmpi_termline *t, const char *text, size_t cols)
{
    if (t->can_draw)
        termline_put(t, text, cols);
}

void crmpi_termline_show_progress(struct crmpi_termline *t, const struct crmpi_progress_view *v)
{
    const struct crmpi_progress_style style = {
        .pass = t->color[CRMPI_TERMLINE_GREEN], .fail = t->color[CRMPI_TERMLINE_RED],
        .crash = t->color[CRMPI_TERMLINE_MAGENTA], .reset = t->reset,
    };
    char line[2048];
    size_t cols = crmpi_progress_format(v, &style, crmpi_termline_width(t), line, sizeof(line));
    crmpi_termline_show(t, line, cols);
}

void crmpi_termline_erase(struct crmpi_termline *t)
{
    if (t->can_draw && t->shown)
        termline_put(t, "", 0);
}
