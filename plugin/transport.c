#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "auth.h"
#include "diag.h"
#include "options.h"
#include "transport.h"
#include "worker.h"

int crmpi_transport_pack(const Crmp__Envelope *env, nng_msg **out)
{
    nng_msg *msg;
    uint8_t assign[CRMPI_WIRE_ASSIGN_MAX];
    size_t n = crmpi_wire_encode_assign(env, assign);
    if (n) {
        if (crmpi_nng.nng_msg_alloc(&msg, n))
            return -ENOMEM;
        memcpy(crmpi_nng.nng_msg_body(msg), assign, n);
        *out = msg;
        return 0;
    }
    size_t len = crmp__envelope__get_packed_size(env);
    if (len > CRMPI_WIRE_MAX_MSG)
        return -EMSGSIZE;
    if (crmpi_nng.nng_msg_alloc(&msg, len))
        return -ENOMEM;
    crmp__envelope__pack(env, crmpi_nng.nng_msg_body(msg));
    *out = msg;
    return 0;
}

int crmpi_transport_unpack(nng_msg *msg, Crmp__Envelope **out)
{
    return crmpi_wire_decode(crmpi_nng.nng_msg_body(msg), crmpi_nng.nng_msg_len(msg), out);
}

/*
 * One context of the socket.  Its states: armed (a receive pending), taken
 * (its request is the loop's), idle
 * (closed socket, or never armed).  The loop's thread arms it and sends;
 * nng's threads run its receive callback, which touches only it and, under
 * t->lk, the ready list and the count of armed contexts.
 */
struct crmpi_transport_ctx {
    struct crmpi_transport *t;
    nng_ctx ctx;
    nng_aio *rx, *tx;
    uint32_t index;                         /* in t->ctxs, and in its request's header */
    struct crmpi_transport_ctx *next;       /* in t->ready */
};

/*
 * Contexts kept waiting for a request beyond those that answer: each lets
 * one more connection's request through at once (one context for all
 * would make each request wait for the one before to be taken).
 */
#define TRANSPORT_SPARE_CTXS 4

static void transport_rx_cb(void *arg)
{
    struct crmpi_transport_ctx *x = arg;
    struct crmpi_transport *t = x->t;
    int rv = crmpi_nng.nng_aio_result(x->rx);
    pthread_mutex_lock(&t->lk);
    t->armed--;
    int wake = 0;
    /* Closed or cancelled: the socket is closing, the context stays idle. */
    if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
        x->next = NULL;
        if (t->ready)
            t->ready_last->next = x;
        else
            t->ready = x, wake = 1;
        t->ready_last = x;
    }
    pthread_mutex_unlock(&t->lk);
    /*
     * Outside the lock: the loop may take x before this write, and then
     * wake once for nothing (it finds the list empty); it never misses one.
     * Adding 1 to our eventfd cannot fail (nor overflow: the loop reads it).
     */
    uint64_t one = 1;
    if (wake)
        (void) !write(t->efd, &one, sizeof(one));
}

/* Asks x's context for its next request. */
static void transport_arm(struct crmpi_transport_ctx *x)
{
    pthread_mutex_lock(&x->t->lk);
    x->t->armed++;
    pthread_mutex_unlock(&x->t->lk);
    crmpi_nng.nng_ctx_recv(x->ctx, x->rx);
}

