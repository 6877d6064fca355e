/*
 * Unit tests for plugin/cpus.c: what --mproc=auto counts.  The parsers are
 * fed the texts of real machines; the quota walk runs over a directory tree
 * made here, shaped like /sys/fs/cgroup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cpus.h"

Test(cpus, quota_v2)
{
    cr_assert_eq(crmpi_cpus_quota_v2("max 100000\n"), 0);
    cr_assert_eq(crmpi_cpus_quota_v2("max\n"), 0);
    cr_assert_eq(crmpi_cpus_quota_v2("50000 100000\n"), 1, "half a CPU rounds up to one");
    cr_assert_eq(crmpi_cpus_quota_v2("200000 100000\n"), 2);
    cr_assert_eq(crmpi_cpus_quota_v2("250000 100000"), 3);
    cr_assert_eq(crmpi_cpus_quota_v2("150000\n"), 2, "the period defaults to 100000");
    cr_assert_eq(crmpi_cpus_quota_v2("maximum 1"), -EINVAL);
    cr_assert_eq(crmpi_cpus_quota_v2("12 abc"), -EINVAL);
    cr_assert_eq(crmpi_cpus_quota_v2("0 100000"), -EINVAL);
    cr_assert_eq(crmpi_cpus_quota_v2(""), -EINVAL);
}

Test(cpus, quota_v1)
{
    cr_assert_eq(crmpi_cpus_quota_v1("-1\n", "100000\n"), 0);
    cr_assert_eq(crmpi_cpus_quota_v1("50000\n", "100000\n"), 1);
    cr_assert_eq(crmpi_cpus_quota_v1("300000\n", "100000\n"), 3);
    cr_assert_eq(crmpi_cpus_quota_v1("x\n", "100000\n"), -EINVAL);
    cr_assert_eq(crmpi_cpus_quota_v1("1000\n", "0\n"), -EINVAL);
}

/* A Debian 12 host with the hybrid layout: the cpu controller on v1. */
static const char hybrid_cgroup[] =
    "12:cpu,cpuacct:/user.slice\n"
    "4:memory:/user.slice/session-1.scope\n"
    "0::/user.slice/session-1.scope\n";
static const char hybrid_mountinfo[] =
    "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "33 24 0:29 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "38 24 0:34 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:16 - cgroup cgroup rw,cpu,cpuacct\n"
    "39 24 0:35 / /sys/fs/cgroup/cpuset rw,nosuid shared:17 - cgroup cgroup rw,cpuset\n";

Test(cpus, dir_v1_hybrid)
{
    char dir[PATH_MAX], mount[PATH_MAX];
    int v2 = -1;
    cr_assert_eq(crmpi_cpus_cgroup_dir(hybrid_cgroup, hybrid_mountinfo, dir, mount, sizeof(dir), &v2), 0);
    cr_assert_eq(v2, 0, "the cpuset-only mount must not be taken for cpu");
    cr_assert_str_eq(mount, "/sys/fs/cgroup/cpu,cpuacct");
    cr_assert_str_eq(dir, "/sys/fs/cgroup/cpu,cpuacct/user.slice");
}

/* Pure v2, as in systemd 247+ and most CI runners. */
Test(cpus, dir_v2)
{
    char dir[PATH_MAX], mount[PATH_MAX];
    int v2 = -1;
    cr_assert_eq(crmpi_cpus_cgroup_dir("0::/system.slice/ci.service\n",
            "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
            dir, mount, sizeof(dir), &v2), 0);
    cr_assert_eq(v2, 1);
    cr_assert_str_eq(dir, "/sys/fs/cgroup/system.slice/ci.service");
}

/* A container that sees its own cgroup as the mount's root. */
Test(cpus, dir_v1_container_root)
{
    char dir[PATH_MAX], mount[PATH_MAX];
    int v2 = -1;
    cr_assert_eq(crmpi_cpus_cgroup_dir("5:cpu,cpuacct:/docker/abc\n",
            "700 690 0:31 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpuacct,cpu\n",
            dir, mount, sizeof(dir), &v2), 0);
    cr_assert_eq(v2, 0);
    cr_assert_str_eq(dir, "/sys/fs/cgroup/cpu,cpuacct");
}

Test(cpus, dir_none)
{
    char dir[PATH_MAX], mount[PATH_MAX];
    int v2;
    cr_assert_eq(crmpi_cpus_cgroup_dir("0::/\n", "24 30 0:22 / /sys rw - sysfs sysfs rw\n",
            dir, mount, sizeof(dir), &v2), -ENOENT);
    cr_assert_eq(crmpi_cpus_cgroup_dir("", "", dir, mount, sizeof(dir), &v2), -ENOENT);
}

static void cpus_write(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void cpus_rmtree(const char *root)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

/* The tightest quota on the way up to the mount wins. */
Test(cpus, quota_walk_v2)
{
    char root[] = "/tmp/crmp-cpus-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char mid[PATH_MAX], leaf[PATH_MAX];
    snprintf(mid, sizeof(mid), "%s/ci.slice", root);
    snprintf(leaf, sizeof(leaf), "%s/ci.slice/job.scope", root);
    cr_assert_eq(mkdir(mid, 0700), 0);
    cr_assert_eq(mkdir(leaf, 0700), 0);
    cpus_write(root, "cpu.max", "max 100000\n");
    cpus_write(mid, "cpu.max", "50000 100000\n");
    cpus_write(leaf, "cpu.max", "400000 100000\n");
    long q = crmpi_cpus_quota_in(leaf, root, 1);
    cpus_rmtree(root);
    cr_assert_eq(q, 1, "a 0.5-CPU parent caps a 4-CPU child: got %ld", q);
}

Test(cpus, quota_walk_v1_unlimited)
{
    char root[] = "/tmp/crmp-cpus-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    cpus_write(root, "cpu.cfs_quota_us", "-1\n");
    cpus_write(root, "cpu.cfs_period_us", "100000\n");
    long q = crmpi_cpus_quota_in(root, root, 0);
    cpus_rmtree(root);
    cr_assert_eq(q, 0);
}

/* Under an affinity mask of one CPU, auto means one. */
Test(cpus, usable_follows_affinity)
{
    cpu_set_t saved, one;
    cr_assert_eq(sched_getaffinity(0, sizeof(saved), &saved), 0);
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &saved))
            first = i;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
    long n = crmpi_cpus_usable();
    cr_assert_eq(sched_setaffinity(0, sizeof(saved), &saved), 0);
    cr_assert_eq(n, 1, "one CPU allowed, %ld counted", n);
    cr_assert_geq(crmpi_cpus_usable(), 1);
}
