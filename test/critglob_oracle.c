/*
 * critglob against the Criterion it stands in for.
 *
 * For each pattern (a table of the language's corners and quirks, then
 * random ones from its characters), a forked child hands the pattern to the
 * loaded libcriterion's runner, whose --filter pass runs before its first
 * report hook: the PRE_ALL hook below writes which tests it left enabled and
 * ends the child (no test ever runs).  The parent applies crmpi_critglob to
 * the same set and compares: the same tests disabled, and an error exactly
 * where Criterion refused the pattern (it exits 3).
 *
 * Not a Criterion test binary (the tests below are the names to match,
 * never run): main drives it, exit 0 when everything agreed.
 * `critglob_oracle N` adds N random patterns (600 agreed when it was written).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/options.h>

#include "critglob.h"

TestSuite(dis, .disabled = true);

Test(a, a) {}
Test(a, b) {}
Test(a, ab) {}
Test(a, abc) {}
Test(a, aab) {}
Test(a, ba) {}
Test(a, bb) {}
Test(a, a_b) {}
Test(a, off, .disabled = true) {}
Test(ab, a) {}
Test(ab, ab) {}
Test(ab, b1) {}
Test(b, x1) {}
Test(b, x12) {}
Test(b, x_2) {}
Test(b, X) {}
Test(b, a) {}
Test(ba, ba) {}
Test(ba, aaaa) {}
Test(x_1, a) {}
Test(x_1, x_1) {}
Test(A, Z9) {}
Test(dis, a) {}

#define ORACLE_MAX_TESTS 64

static int oracle_fd = -1;

/* In the child: the runner's verdict on each test, in the set's order, then out. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    if (oracle_fd < 0)
        return;
    char flags[ORACLE_MAX_TESTS];
    size_t count = 0;
    FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests)
            if (count < sizeof(flags))
                flags[count++] = t->data->disabled ? 'D' : 'E';
    }
    ssize_t w = write(oracle_fd, flags, count);
    /* The runner bound its socket before this hook; _exit would leave the file behind. */
    char sock[64];
    snprintf(sock, sizeof(sock), "/tmp/criterion_%d.sock", (int) getpid());
    unlink(sock);
    _exit(w == (ssize_t) count ? 0 : 4);
}

/* Criterion's verdict: 0 and flags, or its exit status (3: a pattern error). */
static int oracle_criterion(struct criterion_test_set *set, const char *pattern, char *flags,
        size_t *count)
{
    int fds[2];
    if (pipe(fds))
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(fds[0]);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        oracle_fd = fds[1];
        criterion_options.pattern = pattern;
        criterion_run_all_tests(set);
        _exit(5);
    }
    close(fds[1]);
    *count = 0;
    ssize_t r;
    while ((r = read(fds[0], flags + *count, ORACLE_MAX_TESTS - *count)) > 0)
        *count += (size_t) r;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* critglob's verdict on the same set (restored afterwards). */
static int oracle_ours(struct criterion_test_set *set, const char *pattern, char *flags,
        size_t *count)
{
    int was[ORACLE_MAX_TESTS];
    size_t k = 0;
    FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests)
            if (k < ORACLE_MAX_TESTS)
                was[k++] = t->data->disabled;
    }
    int rc = crmpi_critglob_apply(set, pattern);
    *count = 0;
    FOREACH_SET(struct criterion_suite_set *ss, set->suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            if (*count >= ORACLE_MAX_TESTS)
                continue;
            flags[*count] = t->data->disabled ? 'D' : 'E';
            t->data->disabled = was[*count];
            ++*count;
        }
    }
    return rc;
}

static int oracle_check(struct criterion_test_set *set, const char *pattern)
{
    char theirs[ORACLE_MAX_TESTS], ours[ORACLE_MAX_TESTS];
    size_t nt = 0, no = 0;
    int st = oracle_criterion(set, pattern, theirs, &nt);
    int rc = oracle_ours(set, pattern, ours, &no);
    if (st == 3 && rc == -EINVAL)
        return 0;
    if (st == 0 && rc == 0 && nt == no && !memcmp(theirs, ours, nt))
        return 0;
    printf("MISMATCH pattern '%s': Criterion %s%.*s, critglob %s%.*s\n", pattern,
            st == 0 ? "" : st == 3 ? "pattern error" : "exit ", st == 0 ? (int) nt : 0, theirs,
            rc == 0 ? "" : rc == -EINVAL ? "refused" : strerror(-rc), rc == 0 ? (int) no : 0,
            ours);
    if (st != 0 && st != 3)
        printf("  (Criterion's child ended with status %d)\n", st);
    return 1;
}

static const char *const oracle_table[] = {
    "a/a", "a/*", "*/a", "*", "**", "?", "a/?", "a/a?", "a/ab?", "a?/a", "a/?b", "?/?",
    "a/??", "a/???", "*(a)/*", "*(a|b)/*", "*(a|b)", "+(a)/a", "+(a|b)/+(a|b)", "!(a)/*",
    "!(a|b)/*", "!(a/a)", "!(*a*)", "@(a|ab)/a", "?(a)/a", "?(a|b)b/*", "a/[ab]", "a/[!a]*",
    "a/[b-a]*", "a/[a-]", "[!]*", "[]a]*", "[]*", "a/[a-c]*", "*/[A-Z]*", "*/x[0-9]",
    "*/x+([0-9])", "*/!(*1*)", "b/x1*", "a\\/b", "a/\\*", "a/\\?b", "\\a/a", "(", ")", "a|b",
    "*(a|)", "*()", "*(|a)", "a/[ab", "*(a", "a)", "", "!(a|b|ab)/*", "*(!(a))", "!(!(a))/a",
    "+(?)/*", "*(*)", "@(*)", "?(?)/?", "a/!()", "a/a!", "a/a@", "a/a+", "@(a|b|ab|ba)/*b*",
    "*(a/|b/)*", "+(!(b))/b", "x_1/*", "*_*", "dis/*", "a/off", "A/Z9", "*/[!a-z]*",
    "*(a)*(b)/*", "!(a)!(b)", "*(@(a|b)|x)/*",
};

/* Random patterns over the language's characters (and the names' own). */
static void oracle_random(unsigned *seed, char *out, size_t max)
{
    static const char alphabet[] = "ab/*?!@+()|[]-x_1A";
    size_t len = 1 + (size_t) rand_r(seed) % (max - 1);
    for (size_t i = 0; i < len; ++i)
        out[i] = alphabet[(size_t) rand_r(seed) % (sizeof(alphabet) - 1)];
    out[len] = '\0';
}

int main(int argc, char **argv)
{
    /* Each pattern costs a runner's start-up in a child: random ones only when asked. */
    int randoms = argc > 1 ? atoi(argv[1]) : 0;
    struct criterion_test_set *set = criterion_initialize();
    int bad = 0, checked = 0;
    for (size_t i = 0; i < sizeof(oracle_table) / sizeof(*oracle_table); ++i, ++checked)
        bad += oracle_check(set, oracle_table[i]);
    unsigned seed = 20261202;
    char pattern[13];
    for (int i = 0; i < randoms; ++i, ++checked) {
        oracle_random(&seed, pattern, sizeof(pattern));
        bad += oracle_check(set, pattern);
    }
    criterion_finalize(set);
    printf("%d patterns, %d mismatches\n", checked, bad);
    return bad ? 1 : 0;
}
