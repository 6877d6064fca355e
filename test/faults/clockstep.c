#define _GNU_SOURCE
/*
 * Preloaded by the clock-step fault cases (run_faults.py): the wall clock
 * the plugin reads is FAULT_CLOCK_STEP seconds off the kernel's, as after a
 * step of the system clock (NTP, a person with `date -s`).  Timed waits
 * against CLOCK_REALTIME then wait that much more or less; waits on the
 * monotonic clock are not affected, which is what these cases check.
 *
 * Only the plugin's own reads are stepped (the caller's object is looked
 * up): Criterion's timeout watchdog (BoxFort's) waits on the wall clock too,
 * and a step makes it misfire in a serial run just the same.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int clockstep_from_plugin(const void *caller)
{
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname
        && strstr(info.dli_fname, "libcriterion-mproc") != NULL;
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *)) dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(clock, ts);
    const char *step = getenv("FAULT_CLOCK_STEP");
    if (!rc && step && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)
            && clockstep_from_plugin(__builtin_return_address(0)))
        ts->tv_sec += strtol(step, NULL, 10);
    return rc;
}
