#include "utf8.h"

size_t crmpi_utf8_seq(const unsigned char *u, size_t avail, size_t *skip)
{
    size_t need = u[0] < 0x80 ? 1 : u[0] >= 0xc2 && u[0] <= 0xdf ? 2
            : u[0] >= 0xe0 && u[0] <= 0xef ? 3 : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4 : 0;
    size_t ok = need ? 1 : 0;
    while (ok && ok < need && ok < avail && (u[ok] & 0xc0) == 0x80) {
        /* The second byte's range excludes overlongs, surrogates, > U+10FFFF. */
        if (ok == 1 && ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] > 0x9f)
                || (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] > 0x8f)))
            break;
        ++ok;
    }
    if (need && ok == need)
        return need;
    *skip = ok ? ok : 1;
    return 0;
}
