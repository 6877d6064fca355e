#!/usr/bin/env python3
"""The coordinator's own CPU time per result (issue 10: target <= 20 us).

    bench/coord_cpu.py [-B BUILDDIR] [-n WORKERS] [-r RUNS] [--exec] [--plugin LIB]
                       [--instructions] [--floor-trips N] [--paced-trips N]

Runs bench_empty (2000 empty tests; build it with
`ninja -C build bench/bench_empty bench/bench_one bench/nng_floor`) through the plugin with WORKERS fork-mode
workers (default 8; --exec for exec isolation), RUNS times (default 3), and
reports the median CPU time (user + system, all its threads, nng's included)
of the coordinator process alone, not of its workers: the process is
waited for without being reaped (waitid WNOWAIT), its /proc/PID/stat read,
then reaped.  Also runs bench_one (one empty test) the same way, so that what is per
result can be told from the fixed cost of a run (start-up, report).

bench_one is run from a copy padded with zeros to bench_empty's size: the
coordinator hashes its executable (SHA-256, crmpi_exe_hash) once per run, and
a 19 KB bench_one against a 1.9 MB bench_empty put that difference (26 k
instructions a result under callgrind) into the per-result figure.

Beside it, measured in the same run (once per run, between the others): nng's
own floor, bench/nng_floor, which serves the same number of clients (WORKERS)
REQ/REP round trips of an empty test's Result and Assign sizes over ipc with
nothing of ours, and the same over socketpairs with poll (what the kernel
costs): a cooked REP socket (blocking receive and send, the least nng does),
a raw REP socket polled on NNG_OPT_RECVFD (how the coordinator served
until 2026-12), and a cooked REP socket with a context per client, woken
through an eventfd, as the coordinator serves now (plugin/transport.c).  Twice: busy (each client asks again
at once, --floor-trips round trips: the server never sleeps) and paced as
the run was (each client waits between its round trips what a worker took
per result in the 2000-test run, --paced-trips round trips).  The paced one
is the floor to compare with: a server woken for every message pays nng's
thread hand-offs as context switches every time (in this 2-core PVM guest,
most of the coordinator's CPU), and the 2000-test run wakes it for every
result.  Printed: the medians, and ours / each floor.

--instructions: the instructions the coordinator executes (all its threads),
counted by valgrind's callgrind, instead of its CPU time: a figure the
machine's load does not change.  Its workers run natively (valgrind does not
follow the exec).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf('SC_CLK_TCK')


def thread_switches(pid, seen):
    """Adds each live thread of pid's context switches (voluntary or not) to seen, by tid."""
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/status' % (pid, tid)) as f:
                n = sum(int(line.split()[1]) for line in f if 'ctxt_switches' in line)
        except (OSError, ValueError, IndexError):
            continue
        seen[tid] = max(seen.get(tid, 0), n)


def coordinator_cpu(cmd, env, switches=None):
    """Runs cmd; returns (CPU seconds of the process itself, its stderr).

    switches (a list): gets the context switches of all its threads, sampled
    every 20 ms while it runs (a thread's last 20 ms before it ends are lost)."""
    seen = {}
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while switches is not None and not os.waitid(os.P_PID, p.pid,
                                                      os.WEXITED | os.WNOWAIT | os.WNOHANG):
            thread_switches(p.pid, seen)
            time.sleep(0.02)
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        thread_switches(p.pid, seen)
        with open('/proc/%d/stat' % p.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        # Fields 14 and 15 (utime, stime) are the process's own; 16 and 17 its children's.
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        p.wait()
        err.seek(0)
        text = err.read().decode('utf-8', 'replace')
    if p.returncode != 0:
        sys.exit('%s: exit %s\n%s' % (' '.join(cmd), p.returncode, text[-2000:]))
    if switches is not None:
        switches.append(sum(seen.values()))
    return cpu, text


def coordinator_instructions(cmd, env):
    """Runs cmd under callgrind; returns (instructions of the coordinator, its stderr)."""
    cpu, text = coordinator_cpu(['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null']
                                + cmd, env)
    m = re.search(r'Collected : (\d+)', text)
    if not m:
        sys.exit('%s: no instruction count from callgrind\n%s' % (' '.join(cmd), text[-2000:]))
    return int(m.group(1)), text


def floor_cpu(build, workers, trips, gap_us=0):
    """bench/nng_floor's figures: {name: CPU us per round trip}."""
    out = subprocess.run([os.path.join(build, 'bench', 'nng_floor'), '-n', str(trips),
                          '-c', str(workers), '-g', str(gap_us)], stdout=subprocess.PIPE,
                         check=True, universal_newlines=True).stdout
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.strip()}


