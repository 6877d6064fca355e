#!/usr/bin/env python3
"""End-to-end tests of the criterion-mproc runner (many programs, one pool).

    runner.py --runner EXE --plugin LIB --samples DIR [--build DIR] CASE

Each Criterion binary's share of the runner's output must hold the same test
blocks and Synthesis as that binary's own serial run (-j1), the exit status
must be what the serial runs add up to, and no process of the run may be
left behind.  Exit status: 0 pass, 1 fail, 77 skip, 2 usage error.
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (its console parsing and leftover checks)

HEAD_RE = re.compile(r'^==> (.*) <==$')
SYNTH_RE = re.compile(r'^\[====\] Synthesis: Tested: (\d+) \| Passing: (\d+) \| '
                      r'Failing: (\d+) \| Crashing: (\d+)')
TOTAL_RE = re.compile(r'^\[====\] Synthesis: Tested: (\d+) tests? from (\d+) binar(?:y|ies) \| '
                      r'Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)$')
RUN_TIMEOUT_S = 120

CASES, case = compare.case_registry()


class Ctx:
    def __init__(self, args, tmp):
        self.runner = args['runner']
        self.plugin = args['plugin']
        self.samples = args['samples']
        self.build = args.get('build')
        self.probe = args.get('probe')
        self.jobprobe = args.get('jobprobe')
        self.tmp = tmp
        self.token = uuid.uuid4().hex
        self.env = compare.base_env(tmp, self.token)

    def sample(self, name):
        return os.path.join(self.samples, name)

    def script(self, name, body):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\n' + body + '\n')
        os.chmod(path, 0o755)
        return path

    def run(self, argv, **kw):
        p = subprocess.run(argv, env=self.env, cwd=self.tmp, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors='replace',
                           timeout=RUN_TIMEOUT_S, **kw)
        return p.returncode, p.stdout

    def runner_run(self, args, n=2):
        return self.run([self.runner, '--mproc=%d' % n, '--plugin=' + self.plugin] + args)

    def serial(self, exe, extra=()):
        return self.run([exe, '-j1'] + list(extra))

    def leftovers(self):
        left = compare.wait_gone(compare.find_token_processes(self.token), 10)
        return ['process %d of the run is still alive' % pid for pid in sorted(left)]


def sections(text):
    """The runner's output split by program: {name: [lines]}, and the lines after all."""
    out = collections.defaultdict(list)
    current = None
    tail = []
    for line in text.splitlines():
        m = HEAD_RE.match(line)
        if m:
            current = m.group(1)
            continue
        if line.startswith('[====] Did not pass:') or TOTAL_RE.match(line):
            current = None
        (out[current] if current else tail).append(line)
    return out, tail


def same_blocks(label, serial_text, plugin_lines):
    sb, _ = compare.console_blocks(compare.strip_times(serial_text))
    pb, _ = compare.console_blocks(compare.strip_times('\n'.join(plugin_lines)))
    problems = compare.counter_diff('test block of ' + label, sb, pb)
    ss = [l for l in serial_text.splitlines() if SYNTH_RE.match(l)]
    ps = [l for l in plugin_lines if SYNTH_RE.match(l)]
    if [compare.TIME_RE.sub('', l).strip() for l in ss] != \
            [compare.TIME_RE.sub('', l).strip() for l in ps]:
        problems.append('%s: Synthesis %r, serial %r' % (label, ps, ss))
    return problems


def totals(tail):
    for line in tail:
        m = TOTAL_RE.match(line)
        if m:
            return tuple(int(x) for x in m.groups())
    return None


def synth_counts(text):
    for line in text.splitlines():
        m = SYNTH_RE.match(line)
        if m:
            return tuple(int(x) for x in m.groups())
    return (0, 0, 0, 0)


