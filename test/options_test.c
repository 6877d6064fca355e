/*
 * Unit tests for plugin/options.c: the worker-count grammar and the
 * extraction of the plugin's options from argv and the environment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "options.h"

/* ---- helpers ---------------------------------------------------------------- */

#define T_ARGV(...) ((char *[]) { __VA_ARGS__, NULL })
#define T_ARGC(...) ((int) (sizeof((char *[]) { __VA_ARGS__ }) / sizeof(char *)))

struct t_workers {
    int rc;
    unsigned n;
    int capped;
    char err[256];
};

static struct t_workers t_workers(const char *spec, long ncpu)
{
    struct t_workers w = { .n = 12345u, .capped = -1 };
    w.rc = crmpi_options_parse_workers(spec, ncpu, &w.n, &w.capped, w.err, sizeof(w.err));
    return w;
}

#define T_WORKERS_OK(spec, ncpu, expected, expected_capped)                    \
    do {                                                                       \
        struct t_workers w_ = t_workers((spec), (ncpu));                       \
        cr_assert_eq(w_.rc, 0, "%s (ncpu %ld): rc %d, err \"%s\"",             \
                (spec), (long) (ncpu), w_.rc, w_.err);                         \
        cr_assert_eq(w_.n, (unsigned) (expected), "%s (ncpu %ld): %u workers, " \
                "expected %u", (spec), (long) (ncpu), w_.n, (unsigned) (expected)); \
        cr_assert_eq(w_.capped, (expected_capped), "%s: capped=%d",            \
                (spec), w_.capped);                                            \
    } while (0)

#define T_WORKERS_BAD(spec, ncpu)                                              \
    do {                                                                       \
        struct t_workers w_ = t_workers((spec), (ncpu));                       \
        cr_assert_eq(w_.rc, -EINVAL, "\"%s\" was accepted (rc %d, %u workers)", \
                (spec) ? (spec) : "(null)", w_.rc, w_.n);                      \
        cr_assert_neq(w_.err[0], '\0', "\"%s\": no error message",             \
                (spec) ? (spec) : "(null)");                                   \
        cr_assert_not_null(strstr(w_.err, "--mproc"),                          \
                "\"%s\": the message does not name --mproc: %s",               \
                (spec) ? (spec) : "(null)", w_.err);                           \
    } while (0)

struct t_parsed {
    int rc;
    struct crmpi_options opts;
    int argc;
    char **argv;
    char err[512];
};

static char *t_sentinel[1];

static void t_parse(struct t_parsed *p, int argc, char **argv, const char *env_mproc,
        const char *env_jobs, long ncpu)
{
    memset(p, 0, sizeof(*p));
    p->argc = -7;
    p->argv = t_sentinel;
    p->rc = crmpi_options_parse(argc, argv, env_mproc, env_jobs, ncpu, &p->opts,
            &p->argc, &p->argv, p->err, sizeof(p->err));
}

static void t_parsed_free(struct t_parsed *p)
{
    if (p->rc == 0 && p->argv != t_sentinel)
        free(p->argv);
}

/* Parses and expects success; the stripped argv must equal `expected`. */
#define T_PARSE_OK(p, env_mproc, env_jobs, ncpu, expected, ...)                 \
    do {                                                                       \
        char **in_ = T_ARGV(__VA_ARGS__);                                      \
        t_parse((p), T_ARGC(__VA_ARGS__), in_, (env_mproc), (env_jobs), (ncpu)); \
        cr_assert_eq((p)->rc, 0, "rc %d: %s", (p)->rc, (p)->err);               \
        t_assert_argv((p), in_, (expected));                                   \
    } while (0)

