/*
 * ringbuf - a fixed-capacity FIFO of ints, used as code under test by the
 * sample_containers suite.  When full, pushing either fails or overwrites
 * the oldest element, depending on the call.
 */
#ifndef SAMPLE_RINGBUF_H
#define SAMPLE_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>

struct ringbuf {
    int *data;
    size_t capacity;
    size_t head;    /* index of the oldest element */
    size_t count;
};

bool rb_init(struct ringbuf *rb, size_t capacity);
void rb_destroy(struct ringbuf *rb);

bool rb_push(struct ringbuf *rb, int v);           /* false when full */
void rb_push_overwrite(struct ringbuf *rb, int v); /* drops oldest when full */
bool rb_pop(struct ringbuf *rb, int *out);          /* false when empty */

/* Returns the i-th oldest element without bounds checking. */
int rb_peek_unchecked(const struct ringbuf *rb, size_t i);

static inline bool rb_empty(const struct ringbuf *rb) { return rb->count == 0; }
static inline bool rb_full(const struct ringbuf *rb) { return rb->count == rb->capacity; }

#endif /* SAMPLE_RINGBUF_H */
