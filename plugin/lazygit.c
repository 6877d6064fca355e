/* libgit2 started on libcriterion's first diff (see lazygit.h). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#include "crit.h"
#include "elfpatch.h"
#include "lazygit.h"

/*
 * git_diff_buffers(old, old_len, old_path, new, new_len, new_path, options,
 * file_cb, binary_cb, hunk_cb, line_cb, payload): pointers and sizes only,
 * passed on as they came (the plugin does not need libgit2's headers).
 */
typedef int lazygit_diff_fn(const void *, size_t, const char *, const void *, size_t,
        const char *, const void *, void *, void *, void *, void *, void *);

static struct {
    int (*init)(void);
    int (*shutdown)(void);
    lazygit_diff_fn *diff;
} lazygit_real;

static pthread_mutex_t lazygit_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned lazygit_noted;      /* starts libcriterion asked for, not made */
static int lazygit_started;         /* made: libcriterion's calls go straight through */

/* Makes the noted starts.  Called with lazygit_lock held. */
static void lazygit_start_locked(void)
{
    for (; lazygit_noted; --lazygit_noted)
        lazygit_real.init();
    lazygit_started = 1;
}

static int lazygit_init(void)
{
    pthread_mutex_lock(&lazygit_lock);
    int rc = lazygit_started ? lazygit_real.init() : (int) ++lazygit_noted;
    pthread_mutex_unlock(&lazygit_lock);
    return rc;
}

static int lazygit_shutdown(void)
{
    pthread_mutex_lock(&lazygit_lock);
    int rc;
    if (lazygit_started)
        rc = lazygit_real.shutdown();
    else
        rc = (int) (lazygit_noted ? --lazygit_noted : 0);
    pthread_mutex_unlock(&lazygit_lock);
    return rc;
}

static int lazygit_diff(const void *a, size_t alen, const char *apath, const void *b,
        size_t blen, const char *bpath, const void *opts, void *file_cb, void *binary_cb,
        void *hunk_cb, void *line_cb, void *payload)
{
    pthread_mutex_lock(&lazygit_lock);
    /* Without a noted start, libgit2 is as Criterion left it: unstarted, as it would be. */
    if (!lazygit_started && lazygit_noted)
        lazygit_start_locked();
    pthread_mutex_unlock(&lazygit_lock);
    return lazygit_real.diff(a, alen, apath, b, blen, bpath, opts, file_cb, binary_cb,
            hunk_cb, line_cb, payload);
}

int crmpi_lazygit_install(void)
{
    *(void **) &lazygit_real.init = dlsym(RTLD_DEFAULT, CRMPI_CRIT_DIFF_INIT);
    *(void **) &lazygit_real.shutdown = dlsym(RTLD_DEFAULT, CRMPI_CRIT_DIFF_TERM);
    *(void **) &lazygit_real.diff = dlsym(RTLD_DEFAULT, CRMPI_CRIT_DIFF);
    if (!lazygit_real.init || !lazygit_real.shutdown || !lazygit_real.diff)
        return -ENOENT;     /* a Criterion without libgit2 (2.3): nothing to defer */
    const struct crmpi_elf_redirect table[] = {
        { CRMPI_CRIT_DIFF_INIT, (void *) lazygit_init },
        { CRMPI_CRIT_DIFF_TERM, (void *) lazygit_shutdown },
        { CRMPI_CRIT_DIFF, (void *) lazygit_diff },
    };
    int rc = crmpi_elf_redirect(CRMPI_CRIT_LIBRARY, table, sizeof(table) / sizeof(table[0]));
    if (rc) {
        /* Some slots may point here already: they must behave as the real ones. */
        pthread_mutex_lock(&lazygit_lock);
        lazygit_start_locked();
        pthread_mutex_unlock(&lazygit_lock);
    }
    return rc;
}

void crmpi_lazygit_flush(void)
{
    pthread_mutex_lock(&lazygit_lock);
    if (!lazygit_started && lazygit_real.init)
        lazygit_start_locked();
    pthread_mutex_unlock(&lazygit_lock);
}

int crmpi_lazygit_pending(void)
{
    pthread_mutex_lock(&lazygit_lock);
    int pending = !lazygit_started && lazygit_noted;
    pthread_mutex_unlock(&lazygit_lock);
    return pending;
}
