/*
 * dynarray - a growable array of ints, used as code under test by the
 * sample_containers suite.
 */
#ifndef SAMPLE_DYNARRAY_H
#define SAMPLE_DYNARRAY_H

#include <stdbool.h>
#include <stddef.h>

struct dynarray {
    int *items;
    size_t len;
    size_t cap;
};

#define DYNARRAY_INIT { NULL, 0, 0 }

bool da_push(struct dynarray *a, int v);
bool da_insert(struct dynarray *a, size_t index, int v);   /* index <= len */
bool da_remove(struct dynarray *a, size_t index, int *out); /* index < len */
bool da_reserve(struct dynarray *a, size_t cap);
void da_reverse(struct dynarray *a);
long da_sum(const struct dynarray *a);
void da_clear(struct dynarray *a);   /* frees the storage */

#endif /* SAMPLE_DYNARRAY_H */
