#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "diag.h"
#include "rlimits.h"
#include "nng_api.h"

struct crmpi_nng_api crmpi_nng;

static void *nng_handle;

/*
 * nng starts its threads (a dozen or more) on first use, each with glibc's
 * default stack: RLIMIT_STACK, 8 MiB.  Under `ulimit -v` that alone used up
 * the address space, and nng 1.5 then deadlocked inside its init (the
 * coordinator ignored SIGTERM) or left no room for BoxFort's sandboxes.
 * nng's threads need little stack: start them with small stacks, then give
 * the process its default back (fork-mode tests inherit it).
 */
#define NNG_API_THREAD_STACK (256u * 1024u)

static int nng_api_start_threads(const struct crmpi_nng_api *api)
{
    /*
     * Under `ulimit -v`, every thread that mallocs may reserve a 64 MiB
     * arena of its own: one arena keeps the address space for BoxFort's
     * sandboxes (1 run in 4 crashed a worker at ulimit -v 100000).
     */
    struct crmpi_rlimits l;
    crmpi_rlimits_get(&l);
    if (l.as_kib != CRMPI_RLIM_NONE)
        mallopt(M_ARENA_MAX, 1);

    pthread_attr_t saved, small;
    int have_saved = !pthread_getattr_default_np(&saved);
    size_t cur = 0;
    int lowered = have_saved && !pthread_attr_getstacksize(&saved, &cur)
        && (!cur || cur > NNG_API_THREAD_STACK) && !pthread_attr_init(&small);
    if (lowered) {
        lowered = !pthread_attr_setstacksize(&small, NNG_API_THREAD_STACK)
            && !pthread_setattr_default_np(&small);
        pthread_attr_destroy(&small);
    }
    /* Any call that needs nng's core starts it; an aio is the lightest. */
    nng_aio *aio = NULL;
    int rv = api->nng_aio_alloc(&aio, NULL, NULL);
    if (!rv)
        api->nng_aio_free(aio);
    if (lowered)
        pthread_setattr_default_np(&saved);
    if (have_saved)
        pthread_attr_destroy(&saved);
    return rv;
}

int crmpi_nng_load(void)
{
    if (nng_handle)
        return 0;

    void *h = dlopen("libnng.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        crmpi_error("cannot load nng: %s", dlerror());
        return -ENOENT;
    }

    struct crmpi_nng_api api;
#define CRMPI_NNG_LOAD_(ret, name, args)                                     \
    *(void **) &api.name = dlsym(h, #name);                                  \
    if (!api.name) {                                                         \
        crmpi_error("nng lacks %s: %s", #name, dlerror());                   \
        goto err_close;                                                      \
    }
    CRMPI_NNG_FUNCS(CRMPI_NNG_LOAD_)
#undef CRMPI_NNG_LOAD_

    int rv = nng_api_start_threads(&api);
    if (rv) {
        /* Not dlclose()d: some of nng's threads may be running. */
        char limits[160];
        struct crmpi_rlimits l;
        crmpi_rlimits_get(&l);
        crmpi_rlimits_describe(&l, limits, sizeof(limits));
        crmpi_error("cannot start nng's threads: %s%s%s", api.nng_strerror(rv),
                *limits ? " under " : "", limits);
        return -ENOMEM;
    }
    crmpi_nng = api;
    nng_handle = h;
    return 0;

err_close:
    dlclose(h);
    return -ENOSYS;
}

const char *crmpi_nng_strerror(int rv)
{
    if (rv < 0)
        return strerror(-rv);
    if (nng_handle)
        return crmpi_nng.nng_strerror(rv);
    return "nng error";
}
