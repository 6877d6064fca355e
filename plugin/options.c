#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "options.h"

static int opts_fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int opts_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Strict unsigned decimal: no sign, no spaces, no trailing junk. */
static int opts_parse_uint(const char *s, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

int crmpi_options_parse_workers(const char *spec, long ncpu, unsigned *out,
        int *capped, char *err, size_t errlen)
{
    unsigned long n;
    *capped = 0;
    if (ncpu < 1)
        ncpu = 1;

    if (!spec || !*spec)
        return opts_fail(err, errlen, "--mproc needs a value: N, auto, auto*K or auto/K");

    if (!strncmp(spec, "auto", 4)) {
        const char *rest = spec + 4;
        unsigned long k = 1;
        if (*rest && (*rest != '*' && *rest != '/'))
            return opts_fail(err, errlen, "--mproc=%s: expected auto, auto*K or auto/K", spec);
        if (*rest && (opts_parse_uint(rest + 1, &k) || k == 0))
            return opts_fail(err, errlen, "--mproc=%s: K must be a positive integer", spec);
        if (*rest == '*')
            n = k > ULONG_MAX / (unsigned long) ncpu ? ULONG_MAX : (unsigned long) ncpu * k;
        else if (*rest == '/')
            n = (unsigned long) ncpu / k ? (unsigned long) ncpu / k : 1;
        else
            n = (unsigned long) ncpu;
    } else if (opts_parse_uint(spec, &n)) {
        return opts_fail(err, errlen, "--mproc=%s: not a worker count (use N, auto, auto*K or auto/K)", spec);
    } else if (n == 0) {
        return opts_fail(err, errlen, "--mproc=0: at least one worker is needed");
    }

    if (n > CRMPI_MAX_WORKERS) {
        n = CRMPI_MAX_WORKERS;
        *capped = 1;
    }
    *out = (unsigned) n;
    return 0;
}

enum opts_arg { OPTS_ARG_NONE, OPTS_ARG_REQUIRED, OPTS_ARG_OPTIONAL };

struct opts_state {
    struct crmpi_options *opts;
    const char *workers_spec;
    long ncpu;
    char *err;
    size_t errlen;
};

typedef int (*opts_handler)(struct opts_state *st, const char *value);

static int opts_on_mproc(struct opts_state *st, const char *value)
{
    st->workers_spec = value;
    return 0;
}

static int opts_on_verbose(struct opts_state *st, const char *value)
{
    unsigned long v = 1;
    if (value && opts_parse_uint(value, &v))
        return opts_fail(st->err, st->errlen, "--mproc-verbose=%s: expected a level (0-3)", value);
    st->opts->verbose = v > 3 ? 3 : (int) v;
    return 0;
}

static int opts_on_max_restarts(struct opts_state *st, const char *value)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || v > 100000)
        return opts_fail(st->err, st->errlen, "--mproc-max-restarts=%s: expected a count", value);
    st->opts->max_restarts = (unsigned) v;
    return 0;
}

static int opts_on_durations(struct opts_state *st, const char *value)
{
    if (!*value)
        return opts_fail(st->err, st->errlen, "--mproc-durations needs a path (or \"none\")");
    st->opts->durations = value;
    return 0;
}

static int opts_on_slowest(struct opts_state *st, const char *value)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || v > 1000000)
        return opts_fail(st->err, st->errlen, "--mproc-slowest=%s: expected a count", value);
    st->opts->slowest = (unsigned) v;
    return 0;
}

static int opts_on_recap(struct opts_state *st, const char *value)
{
    if (strcmp(value, "on") && strcmp(value, "off"))
        return opts_fail(st->err, st->errlen, "--mproc-recap=%s: expected on or off", value);
    st->opts->no_recap = !strcmp(value, "off");
    return 0;
}

int crmpi_options_parse_shard(const char *spec, unsigned *index, unsigned *count,
        char *err, size_t errlen)
{
    unsigned long i, n;
    const char *slash = spec ? strchr(spec, '/') : NULL;
    char head[24];
    if (!slash || (size_t) (slash - spec) >= sizeof(head))
        return opts_fail(err, errlen, "--mproc-shard=%s: expected I/N", spec ? spec : "");
    memcpy(head, spec, (size_t) (slash - spec));
    head[slash - spec] = '\0';
    if (opts_parse_uint(head, &i) || opts_parse_uint(slash + 1, &n) || n == 0 || n > 1000000
            || i >= n)
        return opts_fail(err, errlen, "--mproc-shard=%s: expected I/N with 0 <= I < N", spec);
    *index = (unsigned) i;
    *count = (unsigned) n;
    return 0;
}

