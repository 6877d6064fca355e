/*
 * Worker authentication for remote workers: a shared token, proven in both
 * directions with HMAC-SHA256 over fresh nonces, never sent.  See the
 * Challenge and Auth messages in mproc.proto.
 */
#ifndef CRMPI_AUTH_H_
#define CRMPI_AUTH_H_

#include <stddef.h>
#include <stdint.h>

#define CRMPI_NONCE_LEN 16
#define CRMPI_PROOF_LEN 32

struct crmpi_token {
    uint8_t *bytes;     /* owned */
    size_t len;
};

/*
 * Loads the token from file (trailing newlines stripped) or, when file is
 * NULL, from env_value.  Returns 0 (token->len may be 0: no token), or a
 * negative errno code with a message in err.
 */
int crmpi_token_load(const char *file, const char *env_value, struct crmpi_token *token,
        char *err, size_t errlen);

void crmpi_token_free(struct crmpi_token *token);

/* Fills out with random bytes; 0 or a negative errno code. */
int crmpi_nonce(uint8_t out[CRMPI_NONCE_LEN]);

/* HMAC-SHA256(token, role || a || b). */
int crmpi_auth_proof(const struct crmpi_token *token, const char *role,
        const uint8_t a[CRMPI_NONCE_LEN], const uint8_t b[CRMPI_NONCE_LEN],
        uint8_t out[CRMPI_PROOF_LEN]);

/* Constant-time check of a received proof; 1 when it matches. */
int crmpi_auth_verify(const struct crmpi_token *token, const char *role,
        const uint8_t a[CRMPI_NONCE_LEN], const uint8_t b[CRMPI_NONCE_LEN],
        const uint8_t *proof, size_t proof_len);

#endif /* !CRMPI_AUTH_H_ */
