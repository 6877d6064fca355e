/*
 * libFuzzer target for the option parser (plugin/options.h):
 * crmpi_options_parse(), crmpi_options_parse_workers(),
 * crmpi_options_parse_shard() and crmpi_options_shard_env().
 *
 * Input layout (gen_corpus.c writes seeds in it):
 *   byte 0  which variables are set: bit 0 CRITERION_MPROC, bit 1
 *           CRITERION_JOBS, bit 2 TEST_TOTAL_SHARDS, bit 3 TEST_SHARD_INDEX
 *   byte 1  index into fuzz_ncpu[] (the number of online CPUs)
 *   byte 2  size of the error buffer, minus one
 *   rest    words separated by NUL bytes: the value of each variable set, in
 *           the order above, then the arguments after argv[0].
 *
 * Every word lives in its own allocation of exactly its size, so reading
 * past a terminator is caught by ASan.  The results are checked against
 * what options.h promises; a violation aborts.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_require(cond)                                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_options: %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

static const long fuzz_ncpu[] = {
    1, 2, 3, 4, 8, 16, 64, 511, 512, 513, 4096, 0, -1, LONG_MAX, LONG_MIN, 7,
};

struct fuzz_words {
    char **v;       /* n words, each malloc'd, then a NULL */
    size_t n;
};

static void fuzz_words_free(struct fuzz_words *w)
{
    for (size_t i = 0; i < w->n; ++i)
        free(w->v[i]);
    free(w->v);
}

/* Splits data on NUL bytes; a trailing NUL does not start an empty word. */
static int fuzz_words_split(const uint8_t *data, size_t size, struct fuzz_words *w)
{
    size_t cap = 1;
    for (size_t i = 0; i < size; ++i)
        cap += data[i] == 0;
    *w = (struct fuzz_words) { .v = calloc(cap + 1, sizeof(*w->v)) };
    if (!w->v)
        return -ENOMEM;
    size_t start = 0;
    while (start < size) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        size_t len = nul ? (size_t) (nul - (data + start)) : size - start;
        char *s = malloc(len + 1);
        if (!s) {
            fuzz_words_free(w);
            return -ENOMEM;
        }
        memcpy(s, data + start, len);
        s[len] = '\0';
        w->v[w->n++] = s;
        start += len + 1;
    }
    return 0;
}

static void fuzz_check_err(const char *err, size_t errlen)
{
    fuzz_require(memchr(err, '\0', errlen) != NULL);
}

static void fuzz_workers(const char *spec, long ncpu, char *err, size_t errlen)
{
    unsigned n = 0xdeadbeefu;
    int capped = -1;
    int rc = crmpi_options_parse_workers(spec, ncpu, &n, &capped, err, errlen);
    if (rc) {
        fuzz_require(rc == -EINVAL);
        fuzz_check_err(err, errlen);
        return;
    }
    fuzz_require(n >= 1 && n <= CRMPI_MAX_WORKERS);
    fuzz_require(capped == 0 || (capped == 1 && n == CRMPI_MAX_WORKERS));
}

static void fuzz_shard(const char *spec, char *err, size_t errlen)
{
    unsigned index = 0xdeadbeefu, count = 0xdeadbeefu;
    int rc = crmpi_options_parse_shard(spec, &index, &count, err, errlen);
    if (rc) {
        fuzz_require(rc == -EINVAL);
        fuzz_check_err(err, errlen);
        return;
    }
    fuzz_require(index < count);
}

/* A borrowed option value must point into one of the argument words. */
static int fuzz_borrowed(const char *value, int argc, char **argv)
{
    if (!value)
        return 1;
    for (int i = 1; i < argc; ++i)
        if (value >= argv[i] && value <= argv[i] + strlen(argv[i]))
            return 1;
    return 0;
}

static int fuzz_url(const char *url)
{
    return !url || !strncmp(url, "tcp://", 6) || !strncmp(url, "tls+tcp://", 10)
        || !strncmp(url, "ipc://", 6);
}

