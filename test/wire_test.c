/*
 * Unit tests for plugin/wire.c: every message type survives a round trip,
 * and every invalid value is an error (hostile bytes: wire_malformed_test.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <criterion/criterion.h>

#include "wire.h"
#include "wire_build.h"

static void t_assert_str(const char *got, const char *want, const char *what)
{
    if (!want) {
        cr_assert(got == NULL || *got == '\0', "%s: expected none, got \"%s\"", what, got);
        return;
    }
    cr_assert_not_null(got, "%s: missing", what);
    cr_assert_str_eq(got, want, "%s", what);
}

static void t_assert_stats(const Crmp__TestStats *got, const Crmp__TestStats *want)
{
    cr_assert_not_null(got);
    cr_assert_eq(got->status, want->status);
    cr_assert_eq(got->passed_asserts, want->passed_asserts);
    cr_assert_eq(got->failed_asserts, want->failed_asserts);
    cr_assert_eq(got->signal, want->signal);
    cr_assert_eq(got->exit_code, want->exit_code);
    cr_assert_float_eq(got->elapsed_time, want->elapsed_time, 1e-9);
    cr_assert_eq(!!got->timed_out, !!want->timed_out);
    cr_assert_eq(!!got->crashed, !!want->crashed);
    cr_assert_eq(got->progress, want->progress);
    t_assert_str(got->file, want->file, "stats.file");
    t_assert_str(got->message, want->message, "stats.message");
}

static void t_assert_assert(const Crmp__AssertStats *got, const Crmp__AssertStats *want)
{
    cr_assert_not_null(got);
    t_assert_str(got->message, want->message, "assert.message");
    t_assert_str(got->file, want->file, "assert.file");
    cr_assert_eq(!!got->passed, !!want->passed);
    cr_assert_eq(got->line, want->line);
}

static void t_assert_param(const Crmp__LogParam *got, const Crmp__LogParam *want)
{
    cr_assert_not_null(got);
    t_assert_str(got->name, want->name, "param.name");
    cr_assert_eq(got->kind, want->kind);
    cr_assert_eq(got->data.len, want->data.len);
    cr_assert_arr_eq(got->data.data, want->data.data, want->data.len);
}

/* ---- round trips -------------------------------------------------------------- */

Test(roundtrip, hello)
{
    struct t_hello h;
    t_hello_init(&h);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->hello->pid, 4321);
    cr_assert_eq(out->hello->slot, 3);
    cr_assert_eq(out->hello->fingerprint.len, 32);
    cr_assert_arr_eq(out->hello->fingerprint.data, t_fp, 32);
    cr_assert_eq(out->hello->n_units, 3);
    for (size_t i = 0; i < 3; ++i) {
        cr_assert_str_eq(out->hello->units[i]->suite, h.u[i].suite);
        cr_assert_str_eq(out->hello->units[i]->name, h.u[i].name);
        cr_assert_eq(out->hello->units[i]->param, h.u[i].param);
    }
    crmpi_wire_free(out);
}

Test(roundtrip, hello_without_units)
{
    struct t_hello h;
    t_hello_init(&h);
    h.hello.n_units = 0;
    h.hello.units = NULL;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->hello->n_units, 0);
    cr_assert_eq(out->hello->unit_count, 3);
    crmpi_wire_free(out);
}

Test(decode, hello_list_shorter_than_its_count)
{
    struct t_hello h;
    t_hello_init(&h);
    h.hello.unit_count = 4;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(crmpi_wire_encode(&env, &buf, &len), 0);
    Crmp__Envelope *out;
    cr_assert_eq(crmpi_wire_decode(buf, len, &out), -EBADMSG);
    cr_assert_null(out);
    free(buf);
}

Test(roundtrip, list_wanted)
{
    Crmp__ListWanted lw = CRMP__LIST_WANTED__INIT;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_LIST_WANTED, &lw);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->body_case, CRMP__ENVELOPE__BODY_LIST_WANTED);
    crmpi_wire_free(out);
}

