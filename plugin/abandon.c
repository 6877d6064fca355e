/* A worker whose coordinator is gone (see abandon.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "abandon.h"
#include "diag.h"
#include "proc.h"
#include "reaper.h"
#include "testenv.h"
#include "worker.h"

/* Parks Criterion's runner thread while another one abandons the run. */
#define ABANDON_PARK_SIGNAL (SIGRTMIN + 5)

/* The private directory of a local coordinator, to remove if it is killed. */
static char abandon_ipc_path[256];
static char abandon_ipc_dir[256];
/*
 * Where our parent (coordinator or worker host) has us note the worker setup
 * we run, and its private directory: nobody else removes them once it is dead.
 */
static char abandon_note[256];
static char abandon_note_dir[256];
static pid_t abandon_parent;
static volatile sig_atomic_t abandon_parent_dying;  /* its parent-death signal came */
/* Criterion's runner socket of this process, which its run will not remove if we abandon it. */
static char abandon_criterion_sock[64];
static int abandon_subreaper;       /* the child subreaper of its descendants */
static pthread_t abandon_runner;    /* the thread that runs Criterion's runner */
static volatile sig_atomic_t abandon_runner_parked;
static atomic_int abandon_started;

/* Every signal is blocked in here (see crmpi_abandon_watch): this thread waits for the exit. */
static void abandon_on_park(int sig)
{
    (void) sig;
    abandon_runner_parked = 1;
    for (;;)
        pause();
}

/*
 * Criterion's runner, seeing its test process killed under it, panics
 * (abort) and the worker's status is lost: it waits, parked, for our exit.
 * A runner that does not stop within 200 ms is not waited for.
 */
static void abandon_park_runner(void)
{
    if (pthread_equal(pthread_self(), abandon_runner)
            || pthread_kill(abandon_runner, ABANDON_PARK_SIGNAL))
        return;
    struct timespec ms = { 0, 1000 * 1000 };
    for (int i = 0; i < 200 && !abandon_runner_parked; ++i)
        nanosleep(&ms, NULL);
}

/*
 * Our coordinator died without cleaning up (SIGKILL): leave no socket file,
 * take our test sandboxes with us, and go.  Async-signal-safe calls only:
 * this runs from a signal handler or an nng callback.  With sig (not 0) the
 * coordinator lives and this worker only was told to end: its socket stays,
 * for our replacement, and we die of sig, as the coordinator expects.
 */
static _Noreturn void abandon_run(int status, int sig)
{
    /*
     * No signal on this thread from here: a SIGTERM (the parent-death signal)
     * taken while abandoning would come back in here and wait for itself.  A
     * second loss (the signal and the closed connection) waits for the
     * first's exit.
     */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (atomic_exchange(&abandon_started, 1))
        for (;;)
            pause();
    abandon_park_runner();
    if (*abandon_ipc_path && !sig) {
        unlink(abandon_ipc_path);
        rmdir(abandon_ipc_dir);
    }
    /*
     * A worker host's directory holds its workers' notes only: the last of
     * them to go removes it (rmdir fails while another's note is there).  A
     * living parent still reads our note and removes its own directory.
     */
    if (*abandon_note && (abandon_parent_dying || getppid() != abandon_parent)) {
        unlink(abandon_note);
        rmdir(abandon_note_dir);
    }
    if (*abandon_criterion_sock)
        unlink(abandon_criterion_sock);
    /*
     * Everything below us, including what left our process group (setsid
     * daemons, a test's orphans, reparented to us as their subreaper).
     */
    crmpi_subreaper_kill_all(2000);
    crmpi_testenv_abandon();
    /*
     * As a subreaper this worker inherited every descendant, and they are
     * gone.  Otherwise what left our tree may still be in our process group:
     * ending the group ends this process too, and the loss is then seen as
     * SIGKILL instead of its status.
     */
    if ((status || sig) && !abandon_subreaper)
        crmpi_kill_tree(getpid());
    if (sig) {
        /* Pending while every thread here blocks it, then taken, with its default action. */
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        kill(getpid(), sig);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
    _exit(sig ? 128 + sig : status);
}

/*
 * A worker the coordinator never answered lost nothing: the connection
 * closed as the run ended (a remote host joining late: the coordinator
 * finished with the workers it had), so that is no error of this host's.
 */
void crmpi_abandon_on_lost(int answered)
{
    static const char lost[] = "criterion-mproc: error: worker lost its coordinator\n";
    static const char late[] = "criterion-mproc: worker: the coordinator closed the connection "
                               "before taking this worker in (the run is over)\n";
    int fd = crmpi_diag_fd();
    ssize_t n = answered ? write(fd, lost, sizeof(lost) - 1) : write(fd, late, sizeof(late) - 1);
    (void) n;
    abandon_run(answered ? CRMPI_WORKER_EXIT_LOST : 0, 0);
}

/*
 * SIGTERM.  Only our parent's death is a loss: one from a test, a person or
 * a supervisor ends this worker as it would any process, and removes
 * nothing of our coordinator's (its socket was unlinked, no replacement
 * could connect and the tests not run yet never ran: issue 10, defect 4).
 * The parent-death signal comes from the parent (which never sends us
 * SIGTERM otherwise), and may come while its other threads still live, so
 * that getppid() has not changed yet: the sender tells.
 */
static void abandon_on_orphaned(int sig, siginfo_t *info, void *uctx)
{
    (void) uctx;
    if (getppid() == abandon_parent && !(info && info->si_pid == abandon_parent))
        abandon_run(0, sig);
    abandon_parent_dying = 1;
    abandon_run(CRMPI_WORKER_EXIT_LOST, 0);
}

/* path into file and, cut at its last '/', into dir (both 256 bytes); "" if it does not fit. */
static void abandon_keep_path(const char *path, char *file, char *dir)
{
    if (strlen(path) >= 256)
        return;
    strcpy(file, path);
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
}

void crmpi_abandon_watch(const char *url, const char *note)
{
    abandon_runner = pthread_self();
    struct sigaction park = { .sa_handler = abandon_on_park };
    sigfillset(&park.sa_mask);
    sigaction(ABANDON_PARK_SIGNAL, &park, NULL);
    crmpi_leftovers_worker_path(getpid(), abandon_criterion_sock, sizeof(abandon_criterion_sock));

    const char *parent = getenv(CRMPI_ENV_PARENT);
    if (!parent)
        return;
    /*
     * Only our coordinator's private socket, never one a worker host's
     * workers reach (--mproc-listen=ipc://PATH): they unlinked it when their
     * host died, and the coordinator, alive, could be reached no more.
     */
    if (!strncmp(url, "ipc://", 6) && !getenv(CRMPI_ENV_HOSTED))
        abandon_keep_path(url + 6, abandon_ipc_path, abandon_ipc_dir);
    if (note)
        abandon_keep_path(note, abandon_note, abandon_note_dir);
    abandon_parent = (pid_t) strtol(parent, NULL, 10);
    struct sigaction sa = { .sa_sigaction = abandon_on_orphaned, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    /* A test's setsid() daemon must not outlive the run when our coordinator is SIGKILLed. */
    abandon_subreaper = !crmpi_subreaper_enable();
    if (!abandon_subreaper)
        crmpi_debug("worker: cannot become a child subreaper: a test's daemons may outlive a killed run");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* It may have died before the line above took effect. */
    if (getppid() != abandon_parent)
        abandon_run(CRMPI_WORKER_EXIT_LOST, 0);
}
