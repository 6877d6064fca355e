#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testenv.h"

extern char **environ;

/* What a fork-mode test process takes from its worker: set after the zygote was born. */
static const char *const testenv_passed[] = {
    CRMPI_ENV_TEST_SLOT "=",
    CRMPI_ENV_TEST_WORKERS "=",
};

int crmpi_testenv_set_slot(unsigned slot)
{
    char value[16];
    snprintf(value, sizeof(value), "%u", slot);
    const char *now = getenv(CRMPI_ENV_TEST_SLOT);
    if (now && !strcmp(now, value))
        return 0;
    return setenv(CRMPI_ENV_TEST_SLOT, value, 1) ? -errno : 0;
}

static int testenv_is_passed(const char *var)
{
    for (size_t i = 0; i < sizeof(testenv_passed) / sizeof(testenv_passed[0]); ++i)
        if (!strncmp(var, testenv_passed[i], strlen(testenv_passed[i])))
            return 1;
    return 0;
}

long crmpi_testenv_pack(char *buf, size_t cap)
{
    size_t used = 0;
    for (char **v = environ; *v; ++v) {
        if (!testenv_is_passed(*v))
            continue;
        size_t len = strlen(*v) + 1;
        if (used + len + 1 > cap)
            return -ENOSPC;
        memcpy(buf + used, *v, len);
        used += len;
    }
    if (used + 1 > cap)
        return -ENOSPC;
    buf[used++] = '\0';
    return (long) used;
}

void crmpi_testenv_apply(const char *buf, size_t len)
{
    if (!len || buf[len - 1] != '\0')
        return;
    for (size_t at = 0; at < len && buf[at];) {
        size_t n = strlen(buf + at);
        const char *eq = strchr(buf + at, '=');
        if (eq && testenv_is_passed(buf + at)) {
            char name[64];
            size_t nl = (size_t) (eq - (buf + at));
            if (nl < sizeof(name)) {
                memcpy(name, buf + at, nl);
                name[nl] = '\0';
                setenv(name, eq + 1, 1);
            }
        }
        at += n + 1;
    }
}
