#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rlimits.h"

static uint64_t rlimits_soft(int resource)
{
    struct rlimit r;
    if (getrlimit(resource, &r) || r.rlim_cur == RLIM_INFINITY)
        return CRMPI_RLIM_NONE;
    return (uint64_t) r.rlim_cur;
}

/* Threads the user already runs: RLIMIT_NPROC counts them all. */
static uint64_t rlimits_user_threads(uid_t uid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], line[128];
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        unsigned long real_uid = 0, threads = 0;
        int mine = 0;
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "Uid: %lu", &real_uid) == 1)
                mine = real_uid == (unsigned long) uid;
            else if (sscanf(line, "Threads: %lu", &threads) == 1)
                break;
        }
        fclose(f);
        if (mine)
            n += threads;
    }
    closedir(d);
    return n;
}

void crmpi_rlimits_get(struct crmpi_rlimits *out)
{
    uint64_t as = rlimits_soft(RLIMIT_AS);
    *out = (struct crmpi_rlimits) {
        .as_kib = as == CRMPI_RLIM_NONE ? as : as / 1024,
        .nofile = rlimits_soft(RLIMIT_NOFILE),
        .nproc = rlimits_soft(RLIMIT_NPROC),
        .nproc_exempt = geteuid() == 0,
        .ncpu = sysconf(_SC_NPROCESSORS_ONLN),
    };
    if (out->nproc != CRMPI_RLIM_NONE && !out->nproc_exempt)
        out->nproc_used = rlimits_user_threads(getuid());
}

void crmpi_rlimits_describe(const struct crmpi_rlimits *l, char *buf, size_t len)
{
    const struct { const char *flag; uint64_t v; } all[] = {
        { "-v", l->as_kib }, { "-n", l->nofile }, { "-u", l->nproc },
    };
    size_t used = 0;
    *buf = '\0';
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) {
        if (all[i].v == CRMPI_RLIM_NONE || used >= len)
            continue;
        int n = snprintf(buf + used, len - used, "%sulimit %s %llu", used ? ", " : "",
                all[i].flag, (unsigned long long) all[i].v);
        if (n < 0)
            break;
        used += (size_t) n;
    }
}

uint64_t crmpi_rlimits_nproc_needed(long ncpu, unsigned workers)
{
    /* nng 1.5: 2 task threads a CPU (at most 16), 4 resolvers, 4 more. */
    uint64_t cpus = ncpu > 0 ? (uint64_t) ncpu : 1;
    uint64_t nng = 8 + (2 * cpus < 16 ? 2 * cpus : 16);
    /*
     * Coordinator: nng and its own.  Worker: nng, its own, Criterion's and a
     * sandbox (measured 64 enough, 54 and 60 not, for 2 workers on 2 CPUs).
     */
    return (nng + 2) + (uint64_t) workers * (nng + 14);
}

int crmpi_rlimits_check(const struct crmpi_rlimits *l, unsigned workers, char *msg, size_t len)
{
    *msg = '\0';
    if (workers && l->as_kib < CRMPI_RLIMITS_MIN_AS_KIB) {
        snprintf(msg, len, "ulimit -v %llu is too low for --mproc: each worker needs at least "
                "%u KiB of address space; raise it or run without --mproc",
                (unsigned long long) l->as_kib, CRMPI_RLIMITS_MIN_AS_KIB);
        return -ENOMEM;
    }
    if (workers && l->nofile < CRMPI_RLIMITS_MIN_NOFILE) {
        snprintf(msg, len, "ulimit -n %llu is too low for --mproc: each worker needs %u open "
                "files; raise it or run without --mproc", (unsigned long long) l->nofile,
                CRMPI_RLIMITS_MIN_NOFILE);
        return -EMFILE;
    }
    uint64_t need = crmpi_rlimits_nproc_needed(l->ncpu, workers);
    if (!l->nproc_exempt && l->nproc != CRMPI_RLIM_NONE
            && (l->nproc < l->nproc_used || l->nproc - l->nproc_used < need)) {
        snprintf(msg, len, "ulimit -u %llu is too low for --mproc=%u: the coordinator and its "
                "workers need about %llu processes and threads (%llu are running already); "
                "raise it, use fewer workers or run without --mproc",
                (unsigned long long) l->nproc, workers, (unsigned long long) need,
                (unsigned long long) l->nproc_used);
        return -EAGAIN;
    }
    return 0;
}
