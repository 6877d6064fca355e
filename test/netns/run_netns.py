#!/usr/bin/env python3
"""Multi-host tests of criterion-mproc on real separate network hosts.

    run_netns.py --plugin LIB --parser EXE --strlib EXE --slow EXE CASE

Creates three network namespaces joined by veth links (a coordinator host
and two worker hosts, 10.231.1.0/24 and 10.231.2.0/24), runs the coordinator
in one and worker hosts in the others, and removes everything it made.
Needs root and iproute2; exits 77 (skipped) without them.
"""

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import compare  # noqa: E402

PORT = 47311
TOKEN = 'correct horse battery staple'
SYNTH = re.compile(r'Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)')


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Net:
    """Three namespaces: c (coordinator), w1 and w2 (worker hosts)."""

    def __init__(self):
        tag = '%x' % (os.getpid() & 0xffff)
        self.ns = {k: 'crmp%s-%s' % (tag, k) for k in ('c', 'w1', 'w2')}
        self.links = []
        self.hosts_dirs = []

    def __enter__(self):
        try:
            for n in self.ns.values():
                sh('ip', 'netns', 'add', n)
                sh('ip', '-n', n, 'link', 'set', 'lo', 'up')
            for i, w in ((1, 'w1'), (2, 'w2')):
                a, b = 'crc%d%s' % (i, self.ns['c'][4:8]), 'crw%d%s' % (i, self.ns['c'][4:8])
                sh('ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b)
                self.links.append(a)
                sh('ip', 'link', 'set', a, 'netns', self.ns['c'])
                sh('ip', 'link', 'set', b, 'netns', self.ns[w])
                sh('ip', '-n', self.ns['c'], 'addr', 'add', '10.231.%d.1/24' % i, 'dev', a)
                sh('ip', '-n', self.ns[w], 'addr', 'add', '10.231.%d.2/24' % i, 'dev', b)
                sh('ip', '-n', self.ns['c'], 'link', 'set', a, 'up')
                sh('ip', '-n', self.ns[w], 'link', 'set', b, 'up')
                # A name for TLS: ip netns exec bind-mounts /etc/netns/<ns>/hosts.
                d = '/etc/netns/%s' % self.ns[w]
                os.makedirs(d, exist_ok=True)
                with open(d + '/hosts', 'w') as f:
                    f.write('127.0.0.1 localhost\n10.231.%d.1 crmp-coordinator\n' % i)
                self.hosts_dirs.append(d)
        except BaseException:   # SystemExit too: SIGTERM while the network is being built
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for n in self.ns.values():
            sh('ip', 'netns', 'pids', n, check=False)
            pids = sh('ip', 'netns', 'pids', n, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            sh('ip', 'netns', 'del', n, check=False)
        for d in self.hosts_dirs:
            shutil.rmtree(d, ignore_errors=True)

    def addr(self, w):
        return '10.231.%d.1' % (1 if w == 'w1' else 2)


@contextlib.contextmanager
def hosts(nctx):
    """The three namespaces for a test driver's case: skipped (77) without root, ip or the
    network; every process nctx started is ended on the way out."""
    if os.geteuid() != 0 or not shutil.which('ip'):
        print('needs root and ip: skipped')
        raise SystemExit(77)
    try:
        with Net() as net:
            yield net
    except subprocess.CalledProcessError as e:
        print('cannot build the network (%s): skipped' % e.stderr.decode().strip())
        raise SystemExit(77)
    finally:
        for p in nctx.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class Ctx:
    def __init__(self, opts):
        self.opts = opts
        self.root = tempfile.mkdtemp(prefix='crmp-netns-', dir='/tmp')
        # Removed at exit whatever the driver did (the testenv and fixtures drivers read
        # their results elsewhere and left it behind: one folder per run).
        atexit.register(shutil.rmtree, self.root, True)
        self.problems = []
        self.procs = []
        self.n = 0

    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return cond

    def start(self, net, where, exe, args, env=()):
        self.n += 1
        wd = os.path.join(self.root, '%s-%d' % (where, self.n))
        os.makedirs(os.path.join(wd, 'tmp'))
        e = compare.base_env(os.path.join(wd, 'tmp'), 'netns-%d-%d' % (os.getpid(), self.n))
        e['LD_PRELOAD'] = self.opts['plugin']
        e['CRITERION_MPROC_DURATIONS'] = 'none'
        for kv in env:
            k, _, v = kv.partition('=')
            e[k] = v
        argv = ['ip', 'netns', 'exec', net.ns[where], self.opts[exe]] + args
        p = subprocess.Popen(argv, env=e, cwd=wd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.where = where
        p.label = '%s: %s' % (where, ' '.join(args))
        self.procs.append(p)
        return p

    def wait(self, p, timeout=90):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.problems.append('%s did not finish in %ds' % (p.label, timeout))
        p.out = out.decode('utf-8', 'replace')
        p.err = err.decode('utf-8', 'replace')
        return p

    def done(self):
        if self.problems:
            print('FAILED:')
            for m in self.problems:
                print('- ' + m)
            for p in self.procs:
                print('---- %s -> exit %s ----\n%s' % (p.label, p.returncode, getattr(p, 'err', '')))
        shutil.rmtree(self.root, ignore_errors=True)
        return 1 if self.problems else 0


def serial_blocks(ctx, exe):
    e = compare.base_env(ctx.root, 'netns-serial-%d' % os.getpid())
    p = subprocess.run([ctx.opts[exe], '-j1'], env=e, capture_output=True)
    return sorted(compare.strip_times(p.stderr.decode())), p.returncode


def same_as_serial(ctx, coord, exe):
    want, status = serial_blocks(ctx, exe)
    got = sorted(line for line in compare.strip_times(coord.err)
                 if not line.startswith('criterion-mproc'))
    ctx.check(got == want, 'coordinator output differs from a serial run')
    ctx.check(coord.returncode == status, 'coordinator exit %s, serial %s'
              % (coord.returncode, status))


def coordinator(ctx, net, exe, extra=()):
    return ctx.start(net, 'c', exe, ['--mproc=0', '--mproc-listen=tcp://0.0.0.0:%d' % PORT]
                     + list(extra), env=['CRITERION_MPROC_TOKEN=' + TOKEN])


def host(ctx, net, w, exe, token=TOKEN, n=1, url=None, extra=()):
    url = url or 'tcp://%s:%d' % (net.addr(w), PORT)
    return ctx.start(net, w, exe, ['--mproc=%d' % n, '--mproc-connect=' + url] + list(extra),
                     env=['CRITERION_MPROC_TOKEN=' + token])


CASES = {}


def case(fn):
    CASES[fn.__name__.replace('_', '-')] = fn
    return fn


@case
def normal(ctx, net):
    c = coordinator(ctx, net, 'parser')
    h1 = host(ctx, net, 'w1', 'parser', n=2)
    h2 = host(ctx, net, 'w2', 'parser', n=1)
    for p in (c, h1, h2):
        ctx.wait(p)
    same_as_serial(ctx, c, 'parser')
    ctx.check(h1.returncode == 0 and h2.returncode == 0, 'worker hosts did not exit 0')
    ctx.check('Running' not in h1.err + h2.err and 'PASS' not in h1.err + h2.err,
              'worker hosts printed test output')


@case
def wrong_token(ctx, net):
    c = coordinator(ctx, net, 'parser')
    bad = host(ctx, net, 'w2', 'parser', token='wrong')
    ctx.wait(bad)
    ctx.check(bad.returncode != 0, 'a worker with the wrong token exited 0')
    good = host(ctx, net, 'w1', 'parser')
    ctx.wait(good)
    ctx.wait(c)
    same_as_serial(ctx, c, 'parser')
    ctx.check(good.returncode == 0, 'the good worker host failed')


@case
def no_token_refused(ctx, net):
    c = ctx.start(net, 'c', 'parser', ['--mproc=0', '--mproc-listen=tcp://0.0.0.0:%d' % PORT])
    ctx.wait(c, 20)
    ctx.check(c.returncode != 0, 'listening on all addresses without a token was accepted')
    ctx.check('without a token' in c.err, 'no clear message about the missing token')


@case
def tls(ctx, net):
    d = os.path.join(ctx.root, 'pki')
    os.makedirs(d)
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True)
    run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key',
        '-out', 'ca.pem', '-days', '2', '-subj', '/CN=crmp-test-ca')
    run('openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out',
        'srv.csr', '-subj', '/CN=crmp-coordinator')
    with open(os.path.join(d, 'ext'), 'w') as f:
        f.write('subjectAltName=DNS:crmp-coordinator\n')
    run('openssl', 'x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
        '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext')
    c = ctx.start(net, 'c', 'parser', ['--mproc=0', '--mproc-listen=tls+tcp://0.0.0.0:%d' % PORT,
                                       '--mproc-tls-cert=' + d + '/srv.pem',
                                       '--mproc-tls-key=' + d + '/srv.key'],
                  env=['CRITERION_MPROC_TOKEN=' + TOKEN])
    h = host(ctx, net, 'w1', 'parser', url='tls+tcp://crmp-coordinator:%d' % PORT,
             extra=['--mproc-tls-ca=' + d + '/ca.pem'])
    ctx.wait(h)
    ctx.wait(c)
    same_as_serial(ctx, c, 'parser')
    ctx.check(h.returncode == 0, 'the TLS worker host failed')


@case
def host_killed(ctx, net):
    started = time.time()
    c = coordinator(ctx, net, 'slow', ['--verbose'])
    h1 = host(ctx, net, 'w1', 'slow', n=1)
    h2 = host(ctx, net, 'w2', 'slow', n=1)
    time.sleep(1.0)
    # The whole host goes: every process in its namespace.
    killed = [int(pid) for pid in sh('ip', 'netns', 'pids', net.ns['w1']).stdout.split()]
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for p in (h1, h2, c):
        ctx.wait(p)
    # What a dead machine leaves, as Criterion's runners there leave it: not this test's to keep.
    for pid in killed:
        compare.criterion_socket_left(pid, True, started)
        with contextlib.suppress(FileNotFoundError):
            os.unlink('/dev/shm/bxfi_%d' % pid)
    ctx.check(c.returncode == 0, 'coordinator exit %s' % c.returncode)
    finals = re.findall(r'^\[(?:PASS|FAIL)\] (\S+::[^:\s]+)', c.err, re.M)
    ctx.check(len(finals) == 12 and len(set(finals)) == 12,
              'expected 12 results once each, got %d (%d distinct)' % (len(finals), len(set(finals))))
    m = SYNTH.search(c.err)
    ctx.check(m is not None and m.groups() == ('12', '12', '0', '0'), 'synthesis %s'
              % (m.groups() if m else None,))


@case
def different_binary(ctx, net):
    c = coordinator(ctx, net, 'parser')
    other = host(ctx, net, 'w2', 'strlib')
    ctx.wait(other)
    ctx.check(other.returncode != 0, 'a worker with another test list exited 0')
    ctx.check('different test list' in other.err, 'the rejected worker does not say why')
    good = host(ctx, net, 'w1', 'parser')
    ctx.wait(good)
    ctx.wait(c)
    same_as_serial(ctx, c, 'parser')


@case
def loopback_different_binary(ctx, net):
    """A token-less loopback listener refuses a binary whose content differs even
    though its test names are the same (before, it took its results).  Needs the
    worker to send crmpi_exe_hash() in its Hello and the coordinator to check it."""
    impostor = os.path.join(ctx.root, 'impostor')
    shutil.copy2(ctx.opts['parser'], impostor)
    with open(impostor, 'ab') as f:
        f.write(b'\0not the same binary\0')
    ctx.opts['impostor'] = impostor
    url = 'tcp://127.0.0.1:%d' % PORT
    c = ctx.start(net, 'c', 'parser', ['--mproc=0', '--mproc-listen=' + url])
    bad = ctx.wait(ctx.start(net, 'c', 'impostor', ['--mproc=1', '--mproc-connect=' + url,
                                                    '--mproc-connect-timeout=5']))
    ctx.check(bad.returncode != 0, 'a different binary with the same test names was accepted')
    good = ctx.start(net, 'c', 'parser', ['--mproc=1', '--mproc-connect=' + url,
                                          '--mproc-connect-timeout=5'])
    ctx.wait(good)
    ctx.wait(c)
    same_as_serial(ctx, c, 'parser')


def main(argv):
    opts, rest = compare.driver_args(argv)
    if not rest:
        print('\n'.join(sorted(CASES)))
        return 0
    if os.geteuid() != 0 or not shutil.which('ip') or not shutil.which('openssl'):
        print('needs root, ip and openssl: skipped')
        return 77
    if sh('ip', 'netns', 'list', check=False).returncode:
        print('no network namespaces here: skipped')
        return 77
    compare.unwind_on_sigterm()     # so that Net removes its namespaces past meson's timeout
    ctx = Ctx(opts)
    try:
        with Net() as net:
            CASES[rest[0]](ctx, net)
    except subprocess.CalledProcessError as e:
        print('cannot build the network (%s): skipped' % e.stderr.decode().strip())
        return 77
    finally:
        for p in ctx.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return ctx.done()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
