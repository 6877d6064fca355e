/*
 * criterion-mproc: every test of many programs in one pool.  See runner.h
 * and the README's "One pool for a whole project".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion-mproc.h"
#include "cpus.h"
#include "diag.h"
#include "options.h"
#include "runner.h"
#include "runner_live.h"

#define RUNNER_MAX_SELECT 64
#define RUNNER_HISTORY_DIR ".criterion-mproc"
#define RUNNER_HISTORY RUNNER_HISTORY_DIR "/runner.history"

static const char runner_usage[] =
    "usage: criterion-mproc [OPTIONS] [PROGRAM...] [-- CRITERION-ARGS...]\n"
    "Runs every test of every PROGRAM (Criterion test binaries, or any program: one\n"
    "test, passed on exit status 0, skipped on 77) in one pool of worker slots.\n"
    "\n"
    "  --mproc=N|auto|auto*K|auto/K  tests running at once, in total (default: auto,\n"
    "                                the CPUs this process may use)\n"
    "  --meson=BUILDDIR              the tests of a meson build directory\n"
    "  --ctest=BUILDDIR              the tests of a CMake build directory\n"
    "  --suite=NAME                  only tests in meson suite or CTest label NAME\n"
    "                                (repeatable)\n"
    "  --exclude=NAME                no test in suite or label NAME (repeatable)\n"
    "  --mproc-report-dir=DIR        TAP, XML and JSON reports of each Criterion binary\n"
    "                                in DIR, named after it\n"
    "  --mproc-artifacts=DIR         what each Criterion binary's tests leave in\n"
    "                                CRITERION_MPROC_ARTIFACTS, in DIR/BINARY/SUITE/TEST\n"
    "  --mproc-junit=FILE            one JUnit XML report over every program (also\n"
    "                                CRITERION_MPROC_JUNIT)\n"
    "  --mproc-progress=auto|bar|none  a status line over the whole pool on stderr\n"
    "                                (auto: on a terminal whose TERM is not dumb; bar:\n"
    "                                on any terminal; none: never)\n"
    "  --mproc-recap=auto|on|off     after the total Synthesis, the tests that failed,\n"
    "                                crashed or timed out in every program (auto: when\n"
    "                                stderr is a terminal)\n"
    "  --timeout-multiplier=M        each listed test's timeout times M (0: no timeout;\n"
    "                                default 1)\n"
    "  --plugin=PATH                 the plugin to preload (default: the one beside this\n"
    "                                program, else the installed one)\n"
    "  -v, --verbose                 say what starts and ends\n"
    "  -h, --help                    this text\n"
    "  --version                     the version\n"
    "CRITERION-ARGS go to every Criterion binary (e.g. -- --filter='math/*').\n"
    "Exit status: 0 when every program passed, 1 when one did not or could not\n"
    "start, 2 on a usage error, 128+N when stopped by signal N.\n";

struct runner_opts {
    const char *workers, *meson, *ctest, *report_dir, *artifacts, *plugin, *junit;
    char *only[RUNNER_MAX_SELECT], *exclude[RUNNER_MAX_SELECT];
    size_t n_only, n_exclude;
    double timeout_multiplier;
    enum crmpi_progress_mode progress;
    enum crmpi_rlive_recap recap;
    int verbose;
};

static int runner_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "criterion-mproc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'criterion-mproc --help'.\n");
    return 2;
}

/* Parses argv[0..argc); 0, 1 (--help/--version done) or 2 (usage error). */
static int runner_parse(int argc, char **argv, struct runner_opts *o)
{
    enum { O_MPROC = 256, O_MESON, O_CTEST, O_SUITE, O_EXCLUDE, O_REPORT, O_TIMEOUT, O_PLUGIN,
           O_VERSION, O_JUNIT, O_PROGRESS, O_RECAP, O_ARTIFACTS };
    static const struct option longs[] = {
        { "mproc", required_argument, NULL, O_MPROC },
        { "meson", required_argument, NULL, O_MESON },
        { "ctest", required_argument, NULL, O_CTEST },
        { "suite", required_argument, NULL, O_SUITE },
        { "exclude", required_argument, NULL, O_EXCLUDE },
        { "mproc-report-dir", required_argument, NULL, O_REPORT },
        { "mproc-junit", required_argument, NULL, O_JUNIT },
        { "mproc-artifacts", required_argument, NULL, O_ARTIFACTS },
        { "mproc-progress", required_argument, NULL, O_PROGRESS },
        { "mproc-recap", required_argument, NULL, O_RECAP },
        { "timeout-multiplier", required_argument, NULL, O_TIMEOUT },
        { "plugin", required_argument, NULL, O_PLUGIN },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        { 0 },
    };
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, ":vh", longs, NULL)) != -1) {
        switch (c) {
        case O_MPROC: o->workers = optarg; break;
        case O_MESON: o->meson = optarg; break;
        case O_CTEST: o->ctest = optarg; break;
        case O_REPORT: o->report_dir = optarg; break;
        case O_PLUGIN: o->plugin = optarg; break;
        case O_JUNIT: o->junit = optarg; break;
        case O_ARTIFACTS: o->artifacts = optarg; break;
        case 'v': o->verbose = 1; break;
        case O_PROGRESS:
            if (crmpi_options_parse_progress(optarg, &o->progress))
                return runner_usage_error("--mproc-progress=%s: expected auto, bar or none",
                        optarg);
            break;
        case O_RECAP:
            if (!strcmp(optarg, "auto"))
                o->recap = CRMPI_RLIVE_RECAP_AUTO;
            else if (!strcmp(optarg, "on"))
                o->recap = CRMPI_RLIVE_RECAP_ON;
            else if (!strcmp(optarg, "off"))
                o->recap = CRMPI_RLIVE_RECAP_OFF;
            else
                return runner_usage_error("--mproc-recap=%s: expected auto, on or off", optarg);
            break;
        case O_SUITE:
        case O_EXCLUDE:
            if ((c == O_SUITE ? o->n_only : o->n_exclude) == RUNNER_MAX_SELECT)
                return runner_usage_error("too many --suite/--exclude (at most 64): %s", optarg);
            if (c == O_SUITE)
                o->only[o->n_only++] = optarg;
            else
                o->exclude[o->n_exclude++] = optarg;
            break;
        case O_TIMEOUT:
            errno = 0;
            o->timeout_multiplier = strtod(optarg, &end);
            if (errno || end == optarg || *end || o->timeout_multiplier < 0)
                return runner_usage_error("--timeout-multiplier=%s: expected a number >= 0",
                        optarg);
            break;
        case 'h':
            fputs(runner_usage, stdout);
            return 1;
        case O_VERSION:
            printf("criterion-mproc %s\n", CRMP_VERSION_STRING);
            return 1;
        case ':':
            return runner_usage_error("%s needs a value", argv[optind - 1]);
        default:
            return runner_usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (o->meson && o->ctest)
        return runner_usage_error("%s", "--meson and --ctest cannot be combined");
    return 0;
}

/* Runs argv (PATH searched), returns its standard output in *out (owned). */
static int runner_capture(char *const argv[], char **out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    pid_t pid;
    extern char **environ;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return -rc;
    }
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    for (ssize_t got = 1; buf && got > 0;) {
        if (cap - len < 4096) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
        }
        got = read(fds[0], buf + len, cap - len - 1);
        if (got > 0)
            len += (size_t) got;
        else if (got < 0 && errno == EINTR)
            got = 1;
    }
    close(fds[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!buf)
        return -ENOMEM;
    buf[len] = '\0';
    if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
        free(buf);
        return -ECHILD;
    }
    *out = buf;
    return 0;
}

