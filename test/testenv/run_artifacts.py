#!/usr/bin/env python3
"""Tests of test artifacts (README "Test environment", "Artifacts"), one case per invocation:

    run_artifacts.py --plugin LIB --probe EXE CASE

The probe is test/testenv/artprobe.c.  A case whose name starts with fork- runs with
--mproc-isolation=fork.  Every run has its own directory and TMPDIR; after a run no process
of it may remain and TMPDIR must be empty (the kept directories of failed tests aside), and
every artifact directory a test saw must be gone.  The remote case needs root and network
namespaces (as test/netns does); elsewhere it is skipped (77).
"""

import os
import re
import shutil
import stat
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'netns'))
import compare  # noqa: E402
import run_testenv  # noqa: E402

CASES, case = compare.case_registry()


class Ctx(run_testenv.Ctx):
    """run_testenv's, with the artifact probe's log and the sources checked after each run."""

    def env(self, extra=()):
        e, wd = run_testenv.Ctx.env(self, True, extra)
        e['ARTPROBE_LOG'] = os.path.join(wd, 'log')
        return e, wd

    def __init__(self, opts, fork):
        run_testenv.Ctx.__init__(self, opts, fork)
        self.exes = {k: os.path.abspath(v) for k, v in opts.items() if k == 'runner'}

    def run(self, args, extra=(), status=0):
        e, wd = self.env(extra)
        r = compare.Run('run %d' % self.n, [self.probe] + list(args) + self.mode_args(), e, wd)
        self.problems.extend(compare.execute(r))
        if r.status != status:
            self.problems.append('%s exited %s, not %s: %s\n%s' % (r.label, r.status, status,
                                                                  r.describe(), r.stderr))
        self.check_sources_gone(r)
        return r

    def check_sources_gone(self, r):
        """Every test saw a directory of its own, and none is left."""
        seen = read_log(r.env['ARTPROBE_LOG'])
        dirs = [d for ds in seen.values() for d in ds]
        self.check(seen, '%s: no test recorded its artifact directory' % r.label)
        self.check(len(set(dirs)) == len(dirs), '%s: two tests shared a directory: %s'
                   % (r.label, dirs))
        for d in dirs:
            self.check(not os.path.lexists(d), '%s: %s was not removed' % (r.label, d))


def read_log(path):
    seen = {}
    if os.path.exists(path):
        for line in compare.read(path).splitlines():
            test, _, d = line.partition(' ')
            seen.setdefault(test, []).append(d)
    return seen


