/*
 * The live status line's text (see progress.h).  The line is built in
 * pieces, each with a visible width, so that escape sequences never count
 * as columns and a piece that does not fit is left out whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

struct progress_buf {
    char *p;
    size_t size, len;       /* bytes */
    size_t cols, max_cols;  /* visible columns */
};

static const char *progress_or_empty(const char *s)
{
    return s ? s : "";
}

/* Appends text (cols visible columns, wrapped in colour when given) if it fits; returns whether. */
static int progress_put(struct progress_buf *b, const char *color, const char *reset,
        const char *text)
{
    size_t cols = strlen(text);
    color = progress_or_empty(color);
    reset = *color ? progress_or_empty(reset) : "";
    size_t bytes = strlen(color) + cols + strlen(reset);
    if (b->cols + cols > b->max_cols || b->len + bytes >= b->size)
        return 0;
    b->len += (size_t) snprintf(b->p + b->len, b->size - b->len, "%s%s%s", color, text, reset);
    b->cols += cols;
    return 1;
}

/* Appends as much of text as fits (the head, when even it is too wide). */
static void progress_put_cut(struct progress_buf *b, const char *text)
{
    size_t room = b->max_cols - b->cols;
    if (b->len + room >= b->size)
        room = b->size - b->len - 1;
    size_t n = strnlen(text, room);
    memcpy(b->p + b->len, text, n);
    b->len += n;
    b->cols += n;
    b->p[b->len] = '\0';
}

void crmpi_progress_duration(int64_t ms, char *buf, size_t size)
{
    if (ms < 0)
        ms = 0;
    long long s = (long long) (ms / 1000);
    if (ms < 10000)
        snprintf(buf, size, "%lld.%llds", s, (long long) (ms % 1000) / 100);
    else if (s < 60)
        snprintf(buf, size, "%llds", s);
    else if (s < 3600)
        snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(buf, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

int64_t crmpi_progress_eta(const int64_t *left_ms, size_t n, unsigned workers)
{
    int64_t sum = 0, longest = 0;
    for (size_t i = 0; i < n; ++i) {
        int64_t l = left_ms[i] > 0 ? left_ms[i] : 0;
        sum += l;
        if (l > longest)
            longest = l;
    }
    int64_t share = sum / (workers ? workers : 1);
    return share > longest ? share : longest;
}

/* Longest-running first; names break ties, so the order does not flicker. */
static int progress_cmp_running(const void *a, const void *b)
{
    const struct crmpi_progress_test *x = a, *y = b;
    if (x->elapsed_ms != y->elapsed_ms)
        return x->elapsed_ms > y->elapsed_ms ? -1 : 1;
    int c = strcmp(x->suite, y->suite);
    if (c || x->name == y->name)
        return c;
    return !x->name ? -1 : !y->name ? 1 : strcmp(x->name, y->name);
}

/* The tests running, as many as fit, then "+K" for the rest. */
static void progress_put_running(struct progress_buf *b, const struct crmpi_progress_view *v)
{
    char piece[512], tail[32], dur[32];
    size_t shown = 0;
    for (; shown < v->n_running; ++shown) {
        const struct crmpi_progress_test *t = &v->running[shown];
        crmpi_progress_duration(t->elapsed_ms, dur, sizeof(dur));
        snprintf(piece, sizeof(piece), "%s%s%s%s %s", shown ? ", " : "  running: ", t->suite,
                t->name ? "::" : "", t->name ? t->name : "", dur);
        size_t rest = v->n_running - shown - 1;
        tail[0] = '\0';
        if (rest)
            snprintf(tail, sizeof(tail), ", +%zu", rest);
        /* This one only if the count of those after it still fits behind it. */
        if (b->cols + strlen(piece) + strlen(tail) > b->max_cols || !progress_put(b, NULL, NULL, piece))
            break;
    }
    if (shown == v->n_running)
        return;
    snprintf(tail, sizeof(tail), shown ? ", +%zu" : "  %zu running", v->n_running - shown);
    progress_put(b, NULL, NULL, tail);
}

size_t crmpi_progress_format(const struct crmpi_progress_view *v,
        const struct crmpi_progress_style *style, unsigned width, char *buf, size_t size)
{
    static const struct crmpi_progress_style plain;
    const struct crmpi_progress_style *s = style ? style : &plain;
    struct progress_buf b = { .p = buf, .size = size, .max_cols = width > 1 ? width - 1 : 0 };
    if (!size)
        return 0;
    buf[0] = '\0';

    char count[64], passed[48], failed[48], crashed[48], elapsed[48], eta[48], dur[32];
    snprintf(count, sizeof(count), "%zu/%zu%s  ", v->done, v->total, v->total_partial ? "+" : "");
    snprintf(passed, sizeof(passed), "%zu passed", v->passed);
    snprintf(failed, sizeof(failed), "%zu failed", v->failed);
    snprintf(crashed, sizeof(crashed), "%zu crashed", v->crashed);
    size_t head = strlen(count) + strlen(passed) + strlen(failed) + strlen(crashed) + 4;
    if (head > b.max_cols) {
        /* Too narrow for the counts: as much of them as fits, uncoloured. */
        char all[256];
        snprintf(all, sizeof(all), "%s%s, %s, %s", count, passed, failed, crashed);
        progress_put_cut(&b, all);
        return b.cols;
    }
    progress_put(&b, NULL, NULL, count);
    progress_put(&b, v->passed ? s->pass : NULL, s->reset, passed);
    progress_put(&b, NULL, NULL, ", ");
    progress_put(&b, v->failed ? s->fail : NULL, s->reset, failed);
    progress_put(&b, NULL, NULL, ", ");
    progress_put(&b, v->crashed ? s->crash : NULL, s->reset, crashed);

    crmpi_progress_duration(v->elapsed_ms, dur, sizeof(dur));
    snprintf(elapsed, sizeof(elapsed), "  %s", dur);
    eta[0] = '\0';
    if (v->eta_ms >= 0) {
        crmpi_progress_duration(v->eta_ms, dur, sizeof(dur));
        snprintf(eta, sizeof(eta), "  ETA %s", dur);
    }
    if (progress_put(&b, NULL, NULL, elapsed) && *eta)
        progress_put(&b, NULL, NULL, eta);

    if (v->n_running) {
        qsort(v->running, v->n_running, sizeof(*v->running), progress_cmp_running);
        progress_put_running(&b, v);
    }
    return b.cols;
}
