// shapes - a small C++ class library of 2D shapes, used as code under test by
// the sample_cpp_shapes Criterion suite.
#ifndef SAMPLE_SHAPES_HPP
#define SAMPLE_SHAPES_HPP

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace shapes {

constexpr double pi = 3.14159265358979323846;

// Thrown by parse_shape() on malformed input.
class parse_error : public std::runtime_error {
public:
    parse_error(const std::string &what, std::size_t column)
        : std::runtime_error(what), column_(column) {}
    std::size_t column() const noexcept { return column_; }
private:
    std::size_t column_;
};

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual double perimeter() const = 0;
    virtual std::string name() const = 0;
    // Returns a copy scaled by factor (> 0, else std::invalid_argument).
    virtual std::unique_ptr<Shape> scaled(double factor) const = 0;
};

class Circle : public Shape {
public:
    explicit Circle(double radius);
    double radius() const noexcept { return radius_; }
    double area() const override;
    double perimeter() const override;
    std::string name() const override { return "circle"; }
    std::unique_ptr<Shape> scaled(double factor) const override;
private:
    double radius_;
};

class Rectangle : public Shape {
public:
    Rectangle(double width, double height);
    double width() const noexcept { return width_; }
    double height() const noexcept { return height_; }
    double area() const override;
    double perimeter() const override;
    std::string name() const override { return "rectangle"; }
    std::unique_ptr<Shape> scaled(double factor) const override;
private:
    double width_, height_;
};

class Square : public Rectangle {
public:
    explicit Square(double side) : Rectangle(side, side) {}
    std::string name() const override { return "square"; }
    std::unique_ptr<Shape> scaled(double factor) const override;
};

class Triangle : public Shape {
public:
    // Throws std::invalid_argument unless the sides are positive and
    // satisfy the strict triangle inequality.
    Triangle(double a, double b, double c);
    double area() const override;      // Heron's formula
    double perimeter() const override;
    std::string name() const override { return "triangle"; }
    std::unique_ptr<Shape> scaled(double factor) const override;
    bool is_right() const;             // within 1e-9 relative tolerance
private:
    double a_, b_, c_;
};

// Parses "circle R", "rect W H", "square S" or "triangle A B C".
std::unique_ptr<Shape> parse_shape(const std::string &text);

// An ordered collection of named shapes.
class Canvas {
public:
    // Throws std::invalid_argument if the id is already used.
    void add(const std::string &id, std::unique_ptr<Shape> shape);
    // Throws std::out_of_range if the id is unknown.
    const Shape &at(const std::string &id) const;
    bool remove(const std::string &id) noexcept;
    std::size_t size() const noexcept { return items_.size(); }
    double total_area() const;
    // Ids sorted by decreasing area (ties keep insertion order).
    std::vector<std::string> ids_by_area() const;
private:
    struct Item {
        std::string id;
        std::unique_ptr<Shape> shape;
    };
    std::vector<Item> items_;
};

} // namespace shapes

#endif // SAMPLE_SHAPES_HPP
