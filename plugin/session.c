#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crit.h"
#include "diag.h"
#include "session.h"
#include "testfault.h"
#include "transport.h"
#include "worker.h"

#define SESSION_BEAT_MS 1000

static void session_on_pipe_gone(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) p;
    (void) ev;
    struct crmpi_session *s = arg;
    if (atomic_load(&s->closing) || !s->on_lost || s->quiet_close)
        return;
    /* Closing the socket from here would deadlock against nng's own teardown. */
    s->on_lost(atomic_load(&s->answered));
}

static void session_on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void) p;
    (void) ev;
    struct crmpi_session *s = arg;
    sem_post(&s->connected);
}

/* "tls+tcp://host:port" -> "host", for the certificate's name check. */
static int session_url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://");
    if (!p)
        return -EINVAL;
    p += 3;
    const char *end;
    if (*p == '[') {
        ++p;
        end = strchr(p, ']');
    } else {
        end = strrchr(p, ':');
    }
    if (!end || (size_t) (end - p) >= len)
        return -EINVAL;
    memcpy(host, p, (size_t) (end - p));
    host[end - p] = '\0';
    return 0;
}

/* Starts dialling url.  Returns 0 or an nng error code (the boundary converts it). */
static int session_dial(struct crmpi_session *s, const char *url)
{
    if (strncmp(url, "tls+tcp://", 10))
        return crmpi_nng.nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK);

    const char *ca = getenv(CRMPI_ENV_TLS_CA);
    char host[256];
    if (!ca) {
        crmpi_error("worker %u: %s needs --mproc-tls-ca (the CA of the coordinator's "
                "certificate)", s->slot, url);
        return NNG_EINVAL;
    }
    if (session_url_host(url, host, sizeof(host)))
        return NNG_EADDRINVAL;
    nng_dialer d;
    int rc = crmpi_nng.nng_tls_config_alloc(&s->tls, NNG_TLS_MODE_CLIENT);
    if (!rc)
        rc = crmpi_nng.nng_tls_config_auth_mode(s->tls, NNG_TLS_AUTH_MODE_REQUIRED);
    if (!rc)
        rc = crmpi_nng.nng_tls_config_ca_file(s->tls, ca);
    if (!rc)
        rc = crmpi_nng.nng_tls_config_server_name(s->tls, host);
    if (!rc)
        rc = crmpi_nng.nng_dialer_create(&d, s->sock, url);
    if (!rc)
        rc = crmpi_nng.nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, s->tls);
    if (!rc)
        rc = crmpi_nng.nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    return rc;
}

