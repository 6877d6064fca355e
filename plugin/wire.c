#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "wire.h"

static int wire_pack(const Crmp__Envelope *env, uint8_t **out, size_t *len)
{
    size_t n = crmp__envelope__get_packed_size(env);
    if (n > CRMPI_WIRE_MAX_MSG)
        return -EMSGSIZE;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    crmp__envelope__pack(env, buf);
    *out = buf;
    *len = n;
    return 0;
}

/* Whether e is an event crmpi_wire_decode pointed at its Result's final statistics. */
static int wire_shared_final(const Crmp__Result *r, const Crmp__Event *e)
{
    return e->has_final_stats && e->final_stats && r->final && e->stats == r->final;
}

int crmpi_wire_encode(const Crmp__Envelope *env, uint8_t **out, size_t *len)
{
    Crmp__Result *r = env->body_case == CRMP__ENVELOPE__BODY_RESULT ? env->result : NULL;
    size_t shared = 0;
    for (size_t i = 0; r && i < r->n_events; ++i)
        shared += wire_shared_final(r, r->events[i]);
    if (!shared)
        return wire_pack(env, out, len);
    /*
     * A decoded Result sent again (the codec's round trip): on the wire those
     * events say final_stats alone, never beside a copy (wire_check refuses
     * both).  Their pointers go out for the packing and come back after.
     */
    size_t *at = malloc(shared * sizeof(*at));
    if (!at)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->n_events; ++i)
        if (wire_shared_final(r, r->events[i])) {
            at[k++] = i;
            r->events[i]->stats = NULL;
        }
    int rc = wire_pack(env, out, len);
    for (size_t j = 0; j < k; ++j)
        r->events[at[j]]->stats = r->final;
    free(at);
    return rc;
}

/* Strings must be printable text of sane length; the logger prints them. */
static int wire_check_str(const char *s)
{
    return !s || strlen(s) < CRMPI_WIRE_MAX_MSG;
}

static int wire_check_stats(const Crmp__TestStats *s)
{
    if (!s)
        return 1;
    return s->status >= 0 && s->status <= 2 && wire_check_str(s->file)
        && wire_check_str(s->message);
}

static int wire_check_param(const Crmp__LogParam *p)
{
    /* enum cr_log_param_kind: 0 = string, 1 = raw */
    return !p || (p->kind >= 0 && p->kind <= 1);
}

static int wire_check_result(const Crmp__Result *r)
{
    if (!wire_check_stats(r->final) || !wire_check_str(r->kept_tmpdir))
        return 0;
    for (size_t i = 0; i < r->n_leaked; ++i)
        if (!wire_check_str(r->leaked[i]))
            return 0;
    if (r->n_artifact_notes > CRMPI_ARTIFACTS_NOTES_MAX + 1)
        return 0;
    for (size_t i = 0; i < r->n_artifact_notes; ++i)
        if (!wire_check_str(r->artifact_notes[i]) || strlen(r->artifact_notes[i]) > 4096)
            return 0;
    /* Where the output stood at each event: within it, and never back (the coordinator prints by it). */
    uint64_t out_at = 0, err_at = 0;
    uint64_t out_len = r->has_out ? r->out.len : 0, err_len = r->has_err ? r->err.len : 0;
    for (size_t i = 0; i < r->n_events; ++i) {
        const Crmp__Event *e = r->events[i];
        if ((unsigned) e->kind > CRMP__EVENT__KIND__ASSERT_PARAM_EQ)
            return 0;
        if (e->has_out_at && (e->out_at < out_at || e->out_at > out_len))
            return 0;
        if (e->has_err_at && (e->err_at < err_at || e->err_at > err_len))
            return 0;
        out_at = e->has_out_at ? e->out_at : out_at;
        err_at = e->has_err_at ? e->err_at : err_at;
        if (!wire_check_stats(e->stats) || !wire_check_param(e->p1) || !wire_check_param(e->p2))
            return 0;
        /* Statistics sent once: the Result's own, never besides a copy. */
        if (e->has_final_stats && e->final_stats && (e->stats || !r->final))
            return 0;
        if (e->has_severity && (e->severity < 0 || e->severity > 2))
            return 0;
    }
    return 1;
}

