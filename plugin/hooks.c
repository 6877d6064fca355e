#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"

/*
 * The loaded objects' allocated sections, read once from their files.  Each
 * lookup used to open and read every object again: the coordinator asked for
 * about ten sections and a fork-mode worker for fifteen, some 30 objects each,
 * 1,500 to 2,000 open/pread/close calls before its first test.  An object is
 * read when it is first seen; dl_iterate_phdr's load and unload counters say
 * when the list may have changed (nng's dlopen, a user's), and only then is it
 * walked again.  Used from the main thread only, as every caller is.
 */
struct hooks_sect {
    uint32_t name;              /* offset in the object's names */
    uintptr_t addr;             /* relocated */
    size_t size;
};

struct hooks_object {
    uintptr_t base;             /* dlpi_addr */
    char *path;                 /* owned: its file, as opened */
    char *names;                /* owned: its section name table */
    struct hooks_sect *sects;   /* owned: its SHF_ALLOC sections */
    size_t n;
};

static struct {
    struct hooks_object *v;     /* owned, in load order */
    size_t n;
    unsigned long long adds, subs;
    int valid;
} hooks_cache;

static void hooks_object_free(struct hooks_object *o)
{
    free(o->path);
    free(o->names);
    free(o->sects);
    *o = (struct hooks_object) { 0 };
}

static int hooks_read(int fd, void *buf, size_t len, off_t off)
{
    ssize_t n = pread(fd, buf, len, off);
    if (n < 0)
        return -errno;
    return (size_t) n == len ? 0 : -EIO;
}

/*
 * Reads the SHF_ALLOC sections of the ELF file at o->path into o, relocated
 * by o->base.  A file that cannot be read leaves o without sections: it holds
 * no hooks we could call anyway (the vDSO, for instance).  Returns 0 or
 * -ENOMEM.
 */
static int hooks_object_read(struct hooks_object *o)
{
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;

    int rc = 0;
    ElfW(Shdr) *shdrs = NULL;
    ElfW(Ehdr) eh;

    if (hooks_read(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG)
            || eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)
            || eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0
            || eh.e_shstrndx >= eh.e_shnum)
        goto out;

    shdrs = calloc(eh.e_shnum, sizeof(*shdrs));
    o->sects = calloc(eh.e_shnum, sizeof(*o->sects));
    if (!shdrs || !o->sects) {
        rc = -ENOMEM;
        goto out;
    }
    if (hooks_read(fd, shdrs, eh.e_shnum * sizeof(*shdrs), (off_t) eh.e_shoff))
        goto out;

    const ElfW(Shdr) *strsec = &shdrs[eh.e_shstrndx];
    if (strsec->sh_size == 0 || strsec->sh_size > (1u << 24))
        goto out;
    o->names = malloc(strsec->sh_size + 1);
    if (!o->names) {
        rc = -ENOMEM;
        goto out;
    }
    if (hooks_read(fd, o->names, strsec->sh_size, (off_t) strsec->sh_offset))
        goto out;
    o->names[strsec->sh_size] = '\0';

    for (unsigned i = 0; i < eh.e_shnum; ++i) {
        if (shdrs[i].sh_name >= strsec->sh_size || !(shdrs[i].sh_flags & SHF_ALLOC))
            continue;
        o->sects[o->n++] = (struct hooks_sect) { .name = shdrs[i].sh_name,
            .addr = o->base + shdrs[i].sh_addr, .size = shdrs[i].sh_size };
    }

out:
    free(shdrs);
    close(fd);
    if (!o->n) {
        /* Unreadable or without sections: nothing to keep but the object's place. */
        free(o->names);
        free(o->sects);
        o->names = NULL;
        o->sects = NULL;
    }
    return rc;
}

struct hooks_walk {
    struct hooks_object *v;     /* owned: the new list */
    size_t n, cap;
    int rc;
};

/* The object at base with that path, taken out of the old list; NULL if it is new. */
static struct hooks_object *hooks_cached(uintptr_t base, const char *path)
{
    for (size_t i = 0; i < hooks_cache.n; ++i) {
        struct hooks_object *o = &hooks_cache.v[i];
        if (o->path && o->base == base && !strcmp(o->path, path))
            return o;
    }
    return NULL;
}

