#!/usr/bin/env python3
"""What the criterion-mproc runner says while its pool runs, one case per invocation:

    runner_live.py --runner EXE --plugin LIB --probe EXE --failing EXE CASE

live.py's probe (live::blocked runs until the driver writes to its FIFO) runs beside the
failing sample and a script that fails, through the runner on a pipe or a pseudo-terminal:
one status line for the whole pool, erased before the total Synthesis, its counts those of
the Synthesis at the end; the recap after it lists the failures of every program; nothing
new on a pipe.  Every wait is on an event, never a sleep.  Run without CASE to list cases.
"""

import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import live  # noqa: E402

CASES, case = compare.case_registry()
# The runner's line: N/TOTAL ('+' while a binary has not counted its tests yet), the counts.
# The elapsed time as progress.c writes it: 9.9s, 12s, 3m05s, 2h07m (a loaded machine runs long).
DURATION = r'(?:\d+\.\ds|\d+s|\d+m\d\ds|\d+h\d\dm)'
STATUS_RE = re.compile(r'^(\d+)/(\d+)(\+?)  (\d+) passed, (\d+) failed, (\d+) crashed  ' + DURATION)
TOTAL_RE = re.compile(r'^\[====\] Synthesis: Tested: (\d+) tests? from (\d+) binar(?:y|ies) \| '
                      r'Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)$', re.M)
RECAP_HEAD_RE = re.compile(r'^criterion-mproc: (\d+) tests? failed, crashed or timed out:$', re.M)
RECAP_LINE_RE = re.compile(r'^criterion-mproc:   (FAIL|CRASH|TIMEOUT) +(\S.*?)(?:  (.*))?$')
HEAD_RE = re.compile(r'^==> .* <==$')


class Ctx(live.Ctx):
    """live.py's runs, of the runner over the probe, the failing sample and a failing script."""

    def __init__(self, args):
        super().__init__(args)
        self.runner = self.exes['runner']
        self.failing = self.exes['failing']
        self.bad = os.path.join(self.root, 'bad.sh')
        with open(self.bad, 'w') as f:
            f.write('#!/bin/sh\necho broken >&2\nexit 3\n')
        os.chmod(self.bad, 0o755)

    def command(self, args):
        # The plugin is the runner's to preload; live::failing's kept directory is not looked at.
        return [self.runner, '--mproc=2', '--plugin=' + self.plugin] + list(args) + \
            ['--', '--mproc-keep-tmp=never'], False

    def programs(self, with_failing=True):
        return [self.probe] + ([self.failing] if with_failing else []) + [self.bad]


def status_texts(out):
    return [live.SGR_RE.sub('', d) for d in live.draws(out)]


def total_synthesis(out):
    m = TOTAL_RE.search(live.SGR_RE.sub('', out).replace('\r', ''))
    return tuple(int(x) for x in m.groups()) if m else None


def recap(out):
    """The recap's header count and its lines (status, name, detail), after the total Synthesis."""
    text = live.SGR_RE.sub('', out).replace('\r', '')
    synth = TOTAL_RE.search(text)
    heads = list(RECAP_HEAD_RE.finditer(text))
    if not synth or len(heads) != 1 or heads[0].start() < synth.end():
        return None, []
    lines = [RECAP_LINE_RE.match(l) for l in text[heads[0].end():].splitlines()[1:]]
    return int(heads[0].group(1)), [m.groups() for m in lines if m]


def check_recap(ctx, out, with_failing=True):
    """The recap lists live::failing, the failing sample's failures and bad.sh, by program."""
    count, lines = recap(out)
    if not ctx.check(count is not None, 'no single recap after the total Synthesis'):
        return
    ctx.check(count == len(lines), 'the recap says %d, lists %d' % (count, len(lines)))
    names = [name for _, name, _ in lines]
    ctx.check(('FAIL', ctx.probe + '/live::failing') == lines[0][:2] if lines else False,
              'the probe\'s live::failing is not listed first: %r' % lines[:1])
    ctx.check(re.match(r'\S*live_probe\.c:\d+$', lines[0][2] or '') if lines else False,
              'live::failing without its assertion\'s place: %r' % lines[:1])
    ctx.check(('FAIL', ctx.bad, 'exit status 3') in lines, 'bad.sh not listed: %r' % lines)
    if with_failing:
        mine = [l for l in lines if l[1].startswith(ctx.failing + '/failing::')]
        want = {('FAIL', 'average_rounds_to_nearest'), ('CRASH', 'checksum_of_null_buffer_crashes'),
                ('TIMEOUT', 'waits_forever_and_times_out')}
        got = {(s, n.split('::', 1)[1]) for s, n, _ in mine}
        ctx.check(want <= got, 'the failing sample\'s failures: %r' % sorted(got))
        ctx.check(names == [ctx.probe + '/live::failing'] + [l[1] for l in mine] + [ctx.bad],
                  'not program by program in the list\'s order: %r' % names)


