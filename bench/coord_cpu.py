#!/usr/bin/env python3
"""The coordinator's own CPU time per result (issue 10: target <= 20 us).

    bench/coord_cpu.py [-B BUILDDIR] [-n WORKERS] [-r RUNS] [--exec] [--plugin LIB]

Runs bench_empty (2000 empty tests; build it with
`ninja -C build bench/bench_empty bench/bench_one`) through the plugin with WORKERS fork-mode
workers (default 8; --exec for exec isolation), RUNS times (default 3), and
reports the median CPU time (user + system, all its threads, nng's included)
of the coordinator process alone, not of its workers: the process is
waited for without being reaped (waitid WNOWAIT), its /proc/PID/stat read,
then reaped.  Also runs bench_one (one empty test) the same way, so that what is per
result can be told from the fixed cost of a run (start-up, report).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

TICK = os.sysconf('SC_CLK_TCK')


def coordinator_cpu(cmd, env):
    """Runs cmd; returns (CPU seconds of the process itself, its stderr)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        with open('/proc/%d/stat' % p.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        # Fields 14 and 15 (utime, stime) are the process's own; 16 and 17 its children's.
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        p.wait()
        err.seek(0)
        text = err.read().decode('utf-8', 'replace')
    if p.returncode != 0:
        sys.exit('%s: exit %s\n%s' % (' '.join(cmd), p.returncode, text[-2000:]))
    return cpu, text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-B', dest='build', default='build')
    ap.add_argument('-n', dest='workers', type=int, default=8)
    ap.add_argument('-r', dest='runs', type=int, default=3)
    ap.add_argument('--exec', action='store_true', help='exec isolation instead of fork')
    ap.add_argument('--plugin', help='the plugin to measure (default: BUILDDIR\'s)')
    a = ap.parse_args()
    exe = os.path.join(a.build, 'bench', 'bench_empty')
    exe_one = os.path.join(a.build, 'bench', 'bench_one')
    plugin = a.plugin or os.path.join(a.build, 'plugin', 'libcriterion-mproc.so')
    if not os.path.exists(exe) or not os.path.exists(exe_one):
        sys.exit('missing: ninja -C %s bench/bench_empty bench/bench_one' % a.build)
    env = dict(os.environ, LD_PRELOAD=os.path.abspath(plugin), TERM='dumb',
               CRITERION_MPROC_DURATIONS='none')
    args = ['--mproc=%d' % a.workers]
    if not a.exec:
        args.append('--mproc-isolation=fork')
    many, one, n = [], [], 0
    for _ in range(a.runs):
        cpu, err = coordinator_cpu([exe] + args, env)
        m = re.search(r'Tested: (\d+)', err)
        n = int(m.group(1)) if m else 0
        many.append(cpu)
        cpu, _ = coordinator_cpu([exe_one] + args, env)
        one.append(cpu)
    t_many, t_one = statistics.median(many), statistics.median(one)
    per = (t_many - t_one) / max(n - 1, 1) * 1e6
    print('coordinator CPU, %d %s workers, median of %d: %d results %.3f s, 1 result %.3f s'
          % (a.workers, 'exec' if a.exec else 'fork', a.runs, n, t_many, t_one))
    print('  per result: %.1f us (all in: %.1f us; target <= 20)'
          % (per, t_many / max(n, 1) * 1e6))


if __name__ == '__main__':
    main()
