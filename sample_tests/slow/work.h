/*
 * work - deterministic slow operations used by the sample_slow suite, whose
 * tests take between ~20 ms and ~600 ms each (for scheduling demos).
 */
#ifndef SAMPLE_WORK_H
#define SAMPLE_WORK_H

/* Sleeps for ms milliseconds (restarting after signal interruptions). */
void work_sleep_ms(unsigned ms);

/* Number of primes strictly below limit (trial division: CPU bound). */
unsigned work_count_primes(unsigned limit);

/* Largest number of Collatz steps for any start value in [1, limit). */
unsigned work_collatz_max_steps(unsigned limit);

#endif /* SAMPLE_WORK_H */