Test(roundtrip, result_with_every_event_kind)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    Crmp__Envelope *out = t_roundtrip(&env);
    const Crmp__Result *got = out->result;

    cr_assert_eq(got->unit, 99);
    cr_assert_eq(got->wall_ns, UINT64_C(123456789012345));
    cr_assert(got->has_disabled);
    cr_assert_not(got->disabled);
    t_assert_stats(got->final, &r.final);

    cr_assert_eq(got->n_asserts, 2);
    t_assert_assert(got->asserts[0], &r.assert_a);
    t_assert_assert(got->asserts[1], &r.assert_b);

    const Crmp__Counters *c = got->counters;
    cr_assert_not_null(c);
    cr_assert_eq(c->nb_tests, 1);
    cr_assert_eq(c->nb_asserts, 5);
    cr_assert_eq(c->tests_skipped, 0);
    cr_assert_eq(c->tests_failed, 1);
    cr_assert_eq(c->tests_crashed, 1);
    cr_assert_eq(c->tests_passed, 0);
    cr_assert_eq(c->asserts_failed, 2);
    cr_assert_eq(c->asserts_passed, 3);
    cr_assert_eq(c->warnings, 7);
    cr_assert_eq(c->errors, 8);

    cr_assert_eq(got->n_events, CRMP__EVENT__KIND__ASSERT_PARAM_EQ + 1);
    for (size_t k = 0; k < got->n_events; ++k)
        cr_assert_eq(got->events[k]->kind, (Crmp__Event__Kind) k, "event %zu", k);

    const Crmp__Event *pre = got->events[CRMP__EVENT__KIND__PRE_INIT];
    cr_assert(pre->has_disabled && pre->disabled);
    t_assert_assert(got->events[CRMP__EVENT__KIND__ASSERT]->assert, &r.assert_a);
    cr_assert_str_eq(got->events[CRMP__EVENT__KIND__THEORY_FAIL]->text, "(1, 2)");
    t_assert_stats(got->events[CRMP__EVENT__KIND__TEST_CRASH]->stats, &r.ev_stats);
    const Crmp__Event *msg = got->events[CRMP__EVENT__KIND__MESSAGE];
    cr_assert(msg->has_severity);
    cr_assert_eq(msg->severity, 2);
    cr_assert_str_eq(msg->text, "could not open \"x\"");
    cr_assert_str_eq(got->events[CRMP__EVENT__KIND__ASSERT_SUB]->text, "sub");
    cr_assert_str_eq(got->events[CRMP__EVENT__KIND__ASSERT_SUB]->text2, "message");
    t_assert_param(got->events[CRMP__EVENT__KIND__ASSERT_PARAM_EQ]->p1, &r.p1);
    t_assert_param(got->events[CRMP__EVENT__KIND__ASSERT_PARAM_EQ]->p2, &r.p2);
    cr_assert_null(got->events[CRMP__EVENT__KIND__POST_TEST]->stats);
    crmpi_wire_free(out);
}

Test(roundtrip, minimal_result)
{
    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    Crmp__Result res = CRMP__RESULT__INIT;
    res.unit = 0;
    res.counters = &counters;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &res);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->result->n_events, 0);
    cr_assert_null(out->result->final);
    cr_assert_eq(out->result->n_asserts, 0);
    crmpi_wire_free(out);
}

/* Version 5: statistics sent once, shared by the events that had them; zeros left out. */
Test(roundtrip, final_stats_shared)
{
    Crmp__Counters counters = CRMP__COUNTERS__INIT;
    counters.nb_tests = counters.tests_passed = 1;
    Crmp__TestStats final = CRMP__TEST_STATS__INIT;
    final.progress = 12;
    final.elapsed_time = -0.0f;        /* not all zero bits: sent */
    Crmp__Event post = CRMP__EVENT__INIT, fini = CRMP__EVENT__INIT;
    post.kind = CRMP__EVENT__KIND__POST_TEST;
    post.has_final_stats = post.final_stats = 1;
    fini.kind = CRMP__EVENT__KIND__POST_FINI;
    Crmp__Event *events[] = { &post, &fini };
    Crmp__Result res = CRMP__RESULT__INIT;
    res.counters = &counters;
    res.final = &final;
    res.events = events;
    res.n_events = 2;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &res);
    Crmp__Envelope *out = t_roundtrip(&env);
    const Crmp__Result *got = out->result;
    cr_assert_not_null(got->final);
    cr_assert_eq(got->events[0]->stats, got->final, "the event has the final statistics");
    cr_assert_null(got->events[1]->stats);
    cr_assert_not(got->final->has_status, "a zero is not sent");
    cr_assert_eq(got->final->status, 0);
    cr_assert(got->final->has_progress);
    cr_assert_eq(got->final->progress, 12);
    cr_assert(got->final->has_elapsed_time && signbit(got->final->elapsed_time));
    cr_assert_not(got->counters->has_tests_failed);
    cr_assert_eq(got->counters->nb_tests, 1);
    cr_assert_eq(got->counters->tests_passed, 1);

    /* Sent again as it was decoded: the flag alone on the wire, the message left as it was
       (fuzz_wire_decode's round trip failed on its seed result-final-stats.pb). */
    Crmp__Envelope *again = t_roundtrip(out);
    cr_assert_eq(again->result->events[0]->stats, again->result->final);
    cr_assert_eq(again->result->final->progress, 12);
    cr_assert_eq(got->events[0]->stats, got->final, "the decoded message is left as it was");
    crmpi_wire_free(again);
    crmpi_wire_free(out);       /* the shared statistics freed once */
}

