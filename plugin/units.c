#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crit.h"
#include "units.h"

static int units_push(struct crmpi_units *u, size_t *cap, struct crmpi_unit unit)
{
    if (u->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct crmpi_unit *nv = realloc(u->v, ncap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        u->v = nv;
        *cap = ncap;
    }
    u->v[u->n++] = unit;
    return 0;
}

static int units_disabled(const struct criterion_suite_set *ss, const struct criterion_test *t)
{
    return t->data->disabled || (ss->suite.data && ss->suite.data->disabled);
}

int crmpi_units_enumerate(struct criterion_ordered_set *suites, struct crmpi_units *out)
{
    *out = (struct crmpi_units) { 0 };
    size_t cap = 0;
    int rc = 0;

    FOREACH_SET(struct criterion_suite_set *ss, suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            struct crmpi_unit unit = { .suite = ss, .test = t, .param = -1 };
            if (units_disabled(ss, t) || t->data->kind_ != CR_TEST_PARAMETERIZED
                    || !t->data->param_) {
                rc = units_push(out, &cap, unit);
                if (rc)
                    goto err;
                continue;
            }
            struct criterion_test_params params = t->data->param_();
            for (size_t i = 0; i < params.length && !rc; ++i) {
                unit.param = (int) i;
                rc = units_push(out, &cap, unit);
            }
            if (params.cleanup)
                params.cleanup(&params);
            if (rc)
                goto err;
        }
    }
    return 0;

err:
    crmpi_units_free(out);
    return rc;
}

size_t crmpi_units_most(struct criterion_ordered_set *suites)
{
    size_t most = 0;    /* not n: FOREACH_SET's own node is n */
    FOREACH_SET(struct criterion_suite_set *ss, suites) {
        if (!ss->tests)
            continue;
        FOREACH_SET(struct criterion_test *t, ss->tests) {
            if (!units_disabled(ss, t) && t->data->kind_ == CR_TEST_PARAMETERIZED && t->data->param_)
                return 0;
            ++most;
        }
    }
    return most;
}

void crmpi_units_free(struct crmpi_units *units)
{
    free(units->v);
    *units = (struct crmpi_units) { 0 };
}

int crmpi_fingerprint_begin(struct crmpi_fingerprint *fp)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -EIO;
    }
    fp->ctx = ctx;
    return 0;
}

int crmpi_fingerprint_add(struct crmpi_fingerprint *fp, const char *suite,
        const char *name, int param)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%d\n", param);
    int ok = EVP_DigestUpdate(fp->ctx, suite, strlen(suite) + 1) == 1
        && EVP_DigestUpdate(fp->ctx, name, strlen(name) + 1) == 1
        && EVP_DigestUpdate(fp->ctx, num, (size_t) n) == 1;
    return ok ? 0 : -EIO;
}

int crmpi_fingerprint_end(struct crmpi_fingerprint *fp, uint8_t out[32])
{
    unsigned len = 0;
    int ok = EVP_DigestFinal_ex(fp->ctx, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(fp->ctx);
    fp->ctx = NULL;
    return ok ? 0 : -EIO;
}

int crmpi_fd_hash(int fd, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    int rc = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
    char buf[64 * 1024];
    while (!rc) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        if (n <= 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1)
            rc = -EIO;
    }
    unsigned len = 0;
    if (!rc && (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32))
        rc = -EIO;
    EVP_MD_CTX_free(ctx);
    return rc;
}

int crmpi_exe_hash(uint8_t out[32])
{
    /* The running image, even if its path was replaced since the start. */
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = crmpi_fd_hash(fd, out);
    close(fd);
    return rc;
}
