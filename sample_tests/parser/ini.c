#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *b, const char *e)
{
    while (b < e && isspace((unsigned char) *b))
        ++b;
    return b;
}

static const char *rskip_space(const char *b, const char *e)
{
    while (e > b && isspace((unsigned char) e[-1]))
        --e;
    return e;
}

static int copy_field(char *dst, size_t cap, const char *b, const char *e)
{
    size_t len = (size_t) (e - b);
    if (len >= cap)
        return -1;
    memcpy(dst, b, len);
    dst[len] = '\0';
    return 0;
}

static int set_entry(struct ini_doc *doc, const char *section,
        const char *kb, const char *ke, const char *vb, const char *ve)
{
    char key[INI_MAX_NAME];
    if (copy_field(key, sizeof (key), kb, ke) < 0 || key[0] == '\0')
        return -1;

    struct ini_entry *slot = NULL;
    for (size_t i = 0; i < doc->count; ++i) {
        if (!strcmp(doc->entries[i].section, section) && !strcmp(doc->entries[i].key, key)) {
            slot = &doc->entries[i];
            break;
        }
    }
    if (!slot) {
        if (doc->count == INI_MAX_ENTRIES)
            return -1;
        slot = &doc->entries[doc->count++];
        strcpy(slot->section, section);
        strcpy(slot->key, key);
    }
    return copy_field(slot->value, sizeof (slot->value), vb, ve);
}

int ini_parse(const char *text, struct ini_doc *doc)
{
    char section[INI_MAX_NAME] = "";
    int lineno = 0;

    doc->count = 0;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol)
            eol = line + strlen(line);
        ++lineno;

        const char *b = skip_space(line, eol);
        const char *e = rskip_space(b, eol);

        if (b == e || *b == ';' || *b == '#') {
            /* blank or comment line */
        } else if (*b == '[') {
            if (e[-1] != ']' || e - b < 3)
                return lineno;
            const char *nb = skip_space(b + 1, e - 1);
            const char *ne = rskip_space(nb, e - 1);
            if (nb == ne || copy_field(section, sizeof (section), nb, ne) < 0)
                return lineno;
        } else {
            const char *eq = memchr(b, '=', (size_t) (e - b));
            if (!eq)
                return lineno;
            const char *ke = rskip_space(b, eq);
            const char *vb = skip_space(eq + 1, e);
            if (set_entry(doc, section, b, ke, vb, e) < 0)
                return lineno;
        }
        line = *eol ? eol + 1 : eol;
    }
    return 0;
}

const char *ini_get(const struct ini_doc *doc, const char *section, const char *key)
{
    for (size_t i = 0; i < doc->count; ++i)
        if (!strcmp(doc->entries[i].section, section) && !strcmp(doc->entries[i].key, key))
            return doc->entries[i].value;
    return NULL;
}

long ini_get_long(const struct ini_doc *doc, const char *section, const char *key,
        long fallback)
{
    const char *v = ini_get(doc, section, key);
    if (!v || !*v)
        return fallback;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 0);
    if (*end != '\0' || errno == ERANGE)
        return fallback;
    return n;
}
