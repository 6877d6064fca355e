/*
 * Process-tree helpers.  Criterion's sandboxes call setsid(): killing a
 * worker's process group does not reach them, so a worker's sandboxes are
 * found and killed one by one, session and all.
 */
#ifndef CRMPI_PROC_H_
#define CRMPI_PROC_H_

#include <sys/types.h>

/*
 * SIGKILLs pid, its process group, and every child of its main thread with
 * the child's own process group (its test and whatever the test forked).
 * pid is stopped first so that it starts no new child meanwhile.
 * Async-signal-safe (open/read/kill only): usable from a signal handler.
 */
void crmpi_kill_tree(pid_t pid);

#endif /* !CRMPI_PROC_H_ */