/* The coordinator's hand-encoded Assign: byte for byte what protobuf-c packs. */
Test(roundtrip, assign_encoded_by_hand)
{
    static const uint32_t u32[] = { 0, 1, 127, 128, 16383, 16384, 0xfffffffeu, 0xffffffffu };
    static const uint64_t u64[] = { 0, 1, 300, UINT64_C(1) << 35, UINT64_MAX };
    const size_t n32 = sizeof(u32) / sizeof(u32[0]), n64 = sizeof(u64) / sizeof(u64[0]);
    for (size_t i = 0; i < n32; ++i) {
        for (unsigned has = 0; has < 16; ++has) {
            Crmp__Assign a = CRMP__ASSIGN__INIT;
            a.unit = u32[i];
            a.has_slot = has & 1;
            a.slot = u32[(i + 1) % n32];
            a.has_keep_tmp = !!(has & 2);
            a.keep_tmp = u32[(i + 2) % n32];
            a.has_leaks = !!(has & 4);
            a.leaks = u32[(i + 3) % n32];
            a.has_artifacts_max = !!(has & 8);
            a.artifacts_max = u64[i % n64];
            Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ASSIGN, &a);
            uint8_t mine[CRMPI_WIRE_ASSIGN_MAX], want[64];
            size_t n = crmpi_wire_encode_assign(&env, mine);
            size_t len = crmp__envelope__get_packed_size(&env);
            cr_assert_leq(len, sizeof(want));
            crmp__envelope__pack(&env, want);
            cr_assert_eq(n, len, "unit %u, fields %#x: %zu bytes, protobuf-c %zu", a.unit, has, n, len);
            cr_assert_arr_eq(mine, want, len, "unit %u, fields %#x", a.unit, has);
        }
    }

    /* What it does not encode: packed as any other message. */
    uint8_t buf[CRMPI_WIRE_ASSIGN_MAX];
    Crmp__Assign a = CRMP__ASSIGN__INIT;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ASSIGN, &a);
    a.fixture_failed = "global fixture failed";
    cr_assert_eq(crmpi_wire_encode_assign(&env, buf), 0);
    a.fixture_failed = NULL;
    Crmp__Global g = CRMP__GLOBAL__INIT, *gv[] = { &g };
    g.key = "k";
    g.value = "v";
    a.n_globals = 1;
    a.globals = gv;
    cr_assert_eq(crmpi_wire_encode_assign(&env, buf), 0);
    Crmp__Stop stop = CRMP__STOP__INIT;
    Crmp__Envelope other = t_envelope(CRMP__ENVELOPE__BODY_STOP, &stop);
    cr_assert_eq(crmpi_wire_encode_assign(&other, buf), 0);
}

Test(roundtrip, assign)
{
    Crmp__Assign a = CRMP__ASSIGN__INIT;
    a.unit = 0xfffffffeu;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ASSIGN, &a);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->assign->unit, 0xfffffffeu);
    crmpi_wire_free(out);
}

