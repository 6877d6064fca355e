#!/usr/bin/env python3
"""Behaviour tests of the criterion-mproc plugin, one case per invocation:

    behaviour.py --plugin LIB --strlib EXE --failing EXE --hookprobe EXE --slow EXE
                 --semantics EXE CASE

Every run happens in its own temporary directory with its own TMPDIR, in the
fixed environment of compare.py; after every plugin run no process of the
run may remain and TMPDIR must be empty.  Run without CASE to list cases.
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

CASES, case = compare.case_registry()


class Ctx:
    def __init__(self, args):
        self.plugin = os.path.abspath(args['plugin'])
        self.exes = {k: os.path.abspath(v) for k, v in args.items() if k != 'plugin'}
        self.root = tempfile.mkdtemp(prefix='crmp-', dir='/tmp')
        self.n = 0
        self.problems = []
        self.log = []

    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return cond

    def run(self, exe, args, preload=True, env=(), hooks=False, check_leftovers=True):
        """Runs exe; returns a compare.Run with .hooks (list of lines) when hooks."""
        self.n += 1
        wd = os.path.join(self.root, 'r%d' % self.n)
        tmp = os.path.join(wd, 't')
        os.makedirs(tmp)
        e = compare.base_env(tmp, 'behaviour-%d-%d' % (os.getpid(), self.n))
        if preload:
            e['LD_PRELOAD'] = self.plugin
        hook_log = os.path.join(wd, 'hooks.log')
        if hooks:
            e['CRMP_HOOK_LOG'] = hook_log
        for kv in env:
            k, _, v = kv.partition('=')
            e[k] = v
        r = compare.Run('run %d' % self.n, [self.exes.get(exe, exe)] + list(args), e, wd)
        self.problems.extend(compare.execute(r, check_leftovers=preload and check_leftovers,
                                            serial=not preload))
        r.hooks = compare.read(hook_log).splitlines() if os.path.exists(hook_log) else []
        self.log.append(r)
        return r

    def background_env(self, what, preload):
        """For a process run in the background: (cwd, TMPDIR, token, environment)."""
        self.n += 1
        wd = os.path.join(self.root, 'r%d' % self.n)
        tmp = os.path.join(wd, 't')
        os.makedirs(tmp)
        token = 'behaviour-%s-%d-%d' % (what, os.getpid(), self.n)
        env = compare.base_env(tmp, token)
        if preload:
            env['LD_PRELOAD'] = self.plugin
        return wd, tmp, token, env

    def finish(self):
        for r in self.log:
            print('%s: %s -> exit %s' % (r.label, r.describe(), r.status))
        if self.problems:
            print('\nFAILED:')
            for p in self.problems:
                print('- ' + p)
            for r in self.log:
                print('\n---- %s stderr ----\n%s' % (r.label, r.stderr), end='')
                if r.stdout:
                    print('---- %s stdout ----\n%s' % (r.label, r.stdout), end='')
                if getattr(r, 'hooks', None):
                    print('---- %s hooks ----\n%s' % (r.label, '\n'.join(r.hooks)))
        shutil.rmtree(self.root, ignore_errors=True)
        return 1 if self.problems else 0


# ---- refused options --------------------------------------------------------------

def expect_usage_error(ctx, args, needle, env=()):
    """The run stops before any test with status 2 and one line naming needle."""
    r = ctx.run('hookprobe', args, env=env, hooks=True)
    ctx.check(r.status == 2, 'exit status %s, expected 2' % r.status)
    lines = r.stderr.splitlines()
    ctx.check(len(lines) == 1, 'expected exactly one line on stderr, got %d' % len(lines))
    ctx.check(needle in r.stderr, 'stderr does not name %r' % needle)
    ctx.check('criterion-mproc' in r.stderr, 'stderr line lacks the criterion-mproc prefix')
    ctx.check(r.stdout == '', 'stdout is not empty')
    ctx.check(r.hooks == [], 'tests or hooks ran: %r' % r.hooks[:5])
    ctx.check('Synthesis' not in r.stderr, 'a synthesis was printed')


@case('bad-zero')
def bad_zero(ctx):
    expect_usage_error(ctx, ['--mproc=0'], '--mproc')


@case('bad-junk')
def bad_junk(ctx):
    expect_usage_error(ctx, ['--mproc=abc'], '--mproc')


@case('bad-negative')
def bad_negative(ctx):
    expect_usage_error(ctx, ['--mproc=-1'], '--mproc')


@case('bad-auto-times-zero')
def bad_auto_times_zero(ctx):
    expect_usage_error(ctx, ['--mproc=auto*0'], '--mproc')


@case('bad-unknown-option')
def bad_unknown(ctx):
    expect_usage_error(ctx, ['--mproc-bogus'], '--mproc-bogus')
    expect_usage_error(ctx, ['--mproc=2', '--mproc-bogus=1'], '--mproc-bogus')


@case('bad-env')
def bad_env(ctx):
    expect_usage_error(ctx, [], 'CRITERION_MPROC', env=['CRITERION_MPROC=junk'])
    expect_usage_error(ctx, [], 'CRITERION_MPROC', env=['CRITERION_MPROC=0'])


@case('bad-missing-value')
def bad_missing_value(ctx):
    expect_usage_error(ctx, ['--mproc'], '--mproc')


@case('refuse-jobs')
def refuse_jobs(ctx):
    expect_usage_error(ctx, ['-j2', '--mproc=2'], '-j')
    expect_usage_error(ctx, ['--mproc=2', '--jobs', '2'], '-j')
    expect_usage_error(ctx, ['-j2'], '-j', env=['CRITERION_MPROC=2'])


@case('refuse-jobs-env')
def refuse_jobs_env(ctx):
    expect_usage_error(ctx, ['--mproc=2'], 'CRITERION_JOBS', env=['CRITERION_JOBS=2'])


@case('refuse-tokenless-listen')
def refuse_tokenless_listen(ctx):
    """A token-less listener beyond loopback is a bad option: exit 2, no test run (it exited 1)."""
    expect_usage_error(ctx, ['--mproc=1', '--mproc-listen=tcp://0.0.0.0:47391'], 'without a token')
    expect_usage_error(ctx, ['--mproc=1', '--mproc-wait-workers=never'], '--mproc-wait-workers')


@case('refuse-debug')
def refuse_debug(ctx):
    expect_usage_error(ctx, ['--mproc=2', '--debug'], '--debug')
    expect_usage_error(ctx, ['--mproc=2', '--wait'], '--wait')


# ---- informational options ---------------------------------------------------------

@case('help')
def help_lists_mproc(ctx):
    plain = ctx.run('strlib', ['--help'], preload=False)
    pre = ctx.run('strlib', ['--help'])
    ctx.check(pre.status == plain.status, 'exit status %s, plain %s' % (pre.status, plain.status))
    text = pre.stdout + pre.stderr
    ctx.check('--mproc' in text, '--help does not list --mproc')
    ctx.check(re.search(r'--mproc\S*=?N', text) or 'auto' in text,
              '--help does not describe the worker count')
    # Criterion's own usage is all still there, in order.
    plain_lines = [l for l in (plain.stdout + plain.stderr).splitlines() if l.strip()]
    pre_lines = [l for l in text.splitlines() if l.strip()]
    it = iter(pre_lines)
    ctx.check(all(l in it for l in plain_lines), 'Criterion\'s own --help text is not intact')
    # With --mproc too: usage, nothing run.
    h = ctx.run('hookprobe', ['--help', '--mproc=2'], hooks=True)
    ctx.check(h.status == plain.status, '--help --mproc=2: exit status %s' % h.status)
    ctx.check('--mproc' in h.stdout + h.stderr, '--help --mproc=2 does not list --mproc')
    ctx.check(h.hooks == [], '--help --mproc=2 ran tests: %r' % h.hooks[:3])


@case('list')
def list_runs_nothing(ctx):
    plain = ctx.run('hookprobe', ['--list'], preload=False, hooks=True)
    pre = ctx.run('hookprobe', ['--list', '--mproc=2'], hooks=True)
    ctx.check(pre.status == plain.status, 'exit status %s, plain %s' % (pre.status, plain.status))
    ctx.check(pre.stdout == plain.stdout, 'stdout differs from plain --list')
    ctx.check(pre.stderr == plain.stderr, 'stderr differs from plain --list')
    ctx.check('passes' in plain.stdout + plain.stderr, 'plain --list lists nothing (probe broken)')
    ctx.check(pre.hooks == plain.hooks, 'hooks differ: %r vs %r' % (pre.hooks[:5], plain.hooks[:5]))
    ctx.check(not any(l.startswith(('POST_TEST', 'PRE_TEST')) for l in pre.hooks),
              '--list ran tests')


@case('version')
def version(ctx):
    plain = ctx.run('strlib', ['--version'], preload=False)
    pre = ctx.run('strlib', ['--version', '--mproc=2'])
    ctx.check(pre.status == plain.status, 'exit status %s, plain %s' % (pre.status, plain.status))
    ctx.check((pre.stdout, pre.stderr) == (plain.stdout, plain.stderr), 'output differs')


# ---- preloaded but off ----------------------------------------------------------------

@case('preloaded-off')
def preloaded_off(ctx):
    for exe in ('strlib', 'failing'):
        plain = ctx.run(exe, ['-j1'], preload=False)
        pre = ctx.run(exe, ['-j1'])
        ctx.check(pre.status == plain.status, '%s: exit status %s, plain %s'
                  % (exe, pre.status, plain.status))
        ctx.check(compare.strip_times(pre.stderr) == compare.strip_times(plain.stderr),
                  '%s: stderr differs from a plain -j1 run' % exe)
        ctx.check(pre.stdout == plain.stdout, '%s: stdout differs' % exe)
        ctx.check('criterion-mproc' not in pre.stderr, '%s: the plugin spoke' % exe)
    # Every hook, where Criterion calls it (-j1: Criterion's own parallel
    # runner calls some hooks nondeterministically).
    plain = ctx.run('hookprobe', ['-j1'], preload=False, hooks=True)
    pre = ctx.run('hookprobe', ['-j1'], hooks=True)
    ctx.check(pre.status == plain.status, 'hookprobe: exit status %s, plain %s'
              % (pre.status, plain.status))
    ctx.check(compare.strip_times(pre.stderr) == compare.strip_times(plain.stderr),
              'hookprobe: console differs')
    ctx.check(pre.hooks == plain.hooks, 'hookprobe: hook calls differ')
    # Criterion's default parallelism.
    plain = ctx.run('strlib', [], preload=False)
    pre = ctx.run('strlib', [])
    ctx.check(pre.status == plain.status, 'strlib -jN: exit status %s, plain %s'
              % (pre.status, plain.status))
    ctx.check(compare.console_blocks(compare.strip_times(pre.stderr))
              == compare.console_blocks(compare.strip_times(plain.stderr)),
              'strlib -jN: console differs')


@case('inert-without-criterion')
def inert(ctx):
    for env in ([], ['CRITERION_MPROC=2']):
        r = ctx.run('/bin/sh', ['-c', 'echo hi; /bin/true'], env=env)
        ctx.check(r.status == 0, '%s sh: exit status %s' % (env, r.status))
        ctx.check(r.stdout == 'hi\n', '%s sh: stdout %r' % (env, r.stdout))
        ctx.check(r.stderr == '', '%s sh: stderr %r' % (env, r.stderr))


# ---- stdout stays the binary's -----------------------------------------------------------

TAP_LINE = re.compile(r'^(TAP version \d+|\d+\.\.\d+|#.*|(not )?ok .*|  .*|)$')


@case('stdout-is-pure-tap')
def stdout_is_pure_tap(ctx):
    plain = ctx.run('failing', ['-j1', '--tap=-'], preload=False)
    pre = ctx.run('failing', ['--tap=-', '--mproc=2', '--mproc-verbose=3'])
    ctx.check(pre.status == plain.status, 'exit status %s, plain %s' % (pre.status, plain.status))
    ctx.check('criterion-mproc' in pre.stderr,
              'no plugin diagnostics on stderr at --mproc-verbose=3 (is the option honoured?)')
    ctx.check('criterion-mproc' not in pre.stdout, 'plugin diagnostics on stdout')
    bad = [l for l in pre.stdout.splitlines() if not TAP_LINE.match(l)]
    ctx.check(not bad, 'stdout is not pure TAP: %r' % bad[:5])
    ctx.check(pre.stdout.startswith('TAP version'), 'stdout does not start with a TAP header')
    se, so = compare.parse_tap(plain.stdout)
    pe, po = compare.parse_tap(pre.stdout)
    d = compare.counter_diff('TAP test', se, pe) + compare.counter_diff('TAP line', so, po)
    ctx.check(not d, 'TAP on stdout differs from a plain run:\n' + '\n'.join(d))


# ---- report hooks -----------------------------------------------------------------------

@case('hooks')
def hooks(ctx):
    serial = ctx.run('hookprobe', ['-j1'], preload=False, hooks=True)
    ctx.check(serial.hooks and serial.hooks[0].startswith('PRE_ALL'), 'probe: no PRE_ALL first')
    # In fork isolation the worker calls the per-test hooks itself.
    for args, env in ((['--mproc=2'], []), ([], ['CRITERION_MPROC=3']),
                      (['--mproc=2', '--mproc-isolation=fork'], [])):
        r = ctx.run('hookprobe', args, env=env, hooks=True)
        what = ' '.join(args + env)
        ctx.check(r.status == serial.status, '%s: exit status %s, serial %s'
                  % (what, r.status, serial.status))
        kinds = collections.Counter(l.split(' ', 1)[0] for l in r.hooks)
        ctx.check(kinds['PRE_ALL'] == 1, '%s: PRE_ALL ran %d times' % (what, kinds['PRE_ALL']))
        ctx.check(kinds['POST_ALL'] == 1, '%s: POST_ALL ran %d times' % (what, kinds['POST_ALL']))
        ctx.check(r.hooks[:1] and r.hooks[0].startswith('PRE_ALL'),
                  '%s: PRE_ALL is not the first hook' % what)
        ctx.check(r.hooks[-1:] and r.hooks[-1].startswith('POST_ALL'),
                  '%s: POST_ALL is not the last hook' % what)
        want = collections.Counter(serial.hooks)
        got = collections.Counter(r.hooks)
        d = compare.counter_diff('hook call', want, got)
        ctx.check(not d, '%s: hook calls differ from -j1:\n%s' % (what, '\n'.join(d)))


@case('fork-fallback-said')
def fork_fallback_said(ctx):
    # What fork isolation cannot serve runs in exec mode, with a word in verbose output.
    args = ['--mproc=1', '--mproc-isolation=fork', '--filter', 'params/big_parameter']
    r = ctx.run('semantics', args + ['--mproc-verbose'])
    ctx.check(r.status == 0, 'exit status %s' % r.status)
    ctx.check('params::big_parameter[0] runs in exec mode (parameter over 64 KiB)' in r.stderr,
              'no word that the big parameter runs in exec mode')
    ctx.check('Tested: 2 | Passing: 2' in r.stderr, 'both parameters did not pass')
    r = ctx.run('semantics', args)
    ctx.check('exec mode' not in r.stderr, 'the word is shown without --mproc-verbose')


# ---- cleanup ------------------------------------------------------------------------------

@case('cleanup')
def cleanup(ctx):
    # execute() checks processes and TMPDIR after each run.
    r = ctx.run('strlib', ['--mproc=4'])
    ctx.check(r.status == 0, 'exit status %s' % r.status)
    r = ctx.run('strlib', ['--mproc=1'])
    ctx.check(r.status == 0, 'exit status %s' % r.status)


@case('cleanup-crashes')
def cleanup_crashes(ctx):
    r = ctx.run('failing', ['--mproc=2'])
    ctx.check(r.status == 1, 'exit status %s' % r.status)
    r = ctx.run('hookprobe', ['--mproc=3', '--fail-fast'])
    ctx.check(r.status == 1, '--fail-fast: exit status %s' % r.status)


def interrupted_run(ctx, args, preload):
    """Runs the slow sample, sends SIGINT once a test has finished (an event,
    not a delay), and returns (status, stderr, tmpdir, token)."""
    wd, tmp, token, env = ctx.background_env('int', preload)
    started = time.time()
    p = subprocess.Popen([ctx.exes['slow'], '--verbose'] + args, env=env, cwd=wd,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    seen = []
    try:
        # Wait for the event "a test finished", then interrupt.
        for raw in p.stderr:
            line = raw.decode('utf-8', 'replace')
            seen.append(line)
            if line.startswith('[PASS]'):
                break
        p.send_signal(signal.SIGINT)
        rest = p.stderr.read().decode('utf-8', 'replace')
        status = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        ctx.problems.append('the run did not end within 30 s of SIGINT')
        status = None
        rest = ''
    ctx.check(any(l.startswith('[PASS]') for l in seen), 'no test finished before SIGINT')
    left = compare.criterion_socket_left(p.pid, not preload, started)
    ctx.check(not left or not preload, 'the interrupted run left /tmp/criterion_%d.sock' % p.pid)
    print('%s -> %s\n%s' % (' '.join(args), status, ''.join(seen) + rest))
    return status, tmp, token


@case('fail-fast-exit-status')
def fail_fast_exit_status(ctx):
    """Which tests run before --fail-fast stops differs with workers; the exit
    status must not (Criterion exits 1 on a fail-fast stop, even with
    --always-succeed)."""
    for extra in ([], ['--always-succeed']):
        plain = ctx.run('failing', ['-j1', '--fail-fast'] + extra, preload=False)
        r = ctx.run('failing', ['--mproc=2', '--fail-fast'] + extra)
        ctx.check(r.status == plain.status, '--fail-fast %s: exit status %s, plain -j1 %s'
                  % (' '.join(extra), r.status, plain.status))
        ctx.check('[FAIL]' in r.stderr, '--fail-fast %s: no failure reported' % ' '.join(extra))


@case('worker-count-said')
def worker_count_said(ctx):
    """--mproc-verbose names the number of workers the run uses (it said "1 workers"), and no
    more workers start than there are tests: 512 asked on 18 tests start 18 (issue 10, 9)."""
    r = ctx.run('strlib', ['--mproc=3', '--mproc-verbose'])
    ctx.check(re.search(r'info: 3 workers on ', r.stderr), '--mproc=3 does not say 3 workers')
    r = ctx.run('failing', ['--mproc=512', '--mproc-verbose'])
    ctx.check(re.search(r'info: 18 workers on ', r.stderr), '--mproc=512 on 18 tests: not 18')
    started = re.findall(r'info: worker \d+: \d+ tests?, busy', r.stderr)
    ctx.check(len(started) == 18, '--mproc=512 on 18 tests started %d workers' % len(started))
    ctx.check(re.search(r'info: worker \d+: 1 test, busy', r.stderr), 'not "1 test" for one')
    r = ctx.run('strlib', ['--mproc=1', '--mproc-verbose'])
    ctx.check(re.search(r'info: 1 worker on ', r.stderr), '--mproc=1 does not say "1 worker"')


@case('workers-for-runnable-only')
def workers_for_runnable_only(ctx):
    """Tests --filter leaves out take no worker: --mproc=512 on the 4 tests a filter keeps of
    strlib's 29 starts 4 workers, not 29 (issue 13)."""
    r = ctx.run('strlib', ['--mproc=512', '--mproc-verbose', '--filter=strlib/trim_*'])
    ctx.check(r.status == 0, 'exit status %s' % r.status)
    ctx.check(re.search(r'Tested: 4 ', r.stderr), 'the filter does not keep 4 tests')
    ctx.check(re.search(r'info: 4 workers on ', r.stderr), 'a filter keeping 4 tests: not 4 workers')
    started = re.findall(r'info: worker \d+: \d+ tests?, busy', r.stderr)
    ctx.check(len(started) == 4, '4 tests to run started %d workers' % len(started))


