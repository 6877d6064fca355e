/*
 * Setups that may crash run in a process of their own: the coordinator's
 * global (and its host's node) fixtures, the worker host's node fixtures.
 * The process stays for the run so that the teardowns find what the
 * setups left in memory; it reports with a small versioned record
 * (crmpi_fixture_report_*), every byte of which the reader checks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "fixtures.h"

/* "CRFX", the version, then little-endian fields (see crmpi_fixture_report_encode). */
#define FXH_MAGIC "CRFX"
#define FXH_VERSION 1
#define FXH_MSG_MAX 1024
#define FXH_MAX_VALUES 256
#define FXH_MAX_REPORT (FXH_MAX_VALUES * (CRMP_GLOBAL_KEY_MAX + CRMP_GLOBAL_VALUE_MAX + 8) \
        + FXH_MSG_MAX + 16)

struct fxh_buf {
    uint8_t *p;
    size_t len, cap;
};

static int fxh_put(struct fxh_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap : 256);
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static int fxh_put_u32(struct fxh_buf *b, uint32_t v)
{
    uint8_t le[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
    return fxh_put(b, le, 4);
}

static int fxh_put_str(struct fxh_buf *b, const char *s)
{
    size_t n = strlen(s);
    return fxh_put_u32(b, (uint32_t) n) ? -ENOMEM : fxh_put(b, s, n);
}

/*
 * The record: "CRFX", version byte, u32 message length and the message
 * ("" when every setup succeeded), then two lists (the global values, the
 * node ones), each a u32 count and as many key/value pairs, each string a
 * u32 length and its bytes.  Nothing follows.
 */
int crmpi_fixture_report_encode(const char *failed, const struct crmpi_fixture_kv *global,
        const struct crmpi_fixture_kv *node, uint8_t **out, size_t *len)
{
    struct fxh_buf b = { 0 };
    uint8_t version = FXH_VERSION;
    if (global->n > FXH_MAX_VALUES || node->n > FXH_MAX_VALUES
            || (failed && strlen(failed) > FXH_MSG_MAX))
        return -EINVAL;
    int rc = fxh_put(&b, FXH_MAGIC, 4) || fxh_put(&b, &version, 1)
        || fxh_put_str(&b, failed ? failed : "");
    for (const struct crmpi_fixture_kv *kv = global; !rc && kv; kv = kv == global ? node : NULL) {
        rc = fxh_put_u32(&b, (uint32_t) kv->n);
        for (size_t i = 0; !rc && i < kv->n; ++i)
            rc = fxh_put_str(&b, kv->keys[i]) || fxh_put_str(&b, kv->values[i]);
    }
    if (rc) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

struct fxh_reader {
    const uint8_t *p;
    size_t left;
};

static int fxh_get_u32(struct fxh_reader *r, uint32_t *v)
{
    if (r->left < 4)
        return -EBADMSG;
    *v = (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16
        | (uint32_t) r->p[3] << 24;
    r->p += 4;
    r->left -= 4;
    return 0;
}

/* A string of at most max bytes, without NUL, copied into a fresh buffer (owned by the caller). */
static int fxh_get_str(struct fxh_reader *r, size_t max, char **s)
{
    uint32_t n;
    if (fxh_get_u32(r, &n) || n > max || n > r->left || memchr(r->p, '\0', n))
        return -EBADMSG;
    *s = malloc((size_t) n + 1);
    if (!*s)
        return -ENOMEM;
    memcpy(*s, r->p, n);
    (*s)[n] = '\0';
    r->p += n;
    r->left -= n;
    return 0;
}

static int fxh_get_kv(struct fxh_reader *r, struct crmpi_fixture_kv *kv)
{
    uint32_t count;
    int rc = fxh_get_u32(r, &count);
    if (!rc && count > FXH_MAX_VALUES)
        rc = -EBADMSG;
    for (uint32_t i = 0; !rc && i < count; ++i) {
        char *k = NULL, *v = NULL;
        rc = fxh_get_str(r, CRMP_GLOBAL_KEY_MAX, &k);
        if (!rc)
            rc = fxh_get_str(r, CRMP_GLOBAL_VALUE_MAX, &v);
        if (!rc)
            rc = crmpi_fixture_kv_add(kv, k, v);
        if (rc == -EINVAL)
            rc = -EBADMSG;
        free(k);
        free(v);
    }
    return rc;
}

int crmpi_fixture_report_decode(const uint8_t *buf, size_t len, char *msg, size_t cap,
        struct crmpi_fixture_kv *global, struct crmpi_fixture_kv *node)
{
    *global = (struct crmpi_fixture_kv) { 0 };
    *node = (struct crmpi_fixture_kv) { 0 };
    struct fxh_reader r = { buf, len };
    if (!buf || len < 5 || memcmp(buf, FXH_MAGIC, 4) || buf[4] != FXH_VERSION)
        return -EBADMSG;
    r.p += 5;
    r.left -= 5;
    char *m = NULL;
    int rc = fxh_get_str(&r, FXH_MSG_MAX, &m);
    if (!rc)
        rc = fxh_get_kv(&r, global);
    if (!rc)
        rc = fxh_get_kv(&r, node);
    if (!rc && r.left)
        rc = -EBADMSG;
    if (!rc)
        snprintf(msg, cap, "%s", m);
    free(m);
    if (rc) {
        crmpi_fixture_kv_free(global);
        crmpi_fixture_kv_free(node);
    }
    return rc;
}

/* ---- the process ---------------------------------------------------------------------- */

static int fxh_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static _Noreturn void fxh_main(int report_fd, int cmd_fd, int first, int last)
{
    prctl(PR_SET_NAME, "crmp-fixtures");
    char msg[FXH_MSG_MAX + 1] = "";
    /* What the global setups publish goes everywhere; what node ones add, to this host only. */
    int failed = first == CRMP_FIXTURE_GLOBAL
        && crmpi_fixtures_setup(CRMP_FIXTURE_GLOBAL, CRMP_FIXTURE_GLOBAL, msg, sizeof(msg));
    struct crmpi_fixture_kv global = { 0 }, all, node = { 0 };
    if (first == CRMP_FIXTURE_GLOBAL && crmpi_fixture_kv_from_env(&global))
        _exit(127);
    if (!failed && last == CRMP_FIXTURE_NODE)
        failed = crmpi_fixtures_setup(CRMP_FIXTURE_NODE, CRMP_FIXTURE_NODE, msg, sizeof(msg));
    if (crmpi_fixture_kv_from_env(&all))
        _exit(127);
    for (size_t i = 0; i < all.n; ++i) {
        size_t j = 0;
        while (j < global.n && (strcmp(global.keys[j], all.keys[i])
                    || strcmp(global.values[j], all.values[i])))
            ++j;
        if (j == global.n && crmpi_fixture_kv_add(&node, all.keys[i], all.values[i]))
            _exit(127);
    }
    uint8_t *rep = NULL;
    size_t len = 0;
    if (crmpi_fixture_report_encode(failed ? msg : NULL, &global, &node, &rep, &len))
        _exit(127);
    crmpi_fixture_kv_free(&global);
    crmpi_fixture_kv_free(&node);
    crmpi_fixture_kv_free(&all);
    int rc = fxh_write_all(report_fd, rep, len);
    free(rep);
    close(report_fd);
    if (rc)
        crmpi_fixtures_teardown();
    /*
     * Ctrl-C reaches the whole process group: the teardowns wait for the
     * coordinator, which ends the run first.  EOF on cmd_fd is its word, or
     * its death.
     */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    for (char c; !rc;) {
        ssize_t r = read(cmd_fd, &c, 1);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            break;
    }
    if (!rc)
        crmpi_fixtures_teardown();
    _exit(0);
}

/* Shared with the fixtures' process: the setup it runs now (crmpi_fixtures_running_in). */
#define FXH_RUNNING_MAX 512

static void fxh_describe_crash(int status, const char *running, char *msg, size_t cap)
{
    char what[FXH_RUNNING_MAX];
    snprintf(what, sizeof(what), "%s", running && *running ? running : "fixture setup");
    if (WIFSIGNALED(status))
        snprintf(msg, cap, "%s crashed: %s", what, strsignal(WTERMSIG(status)));
    else
        snprintf(msg, cap, "%s exited with status %d before it returned", what,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int crmpi_fixture_host_start(struct crmpi_fixture_host *h, int first, int last,
        struct crmpi_fixture_kv *out)
{
    *h = (struct crmpi_fixture_host) { .cmd_fd = -1 };
    int any = 0;
    for (int k = first; k <= last; ++k)
        any |= crmpi_fixtures_any(k);
    if (!any)
        return 0;
    int rep[2], cmd[2];
    if (pipe2(rep, O_CLOEXEC))
        return -errno;
    if (pipe2(cmd, O_CLOEXEC)) {
        int e = errno;
        close(rep[0]);
        close(rep[1]);
        return -e;
    }
    char *running = mmap(NULL, FXH_RUNNING_MAX, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (running == MAP_FAILED)
        running = NULL;
    /* Nothing buffered may be written twice. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(rep[0]);
        close(cmd[1]);
        if (running)
            crmpi_fixtures_running_in(running, FXH_RUNNING_MAX);
        fxh_main(rep[1], cmd[0], first, last);
    }
    int e = errno;
    close(rep[1]);
    close(cmd[0]);
    if (pid < 0) {
        close(rep[0]);
        close(cmd[1]);
        if (running)
            munmap(running, FXH_RUNNING_MAX);
        return -e;
    }
    h->pid = pid;
    h->cmd_fd = cmd[1];

    struct fxh_buf b = { 0 };
    uint8_t chunk[4096];
    ssize_t n;
    while ((n = read(rep[0], chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || b.len + (size_t) n > FXH_MAX_REPORT || fxh_put(&b, chunk, (size_t) n))
            break;
    }
    close(rep[0]);
    char msg[FXH_MSG_MAX + 1];
    struct crmpi_fixture_kv kv, node;
    int rc = crmpi_fixture_report_decode(b.p, b.len, msg, sizeof(msg), &kv, &node);
    free(b.p);
    if (rc) {
        /* No whole report: the setup took its process down. */
        int status = 0;
        waitpid(pid, &status, 0);
        h->pid = 0;
        close(h->cmd_fd);
        h->cmd_fd = -1;
        if (running)
            running[FXH_RUNNING_MAX - 1] = '\0';
        fxh_describe_crash(status, running, msg, sizeof(msg));
        if (running)
            munmap(running, FXH_RUNNING_MAX);
        crmpi_fixtures_set_failed(msg);
        return 1;
    }
    if (running)
        munmap(running, FXH_RUNNING_MAX);
    rc = crmpi_fixture_kv_to_env(&kv);
    if (!rc)
        rc = crmpi_fixture_kv_to_env(&node);
    crmpi_fixture_kv_free(&node);
    if (out)
        *out = kv;
    else
        crmpi_fixture_kv_free(&kv);
    if (rc)
        crmpi_warn("cannot publish the fixtures' values: %s", strerror(-rc));
    if (*msg) {
        crmpi_fixtures_set_failed(msg);
        return 1;
    }
    return 0;
}

void crmpi_fixture_host_stop(struct crmpi_fixture_host *h)
{
    if (h->cmd_fd >= 0)
        close(h->cmd_fd);
    h->cmd_fd = -1;
    if (h->pid > 0) {
        int status;
        while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    h->pid = 0;
}
