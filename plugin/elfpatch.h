/*
 * ELF dynamic sections of the loaded objects, for the zygote: redirecting
 * one library's calls through its relocation slots, and listing every
 * object's destructors.  x86-64 relocations (R_X86_64_JUMP_SLOT/GLOB_DAT).
 */
#ifndef CRMPI_ELFPATCH_H_
#define CRMPI_ELFPATCH_H_

#include <stddef.h>
#include <stdint.h>

struct crmpi_elf_redirect {
    const char *name;       /* a symbol the library imports */
    void *fn;               /* what its calls reach from now on */
};

/*
 * Points the relocation slots that the first loaded object whose path
 * contains `library` has for each named symbol at its fn (its own calls
 * only: the global symbols stay, for everyone else).  At most 32 entries.
 * Returns 0 when every symbol was patched, -ENOENT when one was not found
 * (what was found is patched), or a negative errno code.
 */
int crmpi_elf_redirect(const char *library, const struct crmpi_elf_redirect *table, size_t n);

/* Calls fn(address, arg) for the DT_FINI and each DT_FINI_ARRAY entry of every loaded object. */
void crmpi_elf_destructors(void (*fn)(uintptr_t addr, void *arg), void *arg);

#endif /* !CRMPI_ELFPATCH_H_ */
