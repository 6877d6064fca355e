/*
 * The messages the wire unit tests build, encode and decode (wire_test.c,
 * wire_malformed_test.c): one of each type, using every field.
 */
#ifndef CRMP_TEST_WIRE_BUILD_H_
#define CRMP_TEST_WIRE_BUILD_H_

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wire.h"

/* ---- building messages ------------------------------------------------------ */

static Crmp__Envelope t_envelope(Crmp__Envelope__BodyCase body, void *msg)
{
    Crmp__Envelope env = CRMP__ENVELOPE__INIT;
    env.version = CRMPI_WIRE_VERSION;
    env.body_case = body;
    switch (body) {
    case CRMP__ENVELOPE__BODY_HELLO: env.hello = msg; break;
    case CRMP__ENVELOPE__BODY_RESULT: env.result = msg; break;
    case CRMP__ENVELOPE__BODY_ASSIGN: env.assign = msg; break;
    case CRMP__ENVELOPE__BODY_STOP: env.stop = msg; break;
    case CRMP__ENVELOPE__BODY_REJECT: env.reject = msg; break;
    case CRMP__ENVELOPE__BODY_CHALLENGE: env.challenge = msg; break;
    case CRMP__ENVELOPE__BODY_AUTH: env.auth = msg; break;
    case CRMP__ENVELOPE__BODY_HEARTBEAT: env.heartbeat = msg; break;
    case CRMP__ENVELOPE__BODY_LIST_WANTED: env.list_wanted = msg; break;
    case CRMP__ENVELOPE__BODY_ARTIFACT: env.artifact = msg; break;
    case CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN: env.artifact_taken = msg; break;
    default: break;
    }
    return env;
}

/* A Result that uses every field and every event kind. */
struct t_result {
    Crmp__Result res;
    Crmp__TestStats final;
    Crmp__TestStats ev_stats;
    Crmp__AssertStats assert_a, assert_b;
    Crmp__AssertStats *asserts[2];
    Crmp__LogParam p1, p2;
    Crmp__Counters counters;
    Crmp__Event ev[CRMP__EVENT__KIND__ASSERT_PARAM_EQ + 1];
    Crmp__Event *evp[CRMP__EVENT__KIND__ASSERT_PARAM_EQ + 1];
};

static uint8_t t_raw[] = { 0x00, 0x01, 0xff, 0x7f, 0x80 };

static void t_result_init(struct t_result *r)
{
    memset(r, 0, sizeof(*r));
    r->final = (Crmp__TestStats) CRMP__TEST_STATS__INIT;
    r->final.status = 1;
    r->final.passed_asserts = 3;
    r->final.failed_asserts = 2;
    r->final.signal = 11;
    r->final.exit_code = -4;
    r->final.elapsed_time = 0.25f;
    r->final.timed_out = 1;
    r->final.crashed = 1;
    r->final.progress = 4242;
    r->final.file = "dir/file \"quoted\".c";
    r->final.message = "line one\nline \\two\\";

    r->ev_stats = r->final;
    r->ev_stats.status = 2;
    r->ev_stats.message = NULL;

    r->assert_a = (Crmp__AssertStats) CRMP__ASSERT_STATS__INIT;
    r->assert_a.message = "expected \"a\"\n  got \"b\"";
    r->assert_a.passed = 0;
    r->assert_a.line = 17;
    r->assert_a.file = "t.c";
    r->assert_b = (Crmp__AssertStats) CRMP__ASSERT_STATS__INIT;
    r->assert_b.passed = 1;
    r->assert_b.line = 0xffffffffu;
    r->asserts[0] = &r->assert_a;
    r->asserts[1] = &r->assert_b;

    r->p1 = (Crmp__LogParam) CRMP__LOG_PARAM__INIT;
    r->p1.name = "actual";
    r->p1.kind = 0;
    r->p1.data = (ProtobufCBinaryData) { 6, (uint8_t *) "hello" };
    r->p2 = (Crmp__LogParam) CRMP__LOG_PARAM__INIT;
    r->p2.kind = 1;
    r->p2.data = (ProtobufCBinaryData) { sizeof(t_raw), t_raw };

    r->counters = (Crmp__Counters) CRMP__COUNTERS__INIT;
    r->counters.nb_tests = 1;
    r->counters.nb_asserts = 5;
    r->counters.tests_failed = 1;
    r->counters.tests_crashed = 1;
    r->counters.asserts_failed = 2;
    r->counters.asserts_passed = 3;
    r->counters.warnings = 7;
    r->counters.errors = 8;

    for (int k = 0; k <= CRMP__EVENT__KIND__ASSERT_PARAM_EQ; ++k) {
        Crmp__Event *e = &r->ev[k];
        *e = (Crmp__Event) CRMP__EVENT__INIT;
        e->kind = (Crmp__Event__Kind) k;
        r->evp[k] = e;
    }
    r->ev[CRMP__EVENT__KIND__PRE_INIT].has_disabled = 1;
    r->ev[CRMP__EVENT__KIND__PRE_INIT].disabled = 1;
    r->ev[CRMP__EVENT__KIND__ASSERT].assert = &r->assert_a;
    r->ev[CRMP__EVENT__KIND__THEORY_FAIL].text = "(1, 2)";
    r->ev[CRMP__EVENT__KIND__TEST_CRASH].stats = &r->ev_stats;
    r->ev[CRMP__EVENT__KIND__MESSAGE].has_severity = 1;
    r->ev[CRMP__EVENT__KIND__MESSAGE].severity = 2;
    r->ev[CRMP__EVENT__KIND__MESSAGE].text = "could not open \"x\"";
    r->ev[CRMP__EVENT__KIND__ASSERT_SUB].text = "sub";
    r->ev[CRMP__EVENT__KIND__ASSERT_SUB].text2 = "message";
    r->ev[CRMP__EVENT__KIND__ASSERT_PARAM_EQ].p1 = &r->p1;
    r->ev[CRMP__EVENT__KIND__ASSERT_PARAM_EQ].p2 = &r->p2;

    r->res = (Crmp__Result) CRMP__RESULT__INIT;
    r->res.unit = 99;
    r->res.n_events = CRMP__EVENT__KIND__ASSERT_PARAM_EQ + 1;
    r->res.events = r->evp;
    r->res.final = &r->final;
    r->res.n_asserts = 2;
    r->res.asserts = r->asserts;
    r->res.counters = &r->counters;
    r->res.has_disabled = 1;
    r->res.disabled = 0;
    r->res.wall_ns = UINT64_C(123456789012345);
}

