/*
 * The wire protocol: protobuf-c messages (plugin/mproc.proto) in one
 * versioned Envelope.  Every received byte is hostile: decoding checks the
 * size, the version, the message type and every value an index is taken
 * from, and fails with an error, never a crash.
 */
#ifndef CRMPI_WIRE_H_
#define CRMPI_WIRE_H_

#include <stddef.h>
#include <stdint.h>

#include "mproc.pb-c.h"

#define CRMPI_WIRE_VERSION 6u

/* Nothing legitimate comes near this: a result is a few KiB. */
#define CRMPI_WIRE_MAX_MSG (16u * 1024u * 1024u)

/*
 * Packs env into a malloc'd buffer.  On success returns 0 and the caller owns
 * *out (free()).  Returns -ENOMEM or -EMSGSIZE.  A Result crmpi_wire_decode
 * gave is packed as it came (its final_stats events without a copy), and
 * left as it was.
 */
int crmpi_wire_encode(const Crmp__Envelope *env, uint8_t **out, size_t *len);

/*
 * Unpacks and validates buf.  On success returns 0 and the caller owns *out
 * (crmpi_wire_free()).  Returns -EMSGSIZE (too large), -EBADMSG (malformed,
 * no body, or invalid values) or -EPROTO (other version); *out is NULL then.
 */
int crmpi_wire_decode(const uint8_t *buf, size_t len, Crmp__Envelope **out);

/*
 * Frees a decoded message (NULL is fine).  A decoded Result's events with
 * final_stats point at its final statistics, which are freed once.
 */
void crmpi_wire_free(Crmp__Envelope *env);

/*
 * Before a Result is packed: marks the non-zero values of its statistics
 * (final and each event's) and counters present, so that they are sent and
 * the zeros are not (version 5: absent is 0).  A sender that leaves it out
 * sends zeros for everything there.
 */
void crmpi_wire_result_mark(Crmp__Result *r);

/*
 * The coordinator's usual reply, an Envelope with an Assign that has no
 * globals and no fixture failure, encoded by hand into buf: the same bytes
 * as protobuf-c's packing (2.4 k instructions of about 50 k per result),
 * without walking descriptors.  Returns the length, or 0 when env is not
 * such a message (then pack it as any other).
 */
#define CRMPI_WIRE_ASSIGN_MAX 48u
size_t crmpi_wire_encode_assign(const Crmp__Envelope *env, uint8_t buf[CRMPI_WIRE_ASSIGN_MAX]);

/* Initializes env as a message of this protocol version with the given body. */
void crmpi_wire_init(Crmp__Envelope *env, Crmp__Envelope__BodyCase body);

/* Name of a body case, for messages. */
const char *crmpi_wire_body_name(Crmp__Envelope__BodyCase c);

/*
 * Whether a worker's Hello names the coordinator's own executable (equal
 * crmpi_exe_hash()).  A Hello without the hash (an older or foreign worker)
 * is not the same.
 */
int crmpi_wire_hello_same_exe(const Crmp__Hello *hello, const uint8_t exe_hash[32]);

#endif /* !CRMPI_WIRE_H_ */
