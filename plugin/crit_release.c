#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crit.h"
#include "crit_release.h"

/*
 * Facts measured on each release built from its tag (see
 * ../shared/criterion-versions and test/releases/).  A release's structures
 * are those of the headers the plugin was built with (crit_layout.h): 2.3.3's
 * criterion_options is 80 bytes and its logger and statistics lack 2.4's
 * later members, so a plugin built for one of them refuses the other.
 *
 *   name, options size, JSON, equal params "no difference", new assert API,
 *   cr_malloc after PRE_ALL, fork isolation, 2.4's report paths
 */
static const struct crmpi_release release_table[] = {
    { "2.3.3", 80, CRMPI_JSON_RAW_LINES, 0, 0, 1, 0, 0 },
    { "2.4.1", 152, CRMPI_JSON_RAW_LINES, 0, 1, 0, 1, 1 },
    { "2.4.2", 152, CRMPI_JSON_ESCAPED, 1, 1, 0, 1, 1 },
    { "2.4.3", 152, CRMPI_JSON_ESCAPED, 1, 1, 0, 1, 1 },
};

/* Every release prints this in its console header and writes it in XML. */
static const char release_marker[] = "Tests compiled with Criterion v";

static struct {
    int probed;
    const struct crmpi_release *release;
    char name[32];
    size_t options_size;
    char path[256];
    char found[400];
} release_state;

const struct crmpi_release *crmpi_release_lookup(const char *name, size_t options_size)
{
    for (size_t i = 0; i < sizeof(release_table) / sizeof(release_table[0]); ++i) {
        const struct crmpi_release *r = &release_table[i];
        /* The structures the plugin copies are those of the headers it was built with. */
        if (!strcmp(r->name, name) && r->options_size == sizeof(struct criterion_options)
                && (!options_size || r->options_size == options_size))
            return r;
    }
    return NULL;
}

const char *crmpi_release_supported(void)
{
    static char list[128];
    if (!list[0]) {
        size_t len = 0;
        for (size_t i = 0; i < sizeof(release_table) / sizeof(release_table[0]); ++i) {
            int n = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                    release_table[i].name);
            if (n < 0 || (size_t) n >= sizeof(list) - len)
                break;
            len += (size_t) n;
        }
    }
    return list;
}

struct release_scan {
    uintptr_t anchor;       /* an address inside libcriterion; 0: the executable */
    int hit;
};

/* Reads the release after the marker in one readable segment. */
static void release_scan_segment(const char *base, size_t len)
{
    const char *end = base + len;
    const char *p = base;
    while ((p = memmem(p, (size_t) (end - p), release_marker, sizeof(release_marker) - 1))) {
        p += sizeof(release_marker) - 1;
        size_t n = 0;
        while (p + n < end && n + 1 < sizeof(release_state.name)
                && ((p[n] >= '0' && p[n] <= '9') || p[n] == '.'))
            ++n;
        if (n) {
            memcpy(release_state.name, p, n);
            release_state.name[n] = '\0';
            return;
        }
    }
}

static int release_visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    struct release_scan *scan = data;
    int inside = !scan->anchor;     /* the executable is visited first */
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && scan->anchor >= lo && scan->anchor < lo + ph->p_memsz)
            inside = 1;
    }
    if (!inside)
        return 0;
    scan->hit = 1;
    snprintf(release_state.path, sizeof(release_state.path), "%s",
            info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "the executable");
    /* Only what the file maps (p_filesz): the rest is zeroed memory. */
    for (ElfW(Half) i = 0; i < info->dlpi_phnum && !release_state.name[0]; ++i) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && !(ph->p_flags & PF_W))
            release_scan_segment((const char *) (info->dlpi_addr + ph->p_vaddr), ph->p_filesz);
    }
    return 1;
}

static void release_probe(void)
{
    release_state.probed = 1;
    if (!crmpi_have_criterion())
        return;

    const ElfW(Sym) *sym = NULL;
    Dl_info info;
    if (dladdr1(&criterion_options, &info, (void **) &sym, RTLD_DL_SYMENT) && sym)
        release_state.options_size = sym->st_size;

    /* A function only libcriterion defines (the plugin interposes others). */
    void *anchor = dlsym(RTLD_DEFAULT, "cr_malloc");
    if (anchor) {
        struct release_scan scan = { (uintptr_t) anchor, 0 };
        dl_iterate_phdr(release_visit, &scan);
    }

    if (release_state.name[0])
        release_state.release = crmpi_release_lookup(release_state.name, release_state.options_size);
    snprintf(release_state.found, sizeof(release_state.found),
            "release %s, criterion_options of %zu bytes, in %s",
            release_state.name[0] ? release_state.name : "unknown (no release string)",
            release_state.options_size, release_state.path[0] ? release_state.path : "an unknown object");
}

int crmpi_release_in_executable(void)
{
    if (release_state.probed && release_state.name[0])
        return 1;
    struct release_scan scan = { 0, 0 };
    dl_iterate_phdr(release_visit, &scan);
    return release_state.name[0] != '\0';
}

const struct crmpi_release *crmpi_release_loaded(void)
{
    if (!release_state.probed)
        release_probe();
    return release_state.release;
}

const char *crmpi_release_found(void)
{
    if (!release_state.probed)
        release_probe();
    return release_state.found;
}
