#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crit.h"

_Static_assert(offsetof(struct crmpi_crit_unit_node, suite_set)
        == offsetof(struct crmpi_crit_unit_node, suite_node) + sizeof(struct criterion_ordered_set_node),
        "the suite payload must follow its node");
_Static_assert(offsetof(struct crmpi_crit_unit_node, test)
        == offsetof(struct crmpi_crit_unit_node, test_node) + sizeof(struct criterion_ordered_set_node),
        "the test payload must follow its node");

void crmpi_crit_unit_node_init(struct crmpi_crit_unit_node *node,
        const struct criterion_suite *suite, const struct criterion_test *test, double timeout)
{
    memset(node, 0, sizeof(*node));
    node->suite_set.suite = *suite;
    node->test = *test;
    node->data = *test->data;
    node->test.data = &node->data;
    if (timeout > 0)
        node->data.timeout = timeout;
    /* The set's fields are const: written once, by copy. */
    const struct criterion_ordered_set tests = {
        .first = &node->test_node,
        .size = 1,
    };
    memcpy(&node->tests, &tests, sizeof(tests));
    node->suite_set.tests = &node->tests;
}

void crmpi_crit_empty_suite_init(struct crmpi_crit_unit_node *node)
{
    memset(node, 0, sizeof(*node));
    node->suite_set.suite.name = "";
    /* Not NULL: the runner skips a suite without a test set, PRE_SUITE included. */
    node->suite_set.tests = &node->tests;
}

void crmpi_crit_unit_node_append(struct criterion_ordered_set *set,
        struct crmpi_crit_unit_node *after, struct crmpi_crit_unit_node *node)
{
    if (after)
        after->suite_node.next = &node->suite_node;
    else
        set->first = &node->suite_node;
}

double crmpi_crit_timeout_of(const struct criterion_suite *suite,
        const struct criterion_test *test)
{
    double t = 0;
    const struct criterion_test_extra_data *sd = suite->data;
    if (sd && sd->timeout > 0)
        t = sd->timeout;
    if (test->data->timeout > 0)
        t = test->data->timeout;
    if (criterion_options.timeout > 0 && (t <= 0 || t > criterion_options.timeout))
        t = criterion_options.timeout;
    return t;
}

int crmpi_crit_disabled(const struct criterion_suite *suite, const struct criterion_test *test)
{
    return test->data->disabled || (suite->data && suite->data->disabled);
}

int crmpi_crit_verdict(const struct criterion_global_stats *gs)
{
    return crmpi_crit_stats_ok(gs);
}

int crmpi_crit_owns(const void *fn)
{
    /* A function only libcriterion defines: its data may be copied into the executable. */
    const void *anchor = fn ? dlsym(RTLD_DEFAULT, "cr_malloc") : NULL;
    Dl_info lib, found;
    return anchor && dladdr(anchor, &lib) && dladdr(fn, &found) && lib.dli_fbase
        && lib.dli_fbase == found.dli_fbase;
}

/* Whether path (from /proc: a mapping or a descriptor) is the arena, named name. */
static int crit_is_arena(const char *path, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(path, name, n) && (path[n] == '\0' || path[n] == ' ' || path[n] == '\n');
}

int crmpi_crit_arena_find(int *fd_cache, void **addr, size_t *len)
{
    char name[64];
    snprintf(name, sizeof(name), "/dev/shm/bxf_arena_%ld", (long) getpid());
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return -ENOENT;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) < 3 || !path_at
                || !crit_is_arena(line + path_at, name))
            continue;
        *addr = (void *) lo;
        *len = hi - lo;
        found = 1;
    }
    fclose(maps);
    if (!found)
        return -ENOENT;
    DIR *fds = *fd_cache < 0 ? opendir("/proc/self/fd") : NULL;
    for (struct dirent *d; fds && *fd_cache < 0 && (d = readdir(fds));) {
        char target[128];
        ssize_t n = readlinkat(dirfd(fds), d->d_name, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (crit_is_arena(target, name))
            *fd_cache = (int) strtol(d->d_name, NULL, 10);
    }
    if (fds)
        closedir(fds);
    return *fd_cache >= 0 ? 0 : -ENOENT;
}
