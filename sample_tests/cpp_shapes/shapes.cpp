#include "shapes.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace shapes {

namespace {

double require_positive(double v, const char *what)
{
    if (!(v > 0.0) || !std::isfinite(v))
        throw std::invalid_argument(std::string(what) + " must be positive and finite");
    return v;
}

} // namespace

Circle::Circle(double radius) : radius_(require_positive(radius, "radius")) {}

double Circle::area() const { return pi * radius_ * radius_; }
double Circle::perimeter() const { return 2.0 * pi * radius_; }

std::unique_ptr<Shape> Circle::scaled(double factor) const
{
    return std::make_unique<Circle>(radius_ * require_positive(factor, "factor"));
}

Rectangle::Rectangle(double width, double height)
    : width_(require_positive(width, "width")),
      height_(require_positive(height, "height"))
{}

double Rectangle::area() const { return width_ * height_; }
double Rectangle::perimeter() const { return 2.0 * (width_ + height_); }

std::unique_ptr<Shape> Rectangle::scaled(double factor) const
{
    require_positive(factor, "factor");
    return std::make_unique<Rectangle>(width_ * factor, height_ * factor);
}

std::unique_ptr<Shape> Square::scaled(double factor) const
{
    return std::make_unique<Square>(width() * require_positive(factor, "factor"));
}

Triangle::Triangle(double a, double b, double c)
    : a_(require_positive(a, "side")),
      b_(require_positive(b, "side")),
      c_(require_positive(c, "side"))
{
    if (a_ + b_ <= c_ || a_ + c_ <= b_ || b_ + c_ <= a_)
        throw std::invalid_argument("sides violate the triangle inequality");
}

double Triangle::perimeter() const { return a_ + b_ + c_; }

double Triangle::area() const
{
    double s = perimeter() / 2.0;
    return std::sqrt(s * (s - a_) * (s - b_) * (s - c_));
}

std::unique_ptr<Shape> Triangle::scaled(double factor) const
{
    require_positive(factor, "factor");
    return std::make_unique<Triangle>(a_ * factor, b_ * factor, c_ * factor);
}

bool Triangle::is_right() const
{
    double s[3] = { a_, b_, c_ };
    std::sort(s, s + 3);
    double lhs = s[0] * s[0] + s[1] * s[1];
    double rhs = s[2] * s[2];
    return std::fabs(lhs - rhs) <= 1e-9 * rhs;
}

std::unique_ptr<Shape> parse_shape(const std::string &text)
{
    std::istringstream in(text);
    std::string kind;
    if (!(in >> kind))
        throw parse_error("empty shape description", 0);

    std::size_t arity;
    if (kind == "circle" || kind == "square")
        arity = 1;
    else if (kind == "rect")
        arity = 2;
    else if (kind == "triangle")
        arity = 3;
    else
        throw parse_error("unknown shape '" + kind + "'", 0);

    std::vector<double> args;
    for (std::size_t i = 0; i < arity; ++i) {
        in >> std::ws;
        auto col = static_cast<std::size_t>(in.tellg());
        double v;
        if (!(in >> v)) {
            if (in.eof())
                col = text.size();
            throw parse_error("expected a number", col);
        }
        args.push_back(v);
    }
    in >> std::ws;
    if (!in.eof())
        throw parse_error("trailing characters", static_cast<std::size_t>(in.tellg()));

    if (kind == "circle")
        return std::make_unique<Circle>(args[0]);
    if (kind == "square")
        return std::make_unique<Square>(args[0]);
    if (kind == "rect")
        return std::make_unique<Rectangle>(args[0], args[1]);
    return std::make_unique<Triangle>(args[0], args[1], args[2]);
}

void Canvas::add(const std::string &id, std::unique_ptr<Shape> shape)
{
    if (!shape)
        throw std::invalid_argument("null shape");
    for (const auto &it : items_)
        if (it.id == id)
            throw std::invalid_argument("duplicate id '" + id + "'");
    items_.push_back(Item{ id, std::move(shape) });
}

const Shape &Canvas::at(const std::string &id) const
{
    for (const auto &it : items_)
        if (it.id == id)
            return *it.shape;
    throw std::out_of_range("no shape with id '" + id + "'");
}

bool Canvas::remove(const std::string &id) noexcept
{
    auto it = std::find_if(items_.begin(), items_.end(),
            [&](const Item &i) { return i.id == id; });
    if (it == items_.end())
        return false;
    items_.erase(it);
    return true;
}

double Canvas::total_area() const
{
    double sum = 0.0;
    for (const auto &it : items_)
        sum += it.shape->area();
    return sum;
}

std::vector<std::string> Canvas::ids_by_area() const
{
    std::vector<const Item *> order;
    for (const auto &it : items_)
        order.push_back(&it);
    std::stable_sort(order.begin(), order.end(),
            [](const Item *a, const Item *b) { return a->shape->area() > b->shape->area(); });
    std::vector<std::string> ids;
    for (const Item *it : order)
        ids.push_back(it->id);
    return ids;
}

} // namespace shapes
