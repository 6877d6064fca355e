#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define AUTH_MAX_TOKEN 4096

/* Reads fd to its end (or one byte past the limit) into buf; the length or -errno. */
static ssize_t auth_read_all(int fd, uint8_t buf[AUTH_MAX_TOKEN + 1])
{
    size_t len = 0;
    ssize_t n;
    while (len <= AUTH_MAX_TOKEN && (n = read(fd, buf + len, AUTH_MAX_TOKEN + 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        len += (size_t) n;
    }
    return (ssize_t) len;
}

/* token = buf[0..len) less trailing newlines (an empty one: no token); 0 or -ENOMEM. */
static int auth_token_keep(const uint8_t *buf, size_t len, struct crmpi_token *token, char *err,
        size_t errlen)
{
    *token = (struct crmpi_token) { 0 };
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        --len;
    if (!len)
        return 0;
    token->bytes = malloc(len);
    if (!token->bytes) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    memcpy(token->bytes, buf, len);
    token->len = len;
    return 0;
}

int crmpi_token_load(const char *file, const char *env_value, struct crmpi_token *token,
        char *err, size_t errlen)
{
    *token = (struct crmpi_token) { 0 };
    uint8_t buf[AUTH_MAX_TOKEN + 1];
    size_t len = 0;

    if (file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot read token file %s: %s", file, strerror(e));
            return -e;
        }
        ssize_t n = auth_read_all(fd, buf);
        close(fd);
        if (n < 0) {
            snprintf(err, errlen, "cannot read token file %s: %s", file, strerror((int) -n));
            return (int) n;
        }
        len = (size_t) n;
        if (len > AUTH_MAX_TOKEN) {
            snprintf(err, errlen, "token file %s is larger than %d bytes", file, AUTH_MAX_TOKEN);
            return -EFBIG;
        }
    } else if (env_value) {
        len = strlen(env_value);
        if (len > AUTH_MAX_TOKEN) {
            snprintf(err, errlen, "CRITERION_MPROC_TOKEN is longer than %d bytes", AUTH_MAX_TOKEN);
            return -EFBIG;
        }
        memcpy(buf, env_value, len);
    }
    int rc = auth_token_keep(buf, len, token, err, errlen);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

int crmpi_token_load_configured(const char *file, struct crmpi_token *token, char *err,
        size_t errlen)
{
    int rc = crmpi_token_load(file, file ? NULL : getenv(CRMPI_ENV_TOKEN), token, err, errlen);
    crmpi_token_scrub_env();
    return rc;
}

void crmpi_token_free(struct crmpi_token *token)
{
    if (token->bytes)
        OPENSSL_cleanse(token->bytes, token->len);
    free(token->bytes);
    *token = (struct crmpi_token) { 0 };
}

void crmpi_token_scrub_env(void)
{
    /* The bytes too: /proc/PID/environ shows the initial block, whatever unsetenv does. */
    char *value = getenv(CRMPI_ENV_TOKEN);
    if (value)
        OPENSSL_cleanse(value, strlen(value));
    unsetenv(CRMPI_ENV_TOKEN);
}

int crmpi_token_to_fd(const struct crmpi_token *token)
{
    int fd = memfd_create("criterion-mproc-token", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < token->len) {
        ssize_t n = write(fd, token->bytes + done, token->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto err;
        done += (size_t) n;
    }
    /* Sealed: nothing that inherits it by mistake can change what workers prove. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL))
        goto err;
    return fd;
err:;
    int e = errno ? errno : EIO;
    close(fd);
    return -e;
}

/* A worker's token, from crmpi_token_inherit until it is taken or forgotten. */
static struct crmpi_token auth_inherited;
static int auth_inherit_rc;

int crmpi_token_inherit(char *err, size_t errlen)
{
    crmpi_token_free(&auth_inherited);
    const char *fd_name = getenv(CRMPI_ENV_TOKEN_FD);
    int rc = 0;
    if (fd_name) {
        char *end;
        errno = 0;
        long fd = strtol(fd_name, &end, 10);
        uint8_t buf[AUTH_MAX_TOKEN + 1];
        ssize_t n = -EBADF;
        if (!errno && end != fd_name && !*end && fd >= 0 && fd <= INT32_MAX) {
            n = pread((int) fd, buf, sizeof(buf), 0);
            n = n < 0 ? -errno : n;
            close((int) fd);
        }
        if (n < 0) {
            snprintf(err, errlen, "cannot read the token from descriptor %s: %s", fd_name,
                    strerror((int) -n));
            rc = (int) n;
        } else if (n > AUTH_MAX_TOKEN) {
            snprintf(err, errlen, "the token on descriptor %s is longer than %d bytes", fd_name,
                    AUTH_MAX_TOKEN);
            rc = -EFBIG;
        } else {
            rc = auth_token_keep(buf, (size_t) n, &auth_inherited, err, errlen);
        }
        OPENSSL_cleanse(buf, sizeof(buf));
    } else {
        rc = crmpi_token_load(NULL, getenv(CRMPI_ENV_TOKEN), &auth_inherited, err, errlen);
    }
    crmpi_token_scrub_env();
    unsetenv(CRMPI_ENV_TOKEN_FD);
    auth_inherit_rc = rc;
    return rc;
}

int crmpi_token_take_inherited(struct crmpi_token *out)
{
    *out = auth_inherited;
    auth_inherited = (struct crmpi_token) { 0 };
    return auth_inherit_rc;
}

void crmpi_token_forget_inherited(void)
{
    crmpi_token_free(&auth_inherited);
}

int crmpi_nonce(uint8_t out[CRMPI_NONCE_LEN])
{
    ssize_t n = getrandom(out, CRMPI_NONCE_LEN, 0);
    return n == CRMPI_NONCE_LEN ? 0 : -EIO;
}

int crmpi_auth_proof(const struct crmpi_token *token, const char *role,
        const uint8_t a[CRMPI_NONCE_LEN], const uint8_t b[CRMPI_NONCE_LEN],
        uint8_t out[CRMPI_PROOF_LEN])
{
    size_t rlen = strlen(role);
    uint8_t msg[64 + 2 * CRMPI_NONCE_LEN];
    if (rlen > 64)
        return -EINVAL;
    memcpy(msg, role, rlen);
    memcpy(msg + rlen, a, CRMPI_NONCE_LEN);
    memcpy(msg + rlen + CRMPI_NONCE_LEN, b, CRMPI_NONCE_LEN);
    unsigned outlen = 0;
    if (!HMAC(EVP_sha256(), token->bytes, (int) token->len, msg, rlen + 2 * CRMPI_NONCE_LEN,
            out, &outlen) || outlen != CRMPI_PROOF_LEN)
        return -EIO;
    return 0;
}

int crmpi_auth_verify(const struct crmpi_token *token, const char *role,
        const uint8_t a[CRMPI_NONCE_LEN], const uint8_t b[CRMPI_NONCE_LEN],
        const uint8_t *proof, size_t proof_len)
{
    uint8_t expected[CRMPI_PROOF_LEN];
    if (proof_len != CRMPI_PROOF_LEN || crmpi_auth_proof(token, role, a, b, expected))
        return 0;
    return CRYPTO_memcmp(expected, proof, CRMPI_PROOF_LEN) == 0;
}
