#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elfpatch.h"

struct elfpatch_job {
    const char *library;
    const struct crmpi_elf_redirect *table;
    size_t n;
    uint32_t patched;       /* bit i: table[i] patched */
    int err;                /* -errno from mprotect, or 0 */
    int found;              /* the library was seen */
};

/* d_ptr entries are relocated in place by the dynamic linker, or not. */
static uintptr_t elfpatch_addr(uintptr_t base, uintptr_t v)
{
    return v >= base ? v : base + v;
}

static int elfpatch_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    struct elfpatch_job *job = data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, job->library))
        return 0;
    job->found = 1;
    uintptr_t base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *) (base + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return 1;
    uintptr_t symtab = 0, strtab = 0, jmprel = 0, rela = 0;
    size_t jmprel_size = 0, rela_size = 0;
    for (; dyn->d_tag != DT_NULL; ++dyn) {
        switch (dyn->d_tag) {
        case DT_SYMTAB: symtab = elfpatch_addr(base, dyn->d_un.d_ptr); break;
        case DT_STRTAB: strtab = elfpatch_addr(base, dyn->d_un.d_ptr); break;
        case DT_JMPREL: jmprel = elfpatch_addr(base, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmprel_size = dyn->d_un.d_val; break;
        case DT_RELA: rela = elfpatch_addr(base, dyn->d_un.d_ptr); break;
        case DT_RELASZ: rela_size = dyn->d_un.d_val; break;
        default: break;
        }
    }
    if (!symtab || !strtab)
        return 1;
    const struct { uintptr_t at; size_t size; } tables[] = { { jmprel, jmprel_size }, { rela, rela_size } };
    long page = sysconf(_SC_PAGESIZE);
    for (size_t t = 0; t < 2; ++t) {
        const ElfW(Rela) *r = (const ElfW(Rela) *) tables[t].at;
        for (size_t k = 0; r && k < tables[t].size / sizeof(*r); ++k) {
            unsigned long type = ELF64_R_TYPE(r[k].r_info);
            if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
                continue;
            const ElfW(Sym) *sym = (const ElfW(Sym) *) symtab + ELF64_R_SYM(r[k].r_info);
            const char *name = (const char *) strtab + sym->st_name;
            for (size_t i = 0; i < job->n; ++i) {
                if (strcmp(name, job->table[i].name))
                    continue;
                void **slot = (void **) (base + r[k].r_offset);
                /* Slots under RELRO are read-only once relocated. */
                uintptr_t first = (uintptr_t) slot & ~((uintptr_t) page - 1);
                if (mprotect((void *) first, (size_t) page, PROT_READ | PROT_WRITE)) {
                    job->err = -errno;
                    return 1;
                }
                *slot = job->table[i].fn;
                job->patched |= 1u << i;
            }
        }
    }
    return 1;
}

int crmpi_elf_redirect(const char *library, const struct crmpi_elf_redirect *table, size_t n)
{
    if (n > 32)
        return -EINVAL;
    struct elfpatch_job job = { .library = library, .table = table, .n = n };
    dl_iterate_phdr(elfpatch_object, &job);
    if (job.err)
        return job.err;
    uint32_t all = n == 32 ? UINT32_MAX : (1u << n) - 1;
    return job.found && job.patched == all ? 0 : -ENOENT;
}

struct elfpatch_fini {
    void (*fn)(uintptr_t addr, void *arg);
    void *arg;
};

static int elfpatch_object_fini(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    const struct elfpatch_fini *f = data;
    uintptr_t base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        uintptr_t array = 0, fini = 0;
        size_t bytes = 0;
        for (const ElfW(Dyn) *d = (const ElfW(Dyn) *) (base + info->dlpi_phdr[i].p_vaddr);
                d->d_tag != DT_NULL; ++d) {
            if (d->d_tag == DT_FINI_ARRAY)
                array = elfpatch_addr(base, d->d_un.d_ptr);
            else if (d->d_tag == DT_FINI_ARRAYSZ)
                bytes = d->d_un.d_val;
            else if (d->d_tag == DT_FINI)
                fini = elfpatch_addr(base, d->d_un.d_ptr);
        }
        if (fini)
            f->fn(fini, f->arg);
        for (size_t k = 0; array && k < bytes / sizeof(uintptr_t); ++k)
            f->fn(((const uintptr_t *) array)[k], f->arg);
    }
    return 0;
}

void crmpi_elf_destructors(void (*fn)(uintptr_t addr, void *arg), void *arg)
{
    struct elfpatch_fini f = { fn, arg };
    dl_iterate_phdr(elfpatch_object_fini, &f);
}
