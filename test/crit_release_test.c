#include <criterion/criterion.h>

#include "crit.h"
#include "crit_release.h"
#include "crmpi_config.h"

Test(crit_release, the_loaded_release_is_the_one_built_against)
{
    const struct crmpi_release *r = crmpi_release_loaded();
    cr_assert_not_null(r, "found: %s", crmpi_release_found());
    cr_assert_str_eq(r->name, CRMPI_TEST_CRITERION_VERSION);
    /* The table's fact agrees with what the build found in the headers. */
    cr_assert_eq(r->new_assert_api, CRMPI_HAVE_CRITERION_NEW_ASSERT);
    cr_assert_eq(r->options_size, sizeof(struct criterion_options));
}

/* Every row's facts; only the rows of the layout built against are found. */
Test(crit_release, known_releases)
{
    static const struct {
        const char *name;
        size_t size;
        enum crmpi_json_style json;
        unsigned no_difference, new_api, late_alloc, fork, paths_24;
    } rows[] = {
        { "2.3.3", 80, CRMPI_JSON_RAW_LINES, 0, 0, 1, 0, 0 },
        { "2.4.1", 152, CRMPI_JSON_RAW_LINES, 0, 1, 0, 1, 1 },
        { "2.4.2", 152, CRMPI_JSON_ESCAPED, 1, 1, 0, 1, 1 },
        { "2.4.3", 152, CRMPI_JSON_ESCAPED, 1, 1, 0, 1, 1 },
    };
    size_t found = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); ++i) {
        const struct crmpi_release *r = crmpi_release_lookup(rows[i].name, 0);
        if (rows[i].size != sizeof(struct criterion_options)) {
            cr_expect_null(r, "%s: another layout than the one built against", rows[i].name);
            continue;
        }
        ++found;
        cr_assert_not_null(r, "%s", rows[i].name);
        cr_expect_not_null(crmpi_release_lookup(rows[i].name, rows[i].size));
        cr_expect_eq(r->json, rows[i].json, "%s", rows[i].name);
        cr_expect_eq(r->equal_params_no_difference, rows[i].no_difference, "%s", rows[i].name);
        cr_expect_eq(r->new_assert_api, rows[i].new_api, "%s", rows[i].name);
        cr_expect_eq(r->alloc_after_pre_all, rows[i].late_alloc, "%s", rows[i].name);
        cr_expect_eq(r->fork_isolation, rows[i].fork, "%s", rows[i].name);
        cr_expect_eq(r->output_paths_24, rows[i].paths_24, "%s", rows[i].name);
    }
    cr_expect_gt(found, 0, "no row for this layout");
}

Test(crit_release, unknown_releases_and_layouts)
{
    cr_assert_null(crmpi_release_lookup("2.5.0", 0));
    cr_assert_null(crmpi_release_lookup("2.4.1", 160));
    cr_assert_null(crmpi_release_lookup("2.3.3", 152));
    cr_assert_null(crmpi_release_lookup("2.4.1", 80));
    cr_assert_str_eq(crmpi_release_supported(), "2.3.3, 2.4.1, 2.4.2, 2.4.3");
}
