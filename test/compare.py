#!/usr/bin/env python3
"""End-to-end comparison of a Criterion test binary run serially and through
criterion-mproc.

    compare.py --plugin LIB --exe EXE [options] [-- PLUGIN-ONLY-ARGS...]

The serial run is `EXE -j1 BOTH-ARGS` without the plugin; the plugin run is
`EXE BOTH-ARGS PLUGIN-ONLY-ARGS` with the plugin preloaded (--mode preload) or
linked into EXE (--mode linked), plus any --env. Both run in a fixed
environment, each in its own temporary directory with its own TMPDIR.

Compared, after removing times such as "(0.01s)":
  - the exit status;
  - stderr as a multiset of per-test blocks (a test's assertion lines and its
    [PASS]/[FAIL]/[SKIP] line, with the test's own output printed among them
    in its place, or [RUN ]..status with --verbose) plus a multiset of the
    remaining lines; stdout as a multiset of lines;
  - the plugin's recap, the last lines after the Synthesis: one line per test
    the serial run failed, crashed or timed out, with the first assertion's
    file:line, the path exactly as the console printed it, and none with
    --mproc-recap=off; it is then left out of the
    console comparison (the golden form checks it against its own run's blocks);
  - with --reports (--tap=F...), --reports-option (-Otap:F...), --reports-env
    (CRITERION_OUTPUTS) or --reports-dir (--tap=DIR...), the TAP, XML and JSON reports: per
    test status, assertion count and messages, and the suite and global
    counters.  The plugin's JSON must be valid JSON (Criterion's own is not
    always: it does not escape quotes).
After the plugin run, no process of the run may remain and its TMPDIR must be
empty (no criterion-mproc.* directory left behind).  The durations file the
plugin's coordinator writes (or, with durations off, one more run at
--mproc-verbose=2 printing the plugin's info lines) proves that it engaged
(not checked with --exact, for runs where it must not).

Options:
  --both ARG          an argument for both runs (repeatable; ARG may start with -)
  --env K=V           environment for the plugin run only (repeatable)
  --env-both K=V      environment for both runs (repeatable)
  --file REL          also compare file REL (relative to each run's directory)
                      as a multiset of lines: a report of the binary's own provider
  --exact             compare stderr/stdout line by line instead (deterministic
                      runs only, e.g. -j1 with the plugin preloaded but off)
  --no-engage-check   skip the --mproc-verbose=2 run (for runs that must stop
                      before any test, e.g. on a bad --filter pattern)
  --expect-note TEXT  the plugin run must print exactly one criterion-mproc warning
                      containing TEXT (a mode its release cannot serve); it is
                      left out of the comparison
  --golden FILE       compare one run (plugin args after --) against FILE, in
                      the canonical form; --mode plain runs without the plugin
  --update-golden     rewrite FILE instead
Exit status: 0 same, 1 different, 2 usage or environment error.
"""

import collections
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET

RUN_TIMEOUT_S = 45
SLOW_RE = re.compile(r'^(\x1b\[[0-9;]*m)*\[SLOW\] ')

TIME_RE = re.compile(r' ?\(\d+(?:\.\d+)?s\)|(?<= time=")\d+\.\d+(?=")')
# The test process's pid in Criterion 2.3.3's protocol error lines ("[PID 5292]: Expected message to
# change to state 'end'...", an assertion in a .fini): another process each run, serial or not.
PID_RE = re.compile(r'(?<=\[PID )\d+(?=\]: )')
STATUS_RE = re.compile(r'^\[(?:PASS|FAIL|SKIP)\] ')
RUN_RE = re.compile(r'^\[RUN \] ')
# Lines Criterion prints for a failed test before its status line.
ASSERT_LOC_RE = re.compile(r'^\[----\] \S+:\d+: ')
ASSERT_CONT_RE = re.compile(r'^\[----\]   ')
# Any line Criterion's logger prints; the others are the tests' own output.
CRITERION_LINE_RE = re.compile(r'^\[[A-Z=\- ]{4}\] ')
ENGAGED_RE = re.compile(r'^criterion-mproc\[\d+\]: info: ', re.M)
# A test's kept CRITERION_MPROC_TMPDIR (--mproc-keep-tmp): the plugin's own line, no difference
# from a serial run; the directory it names is the run's to leave, and removed by the check.
KEPT_RE = re.compile(r'^\[KEPT\] \S+: (/.*)$', re.M)
SYNTHESIS_RE = re.compile(r'^\[====\] Synthesis: ')
FAIL_LINE_RE = re.compile(r'^\[FAIL\] (.+?)(?::(?: (CRASH!|Timed out\.))?)?$')
SETUP_CRASH_RE = re.compile(r'^\[----\] Warning! The test `(.+)` (crashed|exited) during its setup '
                            r'or teardown\.$')
ANSI_RE = re.compile(r'\x1b\[[0-9;]*m')
# The path as printed: the recap must name the file exactly as the console did.
LOC_RE = re.compile(r'^\[----\] (\S+:\d+): ')
# The plugin's recap (plugin/recap.c): a header, one line per test, the efficiency line.
RECAP_HEAD_RE = re.compile(r'^criterion-mproc: (\d+) tests? failed, crashed or timed out:$')
RECAP_LINE_RE = re.compile(r'^criterion-mproc:   (FAIL|CRASH|TIMEOUT) +(\S+?)(?: \[param \d+\])?'
                           r'(?:  (.*))?$')
