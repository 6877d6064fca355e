#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "diag.h"
#include "dlsyms.h"

/* 0: not tried, 1: loaded, -ENOENT: failed (said once). */
int crmpi_dlsyms(int *state, const char *what, const char *soname,
        const struct crmpi_dlsym *syms, size_t n, void *table)
{
    if (*state)
        return *state < 0 ? *state : 0;
    *state = -ENOENT;
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        crmpi_error("%s: cannot load %s: %s", what, soname, dlerror());
        return *state;
    }
    for (size_t i = 0; i < n; ++i) {
        void *sym = dlsym(lib, syms[i].name);
        if (!sym) {
            crmpi_error("%s: %s has no %s", what, soname, syms[i].name);
            return *state;      /* the handle stays: nothing else loads it */
        }
        memcpy((char *) table + syms[i].offset, &sym, sizeof(sym));
    }
    *state = 1;
    return 0;
}
