#!/usr/bin/env python3
"""bench/startup.py: the start-up cost of a large binary.

Runs bench_startup (20,000 empty tests, bench/meson.build; with --tests 100000,
bench_startup100k) filtered down to one test, interleaved, RUNS times each, and
prints the medians of:

    plain   Criterion alone:      ./bench_startup -j1 --filter=ONE
    mproc   the plugin:           LD_PRELOAD=plugin ./bench_startup --mproc=N --filter=ONE

with the ratio mproc/plain (target <= 1.2), then, from one more run of each,
the peak RSS of the process started (for mproc: the coordinator alone, its
workers are other processes) and the ratio (target <= 1.3), and that
process's own CPU time.  Both are read from /proc while the process runs
(VmHWM, the kernel's high-water mark, and utime + stime): the last values
read before it exits.

Usage: bench/startup.py [-n WORKERS] [-r RUNS] [-B BUILDDIR] [--plugin SO] [--no-build]
                        [--strict] [--tests 20000|100000]
  --plugin SO  measure this build of the plugin (say, an older one) instead of BUILDDIR's
  --tests N    the binary of N tests (100000: a long compile, not built by CI)
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ONE = 'empty000/t00000'
WALL_TARGET = 1.2
RSS_TARGET = 1.3


TARGETS = {20000: 'bench_startup', 100000: 'bench_startup100k'}


def build(builddir, target):
    targets = subprocess.run(['ninja', '-C', builddir, '-t', 'targets', 'all'],
                             capture_output=True, text=True, check=True).stdout
    plugin = next((line.split(':')[0] for line in targets.splitlines()
                   if line.startswith('plugin/libcriterion-mproc.so')), None)
    cmd = ['ninja', '-C', builddir, 'bench/' + target] + ([plugin] if plugin else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit('bench/startup.py: the build failed:\n' + p.stdout + p.stderr)


def command(variant, exe, plugin, workers):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('CRITERION_') and k != 'LD_PRELOAD'}
    if variant == 'plain':
        return [exe, '-j1', '--filter=' + ONE], env
    env['LD_PRELOAD'] = plugin
    return [exe, '--mproc=%d' % workers, '--mproc-durations=none', '--filter=' + ONE], env


def sample(pid):
    """(VmHWM in kB, CPU seconds) of pid itself, or None once it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith('VmHWM:')), None)
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return None
    return (hwm, cpu) if hwm is not None else None


def run(variant, exe, plugin, workers, watch_rss=False):
    """One run: (wall seconds, (peak RSS in kB, CPU seconds) of the process, or None)."""
    argv, env = command(variant, exe, plugin, workers)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    peak = None
    if watch_rss:
        # Sampling, not synchronisation: a measurement, not a test.
        while p.poll() is None:
            v = sample(p.pid)
            peak = v if v is not None else peak
            time.sleep(0.001)
    err = p.communicate()[1]
    wall = time.monotonic() - t0
    if p.returncode != 0 or 'Tested: 1 |' not in err:
        sys.exit('bench/startup.py: %s: exit %s, not one test run:\n%s'
                 % (' '.join(argv), p.returncode, err[-2000:]))
    return wall, peak


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split('Usage: ')[1])
    ap.add_argument('-n', type=int, default=1, dest='workers')
    ap.add_argument('-r', type=int, default=3, dest='runs')
    ap.add_argument('-B', default='build', dest='builddir')
    ap.add_argument('--plugin')
    ap.add_argument('--no-build', action='store_true')
    ap.add_argument('--strict', action='store_true')
    ap.add_argument('--tests', type=int, default=20000, choices=sorted(TARGETS))
    a = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    if not a.no_build:
        build(a.builddir, TARGETS[a.tests])
    exe = os.path.abspath(os.path.join(a.builddir, 'bench', TARGETS[a.tests]))
    plugin = os.path.abspath(a.plugin or os.path.join(a.builddir, 'plugin',
                                                      'libcriterion-mproc.so'))

    walls = {'plain': [], 'mproc': []}
    for _ in range(a.runs):
        for v in walls:
            walls[v].append(run(v, exe, plugin, a.workers)[0])
    watched = {v: run(v, exe, plugin, a.workers, watch_rss=True)[1] or (0, 0.0) for v in walls}
    rss = {v: w[0] for v, w in watched.items()}

    med = {v: statistics.median(t) for v, t in walls.items()}
    r_wall = med['mproc'] / med['plain']
    r_rss = rss['mproc'] / rss['plain'] if rss['plain'] and rss['mproc'] else 0.0
    verdict = lambda r, t: 'ok' if r <= t else 'MISSED'  # noqa: E731
    print('%s tests filtered to one, --mproc=%d, median of %d runs, %d CPUs, load %s'
          % ('{:,}'.format(a.tests), a.workers, a.runs, os.cpu_count(),
             ' '.join('%.1f' % x for x in os.getloadavg())))
    print('%-34s %8s  %s' % ('measurement', 'value', 'runs'))
    print('%-34s %7.2fs  %s' % ('criterion -j1', med['plain'],
                                ' '.join('%.2f' % t for t in walls['plain'])))
    print('%-34s %7.2fs  %s' % ('criterion-mproc --mproc=%d' % a.workers, med['mproc'],
                                ' '.join('%.2f' % t for t in walls['mproc'])))
    print('%-34s %8.2f  <=%.1f %s' % ('ratio', r_wall, WALL_TARGET, verdict(r_wall, WALL_TARGET)))
    print('%-34s %6s kB' % ('peak RSS, criterion -j1', rss['plain']))
    print('%-34s %6s kB' % ('peak RSS, the coordinator', rss['mproc']))
    print('%-34s %8.2f  <=%.1f %s' % ('ratio', r_rss, RSS_TARGET, verdict(r_rss, RSS_TARGET)))
    print('%-34s %7.2fs' % ('CPU, criterion -j1 (main process)', watched['plain'][1]))
    print('%-34s %7.2fs' % ('CPU, the coordinator', watched['mproc'][1]))
    missed = r_wall > WALL_TARGET or r_rss > RSS_TARGET
    return 1 if a.strict and missed else 0


if __name__ == '__main__':
    sys.exit(main())