static const uint8_t t_fp[32] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 0xff,
};

struct t_hello {
    Crmp__Hello hello;
    Crmp__Unit u[3];
    Crmp__Unit *up[3];
};

static void t_hello_init(struct t_hello *h)
{
    memset(h, 0, sizeof(*h));
    const char *names[3] = { "first", "param", "last" };
    const int params[3] = { -1, 0, 7 };
    for (int i = 0; i < 3; ++i) {
        h->u[i] = (Crmp__Unit) CRMP__UNIT__INIT;
        h->u[i].suite = "suite";
        h->u[i].name = (char *) names[i];
        h->u[i].param = params[i];
        h->up[i] = &h->u[i];
    }
    h->hello = (Crmp__Hello) CRMP__HELLO__INIT;
    h->hello.pid = 4321;
    h->hello.slot = 3;
    h->hello.fingerprint = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    h->hello.unit_count = 3;
    h->hello.n_units = 3;
    h->hello.units = h->up;
}

/* Encodes env (asserting success) into a malloc'd buffer. */
static uint8_t *t_encode(const Crmp__Envelope *env, size_t *len)
{
    uint8_t *buf = NULL;
    if (env->body_case == CRMP__ENVELOPE__BODY_RESULT)
        crmpi_wire_result_mark(env->result);    /* as every sender does */
    int rc = crmpi_wire_encode(env, &buf, len);
    cr_assert_eq(rc, 0, "encode: rc %d", rc);
    cr_assert_not_null(buf);
    return buf;
}

/* Encodes env and expects decoding it to fail with `expected`. */
static void t_expect_decode_error(const Crmp__Envelope *env, int expected, const char *what)
{
    size_t len;
    uint8_t *buf = t_encode(env, &len);
    Crmp__Envelope *out = (Crmp__Envelope *) 0x1;
    int rc = crmpi_wire_decode(buf, len, &out);
    free(buf);
    cr_assert_eq(rc, expected, "%s: decode returned %d, expected %d", what, rc, expected);
    cr_assert_null(out, "%s: *out is not NULL after an error", what);
}

static Crmp__Envelope *t_roundtrip(const Crmp__Envelope *env)
{
    size_t len;
    uint8_t *buf = t_encode(env, &len);
    Crmp__Envelope *out = NULL;
    int rc = crmpi_wire_decode(buf, len, &out);
    free(buf);
    cr_assert_eq(rc, 0, "decode of a valid %s: rc %d", crmpi_wire_body_name(env->body_case), rc);
    cr_assert_not_null(out);
    cr_assert_eq(out->version, CRMPI_WIRE_VERSION);
    cr_assert_eq(out->body_case, env->body_case);
    return out;
}

#endif /* !CRMP_TEST_WIRE_BUILD_H_ */
