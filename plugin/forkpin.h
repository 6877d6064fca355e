/*
 * Pages a fork copies at once, for the zygote.
 *
 * After a fork, every page of private memory is shared copy-on-write: the
 * first write to one, by the test process or by the zygote, is a page
 * fault, a page copy and a TLB flush (tens of microseconds on a virtual
 * machine with shadow page tables; a test process's exit alone writes
 * about 40 such pages: each library's destructor flag, ld.so's link maps,
 * libc's exit state).  Linux copies a page at fork time instead when it is
 * pinned for DMA (copy_present_page): so the zygote pins, with an io_uring
 * buffer registration, the pages a test process is known to write:
 *   - every loaded object's writable data past RELRO (.data, .got.plt, .bss),
 *   - ld.so's link maps (its exit-time walk writes each one),
 *   - the thread's descriptor (fork's child writes it),
 *   - the stack around the zygote's frames (the spare's frames reuse it).
 * Each costs a 4 KiB copy per fork instead of a fault in most tests.
 */
#ifndef CRMPI_FORKPIN_H_
#define CRMPI_FORKPIN_H_

#include <stddef.h>

/*
 * Pins those pages for as long as the process lives.  Call in the zygote
 * once, from the frame its forks happen under.  Returns the io_uring's
 * descriptor (close-on-exec, numbered past the test process's 0 to 5, which
 * close it anyway), or a negative errno code when the kernel refuses
 * (io_uring disabled, RLIMIT_MEMLOCK): forks then copy on write, as always.
 * *bytes: how much it pinned (0 on failure).
 */
int crmpi_forkpin_start(size_t *bytes);

#endif /* !CRMPI_FORKPIN_H_ */
