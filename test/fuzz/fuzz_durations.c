/*
 * libFuzzer target for the durations database parser: any bytes in the
 * file give either a table that round-trips through a save, or -EBADMSG;
 * never a crash, a hang or a leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct crmpi_durations db;
    int rc = crmpi_durations_parse((const char *) data, size, &db);
    if (rc) {
        if (rc != -EBADMSG && rc != -ENOMEM)
            abort();
        if (db.n || db.v)
            abort();
        return 0;
    }
    /* Sorted and unique, as _find expects. */
    for (size_t i = 0; i < db.n; ++i) {
        const struct crmpi_duration *d = &db.v[i];
        if (!*d->suite || !*d->name || d->param < -1 || !strchr("PFS", d->status))
            abort();
        if (crmpi_durations_find(&db, d->suite, d->name, d->param) != d)
            abort();
    }
    crmpi_durations_free(&db);
    return 0;
}