int crmpi_session_open(struct crmpi_session *s, unsigned slot, const char *url,
        void (*on_lost)(int answered))
{
    s->slot = slot;
    s->on_lost = on_lost;
    s->quiet_close = crmpi_testfault_quiet_close(slot);
    /* Read (and scrubbed from the environment) when the worker started; said then. */
    if (crmpi_token_take_inherited(&s->token))
        return -EINVAL;
    int rc = crmpi_nng_load();
    if (rc)
        return rc;
    const char *t = getenv(CRMPI_ENV_CONNECT_TIMEOUT);
    unsigned timeout = t ? (unsigned) strtoul(t, NULL, 10) : 30;

    if (sem_init(&s->connected, 0, 0))
        return -errno;
    s->sem_ok = 1;
    rc = crmpi_nng.nng_req0_open(&s->sock);
    if (rc)
        goto err;
    s->open = 1;
    /* A slow test must never be handed out twice: no resend. */
    rc = crmpi_nng.nng_socket_set_ms(s->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (!rc)
        rc = crmpi_nng.nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, CRMPI_WIRE_MAX_MSG);
    /* Retry a coordinator that is not up yet often, but without a storm. */
    if (!rc)
        rc = crmpi_nng.nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 50);
    if (!rc)
        rc = crmpi_nng.nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 500);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, session_on_pipe_added, s);
    if (!rc)
        rc = crmpi_nng.nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, session_on_pipe_gone, s);
    if (!rc)
        rc = session_dial(s, url);
    if (rc)
        goto err;
    /* The coordinator may not be up yet: nng redials until it is.  The
     * deadline is on the monotonic clock: a wall-clock step (NTP, a person)
     * must neither end the wait at once nor make it last for hours. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout;
    while (sem_clockwait(&s->connected, CLOCK_MONOTONIC, &deadline)) {
        if (errno == EINTR)
            continue;
        crmpi_error("worker %u: cannot reach the coordinator at %s within %u s", slot, url,
                timeout);
        return -ETIMEDOUT;
    }
    return 0;

err:
    crmpi_error("worker %u: cannot connect to %s: %s", slot, url, crmpi_nng_strerror(rc));
    return -ECONNREFUSED;
}

int crmpi_session_send(struct crmpi_session *s, const Crmp__Envelope *env)
{
    nng_msg *msg;
    int rc = crmpi_transport_pack(env, &msg);
    if (rc) {
        crmpi_error("worker %u: cannot encode a %s: %s", s->slot,
                crmpi_wire_body_name(env->body_case), strerror(-rc));
        return rc;
    }
    rc = crmpi_nng.nng_sendmsg(s->sock, msg, 0);
    if (rc) {
        crmpi_nng.nng_msg_free(msg);
        crmpi_error("worker %u: lost the coordinator: %s", s->slot, crmpi_nng_strerror(rc));
        return -ECONNRESET;
    }
    return 0;
}

int crmpi_session_receive(struct crmpi_session *s, Crmp__Envelope **reply)
{
    nng_msg *msg;
    int rc = crmpi_nng.nng_recvmsg(s->sock, &msg, 0);
    /*
     * The connection closed under our request (no resend: NNG_ECONNRESET).
     * nng tells on_lost too, from its own thread, but this one may see it
     * first and must decide alike: a worker the coordinator never took in
     * (its run ended before it read our hello) lost nothing, and failing
     * here made its worker host fail a finished run.
     */
    if (rc == NNG_ECONNRESET && s->on_lost && !atomic_load(&s->closing))
        s->on_lost(atomic_load(&s->answered));
    if (rc) {
        crmpi_error("worker %u: lost the coordinator: %s", s->slot, crmpi_nng_strerror(rc));
        return -ECONNRESET;
    }
    atomic_store(&s->answered, 1);
    rc = crmpi_transport_unpack(msg, reply);
    crmpi_nng.nng_msg_free(msg);
    if (rc)
        crmpi_error("worker %u: bad message from the coordinator: %s", s->slot, strerror(-rc));
    return rc;
}

int crmpi_session_exchange(struct crmpi_session *s, const Crmp__Envelope *env,
        Crmp__Envelope **reply)
{
    int rc = crmpi_session_send(s, env);
    return rc ? rc : crmpi_session_receive(s, reply);
}

int crmpi_session_hello(struct crmpi_session *s, const struct crmpi_units *list,
        int with_units, Crmp__Envelope **reply)
{
    int rc;
    Crmp__Unit *units = calloc(list->n ? list->n : 1, sizeof(*units));
    Crmp__Unit **uptrs = calloc(list->n ? list->n : 1, sizeof(*uptrs));
    uint8_t fp_bytes[32];
    struct crmpi_fingerprint fp;

    if (!units || !uptrs) {
        rc = -ENOMEM;
        goto out;
    }
    rc = crmpi_fingerprint_begin(&fp);
    if (rc)
        goto out;
    for (size_t i = 0; i < list->n && !rc; ++i) {
        const struct crmpi_unit *u = &list->v[i];
        crmp__unit__init(&units[i]);
        units[i].suite = (char *) u->suite->suite.name;
        units[i].name = (char *) u->test->name;
        units[i].param = u->param;
        /* After --filter: the coordinator reports these itself, never hands them out. */
        units[i].has_skipped = units[i].skipped =
            crmpi_crit_disabled(&u->suite->suite, u->test) != 0;
        uptrs[i] = &units[i];
        rc = crmpi_fingerprint_add(&fp, units[i].suite, units[i].name, u->param);
    }
    int rc_end = crmpi_fingerprint_end(&fp, fp_bytes);
    if (rc || (rc = rc_end))
        goto out;
    if (!s->have_exe_hash) {
        rc = crmpi_exe_hash(s->exe_hash);
        if (rc)
            goto out;
        s->have_exe_hash = 1;
    }

    Crmp__Hello hello = CRMP__HELLO__INIT;
    hello.pid = (uint32_t) getpid();
    hello.slot = s->slot;
    hello.fingerprint.data = fp_bytes;
    hello.fingerprint.len = sizeof(fp_bytes);
    hello.has_exe_hash = 1;
    hello.exe_hash.data = s->exe_hash;
    hello.exe_hash.len = sizeof(s->exe_hash);
    hello.unit_count = (uint32_t) list->n;
    if (with_units) {
        hello.n_units = list->n;
        hello.units = uptrs;
    }
    if (s->token.len && !crmpi_nonce(s->nonce)) {
        hello.has_nonce = 1;
        hello.nonce.data = s->nonce;
        hello.nonce.len = sizeof(s->nonce);
    }
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HELLO);
    env.hello = &hello;
    rc = crmpi_session_exchange(s, &env, reply);