@case('runner-live-tty')
def tty(ctx):
    """On a terminal, one status line for the pool: the tests of every program done of their
    total, the counts, the running test qualified by its program; the programs' own lines are
    not drawn.  At the end its counts are the total Synthesis', it is erased before that, and
    the recap after it lists every program's failures (the binaries print none of their own)."""
    run = ctx.start(ctx.programs(), tty=True, env=['TERM=xterm'], cols=160)
    if not ctx.wait_running(run):
        return
    # Everything but live::blocked ends: one left to do, all totals known.
    ctx.check(live.status_with(run, lambda d: (lambda m: m and not m.group(3)
                                               and int(m.group(1)) + 1 == int(m.group(2)))(
        STATUS_RE.match(d)) and re.search('  running: live_probe/live::blocked %s$' % DURATION, d)),
        'no status line "N-1/N ... running: live_probe/live::blocked"')
    ctx.release(run)
    status, out = ctx.finish_run(run)
    ctx.check(status == 1, 'exit status %s, expected 1' % status)
    texts = status_texts(out)
    ctx.check(all(t == '' or STATUS_RE.match(t) for t in texts), 'a draw that is no status line: '
              '%r' % [t for t in texts if t and not STATUS_RE.match(t)][:3])
    ctx.check(not any(re.search(r'running: live::', t) for t in texts),
              'a program drew its own status line')
    shown = [STATUS_RE.match(t) for t in texts if t]
    synth = total_synthesis(out)
    if ctx.check(shown and synth, 'no status line, or no total Synthesis'):
        last = shown[-1]
        ctx.check(last.group(1) == last.group(2) and not last.group(3),
                  'the last line is not N/N: %r' % last.group(0))
        ctx.check(tuple(int(last.group(i)) for i in (4, 5, 6)) == synth[2:],
                  'the last line\'s counts %r, the Synthesis\' %r' % (last.group(0), synth))
    lines = live.visible_lines(out)
    mixed = [l for l in lines if re.search(r'\d+ passed, \d+ failed', l)]
    ctx.check(not mixed, 'the status line is left on the screen or mixed into output: %r' % mixed)
    for want in ('[FAIL] live::failing', '[FAIL] failing::average_rounds_to_nearest',
                 '[FAIL] %s: exit status 3' % ctx.bad):
        ctx.check(any(l.startswith(want) for l in lines), 'no clean line %r' % want)
    # Gone before what follows the pool: the programs that did not pass and the total.
    tail = out.find('[====] Did not pass')
    before = live.draws(out[:tail]) if tail > 0 else []
    ctx.check(before and before[-1] == '' and not live.draws(out[tail:]),
              'the line is not erased before the total Synthesis')
    check_recap(ctx, out)
    ctx.check(len(RECAP_HEAD_RE.findall(live.SGR_RE.sub('', out).replace('\r', ''))) == 1,
              'a binary printed its own recap beside the runner\'s')


@case('runner-live-eta')
def eta(ctx):
    """The ETA comes from the programs' last durations (the runner's history): none on a first
    run, one on the next in the same directory."""
    first = ctx.start(ctx.programs(with_failing=False), tty=True, env=['TERM=xterm'], cols=160)
    if not ctx.wait_running(first):
        return
    ctx.check(live.status_with(first, lambda d: STATUS_RE.match(d)), 'first run: no line')
    ctx.release(first)
    _, out = ctx.finish_run(first)
    ctx.check(not any('ETA' in t for t in status_texts(out)), 'an ETA without any history')
    second = ctx.start(ctx.programs(with_failing=False), tty=True, env=['TERM=xterm'], cols=160,
                       wd=first['wd'])
    if not ctx.wait_running(second):
        return
    ctx.check(live.status_with(second, lambda d: re.search('s  ETA %s  running: ' % DURATION, d)),
              'second run: no ETA from the history')
    ctx.release(second)
    ctx.finish_run(second)
    check_recap(ctx, second['out'], with_failing=False)


