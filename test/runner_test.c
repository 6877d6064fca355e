/*
 * Unit tests for plugin/runner_list.c: the runner's test list from meson's
 * and CTest's JSON (texts shaped as meson 1.0 and CTest 3.25 print them),
 * selection by suite or label, and telling Criterion binaries apart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "runner.h"

static const char meson_json[] =
    "[{\"cmd\": [\"/b/test/auth_test\", \"-j1\"], \"env\": {\"TERM\": \"dumb\"},"
    "  \"name\": \"auth\", \"workdir\": null, \"timeout\": 60,"
    "  \"suite\": [\"proj:unit\"], \"is_parallel\": true, \"priority\": 0,"
    "  \"protocol\": \"exitcode\", \"depends\": []},"
    " {\"cmd\": [\"/usr/bin/python3\", \"/s/t.py\"], \"env\": {},"
    "  \"name\": \"script\", \"workdir\": \"/s\", \"timeout\": 30,"
    "  \"suite\": [\"proj:e2e\", \"proj:slow\"], \"is_parallel\": false}]";

Test(runner_list, meson)
{
    struct crmpi_rlist l = { 0 };
    char err[256] = "";
    cr_assert_eq(crmpi_rlist_add_meson(&l, meson_json, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.v[0].name, "auth");
    cr_assert_str_eq(l.v[0].argv[0], "/b/test/auth_test");
    cr_assert_str_eq(l.v[0].argv[1], "-j1");
    cr_assert_null(l.v[0].argv[2]);
    cr_assert_str_eq(l.v[0].env[0], "TERM=dumb");
    cr_assert_null(l.v[0].env[1]);
    cr_assert_null(l.v[0].cwd, "a null workdir is the runner's");
    cr_assert_float_eq(l.v[0].timeout_s, 60.0, 1e-9);
    cr_assert(l.v[0].is_parallel);
    cr_assert_str_eq(l.v[1].cwd, "/s");
    cr_assert_not(l.v[1].is_parallel);
    cr_assert_str_eq(l.v[1].suites[1], "proj:slow");
    crmpi_rlist_free(&l);
}

Test(runner_list, meson_bad)
{
    struct crmpi_rlist l = { 0 };
    char err[256] = "";
    cr_assert_eq(crmpi_rlist_add_meson(&l, "{", err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "not JSON"), "%s", err);
    cr_assert_eq(crmpi_rlist_add_meson(&l, "{}", err, sizeof(err)), -EINVAL);
    cr_assert_eq(crmpi_rlist_add_meson(&l, "[{\"name\": \"x\"}]", err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "without a name or command"), "%s", err);
    cr_assert_eq(crmpi_rlist_add_meson(&l, "[{\"name\": \"x\", \"cmd\": [1]}]", err,
                         sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "non-string"), "%s", err);
    cr_assert_eq(l.n, 0, "a bad entry leaves nothing half-built behind");
    crmpi_rlist_free(&l);
}

static const char ctest_json[] =
    "{\"kind\": \"ctestInfo\", \"version\": {\"major\": 1, \"minor\": 0},"
    " \"backtraceGraph\": {}, \"tests\": ["
    "  {\"name\": \"math\", \"command\": [\"/b/math\", \"--verbose\"], \"properties\": ["
    "    {\"name\": \"ENVIRONMENT\", \"value\": [\"A=1\", \"B=2\"]},"
    "    {\"name\": \"LABELS\", \"value\": [\"fast\"]},"
    "    {\"name\": \"TIMEOUT\", \"value\": 12.5},"
    "    {\"name\": \"WORKING_DIRECTORY\", \"value\": \"/b\"}]},"
    "  {\"name\": \"db\", \"command\": [\"/b/db\"], \"properties\": ["
    "    {\"name\": \"RUN_SERIAL\", \"value\": true}]}]}";

Test(runner_list, ctest)
{
    struct crmpi_rlist l = { 0 };
    char err[256] = "";
    cr_assert_eq(crmpi_rlist_add_ctest(&l, ctest_json, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.v[0].argv[1], "--verbose");
    cr_assert_str_eq(l.v[0].env[1], "B=2");
    cr_assert_str_eq(l.v[0].suites[0], "fast");
    cr_assert_float_eq(l.v[0].timeout_s, 12.5, 1e-9);
    cr_assert_str_eq(l.v[0].cwd, "/b");
    cr_assert(l.v[0].is_parallel);
    cr_assert_not(l.v[1].is_parallel, "RUN_SERIAL runs alone");
    cr_assert_null(l.v[1].env[0]);
    crmpi_rlist_free(&l);

    cr_assert_eq(crmpi_rlist_add_ctest(&l, "{\"tests\": [{\"name\": \"gone\"}]}", err,
                         sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "gone has no command"), "%s", err);
    cr_assert_eq(crmpi_rlist_add_ctest(&l, "[]", err, sizeof(err)), -EINVAL);
    crmpi_rlist_free(&l);
}

Test(runner_list, select)
{
    struct crmpi_rlist l = { 0 };
    char err[256];
    cr_assert_eq(crmpi_rlist_add_meson(&l, meson_json, err, sizeof(err)), 0);
    char *only[] = { "slow" };
    crmpi_rlist_select(&l, only, 1, NULL, 0);
    cr_assert_eq(l.n, 1, "the part after the project's colon matches");
    cr_assert_str_eq(l.v[0].name, "script");
    crmpi_rlist_free(&l);

    cr_assert_eq(crmpi_rlist_add_meson(&l, meson_json, err, sizeof(err)), 0);
    char *ex[] = { "proj:e2e" };
    crmpi_rlist_select(&l, NULL, 0, ex, 1);
    cr_assert_eq(l.n, 1, "so does the full name");
    cr_assert_str_eq(l.v[0].name, "auth");
    crmpi_rlist_free(&l);

    char *paths[] = { "a", "b" };
    cr_assert_eq(crmpi_rlist_add_paths(&l, paths, 2), 0);
    crmpi_rlist_select(&l, NULL, 0, ex, 1);
    cr_assert_eq(l.n, 2, "programs named on the command line have no suite to exclude");
    crmpi_rlist_select(&l, only, 1, NULL, 0);
    cr_assert_eq(l.n, 0);
    crmpi_rlist_free(&l);
}

Test(runner_list, elf)
{
    /* This test binary is linked with Criterion; /bin/sh is not. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    cr_assert_gt(n, 0);
    self[n] = '\0';
    cr_assert_eq(crmpi_elf_needs_criterion(self), 1);
    cr_assert_eq(crmpi_elf_needs_criterion("/bin/sh"), 0);
    cr_assert_eq(crmpi_elf_needs_criterion("/nonexistent/x"), -ENOENT);

    char script[] = "/tmp/crmpi-runner-XXXXXX";
    int fd = mkstemp(script);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
    close(fd);
    cr_assert_eq(crmpi_elf_needs_criterion(script), 0, "a script is not ELF");
    unlink(script);
}

Test(runner_list, history)
{
    char dir[] = "/tmp/crmpi-runner-hist-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/runner.history", dir);

    struct crmpi_rlist l = { 0 };
    char *paths[] = { "fast", "slow", "new" };
    cr_assert_eq(crmpi_rlist_add_paths(&l, paths, 3), 0);
    cr_assert_eq(crmpi_rlist_history_load(&l, path), 0, "no history yet is no error");
    cr_assert_lt(l.v[0].expected_s, 0);

    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("0.500 fast\n12.250 slow\n3.000 gone\ngarbage\n", f);
    fclose(f);
    cr_assert_eq(crmpi_rlist_history_load(&l, path), 0);
    cr_assert_float_eq(l.v[0].expected_s, 0.5, 1e-9);
    cr_assert_float_eq(l.v[1].expected_s, 12.25, 1e-9);
    cr_assert_lt(l.v[2].expected_s, 0, "a program never seen has no expectation");

    l.v[0].took_s = 0.75;   /* fast ran; slow and new did not */
    cr_assert_eq(crmpi_rlist_history_save(&l, path), 0);
    crmpi_rlist_free(&l);

    cr_assert_eq(crmpi_rlist_add_paths(&l, paths, 3), 0);
    cr_assert_eq(crmpi_rlist_history_load(&l, path), 0);
    cr_assert_float_eq(l.v[0].expected_s, 0.75, 1e-9, "what ran is updated");
    cr_assert_float_eq(l.v[1].expected_s, 12.25, 1e-9, "what did not run keeps its line");
    crmpi_rlist_free(&l);
    char *gone[] = { "gone" };
    cr_assert_eq(crmpi_rlist_add_paths(&l, gone, 1), 0);
    cr_assert_eq(crmpi_rlist_history_load(&l, path), 0);
    cr_assert_float_eq(l.v[0].expected_s, 3.0, 1e-9, "nor do programs of other runs lose theirs");
    crmpi_rlist_free(&l);

    unlink(path);
    rmdir(dir);
}
