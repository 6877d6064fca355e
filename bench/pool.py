#!/usr/bin/env python3
"""Many binaries, one pool: the criterion-mproc runner against meson test and ctest -j N.

    bench/pool.py [--build BUILDDIR] [-n SLOTS] [--binaries B] [--tests T] [--ms MS]
                  [--long K] [--long-ms LMS] [--fork] [--ways W,W...]

Generates B Criterion binaries of T tests that each sleep MS ms; K of them have one
more test of LMS ms instead of a short one (default 20 x 40 x 10 ms, 3 with a 2 s test).
Tests sleep (clock_nanosleep), so the makespan has an exact lower bound:
max(sum of test times / SLOTS, longest test).  Prints, for each way of running the
project with SLOTS at a time, its makespan, the ratio to that bound, the slot time
lost per test ((makespan - bound) x SLOTS / tests: what each test cost beyond its
own duration, start-ups included), the CPU time it used and the load average
before and after it (the machine's other work stretches everything):

  runner            criterion-mproc --mproc=SLOTS BINARY...
  meson test        meson test --num-processes SLOTS, each binary by Criterion alone
  meson test+mproc  the same, each binary with the plugin at --mproc=auto
  ctest -j          ctest -j SLOTS, each binary by Criterion alone
  ctest -j+mproc    the same, each binary with the plugin at --mproc=auto

--fork runs the runner's Criterion binaries in the plugin's fork isolation.
--ways picks some of the ways by name (runner,meson,meson+mproc,ctest,ctest+mproc).
Needs meson, cmake and a C compiler; takes about a minute on 2 cores.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          **kw)


def build_binaries(tmp, a):
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'criterion'], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()
    exes = []
    for i in range(a.binaries):
        long_one = i < a.long
        src = os.path.join(tmp, 'b%02d.c' % i)
        sh([sys.executable, os.path.join(HERE, 'gen_suite.py'), 'skewed', src,
            '--tests', str(a.tests - 1), '--ms', str(a.ms),
            '--long-ms', str(a.long_ms if long_one else a.ms)])
        exe = os.path.join(tmp, 'b%02d' % i)
        sh([os.environ.get('CC', 'cc'), '-O1', src, '-o', exe] + flags)
        exes.append(exe)
    return exes


def timed(argv, env=None, cwd=None):
    """Wall seconds and CPU seconds (user + system, every descendant) of argv."""
    before = os.times()
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    dt = time.monotonic() - t0
    after = os.times()
    if p.returncode:
        sys.exit('%s exited %d' % (' '.join(argv[:3]), p.returncode))
    cpu = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return dt, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('-n', type=int, default=2)
    ap.add_argument('--binaries', type=int, default=20)
    ap.add_argument('--tests', type=int, default=40)
    ap.add_argument('--ms', type=int, default=10)
    ap.add_argument('--long', type=int, default=3)
    ap.add_argument('--long-ms', type=int, default=2000)
    ap.add_argument('--fork', action='store_true')
    ap.add_argument('--ways', default='runner,meson,meson+mproc,ctest,ctest+mproc')
    a = ap.parse_args()
    ways = a.ways.split(',')
    build = os.path.abspath(a.build)
    runner = os.path.join(build, 'plugin', 'criterion-mproc')
    plugin = os.path.join(build, 'plugin', 'libcriterion-mproc.so')
    for tool in ('meson', 'cmake', 'ctest'):
        if not shutil.which(tool):
            sys.exit('bench/pool.py needs ' + tool)

    total_ms = a.binaries * (a.tests - 1) * a.ms + a.long * a.long_ms + (a.binaries - a.long) * a.ms
    bound = max(total_ms / 1000 / a.n, max(a.long_ms, a.ms) / 1000)
    tmp = tempfile.mkdtemp(prefix='crmp-pool-bench-')
    try:
        exes = build_binaries(tmp, a)
        mdir, cdir = os.path.join(tmp, 'meson'), os.path.join(tmp, 'cmake')
        os.mkdir(mdir)
        os.mkdir(cdir)
        with open(os.path.join(mdir, 'meson.build'), 'w') as f:
            f.write("project('pool-bench')\n")
            for e in exes:
                f.write("test('%s', find_program('%s'), timeout: 600)\n" % (os.path.basename(e), e))
        with open(os.path.join(cdir, 'CMakeLists.txt'), 'w') as f:
            f.write('cmake_minimum_required(VERSION 3.13)\nproject(b NONE)\nenable_testing()\n')
            for e in exes:
                f.write('add_test(NAME %s COMMAND %s)\n' % (os.path.basename(e), e))
        sh(['meson', 'setup', os.path.join(mdir, 'build'), mdir])
        sh(['cmake', '-S', cdir, '-B', os.path.join(cdir, 'build')])

        base = dict(os.environ)
        mproc = dict(base, LD_PRELOAD=plugin, CRITERION_MPROC='auto')
        fork = ['--', '--mproc-isolation=fork'] if a.fork else []
        runs = [
            ('runner' + (' (fork)' if a.fork else ''),
             [runner, '--mproc=%d' % a.n, '--plugin=' + plugin] + exes + fork, base),
            ('meson test', ['meson', 'test', '-C', os.path.join(mdir, 'build'),
                            '--num-processes', str(a.n)], base),
            ('meson test+mproc', ['meson', 'test', '-C', os.path.join(mdir, 'build'),
                                  '--num-processes', str(a.n)], mproc),
            ('ctest -j', ['ctest', '--test-dir', os.path.join(cdir, 'build'), '-j', str(a.n)],
             base),
            ('ctest -j+mproc', ['ctest', '--test-dir', os.path.join(cdir, 'build'),
                                '-j', str(a.n)], mproc),
        ]
        keys = ['runner', 'meson', 'meson+mproc', 'ctest', 'ctest+mproc']
        runs = [r for k, r in zip(keys, runs) if k in ways]
        n_tests = a.binaries * a.tests
        print('%d binaries x %d tests of %d ms, %d with one %d ms test; %d slots; '
              'lower bound %.2f s' % (a.binaries, a.tests, a.ms, a.long, a.long_ms, a.n, bound))
        print('%-18s %9s %8s %10s %8s  %s' % ('', 'makespan', '/ bound', 'lost/test', 'CPU',
                                            'load before, after'))
        for name, argv, env in runs:
            load = os.getloadavg()[0]
            dt, cpu = timed(argv, env=env, cwd=tmp)
            lost_ms = (dt - bound) * a.n / n_tests * 1000
            print('%-18s %8.2fs %7.2fx %8.1fms %7.1fs  %.1f, %.1f'
                  % (name, dt, dt / bound, lost_ms, cpu, load, os.getloadavg()[0]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
