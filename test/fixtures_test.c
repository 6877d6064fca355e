/*
 * Unit tests for plugin/fixtures.c and plugin/fixture_host.c: descriptor
 * validation, the published values (the header's crmp_global_set/get and
 * their checks), and the fixtures' process report, which survives a round
 * trip and is refused whole for any hostile byte.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixtures.h"

static int t_setup(void)
{
    return 0;
}

Test(fixture_valid, version_kind_and_setup)
{
    struct crmp_fixture f = { CRMP_FIXTURE_VERSION, CRMP_FIXTURE_NODE, t_setup, NULL, "s", "f.c",
                              1, 0 };
    cr_assert(crmpi_fixture_valid(&f));
    f.version = CRMP_FIXTURE_VERSION + 1;
    cr_assert_not(crmpi_fixture_valid(&f));
    f.version = CRMP_FIXTURE_VERSION;
    for (int kind = -1; kind <= 5; ++kind) {
        f.kind = kind;
        cr_assert_eq(crmpi_fixture_valid(&f), kind >= 1 && kind <= 3, "kind %d", kind);
    }
    f.kind = CRMP_FIXTURE_WORKER;
    f.setup = NULL;
    cr_assert_not(crmpi_fixture_valid(&f));
}

Test(global_values, set_get_and_refusals)
{
    cr_assert_eq(crmp_global_set("UT_KEY_1", "v a=l"), 0);
    cr_assert_str_eq(crmp_global_get("UT_KEY_1"), "v a=l");
    cr_assert_str_eq(getenv(CRMP_GLOBAL_PREFIX "UT_KEY_1"), "v a=l");
    cr_assert_null(crmp_global_get("UT_NEVER_SET"));
    const char *bad[] = { "", "A-B", "a b", "x=y", "é" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        cr_assert_eq(crmp_global_set(bad[i], "v"), -EINVAL, "key '%s'", bad[i]);
        cr_assert_null(crmp_global_get(bad[i]));
    }
    char key[CRMP_GLOBAL_KEY_MAX + 2];
    memset(key, 'K', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    cr_assert_eq(crmp_global_set(key, "v"), -EINVAL);
    key[CRMP_GLOBAL_KEY_MAX] = '\0';
    cr_assert_eq(crmp_global_set(key, "v"), 0);
    char *big = malloc(CRMP_GLOBAL_VALUE_MAX + 2);
    cr_assert_not_null(big);
    memset(big, 'v', CRMP_GLOBAL_VALUE_MAX + 1);
    big[CRMP_GLOBAL_VALUE_MAX + 1] = '\0';
    cr_assert_eq(crmp_global_set("UT_BIG", big), -E2BIG);
    big[CRMP_GLOBAL_VALUE_MAX] = '\0';
    cr_assert_eq(crmp_global_set("UT_BIG", big), 0);
    free(big);
    cr_assert_eq(crmp_global_set("UT_NULL", NULL), -EINVAL);
}

Test(global_values, from_and_to_the_environment)
{
    cr_assert_eq(crmp_global_set("UT_ENV_A", "1"), 0);
    struct crmpi_fixture_kv kv;
    cr_assert_eq(crmpi_fixture_kv_from_env(&kv), 0);
    size_t found = 0;
    for (size_t i = 0; i < kv.n; ++i)
        if (!strcmp(kv.keys[i], "UT_ENV_A")) {
            cr_assert_str_eq(kv.values[i], "1");
            ++found;
        }
    cr_assert_eq(found, 1);
    crmpi_fixture_kv_free(&kv);

    cr_assert_eq(crmpi_fixture_kv_add(&kv, "UT_ENV_B", "two"), 0);
    cr_assert_eq(crmpi_fixture_kv_add(&kv, "bad key", "x"), -EINVAL);
    cr_assert_eq(kv.n, 1);
    cr_assert_eq(crmpi_fixture_kv_to_env(&kv), 0);
    cr_assert_str_eq(crmp_global_get("UT_ENV_B"), "two");
    crmpi_fixture_kv_free(&kv);
    cr_assert_eq(kv.n, 0);
}

/* ---- the report ------------------------------------------------------------------ */