/* Fills l from --meson or --ctest; 0, or 2 after saying why. */
static int runner_list_dir(const struct runner_opts *o, struct crmpi_rlist *l)
{
    const char *dir = o->meson ? o->meson : o->ctest;
    char *meson_argv[] = { "meson", "introspect", "--tests", (char *) dir, NULL };
    char *ctest_argv[] = { "ctest", "--show-only=json-v1", "--test-dir", (char *) dir, NULL };
    char **argv = o->meson ? meson_argv : ctest_argv;
    char *json = NULL, err[512] = "";
    int rc = runner_capture(argv, &json);
    if (rc) {
        fprintf(stderr, "criterion-mproc: `%s %s ... %s` failed: %s\n", argv[0], argv[1], dir,
                rc == -ECHILD ? "it exited with an error (is it a configured build directory?)"
                              : strerror(-rc));
        return 2;
    }
    rc = o->meson ? crmpi_rlist_add_meson(l, json, err, sizeof(err))
                  : crmpi_rlist_add_ctest(l, json, err, sizeof(err));
    free(json);
    if (rc) {
        fprintf(stderr, "criterion-mproc: %s\n", rc == -ENOMEM ? "out of memory" : err);
        return 2;
    }
    return 0;
}

/* The plugin beside this executable (a build tree), else the installed one. */
static char *runner_plugin_path(const char *given)
{
    if (given)
        return realpath(given, NULL);
    const char *env = getenv("CRITERION_MPROC_PLUGIN");
    if (env && *env)
        return realpath(env, NULL);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        char *beside = NULL;
        if (slash && asprintf(&beside, "%.*s/libcriterion-mproc.so.0", (int) (slash - self),
                        self) >= 0) {
            if (!access(beside, R_OK))
                return beside;
            free(beside);
        }
    }
    return realpath(CRMPI_PLUGIN_INSTALLED, NULL);
}

