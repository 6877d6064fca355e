/*
 * Unit tests for plugin/rundir.c: the run's private directory is made
 * whatever TMPDIR is (before, a missing or read-only TMPDIR aborted the run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "rundir.h"

static char t_root[64];

static void t_setup(void)
{
    strcpy(t_root, "/tmp/crmp-rundir-XXXXXX");
    cr_assert_not_null(mkdtemp(t_root));
}

static void t_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(rundir, .init = t_setup, .fini = t_teardown, .timeout = 10);

static const char *t_sub(const char *name)
{
    static char buf[4][128];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 128, "%s/%s", t_root, name);
    return p;
}

/* The directory exists, is private, and sits under base. */
static void t_made_under(const char *out, const char *base)
{
    cr_expect_eq(strncmp(out, base, strlen(base)), 0, "%s is not under %s", out, base);
    struct stat st;
    cr_assert_eq(stat(out, &st), 0, "%s: %s", out, strerror(errno));
    cr_expect(S_ISDIR(st.st_mode));
    cr_expect_eq(st.st_mode & 0777, 0700);
    cr_expect_eq(rmdir(out), 0);
}

Test(rundir, usable_tmpdir_is_used_silently)
{
    char out[64], warn[256];
    cr_assert_eq(crmpi_runtime_dir(t_root, "/nonexistent", out, sizeof(out), warn, sizeof(warn)), 0);
    cr_expect_str_empty(warn);
    t_made_under(out, t_root);
}

Test(rundir, missing_tmpdir_falls_back_on_tmp_with_one_line)
{
    char out[64], warn[256];
    const char *tmp = t_sub("tmp");
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_assert_eq(crmpi_runtime_dir(t_sub("missing"), tmp, out, sizeof(out), warn, sizeof(warn)), 0);
    t_made_under(out, tmp);
    cr_expect_not_null(strstr(warn, "TMPDIR"), "%s", warn);
    cr_expect_not_null(strstr(warn, "No such file"), "%s", warn);
    cr_expect_not_null(strstr(warn, tmp), "%s", warn);
    cr_expect_null(strchr(warn, '\n'));
}

Test(rundir, tmpdir_that_is_a_file_falls_back)
{
    char out[64], warn[256];
    const char *file = t_sub("file"), *tmp = t_sub("tmp");
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_assert_eq(crmpi_runtime_dir(file, tmp, out, sizeof(out), warn, sizeof(warn)), 0);
    t_made_under(out, tmp);
    cr_expect_not_null(strstr(warn, "Not a directory"), "%s", warn);
}

Test(rundir, long_tmpdir_falls_back_quietly)
{
    char out[64], warn[256];
    const char *tmp = t_sub("tmp");
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_assert_eq(crmpi_runtime_dir("/a/very/long/temporary/directory/that/cannot/hold/a/socket",
            tmp, out, sizeof(out), warn, sizeof(warn)), 0);
    t_made_under(out, tmp);
    cr_expect_str_empty(warn);
}

Test(rundir, unset_tmpdir_uses_tmp)
{
    char out[64], warn[256];
    const char *tmp = t_sub("tmp");
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_assert_eq(crmpi_runtime_dir(NULL, tmp, out, sizeof(out), warn, sizeof(warn)), 0);
    t_made_under(out, tmp);
    cr_expect_str_empty(warn);
}

Test(rundir, neither_usable_falls_back_on_the_current_directory)
{
    char out[64], warn[256];
    cr_assert_eq(chdir(t_root), 0);
    cr_assert_eq(crmpi_runtime_dir(t_sub("missing"), t_sub("also-missing"), out, sizeof(out),
            warn, sizeof(warn)), 0);
    t_made_under(out, t_sub(".criterion-mproc/"));
    cr_expect_not_null(strstr(warn, "using ./.criterion-mproc"), "%s", warn);
    cr_expect_null(strchr(warn, '\n'));
}

Test(rundir, nothing_usable_is_an_error_with_a_message)
{
    char out[64], warn[256];
    const char *file = t_sub("file");
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(chdir(t_root), 0);
    /* .criterion-mproc is taken by a file: the last fallback fails too. */
    cr_assert_eq(rename(file, t_sub(".criterion-mproc")), 0);
    cr_expect_lt(crmpi_runtime_dir(t_sub("missing"), t_sub("also-missing"), out, sizeof(out),
            warn, sizeof(warn)), 0);
    cr_expect_not_null(strstr(warn, ".criterion-mproc is unusable"), "%s", warn);
}

/* What a run leaves in its directory goes with it (the coordinator's and a worker host's). */
Test(rundir, remove_takes_the_files_left_in_it)
{
    char out[64], warn[256], path[128];
    cr_assert_eq(crmpi_runtime_dir(t_root, "/nonexistent", out, sizeof(out), warn, sizeof(warn)), 0);
    snprintf(path, sizeof(path), "%s/fixture.0", out);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    crmpi_runtime_dir_remove(out);
    cr_expect_neq(access(out, F_OK), 0, "%s is still there", out);
    cr_expect_eq(access(t_root, F_OK), 0, "its parent went too");
    crmpi_runtime_dir_remove("");
}

Test(rundir, remove_takes_the_local_fallback_unless_it_holds_more)
{
    char out[64], other[64], warn[256];
    cr_assert_eq(chdir(t_root), 0);
    cr_assert_eq(crmpi_runtime_dir(t_sub("missing"), t_sub("also-missing"), out, sizeof(out),
            warn, sizeof(warn)), 0);
    cr_assert_eq(crmpi_runtime_dir(t_sub("missing"), t_sub("also-missing"), other,
            sizeof(other), warn, sizeof(warn)), 0);
    crmpi_runtime_dir_remove(out);
    cr_expect_eq(access(t_sub(".criterion-mproc"), F_OK), 0, "removed while it held %s", other);
    crmpi_runtime_dir_remove(other);
    cr_expect_neq(access(t_sub(".criterion-mproc"), F_OK), 0, "./.criterion-mproc left behind");
}
