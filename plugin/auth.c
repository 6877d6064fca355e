#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define AUTH_MAX_TOKEN 4096

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
        ssize_t n;
        while (len <= AUTH_MAX_TOKEN && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
            len += (size_t) n;
        close(fd);
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
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

void crmpi_token_free(struct crmpi_token *token)
{
    if (token->bytes)
        OPENSSL_cleanse(token->bytes, token->len);
    free(token->bytes);
    *token = (struct crmpi_token) { 0 };
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
