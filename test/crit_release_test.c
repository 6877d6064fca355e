#include <criterion/criterion.h>

#include "crit_release.h"

Test(crit_release, the_loaded_release_is_the_one_built_against)
{
    const struct crmpi_release *r = crmpi_release_loaded();
    cr_assert_not_null(r, "found: %s", crmpi_release_found());
    cr_assert_str_eq(r->name, CRMPI_TEST_CRITERION_VERSION);
}

Test(crit_release, known_releases)
{
    cr_assert_not_null(crmpi_release_lookup("2.4.1", 152));
    cr_assert_not_null(crmpi_release_lookup("2.4.3", 0));
    cr_assert_eq(crmpi_release_lookup("2.4.1", 0)->json, CRMPI_JSON_RAW_LINES);
    cr_assert_eq(crmpi_release_lookup("2.4.2", 0)->json, CRMPI_JSON_ESCAPED);
    cr_assert(crmpi_release_lookup("2.4.2", 0)->equal_params_no_difference);
    cr_assert_not(crmpi_release_lookup("2.4.1", 0)->equal_params_no_difference);
}

Test(crit_release, unknown_releases_and_layouts)
{
    cr_assert_null(crmpi_release_lookup("2.5.0", 152));
    cr_assert_null(crmpi_release_lookup("2.4.1", 160));
    /* 2.3.3: its criterion_options is 80 bytes, its logger another layout. */
    cr_assert_null(crmpi_release_lookup("2.3.3", 80));
    cr_assert_str_eq(crmpi_release_supported(), "2.4.1, 2.4.2, 2.4.3");
}
