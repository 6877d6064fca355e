/*
 * The plugin: the hooks into Criterion's run.
 *
 * The default main (and most custom ones) calls criterion_initialize,
 * criterion_handle_args, criterion_run_all_tests and criterion_finalize
 * through the PLT, so defining them here (preloaded, or linked before
 * libcriterion) puts the plugin in charge; each forwards to the real one
 * found with dlsym(RTLD_NEXT).
 *
 * Roles: a plain run (no --mproc) forwards everything untouched; the
 * coordinator replaces the run; a worker runs units through the real runner;
 * inside a test sandbox (BXFI_MAP set) the plugin does nothing at all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/options.h>
#include <criterion/output.h>

#include "criterion-mproc.h"
#include "auth.h"
#include "coordinator.h"
#include "cpus.h"
#include "crit.h"
#include "crit_release.h"
#include "diag.h"
#include "fixtures.h"
#include "lazygit.h"
#include "options.h"
#include "outputs.h"
#include "rlimits.h"
#include "shadow.h"
#include "units.h"
#include "worker.h"
#include "zygote.h"


enum plugin_role { PLUGIN_PLAIN, PLUGIN_SANDBOX, PLUGIN_WORKER, PLUGIN_COORDINATOR };

static struct {
    struct criterion_test_set *(*initialize)(void);
    int (*handle_args)(int, char **, bool);
    int (*run_all_tests)(struct criterion_test_set *);
    void (*finalize)(struct criterion_test_set *);
    int (*register_output_provider)(const char *, criterion_reporter *);
    int (*add_output)(const char *, const char *);
} real;

static enum plugin_role plugin_role = PLUGIN_PLAIN;
static struct crmpi_options plugin_opts;
static int plugin_args_handled;
static int plugin_in_initialize;
static char **plugin_argv;          /* owned array, borrowed strings */
static char *plugin_cmdline;        /* owned, when argv came from /proc */

CRMP_API const char *crmp_version(void)
{
    return CRMP_VERSION_STRING;
}

CRMP_API int crmp_in_worker(void)
{
    return crmpi_worker_requested();
}

static void *plugin_next(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn)
        fn = dlsym(RTLD_DEFAULT, name);
    /* Our own definition is no way to Criterion's (a static Criterion). */
    Dl_info mine, found;
    if (fn && dladdr((void *) plugin_next, &mine) && dladdr(fn, &found)
            && mine.dli_fbase == found.dli_fbase)
        fn = NULL;
    return fn;
}

__attribute__((constructor)) static void plugin_init(void)
{
    *(void **) &real.initialize = plugin_next("criterion_initialize");
    *(void **) &real.handle_args = plugin_next("criterion_handle_args");
    *(void **) &real.run_all_tests = plugin_next("criterion_run_all_tests");
    *(void **) &real.finalize = plugin_next("criterion_finalize");
    *(void **) &real.register_output_provider = plugin_next("criterion_register_output_provider");
    *(void **) &real.add_output = plugin_next("criterion_add_output");

    crmpi_shadow_check();
    if (crmpi_have_criterion() && !getenv("BXFI_MAP") && !(real.initialize && real.handle_args
            && real.run_all_tests && real.finalize && real.register_output_provider
            && real.add_output)) {
        /* Every forwarder would call itself: say so rather than recurse. */
        fprintf(stderr, "criterion-mproc: error: the plugin cannot reach libcriterion's entry "
                "points (Criterion linked statically?): link a shared libcriterion after "
                "-lcriterion-mproc, or do not link the plugin\n");
        exit(CRMPI_EXIT_USAGE);
    }
    if (getenv("BXFI_MAP"))
        plugin_role = PLUGIN_SANDBOX;
    else if (crmpi_worker_requested())
        plugin_role = PLUGIN_WORKER;
    /* Before any test process can be forked or exec'd from us: they must not inherit it. */
    char err[256];
    if (plugin_role == PLUGIN_WORKER && crmpi_token_inherit(err, sizeof(err)))
        crmpi_error("worker: %s", err);
}

/* Without libcriterion (preloaded into an unrelated program) stay inert. */
static int plugin_inert(void)
{
    return !crmpi_have_criterion() || plugin_role == PLUGIN_SANDBOX;
}

static void plugin_usage_error(const char *msg)
{
    fprintf(stderr, "criterion-mproc: error: %s\n", msg);
    exit(CRMPI_EXIT_USAGE);
}

static const char *plugin_env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    return v ? v : getenv(b);
}

