#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    int value;
    char key[];
};

struct hashmap {
    struct node **buckets;
    size_t nbuckets;
    size_t size;
};

unsigned long hm_hash(const char *key)
{
    unsigned long h = 2166136261UL;
    for (const unsigned char *p = (const unsigned char *) key; *p; ++p) {
        h ^= *p;
        h *= 16777619UL;
        h &= 0xffffffffUL;
    }
    return h;
}

struct hashmap *hm_new(size_t initial_buckets)
{
    if (initial_buckets < 4)
        initial_buckets = 4;
    struct hashmap *m = malloc(sizeof (*m));
    if (!m)
        return NULL;
    m->buckets = calloc(initial_buckets, sizeof (*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    m->nbuckets = initial_buckets;
    m->size = 0;
    return m;
}

void hm_free(struct hashmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; ++i) {
        struct node *n = m->buckets[i];
        while (n) {
            struct node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    free(m);
}

static bool grow(struct hashmap *m)
{
    size_t nb = m->nbuckets * 2;
    struct node **buckets = calloc(nb, sizeof (*buckets));
    if (!buckets)
        return false;
    for (size_t i = 0; i < m->nbuckets; ++i) {
        struct node *n = m->buckets[i];
        while (n) {
            struct node *next = n->next;
            size_t b = hm_hash(n->key) % nb;
            n->next = buckets[b];
            buckets[b] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->nbuckets = nb;
    return true;
}

bool hm_put(struct hashmap *m, const char *key, int value)
{
    size_t b = hm_hash(key) % m->nbuckets;
    for (struct node *n = m->buckets[b]; n; n = n->next) {
        if (!strcmp(n->key, key)) {
            n->value = value;
            return true;
        }
    }
    if ((m->size + 1) * 4 > m->nbuckets * 3) {      /* load factor 0.75 */
        if (!grow(m))
            return false;
        b = hm_hash(key) % m->nbuckets;
    }
    size_t len = strlen(key) + 1;
    struct node *n = malloc(sizeof (*n) + len);
    if (!n)
        return false;
    memcpy(n->key, key, len);
    n->value = value;
    n->next = m->buckets[b];
    m->buckets[b] = n;
    ++m->size;
    return true;
}

bool hm_get(const struct hashmap *m, const char *key, int *out)
{
    for (struct node *n = m->buckets[hm_hash(key) % m->nbuckets]; n; n = n->next) {
        if (!strcmp(n->key, key)) {
            if (out)
                *out = n->value;
            return true;
        }
    }
    return false;
}

bool hm_remove(struct hashmap *m, const char *key)
{
    struct node **link = &m->buckets[hm_hash(key) % m->nbuckets];
    for (struct node *n = *link; n; link = &n->next, n = n->next) {
        if (!strcmp(n->key, key)) {
            *link = n->next;
            free(n);
            --m->size;
            return true;
        }
    }
    return false;
}

size_t hm_size(const struct hashmap *m)
{
    return m->size;
}

size_t hm_bucket_count(const struct hashmap *m)
{
    return m->nbuckets;
}

void hm_foreach(const struct hashmap *m,
        void (*fn)(const char *key, int value, void *ctx), void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; ++i)
        for (struct node *n = m->buckets[i]; n; n = n->next)
            fn(n->key, n->value, ctx);
}
