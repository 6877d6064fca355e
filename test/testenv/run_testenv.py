#!/usr/bin/env python3
"""Tests of the test environment (README "Test environment"), one case per invocation:

    run_testenv.py --plugin LIB --probe EXE CASE

A case whose name starts with fork- runs its plugin runs with
--mproc-isolation=fork.  Every run has its own directory and TMPDIR; after a
plugin run no process of the run may remain.  The remote- cases need root and
network namespaces (as test/netns does); elsewhere they are skipped (77).
"""

import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'netns'))
import compare  # noqa: E402

CASES, case = compare.case_registry()
LINE_RE = re.compile(r'^(\S+) slot=(\d+) workers=(\d+) worker=(\d+) tmp=(\S+)$')
N_TESTS = 20


class Ctx:
    def __init__(self, opts, fork):
        self.plugin = os.path.abspath(opts['plugin'])
        self.probe = os.path.abspath(opts['probe'])
        self.fork = fork
        self.root = tempfile.mkdtemp(prefix='crmp-testenv-', dir='/tmp')
        self.n = 0
        self.problems = []

    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return cond

    def env(self, preload, extra=()):
        """A fresh run directory and its environment: (env, wd, log path)."""
        self.n += 1
        wd = os.path.join(self.root, 'r%d' % self.n)
        for d in ('t', 'probe'):
            os.makedirs(os.path.join(wd, d))
        e = compare.base_env(os.path.join(wd, 't'), 'testenv-%d-%d' % (os.getpid(), self.n))
        e['CRITERION_MPROC_DURATIONS'] = 'none'
        e['ENVPROBE_LOG'] = os.path.join(wd, 'log')
        e['ENVPROBE_DIR'] = os.path.join(wd, 'probe')
        if preload:
            e['LD_PRELOAD'] = self.plugin
        for kv in extra:
            k, _, v = kv.partition('=')
            e[k] = v
        return e, wd

    def mode_args(self):
        return ['--mproc-isolation=fork'] if self.fork else []

    def finish(self):
        """The problems, printed; the run directories removed when there are none. The exit status."""
        if self.problems:
            print('FAILED:')
            for m in self.problems:
                print('- ' + m)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return 1 if self.problems else 0

    def run(self, args, preload=True, extra=(), status=0, leftovers=True):
        """Runs the probe; with leftovers, checks (and clears) what the run left."""
        e, wd = self.env(preload, extra)
        if preload:
            args = list(args) + self.mode_args()
        r = compare.Run('run %d' % self.n, [self.probe] + list(args), e, wd)
        self.problems.extend(compare.execute(r, check_leftovers=preload and leftovers,
                                            serial=not preload))
        r.records = read_records(e['ENVPROBE_LOG'])
        if r.status != status:
            self.problems.append('%s exited %s: %s\n%s' % (r.label, r.status, r.describe(),
                                                          r.stderr))
        return r


def read_records(path):
    """{test: [(slot, workers, worker pid, tmp)]} from a probe log."""
    recs = {}
    if not os.path.exists(path):
        return recs
    for line in compare.read(path).splitlines():
        m = LINE_RE.match(line)
        if m:
            g = m.groups()
            recs.setdefault(g[0], []).append(tuple(int(x) for x in g[1:4]) + (g[4],))
    return recs


def each_record(recs):
    for test, seen in recs.items():
        for s in seen:
            yield test, s


# ---- where am I -----------------------------------------------------------------------

def check_slots(ctx, r, n_workers, n_tests):
    ctx.check(len(r.records) == n_tests, 'expected %d tests recorded, got %d: %s'
              % (n_tests, len(r.records), sorted(r.records)))
    by_worker = {}
    for test, (slot, workers, wpid, _) in each_record(r.records):
        ctx.check(workers == n_workers, '%s saw CRITERION_MPROC_WORKERS=%d, not %d'
                  % (test, workers, n_workers))
        ctx.check(0 <= slot < n_workers, '%s saw slot %d of %d' % (test, slot, n_workers))
        by_worker.setdefault(wpid, set()).add(slot)
    for wpid, slots in by_worker.items():
        ctx.check(len(slots) == 1, 'worker %d ran tests under slots %s' % (wpid, sorted(slots)))
    return by_worker


def without_plugin(ctx):
    r = ctx.run(['-j1'], preload=False)
    check_slots(ctx, r, 1, N_TESTS)


def slots(ctx):
    without_plugin(ctx)
    r = ctx.run(['--mproc=3'])
    by_worker = check_slots(ctx, r, 3, N_TESTS)
    ctx.check(len(by_worker) == len({min(s) for s in by_worker.values()}),
              'two live workers shared a slot: %s' % by_worker)


