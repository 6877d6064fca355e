/*
 * calc - a tiny numeric helper library WITH DELIBERATE BUGS, used as code
 * under test by the sample_failing suite (which is meant to fail).
 */
#ifndef SAMPLE_CALC_H
#define SAMPLE_CALC_H

#include <signal.h>
#include <stddef.h>

/* Integer average of n values.  Bug: truncates instead of rounding. */
int calc_average(const int *values, size_t n);

/* Division rounding to nearest.  Bug: wrong for negative operands. */
int calc_div_round(int a, int b);

/* Additive checksum.  Bug: no NULL check. */
unsigned calc_checksum(const unsigned char *buf, size_t n);

/* Adds two ints; on overflow it "aborts" the program with exit(3). */
int calc_checked_add(int a, int b);

/* Spins until *flag becomes non-zero. */
void calc_wait_until(volatile sig_atomic_t *flag);

/* Formats a Windows-style path "C:\dir\file" into buf.  Bug: uses '/'. */
void calc_format_path(char *buf, size_t size, const char *dir, const char *file);

/* Clamps v into [lo, hi].  Correct. */
int calc_clamp(int v, int lo, int hi);

#endif /* SAMPLE_CALC_H */