@case('filter-not-counted')
def filter_not_counted(ctx):
    """The tests --filter left out are not among those that "did not run" (issue 10, 9)."""
    pattern = '--filter=failing/[a-c]*'
    plain = ctx.run('failing', ['-j1', pattern], preload=False)
    m = re.search(r'Tested: (\d+)', plain.stderr)
    r = ctx.run('failing', ['--mproc=1', '--fail-fast', pattern])
    said = re.search(r'(\d+) of (\d+) tests did not run', r.stderr)
    if ctx.check(m and said, 'no count of the tests that did not run'):
        ctx.check(said.group(2) == m.group(1), '"did not run" counts %s tests, the filter keeps %s'
                  % (said.group(2), m.group(1)))


@case('dispatch-before-print')
def dispatch_before_print(ctx):
    """A finished test's next one is handed out before the finished one is printed, so a slow
    reader of stderr does not stall the workers (issue 10, 10)."""
    r = ctx.run('strlib', ['--mproc=1', '--verbose', '--mproc-verbose=2'])
    lines = [l for l in r.stderr.splitlines()
             if ' takes ' in l or re.match(r'\[(PASS|FAIL)\] ', l)]
    first_result = next((i for i, l in enumerate(lines) if ' takes ' not in l), None)
    takes_before = sum(1 for l in lines[:first_result or 0] if ' takes ' in l)
    ctx.check(first_result is not None and takes_before == 2,
              'the first result was printed after %d assignments, expected 2 (next one first)'
              % takes_before)


