#!/usr/bin/env python3
"""What the plugin says while tests run, one case per invocation:

    live.py --plugin LIB --probe EXE CASE

EXE is test/live_probe.c: live::blocked runs until this driver writes to the
FIFO named by CRMP_LIVE_FIFO, so a test is seen running for as long as a case
needs, and every wait is on an event (the test opening the FIFO, a line
appearing), never a sleep.  Runs get a pipe or a pseudo-terminal as stderr.
After every run no process of the run may remain and TMPDIR must be empty.
Run without CASE to list cases.
"""

import fcntl
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import behaviour  # noqa: E402
import compare  # noqa: E402

CASES, case = compare.case_registry()
WAIT_S = 30
ESC = '\x1b'
# The status line: N/TOTAL, the counts, elapsed, then what runs.
STATUS_RE = re.compile(r'^(\d+)/(\d+)  (\d+) passed, (\d+) failed, (\d+) crashed  \d+\.\ds')
SGR_RE = re.compile(r'\x1b(\(B|\[[0-9;]*m)')
# xterm's carriage_return and clr_eol: what every draw of the line begins with.
DRAW = '\r\x1b[K'


def draws(out):
    """Each text the status line was drawn with ('' for an erase), colours kept.  An erase
    is followed by the line printed in its place, which ends with a newline: no draw."""
    return ['' if nl else text for text, nl in re.findall(r'\r\x1b\[K([^\r\n]*)(\r?\n)?', out)]


def visible_lines(out):
    """The lines a terminal shows once out is written: carriage returns go back,
    clr_eol erases, colours take no room.  The last, unfinished line is left out."""
    lines = []
    for raw in SGR_RE.sub('', out).split('\n')[:-1]:
        line, col = '', 0
        for piece in re.split(r'(\r|\x1b\[K)', raw):
            if piece == '\r':
                col = 0
            elif piece == '\x1b[K':
                line = line[:col]
            else:
                line = line[:col] + piece + line[col + len(piece):]
                col += len(piece)
        lines.append(line)
    return lines


class Reader:
    """Collects what a process writes on fd, from a thread; waits on it by condition."""

    def __init__(self, fd):
        self.fd = fd
        self.data = b''
        self.eof = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:     # a pseudo-terminal whose slave closed: EIO
                chunk = b''
            with self.cond:
                if not chunk:
                    self.eof = True
                else:
                    self.data += chunk
                self.cond.notify_all()
            if not chunk:
                return

    def text(self):
        with self.cond:
            return self.data.decode('utf-8', 'replace')

    def wait_for(self, pred, timeout=WAIT_S):
        """Waits until pred(text) holds or the writer is gone; returns whether it holds."""
        with self.cond:
            return self.cond.wait_for(
                lambda: pred(self.data.decode('utf-8', 'replace')) or self.eof, timeout) \
                and pred(self.data.decode('utf-8', 'replace'))

    def wait_eof(self, timeout=WAIT_S):
        with self.cond:
            return self.cond.wait_for(lambda: self.eof, timeout)