RECAP_EFF_RE = re.compile(r'^criterion-mproc: \d+\.\ds on \d+ workers?, lower bound \d+\.\ds: '
                          r'efficiency \d+%$')
PATH_RE = re.compile(r'[^\s"`\'(]*/([^/\s"`\']+\.(?:c|cc|cpp|h|hpp):\d+)')


class Failure(Exception):
    pass


# ---- running -------------------------------------------------------------------

def base_env(tmpdir, token):
    env = {
        'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
        'TERM': 'dumb',
        'LC_ALL': 'C.UTF-8',
        'TMPDIR': tmpdir,
        'CRMP_E2E_TOKEN': token,
    }
    for k, v in os.environ.items():
        if k.endswith('SAN_OPTIONS') or k == 'MALLOC_PERTURB_':
            env[k] = v
    return env


def find_token_processes(token):
    """Pids of live processes whose environment holds our token."""
    needle = ('CRMP_E2E_TOKEN=' + token).encode()
    found = []
    me = os.getpid()
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open('/proc/%s/environ' % name, 'rb') as f:
                data = f.read()
        except OSError:
            continue
        if needle in data.split(b'\0'):
            found.append(int(name))
    return found


def wait_gone(pids, timeout_s):
    """Waits (on pidfds, no polling loop) until pids exit; returns those left."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except OSError:
            pass    # already gone
    left = set()
    try:
        pending = dict(fds)
        while pending:
            ready, _, _ = select.select(list(pending), [], [], timeout_s)
            if not ready:
                left = set(pending.values())
                break
            for fd in ready:
                del pending[fd]
    finally:
        for fd in fds:
            os.close(fd)
    return left


class Run:
    def __init__(self, label, argv, env, cwd):
        self.label = label
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.status = None
        self.stdout = ''
        self.stderr = ''

    def describe(self):
        extra = {k: v for k, v in self.env.items()
                 if k in ('LD_PRELOAD', 'CRITERION_MPROC') or k.startswith('CRITERION_')}
        envs = ' '.join('%s=%s' % kv for kv in sorted(extra.items()))
        return '%s%s%s' % (envs, ' ' if envs else '', ' '.join(self.argv))


def case_registry():
    """The test drivers' named cases: a dict, and the decorator @case('name') that fills it."""
    cases = {}

    def case(name):
        def register(fn):
            cases[name] = fn
            return fn
        return register
    return cases, case