@case('interrupt')
def interrupt(ctx):
    """SIGINT while tests run: the run ends, workers and TMPDIR are cleaned up."""
    status, tmp, token = interrupted_run(ctx, ['--mproc=2'], True)
    ctx.check(status is not None and status != 0, 'exit status %s after SIGINT' % status)
    left = compare.wait_gone(compare.find_token_processes(token), 5.0)
    ctx.check(not left, 'processes left after SIGINT: %s' % sorted(left))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    ctx.check(os.listdir(tmp) == [], 'left in TMPDIR after SIGINT: %s' % os.listdir(tmp))


@case('interrupt-status')
def interrupt_status(ctx):
    """Interrupted, the run ends the way Criterion's does: killed by SIGINT,
    which shells and make tell apart from an exit status of 130."""
    plain, _, _ = interrupted_run(ctx, ['-j1'], False)
    status, _, token = interrupted_run(ctx, ['--mproc=2'], True)
    for pid in compare.wait_gone(compare.find_token_processes(token), 5.0):
        os.kill(pid, signal.SIGKILL)
    ctx.check(plain == -signal.SIGINT, 'plain Criterion: status %s (test assumption)' % plain)
    ctx.check(status == plain, 'interrupted --mproc run: status %s (%s), plain Criterion %s (%s)'
              % (status, describe_status(status), plain, describe_status(plain)))