class Ctx(behaviour.Ctx):
    """behaviour.py's context (a temporary root, problems), with runs that are watched live."""

    def __init__(self, args):
        super().__init__(args)
        self.probe = self.exes['probe']

    def command(self, args):
        """The run's argv, and whether the plugin is preloaded into it."""
        # live::failing fails on purpose: its kept directory is not what these cases look at.
        return [self.probe, '--mproc-keep-tmp=never'] + list(args), True

    def start(self, args, tty=False, env=(), blocked=True, cols=100, wd=None):
        """Starts the probe with the plugin (self.command), in wd (a new directory by
        default); stderr (and stdout) on a pipe or a terminal."""
        self.n += 1
        wd = wd or os.path.join(self.root, 'r%d' % self.n)
        tmp = os.path.join(wd, 't%d' % self.n)
        os.makedirs(tmp)
        e = compare.base_env(tmp, 'live-%d-%d' % (os.getpid(), self.n))
        argv, preload = self.command(args)
        if preload:
            e['LD_PRELOAD'] = self.plugin
        fifo = os.path.join(wd, 'release%d' % self.n)
        if blocked:
            os.mkfifo(fifo)
            e['CRMP_LIVE_FIFO'] = fifo
        for kv in env:
            k, _, v = kv.partition('=')
            e[k] = v
        if tty:
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 30, cols, 0, 0))
            p = subprocess.Popen(argv, env=e, cwd=wd, stdin=subprocess.DEVNULL, stdout=slave,
                                 stderr=slave, start_new_session=True)
            os.close(slave)
            r = Reader(master)
        else:
            rfd, wfd = os.pipe()
            p = subprocess.Popen(argv, env=e, cwd=wd, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=wfd)
            os.close(wfd)
            r = Reader(rfd)
        run = {'p': p, 'r': r, 'fifo': fifo, 'env': e, 'wd': wd, 'label': 'run %d: %s %s' % (
            self.n, 'tty' if tty else 'pipe', ' '.join(args)), 'writer': None}
        self.log.append(run)
        return run

    def wait_running(self, run):
        """Waits for live::blocked to open its FIFO; keeps the writer end open."""
        box = {}

        def opener():
            box['fd'] = os.open(run['fifo'], os.O_WRONLY)
        t = threading.Thread(target=opener, daemon=True)
        t.start()
        t.join(WAIT_S)
        if t.is_alive():
            # Unblock the opener before failing: open the reading end ourselves.
            os.close(os.open(run['fifo'], os.O_RDONLY | os.O_NONBLOCK))
            t.join(WAIT_S)
            self.problems.append('%s: live::blocked never started' % run['label'])
            os.close(box['fd'])
            return False
        run['writer'] = box['fd']
        return True

    def release(self, run):
        if run['writer'] is not None:
            try:
                os.write(run['writer'], b'x')
            except BrokenPipeError:
                pass    # the test was ended (interrupted): nothing to release
            os.close(run['writer'])
            run['writer'] = None

    def finish_run(self, run):
        """Waits for the run to end; returns (status, output); checks what it left."""
        try:
            status = run['p'].wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            run['p'].kill()
            status = run['p'].wait()
            self.problems.append('%s: did not end within %d s' % (run['label'], WAIT_S))
        self.release(run)
        self.check(run['r'].wait_eof(), '%s: its output did not end' % run['label'])
        run['status'] = status
        run['out'] = run['r'].text()
        self.problems.extend(compare.leftover_problems(run['label'], run['env']))
        return status, run['out']

    def finish(self):
        for run in self.log:
            print('%s -> %s' % (run['label'], run.get('status')))
        if self.problems:
            print('\nFAILED:')
            for p in self.problems:
                print('- ' + p)
            for run in self.log:
                print('\n---- %s output ----\n%r' % (run['label'], run.get('out', run['r'].text())))
        shutil.rmtree(self.root, ignore_errors=True)
        return 1 if self.problems else 0


# ---- on a pipe ------------------------------------------------------------------------

@case('slow-line')
def slow_line(ctx):
    """A test running past --mproc-slow=S gets one [SLOW] line at S, on a pipe too."""
    run = ctx.start(['--mproc=2', '--mproc-slow=1'])
    if not ctx.wait_running(run):
        return
    line = '[SLOW] live::blocked running for 1s\n'
    ctx.check(run['r'].wait_for(lambda t: line in t), 'no line %r' % line)
    ctx.release(run)
    status, out = ctx.finish_run(run)
    ctx.check(status == 1, 'exit status %s, expected 1 (live::failing)' % status)
    ctx.check(out.count('[SLOW] live::blocked running for 1s') == 1, 'the 1 s line is not said once')
    ctx.check(not re.search(r'\[SLOW\] live::quick', out), 'a quick test was said slow')
    ctx.check(ESC not in out and '\r' not in out, 'escape codes or redraws on a pipe')
    ctx.check('Synthesis: Tested: 6 ' in out, 'no Synthesis of the 6 tests')


