/*
 * A Hello's unit list, kept apart from its decoded message (issue 10).  The
 * first worker lists every unit of the binary; protobuf-c decodes each into a
 * struct and two strings, with its parser's scratch beside them: about 200
 * bytes a unit, 20 MB for 100,000 units, the largest allocation of the
 * coordinator's run.  The coordinator reads the list straight from the
 * encoding into one compact buffer instead, of at most the encoding's size.
 */
#ifndef CRMPI_WIRE_UNITS_H_
#define CRMPI_WIRE_UNITS_H_

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct crmpi_wire_units {
    char *buf;      /* owned: n units, each "suite\0name\0", its int32 param, a skipped byte */
    size_t len;
    size_t n;
};

struct crmpi_wire_unit {
    const char *suite;  /* borrowed from the list */
    const char *name;   /* borrowed from the list */
    int param;
    int skipped;
};

/*
 * Like crmpi_wire_decode(), but a Hello's units go to *units (the caller
 * owns it: crmpi_wire_units_free()), not into the message, whose n_units is
 * then 0.  Any other message decodes as crmpi_wire_decode() decodes it, and
 * *units is empty.  The units are checked as the decoded ones are: unit_count
 * of them, each with a suite and a name (without a NUL byte), a param of -1
 * or more, and no field the protocol lacks.  Returns 0 or the codes of
 * crmpi_wire_decode(), or -ENOMEM; *out is NULL and *units empty on error.
 */
int crmpi_wire_decode_split(const uint8_t *buf, size_t len, Crmp__Envelope **out,
        struct crmpi_wire_units *units);

/* The same list from a decoded Hello's units (a worker's own, tests).  Returns 0 or -ENOMEM. */
int crmpi_wire_units_from_hello(const Crmp__Hello *hello, struct crmpi_wire_units *out);

/*
 * The unit at *off (start with 0), moving *off past it: 1, or 0 after the
 * last.  The list was checked when it was built: no bounds to check here.
 */
int crmpi_wire_units_next(const struct crmpi_wire_units *l, size_t *off, struct crmpi_wire_unit *u);

/* Frees what l owns and empties it; tolerates an empty one. */
void crmpi_wire_units_free(struct crmpi_wire_units *l);

#endif /* !CRMPI_WIRE_UNITS_H_ */
