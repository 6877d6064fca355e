/*
 * Criterion's --filter language, matched by sets of end positions (see
 * critglob.h for the language and why).
 *
 * A compiled pattern is a tree of operators.  Matching string s asks, for
 * the root and position 0, which end positions j make s[0..j) a member of the
 * operator's language; s matches when its length is one of them.  Each
 * (operator, start) set is a bitset over positions 0..len, computed once per
 * string and memoised (a generation counter marks which are current, so
 * nothing is cleared between strings).  A literal pattern costs one step per
 * character it matches; `*` and the repetitions cost at most len steps each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crit.h"
#include "critglob.h"

/* Criterion's parser keeps its operands and open groups in arrays of 100. */
#define CRITGLOB_STACK 100
/* Longer patterns are left to Criterion (they would only deepen the recursion). */
#define CRITGLOB_MAX_PATTERN 1024
/* The memo tables' size for one string, in 64-bit words, before giving up. */
#define CRITGLOB_MAX_WORDS (8u << 20)

enum critglob_kind {
    CRITGLOB_CHAR,      /* c */
    CRITGLOB_ONE_OR_NONE,   /* '?' alone: one character or the empty string */
    CRITGLOB_ANY,       /* '*' alone: any string */
    CRITGLOB_SET,       /* [set]: one character of it */
    CRITGLOB_SEQ,       /* a then b */
    CRITGLOB_OR,
    CRITGLOB_AND,
    CRITGLOB_NOT,       /* !(a): any string a does not match */
    CRITGLOB_STAR,      /* *(a): a, zero or more times */
    CRITGLOB_PLUS,      /* +(a): a, one or more times */
    CRITGLOB_OPT,       /* ?(a): a or the empty string */
};

struct critglob_node {
    enum critglob_kind kind;
    char c;                 /* CHAR */
    uint32_t a, b;          /* operands; SET: a is the offset of its text in sets */
};

struct crmpi_critglob {
    struct critglob_node *nodes;    /* owned */
    uint32_t n_nodes, cap_nodes;
    char *sets;                     /* owned: each SET's text, NUL-terminated */
    size_t sets_len;
    uint32_t root;

    /* Matching one string (scratch, owned, grown as strings get longer). */
    const char *s;                  /* borrowed, during crmpi_critglob_match */
    size_t len, words;              /* its length; words per bitset of len + 1 bits */
    size_t cap_len;                 /* the longest string the tables fit */
    uint64_t *memo;                 /* n_nodes * (cap_len + 1) bitsets of words */
    uint32_t *memo_gen;             /* per (node, start): current when == gen */
    uint32_t gen;
};

/* ---- building ------------------------------------------------------------- */

