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

#ifdef __cplusplus
}
#endif

#endif /* !CRITERION_MPROC_H_ */
