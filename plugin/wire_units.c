#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire_units.h"

/* Field numbers of plugin/mproc.proto (test/wire_units_test.c's round trip fails if they drift). */
#define WU_ENVELOPE_HELLO 2
#define WU_HELLO_UNITS 4
#define WU_UNIT_SUITE 1
#define WU_UNIT_NAME 2
#define WU_UNIT_PARAM 3
#define WU_UNIT_SKIPPED 4

enum { WU_VARINT = 0, WU_FIXED64 = 1, WU_BYTES = 2, WU_FIXED32 = 5 };

/* One field of an encoding; every span lies inside the buffer it was read from. */
struct wu_field {
    uint64_t num;
    unsigned wt;
    const uint8_t *start;   /* its tag */
    const uint8_t *data;    /* WU_BYTES: its content, len bytes */
    size_t len;
    uint64_t v;             /* WU_VARINT: its value */
    const uint8_t *end;     /* past it */
};

static int wu_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -EBADMSG;
        uint8_t b = *(*p)++;
        r |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -EBADMSG;
}

/* Reads the field at p; a group, a length past end or a field number 0 is malformed. */
static int wu_field(const uint8_t *p, const uint8_t *end, struct wu_field *f)
{
    uint64_t tag, n;
    *f = (struct wu_field) { .start = p };
    if (wu_varint(&p, end, &tag) || tag >> 3 == 0)
        return -EBADMSG;
    f->num = tag >> 3;
    f->wt = (unsigned) (tag & 7);
    switch (f->wt) {
    case WU_VARINT:
        if (wu_varint(&p, end, &f->v))
            return -EBADMSG;
        break;
    case WU_FIXED64:
    case WU_FIXED32: {
        size_t w = f->wt == WU_FIXED64 ? 8 : 4;
        if ((size_t) (end - p) < w)
            return -EBADMSG;
        p += w;
        break;
    }
    case WU_BYTES:
        if (wu_varint(&p, end, &n) || n > (uint64_t) (end - p))
            return -EBADMSG;
        f->data = p;
        f->len = (size_t) n;
        p += n;
        break;
    default:
        return -EBADMSG;
    }
    f->end = p;
    return 0;
}

static char *wu_put(char *w, const char *suite, size_t suite_len, const char *name,
        size_t name_len, int32_t param, int skipped)
{
    memcpy(w, suite, suite_len);
    w[suite_len] = '\0';
    w += suite_len + 1;
    memcpy(w, name, name_len);
    w[name_len] = '\0';
    w += name_len + 1;
    memcpy(w, &param, sizeof(param));
    w += sizeof(param);
    *w++ = (char) (skipped != 0);
    return w;
}

/*
 * Checks one encoded Unit and appends it to the list at *w.  Its compact
 * form (the strings, two NULs, five bytes) is never longer than its encoding
 * (the strings, their two tags and lengths, the param's tag and value, and
 * the unit's own tag and length).
 */
static int wu_unit(const uint8_t *p, const uint8_t *end, char **w)
{
    struct wu_field f, suite = { 0 }, name = { 0 };
    uint64_t param = 0, skipped = 0;
    int has_param = 0;
    for (; p < end; p = f.end) {
        if (wu_field(p, end, &f))
            return -EBADMSG;
        /* As protobuf-c: a field again replaces it; a field of another type is malformed. */
        if (f.num == WU_UNIT_SUITE && f.wt == WU_BYTES)
            suite = f;
        else if (f.num == WU_UNIT_NAME && f.wt == WU_BYTES)
            name = f;
        else if (f.num == WU_UNIT_PARAM && f.wt == WU_VARINT)
            param = f.v, has_param = 1;
        else if (f.num == WU_UNIT_SKIPPED && f.wt == WU_VARINT)
            skipped = f.v;
        else
            return -EBADMSG;    /* unknown fields are refused, as wire_check() does */
    }
    if (!suite.start || !name.start || !has_param)
        return -EBADMSG;
    /* A NUL would cut the name short: the list is of C strings. */
    if (memchr(suite.data, 0, suite.len) || memchr(name.data, 0, name.len))
        return -EBADMSG;
    /* sint32: zigzag over the low 32 bits, as protobuf-c reads it. */
    uint32_t z = (uint32_t) param;
    int32_t prm = (int32_t) ((z >> 1) ^ (0u - (z & 1u)));
    if (prm < -1)
        return -EBADMSG;
    *w = wu_put(*w, (const char *) suite.data, suite.len, (const char *) name.data, name.len,
            prm, skipped != 0);
    return 0;
}

