/*
 * sample_containers: example Criterion suite for three small containers:
 * a hash map, a ring buffer and a dynamic array.
 *
 * Shows: suite-level fixtures shared by all tests of a suite, a suite-level
 * timeout, a theory over ring-buffer capacities, a parameterized test with
 * plain struct parameters, a test that is expected to die with SIGSEGV, and
 * the classic cr_assert_* / cr_expect_* macros (including arrays).
 *
 * Every test here is expected to pass.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <criterion/theories.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dynarray.h"
#include "hashmap.h"
#include "ringbuf.h"

/* ======================================================================== */
/* Hash map                                                                  */
/* ======================================================================== */

static struct hashmap *map;

static void make_fruit_map(void)
{
    map = hm_new(4);
    hm_put(map, "apple", 3);
    hm_put(map, "banana", 7);
    hm_put(map, "cherry", 11);
}

static void free_map(void)
{
    hm_free(map);
    map = NULL;
}

TestSuite(hashmap,
        .init = make_fruit_map,
        .fini = free_map,
        .description = "Chained hash map from strings to ints; starts with three fruits");

Test(hashmap, finds_existing_keys)
{
    int v = 0;

    cr_assert(hm_get(map, "banana", &v));
    cr_assert_eq(v, 7);
}

Test(hashmap, missing_key_is_not_found)
{
    int v = -1;

    cr_assert_not(hm_get(map, "durian", &v));
    cr_assert_eq(v, -1, "the output must be left untouched on a miss");
}

Test(hashmap, put_overwrites_existing_value)
{
    int v = 0;

    cr_assert(hm_put(map, "apple", 30));
    cr_assert(hm_get(map, "apple", &v));
    cr_assert_eq(v, 30);
    cr_assert_eq(hm_size(map), 3, "overwriting must not change the size");
}

Test(hashmap, remove_deletes_only_that_key)
{
    cr_assert(hm_remove(map, "banana"));
    cr_expect_not(hm_get(map, "banana", NULL));
    cr_expect(hm_get(map, "apple", NULL));
    cr_expect(hm_get(map, "cherry", NULL));
    cr_expect_eq(hm_size(map), 2);
}

Test(hashmap, removing_twice_reports_absence)
{
    cr_assert(hm_remove(map, "cherry"));
    cr_assert_not(hm_remove(map, "cherry"));
}

Test(hashmap, empty_string_is_a_valid_key)
{
    int v = 0;

    cr_assert(hm_put(map, "", 99));
    cr_assert(hm_get(map, "", &v));
    cr_assert_eq(v, 99);
}

Test(hashmap, grows_and_keeps_every_entry)
{
    char key[16];
    size_t before = hm_bucket_count(map);

    for (int i = 0; i < 200; ++i) {
        snprintf(key, sizeof (key), "key-%03d", i);
        cr_assert(hm_put(map, key, i * i));
    }
    cr_log_info("hash map grew from %zu to %zu buckets", before, hm_bucket_count(map));
    cr_assert_gt(hm_bucket_count(map), before);
    cr_assert_eq(hm_size(map), 203);

    for (int i = 0; i < 200; ++i) {
        int v = -1;
        snprintf(key, sizeof (key), "key-%03d", i);
        cr_assert(hm_get(map, key, &v), "lost %s after growing", key);
        cr_assert_eq(v, i * i);
    }
}

static void sum_values(const char *key, int value, void *ctx)
{
    (void) key;
    *(int *) ctx += value;
}

Test(hashmap, foreach_visits_every_entry_once)
{
    int total = 0;

    hm_foreach(map, sum_values, &total);
    cr_assert_eq(total, 3 + 7 + 11);
}

Test(hashmap, fnv1a_known_values, .description = "hm_hash is 32-bit FNV-1a")
{
    cr_expect_eq(hm_hash(""), 0x811c9dc5UL);
    cr_expect_eq(hm_hash("a"), 0xe40c292cUL);
    cr_expect_eq(hm_hash("foobar"), 0xbf9cf968UL);
    cr_expect_neq(hm_hash("ab"), hm_hash("ba"));
}

/* ======================================================================== */
/* Ring buffer                                                               */
/* ======================================================================== */

static struct ringbuf ring;

static void make_ring(void)
{
    rb_init(&ring, 4);
}

static void destroy_ring(void)
{
    rb_destroy(&ring);
}

TestSuite(ringbuf,
        .init = make_ring,
        .fini = destroy_ring,
        .description = "Fixed-capacity FIFO of ints (capacity 4 in the fixture)",
        .timeout = 1.0);

Test(ringbuf, starts_empty)
{
    cr_assert(rb_empty(&ring));
    cr_assert_not(rb_full(&ring));
    cr_assert_eq(ring.capacity, 4);
}

Test(ringbuf, pops_in_fifo_order)
{
    int v;

    for (int i = 1; i <= 3; ++i)
        cr_assert(rb_push(&ring, i * 10));
    for (int i = 1; i <= 3; ++i) {
        cr_assert(rb_pop(&ring, &v));
        cr_expect_eq(v, i * 10);
    }
    cr_assert(rb_empty(&ring));
}

Test(ringbuf, push_fails_when_full)
{
    for (int i = 0; i < 4; ++i)
        cr_assert(rb_push(&ring, i));
    cr_assert(rb_full(&ring));
    cr_assert_not(rb_push(&ring, 4));
    cr_assert_eq(ring.count, 4);
}

Test(ringbuf, pop_fails_when_empty)
{
    int v = 1234;

    cr_assert_not(rb_pop(&ring, &v));
    cr_assert_eq(v, 1234);
}

