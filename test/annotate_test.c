/* Unit tests for plugin/annotate.c: GitHub's workflow-command escaping and the switch. */
#include <criterion/criterion.h>
#include <string.h>

#include "annotate.h"

Test(annotate, message_escapes_percent_cr_lf_only)
{
    char out[128];
    cr_assert_str_eq(crmpi_annotate_escape("100%\r\nsure: a, b", 0, out, sizeof(out)),
            "100%25%0D%0Asure: a, b");
}

Test(annotate, property_also_escapes_colon_and_comma)
{
    char out[128];
    cr_assert_str_eq(crmpi_annotate_escape("suite::test,1%\n", 1, out, sizeof(out)),
            "suite%3A%3Atest%2C1%25%0A");
}

Test(annotate, cuts_whole_escapes_only)
{
    char out[6];
    /* "ab%25" is 5 bytes + NUL; the next escape does not fit and is not split. */
    cr_assert_str_eq(crmpi_annotate_escape("ab%%", 0, out, sizeof(out)), "ab%25");
    cr_assert_str_eq(crmpi_annotate_escape(NULL, 0, out, sizeof(out)), "");
}

Test(annotate, enabled_by_github_actions_unless_off)
{
    cr_assert(crmpi_annotate_enabled(NULL, "true"));
    cr_assert(crmpi_annotate_enabled("auto", "true"));
    cr_assert_not(crmpi_annotate_enabled(NULL, NULL));
    cr_assert_not(crmpi_annotate_enabled(NULL, "false"));
    cr_assert_not(crmpi_annotate_enabled("off", "true"));
    cr_assert(crmpi_annotate_enabled("on", NULL));
}