def slots_restart(ctx):
    """A replacement worker takes the slot of the worker it replaces."""
    r = ctx.run(['--mproc=2', '--mproc-verbose'], extra=['ENVPROBE_KILL_ONCE=1'])
    check_slots(ctx, r, 2, N_TESTS)
    ctx.check('started replacement worker' in r.stderr, 'no worker was replaced: %s' % r.stderr)


for name, fn in (('slots', slots), ('slots-restart', slots_restart)):
    case(name)(fn)
    case('fork-' + name)(fn)


# ---- a private directory per test ------------------------------------------------------

def check_tmpdirs(ctx, recs, kept_tests):
    """Every test had a directory of its own; those of kept_tests are still there."""
    dirs = [(test, s[3]) for test, s in each_record(recs)]
    ctx.check(all(d != '-' for _, d in dirs), 'a test had no directory: %s' % dirs)
    ctx.check(len({d for _, d in dirs}) == len(dirs), 'two tests shared a directory: %s' % dirs)
    for test, d in dirs:
        if test not in kept_tests:
            ctx.check(not os.path.exists(d), '%s: %s was not removed' % (test, d))


def kept_lines(ctx, r):
    """{test: [kept paths]} from the [KEPT] lines; each path holds what the test left."""
    kept = {}
    for line in r.stderr.splitlines():
        m = re.match(r'^\[KEPT\] (\S+): (/.*)$', line)
        if m:
            kept.setdefault(m.group(1), []).append(m.group(2))
            ctx.check(os.path.isfile(os.path.join(m.group(2), 'evidence')),
                      '%s: kept %s without what it left' % (m.group(1), m.group(2)))
    return kept


def tmpdir(ctx):
    r = ctx.run(['-j1'], preload=False)
    check_tmpdirs(ctx, r.records, set())
    left = os.listdir(r.env['TMPDIR'])
    ctx.check(not left, 'without the plugin, left in TMPDIR: %s' % left)
    r = ctx.run(['--mproc=3'])
    ctx.check(len(r.records) == N_TESTS, 'expected %d tests, got %s' % (N_TESTS, sorted(r.records)))
    check_tmpdirs(ctx, r.records, set())
    ctx.check('[KEPT]' not in r.stderr, 'a passing test kept its directory:\n' + r.stderr)


def keep_tmp(ctx):
    fail = ['ENVPROBE_FAIL=1']
    r = ctx.run(['--mproc=2'], extra=fail, status=1, leftovers=False)
    kept = kept_lines(ctx, r)
    ctx.check(list(kept) == ['tmp::fails_when_asked'] and len(kept['tmp::fails_when_asked']) == 1,
              'kept by default: %s' % kept)
    check_tmpdirs(ctx, r.records, {'tmp::fails_when_asked'})
    ctx.problems.extend(compare.leftover_problems(r.label, r.env, r.stderr))

    # Each try has its own directory, and each failed try keeps it.
    r = ctx.run(['--mproc=2', '--mproc-retries=1'], extra=fail, status=1, leftovers=False)
    kept = kept_lines(ctx, r)
    paths = kept.get('tmp::fails_when_asked', [])
    ctx.check(list(kept) == ['tmp::fails_when_asked'] and len(set(paths)) == 2,
              'two failed tries kept %s' % kept)
    ctx.problems.extend(compare.leftover_problems(r.label, r.env, r.stderr))

    r = ctx.run(['--mproc=2', '--mproc-keep-tmp=never'], extra=fail, status=1)
    ctx.check(not kept_lines(ctx, r), '--mproc-keep-tmp=never kept something:\n' + r.stderr)
    check_tmpdirs(ctx, r.records, set())

    r = ctx.run(['--mproc=2', '--mproc-keep-tmp=always', '--filter=tmp/*'], leftovers=False)
    kept = kept_lines(ctx, r)
    ctx.check(sorted(kept) == ['tmp::fails_when_asked', 'tmp::fresh'],
              '--mproc-keep-tmp=always kept %s' % sorted(kept))
    ctx.problems.extend(compare.leftover_problems(r.label, r.env, r.stderr))


def leak_lines(r):
    return [line for line in r.stderr.splitlines() if line.startswith('[LEAK]')]


