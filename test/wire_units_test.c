/*
 * Unit tests for plugin/wire_units.c: a Hello's units read from its encoding
 * are the units protobuf-c decodes, take no more memory than the encoding,
 * and hostile input is an error, never a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wire_units.h"

static const uint8_t t_fp[32] = { 1, 2, 3 };

/* A Hello of n units named "suite<i/3>"::"test<i>", param i % 4 - 1, every fifth skipped. */
struct t_hello {
    Crmp__Hello hello;
    Crmp__Unit *u;
    Crmp__Unit **up;
    char (*names)[2][24];
};

static void t_hello_init(struct t_hello *h, size_t n)
{
    h->u = calloc(n ? n : 1, sizeof(*h->u));
    h->up = calloc(n ? n : 1, sizeof(*h->up));
    h->names = calloc(n ? n : 1, sizeof(*h->names));
    cr_assert(h->u && h->up && h->names);
    for (size_t i = 0; i < n; ++i) {
        h->u[i] = (Crmp__Unit) CRMP__UNIT__INIT;
        snprintf(h->names[i][0], sizeof(h->names[i][0]), "suite%zu", i / 3);
        snprintf(h->names[i][1], sizeof(h->names[i][1]), "test%zu", i);
        h->u[i].suite = h->names[i][0];
        h->u[i].name = h->names[i][1];
        h->u[i].param = (int) (i % 4) - 1;
        h->u[i].has_skipped = i % 5 == 0;
        h->u[i].skipped = i % 5 == 0;
        h->up[i] = &h->u[i];
    }
    h->hello = (Crmp__Hello) CRMP__HELLO__INIT;
    h->hello.pid = 4321;
    h->hello.slot = 0;
    h->hello.fingerprint = (ProtobufCBinaryData) { 32, (uint8_t *) t_fp };
    h->hello.unit_count = (uint32_t) n;
    h->hello.n_units = n;
    h->hello.units = h->up;
}

static void t_hello_free(struct t_hello *h)
{
    free(h->u);
    free(h->up);
    free(h->names);
}

static uint8_t *t_encode_hello(const Crmp__Hello *hello, size_t *len)
{
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HELLO);
    env.hello = (Crmp__Hello *) hello;
    uint8_t *buf = NULL;
    cr_assert_eq(crmpi_wire_encode(&env, &buf, len), 0);
    return buf;
}

/* Decodes buf apart and expects -EBADMSG, with nothing left allocated. */
static void t_expect_bad(const uint8_t *buf, size_t len, const char *what)
{
    Crmp__Envelope *env = (Crmp__Envelope *) 0x1;
    struct crmpi_wire_units l = { .n = 99 };
    int rc = crmpi_wire_decode_split(buf, len, &env, &l);
    cr_expect_eq(rc, -EBADMSG, "%s: rc %d", what, rc);
    cr_expect_null(env, "%s", what);
    cr_expect(l.buf == NULL && l.n == 0, "%s: a list after an error", what);
}

Test(wire_units, same_units_as_protobuf_c)
{
    struct t_hello h;
    t_hello_init(&h, 100);
    size_t len;
    uint8_t *buf = t_encode_hello(&h.hello, &len);

    Crmp__Envelope *full, *lean;
    struct crmpi_wire_units l;
    cr_assert_eq(crmpi_wire_decode(buf, len, &full), 0);
    cr_assert_eq(crmpi_wire_decode_split(buf, len, &lean, &l), 0);
    cr_assert_eq(lean->body_case, CRMP__ENVELOPE__BODY_HELLO);
    cr_expect_eq(lean->hello->n_units, 0, "the units are apart");
    cr_expect_eq(lean->hello->unit_count, 100);
    cr_expect_eq(lean->hello->pid, 4321);
    cr_expect_arr_eq(lean->hello->fingerprint.data, t_fp, 32);
    cr_assert_eq(l.n, 100);

    size_t off = 0, i = 0;
    struct crmpi_wire_unit u;
    for (; crmpi_wire_units_next(&l, &off, &u); ++i) {
        cr_assert_lt(i, 100);
        const Crmp__Unit *want = full->hello->units[i];
        cr_expect_str_eq(u.suite, want->suite);
        cr_expect_str_eq(u.name, want->name);
        cr_expect_eq(u.param, want->param);
        cr_expect_eq(u.skipped, want->has_skipped && want->skipped, "unit %zu", i);
    }
    cr_expect_eq(i, 100);

    /* A decoded list converted gives the same bytes. */
    struct crmpi_wire_units again;
    cr_assert_eq(crmpi_wire_units_from_hello(full->hello, &again), 0);
    cr_expect_eq(again.n, l.n);
    cr_assert_eq(again.len, l.len);
    cr_expect_arr_eq(again.buf, l.buf, l.len);

    crmpi_wire_units_free(&again);
    crmpi_wire_units_free(&l);
    crmpi_wire_free(lean);
    crmpi_wire_free(full);
    free(buf);
    t_hello_free(&h);
}