static void runner_recap(const struct crmpi_rlist *l, const struct crmpi_rtotals *t)
{
    if (t->programs_failed) {
        fprintf(stderr, "[====] Did not pass:\n");
        for (size_t i = 0; i < l->n; ++i)
            if (l->v[i].failed)
                fprintf(stderr, "[FAIL] %s\n", l->v[i].name);
    }
    if (t->not_started)
        fprintf(stderr, "[====] %zu of %zu program%s did not run\n", t->not_started, t->programs,
                t->programs == 1 ? "" : "s");
    fprintf(stderr, "[====] Synthesis: Tested: %zu test%s from %zu binar%s | Passing: %zu | "
            "Failing: %zu | Crashing: %zu\n", t->tested, t->tested == 1 ? "" : "s", t->programs,
            t->programs == 1 ? "y" : "ies", t->passing, t->failing, t->crashing);
}

int main(int argc, char **argv)
{
    int split = argc;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--")) {
            split = i;
            break;
        }
    }
    struct runner_opts o = { .timeout_multiplier = 1.0 };
    /* Each binary gets a file of its own for it: the variable is the runner's. */
    const char *env_junit = getenv("CRITERION_MPROC_JUNIT");
    o.junit = env_junit && *env_junit ? env_junit : NULL;
    int rc = runner_parse(split, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    /* Given to every binary, it would have two binaries' SUITE/TEST folders collide. */
    for (int i = split + 1; i < argc; ++i)
        if (!strcmp(argv[i], "--mproc-artifacts") || !strncmp(argv[i], "--mproc-artifacts=", 18))
            return runner_usage_error("%s after --: give it before --, where each binary "
                    "collects in a folder of its own", argv[i]);

    char err[256] = "";
    int capped;
    unsigned slots;
    if (crmpi_options_parse_workers(o.workers ? o.workers : "auto", crmpi_cpus_usable(), &slots,
                &capped, err, sizeof(err)))
        return runner_usage_error("%s", err);
    crmpi_diag_set_level(o.verbose ? CRMPI_DIAG_INFO : CRMPI_DIAG_WARN);

    struct crmpi_rlist l = { 0 };
    int status = 2;
    if ((o.meson || o.ctest) && (rc = runner_list_dir(&o, &l)))
        goto out;
    if (crmpi_rlist_add_paths(&l, argv + optind, (size_t) (split - optind))) {
        fprintf(stderr, "criterion-mproc: out of memory\n");
        goto out;
    }
    size_t listed = l.n;
    crmpi_rlist_select(&l, o.only, o.n_only, o.exclude, o.n_exclude);
    if (!l.n && listed) {
        /* Not "name programs": there were some, the selection left none of them. */
        char why[96];
        snprintf(why, sizeof(why), "--suite/--exclude select none of the %zu tests listed", listed);
        runner_usage_error("no test to run: %s", why);
        goto out;
    }
    if (!l.n) {
        runner_usage_error("%s", "no test to run: name programs, or --meson/--ctest BUILDDIR");
        goto out;
    }
    size_t n_crit = crmpi_rlist_classify(&l);

    char *plugin = n_crit ? runner_plugin_path(o.plugin) : NULL;
    if (n_crit && !plugin) {
        fprintf(stderr, "criterion-mproc: cannot find libcriterion-mproc.so.0 (beside this "
                "program or at %s): use --plugin=PATH\n", CRMPI_PLUGIN_INSTALLED);
        goto out;
    }
    if (o.report_dir && mkdir(o.report_dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "criterion-mproc: cannot create %s: %s\n", o.report_dir, strerror(errno));
        free(plugin);
        goto out;
    }
    if (o.verbose)
        fprintf(stderr, "criterion-mproc: %zu program%s (%zu Criterion binar%s) on %u slot%s\n",
                l.n, l.n == 1 ? "" : "s", n_crit, n_crit == 1 ? "y" : "ies", slots,
                slots == 1 ? "" : "s");

    char *const *crit_args = split < argc ? argv + split + 1 : NULL;
    const struct crmpi_rlive_opts lo = { .progress = o.progress, .recap = o.recap,
                                         .color = crmpi_rlive_color(crit_args) };
    struct crmpi_rlive *live;
    if (crmpi_rlive_new(&lo, &l, slots, &live)) {
        fprintf(stderr, "criterion-mproc: out of memory\n");
        free(plugin);
        goto out;
    }
    const struct crmpi_rpool_opts po = {
        .slots = slots,
        .plugin = plugin,
        .report_dir = o.report_dir,
        .artifacts = o.artifacts,
        .crit_args = crit_args,
        .timeout_multiplier = o.timeout_multiplier,
        .junit = o.junit,
        .live = live,
        .verbose = o.verbose,
    };
    /* Beside the plugin's own durations files: the same directory, the same lifetime. */
    if ((rc = crmpi_rlist_history_load(&l, RUNNER_HISTORY)))
        fprintf(stderr, "criterion-mproc: warning: cannot read %s: %s\n", RUNNER_HISTORY,
                strerror(-rc));
    struct crmpi_rtotals t;
    rc = crmpi_rpool_run(&l, &po, &t);
    free(plugin);
    if (rc) {
        crmpi_rlive_free(live);
        status = 1;
        goto out;
    }
    if ((mkdir(RUNNER_HISTORY_DIR, 0777) && errno != EEXIST)
            || (rc = crmpi_rlist_history_save(&l, RUNNER_HISTORY)))
        fprintf(stderr, "criterion-mproc: warning: cannot write %s: %s\n", RUNNER_HISTORY,
                strerror(rc ? -rc : errno));
    runner_recap(&l, &t);
    /* Last, so that it is what the terminal shows when the run is over. */
    crmpi_rlive_print_recap(live, stderr);
    crmpi_rlive_free(live);
    if (t.interrupted)
        status = 128 + t.interrupted;
    else
        status = t.programs_failed || t.not_started ? 1 : 0;
out:
    crmpi_rlist_free(&l);
    return status;
}
