/*
 * Criterion's --filter, matched without Criterion's cost.
 *
 * Criterion (2.3.3 and 2.4.x alike) compiles --filter once into a tree of
 * extended-glob operators and matches each test's identifier ("suite/name")
 * by Brzozowski derivatives, allocating and freeing a copy of the remaining
 * tree for every character of every identifier: on 20,000 tests that is most
 * of a worker's start-up (about 4.5 G instructions under callgrind), paid
 * again in every worker.  This module parses the same pattern language into
 * the same operators and decides the same language membership by sets of end
 * positions, memoised per (operator, start): no allocation per test.
 *
 * The language, as Criterion's parser and matcher define it (quirks kept):
 *   c        the character c; '?' alone is one character OR none; '*' alone
 *            any string; a backslash makes the next character "literal", but
 *            a literal '?' or '*' is the same wildcard again
 *   [set]    one character of set, up to the first ']' ("!" first inverts;
 *            a-b ranges, either order; a malformed set matches nothing)
 *   op(a|b)  op in ! * + ? @, applied to each alternative separately:
 *            *(a|b) is a* or b*; !(a|b) is neither a nor b
 *   '(' outside op(, ')' or '|' outside one, empty alternatives, unbalanced
 *            parentheses or brackets: a pattern error (Criterion exits 3)
 * The characters are compared as Criterion compares them (char, signed).
 */
#ifndef CRMPI_CRITGLOB_H_
#define CRMPI_CRITGLOB_H_

#include <criterion/criterion.h>

struct crmpi_critglob;

/*
 * Compiles pattern into *out (owned by the caller: crmpi_critglob_free).
 * Returns 0, -ENOMEM, or -EINVAL for every pattern this module leaves to
 * Criterion: the pattern errors above (Criterion's own message and exit
 * status are then what the user sees), and what Criterion itself does not
 * define (a trailing backslash, nesting or alternatives past its fixed-size
 * stacks, very long patterns).
 */
int crmpi_critglob_compile(const char *pattern, struct crmpi_critglob **out);

/* Whether s is in the pattern's language: 1 or 0; -ENOMEM. */
int crmpi_critglob_match(struct crmpi_critglob *g, const char *s);

/* Tolerates NULL. */
void crmpi_critglob_free(struct crmpi_critglob *g);

/*
 * What Criterion's runner does with --filter before its first report hook:
 * every test of an enabled suite whose identifier does not match is marked
 * disabled.  Returns 0 once applied, or an error of crmpi_critglob_compile
 * (the set untouched: leave the pattern to Criterion).
 */
int crmpi_critglob_apply(struct criterion_test_set *set, const char *pattern);

#endif /* !CRMPI_CRITGLOB_H_ */