def describe_status(st):
    if st is None:
        return 'did not end'
    return 'killed by signal %d' % -st if st < 0 else 'exit status %d' % st


@case('long-tmpdir')
def long_tmpdir(ctx):
    """A TMPDIR too long for an ipc:// path must not break the run."""
    deep = os.path.join(ctx.root, 'a-rather-long-directory-name-' * 4)
    os.makedirs(deep)
    plain = ctx.run('failing', ['-j1'], preload=False)
    r = ctx.run('failing', ['--mproc=2'], env=['TMPDIR=' + deep])
    ctx.check(r.status == plain.status, 'exit status %s, plain %s' % (r.status, plain.status))
    diff = compare.compare_console(plain, r, False)
    ctx.check(diff == [], 'console differs (recap included): %s' % diff)
    ctx.check(os.listdir(deep) == [], 'left in the long TMPDIR: %s' % os.listdir(deep))


@case('launcher-coordinator-killed')
def launcher_coordinator_killed(ctx):
    """A worker host whose coordinator is SIGKILLed mid-run: its worker says so on the host's
    stderr (it wrote it into the running test's capture) and exits with its documented status 3,
    which the host reports (it killed its own process group, itself included, and was reported
    as "ended with signal 9": issue 10, defect 5)."""
    url = 'ipc://' + os.path.join(ctx.root, 'killed.ipc')
    wd, _, ctoken, env = ctx.background_env('coord', True)
    started = time.time()
    coord = subprocess.Popen([ctx.exes['slow'], '--verbose', '--mproc=0', '--mproc-verbose',
                              '--mproc-listen=' + url],
                             env=env, cwd=wd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hwd, _, htoken, henv = ctx.background_env('host', True)
    host = None
    try:
        # The event "listening", then the host; the event "a test passed", then the kill.
        for raw in coord.stderr:
            if 'accepting remote workers' in raw.decode('utf-8', 'replace'):
                break
        host = subprocess.Popen([ctx.exes['slow'], '--mproc=1', '--mproc-connect=' + url],
                                env=henv, cwd=hwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        passed = False
        for raw in coord.stderr:
            if raw.startswith(b'[PASS]'):
                passed = True
                break
        ctx.check(passed, 'no test passed before the coordinator was killed')
        coord.kill()
        coord.communicate()
        _, err = host.communicate(timeout=30)
        err = err.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        host.kill()
        host.communicate()
        ctx.problems.append('the worker host did not end within 30 s of its coordinator\'s death')
        return
    finally:
        if coord.poll() is None:
            coord.kill()
            coord.communicate()
        compare.criterion_socket_left(coord.pid, True, started)
    print('worker host -> %s\n%s' % (host.returncode, err))
    ctx.check('worker lost its coordinator' in err,
              'the worker did not say on the host\'s stderr that it lost its coordinator')
    ctx.check('worker 0 ended with status %d' % 3 in err,
              'the host did not report its worker\'s status 3 (lost)')
    ctx.check('signal' not in err, 'a worker was reported killed by a signal')
    ctx.check(host.returncode == 1, 'worker host: exit status %s, expected 1' % host.returncode)
    for token in (ctoken, htoken):
        left = compare.wait_gone(compare.find_token_processes(token), 5.0)
        ctx.check(not left, 'processes left: %s' % sorted(left))
        for pid in left:
            os.kill(pid, signal.SIGKILL)


def served_by_host(ctx, exe, host_exe, host_args):
    """A coordinator of exe with remote workers only (--mproc=0, ipc), served by a worker
    host (host_exe, host_args): (the host's run, the coordinator's status and stderr, its
    token), or None when the coordinator did not end."""
    url = 'ipc://' + os.path.join(ctx.root, 'remote-%d.ipc' % ctx.n)
    wd, _, token, env = ctx.background_env('coord', True)
    coord = subprocess.Popen([ctx.exes[exe], '--mproc=0', '--mproc-listen=' + url,
                              '--mproc-verbose'], env=env, cwd=wd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = []
    try:
        # The event "listening", then the worker host.
        for raw in coord.stderr:
            seen.append(raw.decode('utf-8', 'replace'))
            if 'accepting remote workers' in seen[-1]:
                break
        host = ctx.run(host_exe, host_args + ['--mproc-connect=' + url])
        if host.status != 0:
            coord.send_signal(signal.SIGINT)
        _, rest = coord.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        coord.kill()
        coord.communicate()
        ctx.problems.append('the coordinator did not end within 30 s of its worker host')
        return None
    finally:
        # A host that failed the driver (compare.Failure) leaves no coordinator behind.
        if coord.poll() is None:
            coord.kill()
            coord.communicate()
    err = ''.join(seen) + rest.decode('utf-8', 'replace')
    print('coordinator -> %s\n%s' % (coord.returncode, err))
    return host, coord.returncode, err, token


def served_as_serial(ctx, served, exe):
    """The coordinator of served_by_host ended as plain -j1 does, and left nothing."""
    _, status, err, token = served
    plain = ctx.run(exe, ['-j1'], preload=False)
    ctx.check(status == plain.status, 'coordinator: exit status %s, plain %s'
              % (status, plain.status))
    synth = [l for l in plain.stderr.splitlines() if 'Synthesis' in l]
    ctx.check(synth and synth[0] in err, 'coordinator: not the serial synthesis %s' % synth)
    left = compare.wait_gone(compare.find_token_processes(token), 5.0)
    ctx.check(not left, 'processes left: %s' % sorted(left))
    for pid in left:
        os.kill(pid, signal.SIGKILL)


@case('launcher-long-path')
def launcher_long_path(ctx):
    """A worker host (--mproc-connect) whose executable's path is 128 bytes or
    longer serves its coordinator (it was refused: issue 10, defect 7)."""
    deep = os.path.join(ctx.root, 'a-directory-name-that-makes-the-path-long-' * 3)
    os.makedirs(deep)
    exe = os.path.join(deep, 'strlib')
    shutil.copy2(ctx.exes['strlib'], exe)
    ctx.check(len(exe) >= 128, 'test assumption: the path is only %d bytes' % len(exe))
    served = served_by_host(ctx, 'strlib', exe, ['--mproc=1'])
    if not served:
        return
    ctx.check(served[0].status == 0, 'worker host at a %d-byte path: exit status %s'
              % (len(exe), served[0].status))
    served_as_serial(ctx, served, 'strlib')


@case('launcher-workers-for-tests')
def launcher_workers_for_tests(ctx):
    """A worker host starts no more workers than its executable has tests: --mproc=512 on
    the slow sample's 12 started 512, all but 12 told to stop at once (issue 10, 9, in a second
    place).  (With a parameterized test the count is unknown there: no cap.)"""
    served = served_by_host(ctx, 'slow', 'slow', ['--mproc=512', '--mproc-verbose'])
    if not served:
        return
    host = served[0]
    ctx.check(host.status == 0, 'worker host: exit status %s' % host.status)
    said = re.search(r'info: (\d+) workers? for ipc://', host.stderr)
    ctx.check(said and said.group(1) == '12', 'the worker host does not say "12 workers for": %s'
              % (said.group(0) if said else None))
    served_by = set(re.findall(r'info: worker (\d+): \d+ tests?, busy', served[2]))
    ctx.check(len(served_by) <= 12, '%d workers for 12 tests' % len(served_by))
    served_as_serial(ctx, served, 'slow')


def main(argv):
    return compare.driver_main(argv, __doc__, CASES, Ctx, ('plugin',))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