/* The GoogleTest/Bazel test protocol: sharding and the JUnit XML file. */
static void plugin_apply_test_env(void)
{
    char err[256];
    if (crmpi_options_shard_env(&plugin_opts, plugin_env2("TEST_TOTAL_SHARDS", "GTEST_TOTAL_SHARDS"),
            plugin_env2("TEST_SHARD_INDEX", "GTEST_SHARD_INDEX"), err, sizeof(err)))
        plugin_usage_error(err);
    if (plugin_opts.shard_count) {
        if (!plugin_opts.enabled) {
            plugin_opts.enabled = 1;
            plugin_opts.workers = 1;
        }
        /* Tells the test runner that this binary honours sharding. */
        const char *status = plugin_env2("TEST_SHARD_STATUS_FILE", "GTEST_SHARD_STATUS_FILE");
        if (status) {
            int fd = open(status, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
            if (fd < 0)
                crmpi_warn("cannot touch %s: %s", status, strerror(errno));
            else
                close(fd);
        }
    }
    const char *xml = getenv("XML_OUTPUT_FILE");
    if (xml && *xml)
        criterion_add_output("xml", xml);
}

static void plugin_apply_options(void)
{
    crmpi_diag_set_level(CRMPI_DIAG_WARN + plugin_opts.verbose);
    if (plugin_opts.capped)
        crmpi_warn("--mproc: capped to %u workers", CRMPI_MAX_WORKERS);
    if (plugin_role != PLUGIN_WORKER)
        plugin_apply_test_env();
    if (plugin_opts.enabled && plugin_role == PLUGIN_PLAIN)
        plugin_role = PLUGIN_COORDINATOR;
    /* Off means off: a plain run has libgit2 started before anything else runs. */
    if (plugin_role == PLUGIN_PLAIN)
        crmpi_lazygit_flush();
    /* The plugin replays the loaded release's formats: it must know it. */
    if (plugin_role != PLUGIN_PLAIN && !crmpi_release_loaded()) {
        fprintf(stderr, "criterion-mproc: error: unsupported libcriterion (%s); "
                "supported releases: %s\n", crmpi_release_found(), crmpi_release_supported());
        exit(CRMPI_EXIT_USAGE);
    }
    if (plugin_role != PLUGIN_COORDINATOR)
        return;
    const struct crmpi_release *rel = crmpi_release_loaded();
    if (plugin_opts.fork_isolation && !rel->fork_isolation) {
        crmpi_warn("fork isolation is not available with Criterion %s: tests run in exec mode",
                rel->name);
        plugin_opts.fork_isolation = 0;
    }
    char err[512];
    if (crmpi_options_check_listen(&plugin_opts, getenv(CRMPI_ENV_TOKEN), err, sizeof(err)))
        plugin_usage_error(err);
    if (crmpi_options_retries_env(&plugin_opts, getenv("CRITERION_MPROC_RETRIES"), err, sizeof(err)))
        plugin_usage_error(err);
    /* Only a listener or a worker host proves it (and scrubs it once read). */
    if (!plugin_opts.listen && !plugin_opts.connect)
        crmpi_token_scrub_env();
    /* Too tight a ulimit: say which, rather than report tests as crashed. */
    struct crmpi_rlimits limits;
    crmpi_rlimits_get(&limits);
    if (crmpi_rlimits_check(&limits, plugin_opts.workers, err, sizeof(err)))
        plugin_usage_error(err);
}

/* The plugin runs the fixtures: the header's serial hooks must stay idle. */
static void plugin_claim_fixtures(void)
{
    int rc = crmpi_fixtures_claim();
    if (rc < 0)
        crmpi_warn("cannot read the fixtures: %s", strerror(-rc));
}

CRMP_API struct criterion_test_set *criterion_initialize(void)
{
    /* Fork isolation's zygote: born now, as Criterion's sandboxes are (see zygote.h). */
    const char *iso = getenv(CRMPI_ENV_ISOLATION);
    /* A worker runs its fixtures itself (in the zygote, in fork isolation). */
    if (plugin_role == PLUGIN_WORKER)
        plugin_claim_fixtures();
    if (plugin_role == PLUGIN_WORKER && iso && !strcmp(iso, "fork"))
        crmpi_zygote_start();
    /*
     * After the zygote's fork: its test processes start libgit2 as sandboxes
     * do.  A process asked to coordinate is still plain here (handle_args
     * decides); if it stays plain, libgit2 starts there (plugin_apply_options).
     */
    if (plugin_role == PLUGIN_WORKER || (plugin_role == PLUGIN_PLAIN && crmpi_mproc_asked()))
        (void) crmpi_lazygit_install();
    plugin_in_initialize = 1;
    struct criterion_test_set *set = real.initialize();
    plugin_in_initialize = 0;
    return set;
}

CRMP_API int criterion_register_output_provider(const char *name, criterion_reporter *fn)
{
    if (!plugin_inert() && crmpi_outputs_register(name, fn, plugin_in_initialize))
        crmpi_warn("cannot record output provider %s", name);
    return real.register_output_provider(name, fn);
}

CRMP_API int criterion_add_output(const char *provider, const char *path)
{
    if (plugin_inert())
        return real.add_output(provider, path);
    /* Report files are the coordinator's: a worker writes none. */
    if (plugin_role == PLUGIN_WORKER)
        return 1;
    if (crmpi_outputs_add(provider, path))
        crmpi_warn("cannot record output %s:%s", provider, path);
    return real.add_output(provider, path);
}

CRMP_API int criterion_handle_args(int argc, char *argv[], bool handle_unknown_arg)
{
    if (plugin_inert())
        return real.handle_args(argc, argv, handle_unknown_arg);

    char err[512];
    int nargc;
    char **nargv;
    int rc = crmpi_options_parse(argc, argv, getenv("CRITERION_MPROC"), getenv("CRITERION_JOBS"),
            crmpi_cpus_usable(), &plugin_opts, &nargc, &nargv, err, sizeof(err));
    if (rc)
        plugin_usage_error(err);
    free(plugin_argv);
    plugin_argv = nargv;
    plugin_args_handled = 1;
    plugin_apply_options();

    int res;
    if (plugin_role == PLUGIN_WORKER) {
        /*
         * The coordinator parsed the same arguments and said what there was
         * to say (deprecation notes): workers would only repeat it.
         */
        int saved = dup(STDERR_FILENO);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved >= 0 && null >= 0)
            dup2(null, STDERR_FILENO);
        res = real.handle_args(nargc, nargv, handle_unknown_arg);
        if (saved >= 0 && null >= 0)
            dup2(saved, STDERR_FILENO);
        if (null >= 0)
            close(null);
        if (saved >= 0)
            close(saved);
    } else {
        res = real.handle_args(nargc, nargv, handle_unknown_arg);
    }
    if (plugin_opts.help)
        crmpi_options_usage(stderr);
    return res;
}