@case('interrupt-running-list')
def interrupt_running_list(ctx):
    """SIGINT: after the interruption line, the tests that were running (name, worker,
    elapsed), then the Synthesis."""
    run = ctx.start(['--mproc=2'])
    if not ctx.wait_running(run):
        return
    run['p'].send_signal(signal.SIGINT)
    status, out = ctx.finish_run(run)
    ctx.check(status == -signal.SIGINT, 'status %s, expected death by SIGINT' % status)
    lines = out.splitlines()

    def index(pattern):
        return next((i for i, l in enumerate(lines) if re.search(pattern, l)), None)
    stopped = index(r'warning: run stopped early \(interrupted by signal 2\)')
    running = index(r'warning: was running: live::blocked on worker \d+ for \d+\.\d s$')
    synthesis = index(r'Synthesis: ')
    ctx.check(stopped is not None, 'no interruption line')
    ctx.check(running is not None, 'live::blocked not listed as running')
    ctx.check(synthesis is not None, 'no Synthesis')
    if None not in (stopped, running, synthesis):
        ctx.check(stopped < running < synthesis, 'order: interruption %d, running %d, '
                  'Synthesis %d' % (stopped, running, synthesis))
    ctx.check(len([l for l in lines if 'was running:' in l]) == 1,
              'only live::blocked was running')


@case('pipe-unchanged')
def pipe_unchanged(ctx):
    """Not a terminal: no escape codes, no redraws, whatever --mproc-progress says and
    whatever TERM is: the same console as with --mproc-progress=none."""
    outs = {}
    for mode in ('auto', 'bar', 'none'):
        run = ctx.start(['--mproc=2', '--mproc-progress=' + mode], env=['TERM=xterm'],
                        blocked=False)
        status, out = ctx.finish_run(run)
        ctx.check(ESC not in out and '\r' not in out, '--mproc-progress=%s: escape codes or '
                  'redraws on a pipe' % mode)
        outs[mode] = compare.console_blocks(compare.strip_times(out))
    ctx.check(outs['auto'] == outs['none'] and outs['bar'] == outs['none'],
              'the console differs with --mproc-progress')


# ---- on a terminal --------------------------------------------------------------------

def status_with(run, pred):
    """Waits for a draw of the status line whose text (colours removed) satisfies pred."""
    return run['r'].wait_for(lambda t: any(pred(SGR_RE.sub('', d)) for d in draws(t)))


@case('tty-status-line')
def tty_status_line(ctx):
    """On a terminal, a status line under the blocks: N/TOTAL, the counts, elapsed and the
    test running with its time; blocks and the [SLOW] line are never mixed into it, and it is
    gone before the Synthesis."""
    run = ctx.start(['--mproc=2', '--mproc-slow=1', '--verbose'], tty=True, env=['TERM=xterm'],
                    cols=120)
    if not ctx.wait_running(run):
        return
    # Every other test ends on the other worker: 5 of 6 reported, live::failing failed.
    ctx.check(status_with(run, lambda d: d.startswith('5/6  4 passed, 1 failed, 0 crashed  ')
                          and re.search(r'  running: live::blocked \d+\.\ds$', d)),
              'no status line "5/6  4 passed, 1 failed, 0 crashed ... running: live::blocked"')
    ctx.check(run['r'].wait_for(lambda t: '[SLOW] live::blocked running for 1s' in SGR_RE.sub('', t)),
              'no [SLOW] line on the terminal')
    ctx.check(status_with(run, lambda d: re.search(r'running: live::blocked [1-9]\.\ds$', d)),
              'the running test\'s time does not go on')
    ctx.release(run)
    status, out = ctx.finish_run(run)
    ctx.check(status == 1, 'exit status %s, expected 1 (live::failing)' % status)
    texts = [SGR_RE.sub('', d) for d in draws(out)]
    ctx.check(all(t == '' or STATUS_RE.match(t) for t in texts), 'a draw that is no status line: %r'
              % [t for t in texts if t and not STATUS_RE.match(t)][:3])
    lines = visible_lines(out)
    mixed = [l for l in lines if re.search(r'\d+ passed, \d+ failed', l)]
    ctx.check(not mixed, 'the status line is left on the screen or mixed into output: %r' % mixed)
    for want in ('[SLOW] live::blocked running for 1s', '[PASS] live::quick_a', '[FAIL] live::failing'):
        ctx.check(any(l.startswith(want) for l in lines), 'no clean line %r' % want)
    after_slow = SGR_RE.sub('', out).split('[SLOW] live::blocked running for 1s', 1)[-1]
    ctx.check(any(STATUS_RE.match(d) for d in draws(after_slow)),
              'the line is not drawn again after the [SLOW] line')
    # Erased on the Synthesis' line itself, or the last draw before that line is an erase.
    synth = out.rfind('Synthesis')
    head = out[:out.rfind('\n', 0, synth) + 1]
    ctx.check(synth > 0 and (out[len(head):synth].startswith(DRAW) or draws(head)[-1:] == [''])
              and not draws(out[synth:]) and any(l.startswith('[====] Synthesis') for l in lines),
              'the line is not erased before the Synthesis')
    # About ten draws a second at most, over the elapsed time the last draw shows (the [SLOW]
    # lines and the one after the first test are drawn at once, whatever the clock).
    shown = [t for t in texts if t]
    last = re.search(r'crashed  (\d+(?:\.\d)?)s', shown[-1]) if shown else None
    if ctx.check(last, 'no elapsed time in the last draw'):
        limit = 11 * (float(last.group(1)) + 1) + 5
        ctx.check(len(shown) <= limit, '%d draws in %ss' % (len(shown), last.group(1)))


