#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/options.h>
/* criterion.h first: 2.3.3's parameterized.h defines Test() its own way. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "crit.h"
#include "diag.h"
#include "forkmode.h"
#include "forkrun.h"
#include "testenv.h"
#include "worker_i.h"
#include "zygote.h"

/* Past this, a test process's channel is not read further (its replay then stops there). */
#define FORKMODE_MAX_CHANNEL (256u * 1024u * 1024u)

static struct {
    int chan;                           /* memfd: the test process's messages, -1 when off */
    int arena_fd;                       /* the runner's arena (not ours), -1 until found */
    struct crmpi_forkrun_hooks hooks;
    int hooks_ok;
} forkmode = { .chan = -1, .arena_fd = -1 };

int crmpi_forkmode_init(void)
{
    if (!crmpi_zygote_ready())
        return 0;
    int rc = 0;
    forkmode.chan = memfd_create("crmp-channel", MFD_CLOEXEC);
    if (forkmode.chan < 0) {
        rc = -errno;
        goto err;
    }
    rc = crmpi_forkrun_hooks_collect(&forkmode.hooks);
    if (rc)
        goto err;
    forkmode.hooks_ok = 1;
    return 0;

err:
    crmpi_warn("fork isolation unavailable (%s): tests run in exec mode", strerror(-rc));
    crmpi_forkmode_fini();
    return rc;
}

void crmpi_forkmode_fini(void)
{
    crmpi_zygote_finish();
    if (forkmode.chan >= 0) {
        close(forkmode.chan);
        forkmode.chan = -1;
    }
    if (forkmode.hooks_ok)
        crmpi_forkrun_hooks_free(&forkmode.hooks);
    forkmode.hooks_ok = 0;
}

const char *crmpi_forkmode_refusal(const struct crmpi_unit *u)
{
    if (forkmode.chan < 0)
        return "";      /* exec mode was asked for */
    if (!crmpi_zygote_ready())
        return "the zygote is gone";
    if (criterion_options.debug)
        return "--debug";
    if (crmpi_crit_disabled(&u->suite->suite, u->test))
        return "";      /* nothing runs: the runner reports it, no process needed */
    return NULL;
}

/*
 * Reads back what the test process wrote on the channel (caller frees
 * *buf): from the start to the shared file offset, which the test's writes
 * advanced (the file is not truncated between tests; what lies past the
 * offset is an earlier test's).  Returns 0 or -errno.
 */
