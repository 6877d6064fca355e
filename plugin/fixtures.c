/*
 * Fixture descriptors and the values they publish: finding them, running
 * them in this process, and the failure every test then reports.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crit.h"
#include "diag.h"
#include "fixtures.h"
#include "hooks.h"

extern char **environ;

/* Where the setup running now is named (crmpi_fixtures_running_in), or NULL. */
static char *fixtures_running;
static size_t fixtures_running_cap;

void crmpi_fixtures_running_in(char *buf, size_t cap)
{
    fixtures_running = buf;
    fixtures_running_cap = cap;
}

static struct {
    struct crmp_fixture **v;    /* owned array; the descriptors are the objects' */
    size_t n;
    int claimed;
    /* What crmpi_fixtures_setup set up, in order, for the teardowns. */
    struct crmp_fixture **up;   /* owned array */
    size_t n_up;
} fixtures;

int crmpi_fixture_valid(const struct crmp_fixture *f)
{
    return f->version == CRMP_FIXTURE_VERSION && f->kind >= CRMP_FIXTURE_GLOBAL
        && f->kind <= CRMP_FIXTURE_WORKER && f->setup != NULL;
}

static int fixtures_collect(void *start, size_t size, void *arg)
{
    (void) arg;
    for (size_t off = 0; off + sizeof(struct crmp_fixture) <= size;
            off += sizeof(struct crmp_fixture)) {
        struct crmp_fixture *f = (void *) ((char *) start + off);
        if (!crmpi_fixture_valid(f)) {
            crmpi_warn("ignoring a fixture descriptor of an unknown version or kind");
            return 0;
        }
        struct crmp_fixture **grown = realloc(fixtures.v, (fixtures.n + 1) * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        fixtures.v = grown;
        fixtures.v[fixtures.n++] = f;
        f->state_ = CRMP_FIXTURE_PLUGIN_;
    }
    return 0;
}

int crmpi_fixtures_claim(void)
{
    if (fixtures.claimed)
        return (int) fixtures.n;
    int rc = crmpi_sections_foreach("crmp_fixture", fixtures_collect, NULL);
    if (rc < 0)
        return rc;
    fixtures.claimed = 1;
    fixtures.up = calloc(fixtures.n ? fixtures.n : 1, sizeof(*fixtures.up));
    return fixtures.up ? (int) fixtures.n : -ENOMEM;
}

int crmpi_fixtures_any(int kind)
{
    for (size_t i = 0; i < fixtures.n; ++i)
        if (fixtures.v[i]->kind == kind)
            return 1;
    return 0;
}

static const char *fixtures_kind_name(int kind)
{
    return kind == CRMP_FIXTURE_GLOBAL ? "global" : kind == CRMP_FIXTURE_NODE ? "node" : "worker";
}

int crmpi_fixtures_setup(int first, int last, char *msg, size_t cap)
{
    for (int kind = first; kind <= last; ++kind)
        for (size_t i = 0; i < fixtures.n; ++i) {
            struct crmp_fixture *f = fixtures.v[i];
            if (f->kind != kind || f->state_ != CRMP_FIXTURE_PLUGIN_)
                continue;
            crmpi_debug("%s fixture %s (%s:%d): setting up", fixtures_kind_name(kind), f->name,
                    f->file, f->line);
            if (fixtures_running)
                snprintf(fixtures_running, fixtures_running_cap, "%s fixture %s (%s:%d)",
                        fixtures_kind_name(kind), f->name, f->file, f->line);
            int rc = f->setup();
            fflush(NULL);
            if (rc) {
                f->state_ = CRMP_FIXTURE_DONE_;
                snprintf(msg, cap, "%s fixture %s (%s:%d) failed: returned %d",
                        fixtures_kind_name(kind), f->name, f->file, f->line, rc);
                return -1;
            }
            f->state_ = CRMP_FIXTURE_UP_;
            fixtures.up[fixtures.n_up++] = f;
        }
    return 0;
}

int crmpi_fixtures_setup_noted(const char *note, char *msg, size_t cap)
{
    char *shared = MAP_FAILED;
    if (note) {
        int fd = open(note, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0 && !ftruncate(fd, CRMPI_FIXTURE_RUNNING_MAX))
            shared = mmap(NULL, CRMPI_FIXTURE_RUNNING_MAX, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fd, 0);
        if (fd >= 0)
            close(fd);
        /* Without a note a crash is still seen, only not put down to its setup. */
        if (shared == MAP_FAILED)
            crmpi_debug("cannot keep the fixtures' note %s: %s", note, strerror(errno));
    }
    if (shared != MAP_FAILED)
        crmpi_fixtures_running_in(shared, CRMPI_FIXTURE_RUNNING_MAX);
    int rc = crmpi_fixtures_setup(CRMP_FIXTURE_WORKER, CRMP_FIXTURE_WORKER, msg, cap);
    if (shared != MAP_FAILED) {
        crmpi_fixtures_running_in(NULL, 0);
        munmap(shared, CRMPI_FIXTURE_RUNNING_MAX);
        unlink(note);
    }
    return rc;
}

void crmpi_fixtures_crash_message(char *msg, size_t cap, const char *what, int status)
{
    if (WIFSIGNALED(status))
        snprintf(msg, cap, "%s crashed: %s", what, strsignal(WTERMSIG(status)));
    else
        snprintf(msg, cap, "%s exited with status %d before it returned", what,
                WEXITSTATUS(status));
}

int crmpi_fixtures_take_note(const char *note, int status, char *msg, size_t cap)
{
    char what[CRMPI_FIXTURE_RUNNING_MAX] = "";
    int fd = open(note, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n;
    do
        n = read(fd, what, sizeof(what) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    unlink(note);
    what[n > 0 ? n : 0] = '\0';
    /* A note still there names the setup the process was in when it ended. */
    if (!what[0] || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return 0;
    crmpi_fixtures_crash_message(msg, cap, what, status);
    return 1;
}

void crmpi_fixtures_note_path(char *path, size_t cap, const char *dir, unsigned slot)
{
    snprintf(path, cap, "%s/fixture.%u", dir, slot);
}

int crmpi_fixtures_worker_died(const char *note, unsigned slot, pid_t pid, int status,
        char *env, size_t cap)
{
    char why[CRMPI_FIXTURE_RUNNING_MAX + 64];
    if (!crmpi_fixtures_take_note(note, status, why, sizeof(why)))
        return 0;
    crmpi_warn("worker %u (pid %ld): %s", slot, (long) pid, why);
    if (!*env)
        snprintf(env, cap, "%s=%s", CRMP_FIXTURE_FAILED_ENV, why);
    return 1;
}

void crmpi_fixtures_teardown(void)
{
    while (fixtures.n_up) {
        struct crmp_fixture *f = fixtures.up[--fixtures.n_up];
        f->state_ = CRMP_FIXTURE_DONE_;
        if (f->teardown)
            f->teardown();
    }
    fflush(NULL);
}

const char *crmpi_fixtures_failed(void)
{
    const char *msg = getenv(CRMP_FIXTURE_FAILED_ENV);
    return msg && *msg ? msg : NULL;
}

int crmpi_fixtures_set_failed(const char *msg)
{
    crmpi_error("%s: every test fails", msg);
    return setenv(CRMP_FIXTURE_FAILED_ENV, msg, 1) ? -errno : 0;
}

static void fixtures_nothing(void)
{
}

/*
 * The plugin does not link libcriterion (it finds it at run time): the
 * test-side calls a failing test makes, as cr_assert_fail would.
 */
static void *fixtures_crit(const char *name)
{
    void *fn = dlsym(RTLD_DEFAULT, name);
    if (!fn) {
        /* Never expected: Criterion's own test code is what runs tests. */
        fprintf(stderr, "criterion-mproc: %s not found\n", name);
        _exit(127);
    }
    return fn;
}

static void fixtures_failed_body(void)
{
    const char *msg = crmpi_fixtures_failed();
    struct criterion_assert_stats stat = {
        .message = msg ? msg : "a fixture failed",
        .passed = false,
        .line = 0,
        .file = "(fixture)",
    };
    ((void (*)(struct criterion_assert_stats *)) fixtures_crit("criterion_send_assert"))(&stat);
    ((void (*)(void)) fixtures_crit("criterion_abort_test"))();
}

/* Criterion's test code around the failure: the runner sees an ordinary failed test. */
static void fixtures_failed_test(void)
{
    ((void (*)(void)) fixtures_crit(CRMPI_CRIT_TEST_SETUP))();
    ((void (*)(void (*)(void))) fixtures_crit(CRMPI_CRIT_TEST_MAIN))(
            fixtures_failed_body);
    ((void (*)(void)) fixtures_crit(CRMPI_CRIT_TEST_TEARDOWN))();
}

void crmpi_fixtures_fail_test(struct criterion_test *test, struct criterion_test_extra_data *data)
{
    test->test = fixtures_failed_test;
    data->init = fixtures_nothing;
    data->fini = fixtures_nothing;
    data->exit_code = 0;
    data->signal = 0;
}

/* ---- values ---------------------------------------------------------------------- */

static int fixtures_key_ok(const char *key)
{
    char name[sizeof(CRMP_GLOBAL_PREFIX) + CRMP_GLOBAL_KEY_MAX];
    return crmp_global_name_(key, name, sizeof(name)) == 0;
}

int crmpi_fixture_kv_add(struct crmpi_fixture_kv *kv, const char *key, const char *value)
{
    if (!fixtures_key_ok(key) || strlen(value) > CRMP_GLOBAL_VALUE_MAX)
        return -EINVAL;
    char **keys = realloc(kv->keys, (kv->n + 1) * sizeof(*keys));
    if (keys)
        kv->keys = keys;
    char **values = keys ? realloc(kv->values, (kv->n + 1) * sizeof(*values)) : NULL;
    if (values)
        kv->values = values;
    char *k = values ? strdup(key) : NULL;
    char *v = k ? strdup(value) : NULL;
    if (!v) {
        free(k);
        return -ENOMEM;
    }
    kv->keys[kv->n] = k;
    kv->values[kv->n++] = v;
    return 0;
}

int crmpi_fixture_kv_from_env(struct crmpi_fixture_kv *kv)
{
    *kv = (struct crmpi_fixture_kv) { 0 };
    size_t plen = strlen(CRMP_GLOBAL_PREFIX);
    for (char **e = environ; e && *e; ++e) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, CRMP_GLOBAL_PREFIX, plen) || !eq)
            continue;
        char key[CRMP_GLOBAL_KEY_MAX + 1];
        size_t klen = (size_t) (eq - *e) - plen;
        if (klen == 0 || klen > CRMP_GLOBAL_KEY_MAX)
            continue;
        memcpy(key, *e + plen, klen);
        key[klen] = '\0';
        int rc = crmpi_fixture_kv_add(kv, key, eq + 1);
        if (rc == -ENOMEM) {
            crmpi_fixture_kv_free(kv);
            return rc;
        }
    }
    return 0;
}

int crmpi_fixture_kv_to_env(const struct crmpi_fixture_kv *kv)
{
    for (size_t i = 0; i < kv->n; ++i) {
        char name[sizeof(CRMP_GLOBAL_PREFIX) + CRMP_GLOBAL_KEY_MAX];
        if (crmp_global_name_(kv->keys[i], name, sizeof(name)))
            return -EINVAL;
        if (setenv(name, kv->values[i], 1))
            return -errno;
    }
    return 0;
}

void crmpi_fixture_kv_free(struct crmpi_fixture_kv *kv)
{
    for (size_t i = 0; i < kv->n; ++i) {
        free(kv->keys[i]);
        free(kv->values[i]);
    }
    free(kv->keys);
    free(kv->values);
    *kv = (struct crmpi_fixture_kv) { 0 };
}
