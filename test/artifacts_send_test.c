/*
 * Unit tests for plugin/artifacts_send.c: the worker's walk of a test's
 * artifact directory, through a sender that records what it is given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "artifacts.h"
#include "artifacts_send.h"
#include "testenv.h"

/* What the sender saw: one line per piece ("path mode dir offset len last"), and the bytes. */
struct t_sent {
    char log[8192];
    size_t pieces;
    uint64_t bytes;
    size_t enough_after;        /* answer enough after this many pieces; 0: never */
    int fail_after;             /* fail the connection after this many pieces; 0: never */
};

static int t_send(void *arg, const Crmp__Artifact *a, int *enough)
{
    struct t_sent *s = arg;
    ++s->pieces;
    if (s->fail_after && s->pieces > (size_t) s->fail_after)
        return -ECONNRESET;
    size_t at = strlen(s->log);
    snprintf(s->log + at, sizeof(s->log) - at, "%s %o %d %llu %zu %d\n", a->path, a->mode,
            a->has_dir && a->dir, (unsigned long long) a->offset, a->has_data ? a->data.len : 0,
            a->has_last && a->last);
    cr_assert(crmpi_artifacts_path_ok(a->path), "sent a path the decoder refuses: %s", a->path);
    cr_assert_leq(a->has_data ? a->data.len : 0, CRMPI_ARTIFACTS_CHUNK);
    s->bytes += a->has_data ? a->data.len : 0;
    *enough = s->enough_after && s->pieces >= s->enough_after;
    return 0;
}

static char t_dir[256];

static void t_setup(void)
{
    snprintf(t_dir, sizeof(t_dir), "%s/crmp-send-test-XXXXXX",
            getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(t_dir));
}

static void t_teardown(void)
{
    crmpi_testenv_rmtree(t_dir);
}

static void t_file(const char *name, size_t len, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", t_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(ftruncate(fd, (off_t) len), 0);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

static void t_mkdir(const char *name, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", t_dir, name);
    cr_assert_eq(mkdir(path, mode), 0);
}

static void t_collect(struct t_sent *s, uint64_t max, struct crmpi_artifacts_notes *notes)
{
    cr_assert_eq(crmpi_artifacts_collect(t_dir, 5, max, t_send, s, notes), 0);
    crmpi_artifacts_notes_finish(notes);
}

TestSuite(send, .init = t_setup, .fini = t_teardown);

Test(send, files_directories_and_modes_in_name_order)
{
    t_file("b.txt", 3, 0644);
    t_file("a.sh", 0, 0755);
    t_mkdir("sub", 0750);
    t_file("sub/ro", 5, 0444);
    struct t_sent s = { 0 };
    struct crmpi_artifacts_notes notes = { 0 };
    t_collect(&s, 1000, &notes);
    cr_expect_str_eq(s.log, "a.sh 755 0 0 0 1\nb.txt 644 0 0 3 1\nsub 750 1 0 0 1\n"
            "sub/ro 444 0 0 5 1\n");
    cr_expect_eq(notes.n, 0, "notes: %s", notes.n ? notes.v[0] : "");
    crmpi_artifacts_notes_free(&notes);
}

Test(send, big_files_go_in_pieces)
{
    t_file("big", CRMPI_ARTIFACTS_CHUNK * 2 + 10, 0600);
    struct t_sent s = { 0 };
    struct crmpi_artifacts_notes notes = { 0 };
    t_collect(&s, CRMPI_ARTIFACTS_DEFAULT_MAX, &notes);
    char want[256];
    snprintf(want, sizeof(want), "big 600 0 0 %u 0\nbig 600 0 %u %u 0\nbig 600 0 %u 10 1\n",
            CRMPI_ARTIFACTS_CHUNK, CRMPI_ARTIFACTS_CHUNK, CRMPI_ARTIFACTS_CHUNK,
            2 * CRMPI_ARTIFACTS_CHUNK);
    cr_expect_str_eq(s.log, want);
    cr_expect_eq(s.bytes, CRMPI_ARTIFACTS_CHUNK * 2 + 10);
    crmpi_artifacts_notes_free(&notes);
}

Test(send, links_and_specials_are_left_out_with_a_note)
{
    char path[512];
    t_file("plain", 1, 0644);
    snprintf(path, sizeof(path), "%s/passwd", t_dir);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof(path), "%s/up", t_dir);
    cr_assert_eq(symlink("..", path), 0);
    snprintf(path, sizeof(path), "%s/pipe", t_dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    t_file("odd\033[2Jname", 1, 0644);
    struct t_sent s = { 0 };
    struct crmpi_artifacts_notes notes = { 0 };
    t_collect(&s, 1000, &notes);
    cr_expect_str_eq(s.log, "plain 644 0 0 1 1\n");
    cr_assert_eq(notes.n, 4);
    cr_expect_str_eq(notes.v[0], "odd?[2Jname not collected: its name");
    cr_expect_str_eq(notes.v[1], "symlink passwd not followed");
    cr_expect_str_eq(notes.v[2], "fifo pipe skipped");
    cr_expect_str_eq(notes.v[3], "symlink up not followed");
    crmpi_artifacts_notes_free(&notes);
}

Test(send, over_the_cap_what_fits_and_the_note_first)
{
    for (int i = 0; i < 12; ++i) {
        char name[16];
        snprintf(name, sizeof(name), "link%02d", i);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", t_dir, name);
        cr_assert_eq(symlink("/", path), 0);
    }
    t_file("a", 600, 0644);
    t_file("b", 600, 0644);
    t_file("c", 100, 0644);
    struct t_sent s = { 0 };
    struct crmpi_artifacts_notes notes = { 0 };
    t_collect(&s, 1000, &notes);
    cr_expect_str_eq(s.log, "a 644 0 0 600 1\nc 644 0 0 100 1\n");
    cr_assert_eq(notes.n, CRMPI_ARTIFACTS_NOTES_MAX + 1, "%zu notes", notes.n);
    cr_expect_str_eq(notes.v[0], "over the 1000 B cap: 1 file (600 B) left out");
    cr_expect_str_eq(notes.v[notes.n - 1], "and 5 more");
    crmpi_artifacts_notes_free(&notes);
}

Test(send, enough_stops_and_a_lost_connection_is_returned)
{
    t_file("a", 1, 0644);
    t_file("b", 1, 0644);
    struct t_sent s = { .enough_after = 1 };
    struct crmpi_artifacts_notes notes = { 0 };
    t_collect(&s, 1000, &notes);
    cr_expect_str_eq(s.log, "a 644 0 0 1 1\n");
    cr_assert_eq(notes.n, 1);
    cr_expect_str_eq(notes.v[0], "the coordinator took no more");
    crmpi_artifacts_notes_free(&notes);

    struct t_sent lost = { .fail_after = 1 };
    cr_expect_eq(crmpi_artifacts_collect(t_dir, 5, 1000, t_send, &lost, &notes), -ECONNRESET);
    crmpi_artifacts_notes_free(&notes);
}

Test(send, a_missing_directory_is_a_note)
{
    struct t_sent s = { 0 };
    struct crmpi_artifacts_notes notes = { 0 };
    cr_assert_eq(crmpi_artifacts_collect("/nonexistent/crmp", 5, 1000, t_send, &s, &notes), 0);
    cr_expect_eq(s.pieces, 0);
    cr_assert_eq(notes.n, 1);
    cr_expect(strstr(notes.v[0], "the directory is gone") != NULL, "%s", notes.v[0]);
    crmpi_artifacts_notes_free(&notes);
}