out:
    free(uptrs);
    free(units);
    return rc;
}

int crmpi_session_answer(struct crmpi_session *s, const Crmp__Challenge *ch,
        Crmp__Envelope **reply)
{
    if (!s->token.len) {
        crmpi_error("worker %u: the coordinator requires a token: set %s or use "
                "--mproc-token-file", s->slot, CRMPI_ENV_TOKEN);
        return -EACCES;
    }
    if (!crmpi_auth_verify(&s->token, "crmp-coordinator", s->nonce, ch->nonce.data,
            ch->proof.data, ch->proof.len)) {
        crmpi_error("worker %u: the coordinator does not know the token: refusing it", s->slot);
        return -EACCES;
    }
    uint8_t proof[CRMPI_PROOF_LEN];
    int rc = crmpi_auth_proof(&s->token, "crmp-worker", ch->nonce.data, s->nonce, proof);
    if (rc)
        return rc;
    Crmp__Auth auth = CRMP__AUTH__INIT;
    auth.proof.data = proof;
    auth.proof.len = sizeof(proof);
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_AUTH);
    env.auth = &auth;
    return crmpi_session_exchange(s, &env, reply);
}

int crmpi_session_fixture(struct crmpi_session *s, int in)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    hb.has_slot = 1;
    hb.slot = s->slot;
    hb.has_in_fixture = 1;
    hb.in_fixture = in != 0;
    Crmp__Envelope env, *reply;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HEARTBEAT);
    env.heartbeat = &hb;
    int rc = crmpi_session_exchange(s, &env, &reply);
    if (rc)
        return rc;
    /* The coordinator echoes every heartbeat, whatever it thinks of us: anything else is not it. */
    if (reply->body_case != CRMP__ENVELOPE__BODY_HEARTBEAT) {
        crmpi_error("worker %u: a %s in answer to a heartbeat", s->slot,
                crmpi_wire_body_name(reply->body_case));
        rc = -EPROTO;
    }
    crmpi_wire_free(reply);
    return rc;
}