/* Parses and expects a refusal whose message contains `needle`. */
#define T_PARSE_BAD(env_mproc, env_jobs, needle, ...)                          \
    do {                                                                       \
        struct t_parsed p_;                                                    \
        t_parse(&p_, T_ARGC(__VA_ARGS__), T_ARGV(__VA_ARGS__), (env_mproc),     \
                (env_jobs), 8);                                                \
        cr_assert_eq(p_.rc, -EINVAL, "accepted (rc %d) but should be refused",  \
                p_.rc);                                                        \
        cr_assert_not_null(strstr(p_.err, (needle)),                           \
                "message \"%s\" does not contain \"%s\"", p_.err, (needle));   \
        cr_assert_null(strchr(p_.err, '\n'), "message is not one line: %s",   \
                p_.err);                                                       \
        cr_assert_eq(p_.argv, t_sentinel, "out_argv was written on error");    \
        cr_assert_eq(p_.argc, -7, "out_argc was written on error");            \
    } while (0)

/*
 * Checks that p->argv is exactly the words of `expected` (a NULL-terminated
 * list of indices into in), the same pointers, NULL-terminated.
 */
static void t_assert_argv(const struct t_parsed *p, char **in, const int *expected)
{
    int n = 0;
    while (expected[n] >= 0)
        ++n;
    cr_assert_eq(p->argc, n, "stripped argc %d, expected %d", p->argc, n);
    for (int i = 0; i < n; ++i)
        cr_assert_eq(p->argv[i], in[expected[i]], "argv[%d] is \"%s\", expected \"%s\"",
                i, p->argv[i] ? p->argv[i] : "(null)", in[expected[i]]);
    cr_assert_null(p->argv[n], "stripped argv is not NULL-terminated");
}

#define T_KEEP(...) ((const int[]) { __VA_ARGS__, -1 })

/* ---- crmpi_options_parse_workers ------------------------------------------- */

Test(workers, plain_counts)
{
    T_WORKERS_OK("1", 4, 1, 0);
    T_WORKERS_OK("2", 4, 2, 0);
    T_WORKERS_OK("17", 1, 17, 0);
    T_WORKERS_OK("007", 4, 7, 0);
}

Test(workers, count_does_not_depend_on_ncpu)
{
    T_WORKERS_OK("3", 1, 3, 0);
    T_WORKERS_OK("3", 64, 3, 0);
    T_WORKERS_OK("3", 0, 3, 0);
}

Test(workers, auto_is_ncpu)
{
    T_WORKERS_OK("auto", 1, 1, 0);
    T_WORKERS_OK("auto", 2, 2, 0);
    T_WORKERS_OK("auto", 12, 12, 0);
}

Test(workers, auto_with_unknown_ncpu_is_one)
{
    T_WORKERS_OK("auto", 0, 1, 0);
    T_WORKERS_OK("auto", -5, 1, 0);
    T_WORKERS_OK("auto*3", 0, 3, 0);
}

Test(workers, auto_times_k)
{
    T_WORKERS_OK("auto*1", 4, 4, 0);
    T_WORKERS_OK("auto*2", 4, 8, 0);
    T_WORKERS_OK("auto*3", 2, 6, 0);
}

Test(workers, auto_divided_by_k)
{
    T_WORKERS_OK("auto/1", 4, 4, 0);
    T_WORKERS_OK("auto/2", 4, 2, 0);
    T_WORKERS_OK("auto/3", 8, 2, 0);
}

Test(workers, auto_divided_never_below_one)
{
    T_WORKERS_OK("auto/2", 1, 1, 0);
    T_WORKERS_OK("auto/8", 4, 1, 0);
    T_WORKERS_OK("auto/1000000", 2, 1, 0);
}

Test(workers, cap_exact_limit_is_not_capped)
{
    char spec[32];
    snprintf(spec, sizeof(spec), "%u", CRMPI_MAX_WORKERS);
    T_WORKERS_OK(spec, 2, CRMPI_MAX_WORKERS, 0);
}

Test(workers, caps_large_counts)
{
    char spec[32];
    snprintf(spec, sizeof(spec), "%u", CRMPI_MAX_WORKERS + 1);
    T_WORKERS_OK(spec, 2, CRMPI_MAX_WORKERS, 1);
    T_WORKERS_OK("100000", 2, CRMPI_MAX_WORKERS, 1);
}