static int forkmode_read_chan(uint8_t **buf, size_t *len)
{
    off_t end = lseek(forkmode.chan, 0, SEEK_CUR);
    if (end < 0)
        return -errno;
    size_t size = (size_t) end < FORKMODE_MAX_CHANNEL ? (size_t) end : FORKMODE_MAX_CHANNEL;
    *buf = malloc(size ? size : 1);
    if (!*buf)
        return -ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(forkmode.chan, *buf + got, size - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    *len = got;
    return 0;
}

/* A unit that could not run: undo, for the runner to take it. */
static int forkmode_abandon(struct criterion_test_params *params)
{
    crmpi_worker_unit_abandon();
    if (params->cleanup)
        params->cleanup(params);
    return -EAGAIN;
}

int crmpi_forkmode_run(long id, const struct crmpi_unit *u)
{
    struct criterion_test_params params = { 0 };
    const void *param = NULL;
    size_t param_size = 0;
    void *arena_addr = NULL;
    size_t arena_len = 0;
    unsigned slot = crmpi_worker_slot();

    if (u->param >= 0) {
        /* As Criterion's runner: the generator runs here, the test gets a copy. */
        params = u->test->data->param_();
        if ((size_t) u->param >= params.length || params.size > CRMPI_ZYGOTE_MAX_PARAM
                || crmpi_crit_arena_find(&forkmode.arena_fd, &arena_addr, &arena_len)) {
            if (params.cleanup)
                params.cleanup(&params);
            crmpi_info("worker %u: %s::%s[%d] runs in exec mode (%s)", slot,
                    u->suite->suite.name, u->test->name, u->param,
                    params.size > CRMPI_ZYGOTE_MAX_PARAM ? "parameter over 64 KiB"
                    : "no such parameter, or no arena to map");
            return -EAGAIN;
        }
        param = (const char *) params.params + (size_t) u->param * params.size;
        param_size = params.size;
    }

    if (lseek(forkmode.chan, 0, SEEK_SET) < 0)
        return forkmode_abandon(&params);
    crmpi_worker_unit_begin(id);
    struct crmpi_zygote_test zt = {
        .test = u->test,
        .suite = &u->suite->suite,
        .out_fd = STDOUT_FILENO,
        .err_fd = STDERR_FILENO,
        .chan_fd = forkmode.chan,
        .param = param,
        .param_size = param_size,
        .arena_fd = u->param >= 0 ? forkmode.arena_fd : -1,
        .arena_addr = arena_addr,
        .arena_len = arena_len,
    };
    pid_t pid;
    int rc = crmpi_zygote_spawn(&zt, &pid);
    if (rc)
        return forkmode_abandon(&params);
    crmpi_worker_unit_sandbox(pid);
    /* While the test runs, off its path: the directories of the one before go. */
    crmpi_testenv_unit_clean();

    double timeout = crmpi_crit_timeout_of(&u->suite->suite, u->test);
    int status = 0, timed_out = 0;
    double elapsed = 0;
    rc = crmpi_zygote_wait(timeout > 0 ? (int) (timeout * 1000.0 + 0.5) : -1, &status);
    if (rc == -ETIMEDOUT) {
        /* What BoxFort does to a sandbox past its time. */
        kill(pid, SIGKILL);
        timed_out = 1;
        elapsed = crmpi_worker_unit_elapsed();
        rc = crmpi_zygote_wait(-1, &status);
    }
    if (rc) {
        /* The zygote died under the test: it never finished; run it again, in exec mode. */
        return forkmode_abandon(&params);
    }
    if (timed_out || WIFSIGNALED(status))
        crmpi_worker_end_group(pid);

    uint8_t *chan = NULL;
    size_t chan_len = 0;
    rc = forkmode_read_chan(&chan, &chan_len);
    if (!rc && chan_len >= sizeof(uint32_t)
            && !memcmp(chan, CRMPI_ZYGOTE_SETUP_FAILED, sizeof(uint32_t))) {
        /* The test process could not become the test's sandbox: nothing of the test ran. */
        crmpi_info("worker %u: %s::%s runs in exec mode (%.*s)", slot, u->suite->suite.name,
                u->test->name, (int) (chan_len - sizeof(uint32_t)), chan + sizeof(uint32_t));
        free(chan);
        return forkmode_abandon(&params);
    }
    struct crmpi_forkrun fr;
    crmpi_forkrun_begin(&fr, u->test, &u->suite->suite, criterion_options.logger,
            forkmode.hooks_ok ? &forkmode.hooks : NULL, pid);
    /* The replay's events take their place in the output from their records; its end, after it all. */
    crmpi_worker_unit_output_at(fr.at);
    if (!rc)
        rc = crmpi_forkrun_feed(&fr, chan, chan_len);
    crmpi_worker_unit_output_at(NULL);
    free(chan);
    if (rc == -ENOMEM)
        crmpi_error("worker %u: out of memory replaying %s::%s", slot,
                u->suite->suite.name, u->test->name);
    if (fr.dropped)
        crmpi_debug("worker %u: %s::%s: %u message(s) out of place dropped", slot,
                u->suite->suite.name, u->test->name, fr.dropped);
    crmpi_forkrun_death(&fr, status, timed_out, elapsed);
    if (params.cleanup)
        params.cleanup(&params);
    crmpi_worker_unit_result(&fr.ss);
    crmpi_forkrun_end(&fr);
    return 0;
}
