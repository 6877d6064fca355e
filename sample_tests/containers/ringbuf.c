#include "ringbuf.h"

#include <stdlib.h>

bool rb_init(struct ringbuf *rb, size_t capacity)
{
    rb->data = capacity ? malloc(capacity * sizeof (*rb->data)) : NULL;
    rb->capacity = rb->data ? capacity : 0;
    rb->head = 0;
    rb->count = 0;
    return rb->data != NULL;
}

void rb_destroy(struct ringbuf *rb)
{
    free(rb->data);
    rb->data = NULL;
    rb->capacity = rb->head = rb->count = 0;
}

bool rb_push(struct ringbuf *rb, int v)
{
    if (rb_full(rb))
        return false;
    rb->data[(rb->head + rb->count) % rb->capacity] = v;
    ++rb->count;
    return true;
}

void rb_push_overwrite(struct ringbuf *rb, int v)
{
    if (rb_full(rb)) {
        rb->data[rb->head] = v;
        rb->head = (rb->head + 1) % rb->capacity;
        return;
    }
    rb_push(rb, v);
}

bool rb_pop(struct ringbuf *rb, int *out)
{
    if (rb_empty(rb))
        return false;
    if (out)
        *out = rb->data[rb->head];
    rb->head = (rb->head + 1) % rb->capacity;
    --rb->count;
    return true;
}

int rb_peek_unchecked(const struct ringbuf *rb, size_t i)
{
    /* No capacity check on purpose: the modulo is skipped when the ring
     * has never wrapped, so a destroyed ring dereferences its NULL buffer. */
    size_t idx = rb->head + i;
    if (idx >= rb->capacity && rb->capacity)
        idx -= rb->capacity;
    return rb->data[idx];
}