Test(workers, caps_instead_of_wrapping_at_32_bits)
{
    /* 2^32 + 1 and 2^32 + 2 would wrap to 1 and 2 in an unsigned. */
    T_WORKERS_OK("4294967297", 2, CRMPI_MAX_WORKERS, 1);
    T_WORKERS_OK("4294967298", 2, CRMPI_MAX_WORKERS, 1);
}

Test(workers, caps_auto_multiples_without_overflow)
{
    T_WORKERS_OK("auto*1000", 2, CRMPI_MAX_WORKERS, 1);
    T_WORKERS_OK("auto*18446744073709551615", 3, CRMPI_MAX_WORKERS, 1);
}

Test(workers, out_of_range_number_is_refused_or_capped)
{
    struct t_workers w = t_workers("99999999999999999999999999", 2);
    if (w.rc == 0) {
        cr_assert_eq(w.n, CRMPI_MAX_WORKERS);
        cr_assert_eq(w.capped, 1);
    } else {
        cr_assert_eq(w.rc, -EINVAL);
    }
}

Test(workers, zero_is_refused)
{
    T_WORKERS_BAD("0", 4);
    T_WORKERS_BAD("00", 4);
}

Test(workers, negative_is_refused)
{
    T_WORKERS_BAD("-1", 4);
    T_WORKERS_BAD("-0", 4);
    T_WORKERS_BAD("-4294967295", 4);
}

Test(workers, junk_is_refused)
{
    T_WORKERS_BAD("abc", 4);
    T_WORKERS_BAD("2x", 4);
    T_WORKERS_BAD("x2", 4);
    T_WORKERS_BAD("+2", 4);
    T_WORKERS_BAD(" 2", 4);
    T_WORKERS_BAD("2 ", 4);
    T_WORKERS_BAD("0x10", 4);
    T_WORKERS_BAD("1e3", 4);
    T_WORKERS_BAD("1.5", 4);
    T_WORKERS_BAD("2,3", 4);
}

Test(workers, empty_and_null_are_refused)
{
    T_WORKERS_BAD("", 4);
    T_WORKERS_BAD(NULL, 4);
}

Test(workers, bad_auto_forms_are_refused)
{
    T_WORKERS_BAD("auto*0", 4);
    T_WORKERS_BAD("auto/0", 4);
    T_WORKERS_BAD("auto*", 4);
    T_WORKERS_BAD("auto/", 4);
    T_WORKERS_BAD("auto*-1", 4);
    T_WORKERS_BAD("auto/-2", 4);
    T_WORKERS_BAD("auto*x", 4);
    T_WORKERS_BAD("auto*2x", 4);
    T_WORKERS_BAD("auto+1", 4);
    T_WORKERS_BAD("auto2", 4);
    T_WORKERS_BAD("autox", 4);
    T_WORKERS_BAD("auto**2", 4);
    T_WORKERS_BAD("auto*2*2", 4);
    T_WORKERS_BAD("aut", 4);
    T_WORKERS_BAD("2*auto", 4);
}

Test(workers, message_names_the_value)
{
    struct t_workers w = t_workers("banana", 4);
    cr_assert_eq(w.rc, -EINVAL);
    cr_assert_not_null(strstr(w.err, "banana"), "message: %s", w.err);
}

Test(workers, small_error_buffer_is_not_overrun)
{
    char buf[32];
    memset(buf, 'X', sizeof(buf));
    unsigned n = 0;
    int capped = 0;
    int rc = crmpi_options_parse_workers("a-rather-long-invalid-value", 4, &n, &capped, buf, 8);
    cr_assert_eq(rc, -EINVAL);
    cr_assert_lt(strnlen(buf, 8), 8, "not NUL-terminated within errlen");
    for (size_t i = 8; i < sizeof(buf); ++i)
        cr_assert_eq(buf[i], 'X', "byte %zu past errlen was written", i);
}

/* ---- crmpi_options_parse: the plugin's options ------------------------------- */