@case('tty-eta')
def tty_eta(ctx):
    """The ETA comes from the durations earlier runs recorded: none on a first run, one on
    the next run in the same directory."""
    first = ctx.start(['--mproc=2'], tty=True, env=['TERM=xterm'])
    if not ctx.wait_running(first):
        return
    ctx.check(status_with(first, lambda d: d.startswith('5/6  ')), 'first run: no line at 5/6')
    ctx.release(first)
    _, out = ctx.finish_run(first)
    ctx.check(not any('ETA' in d for d in draws(out)), 'an ETA without any recorded duration')
    second = ctx.start(['--mproc=2'], tty=True, env=['TERM=xterm'], wd=first['wd'])
    if not ctx.wait_running(second):
        return
    ctx.check(status_with(second, lambda d: re.search(r'\ds  ETA \d+\.\ds  running: ', d)),
              'second run: no ETA from the recorded durations')
    ctx.release(second)
    ctx.finish_run(second)


def first_counts_draw(run):
    """The raw text of the first draw that shows a passed test."""
    status_with(run, lambda d: re.match(r'\d+/6  [1-9]', d))
    return next((d for d in draws(run['r'].text()) if re.match(r'\d+/6  [1-9]', SGR_RE.sub('', d))),
                None)


@case('tty-color')
def tty_color(ctx):
    """The status line's counts are coloured as Criterion's output is: not with --color=never,
    --ascii or NO_COLOR."""
    for args, env, coloured in ((['--color=always'], [], True), (['--color=never'], [], False),
                                (['--ascii'], [], False), ([], ['NO_COLOR=1'], False)):
        run = ctx.start(['--mproc=2'] + args, tty=True, env=['TERM=xterm'] + env)
        if not ctx.wait_running(run):
            return
        d = first_counts_draw(run)
        ctx.release(run)
        ctx.finish_run(run)
        what = ' '.join(args + env)
        if ctx.check(d is not None, '%s: no status line' % what):
            ctx.check(bool(SGR_RE.search(d)) == coloured, '%s: the line is%s coloured: %r'
                      % (what, '' if SGR_RE.search(d) else ' not', d))


@case('tty-no-line')
def tty_no_line(ctx):
    """--mproc-progress=none, or TERM=dumb under auto: no status line on a terminal either."""
    for args, term in ((['--mproc-progress=none'], 'xterm'), ([], 'dumb')):
        run = ctx.start(['--mproc=2'] + args, tty=True, env=['TERM=' + term], blocked=False)
        status, out = ctx.finish_run(run)
        ctx.check('\x1b[K' not in out and not draws(out), '%s TERM=%s: a status line was drawn'
                  % (' '.join(args), term))
        ctx.check('Synthesis: Tested: 6 ' in SGR_RE.sub('', out), '%s TERM=%s: no Synthesis'
                  % (' '.join(args), term))


def main(argv):
    return compare.driver_main(argv, __doc__, CASES, Ctx, ('plugin', 'probe'))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
