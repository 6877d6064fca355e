#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crit.h"
#include "crit_release.h"
#include "options.h"
#include "shadow.h"

/* Whether an argument of this process starts with --mproc. */
static int shadow_mproc_arg(void)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* An argument split by the buffer's end is read again from its start. */
    char buf[4096];
    size_t keep = 0;
    ssize_t n;
    int found = 0;
    while (!found && (n = read(fd, buf + keep, sizeof(buf) - keep)) > 0) {
        size_t len = keep + (size_t) n, start = 0;
        for (size_t i = 0; i < len && !found; ++i) {
            if (buf[i] != '\0')
                continue;
            found = !strncmp(buf + start, "--mproc", 7);
            start = i + 1;
        }
        keep = len - start < sizeof(buf) / 2 ? len - start : 0;
        memmove(buf, buf + start, keep);
    }
    close(fd);
    return found;
}

/* An address in the plugin itself (the exported names may bind elsewhere). */
static void shadow_anchor(void)
{
}

enum shadow_where { SHADOW_PLUGIN, SHADOW_LIBRARY, SHADOW_EXECUTABLE };

/* dl_iterate_phdr visits the executable first: whether data lies in it. */
static int shadow_in_executable(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    uintptr_t addr = (uintptr_t) *(void **) data;
    *(void **) data = NULL;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz)
            return 1;
    }
    return -1;
}

/* Where the criterion_run_all_tests the binary calls is defined. */
static enum shadow_where shadow_called(void)
{
    Dl_info mine, called;
    void *fn = dlsym(RTLD_DEFAULT, "criterion_run_all_tests");
    if (!fn || !dladdr((void *) shadow_anchor, &mine) || !dladdr(fn, &called))
        return SHADOW_PLUGIN;       /* nothing to say anything about */
    if (mine.dli_fbase == called.dli_fbase)
        return SHADOW_PLUGIN;
    void *probe = fn;
    return dl_iterate_phdr(shadow_in_executable, &probe) == 1 ? SHADOW_EXECUTABLE : SHADOW_LIBRARY;
}

int crmpi_mproc_asked(void)
{
    static int asked = -1;
    if (asked < 0)
        asked = getenv("CRITERION_MPROC") || shadow_mproc_arg();
    return asked;
}

void crmpi_shadow_check(void)
{
    if (getenv("BXFI_MAP") || !crmpi_mproc_asked())
        return;
    static const char static_why[] = "Criterion is linked statically into the executable, "
        "so the binary calls its own copy of Criterion's entry points";
    const char *why;
    if (crmpi_have_criterion()) {
        enum shadow_where where = shadow_called();
        if (where == SHADOW_PLUGIN)
            return;
        why = where == SHADOW_EXECUTABLE ? static_why
            : "libcriterion comes before libcriterion-mproc in the link order, so the binary "
              "calls Criterion's entry points, not the plugin's";
    } else if (crmpi_release_in_executable()) {
        why = static_why;
    } else {
        return;     /* not a Criterion program: stay inert */
    }
    fprintf(stderr, "criterion-mproc: error: --mproc/CRITERION_MPROC given but the plugin "
            "is not in charge: %s; link the plugin before a shared libcriterion "
            "(`pkg-config --libs criterion-mproc criterion`, i.e. -Wl,--push-state,--no-as-needed "
            "-lcriterion-mproc -Wl,--pop-state -lcriterion) or preload it with LD_PRELOAD\n", why);
    exit(CRMPI_EXIT_USAGE);
}
