/*
 * libFuzzer target for crmpi_wire_decode(): every byte a peer sends goes
 * through it, so no input may crash, hang or leak.
 *
 * For each input:
 *   - decode; on failure the error must be one of the documented codes and
 *     *out must be NULL;
 *   - on success touch every string and byte field (so that ASan sees any
 *     out-of-bounds or unterminated data), then re-encode, decode the result
 *     and encode that again: the message must still be accepted and both
 *     encodings must be byte-identical (the round trip is stable).
 *
 * Any violation aborts, which libFuzzer reports as a crash with the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "wire.h"
#include "wire_units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_require(cond)                                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_wire_decode: %s:%d: %s\n", __FILE__,        \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* Checksum sink: keeps the reads below from being optimised away. */
static volatile size_t fuzz_sink;

static void fuzz_touch_str(const char *s)
{
    if (s)
        fuzz_sink += strlen(s);
}

static void fuzz_touch_bytes(ProtobufCBinaryData b)
{
    size_t sum = 0;
    fuzz_require(b.len == 0 || b.data);
    for (size_t i = 0; i < b.len; ++i)
        sum += b.data[i];
    fuzz_sink += sum;
}

static void fuzz_touch_stats(const Crmp__TestStats *s)
{
    if (!s)
        return;
    fuzz_require(s->status >= 0 && s->status <= 2);
    fuzz_touch_str(s->file);
    fuzz_touch_str(s->message);
}

static void fuzz_touch_assert(const Crmp__AssertStats *a)
{
    if (!a)
        return;
    fuzz_touch_str(a->message);
    fuzz_touch_str(a->file);
}

static void fuzz_touch_param(const Crmp__LogParam *p)
{
    if (!p)
        return;
    fuzz_require(p->kind == 0 || p->kind == 1);
    fuzz_touch_str(p->name);
    fuzz_touch_bytes(p->data);
}

/* Walks a decoded envelope, checking what wire.h promises about it. */
static void fuzz_touch_envelope(const Crmp__Envelope *env)
{
    fuzz_require(env->version == CRMPI_WIRE_VERSION);
    switch (env->body_case) {
    case CRMP__ENVELOPE__BODY_HELLO:
        fuzz_require(env->hello);
        fuzz_require(env->hello->fingerprint.len == 32);
        fuzz_touch_bytes(env->hello->fingerprint);
        fuzz_require(!env->hello->has_nonce || env->hello->nonce.len == 16);
        if (env->hello->has_nonce)
            fuzz_touch_bytes(env->hello->nonce);
        fuzz_require(env->hello->n_units == 0 || env->hello->units);
        for (size_t i = 0; i < env->hello->n_units; ++i) {
            const Crmp__Unit *u = env->hello->units[i];
            fuzz_require(u && u->suite && u->name && u->param >= -1);
            fuzz_touch_str(u->suite);
            fuzz_touch_str(u->name);
        }
        break;
    case CRMP__ENVELOPE__BODY_RESULT: {
        const Crmp__Result *r = env->result;
        fuzz_require(r && r->counters);
        fuzz_touch_stats(r->final);
        for (size_t i = 0; i < r->n_events; ++i) {
            const Crmp__Event *e = r->events[i];
            fuzz_require(e);
            fuzz_require((unsigned) e->kind <= CRMP__EVENT__KIND__ASSERT_PARAM_EQ);
            fuzz_require(!e->has_severity || (e->severity >= 0 && e->severity <= 2));
            fuzz_touch_stats(e->stats);
            fuzz_touch_assert(e->assert);
            fuzz_touch_str(e->text);
            fuzz_touch_str(e->text2);
            fuzz_touch_param(e->p1);
            fuzz_touch_param(e->p2);
        }
        for (size_t i = 0; i < r->n_asserts; ++i) {
            fuzz_require(r->asserts[i]);
            fuzz_touch_assert(r->asserts[i]);
        }
        fuzz_require(r->n_artifact_notes <= CRMPI_ARTIFACTS_NOTES_MAX + 1);
        for (size_t i = 0; i < r->n_artifact_notes; ++i)
            fuzz_touch_str(r->artifact_notes[i]);
        break;
    }
    case CRMP__ENVELOPE__BODY_ARTIFACT: {
        /* What the coordinator writes under its directory: never a way out of it. */
        const Crmp__Artifact *a = env->artifact;
        fuzz_require(a && crmpi_artifacts_path_ok(a->path));
        fuzz_require(a->path[0] != '/' && a->mode <= 0777);
        fuzz_touch_str(a->path);
        if (a->has_data)
            fuzz_touch_bytes(a->data);
        fuzz_require(!(a->has_dir && a->dir) || (a->offset == 0 && (!a->has_data || !a->data.len)));
        break;
    }
    case CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN:
        fuzz_require(env->artifact_taken);
        break;
    case CRMP__ENVELOPE__BODY_ASSIGN:
        fuzz_require(env->assign);
        break;
    case CRMP__ENVELOPE__BODY_STOP:
        fuzz_require(env->stop);
        fuzz_touch_str(env->stop->reason);
        break;
    case CRMP__ENVELOPE__BODY_REJECT:
        fuzz_require(env->reject && env->reject->reason);
        fuzz_touch_str(env->reject->reason);
        break;
    case CRMP__ENVELOPE__BODY_CHALLENGE:
        fuzz_require(env->challenge);
        fuzz_require(env->challenge->nonce.len == 16 && env->challenge->proof.len == 32);
        fuzz_touch_bytes(env->challenge->nonce);
        fuzz_touch_bytes(env->challenge->proof);
        break;
    case CRMP__ENVELOPE__BODY_AUTH:
        fuzz_require(env->auth && env->auth->proof.len == 32);
        fuzz_touch_bytes(env->auth->proof);
        break;
    default:
        /* A body this harness does not know yet: the decoder must at least
         * know it. */
        break;
    }
    fuzz_require(env->body_case != CRMP__ENVELOPE__BODY__NOT_SET);
    fuzz_require(strcmp(crmpi_wire_body_name(env->body_case), "unknown") != 0);
}

