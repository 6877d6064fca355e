#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int crmpi_transport_reply(struct crmpi_transport *t, nng_msg *req, const Crmp__Envelope *env)
{
    nng_msg *msg;
    int rc = crmpi_transport_pack(env, &msg);
    if (rc)
        goto out;
    /* Raw REP: the request's header routes the reply back to its sender. */
    rc = crmpi_nng.nng_msg_header_append(msg, crmpi_nng.nng_msg_header(req),
            crmpi_nng.nng_msg_header_len(req));
    if (!rc) {
        /* What nng_sendmsg(sock, msg, 0) does, on an aio of our own. */
        crmpi_nng.nng_aio_set_timeout(t->tx, NNG_DURATION_DEFAULT);
        crmpi_nng.nng_aio_set_msg(t->tx, msg);
        crmpi_nng.nng_send_aio(t->sock, t->tx);
        crmpi_nng.nng_aio_wait(t->tx);
        rc = crmpi_nng.nng_aio_result(t->tx);
        /* Sent, the socket owns msg; otherwise it is still ours. */
        crmpi_nng.nng_aio_set_msg(t->tx, NULL);
    }
    if (rc) {
        crmpi_nng.nng_msg_free(msg);
        rc = -EIO;
    }
out:
    crmpi_nng.nng_msg_free(req);
    return rc;
}

int crmpi_transport_recv(struct crmpi_transport *t, nng_msg **out)
{
    /* What nng_recvmsg(sock, out, NNG_FLAG_NONBLOCK) does, on an aio of our own. */
    crmpi_nng.nng_aio_set_timeout(t->rx, NNG_DURATION_ZERO);
    crmpi_nng.nng_recv_aio(t->sock, t->rx);
    crmpi_nng.nng_aio_wait(t->rx);
    int rc = crmpi_nng.nng_aio_result(t->rx);
    if (rc)
        return rc;
    *out = crmpi_nng.nng_aio_get_msg(t->rx);
    crmpi_nng.nng_aio_set_msg(t->rx, NULL);
    return 0;
}

void crmpi_transport_fini(struct crmpi_transport *t)
{
    if (t->tx)
        crmpi_nng.nng_aio_free(t->tx);
    if (t->rx)
        crmpi_nng.nng_aio_free(t->rx);
    t->tx = t->rx = NULL;
}

int crmpi_transport_listen(struct crmpi_transport *t, int *sock_open, const char *url,
        nng_pipe_cb cb, void *arg, int *recv_fd)
{
    int rc = crmpi_nng_load();
    if (rc)
        return rc;
    nng_socket *sock = &t->sock;
    rc = crmpi_nng.nng_rep0_open_raw(sock);
    if (rc)
        goto err;
    *sock_open = 1;
    rc = crmpi_nng.nng_aio_alloc(&t->rx, NULL, NULL);
    if (!rc)
        rc = crmpi_nng.nng_aio_alloc(&t->tx, NULL, NULL);
    if (rc)
        goto err;
    rc = crmpi_nng.nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, CRMPI_WIRE_MAX_MSG);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(*sock, NNG_PIPE_EV_REM_POST, cb, arg);
    if (!rc)
        rc = crmpi_nng.nng_listen(*sock, url, NULL, 0);
    if (!rc)
        rc = crmpi_nng.nng_socket_get_int(*sock, NNG_OPT_RECVFD, recv_fd);
    if (rc)
        goto err;
    return 0;

err:
    crmpi_error("cannot listen on %s: %s", url, crmpi_nng_strerror(rc));
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