def unwind_on_sigterm():
    """meson test ends a test past its timeout with SIGTERM.  Unwind instead of dying: a
    subprocess.run in progress kills its child, and the drivers' finally blocks end and remove
    what the case started (machine-tokens-back, killed under load, left its probes running)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


SKIP = 77


def driver_main(argv, doc, cases, make_ctx, required):
    """A test driver's main: runs the one named case on make_ctx(args), whose finish() is the
    exit status, and runs finish() also when the case raises or the driver is terminated; 2 with
    the usage when the case is unknown or a required --name is missing; 77 when the case returned
    77 (it cannot run here) and finish() found nothing wrong."""
    args, rest = driver_args(argv)
    if len(rest) != 1 or rest[0] not in cases or any(k not in args for k in required):
        print(doc + '\ncases: ' + ' '.join(sorted(cases)))
        return 2
    unwind_on_sigterm()
    ctx = make_ctx(args)
    outcome = None
    try:
        outcome = cases[rest[0]](ctx)
    finally:
        status = ctx.finish()
    return SKIP if outcome == SKIP and status == 0 else status


def driver_args(argv):
    """'--name value' pairs and the remaining words, for the test drivers."""
    opts, rest, i = {}, [], 1
    while i < len(argv):
        if argv[i].startswith('--') and i + 1 < len(argv):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    return opts, rest


def remove_kept(label, stderr):
    """Removes the kept test directories stderr names; a named one that is missing is a problem."""
    problems = []
    for path in KEPT_RE.findall(stderr or ''):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            problems.append('%s: [KEPT] names %s, which is not a directory' % (label, path))
    return problems


def leftover_problems(label, env, stderr=''):
    """What a finished run left behind: processes (killed here) and TMPDIR entries (but the
    kept test directories stderr names, removed here)."""
    problems = remove_kept(label, stderr)
    left = wait_gone(find_token_processes(env['CRMP_E2E_TOKEN']), 5.0)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        problems.append('%s: %d process(es) of the run still alive after it exited: %s'
                        % (label, len(left), sorted(left)))
    # A run may be given a TMPDIR that is missing or not a directory on purpose.
    tmp_left = sorted(os.listdir(env['TMPDIR'])) if os.path.isdir(env['TMPDIR']) else []
    if tmp_left:
        problems.append('%s: left in TMPDIR: %s' % (label, tmp_left))
    return problems


# ---- reference runs, shared between tests ------------------------------------------

# Environment that differs from one test to the next without changing what Criterion alone
# prints: the run's own TMPDIR and token, and the byte meson fills fresh memory with.
UNKEYED_ENV = ('TMPDIR', 'CRMP_E2E_TOKEN', 'MALLOC_PERTURB_')
CACHE_FORMAT = 1


def _stamp(path):
    st = os.stat(path)
    return [os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns]


def _libraries(exe, env):
    """Each shared library exe loads (ldd, in the run's environment), stamped: a rebuilt plugin
    linked into the binary, or another libcriterion, is another reference run."""
    p = subprocess.run(['ldd', exe], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       check=False)
    stamps = []
    for line in p.stdout.decode('utf-8', 'replace').splitlines():
        m = re.search(r'(/\S+) \(0x', line)
        if m and os.path.exists(m.group(1)):
            stamps.append(_stamp(m.group(1)))
    return sorted(stamps)


def _tree(root):
    """(relative path, bytes) of every file under root, sorted: the run's inputs."""
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            with open(path, 'rb') as f:
                files.append((os.path.relpath(path, root), f.read().hex()))
    dirs = sorted(os.path.relpath(d, root) for d, _, _ in os.walk(root))
    return [sorted(files), dirs]


def reference_key(run):
    """What a run without the plugin depends on: its command, environment, binary, libraries
    and the files it starts with.  None when not cacheable."""
    env = sorted((k, v) for k, v in run.env.items() if k not in UNKEYED_ENV)
    try:
        what = [CACHE_FORMAT, run.argv, env, _stamp(run.argv[0]), _libraries(run.argv[0], run.env),
                _tree(run.cwd)]
    except OSError:
        return None
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()


def execute_reference(run):
    """Runs a reference (plugin-free) run, or takes it from an earlier identical one.

    Several tests compare the plugin against the same serial run of the same binary (one sample
    in three isolation and worker-count variants, say): under $CRMP_COMPARE_CACHE, the first
    one's status, output and files are kept and the others reuse them (a release build's suite
    reuses 8 of its 20 serial runs).  The key holds everything the serial run depends on (see reference_key), so
    a rebuilt binary or library runs it again.  A run that did not end normally is not kept.
    Concurrent tests with one key wait for the first (flock), instead of running it twice."""
    cache = os.environ.get('CRMP_COMPARE_CACHE')
    key = reference_key(run) if cache else None
    if not key:
        return execute(run, check_leftovers=False, serial=True)
    os.makedirs(cache, exist_ok=True)
    entry = os.path.join(cache, key)
    with open(entry + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta = os.path.join(entry, 'run.json')
        if os.path.exists(meta):
            with open(meta, encoding='utf-8') as f:
                saved = json.load(f)
            run.status, run.stdout, run.stderr = saved['status'], saved['stdout'], saved['stderr']
            shutil.copytree(os.path.join(entry, 'cwd'), run.cwd, dirs_exist_ok=True)
            print('%s: the reference run of an earlier test (%s)' % (run.label, key[:12]))
            return []
        problems = execute(run, check_leftovers=False, serial=True)
        if problems or run.status < 0 or run.status >= 128:
            return problems
        part = tempfile.mkdtemp(dir=cache, prefix='part-')
        shutil.copytree(run.cwd, os.path.join(part, 'cwd'), dirs_exist_ok=True)
        with open(os.path.join(part, 'run.json'), 'w', encoding='utf-8') as f:
            json.dump({'status': run.status, 'stdout': run.stdout, 'stderr': run.stderr}, f)
        os.rename(part, entry)
        return problems


def criterion_socket_left(pid, remove, since):
    """Whether the run whose first process was pid, started at since (time.time()), left
    Criterion's /tmp/criterion_<pid>.sock.  Criterion's own runner leaves it when its run ends
    early (a --fail-fast stop, SIGINT): a serial run's is removed (remove), so that the suite
    leaves nothing in /tmp; the plugin's coordinator must leave none.  An older socket of that
    name is another process's, of an earlier pid of that number: not counted, not touched (the
    slack is the file system's coarse clock)."""
    path = '/tmp/criterion_%d.sock' % pid
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(st.st_mode) or st.st_mtime < since - 0.1:
        return False
    if remove:
        os.unlink(path)
    return True


def execute(run, check_leftovers=True, serial=False):
    """Runs run to its end.  serial: a run without the plugin, whose leftovers are Criterion's
    (removed, not checked)."""
    token = run.env['CRMP_E2E_TOKEN']
    started = time.time()
    with subprocess.Popen(run.argv, env=run.env, cwd=run.cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        try:
            out, err = p.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            for pid in find_token_processes(token):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            p.kill()
            p.wait()
            raise Failure('%s: still running after %ds: %s' % (run.label, RUN_TIMEOUT_S,
                                                             run.describe())) from e
    run.status = p.returncode
    run.stdout = out.decode('utf-8', 'replace')
    run.stderr = err.decode('utf-8', 'replace')
    problems = []
    socket_left = criterion_socket_left(p.pid, serial, started)
    if check_leftovers:
        problems.extend(leftover_problems(run.label, run.env, run.stderr))
        if socket_left and not serial:
            problems.append('%s: left /tmp/criterion_%d.sock' % (run.label, p.pid))
    return problems


# ---- console ---------------------------------------------------------------------

def strip_times(text):
    """Lines without their durations and test process pids, and without the plugin's [SLOW] and
    [KEPT] lines: a [SLOW] line says how long a test ran on that run, printed between blocks; a
    [KEPT] line names a kept test directory."""
    return [PID_RE.sub('N', TIME_RE.sub('', line)) for line in text.splitlines()
            if not SLOW_RE.match(line) and not KEPT_RE.match(line)]


def console_blocks(lines):
    """Splits console lines into (Counter of per-test blocks, Counter of the rest)."""
    blocks = collections.Counter()
    loose = collections.Counter()
    pending = []
    for line in lines:
        if not STATUS_RE.match(line):
            pending.append(line)
            continue
        start = None
        for i in range(len(pending) - 1, -1, -1):
            if RUN_RE.match(pending[i]):
                start = i
                break
        if start is None:
            # Back over the test's assertion lines and its own output among them: where a
            # serial run prints that output (after which assertion, before the crash line) is
            # part of the block.  What comes before its first assertion line may be another
            # test's (a passing one prints no line of its own): left loose.
            start = i = len(pending)
            while i > 0 and (ASSERT_CONT_RE.match(pending[i - 1])
                             or ASSERT_LOC_RE.match(pending[i - 1])
                             or not CRITERION_LINE_RE.match(pending[i - 1])):
                i -= 1
                if CRITERION_LINE_RE.match(pending[i]):
                    start = i
        blocks[tuple(pending[start:] + [line])] += 1
        loose.update(pending[:start])
        pending = []
    loose.update(pending)
    return blocks, loose


def split_recap(lines):
    """The plugin's recap taken out of its console lines: (the other lines, the recap's test
    lines, problems with its shape or place).  It is the last thing printed, after the
    Synthesis."""
    problems = []
    start = next((i for i, l in enumerate(lines)
                  if RECAP_HEAD_RE.match(l) or RECAP_EFF_RE.match(l)), len(lines))
    rest, tail = lines[:start], lines[start:]
    if tail and not any(SYNTHESIS_RE.match(ANSI_RE.sub('', l)) for l in rest):
        problems.append('recap printed before the Synthesis')
    entries = []
    head = RECAP_HEAD_RE.match(tail[0]) if tail else None
    body = tail[1:] if head else tail
    for i, line in enumerate(body):
        m = RECAP_LINE_RE.match(line)
        if m and head:
            entries.append(m.groups())
        elif not (RECAP_EFF_RE.match(line) and i == len(body) - 1):
            problems.append('recap: line out of place: %r' % line)
    if head and int(head.group(1)) != len(entries):
        problems.append('recap: header says %s tests, %d listed' % (head.group(1), len(entries)))
    return rest, entries, problems


def expected_recap(lines):
    """{(status, name): [set of file:line of each such test's block]} that a recap of a run
    printing these console lines must list: its [FAIL] blocks and, for the tests with none, the
    warnings that a setup or teardown crashed or exited.  Colours do not count."""
    want = collections.defaultdict(list)
    blocks, loose = console_blocks([TIME_RE.sub('', ANSI_RE.sub('', l)) for l in lines])
    for block, n in blocks.items():
        m = FAIL_LINE_RE.match(block[-1])
        if not m:
            continue
        status = {'CRASH!': 'CRASH', 'Timed out.': 'TIMEOUT'}.get(m.group(2), 'FAIL')
        locs = {lm.group(1) for lm in map(LOC_RE.match, block) if lm}
        want[(status, m.group(1))] += [locs] * n
    failed = {name for _, name in want}
    for line, n in loose.items():
        m = SETUP_CRASH_RE.match(line)
        if m and m.group(1) not in failed:
            want[('CRASH', m.group(1))] += [{m.group(2) + ' in its setup or teardown'}] * n
    return want


def check_recap(reference, entries, expected):
    """Problems with the recap entries (split_recap) against the reference run's console lines;
    expected: whether a recap is wanted at all (not with --mproc-recap=off)."""
    want = expected_recap(reference) if expected else {}
    got = collections.defaultdict(list)
    for status, name, detail in entries:
        got[(status, name)].append(detail or '')
    problems = []
    for key in sorted(set(want) | set(got)):
        w, g = want.get(key, []), got.get(key, [])
        if len(w) != len(g):
            problems.append('recap lists %s %s %d time(s), the console %d' % (key + (len(g), len(w))))
            continue
        for locs, detail in zip(sorted(w, key=sorted), sorted(g)):
            setup = [l for l in locs if l.endswith(' in its setup or teardown')]
            if setup:
                ok = detail == setup[0]
            elif key[0] == 'CRASH':
                ok = not locs or any(detail.endswith(' after ' + l) for l in locs)
            elif key[0] == 'FAIL':
                # A block may show none (a message with control characters breaks its lines).
                ok = detail in locs or not locs
            else:
                ok = detail == 'timed out'
            if not ok:
                problems.append('recap: %s %s says %r, its block shows %s'
                                % (key + (detail, sorted(locs) or 'no assertion')))
    return problems


def unglue_loose(blocks, loose, other_blocks, other_loose):
    """Assertion lines printed outside any test block (an assertion in the .fini of a passing
    test) are glued by console_blocks to whichever block follows them, and which block that is
    depends on the order tests end in.  Where a block of one run is such loose lines followed by
    a block only the other run has, and those lines are loose only in the other run, count them
    as loose here too.  Changes blocks and loose in place."""
    for block in list((blocks - other_blocks).elements()):
        for k in range(1, len(block)):
            head, rest = collections.Counter(block[:k]), tuple(block[k:])
            if k < len(block) - 1 and not ASSERT_LOC_RE.match(block[k]):
                continue
            if (other_blocks - blocks)[rest] > 0 and not head - (other_loose - loose):
                blocks[block] -= 1
                blocks[rest] += 1
                loose.update(head)
                blocks += collections.Counter()     # drops the zero counts
                break


def counter_diff(what, want, got):
    out = []
    for item, n in sorted((want - got).items(), key=repr):
        out.append('  only in serial (x%d) %s:\n%s' % (n, what, fmt_item(item)))
    for item, n in sorted((got - want).items(), key=repr):
        out.append('  only in plugin (x%d) %s:\n%s' % (n, what, fmt_item(item)))
    return out


def fmt_item(item):
    if isinstance(item, tuple) and all(isinstance(x, str) for x in item):
        return '\n'.join('      | ' + x for x in item)
    return '      | ' + repr(item)


def compare_console(serial, plugin, exact, recap=True):
    """recap: whether the plugin run must end with a recap of the failures (not for --exact
    runs, where the plugin is off, nor with --mproc-recap=off)."""
    problems = []
    for stream in ('stderr', 'stdout'):
        a = strip_times(getattr(serial, stream))
        b = strip_times(getattr(plugin, stream))
        if stream == 'stderr' and not exact:
            b, entries, recap_problems = split_recap(b)
            problems += recap_problems + check_recap(a, entries, recap)
        if exact:
            if a != b:
                import difflib
                diff = '\n'.join(difflib.unified_diff(a, b, 'serial', 'plugin', lineterm=''))
                problems.append('%s differs:\n%s' % (stream, diff))
            continue
        if stream == 'stderr':
            ba, la = console_blocks(a)
            bb, lb = console_blocks(b)
            # Only the plugin's: serial -j1 prints in a fixed order, and there the same glue
            # may be a test's own assertion that the plugin printed outside its block.
            unglue_loose(bb, lb, ba, la)
            d = counter_diff('test block', ba, bb) + counter_diff('line', la, lb)
        else:
            d = counter_diff('line', collections.Counter(a), collections.Counter(b))
        if d:
            problems.append('%s differs:\n%s' % (stream, '\n'.join(d)))
    return problems


# ---- reports -----------------------------------------------------------------------

def parse_tap(text):
    entries = collections.Counter()
    other = collections.Counter()
    cur = None
    for line in text.splitlines():
        line = TIME_RE.sub('', line)
        if line.startswith('ok ') or line.startswith('not ok '):
            if cur:
                entries[tuple(cur)] += 1
            cur = [line]
        elif cur is not None and line.startswith('  '):
            cur.append(line)
        else:
            if cur:
                entries[tuple(cur)] += 1
                cur = None
            other[line] += 1
    if cur:
        entries[tuple(cur)] += 1
    return entries, other


def xml_canon_case(tc):
    attrs = tuple(sorted((k, v) for k, v in tc.attrib.items() if k != 'time'))
    children = tuple((c.tag, tuple(sorted(c.attrib.items())), (c.text or '').strip())
                     for c in tc)
    return attrs, children


def parse_xml(text):
    prolog = text.split('<testsuites', 1)[0]
    root = ET.fromstring(text.encode('utf-8'))
    out = {'prolog': prolog, 'root': (root.tag, tuple(sorted(
        (k, v) for k, v in root.attrib.items() if k != 'time')))}
    suites = {}
    for ts in root:
        attrs = tuple(sorted((k, v) for k, v in ts.attrib.items() if k != 'time'))
        cases = collections.Counter(xml_canon_case(tc) for tc in ts if tc.tag == 'testcase')
        suites.setdefault(ts.attrib.get('name'), []).append((attrs, cases))
    out['suites'] = suites
    return out


def xml_times(text):
    """{(suite, test): time} for the tests whose name is unique in their suite."""
    seen = collections.Counter()
    times = {}
    for ts in ET.fromstring(text.encode('utf-8')):
        for tc in ts:
            key = (ts.attrib.get('name'), tc.attrib.get('name'))
            seen[key] += 1
            try:
                times[key] = float(tc.attrib.get('time', 'nan'))
            except ValueError:
                times[key] = float('nan')
    return {k: v for k, v in times.items() if seen[k] == 1}


def compare_xml_times(serial_text, plugin_text):
    """The plugin's per-test times must be real measurements: a test that took
    a while serially cannot take (nearly) no time under the plugin.  Only a
    lower bound, and only for tests that took half a second serially: load can
    stretch a trivial test's serial time to a few tenths of a second (seen at
    0.46 s on a 2-core machine at load 20), which says nothing of its real
    length; the samples' real sleepers (600 ms, a 0.5 s timeout) stay checked."""
    out = []
    st, pt = xml_times(serial_text), xml_times(plugin_text)
    for key in sorted(set(st) & set(pt)):
        s, p = st[key], pt[key]
        if not p >= 0:
            out.append('  XML time of %s::%s is %r' % (key[0], key[1], p))
        elif s >= 0.5 and p < 0.25 * s:
            out.append('  XML time of %s::%s: serial %.3fs, plugin only %.3fs'
                       % (key[0], key[1], s, p))
    return out


class LenientJSON:
    """Parses Criterion's JSON, whose strings are written without escaping:
    a quote ends a string only when what follows can follow a string."""

    def __init__(self, text):
        self.s = text
        self.i = 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in ' \t\r\n':
            self.i += 1

    def value(self):
        self.ws()
        c = self.s[self.i]
        if c == '{':
            self.i += 1
            obj = {}
            self.ws()
            if self.s[self.i] == '}':
                self.i += 1
                return obj
            while True:
                self.ws()
                k = self.string()
                self.ws()
                assert self.s[self.i] == ':', 'expected : at %d' % self.i
                self.i += 1
                obj[k] = self.value()
                self.ws()
                if self.s[self.i] == ',':
                    self.i += 1
                    continue
                assert self.s[self.i] == '}', 'expected } at %d' % self.i
                self.i += 1
                return obj
        if c == '[':
            self.i += 1
            arr = []
            self.ws()
            if self.s[self.i] == ']':
                self.i += 1
                return arr
            while True:
                arr.append(self.value())
                self.ws()
                if self.s[self.i] == ',':
                    self.i += 1
                    continue
                assert self.s[self.i] == ']', 'expected ] at %d' % self.i
                self.i += 1
                return arr
        if c == '"':
            return self.string()
        m = re.compile(r'-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null').match(self.s, self.i)
        assert m, 'unexpected %r at %d' % (c, self.i)
        self.i = m.end()
        return json.loads(m.group(0))

    def string(self):
        assert self.s[self.i] == '"', 'expected a string at %d' % self.i
        j = self.i + 1
        while True:
            k = self.s.index('"', j)
            rest = self.s[k + 1:].lstrip(' \t\r\n')
            if not rest or rest[0] in ',:]}':
                val = self.s[self.i + 1:k]
                self.i = k + 1
                return val
            j = k + 1


def parse_json_report(text, strict):
    if strict:
        return json.loads(text)
    try:
        return json.loads(text)
    except ValueError:
        return LenientJSON(text).value()


def json_canon(doc):
    top = {k: v for k, v in doc.items() if k != 'test_suites'}
    suites = {}
    for s in doc.get('test_suites', []):
        head = tuple(sorted((k, json.dumps(v)) for k, v in s.items() if k != 'tests'))
        tests = collections.Counter(json.dumps(t, sort_keys=True) for t in s.get('tests', []))
        suites.setdefault(s.get('name'), []).append((head, tests))
    return top, suites


def read(path):
    # newline='': a \r in a message is not a line end to a report reader.
    with open(path, encoding='utf-8', errors='replace', newline='') as f:
        return f.read()


def compare_reports(sdir, pdir, files):
    problems = []
    for kind, rel in sorted(files.items()):
        sp = os.path.join(sdir, rel)
        pp = os.path.join(pdir, rel)
        if not os.path.exists(sp):
            problems.append('serial run wrote no %s report (test environment problem?)' % kind)
            continue
        if not os.path.exists(pp):
            problems.append('plugin run wrote no %s report' % kind)
            continue
        st, pt = read(sp), read(pp)
        if kind == 'tap':
            se, so = parse_tap(st)
            pe, po = parse_tap(pt)
            d = counter_diff('TAP test', se, pe) + counter_diff('TAP line', so, po)
        elif kind == 'xml':
            try:
                sx = parse_xml(st)
            except ET.ParseError as e:
                # The release writes ill-formed XML (2.3.3 leaves '<' in a message as is):
                # the plugin runs its writer, so the same lines, times aside.
                problems += counter_diff('XML line (serial XML does not parse: %s)' % e,
                                         collections.Counter(strip_times(st)),
                                         collections.Counter(strip_times(pt)))
                continue
            try:
                px = parse_xml(pt)
            except ET.ParseError as e:
                problems.append('plugin XML does not parse: %s' % e)
                continue
            d = []
            for key in ('prolog', 'root'):
                if sx[key] != px[key]:
                    d.append('  XML %s: serial %r, plugin %r' % (key, sx[key], px[key]))
            if sorted(sx['suites']) != sorted(px['suites']):
                d.append('  XML suites: serial %s, plugin %s' % (sorted(sx['suites']),
                                                                sorted(px['suites'])))
            for name in sorted(set(sx['suites']) & set(px['suites'])):
                a, b = sx['suites'][name], px['suites'][name]
                if [x[0] for x in a] != [x[0] for x in b]:
                    d.append('  XML testsuite %s attributes: serial %r, plugin %r'
                             % (name, [x[0] for x in a], [x[0] for x in b]))
                for (_, ca), (_, cb) in zip(a, b):
                    d += counter_diff('XML testcase of %s' % name, ca, cb)
            d += compare_xml_times(st, pt)
        else:
            try:
                # Valid JSON is UTF-8 (RFC 8259 section 8.1), whatever the test printed.
                with open(pp, 'rb') as f:
                    pj = parse_json_report(f.read().decode('utf-8'), strict=True)
            except ValueError as e:
                problems.append('plugin JSON is not valid JSON: %s' % e)
                continue
            try:
                sj = parse_json_report(st, strict=False)
            except (AssertionError, ValueError, IndexError) as e:
                problems.append('serial JSON does not parse even leniently: %s' % e)
                continue
            stop, ssuites = json_canon(sj)
            ptop, psuites = json_canon(pj)
            d = []
            if stop != ptop:
                d.append('  JSON top level: serial %s, plugin %s'
                         % (json.dumps(stop, sort_keys=True), json.dumps(ptop, sort_keys=True)))
            if sorted(ssuites) != sorted(psuites):
                d.append('  JSON suites: serial %s, plugin %s' % (sorted(ssuites), sorted(psuites)))
            for name in sorted(set(ssuites) & set(psuites)):
                a, b = ssuites[name], psuites[name]
                if [x[0] for x in a] != [x[0] for x in b]:
                    d.append('  JSON suite %s: serial %r, plugin %r'
                             % (name, [x[0] for x in a], [x[0] for x in b]))
                for (_, ta), (_, tb) in zip(a, b):
                    d += counter_diff('JSON test of %s' % name, ta, tb)
        if d:
            problems.append('%s report differs:\n%s' % (kind, '\n'.join(d)))
    return problems


def compare_files(sdir, pdir, rel):
    """A report of the binary's own provider: the same lines, in any order."""
    sp, pp = os.path.join(sdir, rel), os.path.join(pdir, rel)
    if not os.path.exists(sp):
        return ['serial run wrote no %s (test environment problem?)' % rel]
    if not os.path.exists(pp):
        return ['plugin run wrote no %s' % rel]
    d = counter_diff('line of ' + rel, collections.Counter(strip_times(read(sp))),
                     collections.Counter(strip_times(read(pp))))
    return ['%s differs:\n%s' % (rel, '\n'.join(d))] if d else []


# ---- golden ------------------------------------------------------------------------

GOLDEN_HEADER = '''\
# Console of a run in a fixed environment (TERM=dumb, LC_ALL=C.UTF-8,
# CRITERION_DISABLE_TIME_MEASUREMENTS=1), in canonical form: source paths cut
# to their base name, trailing blanks removed, test blocks and other lines
# sorted.  Regenerate with test/compare.py --golden FILE --update-golden.
'''


def canonical(run, problems, recap):
    """The golden form of run's console, without the recap, which is checked (into problems)
    against the run's own test blocks."""
    lines, entries, recap_problems = split_recap(strip_times(run.stderr))
    problems += recap_problems + check_recap(lines, entries, recap)
    lines = [PATH_RE.sub(r'\1', l) for l in lines]
    blocks, loose = console_blocks(lines)
    out = [GOLDEN_HEADER + 'exit status: %d' % run.status, '', '== stdout lines (sorted) ==']
    out += sorted(strip_times(run.stdout))
    out += ['', '== test blocks (sorted) ==']
    for block in sorted(blocks.elements()):
        out += list(block) + ['']
    out += ['== other stderr lines (sorted) ==']
    out += sorted(loose.elements())
    return '\n'.join(l.rstrip() for l in out) + '\n'


# ---- main --------------------------------------------------------------------------

def parse_args(argv):
    opts = {'plugin': None, 'exe': None, 'mode': 'preload', 'both': [], 'env': [],
            'env_both': [], 'file': [], 'reports': False, 'reports_option': False, 'reports_env': False,
            'reports_dir': False, 'exact': False, 'no_engage_check': False, 'golden': None,
            'update_golden': False, 'expect_note': None,
            'plugin_args': []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '--':
            opts['plugin_args'] = argv[i + 1:]
            break
        if a in ('--plugin', '--exe', '--mode', '--golden', '--both', '--env', '--env-both',
                 '--file', '--expect-note'):
            if i + 1 >= len(argv):
                raise SystemExit('compare.py: %s needs a value' % a)
            key = a[2:].replace('-', '_')
            if key in ('both', 'env', 'env_both', 'file'):
                opts[key].append(argv[i + 1])
            else:
                opts[key] = argv[i + 1]
            i += 2
            continue
        if a in ('--reports', '--reports-option', '--reports-env', '--reports-dir', '--exact',
                 '--no-engage-check', '--update-golden'):
            opts[a[2:].replace('-', '_')] = True
            i += 1
            continue
        raise SystemExit('compare.py: unknown argument %r\n%s' % (a, __doc__))
    if not opts['exe'] or not opts['plugin']:
        raise SystemExit('compare.py: --plugin and --exe are required\n' + __doc__)
    if opts['mode'] not in ('preload', 'linked', 'plain'):
        raise SystemExit('compare.py: --mode is preload, linked or plain')
    return opts


def take_note(run, text):
    """--expect-note TEXT: the plugin's stderr holds exactly one plugin warning line containing
    TEXT (a mode the release cannot serve, said once); it is taken out before the comparison."""
    lines = run.stderr.splitlines(keepends=True)
    notes = [l for l in lines if NOTE_RE.match(l) and text in l]
    if len(notes) != 1:
        return ['expected one criterion-mproc warning saying %r, found %d' % (text, len(notes))]
    run.stderr = ''.join(l for l in lines if l is not notes[0])
    return []


NOTE_RE = re.compile(r'^criterion-mproc\[\d+\]: warning: ')


def make_run(label, opts, root, args, with_plugin, extra_env=()):
    wd = os.path.join(root, label)
    tmp = os.path.join(wd, 't')
    os.makedirs(tmp)
    env = base_env(tmp, uuid.uuid4().hex)
    if with_plugin and opts['mode'] == 'preload':
        env['LD_PRELOAD'] = os.path.abspath(opts['plugin'])
    for kv in extra_env:
        k, _, v = kv.partition('=')
        env[k] = v
    return Run(label, [os.path.abspath(opts['exe'])] + args, env, wd)


KINDS = ('tap', 'xml', 'json')


def report_setup(opts):
    """Arguments and environment for both runs, and the files to compare."""
    files = {k: 'report.' + k for k in KINDS}
    if opts['reports']:
        return ['--tap=report.tap', '--xml=report.xml', '--json=report.json'], [], files
    if opts['reports_option']:
        return ['-Otap:report.tap', '--output=xml:report.xml', '-Ojson:report.json'], [], files
    if opts['reports_env']:
        env = 'CRITERION_OUTPUTS=' + ','.join('%s:report.%s' % (k, k) for k in KINDS)
        return [], [env], files
    if opts['reports_dir']:
        exe = os.path.basename(opts['exe'])
        files = {k: os.path.join('rep', '%s.%s' % (exe, k)) for k in KINDS}
        return ['--%s=rep' % k for k in KINDS], [], files
    return [], [], {}


def wants_recap(opts):
    """Whether the plugin run prints a recap: not with --mproc-recap=off, the last one given."""
    given = [a for a in opts['both'] + opts['plugin_args'] if a.startswith('--mproc-recap=')]
    return not given or given[-1] != '--mproc-recap=off'


def main(argv):
    opts = parse_args(argv)
    unwind_on_sigterm()
    # Short, so that the plugin's ipc:// path stays within its limits.
    root = tempfile.mkdtemp(prefix='crmp-', dir='/tmp')
    problems = []
    try:
        if opts['golden']:
            with_plugin = opts['mode'] != 'plain'
            run = make_run('golden', opts, root, opts['both'] + opts['plugin_args'],
                           with_plugin, opts['env'])
            run.env['CRITERION_DISABLE_TIME_MEASUREMENTS'] = '1'
            problems += execute(run, serial=not with_plugin)
            text = canonical(run, problems, with_plugin and wants_recap(opts))
            if opts['update_golden']:
                with open(opts['golden'], 'w', encoding='utf-8') as f:
                    f.write(text)
                print('wrote', opts['golden'])
            else:
                want = read(opts['golden'])
                if want != text:
                    import difflib
                    diff = '\n'.join(difflib.unified_diff(
                        want.splitlines(), text.splitlines(), 'expected', 'actual', lineterm=''))
                    problems.append('console differs from %s:\n%s' % (opts['golden'], diff))
            what = [run]
        else:
            rargs, renv, rfiles = report_setup(opts)
            serial = make_run('serial', opts, root, ['-j1'] + opts['both'] + rargs, False,
                              opts['env_both'] + renv)
            plugin = make_run('plugin', opts, root, opts['both'] + rargs + opts['plugin_args'],
                              True, opts['env_both'] + renv + opts['env'])
            for run in (serial, plugin):
                os.makedirs(os.path.join(run.cwd, 'rep'))
            problems += execute_reference(serial)
            if serial.status < 0 and not serial.stdout and not serial.stderr:
                # Criterion alone died without a word (seen once under ASan, -6): the
                # reference is lost, not the plugin's result; take it again, once.
                print('serial: killed by signal %d with no output: run again' % -serial.status)
                problems += execute_reference(serial)
            problems += execute(plugin)
            if opts['expect_note']:
                problems += take_note(plugin, opts['expect_note'])
            if serial.status != plugin.status:
                problems.append('exit status: serial %d, plugin %d' % (serial.status,
                                                                      plugin.status))
            problems += compare_console(serial, plugin, opts['exact'], wants_recap(opts))
            if rfiles:
                problems += compare_reports(serial.cwd, plugin.cwd, rfiles)
            for rel in opts['file']:
                problems += compare_files(serial.cwd, plugin.cwd, rel)
            what = [serial, plugin]
            # Identical output could also mean the plugin never engaged.  The durations file
            # its coordinator writes proves it did; without one (durations off), a run at
            # --mproc-verbose=2 must print the plugin's info lines.
            durations = os.path.join(plugin.cwd, '.criterion-mproc',
                                     os.path.basename(opts['exe']) + '.durations')
            if not opts['exact'] and not opts['no_engage_check'] and not os.path.exists(durations):
                probe = make_run('engaged', opts, root, opts['both'] + opts['plugin_args']
                                 + ['--mproc-verbose=2'], True, opts['env_both'] + opts['env'])
                problems += execute(probe)
                if not ENGAGED_RE.search(probe.stderr):
                    problems.append('the plugin did not engage: no "criterion-mproc[PID]: '
                                    'info:" line at --mproc-verbose=2')
                    what.append(probe)
    except Failure as e:
        problems.append(str(e))
        what = []
    finally:
        pass

    for run in what:
        print('%s: %s -> exit %s' % (run.label, run.describe(), run.status))
    if problems:
        print('\nFAILED (%d problem%s):' % (len(problems), 's' if len(problems) > 1 else ''))
        for p in problems:
            print('- ' + p)
        for run in what:
            print('\n---- %s stderr ----\n%s' % (run.label, run.stderr), end='')
            if run.stdout:
                print('---- %s stdout ----\n%s' % (run.label, run.stdout), end='')
        shutil.rmtree(root, ignore_errors=True)
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print('same')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
