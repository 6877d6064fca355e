/*
 * Unit tests for plugin/wire.c: every kind of hostile input is an error,
 * never a crash, and sizes are bounded (the message builders: wire_build.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wire.h"
#include "wire_build.h"

/* ---- malformed bytes ---------------------------------------------------------------- */

static int t_decode_errno_ok(int rc)
{
    return rc == 0 || rc == -EBADMSG || rc == -EPROTO || rc == -EMSGSIZE;
}

/* What every successfully decoded message must satisfy. */
static void t_check_invariants(const Crmp__Envelope *env)
{
    cr_assert_eq(env->version, CRMPI_WIRE_VERSION);
    switch (env->body_case) {
    case CRMP__ENVELOPE__BODY_HELLO:
        cr_assert_not_null(env->hello);
        cr_assert_eq(env->hello->fingerprint.len, 32);
        if (env->hello->has_nonce)
            cr_assert_eq(env->hello->nonce.len, 16);
        for (size_t i = 0; i < env->hello->n_units; ++i) {
            cr_assert_not_null(env->hello->units[i]->suite);
            cr_assert_not_null(env->hello->units[i]->name);
            cr_assert_geq(env->hello->units[i]->param, -1);
        }
        break;
    case CRMP__ENVELOPE__BODY_RESULT: {
        const Crmp__Result *r = env->result;
        cr_assert_not_null(r);
        cr_assert_not_null(r->counters);
        if (r->final)
            cr_assert(r->final->status >= 0 && r->final->status <= 2);
        for (size_t i = 0; i < r->n_events; ++i) {
            const Crmp__Event *e = r->events[i];
            cr_assert((unsigned) e->kind <= CRMP__EVENT__KIND__ASSERT_PARAM_EQ);
            if (e->has_severity)
                cr_assert(e->severity >= 0 && e->severity <= 2);
            if (e->stats)
                cr_assert(e->stats->status >= 0 && e->stats->status <= 2);
            if (e->p1)
                cr_assert(e->p1->kind == 0 || e->p1->kind == 1);
            if (e->p2)
                cr_assert(e->p2->kind == 0 || e->p2->kind == 1);
        }
        break;
    }
    case CRMP__ENVELOPE__BODY_ASSIGN:
        cr_assert_not_null(env->assign);
        break;
    case CRMP__ENVELOPE__BODY_STOP:
        cr_assert_not_null(env->stop);
        break;
    case CRMP__ENVELOPE__BODY_REJECT:
        cr_assert_not_null(env->reject);
        cr_assert_not_null(env->reject->reason);
        break;
    case CRMP__ENVELOPE__BODY_CHALLENGE:
        cr_assert_not_null(env->challenge);
        cr_assert_eq(env->challenge->nonce.len, 16);
        cr_assert_eq(env->challenge->proof.len, 32);
        break;
    case CRMP__ENVELOPE__BODY_AUTH:
        cr_assert_not_null(env->auth);
        cr_assert_eq(env->auth->proof.len, 32);
        break;
    case CRMP__ENVELOPE__BODY_HEARTBEAT:
        cr_assert_not_null(env->heartbeat);
        break;
    default:
        cr_assert_fail("decoded a message without a known body (%d)", (int) env->body_case);
    }
}

static void t_decode_hostile(const uint8_t *buf, size_t len, const char *what, size_t index)
{
    Crmp__Envelope *out = (Crmp__Envelope *) 0x1;
    int rc = crmpi_wire_decode(buf, len, &out);
    cr_assert(t_decode_errno_ok(rc), "%s %zu: unexpected rc %d", what, index, rc);
    if (rc) {
        cr_assert_null(out, "%s %zu: *out set on error", what, index);
        return;
    }
    cr_assert_not_null(out);
    t_check_invariants(out);
    crmpi_wire_free(out);
}