@case('runner-programs')
def programs(c):
    """Criterion binaries beside plain programs: blocks, totals, exit status, skips."""
    crit = [c.sample('sample_strlib'), c.sample('sample_failing'), c.sample('sample_parser')]
    ok = c.script('ok.sh', 'echo fine; exit 0')
    skip = c.script('skip.sh', 'exit 77')
    bad = c.script('bad.sh', 'echo broken >&2; exit 3')
    status, out = c.runner_run(crit + [ok, skip, bad])
    problems = []
    if status != 1:
        problems.append('exit status %d, want 1 (sample_failing and bad.sh fail)' % status)
    secs, tail = sections(out)
    want = [0, 0, 0, 0]
    for exe in crit:
        s_status, s_out = c.serial(exe)
        problems += same_blocks(os.path.basename(exe), s_out, secs.get(exe, []))
        for i, v in enumerate(synth_counts(s_out)):
            want[i] += v
    if '[PASS] ' + ok not in secs.get(ok, []) or 'fine' not in secs.get(ok, []):
        problems.append('ok.sh: no [PASS] line with its output: %r' % secs.get(ok))
    if '[SKIP] ' + skip not in secs.get(skip, []):
        problems.append('skip.sh (exit 77): no [SKIP] line: %r' % secs.get(skip))
    if '[FAIL] %s: exit status 3' % bad not in secs.get(bad, []) or \
            'broken' not in secs.get(bad, []):
        problems.append('bad.sh: no [FAIL] line with its output: %r' % secs.get(bad))
    # The scripts: one test each (ok passes, bad fails, skip is not tested, as in Criterion).
    want_total = (want[0] + 2, 6, want[1] + 1, want[2] + 1, want[3])
    got = totals(tail)
    if got != want_total:
        problems.append('total %r, want %r' % (got, want_total))
    failed = [l for l in tail if l.startswith('[FAIL] ')]
    if sorted(failed) != sorted(['[FAIL] ' + c.sample('sample_failing'), '[FAIL] ' + bad]):
        problems.append('the recap of programs that did not pass: %r' % failed)
    return problems + c.leftovers()


@case('runner-all-pass')
def all_pass(c):
    """Exit status 0 when every program passes; the total adds the binaries up."""
    crit = [c.sample('sample_strlib'), c.sample('sample_parser')]
    status, out = c.runner_run(crit, n=3)
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    want = [sum(x) for x in zip(*(synth_counts(c.serial(e)[1]) for e in crit))]
    got = totals(sections(out)[1])
    if not got or got[0] != want[0] or got[1] != 2 or got[2] != want[1]:
        problems.append('total %r, want tested %d from 2, passing %d' % (got, want[0], want[1]))
    return problems + c.leftovers()


@case('runner-cannot-start')
def cannot_start(c):
    """A missing and a non-executable program are reported once each; the rest run."""
    missing = os.path.join(c.tmp, 'no-such-binary')
    noexec = os.path.join(c.tmp, 'not-executable')
    with open(noexec, 'w') as f:
        f.write('#!/bin/sh\nexit 0\n')
    status, out = c.runner_run([missing, noexec, c.sample('sample_strlib')])
    problems = [] if status == 1 else ['exit status %d, want 1' % status]
    for path in (missing, noexec):
        said = [l for l in out.splitlines() if path in l and 'cannot start' in l]
        if len(said) != 1:
            problems.append('%s: %d "cannot start" lines, want 1:\n%s' % (path, len(said), out))
    if not any(SYNTH_RE.match(l) for l in sections(out)[0].get(c.sample('sample_strlib'), [])):
        problems.append('sample_strlib did not run:\n' + out)
    # One program alone, that cannot start: the counts read as English.
    status, out = c.runner_run([missing])
    for want in ('[====] 1 of 1 program did not run',
                 '[====] Synthesis: Tested: 0 tests from 1 binary |'):
        if want not in out:
            problems.append('%s alone: no %r:\n%s' % (missing, want, out))
    return problems + c.leftovers()


@case('runner-report-dir')
def report_dir(c):
    """--mproc-report-dir: each binary's TAP, XML and JSON as its serial run writes them."""
    exe = c.sample('sample_failing')
    rdir = os.path.join(c.tmp, 'reports')
    status, out = c.runner_run(['--mproc-report-dir=' + rdir, exe, c.sample('sample_strlib')])
    problems = [] if status == 1 else ['exit status %d, want 1' % status]
    sdir = os.path.join(c.tmp, 'serial')
    os.mkdir(sdir)
    for kind in ('tap', 'xml', 'json'):
        c.serial(exe, ['--%s=%s' % (kind, os.path.join(sdir, 'sample_failing.' + kind))])
    problems += compare.compare_reports(sdir, rdir, {k: 'sample_failing.' + k
                                                     for k in ('tap', 'xml', 'json')})
    for k in ('tap', 'xml', 'json'):
        if not os.path.exists(os.path.join(rdir, 'sample_strlib.' + k)):
            problems.append('no sample_strlib.%s in the report directory' % k)
    return problems + c.leftovers()