/*
 * Both ends speak the same version: a field this version does not define is
 * a malformed message, not something to carry along (protobuf-c keeps such
 * fields, even the invalid field number 0, and would send them back out).
 */
static int wire_no_unknown(const ProtobufCMessage *m)
{
    if (!m)
        return 1;
    if (m->n_unknown_fields)
        return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; ++i) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *) m;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *) (base + f->quantifier_offset);
            if (which != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) (base + f->offset);
            for (size_t k = 0; k < n; ++k)
                if (!wire_no_unknown(v[k]))
                    return 0;
        } else if (!wire_no_unknown(*(ProtobufCMessage *const *) (base + f->offset))) {
            return 0;
        }
    }
    return 1;
}

/*
 * An artifact names a place inside the test's directory (never a climb, an
 * absolute path or a control character), with plain permission bits and a
 * place in the file that cannot wrap.
 */
static int wire_check_artifact(const Crmp__Artifact *a)
{
    if (!crmpi_artifacts_path_ok(a->path) || a->mode > 0777)
        return 0;
    if (a->has_dir && a->dir)
        return a->offset == 0 && (!a->has_data || a->data.len == 0);
    return a->offset <= (1ull << 62) && (!a->has_data || a->data.len <= CRMPI_WIRE_MAX_MSG);
}

static int wire_check(const Crmp__Envelope *env)
{
    if (!wire_no_unknown(&env->base))
        return 0;
    switch (env->body_case) {
    case CRMP__ENVELOPE__BODY_HELLO:
        for (size_t i = 0; i < env->hello->n_units; ++i)
            if (env->hello->units[i]->param < -1)
                return 0;
        return env->hello->fingerprint.len == 32
            && (!env->hello->n_units || env->hello->n_units == env->hello->unit_count)
            && (!env->hello->has_nonce || env->hello->nonce.len == 16)
            && (!env->hello->has_exe_hash || env->hello->exe_hash.len == 32);
    case CRMP__ENVELOPE__BODY_CHALLENGE:
        return env->challenge->nonce.len == 16 && env->challenge->proof.len == 32;
    case CRMP__ENVELOPE__BODY_AUTH:
        return env->auth->proof.len == 32;
    case CRMP__ENVELOPE__BODY_RESULT:
        return wire_check_result(env->result);
    case CRMP__ENVELOPE__BODY_ARTIFACT:
        return wire_check_artifact(env->artifact);
    case CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN:
    case CRMP__ENVELOPE__BODY_ASSIGN:
    case CRMP__ENVELOPE__BODY_HEARTBEAT:
    case CRMP__ENVELOPE__BODY_STOP:
    case CRMP__ENVELOPE__BODY_REJECT:
    case CRMP__ENVELOPE__BODY_LIST_WANTED:
        return 1;
    default:
        return 0;
    }
}

/*
 * A decoded message's memory: one block per message instead of one malloc
 * per sub-message, string and array (a result of an empty test is about
 * twenty).  Every piece starts with a header naming its block (NULL: the
 * piece was malloc'd on its own, the block being full); the block counts
 * its live pieces, plus one held by the decoder while it unpacks, and goes
 * when the count reaches zero.  protobuf-c frees every piece it allocated
 * (crmp__envelope__free_unpacked), so the message is freed as before; a
 * message none of whose pieces went outside its block is freed whole
 * instead (crmpi_wire_free).
 */