Test(parse, without_mproc_is_disabled_and_argv_untouched)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1, 2, 3), "prog", "--verbose", "-j2", "--tap=x");
    cr_assert_eq(p.opts.enabled, 0);
    cr_assert_eq(p.opts.help, 0);
    cr_assert_eq(p.opts.verbose, 0);
    cr_assert_eq(p.opts.max_restarts, CRMPI_DEFAULT_MAX_RESTARTS);
    t_parsed_free(&p);
}

Test(parse, equals_form)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=3");
    cr_assert_eq(p.opts.enabled, 1);
    cr_assert_eq(p.opts.workers, 3);
    cr_assert_eq(p.opts.capped, 0);
    t_parsed_free(&p);
}

Test(parse, separate_word_form)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 3), "prog", "--mproc", "5", "--verbose");
    cr_assert_eq(p.opts.enabled, 1);
    cr_assert_eq(p.opts.workers, 5);
    t_parsed_free(&p);
}

Test(parse, auto_forms)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 6, T_KEEP(0), "prog", "--mproc=auto");
    cr_assert_eq(p.opts.workers, 6);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 6, T_KEEP(0), "prog", "--mproc=auto*2");
    cr_assert_eq(p.opts.workers, 12);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 6, T_KEEP(0), "prog", "--mproc", "auto/3");
    cr_assert_eq(p.opts.workers, 2);
    t_parsed_free(&p);
}

Test(parse, cap_is_reported)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=100000");
    cr_assert_eq(p.opts.workers, CRMPI_MAX_WORKERS);
    cr_assert_eq(p.opts.capped, 1);
    t_parsed_free(&p);
}

Test(parse, other_arguments_keep_their_order_and_pointers)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1, 3, 4, 6, 7),
            "prog", "--verbose", "--mproc=2", "--filter", "s/*", "--mproc-verbose",
            "--tap=out.tap", "-S");
    cr_assert_eq(p.opts.workers, 2);
    cr_assert_eq(p.opts.verbose, 1);
    t_parsed_free(&p);
}

Test(parse, last_mproc_wins)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc", "3");
    cr_assert_eq(p.opts.workers, 3);
    t_parsed_free(&p);
}

Test(parse, argv0_is_never_an_option)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1), "--mproc=9", "-v");
    cr_assert_eq(p.opts.enabled, 0);
    t_parsed_free(&p);
}

Test(parse, empty_argv)
{
    char *argv[] = { NULL };
    struct t_parsed p;
    t_parse(&p, 0, argv, NULL, NULL, 4);
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.argc, 0);
    cr_assert_null(p.argv[0]);
    t_parsed_free(&p);
}

Test(parse, bad_values_are_refused)
{
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc=0");
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc=-1");
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc=abc");
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc=auto*0");
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc=");
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc", "zero");
}

Test(parse, keep_tmp)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2");
    cr_expect_eq(p.opts.keep_tmp, CRMPI_KEEP_TMP_FAILED, "the default is failed");
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-keep-tmp=always");
    cr_expect_eq(p.opts.keep_tmp, CRMPI_KEEP_TMP_ALWAYS);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-keep-tmp", "never");
    cr_expect_eq(p.opts.keep_tmp, CRMPI_KEEP_TMP_NEVER);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-keep-tmp=sometimes", "prog", "--mproc=2",
            "--mproc-keep-tmp=sometimes");
}

Test(parse, artifacts)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2");
    cr_expect_null(p.opts.artifacts, "nothing collected by default");
    cr_expect_eq(p.opts.artifacts_max, 64ull << 20, "the default cap is 64 MiB");
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-artifacts=out",
            "--mproc-artifacts-max", "5M");
    cr_expect_str_eq(p.opts.artifacts, "out");
    cr_expect_eq(p.opts.artifacts_max, 5ull << 20);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-artifacts-max=5X", "prog", "--mproc=2",
            "--mproc-artifacts-max=5X");
    T_PARSE_BAD(NULL, NULL, "--mproc-artifacts needs a path", "prog", "--mproc=2",
            "--mproc-artifacts=");
}

