/*
 * libFuzzer target for the record a fixtures' process sends back
 * (plugin/fixture_host.c): any bytes give either a report that survives a
 * round trip unchanged, or -EBADMSG with nothing left allocated; never a
 * crash, a hang or a leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

static int same_kv(const struct crmpi_fixture_kv *a, const struct crmpi_fixture_kv *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; ++i)
        if (strcmp(a->keys[i], b->keys[i]) || strcmp(a->values[i], b->values[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[2048];
    struct crmpi_fixture_kv g, n;
    int rc = crmpi_fixture_report_decode(data, size, msg, sizeof(msg), &g, &n);
    if (rc) {
        if ((rc != -EBADMSG && rc != -ENOMEM) || g.n || n.n || g.keys || n.keys)
            abort();
        return 0;
    }
    uint8_t *again;
    size_t len;
    if (crmpi_fixture_report_encode(*msg ? msg : NULL, &g, &n, &again, &len))
        abort();
    /* The encoding is canonical: what decoded is exactly what is written back. */
    if (len != size || memcmp(again, data, size))
        abort();
    char msg2[2048];
    struct crmpi_fixture_kv g2, n2;
    if (crmpi_fixture_report_decode(again, len, msg2, sizeof(msg2), &g2, &n2)
            || strcmp(msg, msg2) || !same_kv(&g, &g2) || !same_kv(&n, &n2))
        abort();
    free(again);
    crmpi_fixture_kv_free(&g);
    crmpi_fixture_kv_free(&n);
    crmpi_fixture_kv_free(&g2);
    crmpi_fixture_kv_free(&n2);
    return 0;
}
