#include "work.h"

#include <errno.h>
#include <time.h>

void work_sleep_ms(unsigned ms)
{
    struct timespec req = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
    struct timespec rem;
    while (nanosleep(&req, &rem) == -1 && errno == EINTR)
        req = rem;
}

unsigned work_count_primes(unsigned limit)
{
    unsigned count = 0;
    for (unsigned n = 2; n < limit; ++n) {
        int prime = 1;
        for (unsigned d = 2; d * d <= n; ++d) {
            if (n % d == 0) {
                prime = 0;
                break;
            }
        }
        count += (unsigned) prime;
    }
    return count;
}

unsigned work_collatz_max_steps(unsigned limit)
{
    unsigned best = 0;
    for (unsigned start = 1; start < limit; ++start) {
        unsigned long long n = start;
        unsigned steps = 0;
        while (n != 1) {
            n = (n & 1) ? 3 * n + 1 : n / 2;
            ++steps;
        }
        if (steps > best)
            best = steps;
    }
    return best;
}