Test(parse, leaks)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2");
    cr_expect_eq(p.opts.leaks, CRMPI_LEAKS_WARN, "the default is warn");
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-leaks=fail");
    cr_expect_eq(p.opts.leaks, CRMPI_LEAKS_FAIL);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-leaks", "ignore");
    cr_expect_eq(p.opts.leaks, CRMPI_LEAKS_IGNORE);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-leaks=kill", "prog", "--mproc=2", "--mproc-leaks=kill");
}

Test(parse, missing_value_is_refused)
{
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "--mproc");
    T_PARSE_BAD(NULL, NULL, "--mproc", "prog", "-v", "--mproc");
}

Test(parse, unknown_plugin_options_are_refused)
{
    T_PARSE_BAD(NULL, NULL, "--mproc-foo", "prog", "--mproc-foo");
    T_PARSE_BAD(NULL, NULL, "--mproc-foo", "prog", "--mproc=2", "--mproc-foo=3");
    T_PARSE_BAD(NULL, NULL, "--mproc-bogus", "prog", "--mproc-bogus");
    T_PARSE_BAD(NULL, NULL, "--mprocs", "prog", "--mprocs=2");
    T_PARSE_BAD(NULL, NULL, "--mproc-", "prog", "--mproc-");
}

Test(parse, unknown_option_is_refused_without_mproc_too)
{
    T_PARSE_BAD(NULL, NULL, "--mproc-foo", "prog", "--verbose", "--mproc-foo");
}

Test(parse, verbose_levels)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-verbose");
    cr_assert_eq(p.opts.verbose, 1);
    cr_assert_eq(p.opts.enabled, 0, "--mproc-verbose alone must not enable the plugin");
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-verbose=2");
    cr_assert_eq(p.opts.verbose, 2);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-verbose=0");
    cr_assert_eq(p.opts.verbose, 0);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-verbose", "prog", "--mproc-verbose=loud");
}

Test(parse, max_restarts)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-max-restarts=3");
    cr_assert_eq(p.opts.max_restarts, 3);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-max-restarts", "0", "--mproc=2");
    cr_assert_eq(p.opts.max_restarts, 0);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-max-restarts", "prog", "--mproc-max-restarts=-1");
    T_PARSE_BAD(NULL, NULL, "--mproc-max-restarts", "prog", "--mproc-max-restarts");
}

Test(parse, junit)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-junit=out/r.xml");
    cr_assert_str_eq(p.opts.junit, "out/r.xml");
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-junit needs a path", "prog", "--mproc=2", "--mproc-junit=");
}

Test(parse, retries)
{
    struct t_parsed p;
    char err[256];
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-retries=3",
            "--mproc-flaky-fails");
    cr_assert_eq(p.opts.retries, 3);
    cr_assert(p.opts.flaky_fails);
    /* The command line wins over the environment. */
    cr_assert_eq(crmpi_options_retries_env(&p.opts, "5", err, sizeof(err)), 0);
    cr_assert_eq(p.opts.retries, 3);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2");
    cr_assert_eq(crmpi_options_retries_env(&p.opts, "5", err, sizeof(err)), 0);
    cr_assert_eq(p.opts.retries, 5);
    cr_assert_eq(crmpi_options_retries_env(&p.opts, "lots", err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "CRITERION_MPROC_RETRIES=lots"), "%s", err);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-retries=101", "prog", "--mproc=2", "--mproc-retries=101");
    T_PARSE_BAD(NULL, NULL, "--mproc-flaky-fails takes no value", "prog", "--mproc=2",
            "--mproc-flaky-fails=1");
}

Test(parse, rerun_failed)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-rerun-failed");
    cr_assert(p.opts.rerun_failed);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-rerun-failed takes no value", "prog", "--mproc=2",
            "--mproc-rerun-failed=yes");
}

/* ---- the environment --------------------------------------------------------- */

