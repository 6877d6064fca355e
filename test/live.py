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
STATUS_RE = re.compile(r'(\d+)/(\d+) +(\d+) passed, (\d+) failed, (\d+) crashed')


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

    def start(self, args, tty=False, env=(), blocked=True, cols=100):
        """Starts the probe with the plugin; stderr (and stdout) on a pipe or a terminal."""
        self.n += 1
        wd = os.path.join(self.root, 'r%d' % self.n)
        tmp = os.path.join(wd, 't')
        os.makedirs(tmp)
        e = compare.base_env(tmp, 'live-%d-%d' % (os.getpid(), self.n))
        e['LD_PRELOAD'] = self.plugin
        fifo = os.path.join(wd, 'release')
        if blocked:
            os.mkfifo(fifo)
            e['CRMP_LIVE_FIFO'] = fifo
        for kv in env:
            k, _, v = kv.partition('=')
            e[k] = v
        if tty:
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 30, cols, 0, 0))
            p = subprocess.Popen([self.probe] + list(args), env=e, cwd=wd, stdin=subprocess.DEVNULL,
                                 stdout=slave, stderr=slave, start_new_session=True)
            os.close(slave)
            r = Reader(master)
        else:
            rfd, wfd = os.pipe()
            p = subprocess.Popen([self.probe] + list(args), env=e, cwd=wd, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=wfd)
            os.close(wfd)
            r = Reader(rfd)
        run = {'p': p, 'r': r, 'fifo': fifo, 'env': e, 'label': 'run %d: %s %s' % (
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


def main(argv):
    args, rest = compare.driver_args(argv)
    if len(rest) != 1 or rest[0] not in CASES or 'plugin' not in args or 'probe' not in args:
        print(__doc__ + '\ncases: ' + ' '.join(sorted(CASES)))
        return 2
    ctx = Ctx(args)
    CASES[rest[0]](ctx)
    return ctx.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
