/*
 * The plugin's command-line and environment options.  Parsing is pure (no
 * global state, no exit) so that it can be unit tested; plugin.c applies the
 * result.
 */
#ifndef CRMPI_OPTIONS_H_
#define CRMPI_OPTIONS_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Hard cap on local workers: more only thrashes the machine. */
#define CRMPI_MAX_WORKERS 512u
#define CRMPI_DEFAULT_MAX_RESTARTS 8u
#define CRMPI_DEFAULT_CONNECT_TIMEOUT 30u
#define CRMPI_DEFAULT_HEARTBEAT 20u
#define CRMPI_DEFAULT_SLOW 60u

/* --mproc-progress: the live status line on stderr. */
enum crmpi_progress_mode {
    CRMPI_PROGRESS_AUTO,      /* when stderr is a terminal and TERM is not dumb */
    CRMPI_PROGRESS_BAR,       /* whenever stderr is a terminal */
    CRMPI_PROGRESS_NONE,
};

/* "auto", "bar" or "none" (--mproc-progress's values) into *mode: 0, or -EINVAL. */
int crmpi_options_parse_progress(const char *value, enum crmpi_progress_mode *mode);

/* Exit status for a bad plugin option or a refused combination. */
#define CRMPI_EXIT_USAGE 2

/* --mproc-keep-tmp: which tests keep their CRITERION_MPROC_TMPDIR (the Assign carries it). */
enum crmpi_keep_tmp {
    CRMPI_KEEP_TMP_FAILED,    /* the default */
    CRMPI_KEEP_TMP_ALWAYS,
    CRMPI_KEEP_TMP_NEVER,
};

/* --mproc-leaks: what a test that leaves processes running gets (the Assign carries it). */
enum crmpi_leaks_policy {
    CRMPI_LEAKS_WARN,         /* the default: a [LEAK] line */
    CRMPI_LEAKS_FAIL,         /* the line, and the test fails */
    CRMPI_LEAKS_IGNORE,       /* nothing said (they are ended all the same) */
};

struct crmpi_options {
    int enabled;              /* --mproc or CRITERION_MPROC was given */
    unsigned workers;         /* resolved local worker count */
    int capped;               /* workers was reduced to CRMPI_MAX_WORKERS */
    int verbose;              /* --mproc-verbose[=N] */
    unsigned max_restarts;    /* --mproc-max-restarts */
    int help;                 /* -h/--help seen: append our usage */
    const char *durations;    /* --mproc-durations (borrowed); NULL: default */
    unsigned slowest;         /* --mproc-slowest=K */
    int no_recap;             /* --mproc-recap=off: no list of failures after the Synthesis */
    unsigned shard_index;     /* --mproc-shard=I/N (or Bazel/GoogleTest env) */
    unsigned shard_count;     /* 0: not sharded */
    const char *listen;       /* --mproc-listen=URL: accept remote workers */
    const char *connect;      /* --mproc-connect=URL: be workers of that coordinator */
    unsigned connect_timeout; /* seconds workers retry their coordinator (30) */
    const char *token_file;   /* --mproc-token-file */
    const char *tls_cert;     /* coordinator's certificate (PEM), for tls+tcp:// */
    const char *tls_key;      /* its key (PEM) */
    const char *tls_ca;       /* the CA workers check the coordinator against */
    unsigned heartbeat;       /* seconds without a heartbeat before a worker is dead; 0: off */
    int fork_isolation;       /* --mproc-isolation=fork */
    unsigned wait_workers;    /* --mproc-wait-workers=S: a listener gives up after S s; 0: never */
    unsigned slow;            /* --mproc-slow=S: say a test is slow at S s and each multiple; 0: off */
    enum crmpi_progress_mode progress;  /* --mproc-progress */
    const char *junit;        /* --mproc-junit=FILE (borrowed); NULL: CRITERION_MPROC_JUNIT or none */
    unsigned retries;         /* --mproc-retries=N (or CRITERION_MPROC_RETRIES): failed tests run again */
    int retries_set;          /* given on the command line (the environment does not override it) */
    int flaky_fails;          /* --mproc-flaky-fails: a test that passed on a later try fails the run */
    int rerun_failed;         /* --mproc-rerun-failed: only the tests that failed last time */
    enum crmpi_keep_tmp keep_tmp; /* --mproc-keep-tmp */
    const char *annotations;  /* --mproc-annotations=auto|on|off (static); NULL: auto */
    enum crmpi_leaks_policy leaks; /* --mproc-leaks */
    const char *artifacts;    /* --mproc-artifacts=DIR (borrowed); NULL: CRITERION_MPROC_ARTIFACTS_DIR or none */
    uint64_t artifacts_max;   /* --mproc-artifacts-max: bytes one test's artifacts may take */
};

/*
 * Parses a worker count: "N", "auto", "auto*K", "auto/K" with ncpu the number
 * of online CPUs.  Returns 0 and sets *out (capping it, with *capped set), or
 * -EINVAL with a message in err.
 */
int crmpi_options_parse_workers(const char *spec, long ncpu, unsigned *out,
        int *capped, char *err, size_t errlen);

/*
 * Extracts the plugin's options from argv, honours CRITERION_MPROC
 * (env_mproc, may be NULL; the command line wins), and refuses Criterion
 * options that cannot work with workers (env_jobs is CRITERION_JOBS).
 *
 * On success returns 0 and stores in *out_argv a malloc'd NULL-terminated
 * array holding argv without the plugin's options (the strings are argv's;
 * the caller frees only the array), and its length in *out_argc.  On error
 * returns -EINVAL with a one-line message in err and allocates nothing.
 */
int crmpi_options_parse(int argc, char **argv, const char *env_mproc,
        const char *env_jobs, long ncpu, struct crmpi_options *opts,
        int *out_argc, char ***out_argv, char *err, size_t errlen);

/*
 * Parses a shard spec "I/N" (0 <= I < N).  Returns 0, or -EINVAL with a
 * message in err.
 */
int crmpi_options_parse_shard(const char *spec, unsigned *index, unsigned *count,
        char *err, size_t errlen);

/*
 * Applies the GoogleTest/Bazel sharding variables (TEST_TOTAL_SHARDS and
 * TEST_SHARD_INDEX, or GTEST_*) unless --mproc-shard was given.  total and
 * index may be NULL.  Returns 0 or -EINVAL with a message in err.
 */
int crmpi_options_shard_env(struct crmpi_options *opts, const char *total, const char *index,
        char *err, size_t errlen);

/*
 * Applies CRITERION_MPROC_RETRIES (env, may be NULL) unless --mproc-retries
 * was given.  Returns 0, or -EINVAL with a message in err.
 */
int crmpi_options_retries_env(struct crmpi_options *opts, const char *env, char *err, size_t errlen);

/* Whether a listen URL is reachable only from this machine (ipc://, 127.x, ::1). */
int crmpi_options_url_is_loopback(const char *url);

/*
 * A token-less listener on an address others can reach is a usage error,
 * told before any test runs (exit CRMPI_EXIT_USAGE).  env_token is
 * CRITERION_MPROC_TOKEN (may be NULL).  Returns 0, or -EINVAL with a one-line
 * message in err.
 */
int crmpi_options_check_listen(const struct crmpi_options *opts, const char *env_token,
        char *err, size_t errlen);

/* Prints the plugin's part of --help. */
void crmpi_options_usage(FILE *f);

#endif /* !CRMPI_OPTIONS_H_ */
