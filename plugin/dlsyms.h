/*
 * Libraries loaded when first needed, not linked: every object a process has
 * loaded costs it at each of Criterion's section scans (13 in a runner, each
 * opening, mapping and unmapping every object), and the plugin is loaded into
 * every coordinator, worker and exec-mode test process, most of which never
 * write JSON or draw a status line.
 */
#ifndef CRMPI_DLSYMS_H_
#define CRMPI_DLSYMS_H_

#include <stddef.h>

struct crmpi_dlsym {
    const char *name;       /* the symbol */
    size_t offset;          /* where its address goes in the table */
};

/* An entry for table's member field, filled with symbol sym. */
#define CRMPI_DLSYM(table, sym, field) { #sym, offsetof(__typeof__(table), field) }

/*
 * Loads soname (RTLD_NOW | RTLD_LOCAL) and stores each symbol's address at
 * its offset in table (a struct of pointers).  Returns 0, or -ENOENT after
 * saying "<what>: cannot load ..." or which symbol lacks; table may then be
 * partly filled and must not be used.  The library stays loaded.  Tried once:
 * *state (a static int, 0 before the first call) keeps the outcome.
 */
int crmpi_dlsyms(int *state, const char *what, const char *soname,
        const struct crmpi_dlsym *syms, size_t n, void *table);

#endif /* !CRMPI_DLSYMS_H_ */
