/*
 * criterion-mproc: run the tests of any Criterion binary on many worker
 * processes.  This is the only public header.
 *
 * Most users never include it: preloading or linking libcriterion-mproc is
 * enough.  It declares the few things a program can ask of the plugin.
 */
#ifndef CRITERION_MPROC_H_
#define CRITERION_MPROC_H_

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CRMP_BUILDING)
# define CRMP_API __attribute__((visibility("default")))
#else
# define CRMP_API
#endif

#define CRMP_VERSION_MAJOR 0
#define CRMP_VERSION_MINOR 1
#define CRMP_VERSION_PATCH 0

/* The plugin's version as "MAJOR.MINOR.PATCH"; a static string. */
CRMP_API const char *crmp_version(void);

/*
 * Whether the current process is one of the plugin's workers (1) or not (0).
 * Sandboxed test processes report the value of the worker that runs them.
 */
CRMP_API int crmp_in_worker(void);

/*
 * Scheduling annotations.
 *
 * By default --mproc runs the tests that failed last time first, then the
 * rest longest first (durations recorded by earlier runs).  Annotations
 * change that for a test or a whole suite:
 *
 *   CRMP_SCHEDULE(db, migrations, .priority = -10);   // before the rest
 *   CRMP_SUITE_SCHEDULE(db, .group = "database");     // one worker, in order
 *
 * - priority: lower runs earlier (default 0); it overrides the duration order.
 * - group: every test carrying the same group name (across suites too) runs
 *   serially in one worker, in Criterion's order, scheduled as one job whose
 *   duration is the group's total and whose priority is its members' lowest.
 *
 * A test-level annotation overrides the suite-level one for the fields it
 * sets.  Annotations are plain data in a section of their own: a binary
 * using them builds and runs the same without the plugin.  Write them at
 * file scope, after the Test() they name or anywhere else.
 */
#define CRMP_SCHEDULE_VERSION 1

struct crmp_schedule {
    int version;          /* CRMP_SCHEDULE_VERSION, set by the macros */
    const char *suite;
    const char *test;     /* NULL for the whole suite */
    int priority;
    const char *group;
};

#define CRMP_SCHED_ID__(Line) crmp_schedule_l ## Line
#define CRMP_SCHED_ID_(Line) CRMP_SCHED_ID__(Line)

/* Unset fields are meant to be zero: no warning for them in C++. */
#define CRMP_SCHED_ENTRY_(Suite, Test, ...)                                  \
    _Pragma("GCC diagnostic push")                                           \
    _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")       \
    __attribute__((used, section("crmp_sched"), aligned(sizeof(void *))))    \
    static const struct crmp_schedule CRMP_SCHED_ID_(__LINE__) = {           \
        CRMP_SCHEDULE_VERSION, Suite, Test, __VA_ARGS__                      \
    };                                                                       \
    _Pragma("GCC diagnostic pop")

#define CRMP_SCHEDULE(Suite, Test, ...)                                      \
    CRMP_SCHED_ENTRY_(#Suite, #Test, __VA_ARGS__)

#define CRMP_SUITE_SCHEDULE(Suite, ...)                                      \
    CRMP_SCHED_ENTRY_(#Suite, 0, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* !CRITERION_MPROC_H_ */