struct wire_block {
    size_t live;
    size_t outside;     /* pieces malloc'd on their own while this block was full */
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

#define WIRE_HDR 16     /* a piece's header: its block, keeping the piece 16-aligned */

static void *wire_block_alloc(void *data, size_t size)
{
    struct wire_block *b = data;
    size_t need = WIRE_HDR + ((size + 15) & ~(size_t) 15);
    unsigned char *p;
    if (b && need >= size && b->cap - b->used >= need) {
        p = b->mem + b->used;
        b->used += need;
        ++b->live;
    } else {
        p = need >= size ? malloc(need) : NULL;
        if (!p)
            return NULL;
        if (b)
            ++b->outside;
        b = NULL;
    }
    memcpy(p, &b, sizeof(b));
    return p + WIRE_HDR;
}

static void wire_block_put(struct wire_block *b)
{
    if (--b->live == 0)
        free(b);
}

static void wire_block_free(void *data, void *ptr)
{
    (void) data;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *) ptr - WIRE_HDR;
    struct wire_block *b;
    memcpy(&b, p, sizeof(b));
    if (b)
        wire_block_put(b);
    else
        free(p);
}

/* Frees what wire_block_alloc gave, whichever block it came from. */
static ProtobufCAllocator wire_freer = { .alloc = wire_block_alloc, .free = wire_block_free };

/*
 * An event with final_stats has the Result's final statistics: share = 1
 * points it at them (after decoding), 0 takes the pointer back (before
 * protobuf-c frees the message, which would free them twice).
 */
static void wire_share_final(Crmp__Result *r, int share)
{
    for (size_t i = 0; i < r->n_events; ++i) {
        Crmp__Event *e = r->events[i];
        if (e->has_final_stats && e->final_stats)
            e->stats = share ? r->final : NULL;
    }
}

int crmpi_wire_decode(const uint8_t *buf, size_t len, Crmp__Envelope **out)
{
    *out = NULL;
    if (len > CRMPI_WIRE_MAX_MSG)
        return -EMSGSIZE;
    /* The structures are wider than their encoding: room for most messages at once. */
    size_t cap = 4 * len + 1024;
    struct wire_block *b = malloc(sizeof(*b) + cap);
    if (b)
        *b = (struct wire_block) { .live = 1, .cap = cap };
    ProtobufCAllocator alloc = { .alloc = wire_block_alloc, .free = wire_block_free,
                                 .allocator_data = b };
    Crmp__Envelope *env = crmp__envelope__unpack(&alloc, len, buf);
    if (b)
        wire_block_put(b);      /* the decoder's own reference */
    if (!env)
        return -EBADMSG;
    if (env->version != CRMPI_WIRE_VERSION) {
        crmp__envelope__free_unpacked(env, &wire_freer);
        return -EPROTO;
    }
    if (!wire_check(env)) {
        crmp__envelope__free_unpacked(env, &wire_freer);
        return -EBADMSG;
    }
    if (env->body_case == CRMP__ENVELOPE__BODY_RESULT)
        wire_share_final(env->result, 1);
    *out = env;
    return 0;
}

/* protobuf's base-128 varint of v at p; its length (10 at most). */
static size_t wire_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        p[n++] = (uint8_t) (v | 0x80);
    p[n++] = (uint8_t) v;
    return n;
}

/* A varint field (wire type 0) of number field, when present. */
static size_t wire_varint_field(uint8_t *p, unsigned field, int present, uint64_t v)
{
    if (!present)
        return 0;
    p[0] = (uint8_t) (field << 3);
    return 1 + wire_varint(p + 1, v);
}

