/*
 * strlib - a small string utility library used as code under test by the
 * sample_strlib Criterion suite.
 */
#ifndef SAMPLE_STRLIB_H
#define SAMPLE_STRLIB_H

#include <stddef.h>

/* Returns a pointer to the first non-space character of s and writes a NUL
 * after the last non-space character (modifies s in place). */
char *sl_trim(char *s);

/* Lower/upper-cases ASCII letters of s in place; returns s. */
char *sl_to_lower(char *s);
char *sl_to_upper(char *s);

/* Splits s on every occurrence of the single character sep.  Returns a
 * NULL-terminated malloc'd array of malloc'd strings and stores the number of
 * fields in *count.  Empty fields are kept ("a,,b" -> "a", "", "b").
 * Returns NULL on allocation failure. */
char **sl_split(const char *s, char sep, size_t *count);

/* Frees an array returned by sl_split. */
void sl_free_split(char **parts);

/* Joins n strings with sep between them; returns a malloc'd string. */
char *sl_join(const char *const *parts, size_t n, const char *sep);

/* Number of code points in a UTF-8 string, or (size_t)-1 when the encoding
 * is invalid (bad lead byte, truncated or bad continuation bytes). */
size_t sl_utf8_len(const char *s);

/* Copies at most dstsize-1 bytes of src to dst and always NUL-terminates
 * (when dstsize > 0).  Returns strlen(src), like BSD strlcpy, so truncation
 * happened iff the return value >= dstsize. */
size_t sl_copy(char *dst, const char *src, size_t dstsize);

/* Non-zero when s starts / ends with the given affix. */
int sl_starts_with(const char *s, const char *prefix);
int sl_ends_with(const char *s, const char *suffix);

/* Replaces every occurrence of `from` (non-empty) in s by `to`; returns a
 * malloc'd string, or NULL if from is empty or allocation fails. */
char *sl_replace(const char *s, const char *from, const char *to);

/* Prints s centred in a field of the given width, surrounded by '|'
 * characters, followed by a newline, to stdout. */
void sl_print_centered(const char *s, size_t width);

/* Writes "strlib: <msg>\n" to stderr. */
void sl_warn(const char *msg);

#endif /* SAMPLE_STRLIB_H */
