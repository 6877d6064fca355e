#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"

struct hooks_scan {
    const char *section;
    void *self_base;            /* object to skip, NULL for none */
    int (*fn)(void *start, size_t size, void *arg);
    void *arg;
    int rc;
};

static int hooks_read(int fd, void *buf, size_t len, off_t off)
{
    ssize_t n = pread(fd, buf, len, off);
    if (n < 0)
        return -errno;
    return (size_t) n == len ? 0 : -EIO;
}

static int hooks_append(struct crmpi_hook_list *out, crmpi_hook_fn *slot)
{
    crmpi_hook_fn **grown = realloc(out->slots, (out->count + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    grown[out->count++] = slot;
    out->slots = grown;
    return 0;
}

/*
 * Finds `section` in the ELF file at path and appends its slots, relocated by
 * base.  A file that cannot be read is skipped: it holds no hooks we could
 * call anyway (the vDSO, for instance).
 */
static int hooks_scan_file(const char *path, ElfW(Addr) base, struct hooks_scan *scan)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;

    int rc = 0;
    ElfW(Shdr) *shdrs = NULL;
    char *names = NULL;
    ElfW(Ehdr) eh;

    if (hooks_read(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG)
            || eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)
            || eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0
            || eh.e_shstrndx >= eh.e_shnum)
        goto out;

    shdrs = calloc(eh.e_shnum, sizeof(*shdrs));
    if (!shdrs) {
        rc = -ENOMEM;
        goto out;
    }
    if (hooks_read(fd, shdrs, eh.e_shnum * sizeof(*shdrs), (off_t) eh.e_shoff))
        goto out;

    const ElfW(Shdr) *strsec = &shdrs[eh.e_shstrndx];
    if (strsec->sh_size == 0 || strsec->sh_size > (1u << 24))
        goto out;
    names = malloc(strsec->sh_size + 1);
    if (!names) {
        rc = -ENOMEM;
        goto out;
    }
    if (hooks_read(fd, names, strsec->sh_size, (off_t) strsec->sh_offset))
        goto out;
    names[strsec->sh_size] = '\0';

    for (unsigned i = 0; i < eh.e_shnum; ++i) {
        if (shdrs[i].sh_name >= strsec->sh_size || !(shdrs[i].sh_flags & SHF_ALLOC))
            continue;
        if (strcmp(names + shdrs[i].sh_name, scan->section))
            continue;
        rc = scan->fn((void *) (base + shdrs[i].sh_addr), shdrs[i].sh_size, scan->arg);
        if (rc)
            break;
    }

out:
    free(names);
    free(shdrs);
    close(fd);
    return rc;
}

static int hooks_visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    struct hooks_scan *scan = data;
    if (scan->self_base && (void *) info->dlpi_addr == scan->self_base)
        return 0;
    const char *path = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : NULL;
    if (!path) {
        /* Only the main program has no name; the vDSO has one. */
        path = "/proc/self/exe";
    }
    scan->rc = hooks_scan_file(path, info->dlpi_addr, scan);
    return scan->rc;
}

static int hooks_add_section(void *start, size_t size, void *arg)
{
    struct crmpi_hook_list *out = arg;
    crmpi_hook_fn *first = start;
    for (size_t k = 0; k < size / sizeof(crmpi_hook_fn); ++k) {
        int rc = hooks_append(out, &first[k]);
        if (rc)
            return rc;
    }
    return 0;
}

int crmpi_sections_foreach(const char *section,
        int (*fn)(void *start, size_t size, void *arg), void *arg)
{
    struct hooks_scan scan = { .section = section, .fn = fn, .arg = arg };
    dl_iterate_phdr(hooks_visit, &scan);
    return scan.rc;
}

int crmpi_hooks_collect(const char *section, struct crmpi_hook_list *out)
{
    *out = (struct crmpi_hook_list) { 0 };
    Dl_info self;
    struct hooks_scan scan = { .section = section, .fn = hooks_add_section, .arg = out };

    /* The plugin's own hooks drive the workers: never count them. */
    if (dladdr((void *) crmpi_hooks_collect, &self) && self.dli_fbase) {
        struct link_map *lm = NULL;
        void *h = dlopen(self.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
        if (h && !dlinfo(h, RTLD_DI_LINKMAP, &lm) && lm)
            scan.self_base = (void *) lm->l_addr;
        if (h)
            dlclose(h);
    }

    dl_iterate_phdr(hooks_visit, &scan);
    if (scan.rc)
        crmpi_hooks_free(out);
    return scan.rc;
}

void crmpi_hooks_call(const struct crmpi_hook_list *list, void *arg)
{
    for (size_t i = 0; i < list->count; ++i)
        if (*list->slots[i])
            (*list->slots[i])(arg);
}

void crmpi_hooks_disable(const struct crmpi_hook_list *list)
{
    for (size_t i = 0; i < list->count; ++i)
        *list->slots[i] = NULL;
}

void crmpi_hooks_free(struct crmpi_hook_list *list)
{
    free(list->slots);
    *list = (struct crmpi_hook_list) { 0 };
}