size_t crmpi_wire_encode_assign(const Crmp__Envelope *env, uint8_t buf[CRMPI_WIRE_ASSIGN_MAX])
{
    const Crmp__Assign *a = env->assign;
    if (env->body_case != CRMP__ENVELOPE__BODY_ASSIGN || !a || a->n_globals || a->fixture_failed
            || env->base.n_unknown_fields || a->base.n_unknown_fields)
        return 0;
    /* Fields in number order, as protobuf-c packs them: 5 varints, 35 bytes at most. */
    uint8_t body[40];
    size_t n = wire_varint_field(body, 1, 1, a->unit);
    n += wire_varint_field(body + n, 2, a->has_slot, a->slot);
    n += wire_varint_field(body + n, 3, a->has_keep_tmp, a->keep_tmp);
    n += wire_varint_field(body + n, 4, a->has_leaks, a->leaks);
    n += wire_varint_field(body + n, 5, a->has_artifacts_max, a->artifacts_max);
    size_t len = wire_varint_field(buf, 1, 1, env->version);
    buf[len++] = (4 << 3) | 2;              /* Envelope.assign, length-delimited */
    len += wire_varint(buf + len, n);       /* one byte: n < 128 */
    memcpy(buf + len, body, n);
    return len + n;
}

void crmpi_wire_init(Crmp__Envelope *env, Crmp__Envelope__BodyCase body)
{
    crmp__envelope__init(env);
    env->version = CRMPI_WIRE_VERSION;
    env->body_case = body;
}

void crmpi_wire_free(Crmp__Envelope *env)
{
    if (!env)
        return;
    /*
     * Every piece in the envelope's block: the block goes at once, without
     * protobuf-c walking the message to free each piece (3 k instructions
     * a result).  Nothing outside holds a piece of a decoded message.
     */
    struct wire_block *b;
    memcpy(&b, (unsigned char *) env - WIRE_HDR, sizeof(b));
    if (b && !b->outside) {
        free(b);
        return;
    }
    if (env->body_case == CRMP__ENVELOPE__BODY_RESULT && env->result)
        wire_share_final(env->result, 0);
    crmp__envelope__free_unpacked(env, &wire_freer);
}

/* The 4-byte scalars: every field of TestStats and Counters but the strings. */
static int wire_scalar32(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_BOOL:
    case PROTOBUF_C_TYPE_ENUM:
        return 1;
    default:
        return 0;
    }
}

/* Marks each optional scalar of m present when its value is not all zero bits. */
static void wire_mark_nonzero(ProtobufCMessage *m)
{
    if (!m)
        return;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    unsigned char *base = (unsigned char *) m;
    for (unsigned i = 0; i < d->n_fields; ++i) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_OPTIONAL || !wire_scalar32(f->type))
            continue;
        uint32_t v;
        memcpy(&v, base + f->offset, sizeof(v));
        if (v)
            *(protobuf_c_boolean *) (base + f->quantifier_offset) = 1;
    }
}

void crmpi_wire_result_mark(Crmp__Result *r)
{
    wire_mark_nonzero((ProtobufCMessage *) r->final);
    wire_mark_nonzero((ProtobufCMessage *) r->counters);
    for (size_t i = 0; i < r->n_events; ++i)
        wire_mark_nonzero((ProtobufCMessage *) r->events[i]->stats);
}

const char *crmpi_wire_body_name(Crmp__Envelope__BodyCase c)
{
    switch (c) {
    case CRMP__ENVELOPE__BODY_HELLO: return "hello";
    case CRMP__ENVELOPE__BODY_RESULT: return "result";
    case CRMP__ENVELOPE__BODY_ASSIGN: return "assign";
    case CRMP__ENVELOPE__BODY_STOP: return "stop";
    case CRMP__ENVELOPE__BODY_REJECT: return "reject";
    case CRMP__ENVELOPE__BODY_CHALLENGE: return "challenge";
    case CRMP__ENVELOPE__BODY_AUTH: return "auth";
    case CRMP__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
    case CRMP__ENVELOPE__BODY_LIST_WANTED: return "list request";
    case CRMP__ENVELOPE__BODY_ARTIFACT: return "artifact";
    case CRMP__ENVELOPE__BODY_ARTIFACT_TAKEN: return "artifact taken";
    default: return "unknown";
    }
}

int crmpi_wire_hello_same_exe(const Crmp__Hello *hello, const uint8_t exe_hash[32])
{
    return hello->has_exe_hash && hello->exe_hash.len == 32
        && !memcmp(hello->exe_hash.data, exe_hash, 32);
}