static void wu_put_varint(uint8_t **w, uint64_t v)
{
    while (v >= 0x80) {
        *(*w)++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *(*w)++ = (uint8_t) v;
}

/*
 * Copies the envelope into lean without the hello's unit fields, and the
 * units into l (its buffer allocated by the caller, hello->len bytes).
 */
static int wu_strip(const uint8_t *buf, size_t len, const struct wu_field *hello, uint8_t *lean,
        size_t *lean_len, struct crmpi_wire_units *l)
{
    const uint8_t *hend = hello->data + hello->len;
    struct wu_field f;
    size_t kept = 0;
    for (const uint8_t *p = hello->data; p < hend; p = f.end) {
        if (wu_field(p, hend, &f))
            return -EBADMSG;
        if (f.num != WU_HELLO_UNITS)
            kept += (size_t) (f.end - f.start);
    }
    uint8_t *w = lean;
    size_t before = (size_t) (hello->data - buf);
    /* The tag as it came, then the shorter length: never longer than the original. */
    const uint8_t *tag_end = hello->start;
    uint64_t tag;
    if (wu_varint(&tag_end, hello->data, &tag))
        return -EBADMSG;
    memcpy(w, buf, (size_t) (tag_end - buf));
    w += tag_end - buf;
    wu_put_varint(&w, kept);
    char *u = l->buf;
    for (const uint8_t *p = hello->data; p < hend; p = f.end) {
        (void) wu_field(p, hend, &f);   /* read above */
        if (f.num != WU_HELLO_UNITS) {
            memcpy(w, f.start, (size_t) (f.end - f.start));
            w += f.end - f.start;
        } else if (f.wt != WU_BYTES || wu_unit(f.data, f.data + f.len, &u)) {
            return -EBADMSG;
        } else {
            ++l->n;
        }
    }
    memcpy(w, hend, len - before - hello->len);
    w += len - before - hello->len;
    *lean_len = (size_t) (w - lean);
    l->len = (size_t) (u - l->buf);
    return 0;
}

int crmpi_wire_decode_split(const uint8_t *buf, size_t len, Crmp__Envelope **out,
        struct crmpi_wire_units *units)
{
    *units = (struct crmpi_wire_units) { 0 };
    *out = NULL;
    if (len > CRMPI_WIRE_MAX_MSG)
        return -EMSGSIZE;
    /* The envelope's hello; a second one (protobuf would merge them) is refused. */
    struct wu_field f, hello = { 0 };
    for (const uint8_t *p = buf; p < buf + len; p = f.end) {
        if (wu_field(p, buf + len, &f))
            return -EBADMSG;
        if (f.num != WU_ENVELOPE_HELLO)
            continue;
        if (f.wt != WU_BYTES || hello.start)
            return -EBADMSG;
        hello = f;
    }
    if (!hello.start)
        return crmpi_wire_decode(buf, len, out);

    struct crmpi_wire_units l = { .buf = malloc(hello.len + 1) };
    uint8_t *lean = malloc(len + 1);
    size_t lean_len = 0;
    int rc = l.buf && lean ? wu_strip(buf, len, &hello, lean, &lean_len, &l) : -ENOMEM;
    if (!rc)
        rc = crmpi_wire_decode(lean, lean_len, out);
    free(lean);
    if (!rc && ((*out)->body_case != CRMP__ENVELOPE__BODY_HELLO
                || (l.n && l.n != (*out)->hello->unit_count))) {
        crmpi_wire_free(*out);
        *out = NULL;
        rc = -EBADMSG;
    }
    if (rc) {
        crmpi_wire_units_free(&l);
        return rc;
    }
    if (!l.n)
        crmpi_wire_units_free(&l);
    *units = l;
    return 0;
}

int crmpi_wire_units_from_hello(const Crmp__Hello *hello, struct crmpi_wire_units *out)
{
    size_t len = 0;
    for (size_t i = 0; i < hello->n_units; ++i)
        len += strlen(hello->units[i]->suite) + strlen(hello->units[i]->name) + 7;
    *out = (struct crmpi_wire_units) { .buf = malloc(len + 1) };
    if (!out->buf)
        return -ENOMEM;
    char *w = out->buf;
    for (size_t i = 0; i < hello->n_units; ++i) {
        const Crmp__Unit *u = hello->units[i];
        w = wu_put(w, u->suite, strlen(u->suite), u->name, strlen(u->name), u->param,
                u->has_skipped && u->skipped);
    }
    out->len = (size_t) (w - out->buf);
    out->n = hello->n_units;
    return 0;
}

int crmpi_wire_units_next(const struct crmpi_wire_units *l, size_t *off, struct crmpi_wire_unit *u)
{
    if (*off >= l->len)
        return 0;
    const char *p = l->buf + *off;
    int32_t param;
    u->suite = p;
    p += strlen(p) + 1;
    u->name = p;
    p += strlen(p) + 1;
    memcpy(&param, p, sizeof(param));
    p += sizeof(param);
    u->param = param;
    u->skipped = *p++ != 0;
    *off = (size_t) (p - l->buf);
    return 1;
}

void crmpi_wire_units_free(struct crmpi_wire_units *l)
{
    free(l->buf);
    *l = (struct crmpi_wire_units) { 0 };
}