Test(env, enables_the_plugin)
{
    struct t_parsed p;
    T_PARSE_OK(&p, "4", NULL, 8, T_KEEP(0, 1), "prog", "--verbose");
    cr_assert_eq(p.opts.enabled, 1);
    cr_assert_eq(p.opts.workers, 4);
    t_parsed_free(&p);
}

Test(env, accepts_auto_forms)
{
    struct t_parsed p;
    T_PARSE_OK(&p, "auto/2", NULL, 8, T_KEEP(0), "prog");
    cr_assert_eq(p.opts.workers, 4);
    t_parsed_free(&p);
    T_PARSE_OK(&p, "auto*2", NULL, 8, T_KEEP(0), "prog");
    cr_assert_eq(p.opts.workers, 16);
    t_parsed_free(&p);
}

Test(env, command_line_wins)
{
    struct t_parsed p;
    T_PARSE_OK(&p, "4", NULL, 8, T_KEEP(0), "prog", "--mproc=2");
    cr_assert_eq(p.opts.workers, 2);
    t_parsed_free(&p);
}

Test(env, command_line_wins_over_a_bad_environment)
{
    struct t_parsed p;
    T_PARSE_OK(&p, "junk", NULL, 8, T_KEEP(0), "prog", "--mproc=3");
    cr_assert_eq(p.opts.workers, 3);
    t_parsed_free(&p);
}

Test(env, bad_values_name_the_variable)
{
    T_PARSE_BAD("junk", NULL, "CRITERION_MPROC", "prog");
    T_PARSE_BAD("0", NULL, "CRITERION_MPROC", "prog");
    T_PARSE_BAD("-3", NULL, "CRITERION_MPROC", "prog");
    T_PARSE_BAD("auto*0", NULL, "CRITERION_MPROC", "prog");
    T_PARSE_BAD("", NULL, "CRITERION_MPROC", "prog");
}

Test(env, criterion_jobs_alone_is_not_our_business)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, "4", 8, T_KEEP(0), "prog");
    cr_assert_eq(p.opts.enabled, 0);
    t_parsed_free(&p);
}

/* ---- refused combinations ------------------------------------------------------ */

Test(refuse, jobs_in_every_spelling)
{
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "-j2", "--mproc=2");
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "--mproc=2", "-j4");
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "--mproc=2", "-j", "4");
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "--mproc=2", "--jobs", "2");
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "--mproc=2", "--jobs=2");
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "--mproc=2", "-fj2");
    T_PARSE_BAD(NULL, NULL, "-j", "prog", "--mproc=2", "-Sfj", "2");
}

Test(refuse, jobs_with_the_environment_variable)
{
    T_PARSE_BAD("2", NULL, "-j", "prog", "-j2");
}

Test(refuse, debug_and_wait)
{
    T_PARSE_BAD(NULL, NULL, "--debug", "prog", "--mproc=2", "--debug");
    T_PARSE_BAD(NULL, NULL, "--debug", "prog", "--mproc=2", "--debug=gdb");
    T_PARSE_BAD(NULL, NULL, "--debug-transport", "prog", "--mproc=2", "--debug-transport=tcp:1");
    T_PARSE_BAD(NULL, NULL, "--wait", "prog", "--mproc=2", "--wait");
    T_PARSE_BAD(NULL, NULL, "--wait", "prog", "--mproc=2", "-w");
}

Test(refuse, criterion_jobs_environment)
{
    T_PARSE_BAD(NULL, "2", "CRITERION_JOBS", "prog", "--mproc=2");
    T_PARSE_BAD("2", "1", "CRITERION_JOBS", "prog");
}

Test(refuse, empty_criterion_jobs_is_unset)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, "", 4, T_KEEP(0), "prog", "--mproc=2");
    cr_assert_eq(p.opts.enabled, 1);
    t_parsed_free(&p);
}

Test(refuse, j_inside_an_option_argument_is_not_jobs)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 2), "prog", "--mproc=2", "-Otap:j.tap");
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 2, 3), "prog", "--mproc=2", "-O", "tap:-j");
    t_parsed_free(&p);
}

