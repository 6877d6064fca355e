/*
 * expr - a tiny recursive-descent evaluator for integer arithmetic
 * expressions, used as code under test by the sample_parser suite.
 *
 * Grammar:
 *   expr   := term   (('+' | '-') term)*
 *   term   := unary  (('*' | '/' | '%') unary)*
 *   unary  := ('-' | '+') unary | primary
 *   primary:= NUMBER | '(' expr ')'
 */
#ifndef SAMPLE_EXPR_H
#define SAMPLE_EXPR_H

#include <stddef.h>

enum expr_status {
    EXPR_OK = 0,
    EXPR_SYNTAX,        /* unexpected character or missing operand */
    EXPR_UNBALANCED,    /* missing ')' */
    EXPR_DIV_ZERO,      /* division or modulo by zero */
    EXPR_OVERFLOW,      /* result does not fit in a long */
};

struct expr_result {
    enum expr_status status;
    long value;         /* valid when status == EXPR_OK */
    size_t error_pos;   /* byte offset of the error otherwise */
};

struct expr_result expr_eval(const char *text);

/* Human-readable name of a status code. */
const char *expr_status_str(enum expr_status st);

/* Evaluates text; on error prints "error at <pos>: <status>" to stderr and
 * terminates the process with EXPR_EXIT_FAILURE. */
#define EXPR_EXIT_FAILURE 5
long expr_eval_or_exit(const char *text);

#endif /* SAMPLE_EXPR_H */
