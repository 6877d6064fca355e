#!/usr/bin/env python3
"""Parallelism that fits the machine, one case per invocation:

    machine.py --plugin LIB --strlib EXE --jobprobe EXE CASE

make-jobserver     a real `make -j3` whose rule runs 8 workers: never more than 3
                   things at once (test/jobprobe.c counts them), and make finds
                   all its tokens back
tokens-back        a jobserver made here: every token comes back after a crash
                   and after SIGINT while tests hold tokens
auto-taskset       --mproc=auto under `taskset -c 0` is one worker

Exit status 77: the case cannot run here (no make, no taskset).
"""

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

CASES, case = compare.case_registry()
SKIP = compare.SKIP


class Ctx:
    def __init__(self, args):
        self.plugin = os.path.abspath(args['plugin'])
        self.exes = {k: os.path.abspath(v) for k, v in args.items() if k != 'plugin'}
        self.root = tempfile.mkdtemp(prefix='crmp-', dir='/tmp')
        self.problems = []
        self.token = 'machine-%d' % os.getpid()

    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return cond

    def env(self, **extra):
        tmp = os.path.join(self.root, 't')
        os.makedirs(tmp, exist_ok=True)
        e = compare.base_env(tmp, self.token)
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def probe_state(self, probe_dir):
        """(most running at once, most of them under the plugin)."""
        with open(os.path.join(probe_dir, 'state')) as f:
            _, most, _, most_plugin = (int(x) for x in f.read().split())
        return most, most_plugin

    def finish(self):
        left = compare.wait_gone(compare.find_token_processes(self.token), 5.0)
        self.check(not left, 'processes left: %s' % sorted(left))
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        if self.problems:
            print('FAILED:')
            for p in self.problems:
                print('- ' + p)
        shutil.rmtree(self.root, ignore_errors=True)
        return 1 if self.problems else 0


MAKEFILE = '''\
all: check o1 o2 o3 o4
# '+': make passes its jobserver to this rule (see the README, Integrations).
check:
\t+CRMP_PROBE_PLUGIN=1 LD_PRELOAD={plugin} CRITERION_MPROC=8 {probe} --filter='probe/t*'
o1 o2 o3 o4:
\t{probe} -j1 --filter=probe/t0
'''


