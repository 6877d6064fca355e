// sample_cpp_shapes: example Criterion suite written in C++17 for the shapes
// class library.
//
// Shows: exception assertions (cr_assert_throw, cr_assert_no_throw,
// cr_assert_any_throw, cr_assert_none_throw), fixtures owning C++ objects,
// parameterized tests using criterion::parameters<T> (a std::vector backed by
// criterion::allocator), a theory over doubles, and both the classic and the
// new assertion API used from C++.
//
// Every test here is expected to pass.
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <criterion/theories.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "shapes.hpp"

using namespace shapes;

// ==========================================================================
// Individual shapes
// ==========================================================================

TestSuite(shape, .description = "Geometry of individual shapes");

Test(shape, circle_area_and_perimeter)
{
    Circle c(2.0);

    cr_assert_float_eq(c.area(), 4.0 * pi, 1e-12);
    cr_assert_float_eq(c.perimeter(), 4.0 * pi, 1e-12);

    // Keep the std::string alive: cr_assert_str_eq only sees the pointer.
    std::string name = c.name();
    cr_assert_str_eq(name.c_str(), "circle");
}

Test(shape, rectangle_area_and_perimeter)
{
    Rectangle r(3.0, 4.5);

    cr_assert(epsilon_eq(dbl, r.area(), 13.5, 1e-12));
    cr_assert(epsilon_eq(dbl, r.perimeter(), 15.0, 1e-12));
}

Test(shape, square_is_a_rectangle_with_its_own_name)
{
    Square s(5.0);
    const Rectangle &as_rect = s;

    cr_assert(eq(dbl, as_rect.width(), as_rect.height()));
    cr_assert(eq(str, s.name(), "square"));
    cr_assert(ieee_ulp_eq(dbl, s.area(), 25.0, 4));
}

Test(shape, right_triangle_3_4_5)
{
    Triangle t(3.0, 4.0, 5.0);

    cr_assert(t.is_right());
    cr_assert_float_eq(t.area(), 6.0, 1e-12);
    cr_assert_float_eq(t.perimeter(), 12.0, 1e-12);
}

Test(shape, equilateral_triangle_is_not_right)
{
    Triangle t(2.0, 2.0, 2.0);

    cr_assert_not(t.is_right());
    cr_assert_float_eq(t.area(), std::sqrt(3.0), 1e-12);
}

Test(shape, scaling_keeps_the_kind)
{
    Square s(2.0);
    std::unique_ptr<Shape> big = s.scaled(3.0);

    std::string name = big->name();

    cr_assert_str_eq(name.c_str(), "square");
    cr_assert_float_eq(big->area(), 36.0, 1e-12);
}

Test(shape, scaling_by_zero_throws)
{
    Circle c(1.0);

    cr_assert_throw(c.scaled(0.0), std::invalid_argument);
    cr_assert_throw(c.scaled(-2.0), std::invalid_argument);
}

Test(shape, valid_dimensions_do_not_throw)
{
    cr_assert_no_throw(Circle{0.5}, std::invalid_argument);
    cr_assert_no_throw((Rectangle{1e-3, 1e3}), std::invalid_argument);
    cr_assert_none_throw((Triangle{5.0, 12.0, 13.0}));
}

Test(shape, non_positive_dimensions_throw)
{
    cr_expect_throw(Circle{0.0}, std::invalid_argument);
    cr_expect_throw((Rectangle{-1.0, 2.0}), std::invalid_argument);
    cr_expect_throw(Square{NAN}, std::invalid_argument);
    cr_expect_throw(Circle{INFINITY}, std::invalid_argument);
}

Test(shape, degenerate_triangle_throws,
        .description = "sides 1, 2, 3 are collinear, not a triangle")
{
    cr_assert_throw((Triangle{1.0, 2.0, 3.0}), std::invalid_argument);
}

Test(shape, exception_message_names_the_problem)
{
    try {
        Triangle t(1.0, 1.0, 5.0);
        (void) t;
        cr_fatal("Triangle(1, 1, 5) should have thrown");
    } catch (const std::invalid_argument &e) {
        cr_assert(eq(str, (char *) e.what(), "sides violate the triangle inequality"));
    }
}

// Parameterized over a criterion::parameters<T> vector.
// The description is stored inline rather than as a const char *: the
// parameters are copied into the test's own process, where the address of a
// string literal of the parent process means nothing.
struct area_case {
    char text[24];
    double area;
};

ParameterizedTestParameters(shape, parsed_area)
{
    static criterion::parameters<area_case> cases = {
        { "circle 1",         pi },
        { "square 3",         9.0 },
        { "rect 2 0.25",      0.5 },
        { "triangle 3 4 5",   6.0 },
        { "  rect   10  10 ", 100.0 },
        { "circle 0.5",       pi / 4.0 },
    };
    return criterion_test_params(cases);
}

