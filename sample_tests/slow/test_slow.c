/*
 * sample_slow: a small suite of deliberately slow tests, used to demonstrate
 * how tests are scheduled across workers.  Each test sleeps (nanosleep) or
 * does a fixed amount of CPU work, taking roughly 20-300 ms; `zz_long_tail`
 * takes ~600 ms and sorts last alphabetically, so a runner that starts tests
 * in name order picks it up last.
 *
 * Every test here is expected to pass.  Assertions check results only,
 * never elapsed time, so the suite stays deterministic.
 */
#include <criterion/criterion.h>

#include "work.h"

TestSuite(slow, .description = "Slow but deterministic tests for scheduling demos",
        .timeout = 10.0);

Test(slow, cache_warmup_20ms)
{
    work_sleep_ms(20);
    cr_assert(1);
}

Test(slow, config_reload_40ms)
{
    work_sleep_ms(40);
    cr_assert(1);
}

Test(slow, db_roundtrip_60ms)
{
    work_sleep_ms(60);
    cr_assert(1);
}

Test(slow, dns_lookup_80ms)
{
    work_sleep_ms(80);
    cr_assert(1);
}

Test(slow, primes_below_400k)
{
    /* CPU bound, a few tens of ms with optimisation */
    cr_assert_eq(work_count_primes(400000), 33860);
}

Test(slow, primes_below_1m)
{
    /* CPU bound, roughly 100 ms with optimisation */
    cr_assert_eq(work_count_primes(1000000), 78498);
}

Test(slow, collatz_below_300k)
{
    /* CPU bound, roughly 50 ms with optimisation */
    cr_assert_eq(work_collatz_max_steps(300000), 442);
}

Test(slow, http_fetch_120ms)
{
    work_sleep_ms(120);
    cr_assert(1);
}

Test(slow, index_rebuild_150ms)
{
    work_sleep_ms(150);
    cr_assert(1);
}

Test(slow, report_render_200ms)
{
    work_sleep_ms(200);
    cr_assert(1);
}

Test(slow, snapshot_restore_300ms)
{
    work_sleep_ms(300);
    cr_assert(1);
}

Test(slow, zz_long_tail, .description = "the longest test, sorted last (~600 ms)")
{
    work_sleep_ms(600);
    cr_assert(1);
}