int crmpi_options_shard_env(struct crmpi_options *opts, const char *total, const char *index,
        char *err, size_t errlen)
{
    if (opts->shard_count || !total)
        return 0;
    unsigned long n, i;
    if (opts_parse_uint(total, &n) || n == 0 || n > 1000000)
        return opts_fail(err, errlen, "TEST_TOTAL_SHARDS=%s: expected a positive count", total);
    if (!index || opts_parse_uint(index, &i) || i >= n)
        return opts_fail(err, errlen, "TEST_SHARD_INDEX=%s: expected 0 <= index < %lu",
                index ? index : "(unset)", n);
    opts->shard_index = (unsigned) i;
    opts->shard_count = (unsigned) n;
    return 0;
}

static int opts_on_shard(struct opts_state *st, const char *value)
{
    return crmpi_options_parse_shard(value, &st->opts->shard_index, &st->opts->shard_count,
            st->err, st->errlen);
}

static int opts_on_listen(struct opts_state *st, const char *value)
{
    if (strncmp(value, "tcp://", 6) && strncmp(value, "tls+tcp://", 10) && strncmp(value, "ipc://", 6))
        return opts_fail(st->err, st->errlen, "--mproc-listen=%s: expected tcp://HOST:PORT, "
                "tls+tcp://HOST:PORT or ipc://PATH", value);
    st->opts->listen = value;
    return 0;
}

static int opts_on_connect(struct opts_state *st, const char *value)
{
    if (strncmp(value, "tcp://", 6) && strncmp(value, "tls+tcp://", 10) && strncmp(value, "ipc://", 6))
        return opts_fail(st->err, st->errlen, "--mproc-connect=%s: expected tcp://HOST:PORT, "
                "tls+tcp://HOST:PORT or ipc://PATH", value);
    st->opts->connect = value;
    return 0;
}

static int opts_on_connect_timeout(struct opts_state *st, const char *value)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || v > 86400)
        return opts_fail(st->err, st->errlen, "--mproc-connect-timeout=%s: expected seconds", value);
    st->opts->connect_timeout = (unsigned) v;
    return 0;
}

static int opts_on_wait_workers(struct opts_state *st, const char *value)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || v > 86400)
        return opts_fail(st->err, st->errlen, "--mproc-wait-workers=%s: expected seconds "
                "(0: wait for ever)", value);
    st->opts->wait_workers = (unsigned) v;
    return 0;
}

static int opts_on_slow(struct opts_state *st, const char *value)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || v > 86400)
        return opts_fail(st->err, st->errlen, "--mproc-slow=%s: expected seconds (0: off)", value);
    st->opts->slow = (unsigned) v;
    return 0;
}

int crmpi_options_parse_progress(const char *value, enum crmpi_progress_mode *mode)
{
    if (!strcmp(value, "auto"))
        *mode = CRMPI_PROGRESS_AUTO;
    else if (!strcmp(value, "bar"))
        *mode = CRMPI_PROGRESS_BAR;
    else if (!strcmp(value, "none"))
        *mode = CRMPI_PROGRESS_NONE;
    else
        return -EINVAL;
    return 0;
}

static int opts_on_progress(struct opts_state *st, const char *value)
{
    if (crmpi_options_parse_progress(value, &st->opts->progress))
        return opts_fail(st->err, st->errlen, "--mproc-progress=%s: expected auto, bar or none",
                value);
    return 0;
}

static int opts_on_heartbeat(struct opts_state *st, const char *value)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || (v && v < 3) || v > 86400)
        return opts_fail(st->err, st->errlen, "--mproc-heartbeat=%s: expected 0 (off) or "
                "3 to 86400 seconds", value);
    st->opts->heartbeat = (unsigned) v;
    return 0;
}

/* More than this is no longer a retry: a broken test would keep a run going. */
#define OPTS_MAX_RETRIES 100

static int opts_parse_retries(const char *value, unsigned *out, const char *what, char *err,
        size_t errlen)
{
    unsigned long v;
    if (opts_parse_uint(value, &v) || v > OPTS_MAX_RETRIES)
        return opts_fail(err, errlen, "%s=%s: expected a count of retries (0 to %d)", what,
                value ? value : "", OPTS_MAX_RETRIES);
    *out = (unsigned) v;
    return 0;
}

