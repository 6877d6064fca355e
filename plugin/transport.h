/*
 * The coordinator's side of nng, and the one conversion between a wire
 * Envelope and an nng message that both sides use.
 */
#ifndef CRMPI_TRANSPORT_H_
#define CRMPI_TRANSPORT_H_

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

/*
 * The coordinator's socket with an aio for receiving and one for sending,
 * reused for every message: nng_recvmsg and nng_sendmsg allocate and free
 * an aio per call (2.5 k instructions of about 60 k per result).
 */
struct crmpi_transport {
    nng_socket sock;
    nng_aio *rx, *tx;
};

/*
 * Answers request req (consumed, whatever happens) with env on t's raw REP
 * socket: the request's header routes the reply back to its sender.
 * Returns 0, -EMSGSIZE, -ENOMEM or -EIO.
 */
int crmpi_transport_reply(struct crmpi_transport *t, nng_msg *req, const Crmp__Envelope *env);

/*
 * The next message waiting on t's socket, without waiting: 0 and *out
 * (the caller's, nng_msg_free), or an nng error (NNG_ETIMEDOUT: none now).
 */
int crmpi_transport_recv(struct crmpi_transport *t, nng_msg **out);

/* Frees t's aios (its socket is closed first); safe on a zeroed or half-built t. */
void crmpi_transport_fini(struct crmpi_transport *t);

/*
 * Opens t's socket (raw REP) and its aios, listening on url, with cb told of every removed
 * pipe, and sets *recv_fd to the descriptor that polls readable when a
 * message waits.  Returns 0 or a negative code after saying why; *sock_open
 * says whether t->sock is to be closed (and crmpi_transport_fini frees the
 * aios either way).
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
