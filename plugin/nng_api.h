/*
 * nng, loaded at run time.
 *
 * libnng also exports nanomsg-compatible nn_* functions.  Linked normally,
 * it lands in the global symbol scope and libcriterion's own nanomsg calls
 * bind to it instead of libnanomsg (measured: correct but 50% slower).  So
 * the plugin never links nng: it dlopen()s it with RTLD_LOCAL and calls it
 * through this table.
 */
#ifndef CRMPI_NNG_API_H_
#define CRMPI_NNG_API_H_

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#define CRMPI_NNG_FUNCS(X)                                                   \
    X(int, nng_req0_open, (nng_socket *))                                     \
    X(int, nng_rep0_open, (nng_socket *))                                     \
    X(int, nng_close, (nng_socket))                                           \
    X(int, nng_listen, (nng_socket, const char *, nng_listener *, int))       \
    X(int, nng_dial, (nng_socket, const char *, nng_dialer *, int))           \
    X(int, nng_listener_create, (nng_listener *, nng_socket, const char *))   \
    X(int, nng_listener_start, (nng_listener, int))                           \
    X(int, nng_listener_get_int, (nng_listener, const char *, int *))         \
    X(int, nng_listener_set_ptr, (nng_listener, const char *, void *))        \
    X(int, nng_dialer_create, (nng_dialer *, nng_socket, const char *))       \
    X(int, nng_dialer_start, (nng_dialer, int))                               \
    X(int, nng_dialer_set_ptr, (nng_dialer, const char *, void *))            \
    X(int, nng_socket_set_ms, (nng_socket, const char *, nng_duration))       \
    X(int, nng_socket_set_size, (nng_socket, const char *, size_t))           \
    X(int, nng_socket_get_int, (nng_socket, const char *, int *))             \
    X(int, nng_sendmsg, (nng_socket, nng_msg *, int))                         \
    X(int, nng_recvmsg, (nng_socket, nng_msg **, int))                        \
    X(void, nng_send_aio, (nng_socket, nng_aio *))                            \
    X(void, nng_recv_aio, (nng_socket, nng_aio *))                            \
    X(int, nng_msg_alloc, (nng_msg **, size_t))                               \
    X(void, nng_msg_free, (nng_msg *))                                        \
    X(void *, nng_msg_body, (nng_msg *))                                      \
    X(size_t, nng_msg_len, (const nng_msg *))                                 \
    X(void *, nng_msg_header, (nng_msg *))                                    \
    X(size_t, nng_msg_header_len, (const nng_msg *))                          \
    X(int, nng_msg_header_append, (nng_msg *, const void *, size_t))          \
    X(nng_pipe, nng_msg_get_pipe, (const nng_msg *))                          \
    X(int, nng_pipe_notify, (nng_socket, nng_pipe_ev, nng_pipe_cb, void *))   \
    X(int, nng_pipe_id, (nng_pipe))                                           \
    X(int, nng_pipe_close, (nng_pipe))                                        \
    X(const char *, nng_strerror, (int))                                      \
    X(int, nng_ctx_open, (nng_ctx *, nng_socket))                             \
    X(int, nng_ctx_close, (nng_ctx))                                          \
    X(void, nng_ctx_send, (nng_ctx, nng_aio *))                               \
    X(void, nng_ctx_recv, (nng_ctx, nng_aio *))                               \
    X(int, nng_ctx_set_ms, (nng_ctx, const char *, nng_duration))             \
    X(int, nng_aio_alloc, (nng_aio **, void (*)(void *), void *))             \
    X(void, nng_aio_free, (nng_aio *))                                        \
    X(void, nng_aio_wait, (nng_aio *))                                        \
    X(void, nng_aio_cancel, (nng_aio *))                                      \
    X(void, nng_aio_stop, (nng_aio *))                                        \
    X(int, nng_aio_result, (nng_aio *))                                       \
    X(void, nng_aio_set_msg, (nng_aio *, nng_msg *))                          \
    X(nng_msg *, nng_aio_get_msg, (nng_aio *))                                \
    X(void, nng_aio_set_timeout, (nng_aio *, nng_duration))                   \
    X(int, nng_tls_config_alloc, (nng_tls_config **, nng_tls_mode))           \
    X(void, nng_tls_config_free, (nng_tls_config *))                          \
    X(int, nng_tls_config_auth_mode, (nng_tls_config *, nng_tls_auth_mode))   \
    X(int, nng_tls_config_ca_file, (nng_tls_config *, const char *))          \
    X(int, nng_tls_config_own_cert,                                           \
            (nng_tls_config *, const char *, const char *, const char *))     \
    X(int, nng_tls_config_server_name, (nng_tls_config *, const char *))

#define CRMPI_NNG_FIELD_(ret, name, args) ret (*name) args;
struct crmpi_nng_api {
    CRMPI_NNG_FUNCS(CRMPI_NNG_FIELD_)
};
#undef CRMPI_NNG_FIELD_

/* The table; valid once crmpi_nng_load() returned 0. */
extern struct crmpi_nng_api crmpi_nng;

/*
 * Loads libnng once per process (later calls are no-ops).  Returns 0 or a
 * negative errno-style code; on error, a message was printed.
 */
int crmpi_nng_load(void);

/* nng error codes are positive: the message for one, or for -errno. */
const char *crmpi_nng_strerror(int rv);

#endif /* !CRMPI_NNG_API_H_ */