def art_lines(r):
    """{test: line} of the [ARTIFACTS] lines."""
    out = {}
    for line in r.stderr.splitlines():
        m = re.match(r'^\[ARTIFACTS\] (\S+): (.*)$', line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def tree(top):
    """{relative path: (kind, mode, content or None)} of everything under top, links not followed."""
    found = {}
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(base, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if stat.S_ISDIR(st.st_mode):
                found[rel] = ('dir', stat.S_IMODE(st.st_mode), None)
            elif stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as f:
                    found[rel] = ('file', stat.S_IMODE(st.st_mode), f.read())
            else:
                found[rel] = ('other', stat.S_IMODE(st.st_mode), None)
    return found


def expect_file(ctx, t, rel, mode, content):
    got = t.get(rel)
    if not ctx.check(got is not None and got[0] == 'file', '%s was not collected' % rel):
        return
    ctx.check(got[1] == mode, '%s has mode %o, not %o' % (rel, got[1], mode))
    ctx.check(got[2] == content, '%s holds %r..., not %r...' % (rel, got[2][:40], content[:40]))


def check_collected(ctx, t, crashed=True):
    """What art::leaves_files, art::crashes, art::param and art::hostile left, as collected."""
    expect_file(ctx, t, 'art/leaves_files/log.txt', 0o644, b'the log\n')
    expect_file(ctx, t, 'art/leaves_files/run.sh', 0o755, b'#!/bin/sh\n')
    expect_file(ctx, t, 'art/leaves_files/readonly.txt', 0o444, b'frozen\n')
    expect_file(ctx, t, 'art/leaves_files/sub/deeper/data.bin', 0o640, b'0123456789' * 300000)
    for d, mode in (('sub', 0o750), ('sub/deeper', 0o700), ('empty', 0o700)):
        got = t.get('art/leaves_files/' + d)
        ctx.check(got is not None and got[0] == 'dir' and got[1] == mode,
                  'directory %s: %s (mode %o wanted)' % (d, got and got[:2], mode))
    expect_file(ctx, t, 'art/param[0]/p.txt', 0o644, b'10\n')
    expect_file(ctx, t, 'art/param[1]/p.txt', 0o644, b'20\n')
    if crashed:
        expect_file(ctx, t, 'art/crashes/before-crash.txt', 0o644, b'written before the crash\n')
    expect_file(ctx, t, 'art/hostile/ordinary.txt', 0o644, b'ordinary\n')
    hostile = sorted(k for k in t if k.startswith('art/hostile/'))
    ctx.check(hostile == ['art/hostile/ordinary.txt'],
              'from the hostile test, more than its ordinary file: %s' % hostile)
    ctx.check(not [k for k, v in t.items() if v[0] == 'other'],
              'something not a file or a directory was collected: %s' % t)


# ---- on the coordinator's machine -------------------------------------------------------

def collect(ctx):
    """Files, modes, subdirectories, empty directories, a crashing and a timed-out test's,
    each parameter's own; a symlink to /etc/passwd, one to .., a fifo and a name with a newline
    left out, said in one line."""
    r = ctx.run(['--mproc=2', '--mproc-artifacts=out'],
                extra=['ARTPROBE_CRASH=1', 'ARTPROBE_HOSTILE=1', 'ARTPROBE_TIMEOUT=1'], status=1)
    t = tree(os.path.join(r.cwd, 'out'))
    check_collected(ctx, t)
    expect_file(ctx, t, 'art/times_out/before-timeout.txt', 0o644, b'written before the timeout\n')
    lines = art_lines(r)
    h = lines.get('art::hostile', '')
    for part in ('symlink passwd not followed', 'symlink up not followed', 'fifo pipe skipped',
                 'new?line not collected'):
        ctx.check(part in h, 'the [ARTIFACTS] line of art::hostile lacks "%s": %r' % (part, h))
    ctx.check(sorted(lines) == ['art::hostile'], 'unexpected [ARTIFACTS] lines: %s' % lines)
    ctx.check(re.search(r'^\[FAIL\] art::crashes', r.stderr, re.M) is not None,
              'art::crashes did not crash:\n' + r.stderr)


def cap(ctx):
    """--mproc-artifacts-max: what fits is collected, in name order; what does not is said.
    The directory comes from CRITERION_MPROC_ARTIFACTS_DIR here."""
    r = ctx.run(['--mproc=2', '--mproc-artifacts-max=1M', '--filter=art/big'],
                extra=['ARTPROBE_BIG=600000', 'CRITERION_MPROC_ARTIFACTS_DIR=env-out'])
    t = tree(os.path.join(r.cwd, 'env-out'))
    expect_file(ctx, t, 'art/big/a.bin', 0o644, b'a' * 600000)
    expect_file(ctx, t, 'art/big/z-small.txt', 0o644, b'small\n')
    ctx.check(sorted(t) == ['art', 'art/big', 'art/big/a.bin', 'art/big/z-small.txt'],
              'over the cap, collected %s' % sorted(t))
    line = art_lines(r).get('art::big', '')
    ctx.check(line == 'over the 1.0 MiB cap: 2 files (1.1 MiB) left out',
              'the [ARTIFACTS] line of art::big: %r' % line)
    ctx.check(re.search(r'^\[====\] Synthesis: Tested: 1 \| Passing: 1 \|', r.stderr, re.M)
              is not None, 'the result was not reported as passing:\n' + r.stderr)


def none(ctx):
    """Without --mproc-artifacts nothing is collected, and each test's directory is removed."""
    r = ctx.run(['--mproc=2'], extra=['ARTPROBE_HOSTILE=1'])
    ctx.check(sorted(os.listdir(r.cwd)) == ['log', 'probe', 't'],
              'a run without --mproc-artifacts made %s' % sorted(os.listdir(r.cwd)))
    ctx.check(not art_lines(r), 'a run without --mproc-artifacts said %s' % art_lines(r))


def retries(ctx):
    """Each try's: the last in <test>/, the one before in <test>.try1/."""
    e_flag = os.path.join(ctx.root, 'flaky-flag')
    r = ctx.run(['--mproc=2', '--mproc-artifacts=out', '--mproc-retries=1', '--filter=art/flaky'],
                extra=['ARTPROBE_FLAKY=' + e_flag])
    t = tree(os.path.join(r.cwd, 'out'))
    expect_file(ctx, t, 'art/flaky/second-try.txt', 0o644, b'try\n')
    expect_file(ctx, t, 'art/flaky.try1/first-try.txt', 0o644, b'try\n')
    ctx.check(sorted(t) == ['art', 'art/flaky', 'art/flaky.try1', 'art/flaky.try1/first-try.txt',
                            'art/flaky/second-try.txt'], 'two tries collected %s' % sorted(t))


for name, fn in (('collect', collect), ('cap', cap), ('none', none), ('retries', retries)):
    case(name)(fn)
    case('fork-' + name)(fn)


@case('runner')
def runner(ctx):
    """The runner's --mproc-artifacts: two binaries whose tests have the same names each collect
    in DIR/BINARY/; given after -- (to every binary alike) it is refused."""
    e, wd = ctx.env(extra=['ARTPROBE_HOSTILE=1'])
    del e['LD_PRELOAD']     # the runner preloads the plugin itself
    exes = []
    for name in ('one', 'two'):
        os.makedirs(os.path.join(wd, name))
        exes.append(os.path.join(wd, name, 'artprobe_' + name))
        shutil.copy(ctx.probe, exes[-1])
    base = [ctx.exes['runner'], '--mproc=2', '--plugin=' + ctx.plugin]
    r = compare.Run('runner', base + ['--mproc-artifacts=out'] + exes + ['--', '--filter=art/*'],
                    e, wd)
    ctx.problems.extend(compare.execute(r))
    ctx.check(r.status == 0, 'the runner exited %s:\n%s' % (r.status, r.stderr))
    for name in ('one', 'two'):
        t = tree(os.path.join(wd, 'out', 'artprobe_' + name))
        expect_file(ctx, t, 'art/leaves_files/log.txt', 0o644, b'the log\n')
        expect_file(ctx, t, 'art/param[1]/p.txt', 0o644, b'20\n')
        expect_file(ctx, t, 'art/hostile/ordinary.txt', 0o644, b'ordinary\n')
    ctx.check(sorted(os.listdir(os.path.join(wd, 'out'))) == ['artprobe_one', 'artprobe_two'],
              'the runner collected into %s' % sorted(os.listdir(os.path.join(wd, 'out'))))
    seen = read_log(e['ARTPROBE_LOG'])
    for d in (d for ds in seen.values() for d in ds):
        ctx.check(not os.path.lexists(d), 'runner: %s was not removed' % d)
    bad = compare.Run('after --', base + exes + ['--', '--mproc-artifacts=out'], e, wd)
    ctx.problems.extend(compare.execute(bad))
    ctx.check(bad.status == 2 and 'give it before --' in bad.stderr,
              '--mproc-artifacts after --: exit %s, %r' % (bad.status, bad.stderr))


def without_plugin(ctx):
    """Serially, crmp_test_artifacts() is a directory in crmp_test_tmpdir(), gone at exit."""
    e, wd = ctx.env()
    del e['LD_PRELOAD']
    r = compare.Run('serial', [ctx.probe, '-j1'], e, wd)
    ctx.problems.extend(compare.execute(r))
    ctx.check(r.status == 0, 'the serial run exited %s:\n%s' % (r.status, r.stderr))
    seen = read_log(e['ARTPROBE_LOG'])
    ctx.check(len(seen) == 7, 'serially, tests recorded %s' % sorted(seen))
    for test, dirs in seen.items():
        for d in dirs:
            ctx.check(d.startswith(e['TMPDIR'] + '/crmp-test-') and d.endswith('/artifacts'),
                      '%s: serially in %s' % (test, d))
            ctx.check(not os.path.lexists(d), '%s: %s left' % (test, d))


case('without-plugin')(without_plugin)


# ---- from a remote worker ---------------------------------------------------------------

def remote(ctx):
    """A worker host's tests' artifacts come to the coordinator's DIR over the connection."""
    import run_netns
    extra = ['CRITERION_MPROC_TOKEN=' + run_netns.TOKEN, 'ARTPROBE_CRASH=1', 'ARTPROBE_HOSTILE=1']

    nctx = run_netns.Ctx({'plugin': ctx.plugin, 'probe': ctx.probe})
    with run_netns.hosts(nctx) as net:
        # No local worker: every test runs on the worker host.
        c = nctx.start(net, 'c', 'probe', ['--mproc=0', '--mproc-artifacts=out',
                                           '--mproc-listen=tcp://0.0.0.0:%d' % run_netns.PORT,
                                           '--mproc-wait-workers=30'] + ctx.mode_args(), env=extra)
        url = 'tcp://%s:%d' % (net.addr('w1'), run_netns.PORT)
        h = nctx.start(net, 'w1', 'probe', ['--mproc=2', '--mproc-connect=' + url]
                       + ctx.mode_args(), env=extra)
        for p in (c, h):
            nctx.wait(p)
    ctx.problems.extend(nctx.problems)
    ctx.check(c.returncode == 1, 'the coordinator exited %s:\n%s' % (c.returncode, c.err))
    ctx.check(h.returncode == 0, 'the worker host exited %s:\n%s' % (h.returncode, h.err))
    coord_wd = os.path.join(nctx.root, 'c-1')
    check_collected(ctx, tree(os.path.join(coord_wd, 'out')))
    ctx.check('symlink passwd not followed' in c.err,
              'no [ARTIFACTS] line for the hostile test:\n' + c.err)
    host_wd = os.path.join(nctx.root, 'w1-2')
    ctx.check(not os.path.exists(os.path.join(host_wd, 'out')),
              'the worker host wrote artifacts itself')
    for wd in (coord_wd, host_wd):
        # Only the crashed test's kept directory may stay (on the host that ran it).
        left = [x for x in os.listdir(os.path.join(wd, 'tmp'))
                if not x.startswith('crmp-kept-art.crashes-')]
        ctx.check(not left, '%s: left in TMPDIR: %s' % (wd, left))
    shutil.rmtree(nctx.root, ignore_errors=True)


case('remote')(remote)
case('fork-remote')(remote)


def main(argv):
    return compare.driver_main(argv, __doc__, CASES,
                               lambda a: Ctx(a, sys.argv[-1].startswith('fork-')),
                               ('plugin', 'probe'))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
