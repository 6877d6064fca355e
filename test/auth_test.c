/*
 * Unit tests for plugin/auth.c: tokens, nonces and the HMAC proofs of the
 * remote-worker handshake.
 */
#include <fcntl.h>
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

Test(auth, token_on_a_sealed_descriptor_read_once_and_scrubbed)
{
    struct crmpi_token t = t_token("s3cret");
    int fd = crmpi_token_to_fd(&t);
    cr_assert_geq(fd, 0);
    cr_expect_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "inherited by every exec");
    cr_expect_eq(write(fd, "x", 1), -1, "the token can be changed");
    char name[16];
    snprintf(name, sizeof(name), "%d", fd);
    cr_assert_eq(setenv("CRITERION_MPROC_TOKEN_FD", name, 1), 0);
    cr_assert_eq(setenv("CRITERION_MPROC_TOKEN", "not-this-one", 1), 0);
    char err[128] = "";
    cr_assert_eq(crmpi_token_inherit(err, sizeof(err)), 0, "%s", err);
    cr_expect_null(getenv("CRITERION_MPROC_TOKEN_FD"));
    cr_expect_null(getenv("CRITERION_MPROC_TOKEN"));
    cr_expect_eq(fcntl(fd, F_GETFD), -1, "the descriptor is still open");
    struct crmpi_token got;
    cr_expect_eq(crmpi_token_take_inherited(&got), 0);
    cr_assert_eq(got.len, 6);
    cr_expect_eq(memcmp(got.bytes, "s3cret", 6), 0);
    crmpi_token_free(&got);
    crmpi_token_free(&t);
}

Test(auth, inherited_from_the_variable_when_started_by_hand)
{
    cr_assert_eq(unsetenv("CRITERION_MPROC_TOKEN_FD"), 0);
    cr_assert_eq(setenv("CRITERION_MPROC_TOKEN", "by-hand\n", 1), 0);
    char err[128] = "";
    cr_assert_eq(crmpi_token_inherit(err, sizeof(err)), 0, "%s", err);
    cr_expect_null(getenv("CRITERION_MPROC_TOKEN"));
    struct crmpi_token got;
    cr_expect_eq(crmpi_token_take_inherited(&got), 0);
    cr_assert_eq(got.len, 7);
    cr_expect_eq(memcmp(got.bytes, "by-hand", 7), 0);
    crmpi_token_free(&got);
    /* Taken: a second take finds nothing. */
    cr_expect_eq(crmpi_token_take_inherited(&got), 0);
    cr_expect_eq(got.len, 0);
}

Test(auth, a_bad_descriptor_is_an_error_with_a_message)
{
    cr_assert_eq(setenv("CRITERION_MPROC_TOKEN_FD", "99999", 1), 0);
    char err[128] = "";
    cr_expect_lt(crmpi_token_inherit(err, sizeof(err)), 0);
    cr_expect(strstr(err, "99999") != NULL, "%s", err);
    cr_expect_null(getenv("CRITERION_MPROC_TOKEN_FD"));
    struct crmpi_token got;
    cr_expect_lt(crmpi_token_take_inherited(&got), 0);
    cr_expect_eq(got.len, 0);
}
