/*
 * A worker's session with its coordinator: the connection (ipc, tcp or
 * tls+tcp, dialled until the coordinator is up), the hello with the
 * binary's unit list, the token challenge, request/reply exchanges and the
 * heartbeat thread.  What the replies mean is the worker's business
 * (plugin/worker.c); this module only carries them.
 */
#ifndef CRMPI_SESSION_H_
#define CRMPI_SESSION_H_

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "nng_api.h"
#include "units.h"
#include "wire.h"

struct crmpi_session {
    unsigned slot;                  /* for messages */
    nng_socket sock;
    int open;                       /* sock is open */
    atomic_int closing;             /* set before the socket is closed on purpose */
    sem_t connected;
    int sem_ok;
    struct crmpi_token token;       /* len 0: none */
    uint8_t nonce[CRMPI_NONCE_LEN];
    uint8_t exe_hash[32];           /* crmpi_exe_hash(), read once: the file is large */
    int have_exe_hash;
    nng_tls_config *tls;
    /*
     * Called when the connection is lost without crmpi_session_close, from
     * an nng thread or from the thread whose request it cut off, whichever
     * sees it first: the coordinator is gone.  answered: whether it had
     * ever replied (took this worker in).  Must not return into nng's
     * teardown with the socket in use (it ends the process).
     */
    void (*on_lost)(int answered);
    atomic_int answered;            /* a reply came from the coordinator */
    int quiet_close;                /* tests only: nng's word of the close is ignored (testfault.h) */

    struct {
        pthread_t thread;
        int started;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        int cond_ok;
        int stop;
        nng_aio *aio;               /* the heartbeat in flight, to cancel at stop */
    } beat;
};

/*
 * Loads the token (from CRITERION_MPROC_TOKEN), nng, and connects to url,
 * retrying for CRITERION_MPROC_CONNECT_TIMEOUT seconds.  Returns 0, or
 * after a message -ETIMEDOUT (the coordinator was never reached), or
 * another negative errno code.  crmpi_session_close releases it either way.
 */
int crmpi_session_open(struct crmpi_session *s, unsigned slot, const char *url,
        void (*on_lost)(int answered));

/*
 * Sends env and waits for the coordinator's answer.  On success returns 0
 * and the caller owns *reply (crmpi_wire_free).  Errors are returned after
 * a message.
 */
int crmpi_session_exchange(struct crmpi_session *s, const Crmp__Envelope *env,
        Crmp__Envelope **reply);

/*
 * crmpi_session_exchange in two halves, for a worker that has something
 * to do while the coordinator answers: sends env (encoded, so the caller
 * may free it on return), then takes the answer.  Returns 0 (receive: the
 * caller owns *reply), or a negative errno code after a message.  A send
 * must be followed by one receive before the next send (REQ/REP).
 */
int crmpi_session_send(struct crmpi_session *s, const Crmp__Envelope *env);
int crmpi_session_receive(struct crmpi_session *s, Crmp__Envelope **reply);

/*
 * Says hello with the unit list's fingerprint and count, and the list
 * itself when with_units (the answer to a ListWanted); the answer as for
 * crmpi_session_exchange.
 */
int crmpi_session_hello(struct crmpi_session *s, const struct crmpi_units *units,
        int with_units,
        Crmp__Envelope **reply);

/*
 * Checks that the coordinator knows the token, then proves that we do.
 * Returns 0 and the coordinator's answer (the caller owns it), or a
 * negative errno code after a message (-EACCES: the coordinator is refused).
 */
int crmpi_session_answer(struct crmpi_session *s, const Crmp__Challenge *ch,
        Crmp__Envelope **reply);

/*
 * Tells the coordinator that this worker enters (in 1) or has left (in 0)
 * its worker fixtures' setups (a Heartbeat with in_fixture), and waits for
 * the echo: when the connection closes in between, a coordinator on another
 * host knows the worker died in a setup, not in its test.  Returns 0, or a
 * negative errno code after a message.
 */
int crmpi_session_fixture(struct crmpi_session *s, int in);

/*
 * Fault injection for the plugin's own tests: with CRMP_TEST_FAULT set to
 * "garbage:PATH", the first worker of the run to create PATH sends bytes
 * that are no message instead of its first result (returns 1).  Unset
 * (always, in real use): returns 0.
 */
int crmpi_session_fault_garbage(void);

/* Sends that garbage and waits to be dropped.  Returns a negative errno code. */
int crmpi_session_send_garbage(struct crmpi_session *s);

/* Heartbeats every second on a context of their own, while tests run. */
void crmpi_session_beat_start(struct crmpi_session *s);
/* Stops them and waits for the thread, while the socket is still open. */
void crmpi_session_beat_stop(struct crmpi_session *s);

/* Closes the connection on purpose and releases everything; safe on a zeroed session. */
void crmpi_session_close(struct crmpi_session *s);

#endif /* !CRMPI_SESSION_H_ */