static int opts_on_retries(struct opts_state *st, const char *value)
{
    st->opts->retries_set = 1;
    return opts_parse_retries(value, &st->opts->retries, "--mproc-retries", st->err, st->errlen);
}

int crmpi_options_retries_env(struct crmpi_options *opts, const char *env, char *err, size_t errlen)
{
    if (opts->retries_set || !env)
        return 0;
    return opts_parse_retries(env, &opts->retries, "CRITERION_MPROC_RETRIES", err, errlen);
}

static int opts_on_flaky_fails(struct opts_state *st, const char *value)
{
    (void) value;
    st->opts->flaky_fails = 1;
    return 0;
}

static int opts_on_annotations(struct opts_state *st, const char *value)
{
    static const char *const modes[] = { "auto", "on", "off" };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); ++i) {
        if (!strcmp(value, modes[i])) {
            st->opts->annotations = modes[i];
            return 0;
        }
    }
    return opts_fail(st->err, st->errlen, "--mproc-annotations=%s: expected auto, on or off", value);
}

static int opts_on_rerun_failed(struct opts_state *st, const char *value)
{
    (void) value;
    st->opts->rerun_failed = 1;
    return 0;
}

static int opts_on_isolation(struct opts_state *st, const char *value)
{
    if (!strcmp(value, "fork"))
        st->opts->fork_isolation = 1;
    else if (!strcmp(value, "exec"))
        st->opts->fork_isolation = 0;
    else
        return opts_fail(st->err, st->errlen, "--mproc-isolation=%s: expected fork or exec", value);
    return 0;
}

static int opts_on_keep_tmp(struct opts_state *st, const char *value)
{
    static const char *const names[] = { [CRMPI_KEEP_TMP_FAILED] = "failed",
        [CRMPI_KEEP_TMP_ALWAYS] = "always", [CRMPI_KEEP_TMP_NEVER] = "never" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        if (!strcmp(value, names[i])) {
            st->opts->keep_tmp = (enum crmpi_keep_tmp) i;
            return 0;
        }
    }
    return opts_fail(st->err, st->errlen, "--mproc-keep-tmp=%s: expected failed, always or never",
            value);
}

static int opts_on_leaks(struct opts_state *st, const char *value)
{
    static const char *const names[] = { [CRMPI_LEAKS_WARN] = "warn",
        [CRMPI_LEAKS_FAIL] = "fail", [CRMPI_LEAKS_IGNORE] = "ignore" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        if (!strcmp(value, names[i])) {
            st->opts->leaks = (enum crmpi_leaks_policy) i;
            return 0;
        }
    }
    return opts_fail(st->err, st->errlen, "--mproc-leaks=%s: expected warn, fail or ignore", value);
}

static int opts_on_artifacts_max(struct opts_state *st, const char *value)
{
    if (crmpi_artifacts_parse_size(value, &st->opts->artifacts_max))
        return opts_fail(st->err, st->errlen, "--mproc-artifacts-max=%s: expected a size "
                "(bytes, or with a K, M or G suffix)", value);
    return 0;
}

#define OPTS_PATH_HANDLER(field, name)                                         \
    static int opts_on_##field(struct opts_state *st, const char *value)       \
    {                                                                          \
        if (!*value)                                                           \
            return opts_fail(st->err, st->errlen, "--" name " needs a path");  \
        st->opts->field = value;                                               \
        return 0;                                                              \
    }
OPTS_PATH_HANDLER(token_file, "mproc-token-file")
OPTS_PATH_HANDLER(tls_cert, "mproc-tls-cert")
OPTS_PATH_HANDLER(tls_key, "mproc-tls-key")
OPTS_PATH_HANDLER(tls_ca, "mproc-tls-ca")
OPTS_PATH_HANDLER(junit, "mproc-junit")
OPTS_PATH_HANDLER(artifacts, "mproc-artifacts")