static void fuzz_check_opts(const struct crmpi_options *o, int argc, char **argv,
        const char *env_mproc, const char *env_jobs)
{
    fuzz_require(o->verbose >= 0 && o->verbose <= 3);
    fuzz_require(o->help == 0 || o->help == 1);
    fuzz_require(!o->shard_count ? !o->shard_index : o->shard_index < o->shard_count);
    fuzz_require(!(o->listen && o->connect));
    fuzz_require(fuzz_url(o->listen) && fuzz_url(o->connect));
    fuzz_require(fuzz_borrowed(o->durations, argc, argv));
    fuzz_require(fuzz_borrowed(o->listen, argc, argv));
    fuzz_require(fuzz_borrowed(o->connect, argc, argv));
    fuzz_require(fuzz_borrowed(o->token_file, argc, argv));
    fuzz_require(fuzz_borrowed(o->tls_cert, argc, argv));
    fuzz_require(fuzz_borrowed(o->tls_key, argc, argv));
    fuzz_require(fuzz_borrowed(o->tls_ca, argc, argv));
    if (o->enabled) {
        /* Workers 0 only for a coordinator of remote workers. */
        fuzz_require((o->workers >= 1 && o->workers <= CRMPI_MAX_WORKERS)
                || (o->workers == 0 && o->listen));
        fuzz_require(!o->capped || o->workers == CRMPI_MAX_WORKERS);
        fuzz_require(!env_jobs || !*env_jobs);
    } else {
        fuzz_require(o->workers == 0 && !o->capped);
        fuzz_require(!env_mproc && !o->listen && !o->connect && !o->shard_count);
    }
}

static void fuzz_parse(int argc, char **argv, const char *env_mproc, const char *env_jobs,
        const char *env_shards, const char *env_shard_index, long ncpu, char *err,
        size_t errlen)
{
    struct crmpi_options opts;
    int out_argc = -1;
    char **out_argv = NULL;
    int rc = crmpi_options_parse(argc, argv, env_mproc, env_jobs, ncpu, &opts,
            &out_argc, &out_argv, err, errlen);
    if (rc) {
        fuzz_require(rc == -EINVAL);
        fuzz_require(out_argv == NULL);
        fuzz_check_err(err, errlen);
        return;
    }

    fuzz_require(out_argv != NULL);
    fuzz_require(out_argc >= 1 && out_argc <= argc);
    fuzz_require(out_argv[out_argc] == NULL);
    fuzz_require(out_argv[0] == argv[0]);
    /* The kept words are argv's own strings, in argv's order. */
    int j = 0;
    for (int i = 0; i < out_argc; ++i) {
        while (j < argc && argv[j] != out_argv[i])
            ++j;
        fuzz_require(j < argc);
        ++j;
    }
    fuzz_check_opts(&opts, argc, argv, env_mproc, env_jobs);

    struct crmpi_options before = opts;
    rc = crmpi_options_shard_env(&opts, env_shards, env_shard_index, err, errlen);
    if (rc) {
        fuzz_require(rc == -EINVAL);
        fuzz_check_err(err, errlen);
    } else if (before.shard_count || !env_shards) {
        fuzz_require(opts.shard_count == before.shard_count);
        fuzz_require(opts.shard_index == before.shard_index);
    } else {
        fuzz_require(opts.shard_index < opts.shard_count);
    }
    free(out_argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    unsigned flags = data[0];
    long ncpu = fuzz_ncpu[data[1] % (sizeof(fuzz_ncpu) / sizeof(fuzz_ncpu[0]))];
    size_t errlen = 1 + (size_t) data[2];

    struct fuzz_words w;
    if (fuzz_words_split(data + 3, size - 3, &w))
        return 0;
    char *err = malloc(errlen);
    if (!err) {
        fuzz_words_free(&w);
        return 0;
    }

    /* The variables that are set take the first words, in flag order. */
    const char *env[4] = { NULL, NULL, NULL, NULL };
    size_t next = 0;
    for (unsigned b = 0; b < 4; ++b)
        if ((flags & (1u << b)) && next < w.n)
            env[b] = w.v[next++];

    /* argv[0] is the test binary; the words left follow it. */
    size_t nargs = w.n - next;
    char **argv = calloc(nargs + 2, sizeof(*argv));
    if (argv && nargs < INT_MAX) {
        static char prog[] = "test-binary";
        argv[0] = prog;
        memcpy(argv + 1, w.v + next, nargs * sizeof(*argv));
        fuzz_parse((int) nargs + 1, argv, env[0], env[1], env[2], env[3], ncpu, err, errlen);
        for (size_t i = 0; i < w.n; ++i) {
            fuzz_workers(w.v[i], ncpu, err, errlen);
            fuzz_shard(w.v[i], err, errlen);
        }
        fuzz_workers(NULL, ncpu, err, errlen);
        fuzz_shard(NULL, err, errlen);
    }

    free(argv);
    free(err);
    fuzz_words_free(&w);
    return 0;
}