MESON_BUILD = """project('pooled', 'c')
crit = dependency('criterion')
exe = executable('strlib_tests', 'strlib.c', 'test_strlib.c', dependencies: crit)
test('strlib', exe, args: ['-j1', '--short-filename'], suite: 'crit')
sh = find_program('sh')
test('script', sh, args: ['-c', 'echo "$GREETING from $(pwd)"'], env: {'GREETING': 'hello'},
  workdir: '%(workdir)s', suite: 'plain')
test('alone', sh, args: ['-c', 'echo alone'], is_parallel: false, suite: ['plain', 'serial'])
test('skipped', sh, args: ['-c', 'exit 77'], suite: 'plain')
"""


@case('runner-meson')
def meson_dir(c):
    """--meson BUILDDIR: a meson project built here: env, workdir, is_parallel, suites."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'sample_tests', 'strlib')
    proj = os.path.join(c.tmp, 'proj')
    os.mkdir(proj)
    for f in ('strlib.c', 'strlib.h', 'test_strlib.c'):
        shutil.copy(os.path.join(src, f), proj)
    with open(os.path.join(proj, 'meson.build'), 'w') as f:
        f.write(MESON_BUILD % {'workdir': c.tmp})
    bdir = os.path.join(proj, 'build')
    for argv in (['meson', 'setup', bdir, proj], ['meson', 'compile', '-C', bdir]):
        st, out = c.run(argv)
        if st:
            return ['%s failed:\n%s' % (' '.join(argv), out)]
    status, out = c.runner_run(['--meson', bdir])
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    secs, tail = sections(out)
    s_status, s_out = c.serial(os.path.join(bdir, 'strlib_tests'), ['--short-filename'])
    problems += same_blocks('strlib', s_out, secs.get('strlib', []))
    if 'hello from %s' % c.tmp not in secs.get('script', []):
        problems.append('the script test did not get its env and workdir:\n' + out)
    if '[SKIP] skipped' not in secs.get('skipped', []):
        problems.append('exit status 77 is not [SKIP]:\n' + out)
    order = [m.group(1) for m in map(HEAD_RE.match, out.splitlines()) if m]
    if not order or order[-1] != 'alone':
        problems.append('is_parallel: false must run alone, after the others: %r' % order)
    got = totals(tail)
    if not got or got[1] != 4:
        problems.append('total %r, want 4 programs' % (got,))
    status, out = c.runner_run(['--meson', bdir, '--suite', 'plain', '--exclude', 'serial'])
    got = totals(sections(out)[1])
    if status != 0 or not got or got[1] != 2:
        problems.append('--suite plain --exclude serial: status %d, total %r, want 2 programs'
                        % (status, got))
    # A suite no test is in: say so, not "name programs" (there were some).
    status, out = c.runner_run(['--meson', bdir, '--suite', 'nosuch'])
    if status != 2 or 'select none of the 4 tests' not in out:
        problems.append('--suite nosuch: status %d, want 2 with "select none of the 4 tests":\n%s'
                        % (status, out))
    return problems + c.leftovers()


CMAKE_LISTS = '''cmake_minimum_required(VERSION 3.13)
project(pooled C)
enable_testing()
find_library(CRITERION criterion REQUIRED)
add_executable(strlib_tests %(src)s/strlib/strlib.c %(src)s/strlib/test_strlib.c)
target_link_libraries(strlib_tests ${CRITERION})
add_test(NAME strlib COMMAND strlib_tests)
set_tests_properties(strlib PROPERTIES LABELS "crit")
add_test(NAME script COMMAND sh -c "echo scripted; exit 0")
set_tests_properties(script PROPERTIES LABELS "plain")
add_test(NAME skipped COMMAND sh -c "exit 77")
set_tests_properties(skipped PROPERTIES LABELS "plain" SKIP_RETURN_CODE 77)
'''


@case('runner-ctest')
def ctest_dir(c):
    """--ctest BUILDDIR: a CMake project built here; labels select."""
    if not shutil.which('cmake') or not shutil.which('ctest'):
        return 77
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'sample_tests')
    proj = os.path.join(c.tmp, 'proj')
    os.mkdir(proj)
    with open(os.path.join(proj, 'CMakeLists.txt'), 'w') as f:
        f.write(CMAKE_LISTS % {'src': os.path.abspath(src)})
    bdir = os.path.join(proj, 'build')
    for argv in (['cmake', '-S', proj, '-B', bdir], ['cmake', '--build', bdir]):
        st, out = c.run(argv)
        if st:
            return ['%s failed:\n%s' % (' '.join(argv), out)]
    status, out = c.runner_run(['--ctest', bdir])
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    secs, tail = sections(out)
    s_status, s_out = c.serial(os.path.join(bdir, 'strlib_tests'))
    problems += same_blocks('strlib', s_out, secs.get('strlib', []))
    if 'scripted' not in secs.get('script', []):
        problems.append('the script test did not run:\n' + out)
    if '[SKIP] skipped' not in secs.get('skipped', []):
        problems.append('the skipped test is not [SKIP]:\n' + out)
    status, out = c.runner_run(['--ctest', bdir, '--suite', 'plain'])
    got = totals(sections(out)[1])
    if status != 0 or not got or got[1] != 2:
        problems.append('--suite plain: status %d, total %r, want 2 programs' % (status, got))
    return problems + c.leftovers()


@case('runner-interrupt')
def interrupt(c):
    """SIGINT reaches every program; the runner waits for them and exits 128+2."""
    fifo = os.path.join(c.tmp, 'started')
    os.mkfifo(fifo)
    hang = c.script('hang.sh', 'echo up > %s; exec sleep 600' % fifo)
    p = subprocess.Popen([c.runner, '--mproc=2', '--plugin=' + c.plugin, hang,
                          c.sample('sample_strlib')], env=c.env, cwd=c.tmp,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(fifo) as f:       # blocks until the program is up: an event, not a sleep
        f.read()
    p.send_signal(signal.SIGINT)
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return ['the runner did not end within 60 s of SIGINT:\n' + out] + c.leftovers()
    problems = [] if p.returncode == 130 else ['exit status %d, want 130:\n%s' % (p.returncode, out)]
    if '[FAIL] %s: CRASH! (signal 2' % hang not in out:
        problems.append('the hanging program was not reported as ended by SIGINT:\n' + out)
    return problems + c.leftovers()


@case('runner-timeout')
def timeout(c):
    """A listed test's timeout ends its program, reported as timed out; the rest run."""
    if not shutil.which('cmake') or not shutil.which('ctest'):
        return 77
    proj = os.path.join(c.tmp, 'proj')
    os.mkdir(proj)
    with open(os.path.join(proj, 'CMakeLists.txt'), 'w') as f:
        f.write('cmake_minimum_required(VERSION 3.13)\nproject(t NONE)\nenable_testing()\n'
                'add_test(NAME hangs COMMAND sleep 600)\n'
                'set_tests_properties(hangs PROPERTIES TIMEOUT 1)\n'
                'add_test(NAME quick COMMAND true)\n')
    bdir = os.path.join(proj, 'build')
    st, out = c.run(['cmake', '-S', proj, '-B', bdir])
    if st:
        return ['cmake failed:\n' + out]
    status, out = c.runner_run(['--ctest', bdir])
    problems = [] if status == 1 else ['exit status %d, want 1:\n%s' % (status, out)]
    if '[FAIL] hangs: timed out after 1s' not in out or '[PASS] quick' not in out:
        problems.append('want hangs timed out and quick passed:\n' + out)
    return problems + c.leftovers()