static int critglob_node(struct crmpi_critglob *g, struct critglob_node n, uint32_t *id)
{
    if (g->n_nodes == g->cap_nodes) {
        uint32_t cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
        struct critglob_node *nv = realloc(g->nodes, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        g->nodes = nv;
        g->cap_nodes = cap;
    }
    g->nodes[g->n_nodes] = n;
    *id = g->n_nodes++;
    return 0;
}

static int critglob_set_text(struct crmpi_critglob *g, const char *text, size_t len,
        uint32_t *off)
{
    char *nv = realloc(g->sets, g->sets_len + len + 1);
    if (!nv)
        return -ENOMEM;
    g->sets = nv;
    memcpy(g->sets + g->sets_len, text, len);
    g->sets[g->sets_len + len] = '\0';
    *off = (uint32_t) g->sets_len;
    g->sets_len += len + 1;
    return 0;
}

/* The parser's state: operands waiting to be joined, and open groups. */
struct critglob_parse {
    struct crmpi_critglob *g;
    uint32_t frags[CRITGLOB_STACK];
    size_t n_frags;
    int atoms;              /* operands of the current sequence on the stack */
    int alter;              /* alternatives of the current group already closed */
    struct { int atoms, alter; char op; } groups[CRITGLOB_STACK];
    size_t n_groups;
};

static int critglob_push(struct critglob_parse *p, uint32_t id)
{
    if (p->n_frags == CRITGLOB_STACK)
        return -EINVAL;     /* Criterion would write past its array */
    p->frags[p->n_frags++] = id;
    return 0;
}

static int critglob_binary(struct critglob_parse *p, enum critglob_kind kind)
{
    uint32_t b = p->frags[--p->n_frags];
    uint32_t a = p->frags[--p->n_frags];
    uint32_t id;
    int rc = critglob_node(p->g, (struct critglob_node) { .kind = kind, .a = a, .b = b }, &id);
    return rc ? rc : critglob_push(p, id);
}

/* Joins the last two operands when a third is coming: sequences nest to the left. */
static int critglob_join_one(struct critglob_parse *p)
{
    if (p->atoms <= 1)
        return 0;
    --p->atoms;
    return critglob_binary(p, CRITGLOB_SEQ);
}

/* Joins the current sequence into one operand (atoms ends at 0, as Criterion's does). */
static int critglob_join_all(struct critglob_parse *p)
{
    int rc = 0;
    while (--p->atoms > 0 && !rc)
        rc = critglob_binary(p, CRITGLOB_SEQ);
    if (p->atoms < 0)
        p->atoms = 0;
    return rc;
}

/* The group operator op applied to the operand on top of the stack. */
static int critglob_apply_op(struct critglob_parse *p, char op)
{
    static const enum critglob_kind kinds[] = {
        ['!'] = CRITGLOB_NOT, ['*'] = CRITGLOB_STAR, ['+'] = CRITGLOB_PLUS, ['?'] = CRITGLOB_OPT,
    };
    if (op == '@')
        return 0;           /* @(a) is a */
    uint32_t id;
    int rc = critglob_node(p->g, (struct critglob_node) {
        .kind = kinds[(unsigned char) op], .a = p->frags[p->n_frags - 1] }, &id);
    if (!rc)
        p->frags[p->n_frags - 1] = id;
    return rc;
}

static int critglob_literal(struct critglob_parse *p, char c)
{
    int rc = critglob_join_one(p);
    if (rc)
        return rc;
    struct critglob_node n = { .kind = CRITGLOB_CHAR, .c = c };
    if (c == '?')
        n.kind = CRITGLOB_ONE_OR_NONE;
    else if (c == '*')
        n.kind = CRITGLOB_ANY;
    uint32_t id;
    rc = critglob_node(p->g, n, &id);
    if (!rc)
        rc = critglob_push(p, id);
    p->atoms += !rc;
    return rc;
}

static int critglob_close_group(struct critglob_parse *p)
{
    if (!p->n_groups || !p->atoms)
        return -EINVAL;
    char op = p->groups[--p->n_groups].op;
    int rc = critglob_join_all(p);
    if (!rc)
        rc = critglob_apply_op(p, op);
    /* Each alternative was wrapped on its own; ! joins them by "and". */
    for (; !rc && p->alter > 0; --p->alter)
        rc = critglob_binary(p, op == '!' ? CRITGLOB_AND : CRITGLOB_OR);
    p->atoms = p->groups[p->n_groups].atoms + 1;
    p->alter = p->groups[p->n_groups].alter;
    return rc;
}

static int critglob_parse(struct critglob_parse *p, const char *pat)
{
    int rc = 0;
    while (!rc && *pat) {
        char c = *pat++;
        switch (c) {
        case '!': case '?': case '@': case '*': case '+':
            if (*pat != '(') {
                rc = critglob_literal(p, c);
                break;
            }
            if (p->n_groups == CRITGLOB_STACK)
                return -EINVAL;
            rc = critglob_join_one(p);
            p->groups[p->n_groups].atoms = p->atoms;
            p->groups[p->n_groups].alter = p->alter;
            p->groups[p->n_groups++].op = c;
            p->atoms = p->alter = 0;
            ++pat;
            break;
        case '(':
            return -EINVAL;
        case ')':
            rc = critglob_close_group(p);
            break;
        case '[': {
            const char *end = strchr(pat, ']');
            if (!end)
                return -EINVAL;
            uint32_t off, id;
            rc = critglob_join_one(p);
            if (!rc)
                rc = critglob_set_text(p->g, pat, (size_t) (end - pat), &off);
            if (!rc)
                rc = critglob_node(p->g, (struct critglob_node) { .kind = CRITGLOB_SET, .a = off },
                        &id);
            if (!rc)
                rc = critglob_push(p, id);
            p->atoms += !rc;
            pat = end + 1;
            break;
        }
        case '|':
            if (!p->atoms || !p->n_groups)
                return -EINVAL;
            rc = critglob_join_all(p);
            if (!rc)
                rc = critglob_apply_op(p, p->groups[p->n_groups - 1].op);
            ++p->alter;
            break;
        case '\\':
            if (!*pat)
                return -EINVAL;     /* Criterion reads past the pattern's end */
            rc = critglob_literal(p, *pat++);
            break;
        default:
            rc = critglob_literal(p, c);
        }
    }
    if (rc)
        return rc;
    if (p->n_groups)
        return -EINVAL;
    rc = critglob_join_all(p);
    if (rc)
        return rc;
    if (p->n_frags != 1)
        return -EINVAL;     /* the empty pattern: Criterion compiles nothing */
    p->g->root = p->frags[0];
    return 0;
}

int crmpi_critglob_compile(const char *pattern, struct crmpi_critglob **out)
{
    *out = NULL;
    if (!pattern || strlen(pattern) > CRITGLOB_MAX_PATTERN)
        return -EINVAL;
    struct crmpi_critglob *g = calloc(1, sizeof(*g));
    struct critglob_parse *p = calloc(1, sizeof(*p));
    int rc = g && p ? 0 : -ENOMEM;
    if (!rc) {
        p->g = g;
        rc = critglob_parse(p, pattern);
    }
    free(p);
    if (rc) {
        crmpi_critglob_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void crmpi_critglob_free(struct crmpi_critglob *g)
{
    if (!g)
        return;
    free(g->nodes);
    free(g->sets);
    free(g->memo);
    free(g->memo_gen);
    free(g);
}

/* ---- matching ------------------------------------------------------------- */

/* A character of a [set], as Criterion compares: ranges either way round, char signed. */
static int critglob_in_set(const char *set, char chr)
{
    int c = (signed char) chr;
    int inverted = *set == '!';
    const unsigned char *p = (const unsigned char *) set + inverted;
    unsigned char lo = *p++;
    int match = 0;
    do {
        unsigned char hi = lo;
        if (!lo)
            return 0;       /* malformed: nothing matches, inverted or not */
        if (p[0] == '-' && p[1] != ']') {
            hi = p[1];
            if (!hi)
                return 0;
            p += 2;
        }
        if (lo > hi) {
            unsigned char t = lo;
            lo = hi;
            hi = t;
        }
        match = lo <= c && c <= hi;
    } while (!match && (lo = *p++));
    return match != inverted;
}

static void critglob_bit(uint64_t *set, size_t i)
{
    set[i / 64] |= UINT64_C(1) << (i % 64);
}

static int critglob_has(const uint64_t *set, size_t i)
{
    return (int) (set[i / 64] >> (i % 64)) & 1;
}

/* Sets bits from..to, inclusive. */
static void critglob_range(uint64_t *set, size_t from, size_t to)
{
    for (size_t i = from; i <= to; ++i)
        critglob_bit(set, i);
}

static void critglob_or_into(struct crmpi_critglob *g, uint64_t *dst, const uint64_t *src)
{
    for (size_t w = 0; w < g->words; ++w)
        dst[w] |= src[w];
}

/*
 * The ends j (i <= j <= len) such that s[i..j) matches node: a bitset in the
 * memo table, valid until the next string.
 */
static const uint64_t *critglob_ends(struct crmpi_critglob *g, uint32_t node, size_t i)
{
    size_t slot = (size_t) node * (g->len + 1) + i;
    uint64_t *out = g->memo + slot * g->words;
    if (g->memo_gen[slot] == g->gen)
        return out;
    memset(out, 0, g->words * sizeof(*out));
    const struct critglob_node *n = &g->nodes[node];
    switch (n->kind) {
    case CRITGLOB_CHAR:
        if (i < g->len && g->s[i] == n->c)
            critglob_bit(out, i + 1);
        break;
    case CRITGLOB_ONE_OR_NONE:
        critglob_bit(out, i);
        if (i < g->len)
            critglob_bit(out, i + 1);
        break;
    case CRITGLOB_ANY:
        critglob_range(out, i, g->len);
        break;
    case CRITGLOB_SET:
        if (i < g->len && critglob_in_set(g->sets + n->a, g->s[i]))
            critglob_bit(out, i + 1);
        break;
    case CRITGLOB_SEQ: {
        const uint64_t *first = critglob_ends(g, n->a, i);
        for (size_t w = i / 64; w < g->words; ++w)
            for (uint64_t bits = first[w]; bits; bits &= bits - 1) {
                size_t k = w * 64 + (size_t) __builtin_ctzll(bits);
                critglob_or_into(g, out, critglob_ends(g, n->b, k));
            }
        break;
    }
    case CRITGLOB_OR:
    case CRITGLOB_AND: {
        const uint64_t *a = critglob_ends(g, n->a, i);
        const uint64_t *b = critglob_ends(g, n->b, i);
        for (size_t w = 0; w < g->words; ++w)
            out[w] = n->kind == CRITGLOB_OR ? a[w] | b[w] : a[w] & b[w];
        break;
    }
    case CRITGLOB_NOT: {
        const uint64_t *a = critglob_ends(g, n->a, i);
        for (size_t j = i; j <= g->len; ++j)
            if (!critglob_has(a, j))
                critglob_bit(out, j);
        break;
    }
    case CRITGLOB_OPT:
        critglob_bit(out, i);
        critglob_or_into(g, out, critglob_ends(g, n->a, i));
        break;
    case CRITGLOB_STAR:
    case CRITGLOB_PLUS:
        /* Pieces that match nothing move nowhere: walk the reachable ends forwards. */
        if (n->kind == CRITGLOB_STAR)
            critglob_bit(out, i);
        critglob_or_into(g, out, critglob_ends(g, n->a, i));
        for (size_t k = i + 1; k <= g->len; ++k)
            if (critglob_has(out, k))
                critglob_or_into(g, out, critglob_ends(g, n->a, k));
        break;
    }
    g->memo_gen[slot] = g->gen;
    return out;
}

/* Makes the memo tables fit strings of len characters. */
static int critglob_reserve(struct crmpi_critglob *g, size_t len)
{
    if (g->memo && len <= g->cap_len)
        return 0;
    size_t words = (len + 1 + 63) / 64;
    size_t slots = (size_t) g->n_nodes * (len + 1);
    if (len > CRITGLOB_MAX_WORDS || slots > CRITGLOB_MAX_WORDS / words)
        return -ENOMEM;
    uint64_t *memo = malloc(slots * words * sizeof(*memo));
    uint32_t *gen = calloc(slots, sizeof(*gen));
    if (!memo || !gen) {
        free(memo);
        free(gen);
        return -ENOMEM;
    }
    free(g->memo);
    free(g->memo_gen);
    g->memo = memo;
    g->memo_gen = gen;
    g->cap_len = len;
    g->gen = 0;
    return 0;
}

int crmpi_critglob_match(struct crmpi_critglob *g, const char *s)
{
    size_t len = strlen(s);
    int rc = critglob_reserve(g, len);
    if (rc)
        return rc;
    /* The tables are laid out for len: a shorter string re-lays them (gen says stale). */
    if (++g->gen == 0) {
        memset(g->memo_gen, 0, (size_t) g->n_nodes * (g->cap_len + 1) * sizeof(*g->memo_gen));
        g->gen = 1;
    }
    g->s = s;
    g->len = len;
    g->words = (len + 1 + 63) / 64;
    int hit = critglob_has(critglob_ends(g, g->root, 0), len);
    g->s = NULL;
    return hit;
}

int crmpi_critglob_apply(struct criterion_test_set *set, const char *pattern)
{
    struct crmpi_critglob *g;
    int rc = crmpi_critglob_compile(pattern, &g);
    if (rc)
        return rc;
    /* Every allocation before the first change: the set is changed whole or not at all. */
    size_t longest = 0;
    FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
        if ((ss->suite.data && ss->suite.data->disabled) || !ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            size_t len = strlen(t->data->identifier_);
            longest = len > longest ? len : longest;
        }
    }
    rc = critglob_reserve(g, longest);
    if (!rc) {
        FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
            if ((ss->suite.data && ss->suite.data->disabled) || !ss->tests)
                continue;
            FOREACH_SET(struct criterion_test *t, ss->tests)
                if (crmpi_critglob_match(g, t->data->identifier_) == 0)
                    t->data->disabled = true;
        }
    }
    crmpi_critglob_free(g);
    return rc;
}
