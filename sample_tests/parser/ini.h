/*
 * ini - a minimal INI-file parser used as code under test by the
 * sample_parser suite.
 *
 * Supports [sections], key = value pairs, ';' and '#' comment lines, and
 * surrounding whitespace.  Keys before the first section belong to the
 * section "".  Later duplicate keys override earlier ones.
 */
#ifndef SAMPLE_INI_H
#define SAMPLE_INI_H

#include <stddef.h>

#define INI_MAX_ENTRIES 32
#define INI_MAX_NAME    32
#define INI_MAX_VALUE   64

struct ini_entry {
    char section[INI_MAX_NAME];
    char key[INI_MAX_NAME];
    char value[INI_MAX_VALUE];
};

struct ini_doc {
    struct ini_entry entries[INI_MAX_ENTRIES];
    size_t count;
};

/* Parses text into doc.  Returns 0 on success, or the 1-based number of the
 * first malformed line. */
int ini_parse(const char *text, struct ini_doc *doc);

/* Looks a key up; returns NULL when absent. */
const char *ini_get(const struct ini_doc *doc, const char *section, const char *key);

/* Looks an integer up; returns fallback when absent or not a number. */
long ini_get_long(const struct ini_doc *doc, const char *section, const char *key,
        long fallback);

#endif /* SAMPLE_INI_H */
