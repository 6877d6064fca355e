/*
 * The coordinator's side of nng, and the one conversion between a wire
 * Envelope and an nng message that both sides use.
 */
#ifndef CRMPI_TRANSPORT_H_
#define CRMPI_TRANSPORT_H_

#include <pthread.h>

#include "nng_api.h"
#include "wire.h"

struct crmpi_options;
struct crmpi_token;

/*
 * Packs env into a new nng message.  On success returns 0 and the caller
 * owns *out (nng_msg_free, or a send that succeeds).  Returns -EMSGSIZE or
 * -ENOMEM.
 */
int crmpi_transport_pack(const Crmp__Envelope *env, nng_msg **out);

/*
 * Decodes msg's body (msg stays the caller's).  Returns what
 * crmpi_wire_decode returns; on success the caller owns *out.
 */
int crmpi_transport_unpack(nng_msg *msg, Crmp__Envelope **out);

struct crmpi_transport_ctx;     /* transport.c's: one nng context and its two aios */

/*
 * The coordinator's socket: a cooked REP socket with one nng context per
 * request it holds, driven by callbacks.  A context's receive callback (on
 * one of nng's threads) queues it and makes efd readable; the poll loop
 * takes the request with crmpi_transport_recv and answers it with
 * crmpi_transport_reply, which puts the reply on its pipe and asks for the
 * context's next request.  Raw REP, which this replaced, passes every request and
 * reply through the socket's queues and two more of nng's threads: about 4
 * of its 15 context switches a round trip (bench/nng_floor).
 *
 * A request (an nng_msg of the caller's) carries its context's index in its
 * header: it goes back through reply or drop, never nng_msg_free, so that
 * its context can take the next request.
 */
struct crmpi_transport {
    nng_socket sock;
    int efd;                    /* the eventfd the loop polls; valid when have_efd */
    int have_efd, have_lk;
    pthread_mutex_t lk;         /* guards ready and armed: nng's threads write them */
    struct crmpi_transport_ctx **ctxs;      /* all, owned; grown by the loop's thread */
    size_t n_ctxs;
    struct crmpi_transport_ctx *ready, *ready_last;     /* requests not yet taken */
    size_t armed;               /* contexts waiting for a request */
};

/*
 * Answers request req (consumed, whatever happens) with env: the request's
 * context sends it.  Returns 0, -EMSGSIZE, -ENOMEM or -EIO (-EINVAL: req is
 * not one of t's).
 */
int crmpi_transport_reply(struct crmpi_transport *t, nng_msg *req, const Crmp__Envelope *env);

/* Drops request req (consumed; NULL is nothing) unanswered. */
void crmpi_transport_drop(struct crmpi_transport *t, nng_msg *req);

/*
 * The next request waiting, without waiting: 0 and *out (the caller's, to
 * answer or drop), or an nng error (NNG_ETIMEDOUT: none now).
 */
int crmpi_transport_recv(struct crmpi_transport *t, nng_msg **out);

/*
 * Frees t's contexts, their aios and the requests they hold (its socket is
 * closed first), and its eventfd; safe on a zeroed or half-built t.
 */
void crmpi_transport_fini(struct crmpi_transport *t);

/*
 * Opens t's socket (cooked REP) and its first contexts, listening on url
 * (NULL: on nothing yet, for crmpi_transport_listen_remote's listener alone),
 * with cb told of every removed pipe, and sets *recv_fd to the descriptor
 * that polls readable when a request waits.  Returns 0 or a negative code
 * after saying why; *sock_open says whether t->sock is to be closed (and
 * crmpi_transport_fini frees the rest either way).
 */
int crmpi_transport_listen(struct crmpi_transport *t, int *sock_open, const char *url,
        nng_pipe_cb cb, void *arg, int *recv_fd);

/*
 * Adds the --mproc-listen listener to sock, with TLS for tls+tcp://.  Loads
 * the token into *token (to free with crmpi_token_free) and refuses a
 * non-loopback address without one.  *tls receives the TLS configuration
 * (to free with nng_tls_config_free when not NULL).  Returns 0 or a negative
 * code after saying why.
 */
int crmpi_transport_listen_remote(nng_socket sock, const struct crmpi_options *opts,
        struct crmpi_token *token, nng_tls_config **tls);

#endif /* !CRMPI_TRANSPORT_H_ */
