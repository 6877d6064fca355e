/*
 * Unit tests for plugin/artifacts.c: which paths from the wire are taken,
 * the size grammar of --mproc-artifacts-max, the per-test cap and the
 * directory name of a unit.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "artifacts.h"

Test(path, plain_relative_paths_are_taken)
{
    static const char *const ok[] = { "a", "log.txt", "dir/file", "a/b/c/d", ".hidden",
        "..dots", "x..", "a/.b", "name with spaces", "\xc3\xa9t\xc3\xa9" };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); ++i)
        cr_expect(crmpi_artifacts_path_ok(ok[i]), "\"%s\" was refused", ok[i]);
}

Test(path, escaping_or_odd_paths_are_refused)
{
    static const char *const bad[] = { "", "/etc/passwd", "..", "../x", "a/../../x", "a/..",
        ".", "./a", "a/./b", "a//b", "a/", "/", "a\nb", "tab\there", "del\x7f" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        cr_expect(!crmpi_artifacts_path_ok(bad[i]), "\"%s\" was taken", bad[i]);
    cr_expect(!crmpi_artifacts_path_ok(NULL));
}

Test(path, length_and_depth_are_bounded)
{
    char deep[2 * CRMPI_ARTIFACTS_DEPTH_MAX + 3];
    size_t at = 0;
    for (unsigned i = 0; i < CRMPI_ARTIFACTS_DEPTH_MAX; ++i) {
        deep[at++] = 'd';
        deep[at++] = '/';
    }
    deep[at - 1] = '\0';
    cr_expect(crmpi_artifacts_path_ok(deep), "%u components refused", CRMPI_ARTIFACTS_DEPTH_MAX);
    deep[at - 1] = '/';
    deep[at++] = 'x';
    deep[at] = '\0';
    cr_expect(!crmpi_artifacts_path_ok(deep), "%u components taken",
            CRMPI_ARTIFACTS_DEPTH_MAX + 1);

    char longname[CRMPI_ARTIFACTS_PATH_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    cr_expect(!crmpi_artifacts_path_ok(longname), "a name over the limit was taken");
    longname[CRMPI_ARTIFACTS_PATH_MAX] = '\0';
    cr_expect(crmpi_artifacts_path_ok(longname), "a name at the limit was refused");
}

static uint64_t t_size(const char *s)
{
    uint64_t v = 12345;
    cr_assert_eq(crmpi_artifacts_parse_size(s, &v), 0, "\"%s\" refused", s);
    return v;
}

Test(size, suffixes_are_powers_of_1024)
{
    cr_expect_eq(t_size("0"), 0);
    cr_expect_eq(t_size("4096"), 4096);
    cr_expect_eq(t_size("12B"), 12);
    cr_expect_eq(t_size("1K"), 1024);
    cr_expect_eq(t_size("3k"), 3072);
    cr_expect_eq(t_size("64M"), 64ull << 20);
    cr_expect_eq(t_size("64MiB"), 64ull << 20);
    cr_expect_eq(t_size("2G"), 2ull << 30);
    cr_expect_eq(t_size("2gB"), 2ull << 30);
}

Test(size, junk_and_overflow_are_refused)
{
    static const char *const bad[] = { "", "M", "-1", "+1", " 1", "1 ", "1T", "1KK", "1.5M",
        "1Mi", "1iB", "0x10", "99999999999999999999", "4294967297G" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        uint64_t v = 7;
        cr_expect_eq(crmpi_artifacts_parse_size(bad[i], &v), -EINVAL, "\"%s\" taken", bad[i]);
        cr_expect_eq(v, 7, "\"%s\": the value was written", bad[i]);
    }
    cr_expect_eq(crmpi_artifacts_parse_size(NULL, &(uint64_t) { 0 }), -EINVAL);
}

Test(size, formatted_for_people)
{
    char buf[32];
    cr_expect_str_eq(crmpi_artifacts_fmt_size(512, buf, sizeof(buf)), "512 B");
    cr_expect_str_eq(crmpi_artifacts_fmt_size(1536, buf, sizeof(buf)), "1.5 KiB");
    cr_expect_str_eq(crmpi_artifacts_fmt_size(64ull << 20, buf, sizeof(buf)), "64.0 MiB");
    cr_expect_str_eq(crmpi_artifacts_fmt_size(3ull << 40, buf, sizeof(buf)), "3072.0 GiB");
}

Test(budget, what_fits_is_taken_and_the_rest_counted)
{
    struct crmpi_artifacts_budget b;
    crmpi_artifacts_budget_init(&b, 100);
    cr_expect(crmpi_artifacts_budget_take(&b, 60));
    cr_expect(!crmpi_artifacts_budget_take(&b, 50), "over the cap taken");
    cr_expect(crmpi_artifacts_budget_take(&b, 40), "a smaller file that fits refused");
    cr_expect(crmpi_artifacts_budget_take(&b, 0), "an empty file refused at the cap");
    cr_expect(!crmpi_artifacts_budget_take(&b, 1));
    cr_expect_eq(b.taken, 100);
    cr_expect_eq(b.files, 3);
    cr_expect_eq(b.left_files, 2);
    cr_expect_eq(b.left_bytes, 51);
}

Test(budget, huge_sizes_do_not_wrap)
{
    struct crmpi_artifacts_budget b;
    crmpi_artifacts_budget_init(&b, 10);
    cr_expect(crmpi_artifacts_budget_take(&b, 5));
    cr_expect(!crmpi_artifacts_budget_take(&b, UINT64_MAX - 2));
    cr_expect_eq(b.taken, 5);
}

Test(unit_dir, suite_test_and_parameter)
{
    char buf[64];
    cr_assert_eq(crmpi_artifacts_unit_dir("db", "migrates", -1, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "db/migrates");
    cr_assert_eq(crmpi_artifacts_unit_dir("db", "each", 2, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "db/each[2]");
    cr_assert_eq(crmpi_artifacts_unit_dir("a/b", "..", -1, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "a_b/_.");
    cr_assert_eq(crmpi_artifacts_unit_dir("", NULL, -1, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "_/_");
    cr_expect(crmpi_artifacts_path_ok(buf));
    cr_expect_eq(crmpi_artifacts_unit_dir("suite", "test", 12345, buf, 14), -ENAMETOOLONG);
    cr_expect_eq(crmpi_artifacts_unit_dir("suite", "test", -1, buf, 5), -ENAMETOOLONG);
}