static int fuzz_decode(const uint8_t *buf, size_t len, Crmp__Envelope **out)
{
    *out = (Crmp__Envelope *) (uintptr_t) 1;   /* must be overwritten */
    int rc = crmpi_wire_decode(buf, len, out);
    if (rc) {
        fuzz_require(rc == -EMSGSIZE || rc == -EBADMSG || rc == -EPROTO);
        fuzz_require(*out == NULL);
    } else {
        fuzz_require(*out != NULL);
    }
    return rc;
}

/*
 * The coordinator's decoding (wire_units.h): a Hello's units apart, every
 * one of them readable, unit_count of them; the rest of the message as
 * crmpi_wire_decode() leaves it.
 */
static void fuzz_split(const uint8_t *data, size_t size)
{
    Crmp__Envelope *env;
    struct crmpi_wire_units l;
    int rc = crmpi_wire_decode_split(data, size, &env, &l);
    if (rc) {
        fuzz_require(rc == -EMSGSIZE || rc == -EBADMSG || rc == -EPROTO || rc == -ENOMEM);
        fuzz_require(env == NULL && l.buf == NULL && l.n == 0);
        return;
    }
    fuzz_touch_envelope(env);
    size_t off = 0, n = 0;
    struct crmpi_wire_unit u;
    while (crmpi_wire_units_next(&l, &off, &u)) {
        fuzz_touch_str(u.suite);
        fuzz_touch_str(u.name);
        fuzz_require(u.param >= -1);
        ++n;
    }
    fuzz_require(n == l.n && off == l.len);
    fuzz_require(!n || (env->body_case == CRMP__ENVELOPE__BODY_HELLO
                        && env->hello->n_units == 0 && env->hello->unit_count == n));
    crmpi_wire_units_free(&l);
    crmpi_wire_free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Crmp__Envelope *env, *again;
    uint8_t *enc1, *enc2;
    size_t len1, len2;

    fuzz_split(data, size);
    if (fuzz_decode(data, size, &env))
        return 0;
    fuzz_touch_envelope(env);

    fuzz_require(crmpi_wire_encode(env, &enc1, &len1) == 0);
    fuzz_require(fuzz_decode(enc1, len1, &again) == 0);
    fuzz_touch_envelope(again);
    fuzz_require(again->body_case == env->body_case);

    fuzz_require(crmpi_wire_encode(again, &enc2, &len2) == 0);
    fuzz_require(len1 == len2);
    fuzz_require(len1 == 0 || memcmp(enc1, enc2, len1) == 0);

    free(enc2);
    free(enc1);
    crmpi_wire_free(again);
    crmpi_wire_free(env);
    return 0;
}
