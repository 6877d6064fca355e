/*
 * hashmap - a string-keyed, int-valued hash map with separate chaining,
 * used as code under test by the sample_containers suite.
 */
#ifndef SAMPLE_HASHMAP_H
#define SAMPLE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hashmap;

struct hashmap *hm_new(size_t initial_buckets);
void hm_free(struct hashmap *m);

/* Inserts or overwrites; returns false on allocation failure. */
bool hm_put(struct hashmap *m, const char *key, int value);

/* Returns true and stores the value in *out (if out != NULL) when found. */
bool hm_get(const struct hashmap *m, const char *key, int *out);

/* Returns true when the key was present. */
bool hm_remove(struct hashmap *m, const char *key);

size_t hm_size(const struct hashmap *m);
size_t hm_bucket_count(const struct hashmap *m);

/* Calls fn for each entry, in unspecified order. */
void hm_foreach(const struct hashmap *m,
        void (*fn)(const char *key, int value, void *ctx), void *ctx);

/* FNV-1a, exposed for testing. */
unsigned long hm_hash(const char *key);

#endif /* SAMPLE_HASHMAP_H */