Test(refuse, long_options_that_merely_contain_j_are_fine)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 2, 3), "prog", "--mproc=2", "--json=j.json",
            "--filter=jobs/*");
    t_parsed_free(&p);
}

Test(refuse, nothing_after_double_dash)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 2, 3, 4), "prog", "--mproc=2", "--", "-j2",
            "--debug");
    cr_assert_eq(p.opts.enabled, 1);
    t_parsed_free(&p);
}

/* ---- "--" and --help ------------------------------------------------------------ */

Test(dashdash, mproc_after_double_dash_is_not_ours)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1, 2, 3), "prog", "--", "--mproc=2",
            "--mproc-foo");
    cr_assert_eq(p.opts.enabled, 0);
    t_parsed_free(&p);
}

Test(dashdash, double_dash_itself_is_kept)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 2, 3), "prog", "--mproc=2", "--", "x");
    cr_assert_eq(p.opts.workers, 2);
    t_parsed_free(&p);
}

Test(help, short_and_long_are_detected_and_kept)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1), "prog", "--help");
    cr_assert_eq(p.opts.help, 1);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1), "prog", "-h");
    cr_assert_eq(p.opts.help, 1);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 2), "prog", "--mproc=2", "--help");
    cr_assert_eq(p.opts.help, 1);
    cr_assert_eq(p.opts.enabled, 1);
    t_parsed_free(&p);
}

Test(help, not_after_double_dash)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0, 1, 2), "prog", "--", "--help");
    cr_assert_eq(p.opts.help, 0);
    t_parsed_free(&p);
}

Test(help, usage_mentions_every_form)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    crmpi_options_usage(f);
    fclose(f);
    cr_assert_not_null(strstr(text, "--mproc"), "%s", text);
    cr_assert_not_null(strstr(text, "auto"), "%s", text);
    cr_assert_not_null(strstr(text, "CRITERION_MPROC"), "%s", text);
    free(text);
}

/* ---- listening, and waiting for workers -------------------------------------------- */

Test(parse, wait_workers)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=0", "--mproc-listen=tcp://127.0.0.1:7000");
    cr_assert_eq(p.opts.wait_workers, 0, "waiting is unlimited by default");
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-wait-workers=30", "--mproc=0",
            "--mproc-listen=tcp://127.0.0.1:7000");
    cr_assert_eq(p.opts.wait_workers, 30);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-wait-workers", "5", "--mproc=1");
    cr_assert_eq(p.opts.wait_workers, 5);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-wait-workers", "prog", "--mproc-wait-workers=-1");
    T_PARSE_BAD(NULL, NULL, "--mproc-wait-workers", "prog", "--mproc-wait-workers=soon");
    T_PARSE_BAD(NULL, NULL, "--mproc-wait-workers", "prog", "--mproc-wait-workers=86401");
    T_PARSE_BAD(NULL, NULL, "--mproc-wait-workers", "prog", "--mproc-wait-workers");
}

/* ---- while tests run ------------------------------------------------------------------ */

Test(parse, slow)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 2, T_KEEP(0), "prog", "--mproc=2");
    cr_assert_eq(p.opts.slow, 60, "slow tests are said after 60 s by default");
    cr_assert_eq(p.opts.progress, CRMPI_PROGRESS_AUTO);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 3, T_KEEP(0), "prog", "--mproc-slow=0", "--mproc=2");
    cr_assert_eq(p.opts.slow, 0);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-slow", "5", "--mproc=2");
    cr_assert_eq(p.opts.slow, 5);
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-slow", "prog", "--mproc-slow=-1");
    T_PARSE_BAD(NULL, NULL, "--mproc-slow", "prog", "--mproc-slow=1m");
    T_PARSE_BAD(NULL, NULL, "--mproc-slow", "prog", "--mproc-slow=86401");
}

