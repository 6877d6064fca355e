#include "dynarray.h"

#include <stdlib.h>
#include <string.h>

bool da_reserve(struct dynarray *a, size_t cap)
{
    if (cap <= a->cap)
        return true;
    int *items = realloc(a->items, cap * sizeof (*items));
    if (!items)
        return false;
    a->items = items;
    a->cap = cap;
    return true;
}

static bool ensure_room(struct dynarray *a)
{
    if (a->len < a->cap)
        return true;
    return da_reserve(a, a->cap ? a->cap * 2 : 8);
}

bool da_push(struct dynarray *a, int v)
{
    if (!ensure_room(a))
        return false;
    a->items[a->len++] = v;
    return true;
}

bool da_insert(struct dynarray *a, size_t index, int v)
{
    if (index > a->len || !ensure_room(a))
        return false;
    memmove(&a->items[index + 1], &a->items[index], (a->len - index) * sizeof (int));
    a->items[index] = v;
    ++a->len;
    return true;
}

bool da_remove(struct dynarray *a, size_t index, int *out)
{
    if (index >= a->len)
        return false;
    if (out)
        *out = a->items[index];
    memmove(&a->items[index], &a->items[index + 1], (a->len - index - 1) * sizeof (int));
    --a->len;
    return true;
}

void da_reverse(struct dynarray *a)
{
    for (size_t i = 0, j = a->len; i + 1 < j; ++i, --j) {
        int t = a->items[i];
        a->items[i] = a->items[j - 1];
        a->items[j - 1] = t;
    }
}

long da_sum(const struct dynarray *a)
{
    long s = 0;
    for (size_t i = 0; i < a->len; ++i)
        s += a->items[i];
    return s;
}

void da_clear(struct dynarray *a)
{
    free(a->items);
    a->items = NULL;
    a->len = a->cap = 0;
}
