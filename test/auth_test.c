/*
 * Unit tests for plugin/auth.c: tokens, nonces and the HMAC proofs of the
 * remote-worker handshake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "auth.h"

static struct crmpi_token t_token(const char *value)
{
    struct crmpi_token t;
    char err[128];
    cr_assert_eq(crmpi_token_load(NULL, value, &t, err, sizeof(err)), 0, "%s", err);
    return t;
}

Test(auth, proof_verifies_with_the_same_token_only)
{
    struct crmpi_token good = t_token("s3cret"), bad = t_token("s3cret!");
    uint8_t a[CRMPI_NONCE_LEN], b[CRMPI_NONCE_LEN], proof[CRMPI_PROOF_LEN];
    cr_assert_eq(crmpi_nonce(a), 0);
    cr_assert_eq(crmpi_nonce(b), 0);
    cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "two nonces are equal");
    cr_assert_eq(crmpi_auth_proof(&good, "crmp-worker", a, b, proof), 0);
    cr_expect(crmpi_auth_verify(&good, "crmp-worker", a, b, proof, sizeof(proof)));
    cr_expect_not(crmpi_auth_verify(&bad, "crmp-worker", a, b, proof, sizeof(proof)));
    cr_expect_not(crmpi_auth_verify(&good, "crmp-coordinator", a, b, proof, sizeof(proof)),
            "a proof for one role passes for the other");
    cr_expect_not(crmpi_auth_verify(&good, "crmp-worker", b, a, proof, sizeof(proof)),
            "a proof replayed with the nonces swapped passes");
    cr_expect_not(crmpi_auth_verify(&good, "crmp-worker", a, b, proof, sizeof(proof) - 1));
    proof[5] ^= 1;
    cr_expect_not(crmpi_auth_verify(&good, "crmp-worker", a, b, proof, sizeof(proof)));
    crmpi_token_free(&good);
    crmpi_token_free(&bad);
}

Test(auth, token_from_file_strips_the_newline)
{
    char path[] = "/tmp/crmp-token-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_neq(fd, -1);
    cr_assert_eq(write(fd, "s3cret\n", 7), 7);
    close(fd);
    struct crmpi_token t;
    char err[128];
    cr_assert_eq(crmpi_token_load(path, NULL, &t, err, sizeof(err)), 0);
    cr_expect_eq(t.len, 6);
    cr_expect_eq(memcmp(t.bytes, "s3cret", 6), 0);
    crmpi_token_free(&t);
    unlink(path);
}

Test(auth, missing_file_is_an_error_with_a_message)
{
    struct crmpi_token t;
    char err[128] = "";
    cr_expect_lt(crmpi_token_load("/nonexistent/token", NULL, &t, err, sizeof(err)), 0);
    cr_expect(strstr(err, "/nonexistent/token") != NULL, "message: %s", err);
}

Test(auth, no_token_is_empty)
{
    struct crmpi_token t = t_token(NULL);
    cr_expect_eq(t.len, 0);
    cr_expect_null(t.bytes);
}
