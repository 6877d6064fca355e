/*
 * The new assertion API (criterion/new/assert.h), which cannot share a file
 * with the old one: part of the semantics binary.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

Test(new_api, passing)
{
    cr_assert(eq(int, 3, 3));
    cr_expect(ne(str, "a", "b"));
    cr_assert(all(gt(i32, 4, 3), lt(i32, 1, 2)));
    cr_assert(not(eq(u8, 1, 2)), "a %s message", "formatted");
}

Test(new_api, failing_params)
{
    int a = 1, b = 2;
    cr_expect(eq(int, a, b));
    cr_expect(eq(str, "hello", "world"), "strings differ: %d", 42);
    cr_expect(any(eq(int, a, 5), eq(int, b, 6)));
    cr_expect(zero(int, a));
    cr_assert(eq(dbl, 1.5, 2.5), "doubles");
}

Test(new_api, fail_and_fatal)
{
    cr_fail("cr_fail with %d", 1);
    cr_fatal("cr_fatal with %s", "a string");
    cr_fail("not reached");
}

Test(new_api, skip_with_new_api)
{
    cr_skip("skipped by cr_skip: %d", 7);
}

/* Diffs of every shape the new API prints (computed by libgit2 in the test). */

struct point {
    int x, y;
};

int cr_user_point_eq(struct point *a, struct point *b)
{
    return a->x == b->x && a->y == b->y;
}

char *cr_user_point_tostr(struct point *p)
{
    char *s;
    cr_asprintf(&s, "(%d, %d)", p->x, p->y);
    return s;
}

Test(new_api, diff_memory)
{
    char a[] = "abcd", b[] = "abXd";
    struct cr_mem ma = { a, 4 }, mb = { b, 4 };
    cr_expect(eq(mem, ma, mb));
}

Test(new_api, diff_user_type)
{
    struct point a = { 1, 2 }, b = { 3, 4 };
    cr_expect(eq(type(struct point), a, b));
}

Test(new_api, diff_array)
{
    int a[] = { 1, 2, 3 }, b[] = { 1, 5, 3 };
    cr_expect(eq(int[3], a, b));
}

Test(new_api, diff_wide_string)
{
    cr_expect(eq(wcs, L"ab", L"ac"));
}

Test(new_api, nested_criteria)
{
    cr_expect(all(eq(int, 1, 2), not(eq(int, 3, 3))));
}