Test(wire_units, other_messages_as_before)
{
    struct t_hello h;
    t_hello_init(&h, 0);
    h.hello.unit_count = 5;     /* a later worker: the count, no list */
    size_t len;
    uint8_t *buf = t_encode_hello(&h.hello, &len);
    Crmp__Envelope *env;
    struct crmpi_wire_units l;
    cr_assert_eq(crmpi_wire_decode_split(buf, len, &env, &l), 0);
    cr_expect_eq(env->hello->unit_count, 5);
    cr_expect(l.n == 0 && l.buf == NULL, "no list");
    crmpi_wire_free(env);
    free(buf);

    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    Crmp__Envelope out;
    crmpi_wire_init(&out, CRMP__ENVELOPE__BODY_HEARTBEAT);
    out.heartbeat = &hb;
    cr_assert_eq(crmpi_wire_encode(&out, &buf, &len), 0);
    cr_assert_eq(crmpi_wire_decode_split(buf, len, &env, &l), 0);
    cr_expect_eq(env->body_case, CRMP__ENVELOPE__BODY_HEARTBEAT);
    cr_expect(l.n == 0 && l.buf == NULL, "no list");
    crmpi_wire_free(env);
    free(buf);
    t_hello_free(&h);
}

Test(wire_units, checked_as_decoded_ones)
{
    struct t_hello h;
    t_hello_init(&h, 3);
    size_t len;
    uint8_t *buf;

    h.hello.unit_count = 4;
    buf = t_encode_hello(&h.hello, &len);
    t_expect_bad(buf, len, "unit_count is not the list's length");
    free(buf);
    h.hello.unit_count = 3;

    h.u[1].param = -2;
    buf = t_encode_hello(&h.hello, &len);
    t_expect_bad(buf, len, "param below -1");
    free(buf);
    h.u[1].param = 0;

    /* An embedded NUL would shorten the name: refused (protobuf-c packs by strlen: put it by hand). */
    snprintf(h.names[2][1], sizeof(h.names[2][1]), "teXst");
    buf = t_encode_hello(&h.hello, &len);
    uint8_t *at = memmem(buf, len, "teXst", 5);
    cr_assert_not_null(at);
    at[2] = '\0';
    t_expect_bad(buf, len, "a NUL in a name");
    free(buf);

    /* A field the protocol lacks, inside a unit. */
    ProtobufCMessageUnknownField extra = { .tag = 9, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT,
                                           .len = 1, .data = (uint8_t *) "\x01" };
    h.u[0].base.n_unknown_fields = 1;
    h.u[0].base.unknown_fields = &extra;
    buf = t_encode_hello(&h.hello, &len);
    t_expect_bad(buf, len, "an unknown field in a unit");
    free(buf);
    h.u[0].base.n_unknown_fields = 0;
    h.u[0].base.unknown_fields = NULL;
    t_hello_free(&h);
}

/* Every truncation and every byte changed: an error or a consistent list, never a crash. */
Test(wire_units, hostile_bytes)
{
    struct t_hello h;
    t_hello_init(&h, 4);
    size_t len;
    uint8_t *buf = t_encode_hello(&h.hello, &len);
    for (size_t cut = 0; cut <= len; ++cut)
        for (size_t at = 0; at <= cut; ++at)
            for (int flip = 0; flip < (at < cut ? 3 : 1); ++flip) {
                /* Exactly cut bytes: valgrind sees a read past them. */
                uint8_t *copy = malloc(cut ? cut : 1);
                cr_assert_not_null(copy);
                memcpy(copy, buf, cut);
                if (at < cut)
                    copy[at] ^= (uint8_t[]) { 0x01, 0x80, 0xff }[flip];
                Crmp__Envelope *env;
                struct crmpi_wire_units l;
                int rc = crmpi_wire_decode_split(copy, cut, &env, &l);
                free(copy);
                if (rc) {
                    cr_assert(env == NULL && l.buf == NULL, "cut %zu at %zu: left over", cut, at);
                    continue;
                }
                size_t off = 0, n = 0;
                struct crmpi_wire_unit u;
                while (crmpi_wire_units_next(&l, &off, &u))
                    ++n;
                cr_assert_eq(n, l.n, "cut %zu at %zu", cut, at);
                cr_assert(!n || env->hello->unit_count == n, "cut %zu at %zu", cut, at);
                crmpi_wire_units_free(&l);
                crmpi_wire_free(env);
            }
    free(buf);
    t_hello_free(&h);
}

static size_t t_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/*
 * Issue 10: the first worker's list of 100,000 units took about 20 MB of
 * the coordinator once decoded.  Apart, it takes no more than its encoding.
 */
Test(wire_units, no_more_memory_than_the_encoding)
{
    /* mallinfo2 counts glibc's heap only: under a sanitizer's allocator it measures nothing. */
    size_t probe_before = t_heap_in_use();
    char *volatile probe = malloc(1 << 20);
    cr_assert_not_null(probe);
    size_t probe_seen = t_heap_in_use() - probe_before;
    free(probe);
    if (probe_seen < (1 << 20))
        cr_skip_test("mallinfo2 does not see this allocator's blocks (a sanitizer build?)");

    struct t_hello h;
    t_hello_init(&h, 20000);
    size_t len;
    uint8_t *buf = t_encode_hello(&h.hello, &len);
    t_hello_free(&h);

    size_t before = t_heap_in_use();
    Crmp__Envelope *env;
    struct crmpi_wire_units l;
    cr_assert_eq(crmpi_wire_decode_split(buf, len, &env, &l), 0);
    size_t used = t_heap_in_use() - before;
    cr_expect_leq(used, len + 4096, "%zu bytes held for an encoding of %zu", used, len);
    crmpi_wire_units_free(&l);
    crmpi_wire_free(env);

    before = t_heap_in_use();
    cr_assert_eq(crmpi_wire_decode(buf, len, &env), 0);
    size_t decoded = t_heap_in_use() - before;
    cr_expect_gt(decoded, 4 * len, "protobuf-c's decoding: %zu bytes (why this file exists)",
            decoded);
    crmpi_wire_free(env);
    free(buf);
}