@case('make-jobserver')
def make_jobserver(ctx):
    make = shutil.which('make')
    if not make:
        print('no make here')
        return SKIP
    probe_dir = os.path.join(ctx.root, 'probe')
    os.makedirs(probe_dir)
    with open(os.path.join(ctx.root, 'Makefile'), 'w') as f:
        f.write(MAKEFILE.format(plugin=ctx.plugin, probe=ctx.exes['jobprobe']))
    # Long enough that workers, slow to start on a loaded machine, overlap.
    env = ctx.env(CRMP_PROBE_DIR=probe_dir, CRMP_PROBE_LIMIT=3, CRMP_PROBE_HOLD_MS=2000)
    p = subprocess.run([make, '-s', '-j3', 'all'], cwd=ctx.root, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    print(p.stdout + p.stderr)
    most, most_plugin = ctx.probe_state(probe_dir)
    print('most at once: %d, of them under the plugin: %d' % (most, most_plugin))
    ctx.check(p.returncode == 0, 'make -j3: exit status %d' % p.returncode)
    ctx.check(most <= 3, 'make -j3 ran %d things at once' % most)
    ctx.check(most_plugin >= 2, 'the workers never ran two tests at once (%d): no token taken'
              % most_plugin)
    # make checks at exit that every token came back ("INTERNAL: Exiting with N jobserver
    # tokens available; should be M!").
    ctx.check('jobserver' not in p.stderr and 'INTERNAL' not in p.stderr,
              'make complains about its jobserver')


@case('make-no-plus')
def make_no_plus(ctx):
    """make 4.3 and older give a rule without '+' MAKEFLAGS but not the descriptors: the
    coordinator's own first pipe then takes their numbers, and must not pass for make's."""
    probe_dir = os.path.join(ctx.root, 'probe')
    os.makedirs(probe_dir)
    env = ctx.env(LD_PRELOAD=ctx.plugin, CRMP_PROBE_DIR=probe_dir, CRMP_PROBE_LIMIT=3,
                  CRMP_PROBE_PLUGIN=1, CRMP_PROBE_HOLD_MS=2000,
                  MAKEFLAGS=' -j3 --jobserver-auth=3,4')
    # close_fds: the child has 0, 1 and 2 only, as under make 4.3 without '+'.
    p = subprocess.run([ctx.exes['jobprobe'], '--mproc=2', "--filter=probe/t*"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    print(p.stderr)
    most, most_plugin = ctx.probe_state(probe_dir)
    print('most at once: %d, of them under the plugin: %d' % (most, most_plugin))
    ctx.check(p.returncode == 0, 'exit status %d' % p.returncode)
    ctx.check('not passed to this rule' in p.stderr,
              'no warning that the jobserver was not passed')
    ctx.check(most_plugin >= 2, 'the 2 workers never ran two tests at once (%d): a pipe of '
              'the plugin\'s own taken for make\'s jobserver' % most_plugin)


def jobserver_pipe(tokens):
    r, w = os.pipe()
    os.write(w, b'+' * tokens)
    return r, w


def tokens_in(r):
    os.set_blocking(r, False)
    try:
        return len(os.read(r, 64))
    except BlockingIOError:
        return 0


@case('tokens-back')
def tokens_back(ctx):
    probe_dir = os.path.join(ctx.root, 'probe')
    os.makedirs(probe_dir)
    exe = ctx.exes['jobprobe']

    # A crash: the worker dies holding a token.
    r, w = jobserver_pipe(2)
    env = ctx.env(LD_PRELOAD=ctx.plugin, CRMP_PROBE_DIR=probe_dir, CRMP_PROBE_LIMIT=3,
                  CRMP_PROBE_PLUGIN=1, CRMP_PROBE_CRASH=1, CRMP_PROBE_HOLD_MS=2000,
                  MAKEFLAGS=' -j3 --jobserver-auth=%d,%d' % (r, w))
    p = subprocess.run([exe, '--mproc=6'], env=env, pass_fds=(r, w), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    print(p.stderr)
    most, _ = ctx.probe_state(probe_dir)
    ctx.check(p.returncode == 1, 'a run with a crash: exit status %d' % p.returncode)
    ctx.check('CRASH   probe::crashes' in p.stderr, 'the crash is not in the recap')
    ctx.check(most <= 3, 'with 2 tokens, %d tests ran at once' % most)
    n = tokens_in(r)
    ctx.check(n == 2, 'after a run with a crash, %d of 2 tokens are back' % n)
    os.close(r)
    os.close(w)

    # SIGINT while three tests hold the free slot and both tokens.
    r, w = jobserver_pipe(2)
    fifo = os.path.join(ctx.root, 'started')
    os.mkfifo(fifo)
    # Read and write: the fifo never reads as ended between two probes' writes, so select
    # wakes only for data (read-only, a closed writer's hangup woke it for a read that then
    # failed with EAGAIN: machine-tokens-back failed so in CI).
    started = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    env.update(CRMP_PROBE_HOLD_MS='60000', CRMP_PROBE_LIMIT='100', CRMP_PROBE_STARTED=fifo,
               MAKEFLAGS=' -j3 --jobserver-auth=%d,%d' % (r, w))
    del env['CRMP_PROBE_CRASH']
    proc = subprocess.Popen([exe, '--mproc=6', '--filter=probe/t*'], env=env, pass_fds=(r, w),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seen = b''
    while len(seen) < 3:
        ready, _, _ = select.select([started], [], [], 30)
        if not ready:
            break
        try:
            seen += os.read(started, 16)
        except BlockingIOError:
            continue
    ctx.check(len(seen) == 3, '%d tests started with 2 tokens, 3 expected' % len(seen))
    free = tokens_in(r)
    os.write(w, b'+' * free)
    ctx.check(free == 0, 'three tests run and %d of the 2 tokens were not taken' % free)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        ctx.problems.append('the run did not end within 60 s of SIGINT')
    print(err)
    os.close(started)
    n = tokens_in(r)
    ctx.check(n == 2, 'after SIGINT, %d of 2 tokens are back' % n)
    os.close(r)
    os.close(w)


@case('workers-on-tokens')
def workers_on_tokens(ctx):
    """With a jobserver, a worker past the first starts only on a token in hand: none
    while make has no token to give (one started to wait would cost its start-up for
    nothing), then one per token."""
    probe_dir = os.path.join(ctx.root, 'probe')
    os.makedirs(probe_dir)
    exe = ctx.exes['jobprobe']
    for tokens, want in ((0, 1), (1, 2)):
        r, w = jobserver_pipe(tokens)
        env = ctx.env(LD_PRELOAD=ctx.plugin, CRMP_PROBE_DIR=probe_dir, CRMP_PROBE_LIMIT=3,
                      CRMP_PROBE_HOLD_MS=300, MAKEFLAGS=' -j3 --jobserver-auth=%d,%d' % (r, w))
        p = subprocess.run([exe, '--mproc=4', '--mproc-verbose=2', '--filter=probe/t[0-3]'],
                           env=env, pass_fds=(r, w), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        started = re.findall(r'worker \d+ started', p.stderr)
        ctx.check(p.returncode == 0, '%d tokens: exit status %d\n%s'
                  % (tokens, p.returncode, p.stderr))
        ctx.check(len(started) == want, 'with %d tokens, %d workers started, want %d:\n%s'
                  % (tokens, len(started), want, p.stderr))
        n = tokens_in(r)
        ctx.check(n == tokens, 'after the run, %d of %d tokens are back' % (n, tokens))
        os.close(r)
        os.close(w)


@case('auto-taskset')
def auto_taskset(ctx):
    taskset = shutil.which('taskset')
    if not taskset:
        print('no taskset here')
        return SKIP
    env = ctx.env(LD_PRELOAD=ctx.plugin)
    for cpus, want in (('0', 1), ('0,1', 2)):
        if want > len(os.sched_getaffinity(0)):
            continue
        p = subprocess.run([taskset, '-c', cpus, ctx.exes['strlib'], '--mproc=auto',
                            '--mproc-verbose'], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        m = re.search(r'info: (\d+) workers? on ', p.stderr)
        ctx.check(p.returncode == 0, 'taskset -c %s: exit status %d' % (cpus, p.returncode))
        ctx.check(m and int(m.group(1)) == want, 'taskset -c %s: --mproc=auto started %s workers, '
                  '%d expected' % (cpus, m.group(1) if m else 'no count of', want))


def main(argv):
    return compare.driver_main(argv, __doc__, CASES, Ctx, ('plugin',))

if __name__ == '__main__':
    sys.exit(main(sys.argv))
