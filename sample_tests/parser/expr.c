#include "expr.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct cursor {
    const char *text;
    size_t pos;
    enum expr_status status;
    size_t error_pos;
};

static void fail(struct cursor *c, enum expr_status st)
{
    if (c->status == EXPR_OK) {
        c->status = st;
        c->error_pos = c->pos;
    }
}

static char peek(struct cursor *c)
{
    while (c->text[c->pos] == ' ' || c->text[c->pos] == '\t')
        ++c->pos;
    return c->text[c->pos];
}

static long parse_expr(struct cursor *c);


static long parse_primary(struct cursor *c)
{
    char ch = peek(c);
    if (ch == '(') {
        ++c->pos;
        long v = parse_expr(c);
        if (c->status != EXPR_OK)
            return 0;
        if (peek(c) != ')') {
            fail(c, EXPR_UNBALANCED);
            return 0;
        }
        ++c->pos;
        return v;
    }
    if (!isdigit((unsigned char) ch)) {
        fail(c, EXPR_SYNTAX);
        return 0;
    }
    long v = 0;
    while (isdigit((unsigned char) c->text[c->pos])) {
        int d = c->text[c->pos] - '0';
        if (v > (LONG_MAX - d) / 10) {
            fail(c, EXPR_OVERFLOW);
            return 0;
        }
        v = v * 10 + d;
        ++c->pos;
    }
    return v;
}

static long parse_unary(struct cursor *c)
{
    char ch = peek(c);
    if (ch == '-' || ch == '+') {
        ++c->pos;
        long v = parse_unary(c);
        if (ch == '-' && __builtin_sub_overflow(0L, v, &v))
            fail(c, EXPR_OVERFLOW);
        return v;
    }
    return parse_primary(c);
}

static long parse_term(struct cursor *c)
{
    long v = parse_unary(c);
    for (;;) {
        char op = peek(c);
        if (c->status != EXPR_OK || (op != '*' && op != '/' && op != '%'))
            return v;
        size_t op_pos = c->pos++;
        long rhs = parse_unary(c);
        if (c->status != EXPR_OK)
            return 0;
        if (op == '*') {
            if (__builtin_mul_overflow(v, rhs, &v)) {
                fail(c, EXPR_OVERFLOW);
                return 0;
            }
        } else if (rhs == 0) {
            c->pos = op_pos;
            fail(c, EXPR_DIV_ZERO);
            return 0;
        } else if (v == LONG_MIN && rhs == -1) {
            fail(c, EXPR_OVERFLOW);
            return 0;
        } else {
            v = op == '/' ? v / rhs : v % rhs;
        }
    }
}

static long parse_expr(struct cursor *c)
{
    long v = parse_term(c);
    for (;;) {
        char op = peek(c);
        if (c->status != EXPR_OK || (op != '+' && op != '-'))
            return v;
        ++c->pos;
        long rhs = parse_term(c);
        if (c->status != EXPR_OK)
            return 0;
        bool overflow = op == '+' ? __builtin_add_overflow(v, rhs, &v)
                                  : __builtin_sub_overflow(v, rhs, &v);
        if (overflow) {
            fail(c, EXPR_OVERFLOW);
            return 0;
        }
    }
}

struct expr_result expr_eval(const char *text)
{
    struct cursor c = { .text = text, .pos = 0, .status = EXPR_OK, .error_pos = 0 };
    long v = parse_expr(&c);
    if (c.status == EXPR_OK && peek(&c) != '\0')
        fail(&c, peek(&c) == ')' ? EXPR_UNBALANCED : EXPR_SYNTAX);

    struct expr_result r = { .status = c.status, .value = 0, .error_pos = 0 };
    if (c.status == EXPR_OK)
        r.value = v;
    else
        r.error_pos = c.error_pos;
    return r;
}

const char *expr_status_str(enum expr_status st)
{
    switch (st) {
    case EXPR_OK:         return "ok";
    case EXPR_SYNTAX:     return "syntax error";
    case EXPR_UNBALANCED: return "unbalanced parenthesis";
    case EXPR_DIV_ZERO:   return "division by zero";
    case EXPR_OVERFLOW:   return "integer overflow";
    }
    return "unknown";
}

long expr_eval_or_exit(const char *text)
{
    struct expr_result r = expr_eval(text);
    if (r.status != EXPR_OK) {
        fprintf(stderr, "error at %zu: %s\n", r.error_pos, expr_status_str(r.status));
        exit(EXPR_EXIT_FAILURE);
    }
    return r.value;
}
