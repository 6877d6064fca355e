#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "forkpin.h"

/* Ranges pinned at most (a process with more objects pins the first ones). */
#define FORKPIN_MAX 1024
/* The pages pinned at each end of an object's writable segment. */
#define FORKPIN_SEGMENT_ENDS 16
/* The stack pinned below and above the caller's frame, in pages. */
#define FORKPIN_STACK_BELOW 8
#define FORKPIN_STACK_ABOVE 2
/*
 * What of a link map ld.so's exit walk writes (l_idx, l_direct_opencount,
 * l_visited, l_init_called): glibc's private structure, about 1.1 KiB.
 */
#define FORKPIN_LINK_MAP_SPAN 1280
/* glibc's thread descriptor, which fork's child updates (its tid, lists). */
#define FORKPIN_THREAD_SPAN 2560
/* Descriptors below this are the test process's own (stdio, channel, kept output). */
#define FORKPIN_FD_MIN 16

/* ld.so's: the stack pointer at the program's entry, just under its arguments. */
extern void *__libc_stack_end;

struct forkpin_set {
    struct iovec iov[FORKPIN_MAX];
    unsigned n;
    uintptr_t page;
    uintptr_t vdso;
    int pagemap;                /* /proc/self/pagemap, -1 when it cannot be read */
};

static void forkpin_add(struct forkpin_set *set, uintptr_t start, uintptr_t end)
{
    start &= ~(set->page - 1);
    end = (end + set->page - 1) & ~(set->page - 1);
    if (start < end && set->n < FORKPIN_MAX)
        set->iov[set->n++] = (struct iovec) { (void *) start, end - start };
}

/* /proc/self/pagemap's bits: the page is mapped; it is the file's (never written here). */
#define FORKPIN_PM_PRESENT (1ull << 63)
#define FORKPIN_PM_FILE (1ull << 61)

/*
 * The pages of [start, end) that this process has written (anonymous and
 * mapped): a page never written (a test binary's descriptors of thousands
 * of tests, a .bss never touched) is left to fault in the rare test that
 * writes it, rather than copied at every fork.  Without a pagemap, all.
 */
static void forkpin_add_written(struct forkpin_set *set, uintptr_t start, uintptr_t end)
{
    if (set->pagemap < 0) {
        forkpin_add(set, start, end);
        return;
    }
    start &= ~(set->page - 1);
    uint64_t pm[64];
    uintptr_t run = 0;          /* where the current run of written pages began, 0: none */
    for (uintptr_t at = start; at < end;) {
        size_t n = (end - at + set->page - 1) / set->page;
        n = n < 64 ? n : 64;
        ssize_t got = pread(set->pagemap, pm, n * sizeof(pm[0]), (off_t) (at / set->page * 8));
        if (got <= 0) {
            forkpin_add(set, run ? run : at, end);
            return;
        }
        for (size_t i = 0; i < (size_t) got / sizeof(pm[0]); ++i, at += set->page) {
            int written = (pm[i] & FORKPIN_PM_PRESENT) && !(pm[i] & FORKPIN_PM_FILE);
            if (written && !run)
                run = at;
            if (!written && run) {
                forkpin_add(set, run, at);
                run = 0;
            }
        }
    }
    if (run)
        forkpin_add(set, run, end);
}

/* An object's writable segments, less what RELRO made read-only again. */
static int forkpin_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    struct forkpin_set *set = data;
    if (info->dlpi_addr == set->vdso)
        return 0;
    uintptr_t relro_end = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO)     /* ld.so protects it up to its last whole page */
            relro_end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(set->page - 1);
    }
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || !ph->p_memsz)
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        uintptr_t end = start + ph->p_memsz;
        if (relro_end > start)
            start = relro_end;
        if (start >= end)
            continue;
        /*
         * Its ends: .got.plt and the first data, the .bss (where the
         * destructors' flags are).  Not the middle of a large .data (a
         * test binary's descriptors: a test rarely writes them, and they
         * grow with the number of tests).
         */
        uintptr_t span = FORKPIN_SEGMENT_ENDS * set->page;
        if (end - start <= 2 * span) {
            forkpin_add_written(set, start, end);
        } else {
            forkpin_add_written(set, start, start + span);
            forkpin_add_written(set, end - span, end);
        }
    }
    return 0;
}

/*
 * The stack under the caller: touched here first, so that it is mapped
 * (pinning does not grow a stack).  noinline: its frame is the deepest.
 */
static __attribute__((noinline)) void forkpin_stack(struct forkpin_set *set, uintptr_t frame)
{
    volatile char below[FORKPIN_STACK_BELOW * 4096];
    for (size_t i = 0; i < sizeof(below); i += 4096)
        below[i] = 0;
    /* Not past the stack's top: the page of the stack pointer the process started with. */
    uintptr_t top = ((uintptr_t) __libc_stack_end + set->page - 1) & ~(set->page - 1);
    uintptr_t above = frame + FORKPIN_STACK_ABOVE * set->page;
    forkpin_add(set, (uintptr_t) below, above < top ? above : top);
}

static int forkpin_register(const struct forkpin_set *set)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    int fd = (int) syscall(SYS_io_uring_setup, 1, &p);
    if (fd < 0)
        return -errno;
    if (fd < FORKPIN_FD_MIN) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, FORKPIN_FD_MIN);
        close(fd);
        if (high < 0)
            return -errno;
        fd = high;
    }
    if (syscall(SYS_io_uring_register, fd, IORING_REGISTER_BUFFERS, set->iov, set->n) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int crmpi_forkpin_start(size_t *bytes)
{
    static struct forkpin_set set;      /* 16 KiB: not on the stack it pins */
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return -EINVAL;
    set.page = (uintptr_t) page;
    set.vdso = (uintptr_t) getauxval(AT_SYSINFO_EHDR);
    set.n = 0;
    set.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    dl_iterate_phdr(forkpin_object, &set);
    if (set.pagemap >= 0)
        close(set.pagemap);
    unsigned objects = set.n;
    for (struct link_map *lm = _r_debug.r_map; lm; lm = lm->l_next)
        forkpin_add(&set, (uintptr_t) lm, (uintptr_t) lm + FORKPIN_LINK_MAP_SPAN);
    uintptr_t self = (uintptr_t) pthread_self();
    forkpin_add(&set, self, self + FORKPIN_THREAD_SPAN);
    forkpin_stack(&set, (uintptr_t) __builtin_frame_address(0));
    int fd = forkpin_register(&set);
    if (fd == -EFAULT && objects) {
        /* Something past the objects' data was not writable memory: those alone. */
        set.n = objects;
        fd = forkpin_register(&set);
    }
    *bytes = 0;
    for (unsigned i = 0; fd >= 0 && i < set.n; ++i)
        *bytes += set.iov[i].iov_len;
    return fd;
}