Test(malformed, every_truncation_of_each_type_fails)
{
    struct t_result r;
    t_result_init(&r);
    struct t_hello h;
    t_hello_init(&h);
    Crmp__Assign a = CRMP__ASSIGN__INIT;
    a.unit = 300;
    Crmp__Reject rj = CRMP__REJECT__INIT;
    rj.reason = "no";
    Crmp__Envelope envs[] = {
        t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res),
        t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello),
        t_envelope(CRMP__ENVELOPE__BODY_ASSIGN, &a),
        t_envelope(CRMP__ENVELOPE__BODY_REJECT, &rj),
    };
    for (size_t m = 0; m < sizeof(envs) / sizeof(envs[0]); ++m) {
        size_t len;
        uint8_t *buf = t_encode(&envs[m], &len);
        for (size_t cut = 0; cut < len; ++cut) {
            /* A copy of exactly `cut` bytes, so that reading past it is visible. */
            uint8_t *part = malloc(cut ? cut : 1);
            cr_assert_not_null(part);
            memcpy(part, buf, cut);
            Crmp__Envelope *out = (Crmp__Envelope *) 0x1;
            int rc = crmpi_wire_decode(part, cut, &out);
            free(part);
            cr_assert_eq(rc, -EBADMSG, "%s cut to %zu of %zu bytes: rc %d",
                    crmpi_wire_body_name(envs[m].body_case), cut, len, rc);
            cr_assert_null(out);
        }
        free(buf);
    }
}

Test(malformed, garbage_bytes)
{
    static const uint8_t junk[][8] = {
        { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
        { 0x08, CRMPI_WIRE_VERSION, 0x12, 0x7f, 0x00, 0x00, 0x00, 0x00 },  /* hello longer than the buffer */
        { 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07 },  /* wire type 7 */
        { 0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 },  /* endless varint */
        { 'G', 'E', 'T', ' ', '/', ' ', 'H', 'T' },
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); ++i) {
        Crmp__Envelope *out = (Crmp__Envelope *) 0x1;
        int rc = crmpi_wire_decode(junk[i], sizeof(junk[i]), &out);
        cr_assert_eq(rc, -EBADMSG, "junk %zu: rc %d", i, rc);
        cr_assert_null(out);
    }
}

Test(malformed, unknown_field_only_is_no_body)
{
    /* this version, then field 15 (varint 1): skipped, which leaves no body. */
    const uint8_t buf[] = { 0x08, CRMPI_WIRE_VERSION, 0x78, 0x01 };
    Crmp__Envelope *out = (Crmp__Envelope *) 0x1;
    cr_assert_eq(crmpi_wire_decode(buf, sizeof(buf), &out), -EBADMSG);
    cr_assert_null(out);
}

Test(malformed, random_bytes_never_crash)
{
    uint64_t s = 0x9e3779b97f4a7c15u;
    uint8_t buf[96];
    for (size_t iter = 0; iter < 20000; ++iter) {
        size_t len = (size_t) (s % sizeof(buf));
        for (size_t i = 0; i < len; ++i) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf[i] = (uint8_t) s;
        }
        /* Half of them start like a real envelope, to get past the first field. */
        if (len >= 2 && (iter & 1)) {
            buf[0] = 0x08;
            buf[1] = 0x01;
        }
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        t_decode_hostile(buf, len, "random input", iter);
    }
}

Test(malformed, every_byte_mutation_of_a_result)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    size_t len;
    uint8_t *buf = t_encode(&env, &len);
    static const uint8_t values[] = { 0x00, 0x01, 0x03, 0x7f, 0x80, 0xff };
    uint8_t *copy = malloc(len);
    cr_assert_not_null(copy);
    for (size_t i = 0; i < len; ++i) {
        for (size_t v = 0; v < sizeof(values) + 1; ++v) {
            memcpy(copy, buf, len);
            copy[i] = v < sizeof(values) ? values[v] : (uint8_t) (buf[i] ^ 0x40);
            t_decode_hostile(copy, len, "mutated byte", i);
        }
    }
    free(copy);
    free(buf);
}

