#include "calc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

int calc_average(const int *values, size_t n)
{
    long sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += values[i];
    return n ? (int) (sum / (long) n) : 0;
}

int calc_div_round(int a, int b)
{
    return (a + b / 2) / b;
}

unsigned calc_checksum(const unsigned char *buf, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += buf[i];
    return sum;
}

int calc_checked_add(int a, int b)
{
    int r;
    if (__builtin_add_overflow(a, b, &r)) {
        fprintf(stderr, "calc: integer overflow in %d + %d\n", a, b);
        exit(3);
    }
    return r;
}

void calc_wait_until(volatile sig_atomic_t *flag)
{
    while (!*flag)
        ;
}

void calc_format_path(char *buf, size_t size, const char *dir, const char *file)
{
    snprintf(buf, size, "C:/%s/%s", dir, file);
}

int calc_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}