static int hooks_visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    struct hooks_walk *walk = data;
    /* Only the main program has no name; the vDSO has one. */
    const char *path = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "/proc/self/exe";
    if (walk->n == walk->cap) {
        size_t cap = walk->cap ? 2 * walk->cap : 32;
        struct hooks_object *grown = realloc(walk->v, cap * sizeof(*grown));
        if (!grown) {
            walk->rc = -ENOMEM;
            return 1;
        }
        walk->v = grown;
        walk->cap = cap;
    }
    struct hooks_object *o = &walk->v[walk->n];
    struct hooks_object *old = hooks_cached(info->dlpi_addr, path);
    if (old) {
        *o = *old;
        *old = (struct hooks_object) { 0 };
    } else {
        *o = (struct hooks_object) { .base = info->dlpi_addr, .path = strdup(path) };
        walk->rc = o->path ? hooks_object_read(o) : -ENOMEM;
        if (walk->rc) {
            hooks_object_free(o);
            return 1;
        }
    }
    walk->n++;
    return 0;
}

/* dl_iterate_phdr's counters of objects loaded and unloaded since the start. */
static int hooks_counters(struct dl_phdr_info *info, size_t size, void *data)
{
    unsigned long long *c = data;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
        return -1;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1;
}

/* The cache, brought up to date with the objects loaded now.  Returns 0 or -ENOMEM. */
static int hooks_refresh(void)
{
    unsigned long long c[2] = { 0, 0 };
    int counted = dl_iterate_phdr(hooks_counters, c) == 1;
    if (hooks_cache.valid && counted && c[0] == hooks_cache.adds && c[1] == hooks_cache.subs)
        return 0;

    struct hooks_walk walk = { 0 };
    dl_iterate_phdr(hooks_visit, &walk);
    /* What the walk did not take was unloaded (or is the old list of a failed walk). */
    for (size_t i = 0; i < hooks_cache.n; ++i)
        hooks_object_free(&hooks_cache.v[i]);
    free(hooks_cache.v);
    hooks_cache.v = walk.v;
    hooks_cache.n = walk.n;
    /* Without the counters (an old libc), every lookup walks again. */
    hooks_cache.valid = !walk.rc && counted;
    hooks_cache.adds = c[0];
    hooks_cache.subs = c[1];
    return walk.rc;
}

/* Calls fn for each section named `section`, in load order, skipping the object at skip. */
static int hooks_each(const char *section, uintptr_t skip, int have_skip,
        int (*fn)(void *start, size_t size, void *arg), void *arg)
{
    int rc = hooks_refresh();
    if (rc)
        return rc;
    for (size_t i = 0; i < hooks_cache.n; ++i) {
        const struct hooks_object *o = &hooks_cache.v[i];
        if (have_skip && o->base == skip)
            continue;
        for (size_t k = 0; k < o->n; ++k) {
            if (strcmp(o->names + o->sects[k].name, section))
                continue;
            rc = fn((void *) o->sects[k].addr, o->sects[k].size, arg);
            if (rc)
                return rc;
        }
    }
    return 0;
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
    return hooks_each(section, 0, 0, fn, arg);
}

/* The plugin's own load address: its hooks drive the workers and are never counted. */
static int hooks_self_base(uintptr_t *base)
{
    static uintptr_t self_base;
    static int known;
    if (!known) {
        Dl_info self;
        struct link_map *lm = NULL;
        if (!dladdr((void *) hooks_self_base, &self) || !self.dli_fbase)
            return 0;
        void *h = dlopen(self.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
        if (h && !dlinfo(h, RTLD_DI_LINKMAP, &lm) && lm) {
            self_base = lm->l_addr;
            known = 1;
        }
        if (h)
            dlclose(h);
    }
    *base = self_base;
    return known;
}

int crmpi_hooks_collect(const char *section, struct crmpi_hook_list *out)
{
    *out = (struct crmpi_hook_list) { 0 };
    uintptr_t self = 0;
    int have_self = hooks_self_base(&self);
    int rc = hooks_each(section, self, have_self, hooks_add_section, out);
    if (rc)
        crmpi_hooks_free(out);
    return rc;
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