Test(malformed, two_bodies_concatenated)
{
    /* Protobuf merges concatenated messages: the oneof ends up with one body. */
    struct t_hello h;
    t_hello_init(&h);
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope e1 = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    Crmp__Envelope e2 = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    size_t l1, l2;
    uint8_t *b1 = t_encode(&e1, &l1);
    uint8_t *b2 = t_encode(&e2, &l2);
    uint8_t *both = malloc(l1 + l2);
    cr_assert_not_null(both);
    memcpy(both, b1, l1);
    memcpy(both + l1, b2, l2);
    t_decode_hostile(both, l1 + l2, "hello+result", 0);
    memcpy(both, b2, l2);
    memcpy(both + l2, b1, l1);
    t_decode_hostile(both, l1 + l2, "result+hello", 0);
    free(both);
    free(b1);
    free(b2);
}

/* ---- sizes ------------------------------------------------------------------------ */

Test(size, decode_refuses_oversized_input)
{
    size_t len = CRMPI_WIRE_MAX_MSG + 1;
    uint8_t *buf = calloc(1, len);
    cr_assert_not_null(buf);
    /* A valid start, so that only the size can be the reason. */
    buf[0] = 0x08;
    buf[1] = 0x01;
    Crmp__Envelope *out = (Crmp__Envelope *) 0x1;
    cr_assert_eq(crmpi_wire_decode(buf, len, &out), -EMSGSIZE);
    cr_assert_null(out);
    cr_assert_eq(crmpi_wire_decode(buf, SIZE_MAX, &out), -EMSGSIZE);
    cr_assert_null(out);
    free(buf);
}

Test(size, encode_refuses_oversized_messages)
{
    size_t n = CRMPI_WIRE_MAX_MSG + 16;
    char *reason = malloc(n + 1);
    cr_assert_not_null(reason);
    memset(reason, 'r', n);
    reason[n] = '\0';
    Crmp__Reject rj = CRMP__REJECT__INIT;
    rj.reason = reason;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_REJECT, &rj);
    uint8_t *out = (uint8_t *) 0x1;
    size_t len = 77;
    cr_assert_eq(crmpi_wire_encode(&env, &out, &len), -EMSGSIZE);
    free(reason);
}

Test(size, a_large_but_legal_message_round_trips)
{
    size_t n = 1024 * 1024;
    char *text = malloc(n + 1);
    cr_assert_not_null(text);
    for (size_t i = 0; i < n; ++i)
        text[i] = (char) ('a' + i % 26);
    text[n] = '\0';
    Crmp__Stop s = CRMP__STOP__INIT;
    s.reason = text;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_STOP, &s);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(strlen(out->stop->reason), n);
    cr_assert_eq(memcmp(out->stop->reason, text, n), 0);
    crmpi_wire_free(out);
    free(text);
}

/* ---- the executable's hash in Hello ----------------------------------------------- */

Test(wire, hello_exe_hash_must_be_32_bytes_when_present)
{
    struct t_hello h;
    t_hello_init(&h);
    h.hello.has_exe_hash = 1;
    h.hello.exe_hash = (ProtobufCBinaryData) { 31, (uint8_t *) t_fp };
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    t_expect_decode_error(&env, -EBADMSG, "a 31-byte executable hash");
}

Test(wire, hello_names_the_same_executable_only_with_an_equal_hash)
{
    struct t_hello h;
    t_hello_init(&h);
    uint8_t other[32];
    memcpy(other, t_fp, sizeof(other));
    other[31] ^= 1;
    cr_expect_not(crmpi_wire_hello_same_exe(&h.hello, t_fp), "a Hello without the hash passes");
    h.hello.has_exe_hash = 1;
    h.hello.exe_hash = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_expect(crmpi_wire_hello_same_exe(out->hello, t_fp));
    cr_expect_not(crmpi_wire_hello_same_exe(out->hello, other), "a different binary passes");
    crmpi_wire_free(out);
}
