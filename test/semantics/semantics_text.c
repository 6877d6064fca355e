/*
 * Message text each release's report writers treat differently: non-ASCII,
 * ill-formed UTF-8, control characters, several lines, no text at all.  The
 * plugin's JSON report must parse whatever the bytes, and say the same as
 * the loaded release's own (see compare.py).
 */
#include <criterion/criterion.h>

Test(text, utf8_message)
{
    cr_expect_fail("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

Test(text, invalid_utf8_message)
{
    /* A lone continuation byte, a truncated sequence, an overlong, a surrogate. */
    cr_expect_fail("bad \xff bytes \x80 \xc3 \xe2\x82 \xc0\xaf \xed\xa0\x80 end");
}

Test(text, control_characters)
{
    /* Only what XML 1.0 allows too: Criterion writes its XML unescaped. */
    cr_expect_fail("tab\t cr\r del\x7f");
}

Test(text, multi_line_message)
{
    cr_expect_fail("first line\nsecond line\n\nfourth line after an empty one");
}

Test(text, empty_message)
{
    cr_expect_fail("%s", "");
}