@case('runner-live-interrupt')
def interrupt(ctx):
    """SIGINT on a terminal: the programs say what they have, the line goes before what follows
    the pool (the programs that did not pass, the total Synthesis) and is not drawn again."""
    run = ctx.start(ctx.programs(with_failing=False), tty=True, env=['TERM=xterm'], cols=160)
    if not ctx.wait_running(run):
        return
    ctx.check(live.status_with(run, lambda d: re.search(r'running: live_probe/live::blocked', d)),
              'no line with live::blocked running')
    run['p'].send_signal(signal.SIGINT)
    status, out = ctx.finish_run(run)
    ctx.check(status == 128 + signal.SIGINT, 'exit status %s, expected 130' % status)
    tail = out.find('[====] Did not pass')
    ctx.check(tail > 0 and not live.draws(out[tail:]), 'no programs that did not pass, or a line '
              'drawn after them')
    mixed = [l for l in live.visible_lines(out) if re.search(r'\d+ passed, \d+ failed', l)]
    ctx.check(not mixed, 'the status line is left on the screen: %r' % mixed)
    ctx.check(total_synthesis(out), 'no total Synthesis')


def console(out):
    """The relayed lines, in an order that does not depend on which program wrote first."""
    return sorted(l for l in compare.strip_times(out) if not HEAD_RE.match(l))


@case('runner-live-pipe')
def pipe(ctx):
    """On a pipe nothing changes whatever --mproc-progress says: no escape code, no redraw, the
    same lines as with none, each binary's own recap and no runner's.  --mproc-recap=on prints
    the runner's recap there too, and the binaries' own no more."""
    outs = {}
    for mode in ('auto', 'bar', 'none'):
        run = ctx.start(['--mproc-progress=' + mode] + ctx.programs(with_failing=False),
                        env=['TERM=xterm'], blocked=False)
        status, out = ctx.finish_run(run)
        ctx.check(status == 1, '%s: exit status %s, expected 1' % (mode, status))
        ctx.check(live.ESC not in out and '\r' not in out and '\x1e' not in out
                  and '\x1f' not in out, '--mproc-progress=%s: escape codes, redraws or records '
                  'on a pipe' % mode)
        ctx.check(recap(out)[0] is None, '%s: the runner\'s recap on a pipe' % mode)
        outs[mode] = console(out)
    ctx.check(outs['auto'] == outs['none'] and outs['bar'] == outs['none'],
              'the output differs with --mproc-progress')
    ctx.check(any(l.startswith('criterion-mproc: ') and 'failed, crashed or timed out' in l
                  for l in outs['none']), 'the binaries\' own recaps are gone')
    run = ctx.start(['--mproc-recap=on'] + ctx.programs(with_failing=False), blocked=False)
    _, out = ctx.finish_run(run)
    ctx.check('\x1e' not in out and '\x1f' not in out, '--mproc-recap=on: records relayed')
    check_recap(ctx, out, with_failing=False)
    ctx.check(len(RECAP_HEAD_RE.findall(out)) == 1, 'a binary printed its own recap beside the '
              'runner\'s')
    kept = [l for l in console(out) if not l.startswith('criterion-mproc:')]
    ctx.check(kept == [l for l in outs['none'] if not l.startswith('criterion-mproc:')],
              '--mproc-recap=on changed more than the recaps')


@case('runner-live-no-line')
def no_line(ctx):
    """--mproc-progress=none, or TERM=dumb under auto: no status line on a terminal either; the
    recap is there (auto: on a terminal) unless --mproc-recap=off."""
    for args, term, recapped in ((['--mproc-progress=none'], 'xterm', True), ([], 'dumb', True),
                                 (['--mproc-recap=off'], 'xterm', False)):
        run = ctx.start(args + ctx.programs(with_failing=False), tty=True, env=['TERM=' + term],
                        blocked=False)
        _, out = ctx.finish_run(run)
        what = '%s TERM=%s' % (' '.join(args), term)
        if recapped:
            ctx.check('\x1b[K' not in out and not live.draws(out), '%s: a line was drawn' % what)
            check_recap(ctx, out, with_failing=False)
        else:
            ctx.check(recap(out)[0] is None and live.draws(out), '%s: a recap, or no line' % what)
        ctx.check(total_synthesis(out), '%s: no total Synthesis' % what)


def main(argv):
    return compare.driver_main(argv, __doc__, CASES, Ctx, ('plugin', 'probe', 'runner', 'failing'))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