Test(ringbuf, overwrite_drops_the_oldest)
{
    int expected[] = { 3, 4, 5, 6 };
    int got[4];

    for (int i = 1; i <= 6; ++i)
        rb_push_overwrite(&ring, i);
    for (size_t i = 0; i < 4; ++i)
        got[i] = rb_peek_unchecked(&ring, i);
    cr_assert_arr_eq(got, expected, sizeof (expected));
}

Test(ringbuf, wraps_around_many_times)
{
    int v;

    for (int i = 0; i < 1000; ++i) {
        cr_assert(rb_push(&ring, i));
        cr_assert(rb_pop(&ring, &v));
        cr_assert_eq(v, i);
    }
    cr_assert_lt(ring.head, ring.capacity);
}

Test(ringbuf, peek_after_destroy_crashes, .signal = SIGSEGV,
        .description = "rb_peek_unchecked on a destroyed ring dereferences NULL")
{
    /* Sanitizers (ASan) catch SIGSEGV themselves and exit(1) instead; restore
     * the default disposition so the process really dies from the signal. */
    signal(SIGSEGV, SIG_DFL);

    rb_destroy(&ring);
    volatile int v = rb_peek_unchecked(&ring, 0);
    (void) v;
}

/* For every capacity and number of pushes, an overwriting ring keeps the
 * newest min(pushes, capacity) values, in order. */
TheoryDataPoints(ringbuf, overwrite_keeps_newest_values) = {
    DataPoints(size_t, 1, 2, 3, 8),
    DataPoints(int, 0, 1, 5, 17),
};

Theory((size_t capacity, int pushes), ringbuf, overwrite_keeps_newest_values)
{
    struct ringbuf rb;
    cr_assume(rb_init(&rb, capacity));

    for (int i = 0; i < pushes; ++i)
        rb_push_overwrite(&rb, i);

    size_t expected_count = (size_t) pushes < capacity ? (size_t) pushes : capacity;
    cr_assert_eq(rb.count, expected_count);
    for (size_t i = 0; i < rb.count; ++i)
        cr_assert_eq(rb_peek_unchecked(&rb, i), pushes - (int) rb.count + (int) i);
    rb_destroy(&rb);
}

/* ======================================================================== */
/* Dynamic array                                                             */
/* ======================================================================== */

static struct dynarray arr = DYNARRAY_INIT;

static void fill_one_to_five(void)
{
    for (int i = 1; i <= 5; ++i)
        da_push(&arr, i);
}

static void clear_array(void)
{
    da_clear(&arr);
}

TestSuite(dynarray, .description = "Growable int array");

Test(dynarray, starts_with_no_storage)
{
    struct dynarray a = DYNARRAY_INIT;

    cr_assert_null(a.items);
    cr_assert_eq(a.len, 0);
    cr_assert_eq(da_sum(&a), 0);
}

Test(dynarray, push_grows_capacity, .fini = clear_array)
{
    for (int i = 0; i < 100; ++i)
        cr_assert(da_push(&arr, i));
    cr_assert_eq(arr.len, 100);
    cr_assert_geq(arr.cap, 100);
    cr_assert_eq(da_sum(&arr), 4950);
}

Test(dynarray, reserve_never_shrinks, .init = fill_one_to_five, .fini = clear_array)
{
    size_t cap = arr.cap;

    cr_assert(da_reserve(&arr, 2));
    cr_assert_eq(arr.cap, cap);
    cr_assert(da_reserve(&arr, 64));
    cr_assert_eq(arr.cap, 64);
    cr_assert_eq(arr.len, 5);
}

Test(dynarray, reverse_in_place, .init = fill_one_to_five, .fini = clear_array)
{
    int expected[] = { 5, 4, 3, 2, 1 };

    da_reverse(&arr);
    cr_assert_arr_eq(arr.items, expected, sizeof (expected));
}

Test(dynarray, remove_shifts_the_tail, .init = fill_one_to_five, .fini = clear_array)
{
    int removed = 0;
    int expected[] = { 1, 2, 4, 5 };

    cr_assert(da_remove(&arr, 2, &removed));
    cr_assert_eq(removed, 3);
    cr_assert_eq(arr.len, 4);
    cr_assert_arr_eq(arr.items, expected, sizeof (expected));
}

Test(dynarray, out_of_range_operations_fail, .init = fill_one_to_five, .fini = clear_array)
{
    cr_expect_not(da_remove(&arr, 5, NULL));
    cr_expect_not(da_insert(&arr, 6, 0));
    cr_expect_eq(arr.len, 5);
}

struct insert_case {
    size_t index;
    int value;
    int expected[6];
};

ParameterizedTestParameters(dynarray, insert_at)
{
    static struct insert_case cases[] = {
        { 0, 0, { 0, 1, 2, 3, 4, 5 } },
        { 1, 9, { 1, 9, 2, 3, 4, 5 } },
        { 3, 7, { 1, 2, 3, 7, 4, 5 } },
        { 5, 6, { 1, 2, 3, 4, 5, 6 } },
    };
    return cr_make_param_array(struct insert_case, cases, sizeof (cases) / sizeof (cases[0]));
}

ParameterizedTest(struct insert_case *tc, dynarray, insert_at,
        .init = fill_one_to_five, .fini = clear_array)
{
    cr_assert(da_insert(&arr, tc->index, tc->value));
    cr_assert_eq(arr.len, 6);
    cr_assert_arr_eq(arr.items, tc->expected, sizeof (tc->expected),
            "inserting %d at index %zu", tc->value, tc->index);
}