static void t_encode(const char *failed, uint8_t **buf, size_t *len)
{
    struct crmpi_fixture_kv g = { 0 }, n = { 0 };
    cr_assert_eq(crmpi_fixture_kv_add(&g, "DB_PORT", "5433"), 0);
    cr_assert_eq(crmpi_fixture_kv_add(&g, "EMPTY", ""), 0);
    cr_assert_eq(crmpi_fixture_kv_add(&n, "NODE", "n1"), 0);
    cr_assert_eq(crmpi_fixture_report_encode(failed, &g, &n, buf, len), 0);
    crmpi_fixture_kv_free(&g);
    crmpi_fixture_kv_free(&n);
}

Test(fixture_report, round_trip)
{
    for (int with_failure = 0; with_failure < 2; ++with_failure) {
        uint8_t *buf;
        size_t len;
        t_encode(with_failure ? "global fixture s (f.c:1) failed: returned 7" : NULL, &buf, &len);
        char msg[256];
        struct crmpi_fixture_kv g, n;
        cr_assert_eq(crmpi_fixture_report_decode(buf, len, msg, sizeof(msg), &g, &n), 0);
        cr_assert_str_eq(msg, with_failure ? "global fixture s (f.c:1) failed: returned 7" : "");
        cr_assert_eq(g.n, 2);
        cr_assert_str_eq(g.keys[0], "DB_PORT");
        cr_assert_str_eq(g.values[0], "5433");
        cr_assert_str_eq(g.keys[1], "EMPTY");
        cr_assert_str_eq(g.values[1], "");
        cr_assert_eq(n.n, 1);
        cr_assert_str_eq(n.keys[0], "NODE");
        cr_assert_str_eq(n.values[0], "n1");
        crmpi_fixture_kv_free(&g);
        crmpi_fixture_kv_free(&n);
        free(buf);
    }
}

static int t_decode(const uint8_t *buf, size_t len)
{
    char msg[64];
    struct crmpi_fixture_kv g, n;
    int rc = crmpi_fixture_report_decode(buf, len, msg, sizeof(msg), &g, &n);
    if (rc == 0) {
        crmpi_fixture_kv_free(&g);
        crmpi_fixture_kv_free(&n);
    } else {
        cr_assert_eq(g.n + n.n, 0, "a refused report left values behind");
    }
    return rc;
}

Test(fixture_report, every_truncation_refused)
{
    uint8_t *buf;
    size_t len;
    t_encode("failed", &buf, &len);
    for (size_t cut = 0; cut < len; ++cut)
        cr_assert_eq(t_decode(buf, cut), -EBADMSG, "cut at %zu of %zu", cut, len);
    cr_assert_eq(t_decode(NULL, 0), -EBADMSG);
    uint8_t *longer = malloc(len + 1);
    cr_assert_not_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    cr_assert_eq(t_decode(longer, len + 1), -EBADMSG, "a trailing byte");
    free(longer);
    free(buf);
}

Test(fixture_report, hostile_bytes_refused)
{
    uint8_t *buf;
    size_t len;
    t_encode(NULL, &buf, &len);
    /* magic, version */
    buf[0] ^= 0xff;
    cr_assert_eq(t_decode(buf, len), -EBADMSG);
    buf[0] ^= 0xff;
    buf[4]++;
    cr_assert_eq(t_decode(buf, len), -EBADMSG);
    buf[4]--;
    cr_assert_eq(t_decode(buf, len), 0);
    /* the first key: "DB_PORT" after magic, version, the empty message's length, the count */
    size_t key = 5 + 4 + 4 + 4;
    cr_assert_eq(memcmp(buf + key, "DB_PORT", 7), 0);
    buf[key + 2] = '-';
    cr_assert_eq(t_decode(buf, len), -EBADMSG, "a key with '-'");
    buf[key + 2] = '\0';
    cr_assert_eq(t_decode(buf, len), -EBADMSG, "a NUL inside a key");
    buf[key + 2] = '_';
    /* a count far beyond what the bytes hold */
    buf[5 + 4 + 3] = 0x7f;
    cr_assert_eq(t_decode(buf, len), -EBADMSG, "a huge count");
    buf[5 + 4 + 3] = 0;
    /* a length past the end */
    buf[5 + 4 + 4 + 3] = 0x7f;
    cr_assert_eq(t_decode(buf, len), -EBADMSG, "a huge length");
    free(buf);
}