/* A remote worker's first Assign: the global fixtures' values and their failure. */
Test(roundtrip, assign_with_globals)
{
    Crmp__Global g[2] = { CRMP__GLOBAL__INIT, CRMP__GLOBAL__INIT };
    g[0].key = "DB_PORT";
    g[0].value = "5433";
    g[1].key = "EMPTY";
    g[1].value = "";
    Crmp__Global *gv[] = { &g[0], &g[1] };
    Crmp__Assign a = CRMP__ASSIGN__INIT;
    a.unit = 3;
    a.n_globals = 2;
    a.globals = gv;
    a.fixture_failed = "global fixture s (f.c:1) failed: returned 7";
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ASSIGN, &a);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->assign->n_globals, 2);
    cr_expect_str_eq(out->assign->globals[0]->key, "DB_PORT");
    cr_expect_str_eq(out->assign->globals[0]->value, "5433");
    cr_expect_str_eq(out->assign->globals[1]->key, "EMPTY");
    cr_expect_str_eq(out->assign->globals[1]->value, "");
    cr_expect_str_eq(out->assign->fixture_failed, "global fixture s (f.c:1) failed: returned 7");
    crmpi_wire_free(out);
}

Test(roundtrip, artifact_piece_and_answer)
{
    static uint8_t data[] = { 'l', 'o', 'g', 0, 0xff };
    Crmp__Artifact a = CRMP__ARTIFACT__INIT;
    a.unit = 7;
    a.path = "sub/deeper/data.bin";
    a.mode = 0640;
    a.offset = 1u << 20;
    a.has_data = 1;
    a.data = (ProtobufCBinaryData) { sizeof(data), data };
    a.has_last = a.last = 1;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ARTIFACT, &a);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_expect_str_eq(out->artifact->path, "sub/deeper/data.bin");
    cr_expect_eq(out->artifact->mode, 0640);
    cr_expect_eq(out->artifact->offset, 1u << 20);
    cr_expect_eq(out->artifact->data.len, sizeof(data));
    cr_expect_arr_eq(out->artifact->data.data, data, sizeof(data));
    cr_expect(out->artifact->last);
    crmpi_wire_free(out);

    Crmp__ArtifactTaken t = CRMP__ARTIFACT_TAKEN__INIT;
    t.has_enough = t.enough = 1;
    env = t_envelope(CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN, &t);
    out = t_roundtrip(&env);
    cr_expect(out->artifact_taken->enough);
    crmpi_wire_free(out);
}

/* The coordinator writes where a piece says: the decoder refuses every way out of the directory. */
Test(decode, artifact_paths_that_leave_the_directory)
{
    static const char *const bad[] = { "../x", "a/../../x", "/etc/passwd", "", "a//b", "a/",
        ".", "./a", "a\nb" };
    Crmp__Artifact a = CRMP__ARTIFACT__INIT;
    a.mode = 0644;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ARTIFACT, &a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        a.path = (char *) bad[i];
        t_expect_decode_error(&env, -EBADMSG, bad[i]);
    }
    a.path = "run.sh";
    a.mode = 04755;
    t_expect_decode_error(&env, -EBADMSG, "a setuid mode");
    a.mode = 0755;
    a.offset = UINT64_MAX - 1;
    t_expect_decode_error(&env, -EBADMSG, "an offset that wraps");
    a.offset = 0;
    a.has_dir = a.dir = 1;
    a.has_data = 1;
    a.data = (ProtobufCBinaryData) { 1, (uint8_t *) "x" };
    t_expect_decode_error(&env, -EBADMSG, "a directory with data");
}

Test(roundtrip, stop_with_and_without_reason)
{
    Crmp__Stop s = CRMP__STOP__INIT;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_STOP, &s);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_null(out->stop->reason);
    crmpi_wire_free(out);

    s.reason = "--fail-fast";
    out = t_roundtrip(&env);
    cr_assert_str_eq(out->stop->reason, "--fail-fast");
    crmpi_wire_free(out);
}

Test(roundtrip, reject)
{
    Crmp__Reject rj = CRMP__REJECT__INIT;
    rj.reason = "unknown worker";
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_REJECT, &rj);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_str_eq(out->reject->reason, "unknown worker");
    crmpi_wire_free(out);
}

static const uint8_t t_nonce[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

Test(roundtrip, challenge)
{
    Crmp__Challenge ch = CRMP__CHALLENGE__INIT;
    ch.nonce = (ProtobufCBinaryData) { 16, (uint8_t *) t_nonce };
    ch.proof = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_CHALLENGE, &ch);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->challenge->nonce.len, 16);
    cr_assert_arr_eq(out->challenge->nonce.data, t_nonce, 16);
    cr_assert_eq(out->challenge->proof.len, 32);
    cr_assert_arr_eq(out->challenge->proof.data, t_fp, 32);
    crmpi_wire_free(out);
}