/* A new armed context, or NULL (no memory: those there are serve, one request at a time). */
static struct crmpi_transport_ctx *transport_ctx_add(struct crmpi_transport *t)
{
    if (t->n_ctxs >= UINT32_MAX)
        return NULL;
    struct crmpi_transport_ctx **grown = realloc(t->ctxs, (t->n_ctxs + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    t->ctxs = grown;
    struct crmpi_transport_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->t = t;
    x->index = (uint32_t) t->n_ctxs;
    if (crmpi_nng.nng_ctx_open(&x->ctx, t->sock)) {
        free(x);
        return NULL;
    }
    if (crmpi_nng.nng_aio_alloc(&x->rx, transport_rx_cb, x)
            || crmpi_nng.nng_aio_alloc(&x->tx, NULL, NULL)) {
        if (x->rx)
            crmpi_nng.nng_aio_free(x->rx);
        crmpi_nng.nng_ctx_close(x->ctx);
        free(x);
        return NULL;
    }
    t->ctxs[t->n_ctxs++] = x;
    transport_arm(x);
    return x;
}

/* The context of request req (ours: its header holds the index), or NULL. */
static struct crmpi_transport_ctx *transport_ctx_of(struct crmpi_transport *t, nng_msg *req)
{
    uint32_t i;
    if (crmpi_nng.nng_msg_header_len(req) != sizeof(i))
        return NULL;
    memcpy(&i, crmpi_nng.nng_msg_header(req), sizeof(i));
    return i < t->n_ctxs ? t->ctxs[i] : NULL;
}

int crmpi_transport_reply(struct crmpi_transport *t, nng_msg *req, const Crmp__Envelope *env)
{
    struct crmpi_transport_ctx *x = transport_ctx_of(t, req);
    nng_msg *msg;
    int rc = x ? crmpi_transport_pack(env, &msg) : -EINVAL;
    if (rc) {
        crmpi_transport_drop(t, req);
        return rc;
    }
    crmpi_nng.nng_msg_free(req);
    /*
     * Done at once, in this thread, unless the pipe still sends an earlier
     * reply: a context puts its reply straight onto its pipe.  (A callback
     * instead of the wait would cost a hand-off to nng's threads.)  To a
     * pipe that is gone, the send succeeds and nng drops the reply.
     */
    crmpi_nng.nng_aio_set_msg(x->tx, msg);
    crmpi_nng.nng_ctx_send(x->ctx, x->tx);
    crmpi_nng.nng_aio_wait(x->tx);
    rc = crmpi_nng.nng_aio_result(x->tx);
    if (rc) {
        /* Not sent, msg is still ours. */
        crmpi_nng.nng_msg_free(crmpi_nng.nng_aio_get_msg(x->tx));
        crmpi_nng.nng_aio_set_msg(x->tx, NULL);
        rc = -EIO;
    }
    transport_arm(x);
    return rc;
}

void crmpi_transport_drop(struct crmpi_transport *t, nng_msg *req)
{
    if (!req)
        return;
    struct crmpi_transport_ctx *x = transport_ctx_of(t, req);
    crmpi_nng.nng_msg_free(req);
    if (x)
        transport_arm(x);
}

/* The first context of the ready list, taken off it, or NULL. */
static struct crmpi_transport_ctx *transport_take(struct crmpi_transport *t)
{
    pthread_mutex_lock(&t->lk);
    struct crmpi_transport_ctx *x = t->ready;
    if (x)
        t->ready = x->next;
    pthread_mutex_unlock(&t->lk);
    return x;
}

int crmpi_transport_recv(struct crmpi_transport *t, nng_msg **out)
{
    for (;;) {
        struct crmpi_transport_ctx *x = transport_take(t);
        if (!x) {
            /* Empty: clear efd, then look again (a request may have come in between). */
            uint64_t n;
            if (read(t->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                return NNG_EINTERNAL;
            x = transport_take(t);
        }
        if (!x)
            return NNG_ETIMEDOUT;
        int rv = crmpi_nng.nng_aio_result(x->rx);
        nng_msg *msg = rv ? NULL : crmpi_nng.nng_aio_get_msg(x->rx);
        crmpi_nng.nng_aio_set_msg(x->rx, NULL);
        if (msg && crmpi_nng.nng_msg_header_append(msg, &x->index, sizeof(x->index))) {
            crmpi_nng.nng_msg_free(msg);
            msg = NULL;
        }
        if (!msg) {
            /* A receive that failed (no memory): the context waits again. */
            transport_arm(x);
            continue;
        }
        pthread_mutex_lock(&t->lk);
        size_t armed = t->armed;
        pthread_mutex_unlock(&t->lk);
        /* One more context while few wait: requests held for long take theirs along. */
        if (armed < TRANSPORT_SPARE_CTXS)
            transport_ctx_add(t);
        *out = msg;
        return 0;
    }
}

void crmpi_transport_fini(struct crmpi_transport *t)
{
    /* The socket is closed: every pending receive ends, its callback waited for here. */
    for (size_t i = 0; i < t->n_ctxs; ++i) {
        struct crmpi_transport_ctx *x = t->ctxs[i];
        crmpi_nng.nng_aio_stop(x->rx);
        /* A request received and never taken is still on its aio. */
        nng_msg *msg = crmpi_nng.nng_aio_get_msg(x->rx);
        if (msg)
            crmpi_nng.nng_msg_free(msg);
        crmpi_nng.nng_aio_free(x->rx);
        crmpi_nng.nng_aio_free(x->tx);
        free(x);
    }
    free(t->ctxs);
    t->ctxs = NULL;
    t->n_ctxs = 0;
    t->ready = t->ready_last = NULL;
    if (t->have_efd)
        close(t->efd);
    t->have_efd = 0;
    if (t->have_lk)
        pthread_mutex_destroy(&t->lk);
    t->have_lk = 0;
}

int crmpi_transport_listen(struct crmpi_transport *t, int *sock_open, const char *url,
        nng_pipe_cb cb, void *arg, int *recv_fd)
{
    int rc = crmpi_nng_load();
    if (rc)
        return rc;
    const char *what = url ? url : "the coordinator's socket";
    if ((rc = pthread_mutex_init(&t->lk, NULL)) != 0) {
        crmpi_error("cannot listen on %s: %s", what, strerror(rc));
        return -rc;
    }
    t->have_lk = 1;
    t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->efd < 0) {
        rc = -errno;
        crmpi_error("cannot listen on %s: eventfd: %s", what, strerror(-rc));
        return rc;
    }
    t->have_efd = 1;
    nng_socket *sock = &t->sock;
    rc = crmpi_nng.nng_rep0_open(sock);
    if (rc)
        goto err;
    *sock_open = 1;
    rc = crmpi_nng.nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, CRMPI_WIRE_MAX_MSG);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(*sock, NNG_PIPE_EV_REM_POST, cb, arg);
    for (int i = 0; !rc && i < TRANSPORT_SPARE_CTXS; ++i)
        rc = transport_ctx_add(t) ? 0 : NNG_ENOMEM;
    if (!rc && url)
        rc = crmpi_nng.nng_listen(*sock, url, NULL, 0);
    if (rc)
        goto err;
    *recv_fd = t->efd;
    return 0;

err:
    crmpi_error("cannot listen on %s: %s", what, crmpi_nng_strerror(rc));
    return -EIO;
}

/* A whole (small, text) file as a string; NULL with errno set. */
static char *transport_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int ok = mem != NULL;
    char chunk[4096];
    size_t n;
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0 && len < (1u << 20))
        ok = fwrite(chunk, 1, n, mem) == n;
    ok = ok && !ferror(f);
    fclose(f);
    if (mem)
        fclose(mem);
    if (!ok) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    return buf;
}

