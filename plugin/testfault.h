/*
 * Timings the plugin's own tests (test/faults) need and cannot get from
 * outside, forced with CRMP_TEST_FAULT.  Unset, as in every real run, each
 * call returns at once.
 *
 * "late-hello:DIR": a run's end overtakes a worker's hello, as it can on a
 * loaded machine (worker 0 of a worker host runs every test while worker 1
 * still starts).  Worker 1 says hello only once DIR/ended exists; the
 * coordinator, its loop over, makes DIR/ended, waits (30 s at most) until it
 * holds a hello, makes DIR/held and leaves that hello unanswered as it
 * closes.  Worker 1's session ignores nng's word that its connection closed,
 * so that its main thread, waiting for the answer, is the one that sees it
 * (on a loaded machine it may be first, and end the worker first).
 */
#ifndef CRMPI_TESTFAULT_H_
#define CRMPI_TESTFAULT_H_

struct crmpi_transport;

/* Whether worker slot's session ignores its connection's close (read once, at its start). */
int crmpi_testfault_quiet_close(unsigned slot);

/* A worker before its hello: worker slot 1 waits for DIR/ended (30 s at most). */
void crmpi_testfault_before_hello(unsigned slot);

/*
 * The coordinator after its loop, before it closes its socket t (requests
 * polled on recv_fd): the other half of late-hello.
 */
void crmpi_testfault_after_loop(struct crmpi_transport *t, int recv_fd);

#endif /* !CRMPI_TESTFAULT_H_ */