static const struct opts_def {
    const char *name;
    enum opts_arg arg;
    opts_handler handler;
    const char *help;
} opts_table[] = {
    { "mproc", OPTS_ARG_REQUIRED, opts_on_mproc,
      "--mproc=N|auto|auto*K|auto/K: run the tests on N worker processes" },
    { "mproc-verbose", OPTS_ARG_OPTIONAL, opts_on_verbose,
      "--mproc-verbose[=L]: the plugin's own diagnostics on stderr (1 by default)" },
    { "mproc-max-restarts", OPTS_ARG_REQUIRED, opts_on_max_restarts,
      "--mproc-max-restarts=N: replace at most N dead workers (default 8)" },
    { "mproc-durations", OPTS_ARG_REQUIRED, opts_on_durations,
      "--mproc-durations=PATH|none: durations database (default .criterion-mproc/<binary>.durations;\n"
      "        env CRITERION_MPROC_DURATIONS)" },
    { "mproc-slowest", OPTS_ARG_REQUIRED, opts_on_slowest,
      "--mproc-slowest=K: print the K slowest tests at the end" },
    { "mproc-recap", OPTS_ARG_REQUIRED, opts_on_recap,
      "--mproc-recap=on|off: after the Synthesis, list the tests that failed, crashed or\n"
      "        timed out, and the efficiency of a run over 10 s (default on)" },
    { "mproc-shard", OPTS_ARG_REQUIRED, opts_on_shard,
      "--mproc-shard=I/N: run only shard I of N (also TEST_TOTAL_SHARDS/TEST_SHARD_INDEX,\n"
      "        GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX)" },
    { "mproc-listen", OPTS_ARG_REQUIRED, opts_on_listen,
      "--mproc-listen=URL: also accept remote workers on URL (tcp:// or tls+tcp://);\n"
      "        --mproc=0 then runs no local worker" },
    { "mproc-connect", OPTS_ARG_REQUIRED, opts_on_connect,
      "--mproc-connect=URL: start --mproc workers that pull from the coordinator at URL" },
    { "mproc-connect-timeout", OPTS_ARG_REQUIRED, opts_on_connect_timeout,
      "--mproc-connect-timeout=S: how long workers retry their coordinator (default 30)" },
    { "mproc-wait-workers", OPTS_ARG_REQUIRED, opts_on_wait_workers,
      "--mproc-wait-workers=S: with --mproc-listen, give up when no worker has come after S\n"
      "        seconds (default 0: wait, saying so every few seconds)" },
    { "mproc-isolation", OPTS_ARG_REQUIRED, opts_on_isolation,
      "--mproc-isolation=exec|fork: a process per test by fork + exec (Criterion's, default)\n"
      "        or by fork only (much cheaper; see the README)" },
    { "mproc-keep-tmp", OPTS_ARG_REQUIRED, opts_on_keep_tmp,
      "--mproc-keep-tmp=failed|always|never: which tests keep their CRITERION_MPROC_TMPDIR\n"
      "        (default failed; a kept one is named in the test's [KEPT] line)" },
    { "mproc-leaks", OPTS_ARG_REQUIRED, opts_on_leaks,
      "--mproc-leaks=warn|fail|ignore: a test that leaves processes running gets a [LEAK]\n"
      "        line (warn, the default), fails, or nothing; the processes are ended" },
    { "mproc-heartbeat", OPTS_ARG_REQUIRED, opts_on_heartbeat,
      "--mproc-heartbeat=S: a worker silent for S seconds is dead (default 20, 0: off)" },
    { "mproc-slow", OPTS_ARG_REQUIRED, opts_on_slow,
      "--mproc-slow=S: say \"[SLOW] suite::test running for Ns\" at S seconds and each multiple\n"
      "        (default 60, 0: off)" },
    { "mproc-progress", OPTS_ARG_REQUIRED, opts_on_progress,
      "--mproc-progress=auto|bar|none: a live status line on stderr (auto: when it is a\n"
      "        terminal and TERM is not dumb; bar: on any terminal)" },
    { "mproc-token-file", OPTS_ARG_REQUIRED, opts_on_token_file,
      "--mproc-token-file=PATH: shared token for remote workers (or CRITERION_MPROC_TOKEN)" },
    { "mproc-tls-cert", OPTS_ARG_REQUIRED, opts_on_tls_cert,
      "--mproc-tls-cert=PEM, --mproc-tls-key=PEM: the coordinator's TLS identity" },
    { "mproc-tls-key", OPTS_ARG_REQUIRED, opts_on_tls_key, NULL },
    { "mproc-tls-ca", OPTS_ARG_REQUIRED, opts_on_tls_ca,
      "--mproc-tls-ca=PEM: CA that workers check the coordinator's certificate against" },
    { "mproc-retries", OPTS_ARG_REQUIRED, opts_on_retries,
      "--mproc-retries=N: run a failed, crashed or timed-out test again, up to N more tries;\n"
      "        one that passes on a later try is FLAKY and passes (env CRITERION_MPROC_RETRIES)" },
    { "mproc-flaky-fails", OPTS_ARG_NONE, opts_on_flaky_fails,
      "--mproc-flaky-fails: a FLAKY test fails the run" },
    { "mproc-annotations", OPTS_ARG_REQUIRED, opts_on_annotations,
      "--mproc-annotations=auto|on|off: GitHub ::error annotations for failed assertions\n"
      "        (auto, the default: when GITHUB_ACTIONS=true)" },
    { "mproc-rerun-failed", OPTS_ARG_NONE, opts_on_rerun_failed,
      "--mproc-rerun-failed: run only the tests that failed, crashed or timed out in the last\n"
      "        recorded run of this binary (all of them when none is recorded)" },
    { "mproc-junit", OPTS_ARG_REQUIRED, opts_on_junit,
      "--mproc-junit=FILE: also write a JUnit XML report for CI (env CRITERION_MPROC_JUNIT)" },
    { "mproc-artifacts", OPTS_ARG_REQUIRED, opts_on_artifacts,
      "--mproc-artifacts=DIR: collect what each test leaves in its CRITERION_MPROC_ARTIFACTS\n"
      "        into DIR/<suite>/<test>/, from every worker (env CRITERION_MPROC_ARTIFACTS_DIR)" },
    { "mproc-artifacts-max", OPTS_ARG_REQUIRED, opts_on_artifacts_max,
      "--mproc-artifacts-max=SIZE: at most SIZE (K, M, G suffixes) collected per test\n"
      "        (default 64M; what does not fit is left out, said in an [ARTIFACTS] line)" },
};