def leaks(ctx):
    leak = ['ENVPROBE_LEAK=1']
    r = ctx.run(['--mproc=2'], extra=leak)
    lines = leak_lines(r)
    ctx.check(len(lines) == 1 and lines[0].startswith('[LEAK] leak::leaves_processes: left 2 '
                                                       'processes running:')
              and 'sleep 1000' in lines[0] and 'sleep 1001' in lines[0],
              'expected one [LEAK] line naming both sleeps: %s\n%s' % (lines, r.stderr))
    recap = [line for line in r.stderr.splitlines() if line.startswith('criterion-mproc:   LEAK ')]
    ctx.check(len(recap) == 1 and 'leak::leaves_processes  ' in recap[0]
              and 'sleep 1000' in recap[0] and 'sleep 1001' in recap[0],
              'expected the leak in the recap, naming both sleeps: %s\n%s' % (recap, r.stderr))
    r = ctx.run(['--mproc=2', '--mproc-leaks=ignore'], extra=leak)
    ctx.check(not leak_lines(r) and 'LEAK' not in r.stderr,
              '--mproc-leaks=ignore said %s' % r.stderr)
    r = ctx.run(['--mproc=2', '--mproc-leaks=fail'], extra=leak, status=1)
    ctx.check(len(leak_lines(r)) == 1, '--mproc-leaks=fail: %s' % leak_lines(r))
    ctx.check(re.search(r'^\[FAIL\] leak::leaves_processes', r.stderr, re.M) is not None,
              '--mproc-leaks=fail: the test did not fail:\n' + r.stderr)
    ctx.check('Failing: 1 ' in r.stderr, '--mproc-leaks=fail: not one failing test:\n' + r.stderr)
    r = ctx.run(['--mproc=2'])
    ctx.check(not leak_lines(r), 'a run without leaks said %s' % leak_lines(r))


for name, fn in (('tmpdir', tmpdir), ('keep-tmp', keep_tmp), ('leaks', leaks)):
    case(name)(fn)
    case('fork-' + name)(fn)


# ---- remote workers ------------------------------------------------------------------

def remote_slots(ctx):
    """Slots are unique in the run across hosts: 0..N-1 on the coordinator's machine, from N
    up on the worker hosts, whose CRITERION_MPROC_WORKERS is their own --mproc."""
    import run_netns
    nctx = run_netns.Ctx({'plugin': ctx.plugin, 'probe': ctx.probe})
    logs = []

    def start(net, where, args):
        e, wd = ctx.env(True)
        logs.append(e['ENVPROBE_LOG'])
        extra = ['%s=%s' % (k, e[k]) for k in ('ENVPROBE_LOG', 'ENVPROBE_DIR')]
        extra.append('CRITERION_MPROC_TOKEN=' + run_netns.TOKEN)
        return nctx.start(net, where, 'probe', args + ctx.mode_args(), env=extra)

    with run_netns.hosts(nctx) as net:
        url = 'tcp://%s:%d' % (net.addr('w1'), run_netns.PORT)
        c = start(net, 'c', ['--mproc=1', '--mproc-listen=tcp://0.0.0.0:%d' % run_netns.PORT,
                             '--mproc-wait-workers=30'])
        h1 = start(net, 'w1', ['--mproc=2', '--mproc-connect=' + url])
        url2 = 'tcp://%s:%d' % (net.addr('w2'), run_netns.PORT)
        h2 = start(net, 'w2', ['--mproc=2', '--mproc-connect=' + url2])
        for p in (c, h1, h2):
            nctx.wait(p)
            ctx.check(p.returncode == 0, '%s exited %s:\n%s' % (p.label, p.returncode, p.err))
    ctx.problems.extend(nctx.problems)
    recs = {}
    for log in logs:
        for test, seen in read_records(log).items():
            recs.setdefault(test, []).extend(seen)
    ctx.check(len(recs) == N_TESTS, 'expected %d tests recorded, got %d' % (N_TESTS, len(recs)))
    check_tmpdirs(ctx, recs, set())
    slot_of = {}
    for test, (slot, workers, wpid, _) in each_record(recs):
        slot_of.setdefault(wpid, set()).add((slot, workers))
    owners = {}
    for wpid, seen in slot_of.items():
        ctx.check(len(seen) == 1, 'worker %d saw %s' % (wpid, sorted(seen)))
        slot, workers = min(seen)
        owners.setdefault(slot, []).append(wpid)
        ctx.check((slot == 0 and workers == 1) or (slot >= 1 and workers == 2),
                  'worker %d: slot %d with CRITERION_MPROC_WORKERS=%d' % (wpid, slot, workers))
    for slot, wpids in owners.items():
        # Worker pids are per host (namespaces share the pid space here, so they differ).
        ctx.check(len(wpids) == 1, 'slot %d held by workers %s at once' % (slot, wpids))
    ctx.check(any(s >= 1 for s in owners), 'no remote worker ran a test: %s' % slot_of)


case('remote-slots')(remote_slots)
case('fork-remote-slots')(remote_slots)


def main(argv):
    opts, rest = compare.driver_args(argv)
    compare.unwind_on_sigterm()
    if not rest:
        print('\n'.join(sorted(CASES)))
        return 0
    ctx = Ctx(opts, rest[0].startswith('fork-'))
    try:
        CASES[rest[0]](ctx)
    finally:
        status = ctx.finish()
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv))
