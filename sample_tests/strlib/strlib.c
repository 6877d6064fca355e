#include "strlib.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sl_trim(char *s)
{
    while (*s && isspace((unsigned char) *s))
        ++s;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char) s[len - 1]))
        --len;
    s[len] = '\0';
    return s;
}

char *sl_to_lower(char *s)
{
    for (char *p = s; *p; ++p)
        *p = (char) tolower((unsigned char) *p);
    return s;
}

char *sl_to_upper(char *s)
{
    for (char *p = s; *p; ++p)
        *p = (char) toupper((unsigned char) *p);
    return s;
}

static char *dup_range(const char *begin, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    memcpy(out, begin, len);
    out[len] = '\0';
    return out;
}

char **sl_split(const char *s, char sep, size_t *count)
{
    size_t fields = 1;
    for (const char *p = s; *p; ++p)
        if (*p == sep)
            ++fields;

    char **parts = calloc(fields + 1, sizeof (*parts));
    if (!parts)
        return NULL;

    const char *start = s;
    size_t i = 0;
    for (const char *p = s;; ++p) {
        if (*p == sep || *p == '\0') {
            parts[i] = dup_range(start, (size_t) (p - start));
            if (!parts[i]) {
                sl_free_split(parts);
                return NULL;
            }
            ++i;
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    if (count)
        *count = fields;
    return parts;
}

void sl_free_split(char **parts)
{
    if (!parts)
        return;
    for (char **p = parts; *p; ++p)
        free(*p);
    free(parts);
}

char *sl_join(const char *const *parts, size_t n, const char *sep)
{
    size_t seplen = strlen(sep);
    size_t total = 1;
    for (size_t i = 0; i < n; ++i)
        total += strlen(parts[i]) + (i ? seplen : 0);

    char *out = malloc(total);
    if (!out)
        return NULL;
    char *w = out;
    for (size_t i = 0; i < n; ++i) {
        if (i) {
            memcpy(w, sep, seplen);
            w += seplen;
        }
        size_t len = strlen(parts[i]);
        memcpy(w, parts[i], len);
        w += len;
    }
    *w = '\0';
    return out;
}

size_t sl_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t n = 0;
    while (*p) {
        size_t extra;
        if (*p < 0x80)
            extra = 0;
        else if ((*p & 0xE0) == 0xC0)
            extra = 1;
        else if ((*p & 0xF0) == 0xE0)
            extra = 2;
        else if ((*p & 0xF8) == 0xF0)
            extra = 3;
        else
            return (size_t) -1;
        ++p;
        for (size_t i = 0; i < extra; ++i, ++p)
            if ((*p & 0xC0) != 0x80)
                return (size_t) -1;
        ++n;
    }
    return n;
}

size_t sl_copy(char *dst, const char *src, size_t dstsize)
{
    size_t srclen = strlen(src);
    if (dstsize > 0) {
        size_t n = srclen < dstsize - 1 ? srclen : dstsize - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return srclen;
}

int sl_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int sl_ends_with(const char *s, const char *suffix)
{
    size_t slen = strlen(s), xlen = strlen(suffix);
    return xlen <= slen && memcmp(s + slen - xlen, suffix, xlen) == 0;
}

char *sl_replace(const char *s, const char *from, const char *to)
{
    size_t flen = strlen(from), tlen = strlen(to);
    if (flen == 0)
        return NULL;

    size_t hits = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + flen, from))
        ++hits;

    size_t outlen = strlen(s) - hits * flen + hits * tlen;
    char *out = malloc(outlen + 1);
    if (!out)
        return NULL;

    char *w = out;
    const char *r = s;
    for (const char *p = strstr(r, from); p; p = strstr(r, from)) {
        memcpy(w, r, (size_t) (p - r));
        w += p - r;
        memcpy(w, to, tlen);
        w += tlen;
        r = p + flen;
    }
    strcpy(w, r);
    return out;
}

void sl_print_centered(const char *s, size_t width)
{
    size_t len = strlen(s);
    size_t pad = width > len ? width - len : 0;
    size_t left = pad / 2, right = pad - left;
    printf("|%*s%s%*s|\n", (int) left, "", s, (int) right, "");
    fflush(stdout);
}

void sl_warn(const char *msg)
{
    fprintf(stderr, "strlib: %s\n", msg);
}