Test(roundtrip, auth)
{
    Crmp__Auth au = CRMP__AUTH__INIT;
    au.proof = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_AUTH, &au);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_eq(out->auth->proof.len, 32);
    cr_assert_arr_eq(out->auth->proof.data, t_fp, 32);
    crmpi_wire_free(out);
}

Test(roundtrip, heartbeat)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HEARTBEAT, &hb);
    Crmp__Envelope *out = t_roundtrip(&env);
    cr_assert_not(out->heartbeat->has_slot);
    crmpi_wire_free(out);
    hb.has_slot = 1;
    hb.slot = 7;
    out = t_roundtrip(&env);
    cr_assert(out->heartbeat->has_slot);
    cr_assert_eq(out->heartbeat->slot, 7);
    cr_assert_not(out->heartbeat->has_in_fixture);
    crmpi_wire_free(out);
}

/* A worker entering (true) and leaving (false) its worker fixtures: both travel, apart from absent. */
Test(roundtrip, heartbeat_in_fixture)
{
    for (int in = 0; in <= 1; ++in) {
        Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
        hb.has_slot = 1;
        hb.slot = 3;
        hb.has_in_fixture = 1;
        hb.in_fixture = in;
        Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HEARTBEAT, &hb);
        Crmp__Envelope *out = t_roundtrip(&env);
        cr_assert(out->heartbeat->has_in_fixture, "in_fixture %d lost", in);
        cr_assert_eq(out->heartbeat->in_fixture, in);
        cr_assert_eq(out->heartbeat->slot, 3);
        crmpi_wire_free(out);
    }
}

/* The bytes a worker sends before its worker fixtures, field by field; a version 5 peer's refused. */
Test(roundtrip, heartbeat_in_fixture_bytes)
{
    /* version 6; heartbeat (field 9, 4 bytes): slot 1, in_fixture true */
    uint8_t buf[] = { 0x08, CRMPI_WIRE_VERSION, 0x4a, 0x04, 0x08, 0x01, 0x10, 0x01 };
    cr_assert_eq(CRMPI_WIRE_VERSION, 6u);
    Crmp__Envelope *out = NULL;
    cr_assert_eq(crmpi_wire_decode(buf, sizeof(buf), &out), 0);
    cr_assert_eq(out->body_case, CRMP__ENVELOPE__BODY_HEARTBEAT);
    cr_assert(out->heartbeat->has_slot && out->heartbeat->slot == 1);
    cr_assert(out->heartbeat->has_in_fixture && out->heartbeat->in_fixture);
    crmpi_wire_free(out);
    /* Field 3 of a heartbeat is no field of this version: malformed, not carried. */
    uint8_t unknown[] = { 0x08, CRMPI_WIRE_VERSION, 0x4a, 0x04, 0x08, 0x01, 0x18, 0x01 };
    out = (Crmp__Envelope *) 0x1;
    cr_assert_eq(crmpi_wire_decode(unknown, sizeof(unknown), &out), -EBADMSG);
    cr_assert_null(out);
    buf[1] = 5;
    out = (Crmp__Envelope *) 0x1;
    cr_assert_eq(crmpi_wire_decode(buf, sizeof(buf), &out), -EPROTO);
    cr_assert_null(out);
}

Test(roundtrip, encoding_is_deterministic)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    size_t l1, l2, l3;
    uint8_t *b1 = t_encode(&env, &l1);
    uint8_t *b2 = t_encode(&env, &l2);
    Crmp__Envelope *out = t_roundtrip(&env);
    uint8_t *b3 = t_encode(out, &l3);
    cr_assert_eq(l1, l2);
    cr_assert_eq(l1, l3);
    cr_assert_arr_eq(b1, b2, l1);
    cr_assert_arr_eq(b1, b3, l1, "re-encoding a decoded message changed it");
    free(b1);
    free(b2);
    free(b3);
    crmpi_wire_free(out);
}

Test(roundtrip, body_names)
{
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_HELLO), "hello");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_RESULT), "result");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_ASSIGN), "assign");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_STOP), "stop");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_REJECT), "reject");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_CHALLENGE), "challenge");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_AUTH), "auth");
    cr_assert_str_eq(crmpi_wire_body_name(CRMP__ENVELOPE__BODY_HEARTBEAT), "heartbeat");
    cr_assert_not_null(crmpi_wire_body_name(CRMP__ENVELOPE__BODY__NOT_SET));
    cr_assert_not_null(crmpi_wire_body_name((Crmp__Envelope__BodyCase) 4242));
}

