/*
 * Unit tests for plugin/durations.c: what the durations database may touch
 * on disk.  A file that is not ours is never replaced, nothing blocks on a
 * FIFO, and saving leaves nothing beside the file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "durations.h"

static char t_dir[64];

static void t_setup(void)
{
    strcpy(t_dir, "/tmp/crmp-durations-XXXXXX");
    cr_assert_not_null(mkdtemp(t_dir));
}

static void t_teardown(void)
{
    DIR *d = opendir(t_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
                && unlinkat(dirfd(d), e->d_name, 0) && errno == EISDIR)
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);   /* a_directory_is_refused's */
    closedir(d);
    rmdir(t_dir);
}

TestSuite(durations, .init = t_setup, .fini = t_teardown, .timeout = 10);

static char *t_path(const char *name)
{
    char *p;
    cr_assert_geq(asprintf(&p, "%s/%s", t_dir, name), 0);
    return p;
}

static void t_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static char *t_read(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* One entry to save, and the single unit the binary knows. */
static struct crmpi_duration t_entry = { "s", "t", -1, 1234, 'P' };
static const struct crmpi_durations t_fresh = { &t_entry, 1 };

static size_t t_entries(void)
{
    DIR *d = opendir(t_dir);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

Test(durations, save_then_load_round_trips_and_leaves_nothing_beside)
{
    char *p = t_path("d");
    cr_assert_eq(crmpi_durations_save(p, &t_fresh, &t_fresh), 0);
    struct crmpi_durations db;
    cr_assert_eq(crmpi_durations_load(p, &db), 0);
    cr_assert_eq(db.n, 1);
    cr_expect_eq(db.v[0].ns, 1234);
    crmpi_durations_free(&db);
    cr_expect_eq(t_entries(), 1, "a lock or temporary file was left beside the durations file");
    free(p);
}

Test(durations, a_file_that_is_not_ours_is_left_untouched)
{
    char *p = t_path("passwd");
    t_write(p, "root:x:0:0:root:/root:/bin/bash\n");
    struct crmpi_durations db;
    cr_expect_eq(crmpi_durations_load(p, &db), CRMPI_DURATIONS_FOREIGN);
    cr_expect_eq(crmpi_durations_save(p, &t_fresh, &t_fresh), CRMPI_DURATIONS_FOREIGN);
    cr_expect_str_eq(t_read(p), "root:x:0:0:root:/root:/bin/bash\n");
    cr_expect_eq(t_entries(), 1);
    free(p);
}

Test(durations, a_corrupt_file_of_ours_is_rewritten)
{
    char *p = t_path("d");
    t_write(p, CRMPI_DURATIONS_HEADER "garbage\n");
    struct crmpi_durations db;
    cr_expect_eq(crmpi_durations_load(p, &db), -EBADMSG);
    cr_assert_eq(crmpi_durations_save(p, &t_fresh, &t_fresh), 0);
    cr_expect_eq(crmpi_durations_load(p, &db), 0);
    cr_expect_eq(db.n, 1);
    crmpi_durations_free(&db);
    free(p);
}

Test(durations, an_empty_file_is_taken)
{
    char *p = t_path("d");
    t_write(p, "");
    struct crmpi_durations db;
    cr_expect_eq(crmpi_durations_load(p, &db), 0);
    cr_expect_eq(db.n, 0);
    cr_expect_eq(crmpi_durations_save(p, &t_fresh, &t_fresh), 0);
    free(p);
}

/* Load and save both refuse p, and leave it of the type it had. */
static void t_refused(const char *p)
{
    struct stat before, after;
    cr_assert_eq(lstat(p, &before), 0);
    struct crmpi_durations db;
    cr_expect_eq(crmpi_durations_load(p, &db), CRMPI_DURATIONS_FOREIGN);
    cr_expect_eq(crmpi_durations_save(p, &t_fresh, &t_fresh), CRMPI_DURATIONS_FOREIGN);
    cr_assert_eq(lstat(p, &after), 0);
    cr_expect_eq(before.st_mode & S_IFMT, after.st_mode & S_IFMT, "%s was replaced", p);
}

/* Before the fix both calls blocked in open(2) until the suite timeout. */
Test(durations, a_fifo_is_refused_without_blocking)
{
    char *p = t_path("fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    t_refused(p);
    free(p);
}

Test(durations, no_lock_file_is_created_through_a_planted_symlink)
{
    char *p = t_path("d"), *lock = t_path("d.lock"), *victim = t_path("victim");
    cr_assert_eq(symlink(victim, lock), 0);
    cr_assert_eq(crmpi_durations_save(p, &t_fresh, &t_fresh), 0);
    cr_expect_neq(access(victim, F_OK), 0, "the lock file was created through a symlink");
    free(p);
    free(lock);
    free(victim);
}

Test(durations, a_directory_is_refused)
{
    char *p = t_path("sub");
    cr_assert_eq(mkdir(p, 0700), 0);
    t_refused(p);
    free(p);
}

Test(durations, messages_name_the_refusal)
{
    cr_expect_not_null(strstr(crmpi_durations_strerror(CRMPI_DURATIONS_FOREIGN), "untouched"));
    cr_expect_not_null(strstr(crmpi_durations_strerror(-EBADMSG), "rewritten"));
}
