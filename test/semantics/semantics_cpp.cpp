/*
 * semantics_cpp: C++ exceptions in tests and fixtures, and the C++ forms of
 * the assertions, compared like semantics.c.
 */
#include <criterion/criterion.h>

#include <stdexcept>
#include <string>
#include <vector>

static void throw_std() { throw std::runtime_error("thrown from a fixture"); }
static void throw_other() { throw 42; }

Test(cpp, passes)
{
    std::vector<int> v{ 1, 2, 3 };
    cr_assert_eq(v.size(), 3u);
    cr_assert_eq(v[1], 2);
    std::string s = "text";
    cr_expect_str_eq(s.c_str(), "text");
}

Test(cpp, std_exception_in_test)
{
    throw std::logic_error("logic error in the test body");
}

Test(cpp, other_exception_in_test)
{
    throw 3.5;
}

Test(cpp, exception_in_init, .init = throw_std) {}

Test(cpp, other_exception_in_fini, .fini = throw_other) {}

Test(cpp, assert_throws)
{
    cr_assert_throw(throw std::invalid_argument("x"), std::invalid_argument);
    cr_expect_no_throw(throw std::invalid_argument("y"), std::exception);
    cr_assert_any_throw((void) 0, "nothing was thrown");
}

Test(cpp, fails)
{
    cr_expect_eq(1, 2, "in C++");
    std::string a = "a";
    cr_assert_str_eq(a.c_str(), "b");
}