SLOTS_MESON = """project('slots')
probe = find_program('%(probe)s')
test('a', probe, env: {'ENVPROBE_LOG': '%(tmp)s/a.log', 'ENVPROBE_DIR': '%(tmp)s'})
test('b', probe, env: {'ENVPROBE_LOG': '%(tmp)s/b.log', 'ENVPROBE_DIR': '%(tmp)s'})
"""


@case('runner-slots')
def slots(c):
    """Two binaries at once: CRITERION_MPROC_SLOT never the same in both (0-1 and 2-3)."""
    if not c.probe:
        return ['--probe is needed']
    proj = os.path.join(c.tmp, 'proj')
    os.mkdir(proj)
    with open(os.path.join(proj, 'meson.build'), 'w') as f:
        f.write(SLOTS_MESON % {'probe': c.probe, 'tmp': c.tmp})
    st, out = c.run(['meson', 'setup', os.path.join(proj, 'build'), proj])
    if st:
        return ['meson setup failed:\n' + out]
    status, out = c.runner_run(['--meson', os.path.join(proj, 'build')])
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    seen = {}
    for name in ('a', 'b'):
        try:
            with open(os.path.join(c.tmp, name + '.log')) as f:
                seen[name] = {int(m.group(1)) for m in re.finditer(r' slot=(\d+) ', f.read())}
        except OSError:
            return problems + ['%s recorded no slot:\n%s' % (name, out)]
    ranges = sorted((min(v) // 2, v) for v in seen.values())
    if [r for r, _ in ranges] != [0, 1] or any(min(v) // 2 != max(v) // 2 for _, v in ranges):
        problems.append('slots %r: want one program in 0-1 and the other in 2-3' % seen)
    return problems + c.leftovers()


@case('runner-history')
def history(c):
    """The second run starts the program that took longest last time first."""
    quick = c.script('quick.sh', 'exit 0')
    slow = c.script('slow.sh', 'sleep 1')
    problems = []
    for want in ([quick, slow], [slow, quick]):
        status, out = c.runner_run([quick, slow], n=1)
        order = [m.group(1) for m in map(HEAD_RE.match, out.splitlines()) if m]
        if status != 0 or order != want:
            problems.append('status %d, order %r, want %r' % (status, order, want))
    return problems + c.leftovers()


def probe_setup(c, copies, hold_ms):
    """test/jobprobe.c's counting directory (limit 2) and copies of the probe binary:
    the paths of the copies, and a function that reads (running now, most at once)."""
    pdir = os.path.join(c.tmp, 'probe')
    os.mkdir(pdir)
    c.env.update(CRMP_PROBE_DIR=pdir, CRMP_PROBE_LIMIT='2', CRMP_PROBE_HOLD_MS=str(hold_ms))
    paths = []
    for i in range(copies):
        paths.append(os.path.join(c.tmp, 'jobprobe%d' % i))
        shutil.copy(c.jobprobe, paths[-1])

    def counts():
        with open(os.path.join(pdir, 'state')) as f:
            return tuple(int(x) for x in f.read().split()[:2])
    return paths, counts


@case('runner-concurrency')
def concurrency(c):
    """Three binaries of 8 tests and a script on 2 slots: never more than 2 things at once,
    and 2 at once at some point (test/jobprobe.c counts them)."""
    if not c.jobprobe:
        return ['--jobprobe is needed']
    copies, counts = probe_setup(c, 3, 150)
    script = c.script('counted.sh', 'exec %s --filter="probe/t0"' % copies[0])
    status, out = c.runner_run(copies + [script], n=2)
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    running, most = counts()
    if most != 2 or running != 0:
        problems.append('at most %d ran at once (want exactly 2), %d still counted' % (most, running))
    got = totals(sections(out)[1])
    if not got or got[0] != 3 * 9 + 1:
        problems.append('total %r, want 28 tests' % (got,))
    return problems + c.leftovers()


def one_slot_three(c, hold_ms):
    """Three probe binaries (3 tests each) on one slot, with -v: the run's output and what
    went wrong with what every such run must keep (never 2 tests at once, 9 tests)."""
    copies, counts = probe_setup(c, 3, hold_ms)
    c.env['CRMP_PROBE_LIMIT'] = '1'
    status, out = c.run([c.runner, '-v', '--mproc=1', '--plugin=' + c.plugin] + copies
                        + ['--', '--filter=probe/t[0-2]'])
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    running, most = counts()
    if most != 1 or running != 0:
        problems.append('%d ran at once on 1 slot (want 1), %d still counted' % (most, running))
    got = totals(sections(out)[1])
    if not got or got[0] != 3 * 3:
        problems.append('total %r, want 9 tests' % (got,))
    return out, problems


@case('runner-early-start')
def early_start(c):
    """One slot, three binaries: the next ones start up before a slot is free for them (so
    that their start-up takes no slot's time), yet none runs a test before it has the slot:
    never 2 tests at once (test/jobprobe.c counts them), slots handed out in start order."""
    if not c.jobprobe:
        return ['--jobprobe is needed']
    out, problems = one_slot_three(c, 300)
    early = re.findall(r'runner: started (\S+) \(pid \d+\), before its slot', out)
    granted = re.findall(r'runner: (\S+) has its slot', out)
    if len(early) < 1 or granted != early:
        problems.append('started before their slot: %r, slots given to %r (want the same, '
                        'at least one):\n%s' % (early, granted, out))
    return problems + c.leftovers()


@case('runner-slot-back')
def slot_back(c):
    """One slot, three binaries: each gives its slot back when its last test is handed out,
    before its end (its workers' exits, its reports), and the next one gets it then: the
    slot never idles through a binary's end; still never 2 tests at once."""
    if not c.jobprobe:
        return ['--jobprobe is needed']
    out, problems = one_slot_three(c, 100)
    events = re.findall(r'runner: (\S+) (gave its slot back|has its slot)', out)
    back = [name for name, what in events if what.startswith('gave')]
    if len(back) != 3 or len(set(back)) != 3:
        problems.append('slots given back by %r, want all 3 binaries:\n%s' % (back, out))
    # Each grant on the one slot follows the give-back of the binary that held it.
    held = 1
    for name, what in events:
        held += 1 if what == 'has its slot' else -1
        if held > 1:
            problems.append('%s had the slot while another held it:\n%s' % (name, out))
            break
    return problems + c.leftovers()


@case('runner-leaks')
def leaks(c):
    """A test that leaves processes running: the runner's recap lists it after the failures,
    qualified by its program, as the binary's own recap does (LEAK  PROGRAM/SUITE::TEST
    commands); the program's [LEAK] line is relayed as it is."""
    if not c.probe:
        return ['--probe is needed']
    c.env.update(ENVPROBE_LEAK='1', ENVPROBE_DIR=c.tmp)
    status, out = c.runner_run(['--mproc-recap=on', c.probe, '--', '--filter=leak/*'])
    problems = [] if status == 0 else ['exit status %d, want 0:\n%s' % (status, out)]
    if not re.search(r'^\[LEAK\] leak::leaves_processes', out, re.M):
        problems.append('no [LEAK] line relayed:\n' + out)
    heads = re.findall(r'^criterion-mproc: (\d+) tests? left processes running:$', out, re.M)
    lines = re.findall(r'^criterion-mproc:   LEAK    (\S+)  (.*)$', out, re.M)
    if heads != ['1'] or len(lines) != 1 or lines[0][0] != c.probe + '/leak::leaves_processes' \
            or 'sleep 1000' not in lines[0][1]:
        problems.append('the recap\'s leaks: %r %r, want one LEAK line for %s/leak::'
                        'leaves_processes naming sleep 1000:\n%s' % (heads, lines, c.probe, out))
    return problems + c.leftovers()


@case('runner-under-make')
def under_make(c):
    """Under make -j2 beside another job, the runner takes make's tokens: still 2 at once
    (its own jobserver would run 3: 2 of its own and make's other job)."""
    if not c.jobprobe or not shutil.which('make'):
        return 77 if c.jobprobe else ['--jobprobe is needed']
    # Each probe holds 1 s unless it sees the limit broken, so that the jobs overlap.
    copies, counts = probe_setup(c, 2, 1000)
    with open(os.path.join(c.tmp, 'Makefile'), 'w') as f:
        f.write("all: pool other\npool:\n\t+%s --mproc=2 --plugin=%s %s -- --filter='probe/t[0-3]'\n"
                "other:\n\t%s -j1 --filter='probe/t[0-2]'\n"
                % (c.runner, c.plugin, ' '.join(copies), copies[0]))
    status, out = c.run(['make', '-j2', '-s'])
    problems = [] if status == 0 else ['make exited %d:\n%s' % (status, out)]
    running, most = counts()
    if most > 2 or running != 0:
        problems.append('%d ran at once under make -j2, %d still counted:\n%s'
                        % (most, running, out))
    return problems + c.leftovers()


@case('runner-junit')
def junit(c):
    """--mproc-junit: one report, each binary's suites named BINARY/SUITE with its own cases,
    a testsuite for each program judged by its exit status; counts consistent."""
    import xml.etree.ElementTree as ET
    crit = [c.sample('sample_strlib'), c.sample('sample_failing')]
    bad = c.script('bad.sh', 'exit 3')
    skip = c.script('skip.sh', 'exit 77')
    report = os.path.join(c.tmp, 'all.xml')
    status, out = c.runner_run(['--mproc-junit=' + report] + crit + [bad, skip])
    problems = [] if status == 1 else ['exit status %d, want 1' % status]
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError) as e:
        return problems + ['no readable report: %s\n%s' % (e, out)]
    suites = {s.get('name'): s for s in root.findall('testsuite')}
    for exe in crit:
        mine = [n for n in suites if n.startswith(exe + '/')]
        if not mine:
            problems.append('no testsuite named %s/SUITE in %r' % (exe, sorted(suites)))
        for n in mine:
            cases = suites[n].findall('testcase')
            if int(suites[n].get('tests')) != len(cases):
                problems.append('%s: tests=%s over %d testcases' % (n, suites[n].get('tests'),
                                                                    len(cases)))
            if any(tc.get('classname') != n for tc in cases):
                problems.append('%s: a testcase classname is not the qualified suite' % n)
    serial_total = sum(synth_counts(c.serial(e)[1])[0] for e in crit)
    crit_cases = sum(len(suites[n].findall('testcase')) for n in suites if n not in (bad, skip))
    if crit_cases != serial_total:
        problems.append('%d testcases from the binaries, their serial runs tested %d'
                        % (crit_cases, serial_total))
    b_suite, s_suite = suites.get(bad), suites.get(skip)
    if b_suite is None or b_suite.find('testcase/failure') is None or \
            b_suite.find('testcase/failure').get('message') != 'exit status 3':
        problems.append('bad.sh: want one testcase with failure "exit status 3"')
    if s_suite is None or s_suite.find('testcase/skipped') is None or s_suite.get('skipped') != '1':
        problems.append('skip.sh: want one skipped testcase')
    return problems + c.leftovers()


@case('runner-output-edges')
def output_edges(c):
    """A program that closes its output and runs on costs the runner no CPU (it spun on the
    closed pipe before); one that prints 3 MB is relayed whole, in pieces of whole lines."""
    import resource
    quiet = c.script('quiet.sh', 'exec >&- 2>&-; sleep 2')
    loud = c.script('loud.sh', "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 99")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    status, out = c.runner_run([quiet, loud])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    problems = [] if status == 0 else ['exit status %d, want 0' % status]
    if cpu > 1.0:
        problems.append('the runner and its programs used %.2f s of CPU for a 2 s sleep' % cpu)
    lines = sections(out)[0].get(loud, [])
    xs = sum(len(l) for l in lines if set(l) == {'x'})
    if xs != 3000000 or any(set(l) == {'x'} and len(l) != 99 for l in lines[:-2]):
        problems.append('loud.sh: %d of 3000000 bytes relayed, lines cut' % xs)
    return problems + c.leftovers()


@case('runner-usage')
def usage(c):
    """Bad options: one clear line and exit 2; nothing to run is an error too."""
    problems = []
    for args, want in ((['--mproc=zero', '/bin/true'], '--mproc=zero'),
                       (['--bogus', '/bin/true'], 'unknown option --bogus'),
                       (['--meson', 'a', '--ctest', 'b'], 'cannot be combined'),
                       (['--timeout-multiplier=-1', '/bin/true'], '--timeout-multiplier'),
                       ([], 'no test to run'),
                       (['--meson', c.tmp], 'meson introspect')):
        status, out = c.run([c.runner] + args)
        if status != 2 or want not in out:
            problems.append('%r: status %d, want 2 with %r:\n%s' % (args, status, want, out))
    return problems


def main(argv):
    args, name = {}, None
    it = iter(argv[1:])
    for a in it:
        if a.startswith('--'):
            args[a[2:]] = os.path.abspath(next(it))
        else:
            name = a
    if name not in CASES or not all(k in args for k in ('runner', 'plugin', 'samples')):
        print(__doc__, file=sys.stderr)
        return 2
    compare.unwind_on_sigterm()
    tmp = tempfile.mkdtemp(prefix='crmp-runner-')
    try:
        problems = CASES[name](Ctx(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if problems == 77:
        print('%s: skipped' % name)
        return 77
    if problems:
        print('%s: FAILED\n%s' % (name, '\n'.join(problems)))
        return 1
    print('%s: ok' % name)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