static const struct opts_def *opts_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(opts_table) / sizeof(opts_table[0]); ++i)
        if (strlen(opts_table[i].name) == len && !strncmp(opts_table[i].name, name, len))
            return &opts_table[i];
    return NULL;
}

/* Criterion's short options that take an argument ("hvlfj:SqO:wt:"). */
static int opts_short_takes_arg(char c)
{
    return c == 'j' || c == 'O' || c == 't';
}

/*
 * Criterion options that cannot work with workers.  Returns 0, or -EINVAL
 * with a message naming the option.
 */
static int opts_refuse_incompatible(int argc, char **argv, const char *env_jobs,
        char *err, size_t errlen)
{
    static const struct { const char *name; const char *why; } refused[] = {
        { "jobs", "-j/--jobs cannot be combined with --mproc: --mproc=N sets the parallelism" },
        { "debug", "--debug cannot be combined with --mproc: debug a test without the plugin" },
        { "debug-transport", "--debug-transport cannot be combined with --mproc" },
        { "wait", "--wait cannot be combined with --mproc: workers are started by the plugin" },
    };

    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (!strncmp(a, "--", 2)) {
            size_t len = strcspn(a + 2, "=");
            for (size_t r = 0; r < sizeof(refused) / sizeof(refused[0]); ++r)
                if (strlen(refused[r].name) == len && !strncmp(a + 2, refused[r].name, len))
                    return opts_fail(err, errlen, "%s", refused[r].why);
            continue;
        }
        if (a[0] != '-' || !a[1])
            continue;
        for (const char *c = a + 1; *c; ++c) {
            if (*c == 'j')
                return opts_fail(err, errlen, "%s", refused[0].why);
            if (*c == 'w')
                return opts_fail(err, errlen, "%s", refused[3].why);
            if (opts_short_takes_arg(*c)) {
                if (!c[1])
                    ++i;    /* the argument is the next word */
                break;
            }
        }
    }
    if (env_jobs && *env_jobs)
        return opts_fail(err, errlen, "CRITERION_JOBS=%s cannot be combined with --mproc: unset it", env_jobs);
    return 0;
}

