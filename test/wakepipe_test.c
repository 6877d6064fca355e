/*
 * Unit tests for plugin/wakepipe.c: the self-pipe's records survive however
 * the kernel splits them between reads, and its signal handlers keep errno.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wakepipe.h"

static struct crmpi_wakepipe t_open(void)
{
    struct crmpi_wakepipe wp = CRMPI_WAKEPIPE_INIT;
    cr_assert_eq(crmpi_wakepipe_open(&wp), 0);
    return wp;
}

/* The bytes one record takes on the pipe, whatever the encoding. */
static size_t t_encoded(enum crmpi_wake_kind kind, uint32_t value, unsigned char *buf, size_t cap)
{
    struct crmpi_wakepipe wp = t_open();
    crmpi_wakepipe_post(&wp, kind, value);
    ssize_t n = read(wp.fd[0], buf, cap);
    cr_assert_gt(n, 0);
    crmpi_wakepipe_close(&wp);
    return (size_t) n;
}

Test(wakepipe, records_come_back_in_order)
{
    struct crmpi_wakepipe wp = t_open();
    crmpi_wakepipe_post(&wp, CRMPI_WAKE_CHILD, 0);
    crmpi_wakepipe_post(&wp, CRMPI_WAKE_PIPE, 0x01020304u);
    crmpi_wakepipe_post(&wp, CRMPI_WAKE_SIGNAL, 0);
    struct crmpi_wake_rec r[8];
    cr_assert_eq(crmpi_wakepipe_read(&wp, r, 8), 3);
    cr_expect_eq(r[0].kind, CRMPI_WAKE_CHILD);
    cr_expect_eq(r[1].kind, CRMPI_WAKE_PIPE);
    cr_expect_eq(r[1].value, 0x01020304u);
    cr_expect_eq(r[2].kind, CRMPI_WAKE_SIGNAL);
    cr_expect_eq(crmpi_wakepipe_read(&wp, r, 8), -EAGAIN);
    crmpi_wakepipe_close(&wp);
}

/* A remote worker's disconnect split across two reads must not be lost (issue 10, defect 2). */
Test(wakepipe, a_record_split_across_two_reads_is_kept)
{
    unsigned char rec[64];
    size_t len = t_encoded(CRMPI_WAKE_PIPE, 77, rec, sizeof(rec));
    cr_assert_gt(len, 1);
    for (size_t cut = 1; cut < len; ++cut) {
        struct crmpi_wakepipe wp = t_open();
        struct crmpi_wake_rec r[4];
        cr_assert_eq(write(wp.fd[1], rec, cut), (ssize_t) cut);
        int n = crmpi_wakepipe_read(&wp, r, 4);
        cr_expect(n == 0 || n == -EAGAIN, "cut %zu: %d records from half of one", cut, n);
        cr_assert_eq(write(wp.fd[1], rec + cut, len - cut), (ssize_t) (len - cut));
        n = crmpi_wakepipe_read(&wp, r, 4);
        cr_expect_eq(n, 1, "cut %zu: the record split after %zu bytes was lost", cut, cut);
        if (n == 1) {
            cr_expect_eq(r[0].kind, CRMPI_WAKE_PIPE);
            cr_expect_eq(r[0].value, 77u);
        }
        crmpi_wakepipe_close(&wp);
    }
}

/* Reads of any size (cap records) deliver every record once, in order. */
Test(wakepipe, many_records_through_small_reads)
{
    struct crmpi_wakepipe wp = t_open();
    const uint32_t total = 500;
    for (size_t cap = 1; cap <= 3; ++cap) {
        for (uint32_t i = 0; i < total; ++i)
            crmpi_wakepipe_post(&wp, CRMPI_WAKE_PIPE, i);
        uint32_t next = 0;
        struct crmpi_wake_rec r[3];
        int n;
        while ((n = crmpi_wakepipe_read(&wp, r, cap)) >= 0) {
            cr_assert_leq((size_t) n, cap);
            for (int i = 0; i < n; ++i, ++next) {
                cr_assert_eq(r[i].kind, CRMPI_WAKE_PIPE);
                cr_assert_eq(r[i].value, next, "cap %zu: got %u, expected %u", cap,
                        r[i].value, next);
            }
        }
        cr_expect_eq(next, total, "cap %zu: %u of %u records", cap, next, total);
    }
    crmpi_wakepipe_close(&wp);
}

/* A handler that runs while the pipe is full must not change errno (defect 8). */
Test(wakepipe, signal_handlers_keep_errno)
{
    struct crmpi_wakepipe wp = t_open();
    struct crmpi_wakepipe_signals saved;
    crmpi_wakepipe_signals_install(&wp, &saved);
    /* A full pipe: the handler's write fails, with EAGAIN. */
    char junk[4096] = { 0 };
    while (write(wp.fd[1], junk, sizeof(junk)) > 0)
        ;
    int sigs[] = { SIGTERM, SIGINT, SIGCHLD };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); ++i) {
        errno = EDOM;
        cr_assert_eq(raise(sigs[i]), 0);
        cr_expect_eq(errno, EDOM, "signal %d: errno %d after the handler", sigs[i], errno);
    }
    cr_expect_eq(crmpi_wakepipe_signal(), SIGINT);
    crmpi_wakepipe_signals_restore(&saved);
    crmpi_wakepipe_close(&wp);
}
