/* UTF-8 well-formedness, for the reports that must carry test output as text. */
#ifndef CRMPI_UTF8_H_
#define CRMPI_UTF8_H_

#include <stddef.h>

/* U+FFFD, what an ill-formed sequence becomes. */
#define CRMPI_UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * The length (1 to 4) of the well-formed sequence at s (avail bytes left,
 * at least 1), or 0 when it is ill-formed: then *skip is the length of its
 * maximal valid prefix (at least 1), the bytes one U+FFFD replaces, as JSON
 * and XML writers and decoders do.
 */
size_t crmpi_utf8_seq(const unsigned char *s, size_t avail, size_t *skip);

#endif /* !CRMPI_UTF8_H_ */
