#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "diag.h"
#include "nng_api.h"

struct crmpi_nng_api crmpi_nng;

static void *nng_handle;

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
