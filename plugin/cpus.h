/*
 * How many CPUs this process may really use, for --mproc=auto.
 *
 * sysconf(_SC_NPROCESSORS_ONLN) counts the machine's CPUs, not the ones a
 * process under `taskset`, a container or a CI runner's cgroup may use:
 * a 0.5-CPU cgroup on a 2-CPU machine would get 2 workers and CPU-bound
 * tests would time out.  The answer is the affinity mask, capped by the
 * cgroup's CPU quota (v2 cpu.max, v1 cfs_quota_us/cfs_period_us) rounded
 * up, along the whole cgroup path.
 */
#ifndef CRMPI_CPUS_H_
#define CRMPI_CPUS_H_

#include <stddef.h>

/* The usable CPU count, always at least 1.  Reads /proc and /sys. */
long crmpi_cpus_usable(void);

/*
 * The CPUs a quota allows, rounded up: cpu.max's "QUOTA PERIOD" (v2) or
 * the two v1 files' numbers.  0 when unlimited ("max", -1), -EINVAL for
 * text that is neither.
 */
long crmpi_cpus_quota_v2(const char *cpu_max);
long crmpi_cpus_quota_v1(const char *quota, const char *period);

/*
 * The directory of this process's cgroup for the CPU controller, from the
 * texts of /proc/self/cgroup and /proc/self/mountinfo: the v2 hierarchy
 * when cgroup2 holds the cpu controller's mount, else the v1 "cpu" one.
 * Writes the path into out (size len), sets *v2, and also the mount point
 * into mount (size len): quotas are looked for from the directory up to
 * it.  0, or -ENOENT when no CPU controller is mounted, -ENAMETOOLONG.
 */
int crmpi_cpus_cgroup_dir(const char *cgroup_txt, const char *mountinfo_txt,
        char *out, char *mount, size_t len, int *v2);

/*
 * The smallest quota, in CPUs, set on dir or any directory above it up to
 * and including mount; 0 when none is set.
 */
long crmpi_cpus_quota_in(const char *dir, const char *mount, int v2);

#endif /* !CRMPI_CPUS_H_ */