Test(parse, progress)
{
    static const struct { char *arg; enum crmpi_progress_mode mode; } ok[] = {
        { "--mproc-progress=auto", CRMPI_PROGRESS_AUTO },
        { "--mproc-progress=bar", CRMPI_PROGRESS_BAR },
        { "--mproc-progress=none", CRMPI_PROGRESS_NONE },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); ++i) {
        struct t_parsed p;
        T_PARSE_OK(&p, NULL, NULL, 3, T_KEEP(0), "prog", ok[i].arg, "--mproc=2");
        cr_assert_eq(p.opts.progress, ok[i].mode, "%s", ok[i].arg);
        t_parsed_free(&p);
    }
    T_PARSE_BAD(NULL, NULL, "--mproc-progress", "prog", "--mproc-progress=always");
    T_PARSE_BAD(NULL, NULL, "--mproc-progress", "prog", "--mproc-progress=");
}

Test(listen, loopback_urls)
{
    cr_expect(crmpi_options_url_is_loopback("tcp://127.0.0.1:7000"));
    cr_expect(crmpi_options_url_is_loopback("tcp://127.1.2.3:7000"));
    cr_expect(crmpi_options_url_is_loopback("tcp://localhost:7000"));
    cr_expect(crmpi_options_url_is_loopback("tcp://[::1]:7000"));
    cr_expect(crmpi_options_url_is_loopback("ipc:///tmp/x"));
    cr_expect_not(crmpi_options_url_is_loopback("tcp://0.0.0.0:7000"));
    cr_expect_not(crmpi_options_url_is_loopback("tcp://localhost.example.com:7000"));
    cr_expect_not(crmpi_options_url_is_loopback("tls+tcp://10.0.0.1:7000"));
    cr_expect_not(crmpi_options_url_is_loopback("junk"));
}

static int t_check_listen(const char *listen, const char *token_file, const char *env_token,
        char *err, size_t errlen)
{
    struct crmpi_options o = { .enabled = 1, .listen = listen, .token_file = token_file };
    return crmpi_options_check_listen(&o, env_token, err, errlen);
}

Test(listen, tokenless_listen_beyond_loopback_is_a_usage_error)
{
    char err[256] = "";
    cr_expect_eq(t_check_listen("tcp://0.0.0.0:7000", NULL, NULL, err, sizeof(err)), -EINVAL);
    cr_expect_not_null(strstr(err, "without a token"), "%s", err);
    cr_expect_not_null(strstr(err, "--mproc-listen=tcp://0.0.0.0:7000"), "%s", err);
    cr_expect_eq(t_check_listen("tcp://0.0.0.0:7000", NULL, "", err, sizeof(err)), -EINVAL,
            "an empty token counts as a token");
    cr_expect_eq(t_check_listen("tcp://0.0.0.0:7000", NULL, "s3cret", err, sizeof(err)), 0);
    cr_expect_eq(t_check_listen("tcp://0.0.0.0:7000", "/run/token", NULL, err, sizeof(err)), 0);
    cr_expect_eq(t_check_listen("tcp://127.0.0.1:7000", NULL, NULL, err, sizeof(err)), 0);
    cr_expect_eq(t_check_listen(NULL, NULL, NULL, err, sizeof(err)), 0);
    struct crmpi_options off = { .listen = "tcp://0.0.0.0:7000" };
    cr_expect_eq(crmpi_options_check_listen(&off, NULL, err, sizeof(err)), 0,
            "refused although --mproc is off");
}

/* ---- --mproc-recap -------------------------------------------------------------- */

Test(parse, recap_on_by_default_off_on_request)
{
    struct t_parsed p;
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2");
    cr_assert_eq(p.opts.no_recap, 0);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc=2", "--mproc-recap=off");
    cr_assert_eq(p.opts.no_recap, 1);
    t_parsed_free(&p);
    T_PARSE_OK(&p, NULL, NULL, 4, T_KEEP(0), "prog", "--mproc-recap=off", "--mproc-recap=on",
            "--mproc=2");
    cr_assert_eq(p.opts.no_recap, 0, "the last one wins");
    t_parsed_free(&p);
    T_PARSE_BAD(NULL, NULL, "--mproc-recap=maybe: expected on or off", "prog", "--mproc=2",
            "--mproc-recap=maybe");
}