Test(roundtrip, free_null_is_a_no_op)
{
    crmpi_wire_free(NULL);
}

/* ---- invalid values ------------------------------------------------------------- */

Test(invalid, wrong_version)
{
    Crmp__Assign a = CRMP__ASSIGN__INIT;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_ASSIGN, &a);
    env.version = CRMPI_WIRE_VERSION + 1;
    t_expect_decode_error(&env, -EPROTO, "version + 1");
    env.version = 0;
    t_expect_decode_error(&env, -EPROTO, "version 0");
    env.version = 0xffffffffu;
    t_expect_decode_error(&env, -EPROTO, "version 2^32-1");
}

Test(invalid, missing_body)
{
    Crmp__Envelope env = CRMP__ENVELOPE__INIT;
    env.version = CRMPI_WIRE_VERSION;
    t_expect_decode_error(&env, -EBADMSG, "no body");
}

Test(invalid, event_kind_out_of_range)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    r.ev[3].kind = (Crmp__Event__Kind) (CRMP__EVENT__KIND__ASSERT_PARAM_EQ + 1);
    t_expect_decode_error(&env, -EBADMSG, "kind 16");
    r.ev[3].kind = (Crmp__Event__Kind) 1000;
    t_expect_decode_error(&env, -EBADMSG, "kind 1000");
    r.ev[3].kind = (Crmp__Event__Kind) -1;
    t_expect_decode_error(&env, -EBADMSG, "kind -1");
}

/* r with 3 bytes of stdout and 5 of stderr, and where they stood at its assertion and its crash. */
static void t_result_with_output(struct t_result *r)
{
    t_result_init(r);
    r->res.has_out = r->res.has_err = 1;
    r->res.out = (ProtobufCBinaryData) { 3, (uint8_t *) "abc" };
    r->res.err = (ProtobufCBinaryData) { 5, (uint8_t *) "hello" };
    Crmp__Event *a = &r->ev[CRMP__EVENT__KIND__ASSERT], *c = &r->ev[CRMP__EVENT__KIND__TEST_CRASH];
    a->has_out_at = a->has_err_at = c->has_out_at = c->has_err_at = 1;
    a->out_at = 1;
    a->err_at = 3;
    c->out_at = 3;
    c->err_at = 5;
}

Test(roundtrip, output_positions)
{
    struct t_result r;
    t_result_with_output(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    Crmp__Envelope *out = t_roundtrip(&env);
    const Crmp__Event *a = out->result->events[CRMP__EVENT__KIND__ASSERT];
    const Crmp__Event *c = out->result->events[CRMP__EVENT__KIND__TEST_CRASH];
    const Crmp__Event *p = out->result->events[CRMP__EVENT__KIND__PRE_INIT];
    cr_assert(a->has_out_at && a->has_err_at && c->has_out_at && c->has_err_at);
    cr_assert_eq(a->out_at, 1u);
    cr_assert_eq(a->err_at, 3u);
    cr_assert_eq(c->out_at, 3u);
    cr_assert_eq(c->err_at, 5u);
    cr_assert(!p->has_out_at && !p->has_err_at);
    crmpi_wire_free(out);
}

Test(invalid, output_position_out_of_range)
{
    struct t_result r;
    t_result_with_output(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    Crmp__Event *c = &r.ev[CRMP__EVENT__KIND__TEST_CRASH];
    c->out_at = 4;
    t_expect_decode_error(&env, -EBADMSG, "stdout position past its end");
    c->out_at = UINT64_MAX;
    t_expect_decode_error(&env, -EBADMSG, "stdout position UINT64_MAX");
    c->out_at = 3;
    c->err_at = 6;
    t_expect_decode_error(&env, -EBADMSG, "stderr position past its end");
    c->err_at = 2;
    t_expect_decode_error(&env, -EBADMSG, "stderr position going back");
    c->err_at = 5;
    c->out_at = 0;
    t_expect_decode_error(&env, -EBADMSG, "stdout position going back");
    c->out_at = 3;
    r.res.has_err = 0;
    t_expect_decode_error(&env, -EBADMSG, "a stderr position without stderr");
}

Test(invalid, severity_out_of_range)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    Crmp__Event *e = &r.ev[CRMP__EVENT__KIND__MESSAGE];
    e->severity = 3;
    t_expect_decode_error(&env, -EBADMSG, "severity 3");
    e->severity = -1;
    t_expect_decode_error(&env, -EBADMSG, "severity -1");
    e->severity = 0x7fffffff;
    t_expect_decode_error(&env, -EBADMSG, "severity INT_MAX");
}

Test(invalid, final_stats_besides_a_copy)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    Crmp__Event *e = &r.ev[CRMP__EVENT__KIND__TEST_CRASH];
    cr_assert_not_null(e->stats);
    e->has_final_stats = e->final_stats = 1;
    t_expect_decode_error(&env, -EBADMSG, "final_stats and stats");
}