int crmpi_session_fault_garbage(void)
{
    const char *f = getenv("CRMP_TEST_FAULT");
    if (!f || strncmp(f, "garbage:", 8))
        return 0;
    int fd = open(f + 8, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int crmpi_session_send_garbage(struct crmpi_session *s)
{
    static const uint8_t junk[] = { 0xff, 0x13, 0x37, 0x00, 0x42, 0x08, 0x99 };
    nng_msg *msg;
    if (crmpi_nng.nng_msg_alloc(&msg, sizeof(junk)))
        return -ENOMEM;
    memcpy(crmpi_nng.nng_msg_body(msg), junk, sizeof(junk));
    if (crmpi_nng.nng_sendmsg(s->sock, msg, 0)) {
        crmpi_nng.nng_msg_free(msg);
        return -EIO;
    }
    /* The coordinator drops us: wait to be killed like any dropped worker. */
    if (!crmpi_nng.nng_recvmsg(s->sock, &msg, 0))
        crmpi_nng.nng_msg_free(msg);
    return -ECONNRESET;
}

/* ---- heartbeats -------------------------------------------------------------- */

/* One heartbeat and its echo, on the heartbeat context.  Returns 0 or an nng code. */
static int session_beat_once(struct crmpi_session *s, nng_ctx ctx, nng_aio *aio)
{
    Crmp__Heartbeat hb = CRMP__HEARTBEAT__INIT;
    hb.has_slot = 1;
    hb.slot = s->slot;
    Crmp__Envelope env;
    crmpi_wire_init(&env, CRMP__ENVELOPE__BODY_HEARTBEAT);
    env.heartbeat = &hb;
    nng_msg *msg;
    if (crmpi_transport_pack(&env, &msg))
        return NNG_ENOMEM;

    crmpi_nng.nng_aio_set_msg(aio, msg);
    crmpi_nng.nng_ctx_send(ctx, aio);
    crmpi_nng.nng_aio_wait(aio);
    int rc = crmpi_nng.nng_aio_result(aio);
    if (rc) {
        crmpi_nng.nng_msg_free(crmpi_nng.nng_aio_get_msg(aio));
        return rc;
    }
    crmpi_nng.nng_ctx_recv(ctx, aio);
    crmpi_nng.nng_aio_wait(aio);
    rc = crmpi_nng.nng_aio_result(aio);
    if (!rc)
        crmpi_nng.nng_msg_free(crmpi_nng.nng_aio_get_msg(aio));
    return rc;
}

/*
 * Tells the coordinator every second that this worker lives, on a REQ
 * context of its own: heartbeats flow while the main context waits for a
 * reply or the runner runs a test.
 */
static void *session_beat_main(void *arg)
{
    struct crmpi_session *s = arg;
    nng_ctx ctx;
    nng_aio *aio;
    if (crmpi_nng.nng_ctx_open(&ctx, s->sock))
        return NULL;
    if (crmpi_nng.nng_aio_alloc(&aio, NULL, NULL)) {
        crmpi_nng.nng_ctx_close(ctx);
        return NULL;
    }
    crmpi_nng.nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    crmpi_nng.nng_aio_set_timeout(aio, 5 * SESSION_BEAT_MS);

    pthread_mutex_lock(&s->beat.lock);
    s->beat.aio = aio;
    while (!s->beat.stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);   /* the condition's clock */
        until.tv_nsec += (long) SESSION_BEAT_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->beat.wake, &s->beat.lock, &until);
        if (s->beat.stop)
            break;
        pthread_mutex_unlock(&s->beat.lock);
        int rc = session_beat_once(s, ctx, aio);
        pthread_mutex_lock(&s->beat.lock);
        if (rc == NNG_ECLOSED)
            break;
    }
    s->beat.aio = NULL;
    pthread_mutex_unlock(&s->beat.lock);
    /* Before the socket closes: nng 1.5 may panic closing a context after it. */
    crmpi_nng.nng_aio_free(aio);
    crmpi_nng.nng_ctx_close(ctx);
    return NULL;
}

void crmpi_session_beat_start(struct crmpi_session *s)
{
    s->beat.stop = 0;
    if (!s->beat.cond_ok) {
        if (pthread_mutex_init(&s->beat.lock, NULL))
            goto err;
        /* Monotonic: a wall clock stepped back would silence the heartbeat
         * for as long, and the coordinator would kill a healthy worker. */
        pthread_condattr_t attr;
        int failed = pthread_condattr_init(&attr);
        if (!failed) {
            failed = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
                || pthread_cond_init(&s->beat.wake, &attr);
            pthread_condattr_destroy(&attr);
        }
        if (failed) {
            pthread_mutex_destroy(&s->beat.lock);
            goto err;
        }
        s->beat.cond_ok = 1;
    }
    s->beat.started = !pthread_create(&s->beat.thread, NULL, session_beat_main, s);
    if (s->beat.started)
        return;
err:
    crmpi_warn("worker %u: no heartbeat thread: a long test may be taken for a hang", s->slot);
}

void crmpi_session_beat_stop(struct crmpi_session *s)
{
    if (!s->beat.started)
        return;
    pthread_mutex_lock(&s->beat.lock);
    s->beat.stop = 1;
    pthread_cond_signal(&s->beat.wake);
    if (s->beat.aio)
        crmpi_nng.nng_aio_cancel(s->beat.aio);
    pthread_mutex_unlock(&s->beat.lock);
    pthread_join(s->beat.thread, NULL);
    s->beat.started = 0;
}

void crmpi_session_close(struct crmpi_session *s)
{
    crmpi_session_beat_stop(s);
    atomic_store(&s->closing, 1);
    if (s->open) {
        crmpi_nng.nng_close(s->sock);
        s->open = 0;
    }
    if (s->beat.cond_ok) {
        pthread_cond_destroy(&s->beat.wake);
        pthread_mutex_destroy(&s->beat.lock);
        s->beat.cond_ok = 0;
    }
    if (s->tls) {
        crmpi_nng.nng_tls_config_free(s->tls);
        s->tls = NULL;
    }
    if (s->sem_ok) {
        sem_destroy(&s->connected);
        s->sem_ok = 0;
    }
    crmpi_token_free(&s->token);
}