def padded_copy(exe, size, into):
    """A copy of exe in the folder into, zeros appended up to size bytes (ELF ignores them)."""
    path = os.path.join(into, os.path.basename(exe) + '_padded')
    shutil.copy2(exe, path)
    if os.path.getsize(path) < size:
        os.truncate(path, size)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-B', dest='build', default='build')
    ap.add_argument('-n', dest='workers', type=int, default=8)
    ap.add_argument('-r', dest='runs', type=int, default=3)
    ap.add_argument('--exec', action='store_true', help='exec isolation instead of fork')
    ap.add_argument('--plugin', help='the plugin to measure (default: BUILDDIR\'s)')
    ap.add_argument('--instructions', action='store_true',
                    help='count instructions under callgrind instead of CPU time')
    ap.add_argument('--floor-trips', type=int, default=10000,
                    help='round trips of each busy nng_floor run (default 10000; 0: no floor)')
    ap.add_argument('--paced-trips', type=int, default=400,
                    help='round trips of each paced nng_floor run (default 400)')
    a = ap.parse_args()
    exe = os.path.join(a.build, 'bench', 'bench_empty')
    exe_one = os.path.join(a.build, 'bench', 'bench_one')
    plugin = a.plugin or os.path.join(a.build, 'plugin', 'libcriterion-mproc.so')
    floor_exe = os.path.join(a.build, 'bench', 'nng_floor')
    with_floor = a.floor_trips > 0 and not a.instructions
    if (not os.path.exists(exe) or not os.path.exists(exe_one)
            or (with_floor and not os.path.exists(floor_exe))):
        sys.exit('missing: ninja -C %s bench/bench_empty bench/bench_one bench/nng_floor'
                 % a.build)
    env = dict(os.environ, LD_PRELOAD=os.path.abspath(plugin), TERM='dumb',
               CRITERION_MPROC_DURATIONS='none')
    args = ['--mproc=%d' % a.workers]
    if not a.exec:
        args.append('--mproc-isolation=fork')
    many, one, floors, paced, n = [], [], [], [], 0
    sw_many, sw_one = [], []
    if not a.instructions:
        measure = lambda cmd, env, sw: coordinator_cpu(cmd, env, sw)
    else:
        measure = lambda cmd, env, sw: coordinator_instructions(cmd, env)
    with tempfile.TemporaryDirectory() as tmp:
        exe_one = padded_copy(exe_one, os.path.getsize(exe), tmp)
        for _ in range(a.runs):
            start = time.monotonic()
            cost, err = measure([exe] + args, env, sw_many)
            wall = time.monotonic() - start
            m = re.search(r'Tested: (\d+)', err)
            n = int(m.group(1)) if m else 0
            many.append(cost)
            if with_floor:
                floors.append(floor_cpu(a.build, a.workers, a.floor_trips))
                # What one worker took per result, start-up included (a little slower).
                gap = min(int(wall * a.workers / max(n, 1) * 1e6), 1000000)
                paced.append((gap, floor_cpu(a.build, a.workers, a.paced_trips, gap)))
            cost, _ = measure([exe_one] + args, env, sw_one)
            one.append(cost)
    t_many, t_one = statistics.median(many), statistics.median(one)
    per = (t_many - t_one) / max(n - 1, 1)
    what = 'instructions' if a.instructions else 'CPU'
    load = os.getloadavg()[0]
    if a.instructions:
        print('coordinator instructions, %d %s workers, median of %d: %d results %d, 1 result %d'
              % (a.workers, 'exec' if a.exec else 'fork', a.runs, n, t_many, t_one))
        print('  per result: %.1f k (all in: %.1f k)' % (per / 1e3, t_many / max(n, 1) / 1e3))
    else:
        print('coordinator %s, %d %s workers, median of %d: %d results %.3f s, 1 result %.3f s'
              % (what, a.workers, 'exec' if a.exec else 'fork', a.runs, n, t_many, t_one))
        print('  per result: %.1f us (all in: %.1f us; target <= 20); load average %.1f'
              % (per * 1e6, t_many / max(n, 1) * 1e6, load))
        print('  context switches per result, all its threads: %.1f'
              % ((statistics.median(sw_many) - statistics.median(sw_one)) / max(n - 1, 1)))
    for name, runs, gap in (('busy', floors, 0),
                            ('paced', [f for _, f in paced],
                             statistics.median(g for g, _ in paced) if paced else 0)):
        if not runs:
            continue
        med = {k: statistics.median(f[k] for f in runs) for k in runs[0]}
        print('  nng\'s floor, %s (%d clients%s), CPU per round trip: REP contexts as ours'
              ' %.1f us, cooked REP blocking %.1f us, raw REP polled %.1f us;'
              ' socketpair and poll %.1f us'
              % (name, a.workers, ', each every %.1f ms' % (gap / 1e3) if gap else '',
                 med['nng-rep-ctx'], med['nng-rep'], med['nng-rep-raw'], med['socketpair']))
        print('    ours / that floor: %.2fx (cooked blocking: %.2fx, raw: %.2fx);'
              ' ours / socketpair: %.1fx'
              % (per * 1e6 / med['nng-rep-ctx'], per * 1e6 / med['nng-rep'],
                 per * 1e6 / med['nng-rep-raw'], per * 1e6 / med['socketpair']))


if __name__ == '__main__':
    main()
