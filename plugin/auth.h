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

#define CRMPI_ENV_TOKEN "CRITERION_MPROC_TOKEN"
#define CRMPI_ENV_TOKEN_FD "CRITERION_MPROC_TOKEN_FD"

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

/*
 * The token a coordinator or worker host was given: file (--mproc-token-file)
 * or, when NULL, CRITERION_MPROC_TOKEN, which is then scrubbed
 * (crmpi_token_scrub_env).  As crmpi_token_load.
 */
int crmpi_token_load_configured(const char *file, struct crmpi_token *token, char *err,
        size_t errlen);

/*
 * Wipes CRITERION_MPROC_TOKEN's value in place and removes it from the
 * environment, once read: no process of the run may find it there (tests
 * can read their ancestors' /proc/PID/environ).
 */
void crmpi_token_scrub_env(void);

/*
 * Workers get the token on a descriptor, never in their environment, which
 * every test process would inherit.  crmpi_token_to_fd returns a sealed,
 * close-on-exec memfd holding token (the caller owns it), or -errno.
 */
int crmpi_token_to_fd(const struct crmpi_token *token);

/*
 * In a worker, before anything forks or runs a test: reads the token from the
 * descriptor CRITERION_MPROC_TOKEN_FD names (or, for a worker started by
 * hand, from CRITERION_MPROC_TOKEN), closes the descriptor and removes both
 * variables from the environment.  The token is kept until
 * crmpi_token_take_inherited moves it out (ownership to the caller; it
 * returns what crmpi_token_inherit returned) or crmpi_token_forget_inherited
 * wipes it (in a process forked to run tests).  Returns 0 (no token is not an
 * error), or -errno with a message in err.
 */
int crmpi_token_inherit(char *err, size_t errlen);
int crmpi_token_take_inherited(struct crmpi_token *out);
void crmpi_token_forget_inherited(void);

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