/* A custom main that never handed us its arguments: read them back. */
static int plugin_argv_from_proc(void)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t) n;
        if (len == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return -ENOMEM;
    buf[len] = '\0';
    size_t count = 0;
    for (size_t i = 0; i < len; ++i)
        count += buf[i] == '\0';
    char **args = calloc(count + 1, sizeof(*args));
    if (!args) {
        free(buf);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < len && k < count; i += strlen(buf + i) + 1)
        args[k++] = buf + i;
    int nargc;
    char **nargv;
    char err[512];
    int rc = crmpi_options_parse((int) k, args, getenv("CRITERION_MPROC"),
            getenv("CRITERION_JOBS"), crmpi_cpus_usable(), &plugin_opts, &nargc, &nargv,
            err, sizeof(err));
    free(args);
    if (rc) {
        free(buf);
        plugin_usage_error(err);
    }
    plugin_cmdline = buf;
    plugin_argv = nargv;
    return 0;
}

CRMP_API int criterion_run_all_tests(struct criterion_test_set *set)
{
    if (plugin_inert())
        return real.run_all_tests(set);

    if (plugin_role == PLUGIN_WORKER)
        return crmpi_worker_run(set, real.run_all_tests);

    if (!plugin_args_handled) {
        if (plugin_argv_from_proc()) {
            crmpi_lazygit_flush();
            return real.run_all_tests(set);
        }
        plugin_args_handled = 1;
        plugin_apply_options();
    }

    if (plugin_role != PLUGIN_COORDINATOR)
        return real.run_all_tests(set);

    plugin_claim_fixtures();
    if (plugin_opts.connect) {
        /* A worker host: its tests are reported by the remote coordinator. */
        int status = crmpi_launcher_run(&plugin_opts, plugin_argv,
                set ? crmpi_units_most(set->suites) : 0);
        fflush(NULL);
        exit(status);
    }

    int status;
    int res = crmpi_coordinator_run(set, &plugin_opts, plugin_argv, &status);
    if (status >= 0) {
        fflush(NULL);
        if (status > 128 && status < 128 + NSIG) {
            /* Interrupted: die of the same signal, as the shell expects. */
            signal(status - 128, SIG_DFL);
            raise(status - 128);
        }
        exit(status);
    }
    return criterion_options.always_succeed || res;
}

CRMP_API void criterion_finalize(struct criterion_test_set *set)
{
    real.finalize(set);
    if (plugin_inert())
        return;
    crmpi_outputs_free();
    free(plugin_argv);
    free(plugin_cmdline);
    plugin_argv = NULL;
    plugin_cmdline = NULL;
}

/*
 * In a worker, these three drive the lazy suite list (see worker.h).  They are
 * found by Criterion's section scan; elsewhere they do nothing.
 */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    crmpi_worker_on_pre_all(set);
}

ReportHook(PRE_SUITE)(struct criterion_suite_set *set)
{
    crmpi_worker_on_pre_suite(set);
}

ReportHook(POST_SUITE)(struct criterion_suite_stats *stats)
{
    crmpi_worker_on_post_suite(stats);
}