Test(fixture_report, oversized_refused_both_ways)
{
    struct crmpi_fixture_kv g = { 0 }, n = { 0 };
    char big[2048];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    uint8_t *buf;
    size_t len;
    cr_assert_eq(crmpi_fixture_report_encode(big, &g, &n, &buf, &len), -EINVAL);
    /* A value longer than crmp_global_set allows, forged on the wire. */
    cr_assert_eq(crmpi_fixture_report_encode(NULL, &g, &n, &buf, &len), 0);
    size_t vlen = CRMP_GLOBAL_VALUE_MAX + 1;
    size_t flen = len + 4 + 1 + 4 + vlen;
    uint8_t *forged = calloc(1, flen);
    cr_assert_not_null(forged);
    memcpy(forged, buf, 5 + 4);             /* magic, version, empty message */
    uint8_t *p = forged + 9;
    *p++ = 1; *p++ = 0; *p++ = 0; *p++ = 0; /* one global */
    *p++ = 1; *p++ = 0; *p++ = 0; *p++ = 0; /* key "K" */
    *p++ = 'K';
    *p++ = (uint8_t) vlen; *p++ = (uint8_t) (vlen >> 8); *p++ = 0; *p++ = 0;
    memset(p, 'v', vlen);
    p += vlen;
    *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0; /* no node value */
    cr_assert_eq((size_t) (p - forged), flen);
    cr_assert_eq(t_decode(forged, flen), -EBADMSG);
    /* The same with a value of the largest size allowed is accepted. */
    forged[9 + 4 + 4 + 1] = (uint8_t) (vlen - 1);
    memmove(forged + 9 + 4 + 4 + 1 + 4 + vlen - 1, forged + 9 + 4 + 4 + 1 + 4 + vlen, 4);
    cr_assert_eq(t_decode(forged, flen - 1), 0);
    free(forged);
    free(buf);
}

/* ---- a worker that died in its setup (the coordinator's and a worker host's reading) ---- */

static void t_note(const char *path, const char *what)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(what, f);
    fclose(f);
}

Test(worker_died, in_a_setup_sets_the_replacements_failure_once)
{
    char dir[] = "/tmp/crmp-fixnote-XXXXXX", note[128], env[1100] = "";
    cr_assert_not_null(mkdtemp(dir));
    crmpi_fixtures_note_path(note, sizeof(note), dir, 3);
    cr_assert_str_eq(strrchr(note, '/'), "/fixture.3");

    t_note(note, "worker fixture conn (db.c:12)");
    cr_assert_eq(crmpi_fixtures_worker_died(note, 3, 42, SIGSEGV, env, sizeof(env)), 1);
    cr_expect_str_eq(env, CRMP_FIXTURE_FAILED_ENV
            "=worker fixture conn (db.c:12) crashed: Segmentation fault");
    cr_expect_neq(access(note, F_OK), 0, "the note was not removed");

    /* A second death keeps the first message (every replacement is born with it). */
    t_note(note, "worker fixture other (db.c:40)");
    cr_assert_eq(crmpi_fixtures_worker_died(note, 3, 43, 3 << 8, env, sizeof(env)), 1);
    cr_expect_not_null(strstr(env, "conn (db.c:12) crashed"), "%s", env);

    /* No note, or a clean exit: not the fixture's doing. */
    cr_expect_eq(crmpi_fixtures_worker_died(note, 3, 44, SIGSEGV, env, sizeof(env)), 0);
    t_note(note, "worker fixture conn (db.c:12)");
    cr_expect_eq(crmpi_fixtures_worker_died(note, 3, 45, 0, env, sizeof(env)), 0);
    cr_expect_eq(rmdir(dir), 0, "%s not empty", dir);
}
