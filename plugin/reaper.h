/*
 * Nothing of a run may outlive it.  Two mechanisms for the coordinator and
 * its workers (see the README's "Failure handling"):
 *
 * - a child subreaper: a process that calls crmpi_subreaper_enable()
 *   inherits every orphan among its descendants (a test's child, a
 *   double-forked setsid() daemon), so crmpi_subreaper_kill_all() can find
 *   and kill them by parenthood, whatever their process group or session;
 * - the files Criterion and BoxFort leave when the plugin SIGKILLs a worker:
 *   /tmp/criterion_<worker pid>.sock and /dev/shm/bxfi_<sandbox pid>.
 */
#ifndef CRMPI_REAPER_H_
#define CRMPI_REAPER_H_

#include <sys/types.h>

/* Makes this process the subreaper of its descendants.  0 or -errno. */
int crmpi_subreaper_enable(void);

/*
 * SIGKILLs every child of this process, and every orphan reparented to it
 * meanwhile, and reaps them (each one's BoxFort arena file removed first),
 * until none is left or timeout_ms passed.
 * Meant for a process that is about to exit (a worker whose coordinator
 * died): it also reaps children it did not know of.  Returns 0 when none
 * is left, -ETIMEDOUT, or another negative errno code.
 */
int crmpi_subreaper_kill_all(int timeout_ms);

/*
 * Writes to path (cap bytes; 64 is enough) the socket Criterion's runner
 * binds in process `worker`, and leaves behind when it does not end its run.
 */
void crmpi_leftovers_worker_path(pid_t worker, char *path, size_t cap);

/*
 * Removes what Criterion leaves for a runner (a worker) that was killed:
 * its /tmp/criterion_<pid>.sock.  Only a socket owned by this user is
 * removed.  Returns 1 if removed, 0 if there was none, or -errno.
 */
int crmpi_leftovers_remove_worker(pid_t worker);

/*
 * Removes BoxFort's /dev/shm/bxfi_<pid> of a sandbox that is dead (a
 * regular file owned by this user).  Returns 1, 0 or -errno.  Both removers
 * are async-signal-safe.
 */
int crmpi_leftovers_remove_sandbox(pid_t sandbox);

#endif /* !CRMPI_REAPER_H_ */