int crmpi_options_parse(int argc, char **argv, const char *env_mproc,
        const char *env_jobs, long ncpu, struct crmpi_options *opts,
        int *out_argc, char ***out_argv, char *err, size_t errlen)
{
    *opts = (struct crmpi_options) {
        .max_restarts = CRMPI_DEFAULT_MAX_RESTARTS,
        .connect_timeout = CRMPI_DEFAULT_CONNECT_TIMEOUT,
        .heartbeat = CRMPI_DEFAULT_HEARTBEAT,
        .slow = CRMPI_DEFAULT_SLOW,
        .artifacts_max = CRMPI_ARTIFACTS_DEFAULT_MAX,
    };
    struct opts_state st = { .opts = opts, .ncpu = ncpu, .err = err, .errlen = errlen };
    int rc;

    char **kept = calloc((size_t) argc + 1, sizeof(*kept));
    if (!kept)
        return opts_fail(err, errlen, "out of memory");
    int nkept = 0;
    int end_of_options = 0;

    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        if (i == 0 || end_of_options || strncmp(a, "--mproc", 7)) {
            if (i > 0 && !strcmp(a, "--"))
                end_of_options = 1;
            if (i > 0 && !end_of_options && (!strcmp(a, "-h") || !strcmp(a, "--help")))
                opts->help = 1;
            kept[nkept++] = argv[i];
            continue;
        }
        size_t len = strcspn(a + 2, "=");
        const struct opts_def *def = opts_find(a + 2, len);
        if (!def) {
            rc = opts_fail(err, errlen, "unknown option %.*s (see --help)", (int) (len + 2), a);
            goto err_free;
        }
        const char *value = a[2 + len] == '=' ? a + 3 + len : NULL;
        if (def->arg == OPTS_ARG_NONE && value) {
            rc = opts_fail(err, errlen, "--%s takes no value", def->name);
            goto err_free;
        }
        if (def->arg == OPTS_ARG_REQUIRED && !value) {
            if (i + 1 >= argc) {
                rc = opts_fail(err, errlen, "--%s needs a value", def->name);
                goto err_free;
            }
            value = argv[++i];
        }
        rc = def->handler(&st, value);
        if (rc)
            goto err_free;
    }
    kept[nkept] = NULL;

    if (!st.workers_spec && env_mproc) {
        if (!*env_mproc) {
            rc = opts_fail(err, errlen, "CRITERION_MPROC is set but empty (use N, auto, auto*K or auto/K)");
            goto err_free;
        }
        st.workers_spec = env_mproc;
    }

    if (opts->listen && opts->connect) {
        rc = opts_fail(err, errlen, "--mproc-listen and --mproc-connect exclude each other");
        goto err_free;
    }
    if ((opts->listen || opts->connect) && !st.workers_spec)
        st.workers_spec = opts->listen ? "0" : "auto";
    if (st.workers_spec && opts->listen && !strcmp(st.workers_spec, "0")) {
        /* A coordinator for remote workers only. */
        opts->enabled = 1;
        opts->workers = 0;
    } else if (st.workers_spec) {
        rc = crmpi_options_parse_workers(st.workers_spec, ncpu, &opts->workers,
                &opts->capped, err, errlen);
        if (rc) {
            if (st.workers_spec == env_mproc) {
                char inner[256];
                snprintf(inner, sizeof(inner), "%s", err);
                opts_fail(err, errlen, "CRITERION_MPROC: %s", inner);
            }
            goto err_free;
        }
        opts->enabled = 1;
    }
    if (opts->shard_count && !opts->enabled) {
        /* A shard alone runs its share through one worker. */
        opts->enabled = 1;
        opts->workers = 1;
    }
    if (opts->enabled) {
        rc = opts_refuse_incompatible(nkept, kept, env_jobs, err, errlen);
        if (rc)
            goto err_free;
    }

    *out_argc = nkept;
    *out_argv = kept;
    return 0;

err_free:
    free(kept);
    return rc;
}

void crmpi_options_usage(FILE *f)
{
    fprintf(f, "criterion-mproc options (also CRITERION_MPROC=N in the environment):\n");
    for (size_t i = 0; i < sizeof(opts_table) / sizeof(opts_table[0]); ++i)
        if (opts_table[i].help)
            fprintf(f, "    %s\n", opts_table[i].help);
}

int crmpi_options_url_is_loopback(const char *url)
{
    if (!strncmp(url, "ipc://", 6))
        return 1;
    const char *h = strstr(url, "://");
    if (!h)
        return 0;
    h += 3;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost:", 10) || !strncmp(h, "[::1]:", 6);
}

int crmpi_options_check_listen(const struct crmpi_options *opts, const char *env_token,
        char *err, size_t errlen)
{
    if (!opts->enabled || !opts->listen || opts->token_file || (env_token && *env_token)
            || crmpi_options_url_is_loopback(opts->listen))
        return 0;
    return opts_fail(err, errlen, "--mproc-listen=%s: refusing to listen without a token: set "
            "CRITERION_MPROC_TOKEN or --mproc-token-file", opts->listen);
}