int crmpi_transport_listen_remote(nng_socket sock, const struct crmpi_options *o,
        struct crmpi_token *token, nng_tls_config **tls)
{
    char err[256];
    int rc = crmpi_token_load_configured(o->token_file, token, err, sizeof(err));
    if (rc) {
        crmpi_error("%s", err);
        return rc;
    }
    if (!token->len && !crmpi_options_url_is_loopback(o->listen)) {
        crmpi_error("refusing to listen on %s without a token: set %s or --mproc-token-file",
                o->listen, CRMPI_ENV_TOKEN);
        return -EPERM;
    }
    nng_listener l;
    rc = crmpi_nng.nng_listener_create(&l, sock, o->listen);
    if (!rc && !strncmp(o->listen, "tls+tcp://", 10)) {
        if (!o->tls_cert || !o->tls_key) {
            crmpi_error("%s needs --mproc-tls-cert and --mproc-tls-key", o->listen);
            return -EINVAL;
        }
        char *cert = transport_read_file(o->tls_cert), *key = transport_read_file(o->tls_key);
        if (!cert || !key) {
            crmpi_error("cannot read %s: %s", !cert ? o->tls_cert : o->tls_key, strerror(errno));
            free(cert);
            free(key);
            return -EINVAL;
        }
        rc = crmpi_nng.nng_tls_config_alloc(tls, NNG_TLS_MODE_SERVER);
        if (!rc)
            rc = crmpi_nng.nng_tls_config_own_cert(*tls, cert, key, NULL);
        if (!rc)
            rc = crmpi_nng.nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, *tls);
        free(cert);
        free(key);
    }
    if (!rc)
        rc = crmpi_nng.nng_listener_start(l, 0);
    if (rc) {
        crmpi_error("cannot listen on %s: %s", o->listen, crmpi_nng_strerror(rc));
        return -EIO;
    }
    crmpi_info("accepting remote workers on %s%s", o->listen,
            token->len ? " (token required)" : "");
    return 0;
}
