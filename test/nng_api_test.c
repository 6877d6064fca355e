/*
 * Unit tests for plugin/nng_api.c: loading nng starts its threads with small
 * stacks (8 MiB each used up `ulimit -v 120000` and nng deadlocked) and
 * gives the process its default thread stack back.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>

#include <criterion/criterion.h>

#include "nng_api.h"

/* AddressSanitizer reserves terabytes of address space: no ulimit -v there. */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#else
#define T_ASAN 0
#endif

static size_t t_default_stack(void)
{
    pthread_attr_t a;
    cr_assert_eq(pthread_getattr_default_np(&a), 0);
    size_t size = 0;
    cr_assert_eq(pthread_attr_getstacksize(&a, &size), 0);
    pthread_attr_destroy(&a);
    return size;
}

Test(nng_api, load_keeps_the_default_thread_stack)
{
    size_t before = t_default_stack();
    cr_assert_eq(crmpi_nng_load(), 0);
    cr_expect_eq(t_default_stack(), before);
}

/* Before the fix the load succeeded and the first socket hung for good. */
Test(nng_api, loads_and_opens_under_ulimit_v_120000, .timeout = 20)
{
    if (T_ASAN)
        cr_skip_test("a sanitizer build cannot run under ulimit -v");
    struct rlimit r = { 120000 * 1024L, 120000 * 1024L };
    cr_assert_eq(setrlimit(RLIMIT_AS, &r), 0);
    cr_assert_eq(crmpi_nng_load(), 0);
    nng_socket s;
    cr_assert_eq(crmpi_nng.nng_req0_open(&s), 0);
    cr_expect_eq(crmpi_nng.nng_close(s), 0);
}