ParameterizedTest(area_case *tc, shape, parsed_area)
{
    std::unique_ptr<Shape> s;

    cr_assert_no_throw(s = parse_shape(tc->text), std::exception, "parsing \"%s\"", tc->text);
    cr_assert_float_eq(s->area(), tc->area, 1e-9, "area of \"%s\"", tc->text);
}

// Scaling a shape by k multiplies its area by k^2 and its perimeter by k.
TheoryDataPoints(shape, scaling_laws) = {
    DataPoints(double, 0.5, 1.0, 2.0, 10.0, -1.0),
    DataPoints(int, 0, 1, 2),
};

Theory((double k, int which), shape, scaling_laws)
{
    cr_assume(k > 0.0);

    std::unique_ptr<Shape> base;
    switch (which) {
    case 0: base = std::make_unique<Circle>(1.5); break;
    case 1: base = std::make_unique<Rectangle>(2.0, 3.0); break;
    default: base = std::make_unique<Triangle>(3.0, 4.0, 5.0); break;
    }
    std::unique_ptr<Shape> s = base->scaled(k);

    cr_assert_float_eq(s->area(), base->area() * k * k, 1e-9);
    cr_assert_float_eq(s->perimeter(), base->perimeter() * k, 1e-9);
}

// ==========================================================================
// Parsing
// ==========================================================================

TestSuite(parse, .description = "Text descriptions of shapes", .timeout = 2.0);

Test(parse, unknown_kind_throws_parse_error)
{
    cr_assert_throw(parse_shape("hexagon 2"), parse_error);
}

Test(parse, parse_error_is_a_runtime_error)
{
    cr_assert_throw(parse_shape(""), std::runtime_error);
}

Test(parse, missing_number_reports_column)
{
    try {
        parse_shape("rect 2 x");
        cr_fatal("expected a parse_error");
    } catch (const parse_error &e) {
        cr_assert(eq(sz, e.column(), 7));
    }
}

Test(parse, truncated_input_reports_end_column)
{
    try {
        parse_shape("triangle 3 4");
        cr_fatal("expected a parse_error");
    } catch (const parse_error &e) {
        cr_assert(eq(sz, e.column(), 12));
    }
}

Test(parse, trailing_garbage_is_rejected)
{
    cr_assert_throw(parse_shape("circle 1 2"), parse_error);
}

Test(parse, bad_geometry_surfaces_as_invalid_argument)
{
    cr_assert_throw(parse_shape("triangle 1 1 10"), std::invalid_argument);
    cr_assert_any_throw(parse_shape("circle -1"));
}

// ==========================================================================
// Canvas, with a fixture that owns a populated canvas
// ==========================================================================

static Canvas *canvas;

static void make_canvas()
{
    canvas = new Canvas();
    canvas->add("sun", std::make_unique<Circle>(1.0));
    canvas->add("wall", std::make_unique<Rectangle>(4.0, 2.0));
    canvas->add("roof", std::make_unique<Triangle>(3.0, 4.0, 5.0));
    canvas->add("tile", std::make_unique<Square>(1.0));
}

static void destroy_canvas()
{
    delete canvas;
    canvas = nullptr;
}

TestSuite(canvas, .init = make_canvas, .fini = destroy_canvas,
        .description = "A canvas pre-populated with four shapes");

Test(canvas, lookup_by_id)
{
    std::string name = canvas->at("roof").name();

    cr_assert_str_eq(name.c_str(), "triangle");
    cr_assert(eq(sz, canvas->size(), 4));
}

Test(canvas, unknown_id_throws_out_of_range)
{
    cr_assert_throw(canvas->at("door"), std::out_of_range);
}

Test(canvas, duplicate_id_is_rejected)
{
    cr_assert_throw(canvas->add("sun", std::make_unique<Circle>(2.0)), std::invalid_argument);
    cr_assert_eq(canvas->size(), 4);
}

Test(canvas, null_shape_is_rejected)
{
    cr_assert_throw(canvas->add("ghost", nullptr), std::invalid_argument);
}

Test(canvas, total_area_sums_every_shape)
{
    cr_assert_float_eq(canvas->total_area(), pi + 8.0 + 6.0 + 1.0, 1e-9);
}

Test(canvas, ids_sorted_by_decreasing_area)
{
    std::vector<std::string> ids = canvas->ids_by_area();
    const char *expected[] = { "wall", "roof", "sun", "tile" };

    cr_assert_eq(ids.size(), 4);
    for (std::size_t i = 0; i < ids.size(); ++i)
        cr_expect_str_eq(ids[i].c_str(), expected[i], "rank %zu", i);
}

Test(canvas, remove_then_lookup_throws)
{
    cr_assert(canvas->remove("wall"));
    cr_assert_not(canvas->remove("wall"));
    cr_assert_throw(canvas->at("wall"), std::out_of_range);
    cr_assert_none_throw(canvas->at("tile"));
}
