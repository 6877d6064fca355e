/*
 * Unit tests for plugin/transport.c's envelope <-> nng message conversion,
 * the one both sides of the wire use.
 */
#include <errno.h>
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
