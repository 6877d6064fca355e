/*
 * Unit tests for plugin/termline.c: what terminfo gives for a TERM, when the
 * line may be drawn, the width of a pseudo-terminal, and the bytes a draw
 * and an erase write.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pty.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "termline.h"

Test(termline, colours_only_when_asked_and_known)
{
    struct crmpi_termline t;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    crmpi_termline_open(&t, fds[1], "xterm", 1);
    cr_expect_str_eq(t.color[CRMPI_TERMLINE_GREEN], "\x1b[32m");
    cr_expect_str_eq(t.color[CRMPI_TERMLINE_RED], "\x1b[31m");
    cr_expect_neq(t.reset[0], '\0');
    cr_expect_eq(t.can_draw, 0, "a pipe is drawn on");
    crmpi_termline_open(&t, fds[1], "xterm", 0);
    cr_expect_str_eq(t.color[CRMPI_TERMLINE_GREEN], "", "coloured although not asked");
    crmpi_termline_open(&t, fds[1], "dumb", 1);
    cr_expect_str_eq(t.color[CRMPI_TERMLINE_GREEN], "", "dumb has no colours");
    cr_expect_str_eq(t.el, "");
    crmpi_termline_open(&t, fds[1], "no-such-terminal-crmp", 1);
    cr_expect_str_eq(t.cr, "");
    crmpi_termline_open(&t, fds[1], NULL, 1);
    cr_expect_eq(t.can_draw, 0);
    close(fds[0]);
    close(fds[1]);
}

static void t_pty(int *master, int *slave, unsigned short cols)
{
    struct winsize ws = { .ws_row = 24, .ws_col = cols };
    cr_assert_eq(openpty(master, slave, NULL, NULL, &ws), 0);
    /* Raw: the bytes written arrive as they are. */
    struct termios tio;
    cr_assert_eq(tcgetattr(*slave, &tio), 0);
    cfmakeraw(&tio);
    cr_assert_eq(tcsetattr(*slave, TCSANOW, &tio), 0);
}

static size_t t_read(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    return (size_t) n;
}

Test(termline, draws_and_erases_in_place_on_a_terminal)
{
    int master, slave;
    t_pty(&master, &slave, 123);
    struct crmpi_termline t;
    crmpi_termline_open(&t, slave, "xterm", 0);
    cr_assert(t.can_draw);
    cr_expect_eq(crmpi_termline_width(&t), 123);
    struct winsize ws = { .ws_row = 24, .ws_col = 57 };
    cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
    cr_expect_eq(crmpi_termline_width(&t), 57, "a resize is not followed");

    char buf[256];
    crmpi_termline_erase(&t);       /* nothing shown: nothing written */
    crmpi_termline_show(&t, "1/2  running", 12);
    t_read(master, buf, sizeof(buf));
    cr_expect_str_eq(buf, "\r\x1b[K1/2  running");
    crmpi_termline_erase(&t);
    t_read(master, buf, sizeof(buf));
    cr_expect_str_eq(buf, "\r\x1b[K");
    cr_expect_eq(t.shown, 0);
    close(master);
    close(slave);
}

Test(termline, without_clr_eol_blanks_with_spaces)
{
    int master, slave;
    t_pty(&master, &slave, 80);
    struct crmpi_termline t;
    crmpi_termline_open(&t, slave, "dumb", 0);
    cr_assert(t.can_draw, "dumb can go back to the line's start");
    char buf[256];
    crmpi_termline_show(&t, "abcd", 4);
    t_read(master, buf, sizeof(buf));
    cr_expect_str_eq(buf, "\rabcd");
    crmpi_termline_show(&t, "xy", 2);
    t_read(master, buf, sizeof(buf));
    cr_expect_str_eq(buf, "\r    \rxy");
    close(master);
    close(slave);
}

Test(termline, start_says_whether_each_mode_draws)
{
    int master, slave, fds[2];
    t_pty(&master, &slave, 80);
    cr_assert_eq(pipe(fds), 0);
    struct crmpi_termline t;
    cr_expect(crmpi_termline_start(&t, slave, "xterm", CRMPI_PROGRESS_AUTO, 0));
    cr_expect(crmpi_termline_start(&t, slave, "xterm", CRMPI_PROGRESS_BAR, 0));
    cr_expect(!crmpi_termline_start(&t, slave, "xterm", CRMPI_PROGRESS_NONE, 0));
    cr_expect(!crmpi_termline_start(&t, slave, "dumb", CRMPI_PROGRESS_AUTO, 0), "auto on dumb");
    cr_expect(crmpi_termline_start(&t, slave, "dumb", CRMPI_PROGRESS_BAR, 0));
    cr_expect(!crmpi_termline_start(&t, slave, NULL, CRMPI_PROGRESS_BAR, 0), "no TERM");
    cr_expect(!crmpi_termline_start(&t, fds[1], "xterm", CRMPI_PROGRESS_AUTO, 0), "a pipe");
    cr_expect(!crmpi_termline_start(&t, fds[1], "xterm", CRMPI_PROGRESS_BAR, 0), "a pipe");
    close(fds[0]);
    close(fds[1]);
    close(master);
    close(slave);
}

Test(termline, shows_a_progress_view_fitted_and_coloured)
{
    int master, slave;
    t_pty(&master, &slave, 30);
    struct crmpi_termline t;
    crmpi_termline_open(&t, slave, "xterm", 1);
    const struct crmpi_progress_view v = { .done = 1, .total = 2, .passed = 1, .eta_ms = -1 };
    char buf[256];
    crmpi_termline_show_progress(&t, &v);
    t_read(master, buf, sizeof(buf));
    /* 29 columns at most: the counts, cut, uncoloured once they do not fit whole. */
    cr_expect_str_eq(buf, "\r\x1b[K1/2  1 passed, 0 failed, 0 cr");
    struct winsize ws = { .ws_row = 24, .ws_col = 80 };
    cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
    crmpi_termline_show_progress(&t, &v);
    t_read(master, buf, sizeof(buf));
    cr_expect(strstr(buf, "\x1b[32m1 passed"), "the passed count is not green: %s", buf);
    close(master);
    close(slave);
}