Test(invalid, final_stats_without_final)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    Crmp__Event *e = &r.ev[CRMP__EVENT__KIND__POST_TEST];
    cr_assert_null(e->stats);
    e->has_final_stats = e->final_stats = 1;
    r.res.final = NULL;
    t_expect_decode_error(&env, -EBADMSG, "final_stats without final");
}

Test(invalid, final_status_out_of_range)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    r.final.status = 3;
    t_expect_decode_error(&env, -EBADMSG, "final status 3");
    r.final.status = -1;
    t_expect_decode_error(&env, -EBADMSG, "final status -1");
}

Test(invalid, event_status_out_of_range)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    r.ev_stats.status = 42;
    t_expect_decode_error(&env, -EBADMSG, "event status 42");
    r.ev_stats.status = -2;
    t_expect_decode_error(&env, -EBADMSG, "event status -2");
}

Test(invalid, log_param_kind_out_of_range)
{
    struct t_result r;
    t_result_init(&r);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_RESULT, &r.res);
    r.p1.kind = 2;
    t_expect_decode_error(&env, -EBADMSG, "p1 kind 2");
    r.p1.kind = 0;
    r.p2.kind = -1;
    t_expect_decode_error(&env, -EBADMSG, "p2 kind -1");
}

Test(invalid, hello_fingerprint_length)
{
    struct t_hello h;
    t_hello_init(&h);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    h.hello.fingerprint.len = 31;
    t_expect_decode_error(&env, -EBADMSG, "31-byte fingerprint");
    h.hello.fingerprint.len = 0;
    t_expect_decode_error(&env, -EBADMSG, "empty fingerprint");
    uint8_t big[33] = { 0 };
    h.hello.fingerprint = (ProtobufCBinaryData) { sizeof(big), big };
    t_expect_decode_error(&env, -EBADMSG, "33-byte fingerprint");

    h.hello.fingerprint = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    h.hello.has_nonce = 1;
    h.hello.nonce = (ProtobufCBinaryData) { 17, big };
    t_expect_decode_error(&env, -EBADMSG, "17-byte hello nonce");
}

Test(invalid, challenge_and_auth_lengths)
{
    uint8_t big[33] = { 0 };
    Crmp__Challenge ch = CRMP__CHALLENGE__INIT;
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_CHALLENGE, &ch);
    ch.nonce = (ProtobufCBinaryData) { 15, (uint8_t *) t_nonce };
    ch.proof = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    t_expect_decode_error(&env, -EBADMSG, "15-byte nonce");
    ch.nonce = (ProtobufCBinaryData) { 16, (uint8_t *) t_nonce };
    ch.proof = (ProtobufCBinaryData) { 33, big };
    t_expect_decode_error(&env, -EBADMSG, "33-byte proof");

    Crmp__Auth au = CRMP__AUTH__INIT;
    env = t_envelope(CRMP__ENVELOPE__BODY_AUTH, &au);
    au.proof = (ProtobufCBinaryData) { 0, NULL };
    t_expect_decode_error(&env, -EBADMSG, "empty proof");
    au.proof = (ProtobufCBinaryData) { 31, (uint8_t *) t_fp };
    t_expect_decode_error(&env, -EBADMSG, "31-byte proof");
}

Test(invalid, hello_unit_param_below_minus_one)
{
    struct t_hello h;
    t_hello_init(&h);
    Crmp__Envelope env = t_envelope(CRMP__ENVELOPE__BODY_HELLO, &h.hello);
    h.u[1].param = -2;
    t_expect_decode_error(&env, -EBADMSG, "param -2");
    h.u[1].param = (int32_t) 0x80000000u;
    t_expect_decode_error(&env, -EBADMSG, "param INT_MIN");
}
