/*
 * Unit tests for plugin/transport.c: the envelope <-> nng message
 * conversion both sides of the wire use, and the coordinator's socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "transport.h"

static void t_load(void)
{
    cr_assert_eq(crmpi_nng_load(), 0, "libnng.so.1 cannot be loaded");
}

Test(transport, pack_then_unpack, .init = t_load)
{
    Crmp__Stop stop = CRMP__STOP__INIT;
    stop.reason = "--fail-fast";
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_STOP);
    env.stop = &stop;
    nng_msg *msg = NULL;
    cr_assert_eq(crmpi_transport_pack(&env, &msg), 0);
    cr_assert_not_null(msg);
    cr_expect_eq(crmpi_nng.nng_msg_len(msg), crmp__envelope__get_packed_size(&env));
    Crmp__Envelope *back = NULL;
    cr_assert_eq(crmpi_transport_unpack(msg, &back), 0);
    cr_expect_eq(back->body_case, CRMP__ENVELOPE__BODY_STOP);
    cr_expect_str_eq(back->stop->reason, "--fail-fast");
    crmpi_wire_free(back);
    crmpi_nng.nng_msg_free(msg);
}

Test(transport, too_large_is_refused, .init = t_load)
{
    /* One byte over the limit, once framed. */
    char *big = calloc(CRMPI_WIRE_MAX_MSG + 1, 1);
    cr_assert_not_null(big);
    Crmp__Stop stop = CRMP__STOP__INIT;
    stop.reason = memset(big, 'x', CRMPI_WIRE_MAX_MSG);
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_STOP);
    env.stop = &stop;
    nng_msg *msg = NULL;
    cr_expect_eq(crmpi_transport_pack(&env, &msg), -EMSGSIZE);
    cr_expect_null(msg);
    free(big);
}

Test(transport, garbage_does_not_unpack, .init = t_load)
{
    nng_msg *msg = NULL;
    cr_assert_eq(crmpi_nng.nng_msg_alloc(&msg, 5), 0);
    memcpy(crmpi_nng.nng_msg_body(msg), "\xff\xff\xff\xff\xff", 5);
    Crmp__Envelope *back = (Crmp__Envelope *) 1;
    cr_expect_lt(crmpi_transport_unpack(msg, &back), 0);
    cr_expect_null(back);
    crmpi_nng.nng_msg_free(msg);
}

static void t_no_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) p, (void) ev, (void) arg;
}

/* The next request t has, waiting up to 5 s for it. */
static nng_msg *t_next_request(struct crmpi_transport *t, int fd)
{
    for (int tries = 0; tries < 50; ++tries) {
        nng_msg *msg;
        if (!crmpi_transport_recv(t, &msg))
            return msg;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 100);
    }
    cr_assert_fail("no request came");
    return NULL;
}

/* A request's slot, from its body (one byte). */
static int t_slot(nng_msg *req)
{
    cr_assert_eq(crmpi_nng.nng_msg_len(req), 1);
    return *(unsigned char *) crmpi_nng.nng_msg_body(req);
}

/*
 * More requests held at once than the contexts the socket starts with
 * (TRANSPORT_SPARE_CTXS), answered out of order, one dropped: each answer
 * reaches its own asker, and the dropped request's asker, asking again, is
 * answered.
 */
Test(transport, holds_and_answers_out_of_order, .init = t_load, .timeout = 30)
{
    enum { N = 9 };
    struct crmpi_transport t = { 0 };
    int sock_open = 0, fd = -1;
    cr_assert_eq(crmpi_transport_listen(&t, &sock_open, "inproc://transport_test", t_no_pipe_event,
            NULL, &fd), 0);
    nng_socket req[N];
    for (int i = 0; i < N; ++i) {
        cr_assert_eq(crmpi_nng.nng_req0_open(&req[i]), 0);
        cr_assert_eq(crmpi_nng.nng_socket_set_ms(req[i], NNG_OPT_RECVTIMEO, 5000), 0);
        cr_assert_eq(crmpi_nng.nng_dial(req[i], "inproc://transport_test", NULL, 0), 0);
        nng_msg *m;
        cr_assert_eq(crmpi_nng.nng_msg_alloc(&m, 1), 0);
        *(unsigned char *) crmpi_nng.nng_msg_body(m) = (unsigned char) i;
        cr_assert_eq(crmpi_nng.nng_sendmsg(req[i], m, 0), 0);
    }
    nng_msg *held[N] = { 0 };
    for (int i = 0; i < N; ++i) {
        nng_msg *m = t_next_request(&t, fd);
        int slot = t_slot(m);
        cr_assert(slot < N && !held[slot], "request %d twice", slot);
        held[slot] = m;
    }
    crmpi_transport_drop(&t, held[0]);
    for (int i = N - 1; i > 0; --i) {
        Crmp__Assign a = CRMP__ASSIGN__INIT;
        a.unit = (uint32_t) i;
        Crmp__Envelope env;
        crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_ASSIGN);
        env.assign = &a;
        cr_assert_eq(crmpi_transport_reply(&t, held[i], &env), 0);
    }
    for (int i = 1; i < N; ++i) {
        nng_msg *m;
        cr_assert_eq(crmpi_nng.nng_recvmsg(req[i], &m, 0), 0, "no answer for %d", i);
        Crmp__Envelope *back = NULL;
        cr_assert_eq(crmpi_transport_unpack(m, &back), 0);
        cr_expect_eq(back->body_case, CRMP__ENVELOPE__BODY_ASSIGN);
        cr_expect_eq(back->assign->unit, (uint32_t) i);
        crmpi_wire_free(back);
        crmpi_nng.nng_msg_free(m);
    }
    /* Its request dropped, the first asker asks again (REQ forgets the first). */
    nng_msg *m;
    cr_assert_eq(crmpi_nng.nng_msg_alloc(&m, 1), 0);
    *(unsigned char *) crmpi_nng.nng_msg_body(m) = 0;
    cr_assert_eq(crmpi_nng.nng_sendmsg(req[0], m, 0), 0);
    m = t_next_request(&t, fd);
    cr_assert_eq(t_slot(m), 0);
    Crmp__Stop stop = CRMP__STOP__INIT;
    stop.reason = "done";
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_STOP);
    env.stop = &stop;
    cr_assert_eq(crmpi_transport_reply(&t, m, &env), 0);
    cr_assert_eq(crmpi_nng.nng_recvmsg(req[0], &m, 0), 0);
    crmpi_nng.nng_msg_free(m);
    for (int i = 0; i < N; ++i)
        crmpi_nng.nng_close(req[i]);
    crmpi_nng.nng_close(t.sock);
    crmpi_transport_fini(&t);
}
